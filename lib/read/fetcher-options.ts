/**
 * The options of the fetcher (lib/read/fetcher.ts) and their defaults, with the reasons for
 * them; what a background prefetch reports.
 */
import type { PrefetchOptions } from './prefetch.js';
import type { FetchQueueOptions } from './fetch-queue.js';
import type { VerifierOptions } from './verifier.js';

/** Options of the `Fetcher` (lib/read/fetcher.ts). */
export interface FetcherOptions extends PrefetchOptions, VerifierOptions, FetchQueueOptions {
  /**
   * Bytes of LTX frames one sequential scan may have in flight ahead of the frame it is at
   * (four windows of a quarter of it). Default {@link DEFAULT_READAHEAD_BYTES} over remote
   * storage, {@link LOCAL_READAHEAD_BYTES} over a directory, and never more than half of
   * `cacheSizeBytes`. The decoded pages landed ahead of the scan's last miss are bounded by
   * the same number of bytes: pages further ahead hide no round trip, and a range query that
   * stops early would never use them (lib/read/fetcher.ts).
   */
  maxReadaheadBytes?: number;
  /** Bytes of the memory page cache (bounds the read-ahead). Default 64 MiB. */
  cacheSizeBytes?: number;
  /**
   * The first background read (the warm-up's, or the verification's of a page served at
   * open) waits for the first query's first page read, or this long without one, ms: the
   * fetch queue's `firstQueryDelayMs`. Default {@link DEFAULT_WARMUP_DELAY_MS}.
   */
  warmupDelayMs?: number;
  /**
   * LTX files up to this many bytes are read whole and verified against their file
   * checksum before any of their pages is served; larger ones are verified in the
   * background as they are used (lib/read/verifier.ts). Default 2 MiB (`DEFAULT_WHOLE_FILE_BYTES` of lib/replica/ltx-loader.ts).
   */
  wholeFileBytes?: number;
}

/** What a {@link Fetcher.prefetch} did. */
export interface PrefetchOutcome {
  /** Pages its reads brought into the cache. */
  pages: number;
  /** Pages whose range reads failed. */
  failures: number;
  /** The reader closed first: reads not sent yet were dropped, and nothing more should be asked. */
  cancelled?: boolean;
}

/** Default read-ahead budget of one scan: 32 MiB in flight (four 8 MiB windows; see the module comment). */
export const DEFAULT_READAHEAD_BYTES = 32 * 1024 * 1024;

/**
 * Default read-ahead budget over a store whose requests cost microseconds (a directory,
 * `capabilities.latency` `'local'`): 4 MiB (four 1 MiB windows). Depth hides round trips,
 * and a directory has none to hide: a cold scan of a 256 MiB replica took the same time with
 * 4 MiB as with 32 MiB (989–1,121 ms against 994–1,230 ms, alternating, 2026-12-07), and
 * `iterate()` over it peaked with 35 MiB fewer receive buffers (ArrayBuffers 69 against 105 MiB).
 */
export const LOCAL_READAHEAD_BYTES = 4 * 1024 * 1024;

/**
 * Default largest window of the fetcher, bytes (its `maxWindowBytes`; lib/read/prefetch.ts
 * has 4 MiB for windows on their own): 8 MiB, a quarter of the default read-ahead budget.
 */
export const DEFAULT_SCAN_WINDOW_BYTES = 8 * 1024 * 1024;

/** Default wait of the warm-up for a query to go first, ms. */
export const DEFAULT_WARMUP_DELAY_MS = 250;
