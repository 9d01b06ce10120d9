/**
 * When the poller's timer polls next (issue 15 item 6: idle readers cost nothing). A
 * reader with queries polls every poll interval, as the Litestream VFS does: the 1 s
 * freshness. Once no query has started for {@link IDLE_AFTER_POLLS} intervals, the delay
 * doubles after every quiet poll, up to a ceiling (`idlePollMaxMs`, default
 * {@link DEFAULT_IDLE_POLL_MAX_MS}). A poll lists two levels (two LIST requests on S3), so
 * with the defaults an idle reader makes, in its first idle hour, 10 polls at 1 s, 8 while
 * the delay grows 2 s … 256 s, and 10 at 300 s: 28 polls, 56 LISTs; then 12 polls, 24 LISTs
 * an hour. Idleness costs nothing in freshness: a query that starts after the interval
 * has passed polls first (`Poller.beforeTransaction`), and brings the timer back to the
 * interval. A failed poll is retried after one interval, idle or not, so an outage is
 * noticed within the staleness bound. These are one process's counts: processes sharing a
 * `cacheDir` share listings (lib/read/shared-listing.ts), so N busy ones make about one
 * process's LISTs between them. `npm run bench` counts the idle hour whole, on a virtual
 * clock (bench/service-child.ts `poll`).
 */
import { LtxvfsError } from '../../ltx/errors.js';

/** Intervals without a query after which the timer starts to back off. */
export const IDLE_AFTER_POLLS = 10;

/** Default ceiling of an idle reader's delay between polls, ms: 5 minutes (see the module comment for the hourly count). */
export const DEFAULT_IDLE_POLL_MAX_MS = 300_000;

/**
 * Runs `run` after `ms` milliseconds; returns a function that cancels it. The default
 * ({@link timerSchedule}) is an unref'd `setTimeout`; tests pass one that runs on an
 * injected clock (and can await `run`).
 */
export type PollSchedule = (run: () => Promise<void>, ms: number) => () => void;

/** The real timer: unref'd, so polling never keeps the process alive. */
export const timerSchedule: PollSchedule = (run, ms) => {
  const timer = setTimeout(() => void run(), ms);
  timer.unref();
  return () => clearTimeout(timer);
};

/** The timer's delay policy of one poller. */
export class PollBackoff {
  readonly intervalMs: number;
  readonly maxMs: number;
  #delay: number;

  /**
   * @param intervalMs the poll interval (> 0).
   * @param maxMs the idle ceiling; at or below `intervalMs`, the timer never backs off.
   * @throws LtxvfsError `LTXVFS_ERR_USAGE` naming `idlePollMaxMs` when `maxMs` is not a
   *   non-negative finite number.
   */
  constructor(intervalMs: number, maxMs: number = DEFAULT_IDLE_POLL_MAX_MS) {
    if (!Number.isFinite(maxMs) || maxMs < 0) {
      throw new LtxvfsError('LTXVFS_ERR_USAGE', `poller: option idlePollMaxMs ${String(maxMs)} is not a non-negative number of ms`, { key: 'idlePollMaxMs' });
    }
    this.intervalMs = intervalMs;
    this.maxMs = Math.max(intervalMs, maxMs);
    this.#delay = intervalMs;
  }

  /** The delay the timer waits now, ms. */
  get delayMs(): number {
    return this.#delay;
  }

  /**
   * The delay before the next poll, after a poll that `failed` or not, when the last query
   * started `idleForMs` ago: the interval while queries come or polls fail, else twice the
   * last delay, at most the ceiling.
   */
  next(idleForMs: number, failed: boolean): number {
    const busy = idleForMs < IDLE_AFTER_POLLS * this.intervalMs;
    this.#delay = failed || busy ? this.intervalMs : Math.min(this.maxMs, this.#delay * 2);
    return this.#delay;
  }

  /** Back to the interval (a query started). */
  reset(): void {
    this.#delay = this.intervalMs;
  }
}
