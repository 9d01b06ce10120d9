/**
 * The hydrated database file read in place by the thread that runs SQLite (the worker
 * engine): once the main thread's hydrator (lib/hydrate/) has completed a pass, a page of
 * a version at the TXID the file holds is read with `fs.readSync` straight into SQLite's
 * buffer — no page-bridge message, no copy through the local page cache.
 *
 * The file is kept current by the hydrator, which publishes the TXID it holds and an
 * epoch that is odd while a pass writes (lib/hydrate/publication.ts). A read is served
 * here only when the epoch is even, the published TXID is the version's, and the epoch is
 * the same after the read; anything else — hydration not complete, a pass catching up
 * with a newer version, a connection on an older version or a past state (time travel) —
 * answers false and the page comes through the bridge as before.
 *
 * Scans: from the third consecutive page on, one `readSync` reads the next
 * {@link READ_AHEAD_PAGES} pages into a buffer of this thread, checked the same way; its
 * pages are the TXID's whatever the file does later, so they serve that version's reads
 * until the run breaks. A scan then costs one system call per 32 pages, not one per page.
 */
import { closeSync, openSync, readSync } from 'node:fs';
import type { PageVersion } from '../../lib/read/page-source.js';
import { HydrationPublication } from '../../lib/hydrate/publication.js';

/** Where the hydrated file is and its publication's buffer (from `Hydrator.path` and `Hydrator.publication.buffer`). */
export interface HydratedFileSpec {
  path: string;
  publication: SharedArrayBuffer;
}

/** Pages one read-ahead of a sequential run reads at once (128 KiB of 4 KiB pages). */
export const READ_AHEAD_PAGES = 32;

/** A hydrated file opened read-only in this thread. */
export class HydratedFile {
  readonly path: string;
  /** Pages served from the file. */
  reads = 0;
  /** System calls made (single pages and read-aheads). */
  syscalls = 0;
  readonly #publication: HydrationPublication;
  #fd: number;
  /** Pages read ahead: `#aheadCount` pages from `#aheadFirst`, of TXID `#aheadTxid` (0: none). */
  #ahead = new Uint8Array(0);
  #aheadFirst = 0;
  #aheadCount = 0;
  #aheadTxid = 0;
  /** Last page served, and how many in a row continued the one before. */
  #last = -2;
  #run = 0;

  /**
   * Open `spec.path` read-only.
   * @throws the `fs` error when it cannot be opened (the caller then goes without it), RangeError for a short publication buffer.
   */
  constructor(spec: HydratedFileSpec) {
    this.path = spec.path;
    this.#publication = new HydrationPublication(spec.publication);
    this.#fd = openSync(spec.path, 'r');
  }

  /**
   * Read page `pgno` of `version` into `dst` (exactly one page) if the file holds that
   * version now (see the top of this module) and say whether it did. On false `dst` may
   * hold anything: the caller fills it another way. Never throws.
   */
  readInto(version: PageVersion, pgno: number, dst: Uint8Array): boolean {
    if (this.#fd < 0) return false;
    const size = dst.length;
    this.#run = pgno === this.#last + 1 ? this.#run + 1 : 0;
    this.#last = pgno;
    const at = pgno - this.#aheadFirst;
    if (this.#aheadTxid === version.txid && at >= 0 && at < this.#aheadCount && this.#ahead.length === this.#aheadCount * size) {
      dst.set(this.#ahead.subarray(at * size, (at + 1) * size));
      this.reads++;
      return true;
    }
    if (this.#run >= 2 && pgno + READ_AHEAD_PAGES - 1 <= version.commit && this.#readAhead(version, pgno, size)) {
      dst.set(this.#ahead.subarray(0, size));
      this.reads++;
      return true;
    }
    if (!this.#read(version, dst, (pgno - 1) * size)) return false;
    this.reads++;
    return true;
  }

  /** Fill the read-ahead buffer with the pages from `pgno` on, if the file holds `version`. */
  #readAhead(version: PageVersion, pgno: number, size: number): boolean {
    if (this.#ahead.length !== READ_AHEAD_PAGES * size) this.#ahead = new Uint8Array(READ_AHEAD_PAGES * size);
    this.#aheadTxid = 0;
    if (!this.#read(version, this.#ahead, (pgno - 1) * size)) return false;
    this.#aheadFirst = pgno;
    this.#aheadCount = READ_AHEAD_PAGES;
    this.#aheadTxid = version.txid;
    return true;
  }

  /** Fill `dst` from byte `position` of the file if it holds `version`'s TXID across the read (the seqlock). */
  #read(version: PageVersion, dst: Uint8Array, position: number): boolean {
    const publication = this.#publication;
    const epoch = publication.epoch();
    if ((epoch & 1n) === 1n || publication.txid() !== version.txid) return false;
    let n: number;
    try {
      this.syscalls++;
      n = readSync(this.#fd, dst, 0, dst.length, position);
    } catch {
      return false;
    }
    return n === dst.length && publication.epoch() === epoch;
  }

  /** Close the file (idempotent); later reads answer false. */
  close(): void {
    if (this.#fd < 0) return;
    try {
      closeSync(this.#fd);
    } catch {
      // Already closed.
    }
    this.#fd = -1;
    this.#aheadTxid = 0;
  }
}
