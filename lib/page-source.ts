/**
 * What an engine adapter (vfs/) needs from a replica: immutable versions of the
 * database and their pages. The VFS pins a version when SQLite takes a SHARED lock and
 * releases it on unlock (DESIGN.md, read path 6), so one read transaction sees one
 * version however the replica moves meanwhile.
 */

/** One immutable state of the database (a TXID of the replica). */
export interface PageVersion {
  /** The TXID this version is at (the max TXID of the last applied LTX file). */
  readonly txid: number;
  /** Page size in bytes (512…65536). */
  readonly pageSize: number;
  /** Database size in pages (the LTX `commit` of the last applied file). */
  readonly commit: number;
  /** Timestamp of the last applied LTX file, ms since the Unix epoch. */
  readonly timestamp: number;
}

/** A source of database pages served to SQLite. */
export interface PageSource {
  /** Pin the newest version (called at SHARED lock). Every `acquire` is paired with one `release`. */
  acquire(): PageVersion;
  /** Unpin a version (called at unlock to NONE). */
  release(version: PageVersion): void;
  /**
   * The decompressed page `pgno` (1-based, ≤ `version.commit`) of `version`, exactly
   * `pageSize` bytes; the lock page (FORMATS.md §7.2) reads as zeros. Returns the bytes
   * synchronously when cached, a Promise otherwise. The caller must not modify them.
   * @throws LtxvfsError `LTXVFS_ERR_STORAGE` (I/O), `LTXVFS_ERR_CORRUPT` / `LTXVFS_ERR_CHECKSUM` (bad frame).
   */
  readPage(version: PageVersion, pgno: number): Uint8Array | Promise<Uint8Array>;
}
