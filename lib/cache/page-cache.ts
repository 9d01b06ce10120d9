/**
 * PageCache: decompressed pages keyed by *frame* (LTX file + position in its page
 * index), not by pgno, so a cached page stays valid for every version that points at
 * the same frame and can never be served for a version that does not (docs/architecture.md read
 * path 4).
 *
 * Bounded in bytes, least recently used evicted first. The pages live in slots of slabs
 * the cache owns (about 1 MiB each, allocated as it fills, never more than the
 * configured size together); `set` copies a page into a free slot or into the slot of
 * the page it evicts. Evicting a page therefore leaves no garbage behind, and the
 * cache's memory is its configured size at most, whatever the garbage collector does:
 * a cache of separately allocated pages held its evicted pages until the next full
 * collection, which V8 runs only after about 64 MiB more of ArrayBuffers (a scan's peak
 * resident set rose by that much, docs/bench.md). `get` hands out a copy and `copyTo`
 * copies into the caller's buffer, so no caller ever sees a slot change under it.
 */
import type { FrameRef } from '../replica/page-index.js';

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

/** Bytes of one slab of page slots (the last one of a cache may be smaller). */
const SLAB_BYTES = 1024 * 1024;

/** No slot (end of the recency list). */
const NONE = -1;

/**
 * The slots of one LTX file's cached frames: per entry of its page index, slot + 1 (0: not
 * cached), and how many are cached (the table is dropped with its last page). A typed array
 * indexed by entry rather than one map keyed by `id × 2^32 + entry`: such keys are not small
 * integers, so every lookup hashed a heap number and every insertion allocated one (the
 * cache's functions were 14% of a cold `file://` scan's CPU profile, 2026-12-07).
 */
interface FileSlots {
  readonly slots: Int32Array;
  count: number;
}

/** A byte-bounded LRU of decompressed pages, stored in slabs it owns. */
export class PageCache {
  readonly #maxBytes: number;
  /** Bytes of every slot: the size of the pages cached (0 before the first). */
  #pageBytes = 0;
  /** Slots that fit in `maxBytes`. */
  #capacity = 0;
  #slotsPerSlab = 1;
  readonly #slabs: Uint8Array[] = [];
  /** Slots taken so far: slots below this hold a page. */
  #used = 0;
  /** LTX file id → where its cached frames are. */
  readonly #files = new Map<number, FileSlots>();
  /** Pages held. */
  #held = 0;
  /** Per slot: its frame (file id, entry), and its neighbours in the recency list (more recent, less recent). */
  #fileIds = new Int32Array(0);
  #entries = new Int32Array(0);
  #newer = new Int32Array(0);
  #older = new Int32Array(0);
  /** Most and least recently used slots. */
  #newest = NONE;
  #oldest = NONE;
  #hits = 0;
  #misses = 0;
  #evictions = 0;

  /**
   * @param maxBytes upper bound on the bytes of page data held (≥ 0; 0 disables caching):
   *   `floor(maxBytes / pageSize)` pages, the page size being that of the first page cached.
   * @throws RangeError if `maxBytes` is negative, NaN or infinite.
   */
  constructor(maxBytes: number) {
    if (!Number.isFinite(maxBytes) || maxBytes < 0) {
      throw new RangeError(`cache size must be a non-negative number of bytes, got ${maxBytes}`);
    }
    this.#maxBytes = maxBytes;
  }

  /** A copy of the cached page of `ref` (the caller owns it), counting a hit or a miss. */
  get(ref: FrameRef): Uint8Array | undefined {
    const slot = this.#slotOf(ref);
    if (slot === NONE) {
      this.#misses++;
      return undefined;
    }
    this.#hits++;
    this.#touch(slot);
    const at = (slot % this.#slotsPerSlab) * this.#pageBytes;
    return this.#slabs[Math.floor(slot / this.#slotsPerSlab)].slice(at, at + this.#pageBytes);
  }

  /**
   * Copy the cached page of `ref` into `dst` (its length must be the page size) and
   * count a hit; false when not cached (no miss counted: the caller goes on to
   * {@link get} or the fetcher, which count it). No allocation.
   */
  copyTo(ref: FrameRef, dst: Uint8Array): boolean {
    const slot = this.#slotOf(ref);
    if (slot === NONE || dst.length !== this.#pageBytes) return false;
    this.#hits++;
    this.#touch(slot);
    const at = (slot % this.#slotsPerSlab) * this.#pageBytes;
    dst.set(this.#slabs[Math.floor(slot / this.#slotsPerSlab)].subarray(at, at + this.#pageBytes));
    return true;
  }

  /**
   * Mark the cached page of `ref` as just used (no hit counted, no copy): a range read that
   * covers a frame already cached keeps it as fresh as the pages it brings (a scan's
   * interior pages cached at open are not evicted by the scan's own read-ahead before it
   * reaches them). False when not cached.
   */
  touch(ref: FrameRef): boolean {
    const slot = this.#slotOf(ref);
    if (slot === NONE) return false;
    this.#touch(slot);
    return true;
  }

  /** True if `ref` is cached (no hit/miss counted, recency unchanged). */
  has(ref: FrameRef): boolean {
    return this.#slotOf(ref) !== NONE;
  }

  /**
   * Cache a copy of the decompressed page of `ref` (the caller keeps `page`), evicting the
   * least recently used page when full. Dropped if caching is off or the page alone
   * exceeds the cache size. A frame's page never changes, so a frame already cached is
   * left as it is. All pages of a cache have one size (a replica's page size); a page of
   * another size empties the cache and starts it over with slots of that size.
   */
  set(ref: FrameRef, page: Uint8Array): void {
    const size = page.byteLength;
    if (size === 0 || size > this.#maxBytes) return;
    if (size !== this.#pageBytes) this.#resize(size);
    const { file, entry } = ref;
    let slots = this.#files.get(file.id);
    if (slots !== undefined && slots.slots[entry] !== 0) return;
    if (entry < 0 || entry >= file.entries.length) return;
    let slot: number;
    if (this.#used < this.#capacity) {
      slot = this.#takeSlot();
    } else {
      slot = this.#oldest;
      this.#unlink(slot);
      this.#forget(slot);
      this.#evictions++;
    }
    // After the eviction: it may have dropped this very file's table.
    slots = this.#files.get(file.id);
    if (slots === undefined) this.#files.set(file.id, (slots = { slots: new Int32Array(file.entries.length), count: 0 }));
    this.#slabs[Math.floor(slot / this.#slotsPerSlab)].set(page, (slot % this.#slotsPerSlab) * size);
    this.#fileIds[slot] = file.id;
    this.#entries[slot] = entry;
    slots.slots[entry] = slot + 1;
    slots.count++;
    this.#held++;
    this.#pushNewest(slot);
  }

  /** The slot holding `ref`'s page, or NONE. */
  #slotOf(ref: FrameRef): number {
    const slots = this.#files.get(ref.file.id);
    if (slots === undefined) return NONE;
    const entry = ref.entry;
    return entry >= 0 && entry < slots.slots.length ? slots.slots[entry] - 1 : NONE;
  }

  /** Unmap the page of `slot` (being evicted) from its file's table. */
  #forget(slot: number): void {
    const id = this.#fileIds[slot];
    const slots = this.#files.get(id)!;
    slots.slots[this.#entries[slot]] = 0;
    this.#held--;
    if (--slots.count === 0) this.#files.delete(id);
  }

  /** Drop everything, and the slabs with it (their memory goes back at the next collection). */
  clear(): void {
    this.#files.clear();
    this.#held = 0;
    this.#slabs.length = 0;
    this.#used = 0;
    this.#newest = NONE;
    this.#oldest = NONE;
    this.#fileIds = new Int32Array(0);
    this.#entries = new Int32Array(0);
    this.#newer = new Int32Array(0);
    this.#older = new Int32Array(0);
  }

  /** Counters since creation. */
  stats(): PageCacheStats {
    return { hits: this.#hits, misses: this.#misses, bytes: this.#held * this.#pageBytes, evictions: this.#evictions };
  }

  /** Start over with slots of `pageBytes` bytes (the pages held so far count as evicted). */
  #resize(pageBytes: number): void {
    this.#evictions += this.#held;
    this.clear();
    this.#pageBytes = pageBytes;
    this.#capacity = Math.floor(this.#maxBytes / pageBytes);
    this.#slotsPerSlab = Math.max(1, Math.floor(SLAB_BYTES / pageBytes));
  }

  /** The next never-used slot, with its slab and room in the per-slot arrays. */
  #takeSlot(): number {
    const slot = this.#used++;
    if (slot % this.#slotsPerSlab === 0) {
      this.#slabs.push(new Uint8Array(Math.min(this.#slotsPerSlab, this.#capacity - slot) * this.#pageBytes));
    }
    if (slot >= this.#fileIds.length) {
      // Grown by doubling, so a large cache that is never filled costs little.
      const n = Math.min(this.#capacity, Math.max(1024, this.#fileIds.length * 2));
      const fileIds = new Int32Array(n);
      const entries = new Int32Array(n);
      const newer = new Int32Array(n);
      const older = new Int32Array(n);
      fileIds.set(this.#fileIds);
      entries.set(this.#entries);
      newer.set(this.#newer);
      older.set(this.#older);
      this.#fileIds = fileIds;
      this.#entries = entries;
      this.#newer = newer;
      this.#older = older;
    }
    return slot;
  }

  /** Make `slot` the most recently used. */
  #touch(slot: number): void {
    if (slot === this.#newest) return;
    this.#unlink(slot);
    this.#pushNewest(slot);
  }

  #unlink(slot: number): void {
    const newer = this.#newer[slot];
    const older = this.#older[slot];
    if (newer === NONE) this.#newest = older;
    else this.#older[newer] = older;
    if (older === NONE) this.#oldest = newer;
    else this.#newer[older] = newer;
  }

  #pushNewest(slot: number): void {
    this.#newer[slot] = NONE;
    this.#older[slot] = this.#newest;
    if (this.#newest === NONE) this.#oldest = slot;
    else this.#newer[this.#newest] = slot;
    this.#newest = slot;
  }
}
