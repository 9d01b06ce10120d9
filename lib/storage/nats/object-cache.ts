/**
 * Whole objects recently read by a nats:// client, so that the many small range reads the
 * fetcher makes of one LTX file (header, page index, page frames) cost one object store
 * `get` instead of one each: the object store has no ranged read (a `get` streams every
 * 128 KiB chunk of the object). Bounded by bytes, least recently used dropped first; an
 * object larger than the whole bound is returned but not kept. Concurrent loads of one key
 * share a single `get` (single flight). LTX files never change under their name, so an
 * entry stays valid until this client writes or deletes that key ({@link ObjectCache.invalidate}).
 */

/** A cached object: its bytes and its ETag (the object store's digest). */
export interface CachedObject {
  data: Uint8Array;
  etag: string;
}

/** An LRU of whole objects, at most `maxBytes` of data. */
export class ObjectCache {
  private readonly entries = new Map<string, CachedObject>();
  private readonly loading = new Map<string, { promise: Promise<CachedObject>; generation: number }>();
  /** Bumped by every invalidation of a key, so a load that started before it is not kept. */
  private readonly generations = new Map<string, number>();
  private bytes = 0;
  /** Loads that were answered from the cache or joined a load in flight. */
  hits = 0;

  /**
   * @param maxBytes the most bytes of object data kept (0 keeps nothing, but loads in flight are still shared).
   */
  constructor(readonly maxBytes: number) {}

  /** The object under `key`: from the cache, from a load in flight, or from `load()` (kept if it fits). */
  async get(key: string, load: () => Promise<CachedObject>): Promise<CachedObject> {
    const hit = this.entries.get(key);
    if (hit !== undefined) {
      this.entries.delete(key);
      this.entries.set(key, hit);
      this.hits++;
      return hit;
    }
    const inFlight = this.loading.get(key);
    if (inFlight !== undefined) {
      this.hits++;
      return inFlight.promise;
    }
    const generation = this.generations.get(key) ?? 0;
    const promise = load().then((obj) => {
      if ((this.generations.get(key) ?? 0) === generation) this.put(key, obj);
      return obj;
    });
    this.loading.set(key, { promise, generation });
    try {
      return await promise;
    } finally {
      if (this.loading.get(key)?.promise === promise) this.loading.delete(key);
    }
  }

  /** Forget `key` (after this client wrote or deleted it); a load in flight is not kept either. */
  invalidate(key: string): void {
    this.generations.set(key, (this.generations.get(key) ?? 0) + 1);
    this.loading.delete(key);
    this.invalidateEntry(key);
  }

  /** Drop everything. */
  clear(): void {
    this.entries.clear();
    this.loading.clear();
    this.bytes = 0;
  }

  /** Bytes held now. */
  get size(): number {
    return this.bytes;
  }

  private put(key: string, obj: CachedObject): void {
    if (obj.data.byteLength > this.maxBytes) return;
    this.invalidateEntry(key);
    this.entries.set(key, obj);
    this.bytes += obj.data.byteLength;
    for (const [k, v] of this.entries) {
      if (this.bytes <= this.maxBytes) break;
      this.entries.delete(k);
      this.bytes -= v.data.byteLength;
    }
  }

  private invalidateEntry(key: string): void {
    const old = this.entries.get(key);
    if (old === undefined) return;
    this.entries.delete(key);
    this.bytes -= old.data.byteLength;
  }
}
