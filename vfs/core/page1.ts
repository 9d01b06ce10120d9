/**
 * Page 1 as SQLite must see it when a VFS serves a replica (docs/architecture.md read path 6,
 * docs/formats.md §7.1). Engine-independent: every engine adapter serves page 1 through
 * {@link patchPage1}.
 *
 * - Bytes 18/19 (write/read version) = 1: a rollback-journal database, even when the
 *   source database ran in WAL mode. The replica's pages already contain every committed
 *   transaction, and SQLite must not look for a `-wal` file or shared memory.
 * - Bytes 24–27 (file change counter) and 92–95 (version-valid-for) = the same 32-bit
 *   value derived from the TXID ({@link changeCounterForTxid}). SQLite compares bytes
 *   24–39 at the start of each read transaction with what it saw last and drops its page
 *   cache when they differ: deriving them from the TXID makes that happen exactly when
 *   the data changed (a WAL-mode source never bumps its own counter; Litestream's VFS uses
 *   random bytes and so drops the cache at every transaction, docs/formats.md §4.5).
 * - Bytes 28–31 (database size in pages) = the version's `commit`. Because 24–27 equal
 *   92–95, SQLite trusts this size (docs/formats.md §7.1), which agrees with `xFileSize`.
 */
import type { PageVersion } from '../../lib/read/page-source.js';

/** Size of the database header at the start of page 1. */
export const DB_HEADER_SIZE = 100;

/**
 * The file change counter ltxvfs serves for a TXID: the TXID modulo 2³², so two
 * versions share a counter only when their TXIDs are a multiple of 2³² apart.
 */
export function changeCounterForTxid(txid: number): number {
  return txid % 0x1_0000_0000;
}

/**
 * A copy of page 1 (`page1`, at least the 100-byte header; the full page normally) with
 * the header fields patched for `version` as described at the top of this module. The
 * input is never modified: it may be a cached page shared with other readers.
 */
export function patchPage1(page1: Uint8Array, version: PageVersion): Uint8Array {
  const out = page1.slice();
  patchPage1InPlace(out, version);
  return out;
}

/**
 * {@link patchPage1} on `page1` itself: for a copy the caller owns (a VFS's scratch
 * page), so that serving page 1 allocates nothing.
 */
export function patchPage1InPlace(page1: Uint8Array, version: PageVersion): void {
  const view = new DataView(page1.buffer, page1.byteOffset, page1.byteLength);
  const counter = changeCounterForTxid(version.txid);
  page1[18] = 1;
  page1[19] = 1;
  view.setUint32(24, counter);
  view.setUint32(28, version.commit);
  view.setUint32(92, counter);
}
