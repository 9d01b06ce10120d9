/**
 * LtxSyncVFS: the VFS of the worker engine — wa-sqlite's non-Asyncify build, in a worker
 * thread (vfs/worker/main.ts). Every method returns synchronously; a page the thread
 * does not have blocks it on the page bridge (vfs/bridge/client.ts) while the replica's
 * reader, on the main thread, fetches it.
 *
 * What SQLite does with the database file, the page-1 rules, lock ↔ version pinning and
 * the write path are the core's: {@link DatabaseFile} (vfs/core/database-file.ts, whose
 * opening essay describes them), shared with the in-process engine and the sql.js
 * adapter, here over a synchronous source: no call ever returns a Promise.
 * Other files SQLite opens (TEMP database, journals, sorter spills) are in memory
 * (vfs/core/memory-file.ts); a WAL is refused.
 *
 * PRAGMAs on the database (`SQLITE_FCNTL_PRAGMA`) go to a synchronous handler: through
 * the bridge, to the connection's `litestream_*` / `litevfs_*` handlers on the main thread.
 *
 * Nothing throws across the wasm boundary: every method catches, remembers the error
 * ({@link LtxSyncVFS.takeLastError}, the Database API's `cause`) and returns the code
 * {@link sqliteCodeForError} gives (SQLITE_CORRUPT for bad pages, SQLITE_IOERR_READ for
 * storage errors and bridge timeouts, the error's own `sqliteCode` for lease and
 * conflict errors).
 */
/// <reference types="@journeyapps/wa-sqlite" />
import * as VFS from '@journeyapps/wa-sqlite/src/sqlite-constants.js';
import { LtxvfsError } from '../../ltx/errors.js';
import { FacadeVFS } from '../core/facade-vfs.js';
import { sqliteCodeForError } from '../core/error-codes.js';
import { MemoryFile } from '../core/memory-file.js';
import { DatabaseFile, SQLITE_FCNTL_PRAGMA, type SyncPageSink, type SyncPageSource } from '../core/database-file.js';
import { MEMORY_FILE_FLAGS, MEMORY_FILE_IOCAP, openOutputFlags, SECTOR_SIZE, unknownDatabase, unsupportedOpen } from '../core/open-file.js';
import { readPragma, setPragmaResult } from '../core/pragma.js';
import type { WaSqliteModule } from '../wasm/wa-sqlite-types.js';

/**
 * Answers a PRAGMA on a replica database synchronously: text (one row), `null` (no row),
 * `undefined` (not ours; SQLite handles it). `inTransaction`: whether the connection has
 * a read transaction open (what `litestream_txid` reports differs). A throw is the
 * PRAGMA's error message.
 */
export type SyncPragmaHandler = (name: string, value: string | null, inTransaction: boolean) => string | null | undefined;

/** Options of {@link LtxSyncVFS}. */
export interface LtxSyncVFSOptions {
  /** VFS name (default `'ltxvfs-sync'`). */
  name?: string;
  /** Handles PRAGMAs on replica databases. */
  pragmaHandler?: SyncPragmaHandler;
}

/** Longest database name in bytes. */
const MAX_PATHNAME = 1024;

/** An open replica database: the core over a synchronous source. */
type SyncDatabaseFile = DatabaseFile<'sync'>;

type OpenFile = SyncDatabaseFile | MemoryFile;

/** The synchronous VFS over replica databases. */
export class LtxSyncVFS extends FacadeVFS {
  readonly #module: WaSqliteModule;
  readonly #databases = new Map<string, { source: SyncPageSource; sink: SyncPageSink | undefined }>();
  readonly #files = new Map<number, OpenFile>();
  readonly #pragmaHandler: SyncPragmaHandler | undefined;
  #lastError: unknown;

  constructor(module: WaSqliteModule, options: LtxSyncVFSOptions = {}) {
    super(options.name ?? 'ltxvfs-sync', module);
    this.mxPathname = MAX_PATHNAME;
    this.#module = module;
    this.#pragmaHandler = options.pragmaHandler;
  }

  /**
   * Serve `source` as the database `name`; writes go to `sink` when it is given and the
   * database is opened read-write.
   * @throws LtxvfsError `LTXVFS_ERR_USAGE` if `name` is already added.
   */
  addDatabase(name: string, source: SyncPageSource, sink?: SyncPageSink): void {
    if (this.#databases.has(name)) throw new LtxvfsError('LTXVFS_ERR_USAGE', `database "${name}" is already added to VFS "${this.name}"`, { key: name });
    this.#databases.set(name, { source, sink });
  }

  /** True while any replica database of this VFS has a read transaction open. */
  get inTransaction(): boolean {
    for (const file of this.#files.values()) if (file instanceof DatabaseFile && file.inTransaction) return true;
    return false;
  }

  /** The last error caught, forgetting it. */
  takeLastError(): unknown {
    const err = this.#lastError;
    this.#lastError = undefined;
    return err;
  }

  override jOpen(filename: string | null, pFile: number, flags: number, pOutFlags: DataView): number {
    return this.#guard(() => {
      if (flags & VFS.SQLITE_OPEN_MAIN_DB) {
        const name = filename ?? '';
        const db = this.#databases.get(name);
        if (db === undefined) {
          this.#lastError = unknownDatabase(name, this.name);
          return VFS.SQLITE_CANTOPEN;
        }
        const sink = flags & VFS.SQLITE_OPEN_READWRITE ? db.sink : undefined;
        this.#files.set(pFile, new DatabaseFile<'sync'>(name, db.source, sink));
        pOutFlags.setInt32(0, openOutputFlags(flags, sink !== undefined), true);
        return VFS.SQLITE_OK;
      }
      if (flags & MEMORY_FILE_FLAGS && !(flags & VFS.SQLITE_OPEN_WAL)) {
        this.#files.set(pFile, new MemoryFile());
        pOutFlags.setInt32(0, flags, true);
        return VFS.SQLITE_OK;
      }
      this.#lastError = unsupportedOpen(filename, flags);
      return VFS.SQLITE_CANTOPEN;
    }, VFS.SQLITE_CANTOPEN);
  }

  override jDelete(_filename: string, _syncDir: number): number {
    return VFS.SQLITE_OK;
  }

  override jClose(pFile: number): number {
    return this.#guard(() => {
      const file = this.#files.get(pFile);
      if (file === undefined) return VFS.SQLITE_OK;
      this.#files.delete(pFile);
      if (file instanceof DatabaseFile) file.close();
      return VFS.SQLITE_OK;
    }, VFS.SQLITE_IOERR_CLOSE);
  }

  /** The hot path, on raw arguments (no FacadeVFS proxy object per read). */
  override xRead(pFile: number, pData: number, iAmt: number, iOffsetLo: number, iOffsetHi: number): number {
    try {
      const file = this.#file(pFile);
      const offset = iOffsetHi * 0x1_0000_0000 + (iOffsetLo >>> 0);
      if (file instanceof DatabaseFile) return file.readInto(this.#module.HEAPU8, pData, iAmt, offset);
      return file.read(this.#module.HEAPU8.subarray(pData, pData + iAmt), offset);
    } catch (err) {
      return this.#fail(err, VFS.SQLITE_IOERR_READ);
    }
  }

  /**
   * Raw, at every read transaction (SQLite looks for a hot journal): no replica database
   * has a journal or a WAL beside it, and the in-memory files are never looked up by name,
   * so the answer is always "no such file" (without decoding the name).
   */
  override xAccess(_pVfs: number, _zName: number, _flags: number, pResOut: number): number {
    this.#int32()[pResOut >> 2] = 0;
    return VFS.SQLITE_OK;
  }

  /** Raw, at every read transaction: the size straight into memory. */
  override xFileSize(pFile: number, pSize: number): number {
    try {
      const file = this.#file(pFile);
      const size = file instanceof DatabaseFile ? file.fileSize() : file.size;
      new DataView(this.#module.HEAPU8.buffer).setBigInt64(pSize, BigInt(size), true);
      return VFS.SQLITE_OK;
    } catch (err) {
      return this.#fail(err, VFS.SQLITE_IOERR_FSTAT);
    }
  }

  /** Raw: nobody else writes, so no connection ever holds RESERVED against this one. */
  override xCheckReservedLock(_pFile: number, pResOut: number): number {
    this.#int32()[pResOut >> 2] = 0;
    return VFS.SQLITE_OK;
  }

  override jWrite(pFile: number, pData: Uint8Array, iOffset: number): number {
    return this.#guard(() => {
      const file = this.#file(pFile);
      if (file instanceof DatabaseFile) return file.write(pData.subarray(0, pData.length), iOffset);
      file.write(pData.subarray(0, pData.length), iOffset);
      return VFS.SQLITE_OK;
    }, VFS.SQLITE_IOERR_WRITE);
  }

  override jTruncate(pFile: number, size: number): number {
    return this.#guard(() => {
      const file = this.#file(pFile);
      if (file instanceof DatabaseFile) return file.truncate(size);
      file.truncate(size);
      return VFS.SQLITE_OK;
    }, VFS.SQLITE_IOERR_TRUNCATE);
  }

  override jSync(pFile: number, _flags: number): number {
    return this.#guard(() => {
      const file = this.#files.get(pFile);
      return file instanceof DatabaseFile ? file.sync() : VFS.SQLITE_OK;
    }, VFS.SQLITE_IOERR_WRITE);
  }

  override jLock(pFile: number, lockType: number): number {
    return this.#guard(() => {
      const file = this.#file(pFile);
      return file instanceof DatabaseFile ? file.lock(lockType) : VFS.SQLITE_OK;
    }, VFS.SQLITE_IOERR_LOCK);
  }

  override jUnlock(pFile: number, lockType: number): number {
    return this.#guard(() => {
      const file = this.#file(pFile);
      return file instanceof DatabaseFile ? file.unlock(lockType) : VFS.SQLITE_OK;
    }, VFS.SQLITE_IOERR_UNLOCK);
  }

  override jFileControl(pFile: number, op: number, pArg: DataView): number {
    const file = this.#files.get(pFile);
    if (!(file instanceof DatabaseFile)) return VFS.SQLITE_NOTFOUND;
    if (op === SQLITE_FCNTL_PRAGMA) {
      if (this.#pragmaHandler === undefined) return VFS.SQLITE_NOTFOUND;
      return this.#pragma(file, this.#pragmaHandler, pArg.byteOffset - this.#module.HEAPU8.byteOffset);
    }
    return this.#guard(() => file.fileControl(op), VFS.SQLITE_IOERR_WRITE);
  }

  override jSectorSize(_pFile: number): number {
    return SECTOR_SIZE;
  }

  override jDeviceCharacteristics(pFile: number): number {
    const file = this.#files.get(pFile);
    if (file instanceof MemoryFile) return MEMORY_FILE_IOCAP;
    return file?.deviceCharacteristics ?? 0;
  }

  #pragma(file: SyncDatabaseFile, handler: SyncPragmaHandler, pArg: number): number {
    const module = this.#module;
    const { name, value } = readPragma(module, pArg);
    let result: string | null | undefined;
    try {
      result = handler(name, value, file.inTransaction);
    } catch (err) {
      this.#lastError = err;
      setPragmaResult(module, pArg, err instanceof Error ? err.message : String(err));
      return VFS.SQLITE_ERROR;
    }
    if (result === undefined) return VFS.SQLITE_NOTFOUND;
    if (result !== null) setPragmaResult(module, pArg, result);
    return VFS.SQLITE_OK;
  }

  #int32View: Int32Array = new Int32Array(0);

  /** The wasm memory as 32-bit words (a new view only after it grew). */
  #int32(): Int32Array {
    const buffer = this.#module.HEAPU8.buffer;
    if (this.#int32View.buffer !== buffer) this.#int32View = new Int32Array(buffer);
    return this.#int32View;
  }

  #file(pFile: number): OpenFile {
    const file = this.#files.get(pFile);
    if (file === undefined) throw new LtxvfsError('LTXVFS_ERR_USAGE', `VFS "${this.name}" has no open file ${pFile}`);
    return file;
  }

  #guard(body: () => number, ioCode: number): number {
    try {
      return body();
    } catch (err) {
      return this.#fail(err, ioCode);
    }
  }

  #fail(err: unknown, ioCode: number): number {
    this.#lastError = err;
    return sqliteCodeForError(err, ioCode);
  }
}
