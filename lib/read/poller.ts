/**
 * Poller: keeps a reader about one poll interval behind its replica (docs/architecture.md
 * read path 7, docs/formats.md §4.6). Each poll is one catch-up (lib/read/catch-up.ts:
 * list levels 0 and 1, apply what continues the current version, rebuild across a hole,
 * notice a replica that went back). It sees the reader through a {@link PollTarget}.
 *
 * When it polls. A reader with queries polls every interval; an idle one backs off to a
 * ceiling (lib/read/poll-backoff.ts), so it costs a few LISTs an hour instead of two a
 * second. Nothing on the query path can starve it, and idleness costs no freshness
 * (issue 12, issue 15): a reader whose queries run back to back on microtasks only (the
 * in-process engine with every page cached, the worker engine's call lane answered while
 * spinning) never gives the event loop a turn, so the timer alone would not fire, and an
 * idle reader's timer is minutes away. Engines therefore call
 * {@link Poller.beforeTransaction} when a read transaction starts: once the last poll
 * started a poll interval ago or more, that transaction first polls (one listing round
 * trip, plus the new files' indexes) and waits for it, so it sees every file that was in
 * the replica when it started (or, with a listing shared by another process, when that
 * listing was taken: less than an interval before); the wait is bounded by the interval (at most
 * {@link MAX_POLL_WAIT_MS}) on the poller's clock, after which transactions go ahead and
 * only give the event loop a turn while the slow poll runs. A transaction also brings the
 * timer back to the interval. The timer skips a tick that comes within half an interval
 * of a poll a transaction started.
 *
 * A failed poll is counted and retried after one interval; it never touches open
 * connections. A replica whose polls keep failing (or hang), or that has files the reader
 * cannot apply, for longer than the staleness bound makes new read transactions fail
 * with `LTXVFS_ERR_STALE` (and emits `stale`, then `fresh` once a poll brings it back
 * within the bound): never served quietly as current. The bound measures the replica, not
 * the reader: a reader that simply did not poll (idle and backed off, busy, or its process
 * suspended) is not stale, since its next transaction polls first; failures count from the
 * last success, or, after an idle gap, from one interval before the first failed poll.
 *
 * Processes sharing a `cacheDir` share listings (lib/read/shared-listing.ts): a poll uses
 * a listing another process took less than an interval ago, and then counts as started
 * when that listing was taken — so its timer fires, and the next transaction polls, when
 * that listing is an interval old, and the view is never older than one interval, as with
 * a listing of its own. Explicit polls (`pollNow`, `sync`) always list storage.
 */
import { channel } from 'node:diagnostics_channel';
import { LtxvfsError } from '../../ltx/errors.js';
import { formatTXID } from '../../ltx/filename.js';
import { catchUp } from './catch-up.js';
import { PollBackoff, timerSchedule, type PollSchedule } from './poll-backoff.js';
import type { PollMessage, PollStats as ReaderPollStats, PollTarget } from './poll-target.js';
import { PollListings, type LevelListing, type SharedListingStats } from './shared-listing.js';
import type { LtxFileInfo } from '../storage/types.js';
import { withStaged } from '../storage/staging.js';

export type { PollMessage };

/** Poll counters and lag, with where the polls' listings came from; merged into the reader's stats. */
export interface PollStats extends ReaderPollStats, SharedListingStats {}

/** Poll options (ms). */
export interface PollerOptions {
  /** Time between polls. Default 1000, as the Litestream VFS; 0 turns polling off. */
  pollIntervalMs?: number;
  /**
   * How long polls may keep failing (or one may hang), or the reader see files it cannot
   * apply, before read transactions fail with `LTXVFS_ERR_STALE`; counted from the last
   * successful poll. A reader that did not poll (busy, suspended) is not stale: its next
   * transaction polls first. Default 60,000: longer than the storage
   * retry budget and a brief outage, short enough that a dead replica is noticed within a
   * minute. 0 turns the check off. Only applies while polling is on.
   */
  stalenessBoundMs?: number;
  /**
   * Ceiling of the delay between an idle reader's polls (no query for 10 intervals): the
   * delay doubles from the interval up to this (lib/read/poll-backoff.ts). Default 300,000:
   * an idle reader makes at most 56 LIST requests in its first idle hour, 24 in each
   * later one. At or below `pollIntervalMs`, the reader never backs off.
   */
  idlePollMaxMs?: number;
  /** Clock, for tests. Default `Date.now`. */
  now?: () => number;
  /** Timer, for tests (runs on an injected clock). Default an unref'd `setTimeout`. */
  schedule?: PollSchedule;
  /**
   * The disk cache directory (`cacheDir`): processes on this machine that poll the same
   * replica URL with the same directory share one listing per interval through it
   * (lib/read/shared-listing.ts). Default none: every poll lists storage.
   */
  cacheDir?: string;
}

const pollChannel = channel('ltxvfs:poll');

/**
 * Longest wait of a read transaction for a due poll, ms (poller's clock): the poll
 * interval, at most this. A healthy listing takes a few ms on a directory and tens of ms
 * on S3; a poll slower than this (storage retrying) runs on in the background instead of
 * holding every query up.
 */
export const MAX_POLL_WAIT_MS = 1000;

/** Real ms between checks of a transaction's wait budget against the poller's clock. */
const RECHECK_MS = 50;

/** A promise settled after the event loop's next turn (timers and I/O run first). */
function nextTurn(): Promise<void> {
  return new Promise((resolve) => setImmediate(resolve));
}


/** Drives polling of one reader. */
export class Poller {
  readonly #target: PollTarget;
  readonly #intervalMs: number;
  readonly #boundMs: number;
  readonly #now: () => number;
  readonly #schedule: PollSchedule;
  readonly #backoff: PollBackoff | undefined;
  readonly #listings: PollListings;
  /** How old the listing the last poll used was when the poll started, ms (0: its own). */
  #listingAgeMs = 0;
  /** Cancels the pending timer poll; undefined when none is pending. */
  #cancel: (() => void) | undefined;
  #inFlight: Promise<void> | undefined;
  /** Poller clock at the start of the last poll (or the open). */
  #lastStart: number;
  /** Poller clock when a query (or an explicit poll) last asked for freshness. */
  #lastActive: number;
  /** Poller clock at the start of the first failed poll since the last success. */
  #failedFrom: number | undefined;
  #started = false;
  #polls = 0;
  #failures = 0;
  #lastOk: number;
  #lastError: unknown;
  /** Since when the replica has had files beyond the applied TXID that no plan reaches, and why. */
  #behind: { since: number; error: LtxvfsError } | undefined;
  #staleReported = false;

  /** @throws LtxvfsError `LTXVFS_ERR_USAGE` for a bad `idlePollMaxMs` (lib/read/poll-backoff.ts). */
  constructor(target: PollTarget, options: PollerOptions = {}) {
    this.#target = target;
    this.#intervalMs = options.pollIntervalMs ?? 1000;
    this.#boundMs = options.stalenessBoundMs ?? 60_000;
    this.#now = options.now ?? Date.now;
    this.#schedule = options.schedule ?? timerSchedule;
    this.#backoff = this.#intervalMs > 0 ? new PollBackoff(this.#intervalMs, options.idlePollMaxMs) : undefined;
    this.#listings = new PollListings(target.storage ?? target.client, options.cacheDir, this.#intervalMs, this.#now);
    this.#lastOk = this.#now();
    this.#lastStart = this.#lastOk;
    this.#lastActive = this.#lastOk;
  }

  /** Start the timer (unref'd: polling never keeps the process alive). */
  start(): void {
    this.#lastOk = this.#now();
    this.#lastStart = this.#lastOk;
    this.#lastActive = this.#lastOk;
    this.#started = true;
    if (this.#backoff === undefined || this.#cancel !== undefined) return;
    this.#backoff.reset();
    this.#arm(this.#backoff.delayMs);
  }

  /** Stop the timer. */
  stop(): void {
    this.#started = false;
    this.#cancel?.();
    this.#cancel = undefined;
  }

  /** Delay of the pending timer poll, ms (the interval, or more while the reader is idle); undefined when the timer is off. */
  get timerDelayMs(): number | undefined {
    return this.#cancel === undefined ? undefined : this.#backoff?.delayMs;
  }

  #arm(ms: number): void {
    this.#cancel = this.#schedule(() => this.#tick(), ms);
  }

  /**
   * A timer poll: skipped within half an interval of a poll a transaction started; then the
   * next one is armed, earlier by the age of a shared listing the poll used.
   */
  async #tick(): Promise<void> {
    this.#cancel = undefined;
    if (!this.#started || this.#backoff === undefined) return;
    if (this.#now() - this.#lastStart >= this.#intervalMs / 2) await this.#pollOnce(true);
    if (!this.#started || this.#cancel !== undefined) return;
    const delay = this.#backoff.next(this.#now() - this.#lastActive, this.#lastError !== undefined);
    this.#arm(Math.max(1, delay - this.#listingAgeMs));
  }

  /** A query or a caller wants freshness: the timer goes back to the interval if it backed off. */
  #touch(): void {
    this.#lastActive = this.#now();
    const backoff = this.#backoff;
    if (backoff === undefined || !this.#started || backoff.delayMs <= this.#intervalMs) return;
    backoff.reset();
    this.#cancel?.();
    this.#arm(backoff.delayMs);
  }

  /**
   * Poll once now (joins a poll already running), listing storage even when processes
   * share listings. Never throws: failures are counted.
   */
  pollNow(): Promise<void> {
    this.#touch();
    return this.#pollOnce(false);
  }

  /** Start a poll (or join the one running); `shareable`: it may use another process's listing. */
  #pollOnce(shareable: boolean): Promise<void> {
    if (this.#inFlight !== undefined) return this.#inFlight;
    this.#lastStart = this.#now();
    const poll = this.#poll(shareable).finally(() => { this.#inFlight = undefined; });
    this.#inFlight = poll;
    return poll;
  }

  /** True when polling runs and the last poll started a poll interval ago or more (poller's clock). */
  #due(): boolean {
    return this.#started && this.#intervalMs > 0 && this.#now() - this.#lastStart >= this.#intervalMs;
  }

  /**
   * Start a poll if one is due and none runs, without waiting (for callers that cannot
   * wait, e.g. `ReplicaReader.acquire` serving an engine in another thread). Counts as a
   * query: an idle reader's timer goes back to the interval.
   * @returns whether a poll started.
   */
  pollIfDue(): boolean {
    this.#touch();
    if (!this.#due() || this.#inFlight !== undefined) return false;
    void this.#pollOnce(true);
    return true;
  }

  /**
   * Call when a read transaction starts, before it pins a version (engines do: the
   * in-process VFS at `xLock(SHARED)`, the worker engine before it sends calls). When
   * polling is on and the last poll started a poll interval ago or more (poller's clock),
   * this transaction starts a poll and waits for it — for at most the interval (≤
   * {@link MAX_POLL_WAIT_MS}) on the poller's clock. When the due poll is still running
   * (slow storage), the transaction only gives the event loop one turn, so that poll can
   * progress however busy the caller is. An idle reader's timer goes back to the interval.
   * @returns undefined to go ahead at once, else a promise to wait for (never rejects:
   *   a failed poll is counted, and staleness decides what the transaction gets).
   */
  beforeTransaction(): Promise<void> | undefined {
    this.#touch();
    if (!this.#due()) return undefined;
    if (this.#inFlight !== undefined) return nextTurn();
    const startedAt = this.#now();
    return this.#boundedWait(this.#pollOnce(true), startedAt);
  }

  /**
   * `poll`, or less: settled when it settles or when the wait budget has run out on the
   * poller's clock (checked by a real timer, so an injected clock that stands still
   * means waiting for the poll).
   */
  #boundedWait(poll: Promise<void>, startedAt: number): Promise<void> {
    const budget = Math.min(this.#intervalMs > 0 ? this.#intervalMs : MAX_POLL_WAIT_MS, MAX_POLL_WAIT_MS);
    return new Promise<void>((resolve) => {
      let timer: NodeJS.Timeout | undefined;
      const check = (): void => {
        const left = startedAt + budget - this.#now();
        if (left <= 0) {
          resolve();
          return;
        }
        // Ref'd: a transaction waits on it, as on any I/O.
        timer = setTimeout(check, Math.min(left, RECHECK_MS));
      };
      check();
      void poll.finally(() => {
        clearTimeout(timer);
        resolve();
      });
    });
  }

  async #poll(shareable: boolean): Promise<void> {
    this.#polls++;
    const target = this.#target;
    const before = target.current;
    const startedAt = this.#lastStart;
    let applied = 0;
    let rebuilt = false;
    let listing: LevelListing | undefined;
    this.#listingAgeMs = 0;
    try {
      const result = await catchUp(target, async (seekTXID, holdsApplied) => {
        const staged = target.staged?.(seekTXID) ?? [];
        // Staged files are in the replica for this process: with them, a shared listing
        // (taken from the store) can still hold the newest file applied.
        const holds = staged.length === 0 ? holdsApplied : (files: readonly LtxFileInfo[]) => holdsApplied([...files, ...staged]);
        listing = await this.#listings.list({ seekTXID, after: this.#lastOk, holdsApplied: holds, fresh: !shareable });
        return staged.length === 0 ? listing.files : withStaged(listing.files, staged);
      });
      ({ applied, rebuilt } = result);
      // This process's writer may have committed while the poll loaded files: keep the newer.
      if (target.current === before || result.version.txid > target.current.txid) target.advance(result.version);
      this.#lastOk = this.#now();
      if (listing?.shared === true) {
        // The view is as old as the listing: the poll counts as made when it was taken.
        this.#lastOk = listing.takenAt;
        this.#lastStart = Math.min(this.#lastStart, listing.takenAt);
        this.#listingAgeMs = Math.max(0, startedAt - listing.takenAt);
      }
      this.#lastError = undefined;
      this.#failedFrom = undefined;
      this.#behind = result.gap === undefined ? undefined : { since: this.#behind?.since ?? this.#now(), error: result.gap };
    } catch (err) {
      this.#failures++;
      this.#lastError = err;
      this.#failedFrom ??= this.#lastStart;
      target.notify('poll-error', err);
    }
    const stale = this.#stalenessError();
    if (stale !== undefined) this.#reportStale(stale);
    else if (this.#staleReported) {
      this.#staleReported = false;
      target.notify('fresh', target.current);
    }
    if (pollChannel.hasSubscribers) {
      pollChannel.publish({ url: target.client.url, txid: target.current.txid, applied, rebuilt, error: this.#lastError } satisfies PollMessage);
    }
  }

  /**
   * Since when the replica has been unreachable, as far as this poller knows, or undefined
   * while it is not: the last success, or — when the reader was idle and did not poll
   * for a while — one interval before the failing (or hanging) poll started, so that
   * time nobody polled is not counted as staleness.
   */
  #failingSince(now: number): number | undefined {
    const from = this.#lastError !== undefined
      ? this.#failedFrom ?? this.#lastStart
      : this.#inFlight !== undefined && now - this.#lastStart > this.#boundMs ? this.#lastStart : undefined;
    return from === undefined ? undefined : Math.max(this.#lastOk, from - this.#intervalMs);
  }

  /** The error new read transactions get now, if the reader is past its staleness bound. */
  #stalenessError(): LtxvfsError | undefined {
    if (this.#intervalMs <= 0 || this.#boundMs <= 0) return undefined;
    const now = this.#now();
    const url = this.#target.client.url;
    const txid = formatTXID(this.#target.current.txid);
    // Only polls say the replica is unreachable: the last one failed, or one hangs past the bound.
    const since = this.#failingSince(now);
    if (since !== undefined && now - since > this.#boundMs) {
      const why = this.#lastError instanceof Error ? `: ${this.#lastError.message}` : '';
      return new LtxvfsError('LTXVFS_ERR_STALE',
        `${url}: stale since ${iso(this.#lastOk)}: replica not polled successfully for ${now - this.#lastOk} ms (bound ${this.#boundMs} ms); still at TXID ${txid}${why}`,
        { key: url, cause: this.#lastError });
    }
    const behind = this.#behind;
    if (behind !== undefined && now - behind.since > this.#boundMs) {
      return new LtxvfsError('LTXVFS_ERR_STALE',
        `${url}: stale since ${iso(behind.since)}: replica has LTX files beyond TXID ${txid} that could not be applied for ${now - behind.since} ms ` +
          `(bound ${this.#boundMs} ms): ${behind.error.message}`,
        { key: url, cause: behind.error });
    }
    return undefined;
  }

  /**
   * Throw if the reader is past its staleness bound (called when a read transaction starts).
   * @throws LtxvfsError `LTXVFS_ERR_STALE`.
   */
  checkFresh(): void {
    const err = this.#stalenessError();
    if (err === undefined) return;
    this.#reportStale(err);
    throw err;
  }

  /**
   * Poll now and resolve with the TXID applied after it (`Database.sync()`). A poll
   * already running is waited for and then a new one made, so the answer reflects the
   * replica as it was when `sync` was called or later.
   * @throws the poll's error (`LTXVFS_ERR_STORAGE`, `LTXVFS_ERR_NOT_FOUND`, …) when it
   *   failed; the reader's integrity failure (`LTXVFS_ERR_CHECKSUM`, `LTXVFS_ERR_NOT_FOUND`).
   */
  async sync(): Promise<number> {
    if (this.#inFlight !== undefined) await this.#inFlight;
    await this.pollNow();
    const failure = this.#target.integrityFailure ?? this.#lastError;
    if (failure !== undefined) throw failure;
    return this.#target.current.txid;
  }

  /** Time between polls, ms (0: polling off). */
  get intervalMs(): number {
    return this.#intervalMs;
  }

  /** Emit `stale` once per stale period (from a poll, or a read transaction, whichever sees it first). */
  #reportStale(err: LtxvfsError): void {
    if (this.#staleReported) return;
    this.#staleReported = true;
    this.#target.notify('stale', err);
  }

  /** Counters and lag, and where the listings came from. */
  stats(): PollStats {
    const now = this.#now();
    const ts = this.#target.current.timestamp;
    return {
      ...this.#listings.stats(),
      polls: this.#polls,
      pollFailures: this.#failures,
      lastPollAt: this.#lastOk,
      pollLagMs: now - this.#lastOk,
      replicaLagMs: ts > 0 ? Math.max(0, now - ts) : 0,
      lagMs: ts > 0 ? Math.max(0, now - ts) : 0,
      stale: this.#stalenessError() !== undefined,
      lastPollError: this.#lastError instanceof Error ? this.#lastError.message : undefined,
    };
  }
}

/** `ms` (since the epoch) as an ISO 8601 time. */
function iso(ms: number): string {
  return new Date(ms).toISOString();
}
