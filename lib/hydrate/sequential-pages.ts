/**
 * Sequential reads of a hydrated database file (lib/hydrate/), served from a buffer: from
 * the third consecutive page on, one `readSync` brings the next {@link READ_AHEAD_PAGES}
 * pages, so a scan costs one system call per 32 pages, not one per page. Used by the thread
 * that runs SQLite on either engine: the worker's `HydratedFile` (vfs/bridge/hydrated-file.ts)
 * and, in process, the hydrator's own `readPageInto`.
 *
 * Whether a buffered page may still be served is the caller's to say: `tag` names the state
 * of the file the buffer was filled in (the TXID the worker saw published; in process the
 * hydrator's pass or index), and a buffer filled under another tag is never served. The
 * caller checks the page itself too, as for a single read.
 */

/** Pages one read-ahead brings (128 KiB of 4 KiB pages). */
export const READ_AHEAD_PAGES = 32;

/** The read-ahead buffer of one reader of one file. */
export class SequentialPages {
  #buffer = new Uint8Array(0);
  /** The buffer holds `#count` pages from `#first`, read under `#tag` (0 pages: empty). */
  #first = 0;
  #count = 0;
  #tag: unknown;
  /** Last page asked for, and how many in a row continued the one before. */
  #last = -2;
  #run = 0;

  /**
   * Page `pgno` (its size `dst.length` bytes) into `dst` from the buffer: when the buffer
   * holds it under `tag`, or, from the third consecutive page on, after `fill(buffer,
   * first)` read {@link READ_AHEAD_PAGES} pages from `pgno` into it (only when they end at
   * or before page `commit`). False: the caller reads the page itself. Never throws unless
   * `fill` does.
   */
  read(pgno: number, dst: Uint8Array, commit: number, tag: unknown, fill: (buffer: Uint8Array, first: number) => boolean): boolean {
    const size = dst.length;
    this.#run = pgno === this.#last + 1 ? this.#run + 1 : 0;
    this.#last = pgno;
    let at = pgno - this.#first;
    if (this.#tag !== tag || at < 0 || at >= this.#count || this.#buffer.length !== this.#count * size) {
      if (this.#run < 2 || pgno + READ_AHEAD_PAGES - 1 > commit) return false;
      if (this.#buffer.length !== READ_AHEAD_PAGES * size) this.#buffer = new Uint8Array(READ_AHEAD_PAGES * size);
      this.clear();
      if (!fill(this.#buffer, pgno)) return false;
      this.#first = pgno;
      this.#count = READ_AHEAD_PAGES;
      this.#tag = tag;
      at = 0;
    }
    dst.set(this.#buffer.subarray(at * size, (at + 1) * size));
    return true;
  }

  /** Forget the buffered pages. */
  clear(): void {
    this.#count = 0;
    this.#tag = undefined;
  }
}
