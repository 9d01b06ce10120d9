/**
 * The replica database file as every engine serves it to SQLite: one state machine for
 * the in-process engine (vfs/asyncify/vfs.ts), the worker engine (vfs/worker/vfs.ts) and
 * the sql.js adapter (vfs/sqljs/vfs.ts). Each engine keeps only its binding — how SQLite's
 * calls arrive and how a call that has to wait completes.
 *
 * ## Completing synchronously or not
 *
 * A {@link DatabaseFile} is typed by its {@link Completion}. Its source and sink answer
 * `T` (`'sync'`: the worker's blocking page bridge, sql.js) or `T | Promise<T>`
 * (`'async'`: the in-process replica reader, whose page cache answers at once and whose
 * misses and commits are Promises). The file's methods pass that through: a `'sync'` file
 * never returns a Promise (the types say so), an `'async'` one returns a Promise only when
 * it really waits — a page miss, taking the lease, a commit — so the Asyncify binding
 * unwinds the wasm stack only then. Methods that never wait return plain values in both.
 * Errors are thrown (or reject the Promise); bindings catch them, remember them for the
 * Database API's `cause`, and answer {@link sqliteCodeForError}'s code.
 *
 * ## What SQLite does, and what this file relies on
 *
 * Opening a database (`sqlite3_open_v2`) calls `xFullPathname` (names are keys the
 * binding was given, not paths), then `xOpen` with `SQLITE_OPEN_MAIN_DB`. A database is
 * writable only when it was opened read-write and its source has a sink (see "Writes");
 * otherwise the binding answers `SQLITE_OPEN_READONLY` in the output flags
 * (`openOutputFlags`, vfs/core/open-file.ts), so the pager is read-only whatever the caller asked for.
 * SQLite then reads the 100-byte header at offset 0 *without a lock* to learn the page
 * size; a read outside a lock is served from a version acquired for that one call.
 *
 * Every read transaction then goes:
 *
 * 1. `xLock(SHARED)` ({@link DatabaseFile.lock}) pins `source.acquire()`: from here until
 *    the unlock every read, and `xFileSize`, see this one version, however the replica
 *    moves meanwhile (docs/architecture.md read path 6). Higher lock levels keep the same pin.
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
 * through `patchPage1` (vfs/core/page1.ts): bytes 18/19 = 1 so SQLite sees a
 * rollback-journal database even for a WAL-mode source and never looks for a WAL or shared
 * memory; bytes 24–27 and 92–95 = a counter derived from the TXID, so step 4 drops
 * SQLite's cache exactly when the version changed and keeps it otherwise; bytes 28–31 =
 * `commit`.
 *
 * ## Writes
 *
 * A writable database claims `SQLITE_IOCAP_BATCH_ATOMIC`, so SQLite (built with
 * `SQLITE_ENABLE_BATCH_ATOMIC_WRITE`) keeps the rollback journal in memory and writes a
 * transaction's pages between `SQLITE_FCNTL_BEGIN_ATOMIC_WRITE` and
 * `SQLITE_FCNTL_COMMIT_ATOMIC_WRITE`:
 *
 * 1. `xLock(RESERVED)` asks the sink (lease check; taking the lease may wait). Refused:
 *    `SQLITE_READONLY` (no lease, time-travel view) or `SQLITE_BUSY`.
 * 2. `xWrite`/`xTruncate` go to a per-transaction {@link WriteBuffer}; reads see it.
 * 3. The commit point ships the buffer through `sink.commit` (an LTX file uploaded
 *    create-only) and moves the file to the new version: `COMMIT_ATOMIC_WRITE`, or —
 *    when SQLite writes without a batch (a new database's first transaction, a journal
 *    that spilled) — the database `xSync` or `SQLITE_FCNTL_SYNC` (sent even with
 *    `synchronous = OFF`). A sync whose page 1 still carries the change counter this file
 *    served is a rollback playing back the journal, not a commit: dropped.
 * 4. A refused commit answers `SQLITE_BUSY` (another writer took the TXID, the lease was
 *    lost) and nothing of it stays; an I/O failure answers `SQLITE_IOERR_WRITE`, after
 *    which SQLite retries the commit once through its journal.
 * 5. `xUnlock` below RESERVED ends the reservation and drops any unshipped pages.
 *
 * ## Other files
 *
 * `MAIN_JOURNAL`, `TEMP_DB`, `TEMP_JOURNAL`, `SUBJOURNAL`, `SUPER_JOURNAL`, `TRANSIENT_DB`
 * and anything opened `DELETEONCLOSE` (`MEMORY_FILE_FLAGS`, vfs/core/open-file.ts) are private in-memory
 * files (vfs/core/memory-file.ts) in the wa-sqlite engines; sql.js leaves them to its unix
 * VFS. A `WAL` is refused.
 *
 * ## What fails, with which code
 *
 * | what | code |
 * | --- | --- |
 * | `xOpen` of a main database name never added | `SQLITE_CANTOPEN` (`LTXVFS_ERR_NOT_FOUND` remembered) |
 * | `xOpen` of a WAL, or a file of no known kind | `SQLITE_CANTOPEN` (`LTXVFS_ERR_UNSUPPORTED`) |
 * | `xWrite` / `xTruncate` on a read-only replica database | `SQLITE_READONLY` (`LTXVFS_ERR_READONLY`) |
 * | a write without the lease, or on a time-travel view | `SQLITE_READONLY` (the sink's error) |
 * | a commit another writer beat, or after the lease was lost | `SQLITE_BUSY` (`LTXVFS_ERR_CONFLICT` / `LTXVFS_ERR_LEASE_LOST`) |
 * | a page failing its checksum or structure checks | `SQLITE_CORRUPT` |
 * | storage failing (after the fetcher's retries), a bridge timeout | `SQLITE_IOERR_READ` |
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
import * as VFS from '@journeyapps/wa-sqlite/src/sqlite-constants.js';
import { LtxvfsError } from '../../ltx/errors.js';
import type { PageVersion } from '../../lib/read/page-source.js';
import type { Answer, Completion, CorePageSink, CorePageSource } from './types.js';
import { changeCounterForTxid } from './page1.js';
import { readPages } from './read-pages.js';
import { WriteBuffer } from './write-buffer.js';

export type { Answer, Completion, CorePageSink, CorePageSource, SyncPageSink, SyncPageSource } from './types.js';

/** `SQLITE_FCNTL_PRAGMA`: answered by the bindings (the result lives in engine memory). */
export const SQLITE_FCNTL_PRAGMA = 14;
/** `SQLITE_FCNTL_SYNC`: sent right before `xSync` of the database, and instead of it under `synchronous = OFF`. */
export const SQLITE_FCNTL_SYNC = 21;
export const SQLITE_FCNTL_BEGIN_ATOMIC_WRITE = 31;
export const SQLITE_FCNTL_COMMIT_ATOMIC_WRITE = 32;
export const SQLITE_FCNTL_ROLLBACK_ATOMIC_WRITE = 33;
/** `SQLITE_IOCAP_BATCH_ATOMIC`: SQLite may write a transaction's pages as one batch (no journal on disk). */
export const SQLITE_IOCAP_BATCH_ATOMIC = 0x4000;
/** One open replica database file. See the top of this module for the rules. */
export class DatabaseFile<C extends Completion> {
  /** The name it was opened under. */
  readonly name: string;
  readonly source: CorePageSource<C>;
  /** Where commits go; undefined when the file is read-only. */
  readonly sink: CorePageSink<C> | undefined;
  /** The version pinned from `lock(SHARED)` to `unlock(NONE)`. */
  version: PageVersion | undefined;
  /** From `lock(RESERVED)`, once the sink allowed writing, to the unlock below it. */
  #reserved = false;
  /** Pages written since the transaction's last commit point. */
  #buffer: WriteBuffer | undefined;
  /** Between `BEGIN_ATOMIC_WRITE` and its commit or rollback. */
  #batch = false;
  /** Where a cached page is copied for a read of part of it, or of page 1 (patched there); used synchronously only. */
  #scratch = new Uint8Array(0);

  constructor(name: string, source: CorePageSource<C>, sink: CorePageSink<C> | undefined) {
    this.name = name;
    this.source = source;
    this.sink = sink;
  }

  /** True while a read transaction is open (a version is pinned). */
  get inTransaction(): boolean {
    return this.version !== undefined;
  }

  /** `xDeviceCharacteristics`: a writable database takes a transaction's pages as one batch; never IMMUTABLE. */
  get deviceCharacteristics(): number {
    return this.sink !== undefined ? SQLITE_IOCAP_BATCH_ATOMIC : 0;
  }



  /**
   * `xRead` straight into engine memory, for a synchronous binding: `amount` bytes at
   * `heap[ptr]` from byte `offset`. A whole page (not page 1) of the pinned version goes
   * straight into SQLite's buffer — the hot path of scans and lookups: from the source's
   * `readPageInto` when it has the page at hand (the worker's local cache, or its hydrated
   * file read in place), else copied from `readPage`; anything else goes through {@link read}.
   */
  readInto(this: DatabaseFile<'sync'>, heap: Uint8Array, ptr: number, amount: number, offset: number): number {
    const pgno = this.#wholePage(amount, offset);
    if (pgno !== 0) {
      const version = this.version!;
      const source = this.source;
      if (source.readPageInto !== undefined && source.readPageInto(version, pgno, heap.subarray(ptr, ptr + amount))) return VFS.SQLITE_OK;
      const page = source.readPage(version, pgno);
      if (page.length === amount) {
        heap.set(page, ptr);
        return VFS.SQLITE_OK;
      }
    }
    return this.read(heap.subarray(ptr, ptr + amount), offset);
  }

  /**
   * The part of `xRead` that never waits, for the asynchronous binding: a whole page (not
   * page 1) of the pinned version copied to `heap[ptr]` when the source has it at hand
   * (`readPageInto`: the reader's page cache). False for anything else — another size or
   * offset, page 1, a page of this transaction's writes, a page to fetch — and then the
   * binding goes through {@link read}, which may wait.
   */
  readCachedInto(heap: Uint8Array, ptr: number, amount: number, offset: number): boolean {
    const pgno = this.#wholePage(amount, offset);
    const source = this.source;
    return pgno !== 0 && source.readPageInto !== undefined && source.readPageInto(this.version!, pgno, heap.subarray(ptr, ptr + amount));
  }

  /**
   * The page number a read of `amount` bytes at `offset` is, when it is one whole page of
   * the pinned version other than page 1 (patched on the way) and no page of this
   * transaction's writes; else 0.
   */
  #wholePage(amount: number, offset: number): number {
    const version = this.version;
    if (version === undefined || this.#buffer !== undefined || amount !== version.pageSize || offset % amount !== 0 || offset < amount) return 0;
    const pgno = offset / amount + 1;
    return pgno <= version.commit ? pgno : 0;
  }

  /** `xWrite`: buffered for the transaction. @throws LtxvfsError `LTXVFS_ERR_READONLY` without RESERVED; `LTXVFS_ERR_UNSUPPORTED` for a partial page. */
  write(data: Uint8Array, offset: number): number {
    if (!this.#reserved) throw this.#readOnly('write');
    this.#bufferOf().write(data, offset);
    return VFS.SQLITE_OK;
  }

  /** `xTruncate` to `size` bytes. @throws LtxvfsError `LTXVFS_ERR_READONLY` without RESERVED. */
  truncate(size: number): number {
    if (!this.#reserved) throw this.#readOnly('truncate');
    this.#bufferOf().truncate(size);
    return VFS.SQLITE_OK;
  }

  /**
   * The database sync (`SQLITE_FCNTL_SYNC`, which SQLite sends even under `PRAGMA
   * synchronous = OFF`, then `xSync`): the commit point of pages written without a batch
   * (a new database's first transaction, a journal that spilled) — unless SQLite is
   * rolling back. A rollback that had spilled pages writes the originals back and syncs
   * too; its page 1, if it wrote one, still carries the change counter served for the
   * transaction's version, where a commit always writes it incremented. Those pages are
   * dropped, not shipped.
   */
  sync(): Answer<number, C> {
    const buffer = this.#buffer;
    if (buffer === undefined || this.#batch) return VFS.SQLITE_OK;
    const counter = buffer.changeCounter();
    if (counter === undefined || counter === changeCounterForTxid(this.version!.txid)) {
      this.#buffer = undefined;
      return VFS.SQLITE_OK;
    }
    return this.#commit();
  }

  /** `xFileSize` in bytes: the transaction's size while it writes, else the version's. */
  fileSize(): number {
    const buffer = this.#buffer;
    if (buffer !== undefined) return buffer.commit * buffer.pageSize;
    const pinned = this.version;
    if (pinned !== undefined) return pinned.commit * pinned.pageSize;
    const version = this.source.acquire();
    try {
      return version.commit * version.pageSize;
    } finally {
      this.source.release(version);
    }
  }

  /** `xLock`: SHARED pins a version; RESERVED asks the sink (the lease: the one lock call that can wait). */
  lock(level: number): Answer<number, C> {
    if (level >= VFS.SQLITE_LOCK_SHARED && this.version === undefined) this.version = this.source.acquire();
    if (level < VFS.SQLITE_LOCK_RESERVED || this.#reserved || this.sink === undefined) return VFS.SQLITE_OK;
    const reserved = this.sink.reserve() as void | Promise<void>;
    if (reserved instanceof Promise) {
      return reserved.then(() => {
        this.#reserved = true;
        return VFS.SQLITE_OK;
      }) as Answer<number, C>;
    }
    this.#reserved = true;
    return VFS.SQLITE_OK;
  }

  /** `xUnlock`: at SHARED or below the write ends; at NONE the version is released. */
  unlock(level: number): number {
    if (level <= VFS.SQLITE_LOCK_SHARED) this.#endWrite();
    if (level === VFS.SQLITE_LOCK_NONE) this.#releaseVersion();
    return VFS.SQLITE_OK;
  }

  /**
   * `xFileControl` for the write path's operations; `SQLITE_NOTFOUND` for others (the
   * bindings answer `SQLITE_FCNTL_PRAGMA` themselves: it needs their memory).
   */
  fileControl(op: number): Answer<number, C> {
    switch (op) {
      case SQLITE_FCNTL_SYNC:
        return this.sync();
      case SQLITE_FCNTL_BEGIN_ATOMIC_WRITE:
        this.#batch = true;
        return VFS.SQLITE_OK;
      case SQLITE_FCNTL_COMMIT_ATOMIC_WRITE:
        this.#batch = false;
        return this.#buffer === undefined ? VFS.SQLITE_OK : this.#commit();
      case SQLITE_FCNTL_ROLLBACK_ATOMIC_WRITE:
        this.#batch = false;
        this.#buffer = undefined;
        return VFS.SQLITE_OK;
      default:
        return VFS.SQLITE_NOTFOUND;
    }
  }

  /** `xClose`: end any write, release the version. */
  close(): void {
    this.#endWrite();
    this.#releaseVersion();
  }

  /**
   * `xRead`: fill `dest` from byte `offset` — the transaction's own pages, else the pinned
   * version's (or one acquired for this call), page 1 patched, zeros past the end
   * (`SQLITE_IOERR_SHORT_READ`). Synchronous whenever the pages are at hand.
   */
  read(dest: Uint8Array, offset: number): Answer<number, C> {
    const buffer = this.#buffer;
    if (buffer !== undefined) {
      // Inside a write transaction: its own pages first (SQLite re-reads a page it spilled).
      const pgno = Math.floor(offset / buffer.pageSize) + 1;
      const own = buffer.page(pgno);
      if (own !== undefined && offset + dest.length <= pgno * buffer.pageSize) {
        const from = offset - (pgno - 1) * buffer.pageSize;
        dest.set(own.subarray(from, from + dest.length));
        return VFS.SQLITE_OK;
      }
    }
    const pinned = this.version;
    if (pinned !== undefined) return readPages(this.source, pinned, dest, offset, this.#scratchOf(pinned.pageSize)) as Answer<number, C>;
    // Outside a lock (the header read at open): a version for this one call.
    const source = this.source;
    const version = source.acquire();
    let result: number | Promise<number>;
    try {
      result = readPages(source, version, dest, offset, this.#scratchOf(version.pageSize));
    } catch (err) {
      source.release(version);
      throw err;
    }
    if (typeof result === 'number') {
      source.release(version);
      return result;
    }
    return result.finally(() => source.release(version)) as Answer<number, C>;
  }

  /** A page-sized scratch buffer (see {@link readPages}). */
  #scratchOf(pageSize: number): Uint8Array {
    if (this.#scratch.length !== pageSize) this.#scratch = new Uint8Array(pageSize);
    return this.#scratch;
  }

  /** The write buffer of the transaction in progress (created at its first write). */
  #bufferOf(): WriteBuffer {
    if (this.#buffer === undefined) {
      const base = this.version!;
      this.#buffer = new WriteBuffer(base.pageSize, base.commit);
    }
    return this.#buffer;
  }

  /**
   * Ship the buffered transaction through the sink. Success moves the file to the new
   * version; on failure nothing of the transaction stays, and the error is thrown (or
   * rejects): SQLITE_BUSY for a conflict or a lost lease (SQLite then rolls back), an I/O
   * code otherwise (for a batch, SQLite retries once through a journal).
   */
  #commit(): Answer<number, C> {
    const buffer = this.#buffer!;
    this.#buffer = undefined;
    const base = this.version!;
    const next = this.sink!.commit(base, buffer.pages, buffer.commitSize(), buffer.pageSize) as PageVersion | Promise<PageVersion>;
    if (next instanceof Promise) {
      return next.then((version) => this.#moveTo(base, version)) as Answer<number, C>;
    }
    return this.#moveTo(base, next);
  }

  /** After a commit: the file is on the sink's new version (pinned for it), `base` is released. */
  #moveTo(base: PageVersion, version: PageVersion): number {
    this.version = version;
    this.source.release(base);
    return VFS.SQLITE_OK;
  }

  /** The transaction is over (SQLite dropped to SHARED or less): end the reservation, drop unshipped pages. */
  #endWrite(): void {
    this.#buffer = undefined;
    this.#batch = false;
    if (this.#reserved) {
      this.#reserved = false;
      this.sink?.unreserve();
    }
  }

  #releaseVersion(): void {
    const version = this.version;
    if (version === undefined) return;
    this.version = undefined;
    this.source.release(version);
  }

  #readOnly(what: string): LtxvfsError {
    return new LtxvfsError('LTXVFS_ERR_READONLY', `cannot ${what} replica database "${this.name}": it is read-only`, {
      key: this.name, sqliteCode: VFS.SQLITE_READONLY,
    });
  }
}
