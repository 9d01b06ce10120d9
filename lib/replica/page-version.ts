/**
 * The engine-facing face of one database version: what vfs/ and the page bridge see of a
 * {@link PageIndex} (page-index.ts implements it). Here, beside the page index, so the
 * replica layer does not import the read path (lib/read/page-source.ts re-exports it).
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
