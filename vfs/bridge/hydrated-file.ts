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
 * `READ_AHEAD_PAGES` pages into a buffer of this thread (lib/hydrate/sequential-pages.ts),
 * checked the same way; its pages are the TXID's whatever the file does later, so they
 * serve that version's reads. A scan then costs one system call per 32 pages, not one per page.
 */
import { closeSync, openSync, readSync } from 'node:fs';
import type { PageVersion } from '../../lib/read/page-source.js';
import { HydrationPublication } from '../../lib/hydrate/publication.js';
import { SequentialPages } from '../../lib/hydrate/sequential-pages.js';

/** Where the hydrated file is and its publication's buffer (from `Hydrator.path` and `Hydrator.publication.buffer`). */
export interface HydratedFileSpec {
  path: string;
  publication: SharedArrayBuffer;
}

/** A hydrated file opened read-only in this thread. */
export class HydratedFile {
  readonly path: string;
  /** Pages served from the file. */
  reads = 0;
  /** System calls made (single pages and read-aheads). */
  syscalls = 0;
  readonly #publication: HydrationPublication;
  #fd: number;
  /** Pages read ahead, of the TXID they were read at. */
  readonly #sequential = new SequentialPages();

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
    // Buffered pages are the TXID's whatever the file does later: they serve that TXID's reads.
    const served = this.#sequential.read(pgno, dst, version.commit, version.txid, (buffer, first) => this.#read(version, buffer, (first - 1) * size))
      || this.#read(version, dst, (pgno - 1) * size);
    if (served) this.reads++;
    return served;
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
    this.#sequential.clear();
  }
}
