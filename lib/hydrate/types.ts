/**
 * The shapes hydration shares between its parts and with its users: what it needs of a
 * reader ({@link HydrationSource}), where it is ({@link HydrationState}), its figures and
 * its events.
 */
import type { ReplicaClient } from '../storage/types.js';
import type { FrameRef, PageIndex } from '../replica/page-index.js';

/** Where hydration is: `hydrating` until the first pass completes, then `ready` (also while catching up). */
export type HydrationState = 'hydrating' | 'ready' | 'failed' | 'closed';

/** Figures of a hydrator (lib/hydrate/hydrator.ts). */
export interface HydrationStats {
  /** The database file. */
  path: string;
  state: HydrationState;
  /** Percent (0–100) of the first hydration done; 100 once it completed (also while later passes run). */
  progress: number;
  /** TXID the file holds consistently; 0 before the first pass completed. */
  txid: number;
  /** Pages the current (or last) pass writes in all, counting those an earlier process wrote. */
  pagesTotal: number;
  /** Pages of the current (or last) pass done, counting those an earlier process wrote. */
  pagesDone: number;
  /** Of those, pages the state file records as durable (what a restart would not write again). */
  pagesCheckpointed: number;
  /** Pages of the first pass this process found already written by an earlier one (resumed). */
  pagesResumed: number;
  /** Pages this process wrote (all passes). */
  pagesWritten: number;
  /** Bytes this process read from storage for hydration. */
  bytesRead: number;
  /** Storage range reads this process made for hydration. */
  readRequests: number;
  /** Passes completed by this process (the first hydration and each catch-up). */
  passes: number;
  /** The last failure, while `state` is `failed`. */
  error: unknown;
}

/** Events of a hydrator. */
export interface HydratorEvents {
  /** A pass completed: the file holds `txid`. */
  ready: [txid: number];
  /** A checkpoint was written (progress is durable). */
  checkpoint: [stats: HydrationStats];
  /** A pass failed; it is tried again later (see `retryMs`). */
  failed: [error: unknown];
}

/** What a hydrator needs of its reader (lib/read/replica-reader.ts). */
export interface HydrationSource {
  readonly client: ReplicaClient;
  /** The newest version. */
  readonly current: PageIndex;
  on(event: 'version', listener: (version: PageIndex) => void): unknown;
  off(event: 'version', listener: (version: PageIndex) => void): unknown;
  /** A page already decoded in memory, if any (saves a read when catching up with files this process read or wrote). */
  peek?(ref: FrameRef): Uint8Array | undefined;
}
