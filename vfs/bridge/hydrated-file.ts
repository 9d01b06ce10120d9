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
 */
import { closeSync, openSync, readSync } from 'node:fs';
import type { PageVersion } from '../../lib/read/page-source.js';
import { HydrationPublication } from '../../lib/hydrate/publication.js';

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
  readonly #publication: HydrationPublication;
  #fd: number;

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
    const publication = this.#publication;
    const epoch = publication.epoch();
    if ((epoch & 1n) === 1n || publication.txid() !== version.txid) return false;
    const size = dst.length;
    let n: number;
    try {
      n = readSync(this.#fd, dst, 0, size, (pgno - 1) * size);
    } catch {
      return false;
    }
    if (n !== size || publication.epoch() !== epoch) return false;
    this.reads++;
    return true;
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
  }
}
