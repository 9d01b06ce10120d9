/**
 * LtxSyncVFS: the VFS of the worker engine — wa-sqlite's non-Asyncify build, in a worker
 * thread (vfs/worker-main.ts). Every method returns synchronously; a page the thread
 * does not have blocks it on the page bridge (vfs/bridge-client.ts) while the replica's
 * reader, on the main thread, fetches it.
 *
 * What SQLite does with the database file, the page-1 rules, lock ↔ version pinning and
 * the write path are those of the Asyncify VFS (its opening essay in vfs/asyncify-vfs.ts
 * applies word for word, minus "Reads and Asyncify"); the file logic itself is
 * {@link SyncDatabaseFile} (vfs/sync-database-file.ts), shared with the sql.js adapter.
 * Other files SQLite opens (TEMP database, journals, sorter spills) are in memory
 * (vfs/memory-file.ts); a WAL is refused.
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
// @ts-expect-error wa-sqlite ships no types for FacadeVFS.js; FacadeVFSConstructor types it.
import { FacadeVFS as UntypedFacadeVFS } from '@journeyapps/wa-sqlite/src/FacadeVFS.js';
import * as VFS from '@journeyapps/wa-sqlite/src/sqlite-constants.js';
import { LtxvfsError } from '../ltx/errors.js';
import type { FacadeVFSConstructor } from './asyncify-vfs.js';
import { sqliteCodeForError } from './error-codes.js';
import { MemoryFile } from './memory-file.js';
import { SQLITE_FCNTL_PRAGMA, SyncDatabaseFile, type SyncPageSink, type SyncPageSource } from './sync-database-file.js';
import type { WaSqliteModule } from './wa-sqlite.js';

const FacadeVFS = UntypedFacadeVFS as FacadeVFSConstructor;

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
const SECTOR_SIZE = 4096;

const MEMORY_FILE_FLAGS =
  VFS.SQLITE_OPEN_MAIN_JOURNAL | VFS.SQLITE_OPEN_TEMP_DB | VFS.SQLITE_OPEN_TEMP_JOURNAL | VFS.SQLITE_OPEN_SUBJOURNAL |
  VFS.SQLITE_OPEN_SUPER_JOURNAL | VFS.SQLITE_OPEN_TRANSIENT_DB | VFS.SQLITE_OPEN_DELETEONCLOSE;

const MEMORY_FILE_IOCAP =
  VFS.SQLITE_IOCAP_SAFE_APPEND | VFS.SQLITE_IOCAP_SEQUENTIAL | VFS.SQLITE_IOCAP_POWERSAFE_OVERWRITE | VFS.SQLITE_IOCAP_UNDELETABLE_WHEN_OPEN;

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
    for (const file of this.#files.values()) if (file instanceof SyncDatabaseFile && file.inTransaction) return true;
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
          this.#lastError = new LtxvfsError('LTXVFS_ERR_NOT_FOUND', `no database "${name}" in VFS "${this.name}"`, { key: name });
          return VFS.SQLITE_CANTOPEN;
        }
        const sink = flags & VFS.SQLITE_OPEN_READWRITE ? db.sink : undefined;
        this.#files.set(pFile, new SyncDatabaseFile(name, db.source, sink));
        const access = sink === undefined ? VFS.SQLITE_OPEN_READONLY : VFS.SQLITE_OPEN_READWRITE;
        pOutFlags.setInt32(0, (flags & ~(VFS.SQLITE_OPEN_READWRITE | VFS.SQLITE_OPEN_READONLY | VFS.SQLITE_OPEN_CREATE)) | access, true);
        return VFS.SQLITE_OK;
      }
      if (flags & MEMORY_FILE_FLAGS && !(flags & VFS.SQLITE_OPEN_WAL)) {
        this.#files.set(pFile, new MemoryFile());
        pOutFlags.setInt32(0, flags, true);
        return VFS.SQLITE_OK;
      }
      this.#lastError = new LtxvfsError('LTXVFS_ERR_UNSUPPORTED',
        `cannot open ${flags & VFS.SQLITE_OPEN_WAL ? 'a WAL' : `a file with flags 0x${flags.toString(16)}`} (${filename ?? 'no name'}): replica databases are read in rollback-journal mode`,
        { key: filename ?? undefined });
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
      if (file instanceof SyncDatabaseFile) file.close();
      return VFS.SQLITE_OK;
    }, VFS.SQLITE_IOERR_CLOSE);
  }

  /** The hot path, on raw arguments (no FacadeVFS proxy object per read). */
  override xRead(pFile: number, pData: number, iAmt: number, iOffsetLo: number, iOffsetHi: number): number {
    try {
      const file = this.#file(pFile);
      const offset = iOffsetHi * 0x1_0000_0000 + (iOffsetLo >>> 0);
      if (file instanceof SyncDatabaseFile) return file.readInto(this.#module.HEAPU8, pData, iAmt, offset);
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
      const size = file instanceof SyncDatabaseFile ? file.fileSize() : file.size;
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
      if (file instanceof SyncDatabaseFile) return file.write(pData.subarray(0, pData.length), iOffset);
      file.write(pData.subarray(0, pData.length), iOffset);
      return VFS.SQLITE_OK;
    }, VFS.SQLITE_IOERR_WRITE);
  }

  override jTruncate(pFile: number, size: number): number {
    return this.#guard(() => {
      const file = this.#file(pFile);
      if (file instanceof SyncDatabaseFile) return file.truncate(size);
      file.truncate(size);
      return VFS.SQLITE_OK;
    }, VFS.SQLITE_IOERR_TRUNCATE);
  }

  override jSync(pFile: number, _flags: number): number {
    return this.#guard(() => {
      const file = this.#files.get(pFile);
      return file instanceof SyncDatabaseFile ? file.sync() : VFS.SQLITE_OK;
    }, VFS.SQLITE_IOERR_WRITE);
  }

  override jLock(pFile: number, lockType: number): number {
    return this.#guard(() => {
      const file = this.#file(pFile);
      return file instanceof SyncDatabaseFile ? file.lock(lockType) : VFS.SQLITE_OK;
    }, VFS.SQLITE_IOERR_LOCK);
  }

  override jUnlock(pFile: number, lockType: number): number {
    return this.#guard(() => {
      const file = this.#file(pFile);
      return file instanceof SyncDatabaseFile ? file.unlock(lockType) : VFS.SQLITE_OK;
    }, VFS.SQLITE_IOERR_UNLOCK);
  }

  override jFileControl(pFile: number, op: number, pArg: DataView): number {
    const file = this.#files.get(pFile);
    if (!(file instanceof SyncDatabaseFile)) return VFS.SQLITE_NOTFOUND;
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
    // pArg points at char*[3]: [0] the result or error message (out), [1] the name, [2] the argument or NULL.
    const module = this.#module;
    const slots = new DataView(module.HEAPU8.buffer, pArg, 12);
    const name = module.UTF8ToString(slots.getUint32(4, true)).toLowerCase();
    const valuePtr = slots.getUint32(8, true);
    const value = valuePtr === 0 ? null : module.UTF8ToString(valuePtr);
    let result: string | null | undefined;
    try {
      result = handler(name, value, file.inTransaction);
    } catch (err) {
      this.#lastError = err;
      this.#setPragmaResult(pArg, err instanceof Error ? err.message : String(err));
      return VFS.SQLITE_ERROR;
    }
    if (result === undefined) return VFS.SQLITE_NOTFOUND;
    if (result !== null) this.#setPragmaResult(pArg, result);
    return VFS.SQLITE_OK;
  }

  /** Store `text` as the PRAGMA's result (or error message) in memory SQLite frees. */
  #setPragmaResult(pArg: number, text: string): void {
    const module = this.#module;
    const utf8 = new TextEncoder().encode(text);
    const ptr = module._sqlite3_malloc(utf8.length + 1);
    module.HEAPU8.set(utf8, ptr);
    module.HEAPU8[ptr + utf8.length] = 0;
    new DataView(module.HEAPU8.buffer).setUint32(pArg, ptr, true);
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
