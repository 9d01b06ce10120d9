/**
 * Memory and disk together: the page cache a reader with `cacheDir` uses. Every page
 * goes to both tiers; lookups stay in memory, and the reader asks the disk on a memory
 * miss (lib/read/replica-reader.ts), synchronously.
 */
import type { FrameRef } from '../replica/page-index.js';
import type { DiskCache } from './disk-cache.js';
import { PageCache } from './page-cache.js';

/**
 * A {@link PageCache} whose pages are also written to a {@link DiskCache}: every page the
 * fetcher decodes, the loader reads whole, or the writer ships goes to memory and disk.
 * Lookups stay memory-only here; the reader asks the disk on a memory miss.
 */
export class TieredPageCache extends PageCache {
  /** The disk tier. */
  readonly disk: DiskCache;

  /** @param maxBytes as {@link PageCache}. @param disk the disk tier. @throws RangeError as {@link PageCache}. */
  constructor(maxBytes: number, disk: DiskCache) {
    super(maxBytes);
    this.disk = disk;
  }

  /** Cache a copy of `page` in memory (as {@link PageCache.set}) and on disk (unless already there); the caller keeps `page`. */
  override set(ref: FrameRef, page: Uint8Array): void {
    super.set(ref, page);
    this.disk.putPage(ref, page);
  }
}
