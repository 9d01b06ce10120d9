/**
 * wa-sqlite's `FacadeVFS` (src/FacadeVFS.js), typed: the base class of the in-process
 * (vfs/asyncify/vfs.ts) and the worker engine's (vfs/worker/vfs.ts) VFS. It turns
 * SQLite's `x…` calls (pointers into wasm memory) into `j…` calls with views and
 * DataViews; with the Asyncify build, a method it was told may wait (`hasAsyncMethod`)
 * is called through `Asyncify.handleAsync` and may answer a thenable.
 */
/// <reference types="@journeyapps/wa-sqlite" />
// @ts-expect-error wa-sqlite ships no types for FacadeVFS.js; FacadeVFSConstructor below types it.
import { FacadeVFS as UntypedFacadeVFS } from '@journeyapps/wa-sqlite/src/FacadeVFS.js';
import type { SqliteVfs, WaSqliteModule } from '../wasm/wa-sqlite-types.js';

/** What `then` gets called with by Asyncify: only the fulfilment callback is used. */
export interface Thenable<T> {
  then(onFulfilled: (value: T) => unknown): unknown;
}

/** The instance side of wa-sqlite's `FacadeVFS` (src/FacadeVFS.js), as ltxvfs uses it. */
export interface FacadeVFSInstance extends SqliteVfs {
  readonly name: string;
  mxPathname: number;
  hasAsyncMethod(methodName: string): boolean;
  jOpen(filename: string | null, pFile: number, flags: number, pOutFlags: DataView): number;
  jDelete(filename: string, syncDir: number): number;
  jAccess(filename: string, flags: number, pResOut: DataView): number;
  jFullPathname(filename: string, zOut: Uint8Array): number;
  jClose(pFile: number): number;
  jRead(pFile: number, pData: Uint8Array, iOffset: number): number | Thenable<number>;
  jWrite(pFile: number, pData: Uint8Array, iOffset: number): number;
  jTruncate(pFile: number, size: number): number;
  jSync(pFile: number, flags: number): number | Thenable<number> | Promise<number>;
  jFileSize(pFile: number, pSize: DataView): number;
  jLock(pFile: number, lockType: number): number | Thenable<number> | Promise<number>;
  jUnlock(pFile: number, lockType: number): number;
  jCheckReservedLock(pFile: number, pResOut: DataView): number;
  jFileControl(pFile: number, op: number, pArg: DataView): number | Thenable<number> | Promise<number>;
  jSectorSize(pFile: number): number;
  jDeviceCharacteristics(pFile: number): number;
}

/** The constructor of wa-sqlite's `FacadeVFS`. */
export interface FacadeVFSConstructor {
  new (name: string, module: WaSqliteModule): FacadeVFSInstance;
}

/** wa-sqlite's `FacadeVFS` class. */
export const FacadeVFS = UntypedFacadeVFS as FacadeVFSConstructor;
