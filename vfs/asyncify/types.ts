/**
 * The public types of the in-process engine's VFS (vfs/asyncify/vfs.ts, which exports them
 * too): its options and counters, the PRAGMA handler, and the source that may hold a read
 * transaction back.
 */
import type { PageSource } from '../../lib/read/page-source.js';

/**
 * Answers a `PRAGMA` run on a replica database (`SQLITE_FCNTL_PRAGMA`): `name` in lower
 * case, `value` the argument or `null`, `database` the name the database was added under.
 * Return a string to make it the PRAGMA's one-row result, `null` for a PRAGMA that
 * succeeds with no result, `undefined` to let SQLite handle it. A throw becomes the
 * PRAGMA's error message.
 */
export type PragmaHandler = (name: string, value: string | null, database: string) => PragmaResult | Promise<PragmaResult>;

/** What a {@link PragmaHandler} answers: a one-row text result, `null` (OK, no rows) or `undefined` (not ours). */
export type PragmaResult = string | null | undefined;

/**
 * A {@link PageSource} that may hold a read transaction back before it pins a version:
 * `beforeTransaction` is called at `xLock(SHARED)`, and a promise it returns (which must
 * not reject) is waited for before `acquire`. `openDatabase` gives the replica poller's
 * check (`Poller.beforeTransaction`, lib/read/poller.ts): a due poll runs first.
 */
export interface TransactionStartSource extends PageSource {
  beforeTransaction?(): Promise<void> | undefined;
}

/** Options of {@link LtxAsyncVFS}. */
export interface LtxAsyncVFSOptions {
  /** The VFS name to register and open databases with (default `'ltxvfs'`). */
  name?: string;
  /** Handles `PRAGMA`s on replica databases (the `litestream_*` PRAGMAs plug in here). */
  pragmaHandler?: PragmaHandler;
  /**
   * Complete reads served entirely from cached pages without an Asyncify unwind
   * (default `true`). `false` makes every `xRead` return a Promise: only for measuring
   * what the synchronous path saves.
   */
  syncCacheHits?: boolean;
  /**
   * Longest stretch of reads served synchronously before one yields to the event loop, ms
   * (default {@link DEFAULT_YIELD_EVERY_MS}; `Infinity` never yields). A statement whose
   * pages are all cached never suspends SQLite, so without this a long scan holds the
   * event loop for its whole run (vfs/asyncify/vfs.ts, "Yielding").
   */
  yieldEveryMs?: number;
  /** The clock of `yieldEveryMs`, ms (default `performance.now`; tests inject one). */
  now?: () => number;
}

/**
 * Default of {@link LtxAsyncVFSOptions.yieldEveryMs}: 20 ms. Measured in process on a
 * 200 MiB table (2026-12-07, alternating processes against `Infinity`):
 * - A warm scan (~450 ms): within noise at 20 ms; 5–8% longer at 10 ms, 10–20% at 2 ms.
 *   Each yield costs 0.2–0.6 ms.
 * - 10,000 uniform lookups in one transaction: medians 2–4% lower at 20 ms, none at 50 ms.
 * At 20 ms other flows' queries and timers wait about that long at most; 50 ms suits
 * throughput-bound batch work.
 */
export const DEFAULT_YIELD_EVERY_MS = 20;

/** Counters of {@link LtxAsyncVFS}, for tests and benchmarks. */
export interface LtxAsyncVFSCounters {
  /** `xRead` calls (all files). */
  reads: number;
  /** `xRead` calls that returned a Promise, i.e. suspended SQLite (one Asyncify unwind each). */
  suspendedReads: number;
  /** Reads served from cache that suspended SQLite anyway, to give the event loop a turn (`yieldEveryMs`). */
  yields: number;
}

/** The default VFS name. */
export const DEFAULT_VFS_NAME = 'ltxvfs';
