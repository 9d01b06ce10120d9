/**
 * The database checksum of a state built by applying LTX files (docs/formats.md §2.3), kept
 * from per-page checksums as files are applied: pages a file writes replace their old
 * checksums, pages beyond its commit drop out. LTX files never hold the lock page
 * (§7.2), so it never enters the sum. Used by restore and verify to check post-apply
 * checksums without reading the database back.
 */
import { CHECKSUM_FLAG, pageChecksum } from '../../ltx/checksum.js';

/** Per-page checksums of a database being rebuilt. */
export class DatabaseChecksumTracker {
  readonly #sums = new Map<number, bigint>();
  #commit = 0;

  /** Apply one file: its pages (`pgno`, decompressed `data`), then truncate to `commit` pages. */
  apply(pages: readonly { pgno: number; data: Uint8Array }[], commit: number): void {
    for (const p of pages) this.page(p.pgno, p.data);
    this.truncate(commit);
  }

  /** Page `pgno` of the file being applied is now `data` (its checksum is taken at once: `data` may be reused after). */
  page(pgno: number, data: Uint8Array): void {
    this.#sums.set(pgno, pageChecksum(pgno, data));
  }

  /** The file being applied ends the database at `commit` pages: pages past it drop out. */
  truncate(commit: number): void {
    if (commit < this.#commit) {
      for (const pgno of this.#sums.keys()) if (pgno > commit) this.#sums.delete(pgno);
    }
    this.#commit = commit;
  }

  /** The database checksum now: `CHECKSUM_FLAG | XOR of page checksums`. */
  value(): bigint {
    let sum = 0n;
    for (const v of this.#sums.values()) sum ^= v;
    return sum | CHECKSUM_FLAG;
  }
}
