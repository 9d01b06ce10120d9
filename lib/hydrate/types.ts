/**
 * The shapes hydration shares between its parts and with its users: what it needs of a
 * reader ({@link HydrationSource}), where it is ({@link HydrationState}), its figures and
 * its events.
 */
import type { ReplicaClient } from '../storage/types.js';
import type { FrameRef, LtxFile, PageIndex } from '../replica/page-index.js';

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
  /**
   * The reader's file verification (lib/read/verifier.ts `FileVerifier`): a pass feeds it
   * every frame it decodes, so the files hydrated from are verified without being read
   * again, and the state file remembers which were (a restart trusts them).
   */
  readonly verification?: HydrationVerification;
}

/** What hydration needs of the reader's file verification (lib/read/verifier.ts `FileVerifier`, which has these). */
export interface HydrationVerification {
  /** A pass will decode frames of `file`: verify it from them, reading nothing of it before `until` settles. */
  feedFrom(file: LtxFile, until: Promise<unknown>): boolean;
  /** Pages of `file` are served: verify it (in the background) unless it is known, being verified or failed. */
  use(file: LtxFile): boolean;
  /** Whether a verification still needs frame `entry` of `file`. */
  wants(file: LtxFile, entry: number): boolean;
  /** Frame `entry` of `file` as stored (`frame`) and decoded (`page`). */
  observe(file: LtxFile, entry: number, frame: Uint8Array, page: Uint8Array): void;
  /** Whether `file` is known to match its file checksum. */
  isVerified(file: LtxFile): boolean;
  /** Take `file` as verified (an earlier process verified the file the hydrated pages came from). */
  trustVerified(file: LtxFile): void;
  /** Resolves once every verification running is done; rejects with the first failure. */
  verified(): Promise<void>;
}
