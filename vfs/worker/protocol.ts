/**
 * Messages between the main thread's `WorkerDatabase` (vfs/worker/database.ts) and the
 * SQLite worker (vfs/worker/main.ts). The page traffic does not go here: it has its own
 * channel, the page bridge (lib/bridge/protocol.ts).
 */
import type { MessagePort } from 'node:worker_threads';
import type { SerializedError } from '../../lib/bridge/protocol.js';
import type { EngineOps } from '../../lib/sql/statement.js';
import type { HydratedFileSpec } from '../bridge/hydrated-file.js';

/** What the worker gets at start (`workerData`), with the bridge channel's port transferred. */
export interface WorkerInit {
  /** The bridge channel's buffer; its port arrives as `port`. */
  buffer: SharedArrayBuffer;
  port: MessagePort;
  /** Name of the database inside the VFS and in messages (the replica URL). */
  label: string;
  /** Open read-write (writes need the lease; the main thread's sink decides). */
  writable: boolean;
  /** Longest wait on the bridge, ms. */
  timeoutMs: number;
  /** Bytes of the worker's page cache. */
  localCacheSizeBytes: number;
  /** Prepared statements kept (default 64). */
  statementCacheSize: number | undefined;
  /** wa-sqlite's non-Asyncify build, compiled by the main thread (a `WebAssembly.Module`). */
  wasmModule: object;
  /** The connection's SQL functions, called through the bridge. */
  functions: { name: string; nArgs: number; directOnly: boolean }[];
  /** The call lane's buffer (vfs/worker/call-lane.ts). */
  lane: SharedArrayBuffer;
  /** µs the worker spins on the lane before blocking. */
  spinMicros: number;
  /** The reader's hydrated file, read in place by the worker while it holds the connection's version (vfs/bridge/hydrated-file.ts). */
  hydrated?: HydratedFileSpec;
}

/** Calls made in one tick of the main thread travel as one message (or on the call lane). */
export interface WorkerCalls {
  type: 'calls';
  calls: WorkerCall[];
}

/** An engine operation the worker runs (lib/sql/statement.ts `EngineOps`; `close` is its own call). */
export type EngineMethod = Exclude<keyof EngineOps, 'close'>;

/** A call: an engine operation with its arguments, the worker's counters, or close. */
export type WorkerCall =
  | { type: 'call'; id: number; method: EngineMethod; args: unknown[] }
  | { type: 'call'; id: number; method: 'counters' }
  | { type: 'close'; id: number };

/** The answer to one call (`value` left out when undefined, so the lane can carry it as JSON). */
export type WorkerResult =
  | { type: 'result'; id: number; value?: unknown }
  | { type: 'error'; id: number; error: SerializedError };

/** What the worker answers: calls completed in one turn of its event loop travel as one message. */
export type WorkerReply =
  | { type: 'ready' }
  | { type: 'failed'; error: SerializedError }
  | { type: 'results'; results: WorkerResult[] };
