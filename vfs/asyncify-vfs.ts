/**
 * LtxAsyncVFS: the SQLite VFS of the in-process engine (wa-sqlite's Asyncify build). It
 * serves the pages of replica databases ({@link PageSource}) to SQLite and keeps every
 * other file SQLite wants in memory.
 *
 * ## What SQLite does, and what this VFS relies on
 *
 * Opening a database (`sqlite3_open_v2`) calls `xFullPathname` (the name is kept as
 * given: names are keys of {@link LtxAsyncVFS.addDatabase}, not paths), then `xOpen` with
 * `SQLITE_OPEN_MAIN_DB`. A database is writable only when it was opened read-write and
 * its source has a sink (a `WritablePageSource`, see "Writes" below); otherwise the VFS
 * answers `SQLITE_OPEN_READONLY` in the output flags, so the pager is read-only whatever
 * the caller asked for. SQLite then reads the 100-byte header at offset 0 *without a
 * lock* to learn the page size; a read outside a lock is served from a version acquired
 * for that one call.
 *
 * Every read transaction then goes:
 *
 * 1. `xLock(SHARED)`. The VFS pins `source.acquire()`: from here until the unlock every
 *    read, and `xFileSize`, see this one version, however the replica moves meanwhile
 *    (DESIGN.md read path 6). Higher lock levels keep the same pin.
 * 2. `xAccess(<db>-journal)` for a hot journal: never exists (nor does `-wal`).
 * 3. `xFileSize`: `commit × pageSize` of the pinned version.
 * 4. If SQLite has pages cached from an earlier transaction, a 16-byte read at offset 24
 *    (file change counter … schema cookie). When those bytes differ from what it saw
 *    last, SQLite drops its whole page cache.
 * 5. Page reads: whole pages at page-aligned offsets. (`SQLITE_IOCAP_SUBPAGE_READ` is not
 *    claimed, so `SQLITE_DIRECT_OVERFLOW_READ` never makes partial-page reads; any read
 *    that spans or splits pages is served anyway.)
 * 6. `xUnlock(NONE)` at the end of the transaction (each statement, in autocommit
 *    mode). The pin is released; the next transaction pins the newest version.
 *
 * ## Page 1
 *
 * Page 1 (and any read overlapping it: the header at 0, the 16 bytes at 24) is served
 * through `patchPage1` (vfs/page1.ts): bytes 18/19 = 1 so SQLite sees a rollback-journal
 * database even for a WAL-mode source and never looks for a WAL or shared memory; bytes
 * 24–27 and 92–95 = a counter derived from the TXID, so step 4 drops SQLite's cache
 * exactly when the version changed and keeps it otherwise; bytes 28–31 = `commit`.
 *
 * ## Reads and Asyncify
 *
 * `xRead` can wait (a page not in the page cache is fetched); so can `xFileControl` (an
 * asynchronous PRAGMA such as `litestream_time`, a commit), `xLock` (taking the lease)
 * and `xSync` (a commit). Only these are declared asynchronous to Asyncify. An asynchronous VFS method is
 * called through `Asyncify.handleAsync(() => jRead(…))`, which runs
 * `jRead(…).then(wakeUp)` and unwinds the wasm stack only if `wakeUp` was not called
 * before `then` returned. When every page of a read is cached, `PageSource.readPage`
 * returns bytes and `jRead` returns a thenable that calls `wakeUp` synchronously: the read
 * completes with no unwind and no Promise. On a miss it returns a real Promise and the
 * stack unwinds once. The other three answer the same way: a synchronous thenable unless
 * they really wait. Every other method is a plain function and never unwinds.
 *
 * ## Writes
 *
 * A writable database claims `SQLITE_IOCAP_BATCH_ATOMIC`, so SQLite (built with
 * `SQLITE_ENABLE_BATCH_ATOMIC_WRITE`) keeps the rollback journal in memory and writes a
 * transaction's pages between `SQLITE_FCNTL_BEGIN_ATOMIC_WRITE` and
 * `SQLITE_FCNTL_COMMIT_ATOMIC_WRITE`:
 *
 * 1. `xLock(RESERVED)` asks the sink (lease check; taking the lease may wait, so `xLock`
 *    is declared asynchronous and answers through a synchronous thenable otherwise).
 *    Refused: `SQLITE_READONLY` (no lease, time-travel view) or `SQLITE_BUSY`.
 * 2. `xWrite`/`xTruncate` go to a per-transaction {@link WriteBuffer}; reads see it.
 * 3. The commit point ships the buffer through `sink.commit` (an LTX file uploaded
 *    create-only) and moves the file to the new version: `COMMIT_ATOMIC_WRITE`, or —
 *    when SQLite writes without a batch (a new database's first transaction, a journal
 *    that spilled) — the database `xSync` or `SQLITE_FCNTL_SYNC` (sent even with
 *    `synchronous = OFF`). A sync whose page 1 still carries the change counter this VFS
 *    served is a rollback playing back the journal, not a commit: dropped.
 * 4. A refused commit answers `SQLITE_BUSY` (another writer took the TXID, the lease was
 *    lost) and nothing of it stays; an I/O failure answers `SQLITE_IOERR_WRITE`, after
 *    which SQLite retries the commit once through its journal.
 * 5. `xUnlock` below RESERVED ends the reservation and drops any unshipped pages.
 *
 * ## Other files
 *
 * `MAIN_JOURNAL`, `TEMP_DB`, `TEMP_JOURNAL`, `SUBJOURNAL`, `SUPER_JOURNAL`, `TRANSIENT_DB`
 * and anything opened `DELETEONCLOSE` are private in-memory files (vfs/memory-file.ts):
 * TEMP tables, sorters that spill and statement journals work. A `WAL` is refused.
 *
 * ## What fails, with which code
 *
 * Nothing throws across the wasm boundary. Every method catches, remembers the error
 * ({@link LtxAsyncVFS.lastError} / {@link LtxAsyncVFS.takeLastError}, which the
 * Database API rethrows as `cause`) and returns a code:
 *
 * | what | code |
 * | --- | --- |
 * | `xOpen` of a main database name never added | `SQLITE_CANTOPEN` (`LTXVFS_ERR_NOT_FOUND` remembered) |
 * | `xOpen` of a WAL, or a file of no known kind | `SQLITE_CANTOPEN` (`LTXVFS_ERR_UNSUPPORTED`) |
 * | `xWrite` / `xTruncate` on a read-only replica database | `SQLITE_READONLY` (`LTXVFS_ERR_READONLY`) |
 * | a write without the lease, or on a time-travel view | `SQLITE_READONLY` (the sink's error) |
 * | a commit another writer beat, or after the lease was lost | `SQLITE_BUSY` (`LTXVFS_ERR_CONFLICT` / `LTXVFS_ERR_LEASE_LOST`) |
 * | a page failing its checksum or structure checks | `SQLITE_CORRUPT` |
 * | storage failing (after the fetcher's retries) | `SQLITE_IOERR_READ` |
 * | anything else thrown | `SQLITE_IOERR` |
 * | a read past the end of a file | `SQLITE_IOERR_SHORT_READ`, zero-filled (not an error) |
 *
 * ## Not supported, and why that is safe
 *
 * 1. Writing without a sink: the output flags make the pager read-only.
 * 2. WAL mode and shared memory (`xShm*`): page 1 says rollback journal.
 * 3. Sharing a journal or temp file by name between opens: SQLite opens each such file
 *    once per connection, and a read-only database never gets a hot journal.
 * 4. Locks between connections: every connection pins its own version, so SHARED never
 *    has to exclude anyone (`xCheckReservedLock` says 0); writers are kept apart by the
 *    writer's reservation (one per process) and the lease and create-only uploads (across
 *    processes).
 * 5. `SQLITE_IOCAP_IMMUTABLE`: the database does change between transactions.
 * 6. New versions under `PRAGMA locking_mode = EXCLUSIVE`: SQLite then never unlocks,
 *    so the connection stays on the version it pinned first, which is what it asked for.
 */
/// <reference types="@journeyapps/wa-sqlite" />
// @ts-expect-error wa-sqlite ships no types for FacadeVFS.js; FacadeVFSConstructor below types it.
import { FacadeVFS as UntypedFacadeVFS } from '@journeyapps/wa-sqlite/src/FacadeVFS.js';
import * as VFS from '@journeyapps/wa-sqlite/src/sqlite-constants.js';
import { LtxvfsError } from '../ltx/errors.js';
import type { PageSink, PageSource, PageVersion, WritablePageSource } from '../lib/page-source.js';
import { WriteBuffer } from './write-buffer.js';
import { sqliteCodeForError } from './error-codes.js';
import { MemoryFile } from './memory-file.js';
import { changeCounterForTxid, DB_HEADER_SIZE, patchPage1, patchPage1InPlace } from './page1.js';
import type { SqliteVfs, VfsRegistrar, WaSqliteModule } from './wa-sqlite-types.js';

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

const FacadeVFS = UntypedFacadeVFS as FacadeVFSConstructor;

/**
 * Answers a `PRAGMA` run on a replica database (`SQLITE_FCNTL_PRAGMA`): `name` in lower
 * case, `value` the argument or `null`, `database` the name the database was added under.
 * Return a string to make it the PRAGMA's one-row result, `null` for a PRAGMA that
 * succeeds with no result, `undefined` to let SQLite handle it. A throw becomes the
 * PRAGMA's error message.
 */
export type PragmaHandler = (name: string, value: string | null, database: string) => PragmaResult | Promise<PragmaResult>;

/** What a {@link PragmaHandler} answers: a one-row text result, `null` (OK, no rows) or `undefined` (not ours). */
export type PragmaResult = string | null | undefined;

/** Options of {@link LtxAsyncVFS}. */
export interface LtxAsyncVFSOptions {
  /** The VFS name to register and open databases with (default `'ltxvfs'`). */
  name?: string;
  /** Handles `PRAGMA`s on replica databases (the `litestream_*` PRAGMAs plug in here). */
  pragmaHandler?: PragmaHandler;
  /**
   * Complete reads served entirely from cached pages without an Asyncify unwind
   * (default `true`). `false` makes every `xRead` return a Promise: only for measuring
   * what the synchronous path saves.
   */
  syncCacheHits?: boolean;
}

/** Counters of {@link LtxAsyncVFS}, for tests and benchmarks. */
export interface LtxAsyncVFSCounters {
  /** `xRead` calls (all files). */
  reads: number;
  /** `xRead` calls that returned a Promise, i.e. suspended SQLite (one Asyncify unwind each). */
  suspendedReads: number;
}

/** The default VFS name. */
export const DEFAULT_VFS_NAME = 'ltxvfs';

/** Longest database name in bytes (`mxPathname`). */
const MAX_PATHNAME = 1024;

/** SQLite's default sector size for this build (`SQLITE_DEFAULT_SECTOR_SIZE=4096`). */
const SECTOR_SIZE = 4096;

/** File kinds kept in memory (FORMATS.md §7.3). */
const MEMORY_FILE_FLAGS =
  VFS.SQLITE_OPEN_MAIN_JOURNAL |
  VFS.SQLITE_OPEN_TEMP_DB |
  VFS.SQLITE_OPEN_TEMP_JOURNAL |
  VFS.SQLITE_OPEN_SUBJOURNAL |
  VFS.SQLITE_OPEN_SUPER_JOURNAL |
  VFS.SQLITE_OPEN_TRANSIENT_DB |
  VFS.SQLITE_OPEN_DELETEONCLOSE;

/** What a memory file promises: appends and writes land in order and whole. */
const MEMORY_FILE_IOCAP =
  VFS.SQLITE_IOCAP_SAFE_APPEND |
  VFS.SQLITE_IOCAP_SEQUENTIAL |
  VFS.SQLITE_IOCAP_POWERSAFE_OVERWRITE |
  VFS.SQLITE_IOCAP_UNDELETABLE_WHEN_OPEN;

const SQLITE_FCNTL_PRAGMA = 14;
/** Sent right before `xSync` of the database, and instead of it under `PRAGMA synchronous = OFF`. */
const SQLITE_FCNTL_SYNC = 21;
const SQLITE_FCNTL_BEGIN_ATOMIC_WRITE = 31;
const SQLITE_FCNTL_COMMIT_ATOMIC_WRITE = 32;
const SQLITE_FCNTL_ROLLBACK_ATOMIC_WRITE = 33;
/** `SQLITE_IOCAP_BATCH_ATOMIC`: SQLite may write a transaction's pages as one batch (no journal on disk). */
const SQLITE_IOCAP_BATCH_ATOMIC = 0x4000;

/** An open replica database. */
interface DatabaseFile {
  readonly kind: 'database';
  /** The name it was added under. */
  readonly name: string;
  readonly source: PageSource;
  /** Where commits go when the database was opened read-write on a writable source. */
  readonly sink: PageSink | undefined;
  /** The version pinned from `xLock(SHARED)` to `xUnlock(NONE)`; guarded by the lock calls. */
  version: PageVersion | undefined;
  /** True from `xLock(RESERVED)`, once the sink allowed writing, to the unlock below it. */
  reserved: boolean;
  /** Pages written since the transaction's last commit point. */
  buffer: WriteBuffer | undefined;
  /** Between `SQLITE_FCNTL_BEGIN_ATOMIC_WRITE` and its commit or rollback. */
  batch: boolean;
}

/** An open in-memory file. */
interface TempFile {
  readonly kind: 'memory';
  readonly file: MemoryFile;
}

type OpenFile = DatabaseFile | TempFile;

/** Thenables that complete a read synchronously, one per result code (no allocation per read). */
const completed = new Map<number, Thenable<number>>();
function completedWith(code: number): Thenable<number> {
  let thenable = completed.get(code);
  if (thenable === undefined) {
    thenable = {
      then(onFulfilled) {
        return onFulfilled(code);
      },
    };
    completed.set(code, thenable);
  }
  return thenable;
}

/**
 * The VFS over replica databases. Register it with {@link registerLtxVFS} (or
 * `sqlite3.vfs_register`), add databases by name, and open them with this VFS's name.
 */
export class LtxAsyncVFS extends FacadeVFS {
  /** Counters since construction. */
  readonly counters: LtxAsyncVFSCounters = { reads: 0, suspendedReads: 0 };
  readonly #module: WaSqliteModule;
  readonly #databases = new Map<string, PageSource>();
  readonly #files = new Map<number, OpenFile>();
  readonly #pragmaHandler: PragmaHandler | undefined;
  readonly #syncCacheHits: boolean;
  #lastError: unknown;
  /** Where a cached page is copied for a read of part of it, or of page 1 (patched there); used synchronously only. */
  #scratch = new Uint8Array(0);

  constructor(module: WaSqliteModule, options: LtxAsyncVFSOptions = {}) {
    super(options.name ?? DEFAULT_VFS_NAME, module);
    // Names are keys, not paths, but callers may use long ones (wa-sqlite's default is 64).
    this.mxPathname = MAX_PATHNAME;
    this.#module = module;
    this.#pragmaHandler = options.pragmaHandler;
    this.#syncCacheHits = options.syncCacheHits ?? true;
  }

  /**
   * Serve `source` as the main database file called `name` (what `sqlite3_open_v2` and
   * `ATTACH` are given with this VFS).
   * @throws LtxvfsError `LTXVFS_ERR_USAGE` if `name` is already added.
   */
  addDatabase(name: string, source: PageSource): void {
    if (this.#databases.has(name)) {
      throw new LtxvfsError('LTXVFS_ERR_USAGE', `database "${name}" is already added to VFS "${this.name}"`, { key: name });
    }
    this.#databases.set(name, source);
  }

  /**
   * Stop serving `name` to new opens; connections already open keep their source.
   * @returns whether `name` was added.
   */
  removeDatabase(name: string): boolean {
    return this.#databases.delete(name);
  }

  /** The last error a VFS method caught (and turned into a SQLite code), if any. */
  lastError(): unknown {
    return this.#lastError;
  }

  /** The last error caught, forgetting it. */
  takeLastError(): unknown {
    const err = this.#lastError;
    this.#lastError = undefined;
    return err;
  }

  /**
   * Only `xRead` and `xFileControl` may wait (see the top of this module); both answer
   * with a synchronous thenable when they need not, which costs no stack unwind.
   */
  override hasAsyncMethod(methodName: string): boolean {
    return methodName === 'xRead' || methodName === 'xFileControl' || methodName === 'xLock' || methodName === 'xSync';
  }

  override jOpen(filename: string | null, pFile: number, flags: number, pOutFlags: DataView): number {
    return this.#guard(() => {
      if (flags & VFS.SQLITE_OPEN_MAIN_DB) {
        const name = databaseName(filename, flags);
        const source = this.#databases.get(name);
        if (source === undefined) {
          return this.#refuse(
            new LtxvfsError('LTXVFS_ERR_NOT_FOUND', `no database "${name}" in VFS "${this.name}"`, { key: name }),
            VFS.SQLITE_CANTOPEN,
          );
        }
        const sink = flags & VFS.SQLITE_OPEN_READWRITE ? (source as Partial<WritablePageSource>).sink : undefined;
        this.#files.set(pFile, { kind: 'database', name, source, sink, version: undefined, reserved: false, buffer: undefined, batch: false });
        const access = sink === undefined ? VFS.SQLITE_OPEN_READONLY : VFS.SQLITE_OPEN_READWRITE;
        pOutFlags.setInt32(0, (flags & ~(VFS.SQLITE_OPEN_READWRITE | VFS.SQLITE_OPEN_READONLY | VFS.SQLITE_OPEN_CREATE)) | access, true);
        return VFS.SQLITE_OK;
      }
      if (flags & MEMORY_FILE_FLAGS && !(flags & VFS.SQLITE_OPEN_WAL)) {
        this.#files.set(pFile, { kind: 'memory', file: new MemoryFile() });
        pOutFlags.setInt32(0, flags, true);
        return VFS.SQLITE_OK;
      }
      const what = flags & VFS.SQLITE_OPEN_WAL ? 'a WAL' : `a file with flags 0x${flags.toString(16)}`;
      return this.#refuse(
        new LtxvfsError('LTXVFS_ERR_UNSUPPORTED', `cannot open ${what} (${filename ?? 'no name'}): replica databases are read in rollback-journal mode`, {
          key: filename ?? undefined,
        }),
        VFS.SQLITE_CANTOPEN,
      );
    }, VFS.SQLITE_CANTOPEN);
  }

  override jDelete(_filename: string, _syncDir: number): number {
    // Memory files vanish at close; replica databases are never deleted.
    return VFS.SQLITE_OK;
  }

  override jAccess(filename: string, _flags: number, pResOut: DataView): number {
    return this.#guard(() => {
      pResOut.setInt32(0, this.#databases.has(filename) ? 1 : 0, true);
      return VFS.SQLITE_OK;
    }, VFS.SQLITE_IOERR_ACCESS);
  }

  override jClose(pFile: number): number {
    return this.#guard(() => {
      const file = this.#files.get(pFile);
      // SQLite closes a file whose xOpen failed, too: nothing to do then.
      if (file === undefined) return VFS.SQLITE_OK;
      this.#files.delete(pFile);
      if (file.kind === 'database') {
        this.#endWrite(file);
        if (file.version !== undefined) {
          const version = file.version;
          file.version = undefined;
          file.source.release(version);
        }
      }
      return VFS.SQLITE_OK;
    }, VFS.SQLITE_IOERR_CLOSE);
  }

  override jRead(pFile: number, pData: Uint8Array, iOffset: number): number | Thenable<number> {
    this.counters.reads++;
    let code: number | Promise<number>;
    try {
      const file = this.#file(pFile);
      if (file.kind === 'memory') {
        code = file.file.read(pData.subarray(0, pData.length), iOffset);
      } else {
        code = this.#readDatabase(file, pData, iOffset);
      }
    } catch (err) {
      code = this.#fail(err, VFS.SQLITE_IOERR_READ);
    }
    if (typeof code === 'number') {
      return this.#syncCacheHits ? completedWith(code) : Promise.resolve(code);
    }
    this.counters.suspendedReads++;
    // A rejection must become a code too: Asyncify waits for fulfilment only, and would
    // leave SQLite suspended forever.
    return code.catch((err: unknown) => this.#fail(err, VFS.SQLITE_IOERR_READ));
  }

  override jWrite(pFile: number, pData: Uint8Array, iOffset: number): number {
    return this.#guard(() => {
      const file = this.#file(pFile);
      if (file.kind === 'database') {
        if (!file.reserved) return this.#readOnly(file, 'write');
        this.#bufferOf(file).write(pData.subarray(0, pData.length), iOffset);
        return VFS.SQLITE_OK;
      }
      file.file.write(pData.subarray(0, pData.length), iOffset);
      return VFS.SQLITE_OK;
    }, VFS.SQLITE_IOERR_WRITE);
  }

  override jTruncate(pFile: number, size: number): number {
    return this.#guard(() => {
      const file = this.#file(pFile);
      if (file.kind === 'database') {
        if (!file.reserved) return this.#readOnly(file, 'truncate');
        this.#bufferOf(file).truncate(size);
        return VFS.SQLITE_OK;
      }
      file.file.truncate(size);
      return VFS.SQLITE_OK;
    }, VFS.SQLITE_IOERR_TRUNCATE);
  }

  /**
   * The commit point of a transaction SQLite writes without a batch (a new database's
   * first transaction, or a journal that spilled): the database file is synced after its
   * pages were written and before the journal is finalized. `SQLITE_FCNTL_SYNC` comes
   * first and normally ships the pages already (see {@link #syncPoint}).
   */
  override jSync(pFile: number, _flags: number): Thenable<number> | Promise<number> {
    const file = this.#files.get(pFile);
    const code = file?.kind === 'database' ? this.#syncPoint(file) : VFS.SQLITE_OK;
    return typeof code === 'number' ? completedWith(code) : code;
  }

  /**
   * The database sync (`SQLITE_FCNTL_SYNC`, which SQLite sends even under `PRAGMA
   * synchronous = OFF`, then `xSync`): the commit point of pages written without a batch —
   * unless SQLite is rolling back. A rollback that had spilled pages writes the originals
   * back and syncs too; its page 1, if it wrote one, still carries the change counter
   * served for the transaction's version, where a commit always writes it incremented.
   * Those pages are dropped, not shipped.
   */
  #syncPoint(file: DatabaseFile): number | Promise<number> {
    const buffer = file.buffer;
    if (buffer === undefined || file.batch) return VFS.SQLITE_OK;
    const counter = buffer.changeCounter();
    if (counter === undefined || counter === changeCounterForTxid(file.version!.txid)) {
      file.buffer = undefined;
      return VFS.SQLITE_OK;
    }
    return this.#commit(file);
  }

  override jFileSize(pFile: number, pSize: DataView): number {
    return this.#guard(() => {
      const file = this.#file(pFile);
      let size: number;
      if (file.kind === 'memory') {
        size = file.file.size;
      } else {
        size = file.buffer !== undefined
          ? file.buffer.commit * file.buffer.pageSize
          : this.#withVersion(file, (version) => version.commit * version.pageSize);
      }
      pSize.setBigInt64(0, BigInt(size), true);
      return VFS.SQLITE_OK;
    }, VFS.SQLITE_IOERR_FSTAT);
  }

  /**
   * SHARED pins a version; RESERVED asks the sink whether this connection may write
   * (the lease, possibly taken now: the one lock call that can wait).
   */
  override jLock(pFile: number, lockType: number): Thenable<number> | Promise<number> {
    let code: number | Promise<number>;
    try {
      const file = this.#file(pFile);
      code = VFS.SQLITE_OK;
      if (file.kind === 'database') {
        if (lockType >= VFS.SQLITE_LOCK_SHARED && file.version === undefined) file.version = file.source.acquire();
        if (lockType >= VFS.SQLITE_LOCK_RESERVED && !file.reserved && file.sink !== undefined) code = this.#reserve(file, file.sink);
      }
    } catch (err) {
      code = this.#fail(err, VFS.SQLITE_IOERR_LOCK);
    }
    return typeof code === 'number' ? completedWith(code) : code;
  }

  #reserve(file: DatabaseFile, sink: PageSink): number | Promise<number> {
    const done = (): number => {
      file.reserved = true;
      return VFS.SQLITE_OK;
    };
    const reserved = sink.reserve();
    return reserved instanceof Promise ? reserved.then(done, (err: unknown) => this.#fail(err, VFS.SQLITE_IOERR_LOCK)) : done();
  }

  override jUnlock(pFile: number, lockType: number): number {
    return this.#guard(() => {
      const file = this.#file(pFile);
      if (file.kind === 'database' && lockType <= VFS.SQLITE_LOCK_SHARED) this.#endWrite(file);
      if (file.kind === 'database' && lockType === VFS.SQLITE_LOCK_NONE && file.version !== undefined) {
        const version = file.version;
        file.version = undefined;
        file.source.release(version);
      }
      return VFS.SQLITE_OK;
    }, VFS.SQLITE_IOERR_UNLOCK);
  }

  override jCheckReservedLock(_pFile: number, pResOut: DataView): number {
    pResOut.setInt32(0, 0, true);
    return VFS.SQLITE_OK;
  }

  override jFileControl(pFile: number, op: number, pArg: DataView): Thenable<number> | Promise<number> {
    let code: number | Promise<number>;
    try {
      const file = this.#file(pFile);
      if (file.kind !== 'database') {
        code = VFS.SQLITE_NOTFOUND;
      } else if (op === SQLITE_FCNTL_PRAGMA && this.#pragmaHandler !== undefined) {
        code = this.#pragma(file, this.#pragmaHandler, pArg.byteOffset - this.#module.HEAPU8.byteOffset);
      } else if (op === SQLITE_FCNTL_SYNC) {
        code = this.#syncPoint(file);
      } else if (op === SQLITE_FCNTL_BEGIN_ATOMIC_WRITE) {
        file.batch = true;
        code = VFS.SQLITE_OK;
      } else if (op === SQLITE_FCNTL_COMMIT_ATOMIC_WRITE) {
        file.batch = false;
        code = file.buffer === undefined ? VFS.SQLITE_OK : this.#commit(file);
      } else if (op === SQLITE_FCNTL_ROLLBACK_ATOMIC_WRITE) {
        file.batch = false;
        file.buffer = undefined;
        code = VFS.SQLITE_OK;
      } else {
        code = VFS.SQLITE_NOTFOUND;
      }
    } catch (err) {
      code = this.#fail(err, VFS.SQLITE_ERROR);
    }
    return typeof code === 'number' ? completedWith(code) : code;
  }

  override jSectorSize(_pFile: number): number {
    return SECTOR_SIZE;
  }

  override jDeviceCharacteristics(pFile: number): number {
    // A replica database is never IMMUTABLE (see the top); a writable one takes a
    // transaction's pages as one batch, which is how a commit becomes one LTX file.
    const file = this.#files.get(pFile);
    if (file?.kind === 'memory') return MEMORY_FILE_IOCAP;
    return file?.sink !== undefined ? SQLITE_IOCAP_BATCH_ATOMIC : 0;
  }

  /** Read from a replica database: synchronously when every page is cached. */
  #readDatabase(file: DatabaseFile, pData: Uint8Array, iOffset: number): number | Promise<number> {
    const buffer = file.buffer;
    if (buffer !== undefined) {
      // Inside a write transaction: its own pages first (SQLite re-reads a page it spilled).
      const pgno = Math.floor(iOffset / buffer.pageSize) + 1;
      const own = buffer.page(pgno);
      if (own !== undefined && iOffset + pData.length <= pgno * buffer.pageSize) {
        pData.set(own.subarray(iOffset - (pgno - 1) * buffer.pageSize, iOffset - (pgno - 1) * buffer.pageSize + pData.length));
        return VFS.SQLITE_OK;
      }
    }
    const pinned = file.version;
    const version = pinned ?? file.source.acquire();
    let result: number | Promise<number>;
    try {
      result = this.#readPages(file.source, version, pData, iOffset);
    } catch (err) {
      if (pinned === undefined) file.source.release(version);
      throw err;
    }
    if (pinned === undefined) {
      if (typeof result === 'number') {
        file.source.release(version);
      } else {
        result = result.finally(() => file.source.release(version));
      }
    }
    return result;
  }

  /**
   * Fill `pData` from byte `iOffset` of `version`: the pages it covers, page 1 patched,
   * zeros past the end (`SQLITE_IOERR_SHORT_READ`).
   */
  #readPages(source: PageSource, version: PageVersion, pData: Uint8Array, iOffset: number): number | Promise<number> {
    const { pageSize, commit } = version;
    const amount = pData.length;
    const first = Math.floor(iOffset / pageSize) + 1;
    const last = Math.min(commit, Math.floor((iOffset + amount - 1) / pageSize) + 1);
    if (first === last) {
      const start = (first - 1) * pageSize;
      if (source.readPageInto !== undefined && iOffset + amount <= start + pageSize) {
        // The hot path of scans and lookups: a cached page copied without an array of its
        // own — a whole page straight into SQLite's buffer, anything else (page 1, which is
        // patched; the 16 bytes at 24 read at every transaction) through a scratch page.
        if (first > 1 && amount === pageSize && iOffset === start) {
          if (source.readPageInto(version, first, pData)) return VFS.SQLITE_OK;
        } else {
          if (this.#scratch.length !== pageSize) this.#scratch = new Uint8Array(pageSize);
          const scratch = this.#scratch;
          if (source.readPageInto(version, first, scratch)) {
            if (first === 1) patchPage1InPlace(scratch, version);
            pData.set(scratch.subarray(iOffset - start, iOffset - start + amount));
            return VFS.SQLITE_OK;
          }
        }
      }
      // The common case: one page (a whole page, the header, or the 16 bytes at 24).
      const page = source.readPage(version, first);
      if (page instanceof Uint8Array) {
        return copyPages(version, [page], first, pData.subarray(0, amount), iOffset);
      }
      return page.then((bytes) => copyPages(version, [bytes], first, pData.subarray(0, amount), iOffset));
    }
    const pages: Array<Uint8Array | Promise<Uint8Array>> = [];
    let pending = false;
    try {
      for (let pgno = first; pgno <= last; pgno++) {
        const page = source.readPage(version, pgno);
        if (!(page instanceof Uint8Array)) pending = true;
        pages.push(page);
      }
    } catch (err) {
      // Pages already requested must not become unhandled rejections.
      for (const page of pages) if (!(page instanceof Uint8Array)) page.catch(() => undefined);
      throw err;
    }
    if (!pending) return copyPages(version, pages as Uint8Array[], first, pData.subarray(0, amount), iOffset);
    return Promise.all(pages).then((bytes) => copyPages(version, bytes, first, pData.subarray(0, amount), iOffset));
  }

  #pragma(file: DatabaseFile, handler: PragmaHandler, pArg: number): number | Promise<number> {
    // pArg points at char*[3]: [0] the result or error message (out), [1] the name, [2] the argument or NULL.
    const module = this.#module;
    const slots = new DataView(module.HEAPU8.buffer, pArg, 12);
    const name = module.UTF8ToString(slots.getUint32(4, true)).toLowerCase();
    const valuePtr = slots.getUint32(8, true);
    const value = valuePtr === 0 ? null : module.UTF8ToString(valuePtr);
    const fail = (err: unknown): number => {
      this.#lastError = err;
      this.#setPragmaResult(pArg, err instanceof Error ? err.message : String(err));
      return VFS.SQLITE_ERROR;
    };
    const answer = (result: PragmaResult): number => {
      if (result === undefined) return VFS.SQLITE_NOTFOUND;
      if (result !== null) this.#setPragmaResult(pArg, result);
      return VFS.SQLITE_OK;
    };
    let result: PragmaResult | Promise<PragmaResult>;
    try {
      result = handler(name, value, file.name);
    } catch (err) {
      return fail(err);
    }
    // A rejection must become a code too, or SQLite would stay suspended (see jRead).
    return result instanceof Promise ? result.then(answer, fail) : answer(result);
  }

  /** Store `text` as the PRAGMA's result (or error message) in memory SQLite frees. */
  #setPragmaResult(pArg: number, text: string): void {
    const module = this.#module;
    const utf8 = new TextEncoder().encode(text);
    const ptr = module._sqlite3_malloc(utf8.length + 1);
    // The malloc may have grown (and replaced) the wasm memory: take HEAPU8 afresh.
    module.HEAPU8.set(utf8, ptr);
    module.HEAPU8[ptr + utf8.length] = 0;
    new DataView(module.HEAPU8.buffer).setUint32(pArg, ptr, true);
  }

  /** The write buffer of the transaction in progress (created at its first write). */
  #bufferOf(file: DatabaseFile): WriteBuffer {
    if (file.buffer === undefined) {
      const base = file.version!;
      file.buffer = new WriteBuffer(base.pageSize, base.commit);
    }
    return file.buffer;
  }

  /**
   * Ship the buffered transaction through the sink. Success moves the file to the new
   * version; failure drops the buffer (nothing of the transaction stays) and answers the
   * error's code: SQLITE_BUSY for a conflict or a lost lease (SQLite then rolls back),
   * an I/O code otherwise (for a batch, SQLite retries once through a journal).
   */
  #commit(file: DatabaseFile): Promise<number> {
    const buffer = file.buffer!;
    file.buffer = undefined;
    const base = file.version!;
    return file.sink!.commit(base, buffer.pages, buffer.commitSize(), buffer.pageSize).then(
      (version) => {
        // The sink returns the new version pinned for this file.
        file.version = version;
        file.source.release(base);
        return VFS.SQLITE_OK;
      },
      (err: unknown) => this.#fail(err, VFS.SQLITE_IOERR_WRITE),
    );
  }

  /** The transaction is over (SQLite dropped to SHARED or less): end the reservation, drop unshipped pages. */
  #endWrite(file: DatabaseFile): void {
    file.buffer = undefined;
    file.batch = false;
    if (file.reserved) {
      file.reserved = false;
      file.sink?.unreserve();
    }
  }

  #readOnly(file: DatabaseFile, what: string): number {
    return this.#refuse(
      new LtxvfsError('LTXVFS_ERR_READONLY', `cannot ${what} replica database "${file.name}": it is read-only`, { key: file.name }),
      VFS.SQLITE_READONLY,
    );
  }

  /** `fn` on the pinned version, or on one acquired for this call (SQLite reads the header before it locks). */
  #withVersion<T>(file: DatabaseFile, fn: (version: PageVersion) => T): T {
    if (file.version !== undefined) return fn(file.version);
    const version = file.source.acquire();
    try {
      return fn(version);
    } finally {
      file.source.release(version);
    }
  }

  #file(pFile: number): OpenFile {
    const file = this.#files.get(pFile);
    if (file === undefined) throw new LtxvfsError('LTXVFS_ERR_USAGE', `VFS "${this.name}" has no open file ${pFile}`);
    return file;
  }

  /** Run a VFS method body; a throw becomes a remembered error and a code. */
  #guard(body: () => number, ioCode: number): number {
    try {
      return body();
    } catch (err) {
      return this.#fail(err, ioCode);
    }
  }

  /** Remember `err`, caught from a method whose I/O error code is `ioCode`; the code for it. */
  #fail(err: unknown, ioCode: number): number {
    this.#lastError = err;
    return sqliteCodeForError(err, ioCode);
  }

  /** Remember `err`, an operation this VFS refuses, and answer `code`. */
  #refuse(err: LtxvfsError, code: number): number {
    this.#lastError = err;
    return code;
  }
}

/**
 * Copy the bytes of `pages` (consecutive, starting at `first`) that `dest` (at byte
 * `iOffset` of the file) covers; zero-fill past the end of the database.
 */
function copyPages(version: PageVersion, pages: Uint8Array[], first: number, dest: Uint8Array, iOffset: number): number {
  const { pageSize } = version;
  const end = iOffset + dest.length;
  for (let i = 0; i < pages.length; i++) {
    const pgno = first + i;
    let page = pages[i];
    if (page.length !== pageSize) {
      throw new LtxvfsError('LTXVFS_ERR_CORRUPT', `page ${pgno} has ${page.length} bytes, expected ${pageSize}`);
    }
    const pageStart = (pgno - 1) * pageSize;
    if (pgno === 1 && iOffset < DB_HEADER_SIZE) page = patchPage1(page, version);
    const from = Math.max(iOffset, pageStart);
    const to = Math.min(end, pageStart + pageSize);
    dest.set(page.subarray(from - pageStart, to - pageStart), from - iOffset);
  }
  const fileSize = version.commit * pageSize;
  if (end > fileSize) {
    dest.fill(0, Math.max(0, fileSize - iOffset));
    return VFS.SQLITE_IOERR_SHORT_READ;
  }
  return VFS.SQLITE_OK;
}

/** The name a main database was added under: the open name without URI parameters. */
function databaseName(filename: string | null, flags: number): string {
  const name = filename ?? '';
  if (flags & VFS.SQLITE_OPEN_URI) {
    const query = name.indexOf('?');
    if (query >= 0) return name.slice(0, query);
  }
  return name;
}

/** Options of {@link registerLtxVFS}. */
export interface RegisterLtxVFSOptions extends LtxAsyncVFSOptions {
  /** Make it SQLite's default VFS (default `false`). */
  makeDefault?: boolean;
}

/**
 * Create an {@link LtxAsyncVFS} and register it with a wa-sqlite instance of the Asyncify
 * build that the caller brought (`sqlite3` = `SQLite.Factory(module)`). Add databases to
 * the returned VFS, then `sqlite3.open_v2(name, SQLITE_OPEN_READONLY, vfs.name)`.
 * @throws the wa-sqlite error if SQLite refuses the registration.
 */
export function registerLtxVFS(sqlite3: VfsRegistrar, module: WaSqliteModule, options: RegisterLtxVFSOptions = {}): LtxAsyncVFS {
  const vfs = new LtxAsyncVFS(module, options);
  sqlite3.vfs_register(vfs, options.makeDefault ?? false);
  return vfs;
}
