/**
 * What an engine adapter (vfs/) needs from a replica: immutable versions of the
 * database and their pages. The VFS pins a version when SQLite takes a SHARED lock and
 * releases it on unlock (docs/architecture.md, read path 6), so one read transaction sees one
 * version however the replica moves meanwhile.
 */

export type { PageVersion } from '../replica/page-version.js';
import type { PageVersion } from '../replica/page-version.js';

/** A source of database pages served to SQLite. */
export interface PageSource {
  /** Pin the newest version (called at SHARED lock). Every `acquire` is paired with one `release`. */
  acquire(): PageVersion;
  /** Unpin a version (called at unlock to NONE). */
  release(version: PageVersion): void;
  /**
   * The decompressed page `pgno` (1-based, ≤ `version.commit`) of `version`, exactly
   * `pageSize` bytes; the lock page (docs/formats.md §7.2) reads as zeros. Returns the bytes
   * synchronously when cached, a Promise otherwise. The caller must not modify them.
   * @throws LtxvfsError `LTXVFS_ERR_STORAGE` (I/O), `LTXVFS_ERR_CORRUPT` / `LTXVFS_ERR_CHECKSUM` (bad frame).
   */
  readPage(version: PageVersion, pgno: number): Uint8Array | Promise<Uint8Array>;
  /**
   * Copy page `pgno` of `version` into `dst` (exactly `pageSize` bytes) if the source has
   * it at hand — a memory-cache hit — and say whether it did; on false nothing is
   * written and the caller uses {@link readPage}. The hot path of scans: no array per
   * page read. Optional: sources without it are read through `readPage` only.
   */
  readPageInto?(version: PageVersion, pgno: number, dst: Uint8Array): boolean;
}

/**
 * Where an engine adapter ships the transactions of a writable database (lib/write/writer.ts
 * behind a connection's view). All three calls come from the VFS: `reserve` at SQLite's
 * RESERVED lock, `commit` at the commit point, `unreserve` when the lock drops.
 */
export interface PageSink {
  /**
   * Allow this connection to write (SQLite takes RESERVED).
   * @throws LtxvfsError with `sqliteCode`: SQLITE_READONLY without the lease or on a
   *   time-travel view, SQLITE_BUSY while another connection writes.
   */
  reserve(): void | Promise<void>;
  /** The connection is done writing (committed or rolled back). */
  unreserve(): void;
  /**
   * Ship a transaction; resolves once it is durable in the replica, or with write-behind
   * once it is staged (then answered at once, without a Promise, when it needed no wait).
   * @param base the version the transaction read (pinned at SHARED).
   * @param pages new contents by pgno (whole pages).
   * @param commit database size in pages after the transaction.
   * @param pageSize page size in bytes.
   * @returns the version after it, pinned for the caller (released like an acquired one).
   * @throws LtxvfsError with `sqliteCode` SQLITE_BUSY on a conflict or a lost lease; storage errors.
   */
  commit(base: PageVersion, pages: ReadonlyMap<number, Uint8Array>, commit: number, pageSize: number): PageVersion | Promise<PageVersion>;
}

/** A source whose databases can also be written. */
export interface WritablePageSource extends PageSource {
  /** The sink, or undefined when this source is read-only. */
  readonly sink: PageSink | undefined;
}
