/**
 * The page caches (docs/architecture.md read path 4), one concept a file:
 * - `page-cache.ts`: {@link PageCache}, decompressed pages in memory by frame, a
 *   byte-bounded LRU in slabs it owns;
 * - `disk-cache.ts`: {@link DiskCache}, pages and LTX page indexes on local disk
 *   (`cacheDir`) that survive restarts, shared by processes — the overview of the disk tier;
 * - `disk-entry.ts`: what a disk entry is: identities, layout, bytes, checks;
 * - `disk-store.ts`: the cache directory: synchronous reads, atomic queued writes, eviction;
 * - `verified-files.ts`: the disk record of LTX files that matched their file checksum;
 * - `tiered-page-cache.ts`: {@link TieredPageCache}, memory and disk together.
 *
 * The rest of lib/ imports the caches from here.
 */
export { DEFAULT_CACHE_SIZE_BYTES, PageCache, type PageCacheStats } from './page-cache.js';
export { DiskCache } from './disk-cache.js';
export {
  DEFAULT_DISK_CACHE_SIZE_BYTES, TOUCH_AFTER_MS, type DiskCacheMessage, type DiskCacheOptions, type DiskCacheScan, type DiskCacheStats,
} from './disk-store.js';
export { TieredPageCache } from './tiered-page-cache.js';
