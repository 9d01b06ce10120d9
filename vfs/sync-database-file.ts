/**
 * A replica database file as a *synchronous* VFS serves it: the engine-neutral core of
 * the worker engine's VFS (vfs/worker-vfs.ts, wa-sqlite's non-Asyncify build) and of the
 * sql.js adapter (vfs/sqljs-vfs.ts). The rules are those of the Asyncify VFS, whose
 * opening essay (vfs/asyncify-vfs.ts) describes what SQLite does; here every call
 * returns at once or blocks its thread (a page miss, a commit: vfs/bridge-client.ts):
 *
 * - `lock(SHARED)` pins `source.acquire()`; every read and `fileSize` until
 *   `unlock(NONE)` sees that version. A read outside a lock (SQLite reads the header at
 *   open before it locks) is served from a version acquired for that one call.
 * - Page 1 is served through `patchPage1` (vfs/page1.ts): rollback-journal bytes 18/19,
 *   change counter from the TXID, size = `commit`.
 * - Writes (with a sink): `lock(RESERVED)` asks `sink.reserve()` (the lease); whole pages
 *   are buffered per transaction (vfs/write-buffer.ts) and read back by the transaction;
 *   the commit point is `SQLITE_FCNTL_COMMIT_ATOMIC_WRITE` for a batch, else the database
 *   sync (`SQLITE_FCNTL_SYNC` / `xSync`) — unless the pages are a rollback writing the
 *   originals back (page 1 with the version's own change counter), which are dropped.
 *   `sink.commit` moves the file to the new version. `unlock(≤ SHARED)` ends the write.
 *
 * Methods return SQLite codes or throw; adapters catch, remember the error for the
 * Database API's `cause`, and map it with {@link sqliteCodeForError}.
 */
import * as VFS from '@journeyapps/wa-sqlite/src/sqlite-constants.js';
import { LtxvfsError } from '../ltx/errors.js';
import type { PageVersion } from '../lib/page-source.js';
import { changeCounterForTxid, DB_HEADER_SIZE, patchPage1 } from './page1.js';
import { WriteBuffer } from './write-buffer.js';

/** A source of pages whose reads complete synchronously (blocking on a miss). */
export interface SyncPageSource {
  /** Pin the version a new read transaction gets (paired with {@link release}). */
  acquire(): PageVersion;
  release(version: PageVersion): void;
  /**
   * Page `pgno` of `version`, exactly `pageSize` bytes (not to be modified).
   * @throws LtxvfsError `LTXVFS_ERR_STORAGE` (I/O, bridge timeout), `LTXVFS_ERR_CORRUPT` / `LTXVFS_ERR_CHECKSUM`.
   */
  readPage(version: PageVersion, pgno: number): Uint8Array;
}

/** Where a synchronous VFS ships transactions (see `PageSink`, lib/page-source.ts). */
export interface SyncPageSink {
  /** @throws LtxvfsError with `sqliteCode` SQLITE_READONLY / SQLITE_BUSY. */
  reserve(): void;
  unreserve(): void;
  /**
   * Ship a transaction on `base`; returns the new version, pinned in place of `base`
   * (the source releases `base` itself: the caller must not).
   * @throws LtxvfsError with `sqliteCode` SQLITE_BUSY on a conflict or a lost lease; storage errors.
   */
  commit(base: PageVersion, pages: ReadonlyMap<number, Uint8Array>, commit: number, pageSize: number): PageVersion;
}

/** `SQLITE_FCNTL_SYNC`: sent right before `xSync` of the database (and instead of it under `synchronous = OFF`). */
export const SQLITE_FCNTL_SYNC = 21;
/** `SQLITE_FCNTL_PRAGMA`. */
export const SQLITE_FCNTL_PRAGMA = 14;
const SQLITE_FCNTL_BEGIN_ATOMIC_WRITE = 31;
const SQLITE_FCNTL_COMMIT_ATOMIC_WRITE = 32;
const SQLITE_FCNTL_ROLLBACK_ATOMIC_WRITE = 33;
/** `SQLITE_IOCAP_BATCH_ATOMIC`. */
const SQLITE_IOCAP_BATCH_ATOMIC = 0x4000;

/** One open replica database file. */
export class SyncDatabaseFile {
  /** The name it was opened under. */
  readonly name: string;
  readonly source: SyncPageSource;
  /** Where commits go; undefined when read-only. */
  readonly sink: SyncPageSink | undefined;
  /** The version pinned from `lock(SHARED)` to `unlock(NONE)`. */
  version: PageVersion | undefined;
  /** From `lock(RESERVED)`, once the sink allowed writing, to the unlock below it. */
  #reserved = false;
  /** Pages written since the transaction's last commit point. */
  #buffer: WriteBuffer | undefined;
  /** Between `BEGIN_ATOMIC_WRITE` and its commit or rollback. */
  #batch = false;

  constructor(name: string, source: SyncPageSource, sink: SyncPageSink | undefined) {
    this.name = name;
    this.source = source;
    this.sink = sink;
  }

  /** True while a read transaction is open (a version is pinned). */
  get inTransaction(): boolean {
    return this.version !== undefined;
  }

  /** `xDeviceCharacteristics`: a writable database takes a transaction as one batch. */
  get deviceCharacteristics(): number {
    return this.sink !== undefined ? SQLITE_IOCAP_BATCH_ATOMIC : 0;
  }

  /**
   * `xRead` straight into engine memory: `amount` bytes at `heap[ptr]` from byte `offset`.
   * A whole page of the pinned version is copied without making a view (the hot path of
   * scans); anything else goes through {@link read}.
   */
  readInto(heap: Uint8Array, ptr: number, amount: number, offset: number): number {
    const version = this.version;
    if (version !== undefined && this.#buffer === undefined && amount === version.pageSize && offset % amount === 0 && offset >= amount) {
      const pgno = offset / amount + 1;
      if (pgno <= version.commit) {
        const page = this.source.readPage(version, pgno);
        if (page.length === amount) {
          heap.set(page, ptr);
          return VFS.SQLITE_OK;
        }
      }
    }
    return this.read(heap.subarray(ptr, ptr + amount), offset);
  }

  /** Fill `dest` from byte `offset`: the transaction's own pages, else the version's. */
  read(dest: Uint8Array, offset: number): number {
    const buffer = this.#buffer;
    if (buffer !== undefined) {
      const pgno = Math.floor(offset / buffer.pageSize) + 1;
      const own = buffer.page(pgno);
      if (own !== undefined && offset + dest.length <= pgno * buffer.pageSize) {
        const from = offset - (pgno - 1) * buffer.pageSize;
        dest.set(own.subarray(from, from + dest.length));
        return VFS.SQLITE_OK;
      }
    }
    const pinned = this.version;
    const version = pinned ?? this.source.acquire();
    try {
      return readPages(this.source, version, dest, offset);
    } finally {
      if (pinned === undefined) this.source.release(version);
    }
  }

  /** `xWrite`: buffered for the transaction; refused without RESERVED. */
  write(data: Uint8Array, offset: number): number {
    if (!this.#reserved) throw this.#readOnly('write');
    this.#bufferOf().write(data, offset);
    return VFS.SQLITE_OK;
  }

  /** `xTruncate`. */
  truncate(size: number): number {
    if (!this.#reserved) throw this.#readOnly('truncate');
    this.#bufferOf().truncate(size);
    return VFS.SQLITE_OK;
  }

  /** `xSync` (and `SQLITE_FCNTL_SYNC`): the commit point of pages written without a batch. */
  sync(): number {
    const buffer = this.#buffer;
    if (buffer === undefined || this.#batch) return VFS.SQLITE_OK;
    const counter = changeCounterOf(buffer);
    if (counter === undefined || counter === changeCounterForTxid(this.version!.txid)) {
      // A rollback writing the originals back: nothing to ship.
      this.#buffer = undefined;
      return VFS.SQLITE_OK;
    }
    return this.#commit();
  }

  /** `xFileSize` in bytes. */
  fileSize(): number {
    const buffer = this.#buffer;
    if (buffer !== undefined) return buffer.commit * buffer.pageSize;
    const pinned = this.version;
    const version = pinned ?? this.source.acquire();
    try {
      return version.commit * version.pageSize;
    } finally {
      if (pinned === undefined) this.source.release(version);
    }
  }

  /** `xLock`: SHARED pins a version; RESERVED asks the sink. */
  lock(level: number): number {
    if (level >= VFS.SQLITE_LOCK_SHARED && this.version === undefined) this.version = this.source.acquire();
    if (level >= VFS.SQLITE_LOCK_RESERVED && !this.#reserved && this.sink !== undefined) {
      this.sink.reserve();
      this.#reserved = true;
    }
    return VFS.SQLITE_OK;
  }

  /** `xUnlock`: at SHARED or below the write ends; at NONE the version is released. */
  unlock(level: number): number {
    if (level <= VFS.SQLITE_LOCK_SHARED) this.#endWrite();
    if (level === VFS.SQLITE_LOCK_NONE && this.version !== undefined) {
      const version = this.version;
      this.version = undefined;
      this.source.release(version);
    }
    return VFS.SQLITE_OK;
  }

  /**
   * `xFileControl` for the write path's operations; `SQLITE_NOTFOUND` for others
   * (the adapters answer `SQLITE_FCNTL_PRAGMA` themselves: it needs their memory).
   */
  fileControl(op: number): number {
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
    if (this.version !== undefined) {
      const version = this.version;
      this.version = undefined;
      this.source.release(version);
    }
  }

  #bufferOf(): WriteBuffer {
    if (this.#buffer === undefined) {
      const base = this.version!;
      this.#buffer = new WriteBuffer(base.pageSize, base.commit);
    }
    return this.#buffer;
  }

  /** Ship the buffered transaction; the file moves to the new version. Nothing stays on failure. */
  #commit(): number {
    const buffer = this.#buffer!;
    this.#buffer = undefined;
    const base = this.version!;
    this.version = this.sink!.commit(base, buffer.pages, commitSizeOf(buffer), buffer.pageSize);
    return VFS.SQLITE_OK;
  }

  #endWrite(): void {
    this.#buffer = undefined;
    this.#batch = false;
    if (this.#reserved) {
      this.#reserved = false;
      this.sink?.unreserve();
    }
  }

  #readOnly(what: string): LtxvfsError {
    return new LtxvfsError('LTXVFS_ERR_READONLY', `cannot ${what} replica database "${this.name}": it is read-only`, {
      key: this.name, sqliteCode: VFS.SQLITE_READONLY,
    });
  }
}

/**
 * Fill `dest` from byte `offset` of `version`: the pages it covers, page 1 patched, zeros
 * past the end (`SQLITE_IOERR_SHORT_READ`).
 */
export function readPages(source: SyncPageSource, version: PageVersion, dest: Uint8Array, offset: number): number {
  const { pageSize, commit } = version;
  const end = offset + dest.length;
  const first = Math.floor(offset / pageSize) + 1;
  const last = Math.min(commit, Math.floor((end - 1) / pageSize) + 1);
  for (let pgno = first; pgno <= last; pgno++) {
    let page = source.readPage(version, pgno);
    if (page.length !== pageSize) {
      throw new LtxvfsError('LTXVFS_ERR_CORRUPT', `page ${pgno} has ${page.length} bytes, expected ${pageSize}`);
    }
    const pageStart = (pgno - 1) * pageSize;
    if (pgno === 1 && offset < DB_HEADER_SIZE) page = patchPage1(page, version);
    if (pageStart === offset && dest.length === pageSize) {
      dest.set(page);
    } else {
      const from = Math.max(offset, pageStart);
      const to = Math.min(end, pageStart + pageSize);
      dest.set(page.subarray(from - pageStart, to - pageStart), from - offset);
    }
  }
  const fileSize = commit * pageSize;
  if (end > fileSize) {
    dest.fill(0, Math.max(0, fileSize - offset));
    return VFS.SQLITE_IOERR_SHORT_READ;
  }
  return VFS.SQLITE_OK;
}

/**
 * The database size in pages a transaction commits: the size in the header of the page 1
 * it wrote (bytes 28–31) when SQLite would trust it (non-zero, bytes 24–27 equal to
 * 92–95, FORMATS.md §7.1), else the file size. SQLite changes the file size after its
 * commit point (a shrinking commit truncates once the journal is finalized).
 */
export function commitSizeOf(buffer: WriteBuffer): number {
  const page1 = buffer.page(1);
  if (page1 === undefined) return buffer.commit;
  const view = new DataView(page1.buffer, page1.byteOffset, DB_HEADER_SIZE);
  const size = view.getUint32(28);
  return size !== 0 && view.getUint32(24) === view.getUint32(92) ? size : buffer.commit;
}

/** The change counter (bytes 24–27) of the page 1 a transaction wrote, if it wrote one. */
function changeCounterOf(buffer: WriteBuffer): number | undefined {
  const page1 = buffer.page(1);
  if (page1 === undefined) return undefined;
  return new DataView(page1.buffer, page1.byteOffset, DB_HEADER_SIZE).getUint32(24);
}
