/**
 * The options and the counters of a {@link ReplicaReader} (lib/read/replica-reader.ts),
 * apart so that the modules that pass options on need not import the reader.
 */
import type { FetcherOptions } from './fetcher.js';
import type { PollerOptions, PollStats } from './poller.js';
import type { DiskCacheStats } from '../cache/disk-store.js';
import type { HydrateOptions, HydrationStats } from '../hydrate/index.js';
import type { VerificationStats } from './verifier.js';

/** Options of `ReplicaReader.open`. */
export interface ReplicaReaderOptions extends FetcherOptions, PollerOptions {
  /** Bytes of decompressed pages kept in memory. Default 64 MiB. */
  cacheSizeBytes?: number;
  /** Expected page size in bytes; opening fails with `LTXVFS_ERR_PAGE_SIZE` if the replica's differs. */
  pageSize?: number;
  /** Open a replica with no LTX files as an empty database (TXID 0) instead of failing: for writers creating one. */
  allowEmpty?: boolean;
  /**
   * LTX files whose header and page index are read at once when a version is built. Default
   * 32: opening a replica of N level-0 files costs about N / 32 waves of round trips (1,000
   * files: ~32 on S3) instead of N / `concurrency`; index reads are small, so many in flight
   * cost little.
   */
  indexConcurrency?: number;
  /**
   * Bytes read from the start of an LTX file read in ranges (one above `wholeFileBytes`),
   * in the same round trip as its tail: the header and the frames that fit, cached
   * decoded — page 1 of a snapshot, which SQLite reads first. Default 16 KiB
   * (lib/replica/ltx-loader.ts `HEAD_BYTES`); 100 reads the header only.
   */
  headBytes?: number;
  /**
   * Directory of the disk tier behind the memory cache (lib/cache/disk-cache.ts): decompressed
   * pages and LTX page indexes that survive restarts and are shared by processes. Default
   * none (memory only).
   */
  cacheDir?: string;
  /** Soft bound on the bytes in `cacheDir` (all replicas using it). Default 512 MiB. */
  cacheDirSizeBytes?: number;
  /**
   * Local file to hydrate the database into in the background (lib/hydrate/); reads are
   * served from it once complete, and it is kept current. Default none.
   */
  hydrate?: string;
  /** Tuning of hydration (range size, concurrency, …). */
  hydrateOptions?: HydrateOptions;
}

/**
 * Counters of a `ReplicaReader`: pages fetched, bytes read, requests, cache hits, misses
 * and bytes, TXID — the fields of the Database API's `DatabaseStats` (lib/sql/types.ts),
 * declared here because the read path does not import the SQL API — and more.
 * `cacheMisses` counts page reads the memory cache did not have (served by the hydrated
 * file, the disk cache, or storage).
 */
export interface ReplicaStats extends PollStats {
  /** Pages decoded from storage. */
  pagesFetched: number;
  /** Bytes received from storage. */
  bytesRead: number;
  /** Storage read requests. */
  readRequests: number;
  /** Page reads served from the page cache. */
  cacheHits: number;
  /** Page reads that went to storage. */
  cacheMisses: number;
  /** Bytes of decompressed pages in the page cache now. */
  cacheBytes: number;
  /** TXID of the newest version known. */
  txid: number;
  /** Page size in bytes. */
  pageSize: number;
  /** Database size in pages at the newest version. */
  commit: number;
  /** Timestamp (ms since the epoch) of the newest applied LTX file. */
  timestamp: number;
  /** Versions pinned by open read transactions now. */
  pinnedVersions: number;
  /**
   * Bytes of the fetcher's receive buffers held now, in flight and idle (lib/read/receive-buffers.ts):
   * within the read-ahead budget plus one window while a scan runs (with the default 64 MiB
   * cache: 40 MiB over remote storage, 5 MiB over a directory); once no transaction is open,
   * one window (8 MiB; 1 MiB over a directory) and what reads still in flight hold. Not in
   * `cacheBytes`.
   */
  receiveBufferBytes: number;
  /** Counters of the disk tier (`cacheDir`), if any. */
  diskCache?: DiskCacheStats;
  /** Hydration figures (`hydrate`), if any. */
  hydration?: HydrationStats;
  /** File checksum verification (lib/read/verifier.ts): files verified, pending, corrupt; its requests and bytes. */
  verification: VerificationStats;
}

