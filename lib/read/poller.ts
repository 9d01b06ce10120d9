/**
 * Poller: keeps a {@link ReplicaReader} about one poll interval behind its replica
 * (docs/architecture.md read path 7, docs/formats.md §4.6). Every tick it lists level 0 from the current
 * TXID and level 1 (where Litestream's compactions land first), chains the files that
 * continue the current version — checked by TXID and, where files carry database
 * checksums, by pre-apply checksum in {@link PageIndex.apply} — and applies them in TXID
 * order (truncating to each file's commit). When files exist beyond a hole (L0 files
 * compacted away before they were seen) it rebuilds the version from the restore plan.
 *
 * The replica may not step back under a reader (issue 12): the same two listings show
 * whether the newest file the reader applied, when it is at level 0 or 1, is still
 * covered — by itself, or by a compaction's file whose TXID range holds the reader's
 * TXID. When neither listing covers it, one listing of every level confirms (a compaction
 * may have moved it higher between the two listings); if no file at any level covers the
 * TXID, the reader is poisoned ({@link ReplicaReader.poison}): every later transaction
 * fails with `LTXVFS_ERR_NOT_FOUND` naming the vanished file, instead of serving an
 * older replica as current. A newest file at level 2–9 (a reader opened on a snapshot
 * with nothing newer) is not in the listings a poll makes, so it is not checked there:
 * a read of a page of it fails with `LTXVFS_ERR_NOT_FOUND` naming it when it is gone.
 *
 * Nothing on the query path can starve it (issue 12): a reader whose queries run back to
 * back on microtasks only (the in-process engine with every page cached, the worker
 * engine's call lane answered while spinning) never gives the event loop a turn, so the
 * timer alone would not fire. Engines therefore call {@link Poller.beforeTransaction}
 * when a read transaction starts: once the last poll started a poll interval ago or
 * more, that transaction first polls (one listing round trip, plus the new files'
 * indexes) and waits for it, so it sees every file that was in the replica when it
 * started; the wait is bounded by the interval (at most {@link MAX_POLL_WAIT_MS}) on the
 * poller's clock, after which transactions go ahead and only give the event loop a turn
 * while the slow poll runs. The timer still polls an idle reader (skipping a tick that
 * comes within half an interval of a poll a transaction started).
 *
 * A failed poll is counted and retried at the next tick; it never touches open
 * connections. A replica whose polls keep failing (or hang), or that has files the reader
 * cannot apply, for longer than the staleness bound makes new read transactions fail
 * with `LTXVFS_ERR_STALE` (and emits `stale`, then `fresh` once a poll brings it back
within the bound): never served quietly as current. The
 * bound measures the replica, not the reader: a reader that simply did not poll (busy,
 * or its process suspended) is not stale, since its next transaction polls first.
 */
import { channel } from 'node:diagnostics_channel';
import { isLtxvfsError, LtxvfsError } from '../../ltx/errors.js';
import { formatTXID } from '../../ltx/filename.js';
import type { LtxFileInfo } from '../storage/types.js';
import type { ReplicaReader } from './replica-reader.js';
import type { LtxFile, PageIndex } from '../replica/page-index.js';
import { listReplica } from '../replica/plan.js';

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
  /** Clock, for tests. Default `Date.now`. */
  now?: () => number;
}

/** Poll counters, merged into the reader's stats. */
export interface PollStats {
  /** Polls attempted. */
  polls: number;
  /** Polls that failed. */
  pollFailures: number;
  /** ms since the epoch of the last successful listing of the replica: a poll's, or the open's. */
  lastPollAt: number;
  /**
   * ms since the last successful listing (a poll's, or the open's): how long ago this
   * reader last saw what the replica holds. `litestream_lag()` is this in whole seconds.
   */
  pollLagMs: number;
  /**
   * ms since the timestamp of the newest applied LTX file: the age of the newest file, on
   * the writer's clock. Grows on an idle replica that is fully current (nothing new to
   * apply); 0 for an empty replica.
   */
  replicaLagMs: number;
  /** @deprecated The same as {@link replicaLagMs} (the name said less than it measures); kept for existing callers. */
  lagMs: number;
  /** True while new read transactions fail with `LTXVFS_ERR_STALE`. */
  stale: boolean;
  /** Message of the last poll failure, if the last poll failed. */
  lastPollError: string | undefined;
}

/** Published on diagnostics channel `ltxvfs:poll` after every poll. */
export interface PollMessage {
  url: string;
  txid: number;
  /** LTX files applied by this poll (0 when nothing new; the plan's length after a rebuild). */
  applied: number;
  rebuilt: boolean;
  error: unknown;
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
  readonly #reader: ReplicaReader;
  readonly #intervalMs: number;
  readonly #boundMs: number;
  readonly #now: () => number;
  #timer: NodeJS.Timeout | undefined;
  #inFlight: Promise<void> | undefined;
  /** Poller clock at the start of the last poll (or the open). */
  #lastStart: number;
  #started = false;
  #polls = 0;
  #failures = 0;
  #lastOk: number;
  #lastError: unknown;
  /** Since when the replica has had files beyond the applied TXID that no plan reaches, and why. */
  #behind: { since: number; error: LtxvfsError } | undefined;
  #staleReported = false;

  constructor(reader: ReplicaReader, options: PollerOptions = {}) {
    this.#reader = reader;
    this.#intervalMs = options.pollIntervalMs ?? 1000;
    this.#boundMs = options.stalenessBoundMs ?? 60_000;
    this.#now = options.now ?? Date.now;
    this.#lastOk = this.#now();
    this.#lastStart = this.#lastOk;
  }

  /** Start the timer (unref'd: polling never keeps the process alive). */
  start(): void {
    this.#lastOk = this.#now();
    this.#lastStart = this.#lastOk;
    this.#started = true;
    if (this.#intervalMs <= 0 || this.#timer !== undefined) return;
    // A tick within half an interval of a poll a transaction started is skipped: no double polls.
    this.#timer = setInterval(() => {
      if (this.#now() - this.#lastStart >= this.#intervalMs / 2) void this.pollNow();
    }, this.#intervalMs);
    this.#timer.unref();
  }

  /** Stop the timer. */
  stop(): void {
    this.#started = false;
    clearInterval(this.#timer);
    this.#timer = undefined;
  }

  /** Poll once now (joins a poll already running). Never throws: failures are counted. */
  pollNow(): Promise<void> {
    if (this.#inFlight !== undefined) return this.#inFlight;
    this.#lastStart = this.#now();
    const poll = this.#poll().finally(() => { this.#inFlight = undefined; });
    this.#inFlight = poll;
    return poll;
  }

  /** True when polling runs and the last poll started a poll interval ago or more (poller's clock). */
  #due(): boolean {
    return this.#started && this.#intervalMs > 0 && this.#now() - this.#lastStart >= this.#intervalMs;
  }

  /**
   * Start a poll if one is due and none runs, without waiting (for callers that cannot
   * wait, e.g. `ReplicaReader.acquire` serving an engine in another thread).
   * @returns whether a poll started.
   */
  pollIfDue(): boolean {
    if (!this.#due() || this.#inFlight !== undefined) return false;
    void this.pollNow();
    return true;
  }

  /**
   * Call when a read transaction starts, before it pins a version (engines do: the
   * in-process VFS at `xLock(SHARED)`, the worker engine before it sends calls). When
   * polling is on and the last poll started a poll interval ago or more (poller's clock),
   * this transaction starts a poll and waits for it — for at most the interval (≤
   * {@link MAX_POLL_WAIT_MS}) on the poller's clock. When the due poll is still running
   * (slow storage), the transaction only gives the event loop one turn, so that poll can
   * progress however busy the caller is.
   * @returns undefined to go ahead at once, else a promise to wait for (never rejects:
   *   a failed poll is counted, and staleness decides what the transaction gets).
   */
  beforeTransaction(): Promise<void> | undefined {
    if (!this.#due()) return undefined;
    if (this.#inFlight !== undefined) return nextTurn();
    const startedAt = this.#now();
    return this.#boundedWait(this.pollNow(), startedAt);
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

  async #poll(): Promise<void> {
    this.#polls++;
    const reader = this.#reader;
    const before = reader.current;
    let applied = 0;
    let rebuilt = false;
    try {
      // A reader that served a damaged or vanished file serves nothing more: no need to list.
      if (reader.integrityFailure !== undefined) return;
      const newest = newestFile(before);
      // From the current TXID (not the next): the newest applied file must still be listed.
      const seekTXID = newest?.info.level === 0 ? Math.min(newest.info.minTXID, before.txid) : before.txid;
      const [l0, l1] = await Promise.all([
        reader.client.listLtxFiles(0, { seekTXID }),
        reader.client.listLtxFiles(1),
      ]);
      const listed = [...l0, ...l1];
      if (newest !== undefined && newest.info.level <= 1 && !listed.some((f) => covers(f, before.txid))) {
        const gone = await this.#vanished(newest, before.txid);
        if (gone !== undefined) {
          reader.poison(gone);
          return;
        }
      }
      const { chain, beyond } = continuation(before.txid, listed);
      let version = before;
      if (chain.length > 0) {
        const loaded = await reader.loadFiles(chain);
        version = version.applyAll(loaded.map((l) => l.file));
        reader.cacheCurrentPages(version, loaded);
        applied = chain.length;
      }
      let gap: LtxvfsError | undefined;
      if (beyond) {
        // Files after a hole: the ones in between were compacted away before this poll saw them.
        // A hole no plan bridges keeps what the chain applied: the reader is behind, not failing.
        const fresh = await reader.versionAt(undefined).catch((err: unknown) => {
          if (!isLtxvfsError(err, 'LTXVFS_ERR_TXID_GAP')) throw err;
          gap = err;
          return undefined;
        });
        if (fresh !== undefined && fresh.txid > version.txid) {
          version = fresh;
          rebuilt = true;
          applied = fresh.files.length;
        }
      }
      // This process's writer may have committed while the poll loaded files: keep the newer.
      if (reader.current === before || version.txid > reader.current.txid) reader.advance(version);
      this.#lastOk = this.#now();
      this.#lastError = undefined;
      this.#behind = gap === undefined ? undefined : { since: this.#behind?.since ?? this.#now(), error: gap };
    } catch (err) {
      this.#failures++;
      this.#lastError = err;
      reader.emit('poll-error', err);
    }
    const stale = this.#stalenessError();
    if (stale !== undefined) this.#reportStale(stale);
    else if (this.#staleReported) {
      this.#staleReported = false;
      reader.emit('fresh', reader.current);
    }
    if (pollChannel.hasSubscribers) {
      pollChannel.publish({ url: reader.client.url, txid: reader.current.txid, applied, rebuilt, error: this.#lastError } satisfies PollMessage);
    }
  }

  /**
   * The error for `newest` (the newest file applied, at TXID `txid`) if no file at any
   * level covers `txid` any more: one listing of every level, made only when the poll's
   * own listings did not show a file covering it.
   */
  async #vanished(newest: LtxFile, txid: number): Promise<LtxvfsError | undefined> {
    const url = this.#reader.client.url;
    const all = await listReplica(this.#reader.client);
    if (all.some((f) => covers(f, txid))) return undefined;
    const key = newest.info.key;
    return new LtxvfsError('LTXVFS_ERR_NOT_FOUND',
      `${key}: the newest LTX file this reader applied is gone from ${url}, and no file at any level covers TXID ${formatTXID(txid)} any more: ` +
        'the replica went back under the reader, which serves nothing more (open it again to read the replica as it is now)',
      { key });
  }

  /** The error new read transactions get now, if the reader is past its staleness bound. */
  #stalenessError(): LtxvfsError | undefined {
    if (this.#intervalMs <= 0 || this.#boundMs <= 0) return undefined;
    const now = this.#now();
    const url = this.#reader.client.url;
    const txid = formatTXID(this.#reader.current.txid);
    // Only polls say the replica is unreachable: the last one failed, or one hangs past the bound.
    const failing = this.#lastError !== undefined || (this.#inFlight !== undefined && now - this.#lastStart > this.#boundMs);
    if (failing && now - this.#lastOk > this.#boundMs) {
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
    const failure = this.#reader.integrityFailure ?? this.#lastError;
    if (failure !== undefined) throw failure;
    return this.#reader.current.txid;
  }

  /** Time between polls, ms (0: polling off). */
  get intervalMs(): number {
    return this.#intervalMs;
  }

  /** Emit `stale` once per stale period (from a poll, or a read transaction, whichever sees it first). */
  #reportStale(err: LtxvfsError): void {
    if (this.#staleReported) return;
    this.#staleReported = true;
    this.#reader.emit('stale', err);
  }

  /** Counters and lag. */
  stats(): PollStats {
    const now = this.#now();
    const ts = this.#reader.current.timestamp;
    return {
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

/** The last-applied file of `version` that reaches its TXID (the newest applied), if any. */
function newestFile(version: PageIndex): LtxFile | undefined {
  if (version.txid === 0) return undefined;
  return version.files.findLast((f) => f.info.maxTXID === version.txid);
}

/** Whether `f`'s TXID range holds `txid`. */
function covers(f: LtxFileInfo, txid: number): boolean {
  return f.minTXID <= txid && txid <= f.maxTXID;
}

/**
 * The files that continue a version at `txid`, in order (docs/formats.md §4.4 step 2: at each
 * step the file with min ≤ cur + 1 < max + 1 reaching furthest, then starting earliest,
 * then from the higher level), and whether files remain beyond a hole.
 */
export function continuation(txid: number, files: LtxFileInfo[]): { chain: LtxFileInfo[]; beyond: boolean } {
  const chain: LtxFileInfo[] = [];
  let cur = txid;
  for (;;) {
    let best: LtxFileInfo | undefined;
    for (const f of files) {
      if (f.minTXID > cur + 1 || f.maxTXID <= cur) continue;
      if (best === undefined || f.maxTXID > best.maxTXID || (f.maxTXID === best.maxTXID && (f.minTXID < best.minTXID || (f.minTXID === best.minTXID && f.level > best.level)))) best = f;
    }
    if (best === undefined) break;
    chain.push(best);
    cur = best.maxTXID;
  }
  return { chain, beyond: files.some((f) => f.maxTXID > cur) };
}
