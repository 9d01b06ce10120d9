/**
 * What the {@link Poller} needs of the reader it keeps fresh (issue 13: the poller no
 * longer imports `ReplicaReader`, and the reader keeps loading and advancing versions to
 * itself). `ReplicaReader` hands its poller an object of this shape built over its
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
