/**
 * The parts of wa-sqlite's types that ltxvfs's public API names, declared here.
 *
 * wa-sqlite 2.x ships its API types as global declarations (`SQLiteAPI`, `SQLiteVFS` in
 * `src/types/index.d.ts`), which a consumer's compiler sees only if something loads that
 * file; a published `.d.ts` that names them fails `tsc --strict` without `skipLibCheck`
 * (`Cannot find name 'SQLiteVFS'`). So the public types use these structural copies: a
 * wa-sqlite `SQLiteAPI` is a {@link VfsRegistrar}, an `LtxAsyncVFS` is a wa-sqlite
 * `SQLiteVFS`, and nothing of wa-sqlite's globals reaches the consumer. Internally ltxvfs
 * still uses wa-sqlite's own declarations.
 */

/** The members of wa-sqlite's Emscripten module (Asyncify build) that ltxvfs uses. */
export interface WaSqliteModule {
  /** The wasm memory; replaced when the memory grows, so read it afresh after any call into wasm. */
  readonly HEAPU8: Uint8Array;
  /** Decode a NUL-terminated UTF-8 string at `ptr`. */
  UTF8ToString(ptr: number, maxBytesToRead?: number): string;
  /** `sqlite3_malloc`: memory SQLite may later `sqlite3_free`. */
  _sqlite3_malloc(nBytes: number): number;
  /** `sqlite3_free`. */
  _sqlite3_free(ptr: number): void;
  /** Emscripten's `ccall`: call an exported C function by name, converting `string` arguments. */
  ccall(name: string, returnType: 'number' | null, argTypes: ('number' | 'string')[], args: (number | string)[]): unknown;
  /** `sqlite3_bind_zeroblob`. */
  _sqlite3_bind_zeroblob(stmt: number, i: number, n: number): number;
  /**
   * `Asyncify.handleAsync`: run `startAsync` and suspend the wasm stack until its result
   * settles. Present in the Asyncify build only; see `vfs/asyncify/vfs.ts` for why a
   * synchronous thenable does not suspend.
   */
  readonly handleAsync?: (startAsync: () => PromiseLike<unknown>) => unknown;
}

/** A result code, or a promise of one (methods wa-sqlite's Asyncify build may suspend on). */
type Rc = number | Promise<number>;

/**
 * A SQLite VFS as wa-sqlite 2.x registers it (its global `SQLiteVFS`): the `x…` methods
 * of `sqlite3_vfs` and `sqlite3_io_methods` (https://sqlite.org/c3ref/vfs.html,
 * https://sqlite.org/c3ref/io_methods.html) with pointers as numbers into wasm memory.
 */
export interface SqliteVfs {
  /** Longest file name in UTF-8 bytes (wa-sqlite's default 64). */
  mxPathname?: number;
  /** The name SQLite knows the VFS by. */
  name: string;
  close(): void | Promise<void>;
  isReady(): boolean | Promise<boolean>;
  hasAsyncMethod(methodName: string): boolean;
  xOpen(pVfs: number, zName: number, pFile: number, flags: number, pOutFlags: number): Rc;
  xDelete(pVfs: number, zName: number, syncDir: number): Rc;
  xAccess(pVfs: number, zName: number, flags: number, pResOut: number): Rc;
  xFullPathname(pVfs: number, zName: number, nOut: number, zOut: number): Rc;
  xGetLastError(pVfs: number, nBuf: number, zBuf: number): Rc;
  xClose(pFile: number): Rc;
  xRead(pFile: number, pData: number, iAmt: number, iOffsetLo: number, iOffsetHi: number): Rc;
  xWrite(pFile: number, pData: number, iAmt: number, iOffsetLo: number, iOffsetHi: number): Rc;
  xTruncate(pFile: number, sizeLo: number, sizeHi: number): Rc;
  xSync(pFile: number, flags: number): Rc;
  xFileSize(pFile: number, pSize: number): Rc;
  xLock(pFile: number, lockType: number): Rc;
  xUnlock(pFile: number, lockType: number): Rc;
  xCheckReservedLock(pFile: number, pResOut: number): Rc;
  xFileControl(pFile: number, op: number, pArg: number): Rc;
  xSectorSize(pFile: number): Rc;
  xDeviceCharacteristics(pFile: number): Rc;
}

/**
 * What `registerLtxVFS` needs of the caller's wa-sqlite API (`SQLite.Factory(module)`):
 * `vfs_register`, which returns SQLite's result code and throws wa-sqlite's
 * `SQLiteError` when SQLite refuses.
 */
export interface VfsRegistrar {
  vfs_register(vfs: SqliteVfs, makeDefault?: boolean): number;
}
