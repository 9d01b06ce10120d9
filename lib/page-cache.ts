/**
 * PageCache: decompressed pages keyed by *frame* (LTX file + position in its page
 * index), not by pgno, so a cached page stays valid for every version that points at
 * the same frame and can never be served for a version that does not (DESIGN.md read
 * path 4). Bounded in bytes with quick-lru.
 */
import QuickLRU from 'quick-lru';
import type { FrameRef } from './page-index.js';

/** Counters of a {@link PageCache}. */
export interface PageCacheStats {
  /** Lookups that found the page. */
  hits: number;
  /** Lookups that did not. */
  misses: number;
  /** Bytes of page data held now. */
  bytes: number;
  /** Pages evicted so far. */
  evictions: number;
}

/** Default cache size: 64 MiB of decompressed pages. */
export const DEFAULT_CACHE_SIZE_BYTES = 64 * 1024 * 1024;

/** Key of a frame: file id in the high bits, entry number in the low 32 (safe below 2^21 files a process). */
function frameKey(ref: FrameRef): number {
  return ref.file.id * 0x1_0000_0000 + ref.entry;
}

/**
 * quick-lru keeps up to 2 × maxSize − 1 items, so half the pages that fit (at least one,
 * for a cache of one page or more).
 */
function itemBound(maxBytes: number, pageBytes: number): number {
  return Math.max(1, Math.floor(maxBytes / pageBytes / 2));
}

/** A byte-bounded LRU of decompressed pages. */
export class PageCache {
  readonly #lru: QuickLRU<number, Uint8Array>;
  readonly #maxBytes: number;
  /** Largest page seen (or the hint): the item bound assumes every page is this big. */
  #pageBytes: number;
  #bytes = 0;
  #hits = 0;
  #misses = 0;
  #evictions = 0;

  /**
   * @param maxBytes upper bound on the bytes of page data held (≥ 0; 0 disables caching).
   *   quick-lru keeps between maxSize and 2 × maxSize items, so the item bound is set to
   *   half the pages that fit, and the byte count is tracked exactly.
   * @param pageSizeHint expected page size in bytes, to turn `maxBytes` into an item bound.
   */
  constructor(maxBytes: number, pageSizeHint = 4096) {
    if (!Number.isFinite(maxBytes) || maxBytes < 0) {
      throw new RangeError(`cache size must be a non-negative number of bytes, got ${maxBytes}`);
    }
    this.#maxBytes = maxBytes;
    this.#pageBytes = pageSizeHint;
    this.#lru = new QuickLRU<number, Uint8Array>({
      maxSize: itemBound(maxBytes, pageSizeHint),
      onEviction: (_key, page) => {
        this.#bytes -= page.byteLength;
        this.#evictions++;
      },
    });
  }

  /** The cached page of `ref`, counting a hit or a miss. */
  get(ref: FrameRef): Uint8Array | undefined {
    const page = this.#lru.get(frameKey(ref));
    if (page === undefined) this.#misses++;
    else this.#hits++;
    return page;
  }

  /** True if `ref` is cached (no hit/miss counted, recency unchanged). */
  has(ref: FrameRef): boolean {
    return this.#lru.has(frameKey(ref));
  }

  /**
   * Cache the decompressed page of `ref` (dropped if caching is off or the page alone
   * exceeds the cache size). A frame's page never changes, so a frame already cached is
   * left as it is.
   */
  set(ref: FrameRef, page: Uint8Array): void {
    if (page.byteLength > this.#maxBytes) return;
    const key = frameKey(ref);
    if (this.#lru.has(key)) return;
    if (page.byteLength > this.#pageBytes) {
      // Pages larger than the hint (the replica's page size is known only after the cache
      // is made): shrink the item bound so the byte bound still holds.
      this.#pageBytes = page.byteLength;
      this.#lru.resize(itemBound(this.#maxBytes, page.byteLength));
    }
    this.#bytes += page.byteLength;
    this.#lru.set(key, page);
  }

  /** Drop everything. */
  clear(): void {
    this.#lru.clear();
    this.#bytes = 0;
  }

  /** Counters since creation. */
  stats(): PageCacheStats {
    return { hits: this.#hits, misses: this.#misses, bytes: this.#bytes, evictions: this.#evictions };
  }
}
