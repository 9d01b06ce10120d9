/**
 * The pages one write transaction has given the main database file (`xWrite`,
 * `xTruncate`) before its commit point. SQLite writes whole pages at page-aligned
 * offsets to a database file; the buffer holds copies (SQLite reuses its buffers) and
 * the size the file would have.
 */
import { LtxvfsError } from '../../ltx/errors.js';

/** Dirty pages of a transaction, and the file size in pages. */
export class WriteBuffer {
  /** New page contents by pgno. */
  readonly pages = new Map<number, Uint8Array>();
  /** Page size in bytes (0 until known: a new, empty database learns it from the first write). */
  pageSize: number;
  /** File size in pages after the writes and truncations so far. */
  commit: number;

  constructor(pageSize: number, commit: number) {
    this.pageSize = pageSize;
    this.commit = commit;
  }

  /**
   * Take a write of `data` at byte `offset`.
   * @throws LtxvfsError `LTXVFS_ERR_UNSUPPORTED` for a write that is not one whole page.
   */
  write(data: Uint8Array, offset: number): void {
    if (this.pageSize === 0) this.pageSize = data.length;
    if (data.length !== this.pageSize || offset % this.pageSize !== 0) {
      throw new LtxvfsError('LTXVFS_ERR_UNSUPPORTED', `write of ${data.length} bytes at offset ${offset}: only whole pages of ${this.pageSize} bytes are supported`);
    }
    const pgno = offset / this.pageSize + 1;
    this.pages.set(pgno, data.slice());
    if (pgno > this.commit) this.commit = pgno;
  }

  /** Take a truncation to `size` bytes: pages beyond it are dropped. */
  truncate(size: number): void {
    if (this.pageSize === 0) return;
    this.commit = Math.ceil(size / this.pageSize);
    for (const pgno of this.pages.keys()) if (pgno > this.commit) this.pages.delete(pgno);
  }

  /**
   * The database size in pages the transaction commits: the size in the header of the
   * page 1 it wrote (bytes 28–31) when SQLite would trust it (non-zero, bytes 24–27 equal
   * to 92–95, docs/formats.md §7.1), else the file size. They differ when the database shrinks
   * (VACUUM, auto-vacuum): SQLite truncates the file only after its commit point, once the
   * journal is finalized, and that truncation would never be shipped.
   */
  commitSize(): number {
    const page1 = this.pages.get(1);
    if (page1 === undefined) return this.commit;
    const view = new DataView(page1.buffer, page1.byteOffset, 100);
    const size = view.getUint32(28);
    return size !== 0 && view.getUint32(24) === view.getUint32(92) ? size : this.commit;
  }

  /**
   * The file change counter (bytes 24–27) of the page 1 this transaction wrote, if it
   * wrote one. SQLite writes page 1 with the counter incremented at every commit, and
   * writes it back unchanged when it restores a rolled-back transaction's pages.
   */
  changeCounter(): number | undefined {
    const page1 = this.pages.get(1);
    if (page1 === undefined) return undefined;
    return new DataView(page1.buffer, page1.byteOffset, 100).getUint32(24);
  }

  /** The written contents of `pgno`, if this transaction wrote it. */
  page(pgno: number): Uint8Array | undefined {
    return this.pages.get(pgno);
  }
}
