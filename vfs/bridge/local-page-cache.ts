/**
 * The page cache of the thread that runs SQLite, in front of the page bridge: a hit
 * never crosses threads. Keyed by page number, so it holds pages of one version at a
 * time; the bridge client drops the pages that differ whenever its connection moves to
 * another version (lib/bridge/version-diff.ts), and everything when it cannot tell.
 *
 * Bounded in bytes with two generations (the scheme of quick-lru; lib/cache/page-cache.ts is an
 * exact LRU in slabs instead, which a thread-local cache of a few hot pages does not need):
 * pages go into the young generation; when it reaches half the budget it becomes the old
 * one and the previous old one is dropped; a hit in the old generation moves the page
 * back into the young one. A hit in the young generation costs one `Map.get`. It holds at
 * least half its budget of the most recently used pages and never more than the budget.
 */
export class LocalPageCache {
  readonly #halfBytes: number;
  #young = new Map<number, Uint8Array>();
  #old = new Map<number, Uint8Array>();
  #youngBytes = 0;
  #oldBytes = 0;
  /** Reads served. */
  hits = 0;
  /** Reads not found. */
  misses = 0;

  /** @param maxBytes the budget in bytes (0 disables the cache). */
  constructor(maxBytes: number) {
    this.#halfBytes = Math.max(0, Math.floor(maxBytes / 2));
  }

  /** Bytes of pages held now. */
  get bytes(): number {
    return this.#youngBytes + this.#oldBytes;
  }

  /** Pages held now. */
  get size(): number {
    return this.#young.size + this.#old.size;
  }

  /** The page, if cached (the caller must not modify it). */
  get(pgno: number): Uint8Array | undefined {
    const young = this.#young.get(pgno);
    if (young !== undefined) {
      this.hits++;
      return young;
    }
    const old = this.#old.get(pgno);
    if (old === undefined) {
      this.misses++;
      return undefined;
    }
    this.hits++;
    this.#old.delete(pgno);
    this.#oldBytes -= old.length;
    this.#insert(pgno, old);
    return old;
  }

  /** Keep `page` (owned by the cache from now on) as page `pgno`. */
  set(pgno: number, page: Uint8Array): void {
    if (this.#halfBytes === 0) return;
    this.delete(pgno);
    this.#insert(pgno, page);
  }

  /** Drop page `pgno`. */
  delete(pgno: number): void {
    const young = this.#young.get(pgno);
    if (young !== undefined) {
      this.#young.delete(pgno);
      this.#youngBytes -= young.length;
    }
    const old = this.#old.get(pgno);
    if (old !== undefined) {
      this.#old.delete(pgno);
      this.#oldBytes -= old.length;
    }
  }

  /** Drop every page. */
  clear(): void {
    this.#young = new Map();
    this.#old = new Map();
    this.#youngBytes = 0;
    this.#oldBytes = 0;
  }

  #insert(pgno: number, page: Uint8Array): void {
    this.#young.set(pgno, page);
    this.#youngBytes += page.length;
    if (this.#youngBytes >= this.#halfBytes) {
      this.#old = this.#young;
      this.#oldBytes = this.#youngBytes;
      this.#young = new Map();
      this.#youngBytes = 0;
    }
  }
}
