/**
 * What the poller (lib/read/poller.ts) needs of the reader it keeps fresh, and what it
 * reports (issue 13: the poller no longer imports `ReplicaReader`, and the reader keeps
 * loading and advancing versions to itself). `ReplicaReader` hands its poller an object of this shape built over its
 * private state; tests may hand it any other.
 */
import type { LtxvfsError } from '../../ltx/errors.js';
import type { PageIndex } from '../replica/page-index.js';
import type { LtxFileInfo, ReplicaClient } from '../storage/types.js';

/** Events a poll reports through its target (a subset of the reader's events). */
export interface PollEvents {
  /** A poll failed (it is retried at the next tick). */
  'poll-error': [error: unknown];
  /** The reader passed its staleness bound: queries fail until it catches up. */
  stale: [error: LtxvfsError];
  /** A poll brought a stale reader back within its staleness bound: queries run again. */
  fresh: [version: PageIndex];
}

/** The reader as its poller sees it. */
export interface PollTarget {
  /** The replica polled. */
  readonly client: ReplicaClient;
  /**
   * The store itself, for the listings shared with other processes (`cacheDir`): never
   * this process's staged files. Default `client`.
   */
  readonly storage?: ReplicaClient;
  /** Level-0 files this process's writer staged but has not uploaded (lib/storage/staging.ts), `minTXID >= seekTXID`: listed with every poll. */
  staged?(seekTXID: number): LtxFileInfo[];
  /** The newest version. */
  readonly current: PageIndex;
  /** Set once the reader served a damaged or vanished file: a poll then lists nothing. */
  readonly integrityFailure: LtxvfsError | undefined;
  /** Fail the reader for good (the newest file it applied is gone from every level). */
  poison(error: LtxvfsError): void;
  /**
   * `base` with the files of `chain` applied in order (their headers and page indexes
   * loaded; pages of files read whole cached).
   * @throws LtxvfsError as the loader and `PageIndex.applyAll` do.
   */
  extend(base: PageIndex, chain: LtxFileInfo[]): Promise<PageIndex>;
  /**
   * The newest state rebuilt from a listing of every level and the restore plan.
   * @throws LtxvfsError `LTXVFS_ERR_TXID_GAP` when no plan bridges a hole; storage errors.
   */
  rebuild(): Promise<PageIndex>;
  /** Make `version` current (never older than the current one). */
  advance(version: PageIndex): void;
  /** Report a poll event to the reader's listeners. */
  notify<E extends keyof PollEvents>(event: E, ...args: PollEvents[E]): void;
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
