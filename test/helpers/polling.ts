/**
 * Helpers for the polling, isolation and time-travel tests: a real file client whose
 * listings can be made to fail ({@link ListFaultClient}, on top of {@link CountingClient}),
 * a settable clock for the poller's `now` option, waiting for a condition without timed
 * assertions, and percentiles for the visibility figures.
 */
import { openFileReplica } from '../../lib/storage/file/client.js';
import type { LtxFileInfo } from '../../lib/storage/types.js';
import { CountingClient } from './replica-builder.js';

/**
 * A {@link CountingClient} over a real FileReplicaClient whose `listLtxFiles` fails with
 * the error `listFault` returns (for the level listed), as storage that cannot be reached.
 */
export class ListFaultClient extends CountingClient {
  /** When it returns an error for a listing, that listing rejects with it. */
  listFault: ((level: number) => Error | undefined) | undefined;
  /** Listing calls that failed. */
  failedLists = 0;

  /** A ListFaultClient over a real FileReplicaClient of `dir`. */
  static override async open(dir: string): Promise<ListFaultClient> {
    return new ListFaultClient(await openFileReplica(dir));
  }

  override listLtxFiles(level: number, options?: { seekTXID?: number }): Promise<LtxFileInfo[]> {
    const err = this.listFault?.(level);
    if (err !== undefined) {
      this.lists++;
      this.failedLists++;
      return Promise.reject(err);
    }
    return super.listLtxFiles(level, options);
  }
}

/** A clock for the poller's `now` option: starts at `start`, moves only when told. */
export class TestClock {
  ms: number;

  constructor(start = Date.parse('2026-11-21T12:00:00Z')) {
    this.ms = start;
  }

  /** The function to pass as `now`. */
  readonly now = (): number => this.ms;

  advance(ms: number): void {
    this.ms += ms;
  }
}

/**
 * Wait until `condition()` is truthy (checked every `everyMs`), at most `timeoutMs`;
 * throws naming `what` when it never is. Not an assertion on time: a generous limit
 * for something that must happen.
 */
export async function waitFor<T>(what: string, condition: () => T | Promise<T>, timeoutMs = 20_000, everyMs = 10): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await condition();
    if (value) return value;
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, everyMs));
  }
}

/** The p-th percentile (0–100, nearest rank) of `values`. */
export function percentile(values: readonly number[], p: number): number {
  if (values.length === 0) throw new Error('percentile of no values');
  const sorted = [...values].sort((a, b) => a - b);
  const rank = Math.max(1, Math.ceil((p / 100) * sorted.length));
  return sorted[rank - 1];
}
