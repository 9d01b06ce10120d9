/**
 * The worker engine, main-thread side (`openDatabase(url, { engine: 'worker' })`): SQLite
 * (wa-sqlite's non-Asyncify build) runs in a worker thread (vfs/worker/main.ts) at full
 * wasm speed, blocking on page misses through the page bridge; the replica's reader
 * (shared per replica, lib/read/registry.ts), its poller and writer stay on the main thread,
 * which serves the bridge (lib/bridge/page-server.ts) and keeps its event loop free
 * while queries run.
 *
 * {@link WorkerDatabase} has the API of `Database` (all/get/run/exec/query/close/stats):
 * the calls made in one tick go to the worker together, and their results come back
 * together. A batch made while no other call is pending goes on the call lane (shared
 * memory, vfs/worker/call-lane.ts: ~2 µs a round trip when both threads spin), others as
 * one message (~25–50 µs a round trip); errors arrive as `LtxvfsError`s with the same
 * code, `sqliteCode` and `cause` as in process.
 *
 * The worker is `unref`'d unless an answer is awaited asynchronously: an open database
 * does not keep the process alive, as with the in-process engine.
 */
import type { Worker } from 'node:worker_threads';
import { LtxvfsError } from '../../ltx/errors.js';
import { Database, type DatabaseOptions, type DatabaseStats, type IntMode } from '../../lib/sql/database.js';
import { checkIntMode, ENGINE_METHODS, type EngineOps } from '../../lib/sql/statement.js';
import { CONTROL_BYTES, CTL, deserializeError, type SerializedError, DEFAULT_BRIDGE_TIMEOUT_MS, newChannelBuffer, STATE } from '../../lib/bridge/protocol.js';
import { ChannelServer } from '../../lib/bridge/page-server.js';
import { serveReplicaConnection } from '../../lib/bridge/served-connection.js';
import { connectReplica, ROOTPAGES_SQL, startWarmup, wantsWarmup, type ConnectOptions, type DatabaseReplicaStats, type ReplicaConnection } from '../../lib/connection/connect.js';
import type { WarmupResult } from '../../lib/read/warmup.js';
import { siblingModule, spawnWorker } from '../../lib/bridge/spawn-worker.js';
import type { ServedConnection } from '../../lib/bridge/page-server.js';
import { DEFAULT_LOCAL_CACHE_BYTES, type BridgeClientCounters } from '../bridge/client.js';
import type { WorkerCall, WorkerCalls, WorkerInit, WorkerReply, WorkerResult } from './protocol.js';
import type { HydratedFileSpec } from '../bridge/hydrated-file.js';
import { DEFAULT_SPIN_MICROS, LaneMain, newLaneBuffer, type LaneOutcome } from './call-lane.js';
import { compileSyncModule } from '../wasm/wa-sqlite-sync-wasm.js';
import { IN_BUNDLE } from '../../ltx/bundled.js';

/** Options of the worker engine (also `openDatabase` options). */
export interface WorkerEngineOptions {
  /**
   * Longest time the SQLite thread waits for one answer of the main thread (a page, a
   * commit, a PRAGMA), ms; past it the query fails with `LTXVFS_ERR_STORAGE` behind
   * SQLITE_IOERR. Default 45,000 (longer than the S3 client's retry budget).
   */
  bridgeTimeoutMs?: number;
  /**
   * Bytes of the worker's own page cache, in front of the reader's (a hit costs no thread
   * crossing). Default 64 MiB. The pages it holds are also in the reader's cache while
   * they are recent there, so a worker connection can cost up to twice the page bytes.
   */
  localCacheSizeBytes?: number;
  /** Prepared statements kept in the worker (default 64). */
  statementCacheSize?: number;
  /**
   * µs each thread spins on the call lane before it blocks: the worker waiting for the
   * next call after a batch, this thread waiting for a result. Default 50 (see
   * vfs/worker/call-lane.ts): a lone warm lookup then costs ~2 µs of crossing instead of
   * ~25–50 µs, and a long query costs this thread at most 50 µs of spinning per call.
   * 0 turns spinning off (both threads block at once; crossings cost ~25 µs).
   */
  spinMicros?: number;
}

/** Bridge and worker-cache counters of a worker connection (for tests and diagnostics). */
export interface WorkerCounters extends BridgeClientCounters {
  /** Bytes of pages in the worker's cache. */
  localCacheBytes: number;
  localCacheHits: number;
  localCacheMisses: number;
  /** Requests the main thread answered. */
  served: number;
  /** Batches of calls sent on the call lane (vfs/worker/call-lane.ts). */
  laneBatches: number;
  /** Batches of calls sent as messages. */
  messageBatches: number;
}

/** Options of {@link openWorkerDatabase}. */
export interface WorkerDatabaseOptions<S extends DatabaseStats> extends WorkerEngineOptions, DatabaseOptions {
  /** Name of the database in SQLite and in messages. */
  label: string;
  /** Open read-write (the served connection's sink decides what may be written). */
  writable: boolean;
  statsProvider: () => S;
  /**
   * Called before a batch of calls goes to the worker; a promise it returns (never
   * rejecting) is waited for first. `openDatabase` gives the replica poller's check
   * (`Poller.beforeTransaction`): a due poll runs before the queries, which otherwise
   * never give this thread's event loop a turn when the call lane answers while spinning.
   */
  beforeCalls?: () => Promise<void> | undefined;
  /**
   * What a failed call (or the open) reports instead of its error; never rejects.
   * `openDatabase` gives the verifier's `explainFailure`: SQLite's "malformed" becomes
   * the integrity failure naming the file, once the verification of the files read completes.
   */
  explainError?: (err: unknown) => Promise<unknown>;
  /** The reader's hydrated file: the worker reads its pages in place while it holds the connection's version. */
  hydrated?: HydratedFileSpec;
}


/** The operations the worker runs for the main thread's lock (lib/sql/statement.ts `EngineOps`, less `close`). */
const FORWARDED = ENGINE_METHODS.filter((m): m is Exclude<typeof m, 'close'> => m !== 'close');

/**
 * A Database whose SQLite runs in a worker thread. Create it with `openDatabase(url, { engine: 'worker' })`.
 * The lock, transactions and statement objects are the Database's, on this thread; each
 * engine operation (lib/sql/statement.ts `EngineOps`) is a call to the worker, where prepared
 * statements live under their handle ids.
 */
export class WorkerDatabase<S extends DatabaseStats = DatabaseStats> extends Database<S> {
  readonly #worker: Worker;
  readonly #server: ChannelServer;
  readonly #lane: LaneMain;
  readonly #beforeCalls: (() => Promise<void> | undefined) | undefined;
  readonly #explainError: ((err: unknown) => Promise<unknown>) | undefined;
  readonly #pending = new Map<number, { resolve: (value: unknown) => void; reject: (err: unknown) => void }>();
  /** Calls made in this tick, sent together at its end (one message however many). */
  #outbox: WorkerCall[] = [];
  #nextId = 1;
  #refd = false;
  #laneBatches = 0;
  #messageBatches = 0;
  #shutdown: Promise<void> | undefined;
  /** `close()` waiting for the calls already made to be answered. */
  readonly #drained: (() => void)[] = [];
  #gone: Error | undefined;

  /** @internal Use {@link openWorkerDatabase}. */
  constructor(
    worker: Worker, server: ChannelServer, lane: LaneMain, statsProvider: () => S,
    beforeCalls?: () => Promise<void> | undefined, explainError?: (err: unknown) => Promise<unknown>,
    intMode?: IntMode,
  ) {
    const ops = {} as Record<keyof EngineOps, unknown>;
    super({ ops: ops as unknown as EngineOps, statsProvider, intMode });
    for (const method of FORWARDED) {
      ops[method] = (...args: unknown[]) => this.#call({ type: 'call', id: 0, method, args });
    }
    ops.close = () => this.#close();
    this.#worker = worker;
    this.#server = server;
    this.#lane = lane;
    this.#beforeCalls = beforeCalls;
    this.#explainError = explainError;
    worker.on('message', (reply: WorkerReply) => {
      if (reply.type === 'results') this.#deliver(reply.results);
    });
    worker.on('error', (err) => this.#lost(err));
    worker.on('exit', (code) => this.#lost(new LtxvfsError('LTXVFS_ERR_CLOSED', `the SQLite worker thread exited (code ${code})`)));
  }

  /** The bridge and worker-cache counters (one message to the worker). */
  counters(): Promise<WorkerCounters> {
    if (this.closed) return Promise.reject(new LtxvfsError('LTXVFS_ERR_CLOSED', 'the database is closed'));
    return this.#call<Omit<WorkerCounters, 'served' | 'laneBatches' | 'messageBatches'>>({ type: 'call', id: 0, method: 'counters' })
      .then((c) => ({ ...c, served: this.#server.counters.requests, laneBatches: this.#laneBatches, messageBatches: this.#messageBatches }));
  }

  /** Close the connection in the worker (after the calls already made), stop the worker, release the replica. Idempotent. */
  #close(): Promise<void> {
    this.#shutdown ??= (async () => {
      try {
        // The calls already made answer first: those on the call lane and the close message
        // travel apart, and the worker is terminated once the close is answered.
        while (this.#pending.size > 0 && this.#gone === undefined) await new Promise<void>((resolve) => this.#drained.push(resolve));
        if (this.#gone === undefined) await this.#send<void>({ type: 'close', id: 0 });
      } finally {
        this.#lane.abandon();
        await this.#worker.terminate().catch(() => undefined);
        await this.#server.close();
      }
    })();
    return this.#shutdown;
  }

  #call<T>(call: WorkerCall): Promise<T> {
    const explain = this.#explainError;
    if (explain === undefined) return this.#send<T>(call);
    return this.#send<T>(call).catch(async (err: unknown) => {
      throw await explain(err);
    });
  }

  #send<T>(call: WorkerCall): Promise<T> {
    if (this.#gone !== undefined) return Promise.reject(this.#gone);
    const id = this.#nextId++;
    return new Promise<T>((resolve, reject) => {
      this.#pending.set(id, { resolve: resolve as (value: unknown) => void, reject });
      if (this.#outbox.length === 0) {
        const wait = this.#beforeCalls?.();
        if (wait === undefined) queueMicrotask(() => this.#flush());
        else void wait.then(() => this.#flush());
      }
      this.#outbox.push({ ...call, id });
    });
  }

  #flush(): void {
    const calls = this.#outbox;
    this.#outbox = [];
    if (this.#gone !== undefined) return;
    // The lane only when nothing else is pending: a call in a message not yet read must
    // not be overtaken.
    if (this.#pending.size === calls.length && this.#lane.tryPost(calls)) {
      this.#laneBatches++;
      const outcome = this.#lane.collect();
      if (outcome instanceof Promise) {
        this.#ref();
        void outcome.then((o) => this.#landed(o));
      } else this.#landed(outcome);
      return;
    }
    this.#ref();
    const message: WorkerCalls = { type: 'calls', calls };
    this.#lane.noteMessage();
    this.#messageBatches++;
    this.#worker.postMessage(message);
  }

  #landed(outcome: LaneOutcome): void {
    if (outcome.kind === 'results') this.#deliver(outcome.results);
    else if (outcome.kind === 'by-message') this.#ref(); // they did not fit the lane
  }

  #deliver(results: readonly WorkerResult[]): void {
    for (const result of results) {
      const waiter = this.#pending.get(result.id);
      if (waiter === undefined) continue;
      this.#settled(result.id);
      if (result.type === 'result') waiter.resolve(result.value);
      else waiter.reject(workerError(result.error));
    }
  }

  /** Keep the process alive while an answer is awaited asynchronously (a lane call answered while spinning needs no ref). */
  #ref(): void {
    if (this.#refd) return;
    this.#refd = true;
    this.#worker.ref();
  }

  #settled(id: number): void {
    this.#pending.delete(id);
    if (this.#pending.size === 0) {
      for (const resolve of this.#drained.splice(0)) resolve();
      if (this.#refd) {
        this.#refd = false;
        this.#worker.unref();
      }
    }
  }

  #lost(err: Error): void {
    this.#gone ??= err;
    for (const resolve of this.#drained.splice(0)) resolve();
    this.#lane.abandon();
    for (const [id, waiter] of this.#pending) {
      this.#settled(id);
      waiter.reject(this.#gone);
    }
    // The worker is gone: its error is what the calls get; close() (awaited by the user) reports the release's.
    void this.#server.close().catch(() => undefined);
  }
}

/** An error from the worker as thrown there: a `RangeError` (an unsafe integer in `intMode` `'number'`) stays one. */
function workerError(error: SerializedError): Error {
  const err = deserializeError(error);
  return err.name === 'RangeError' ? new RangeError(err.message) : err;
}

/**
 * Start a worker engine over a served connection: spawn the worker, serve its bridge
 * channel from this thread, open the database there and read its schema.
 * The served connection is closed when the database closes, or when the open fails.
 * @throws LtxvfsError `LTXVFS_ERR_SQLITE` (SQLite cannot open or read the database; `cause`
 *   the error behind it, e.g. `LTXVFS_ERR_STORAGE` or `LTXVFS_ERR_CORRUPT`).
 */
export async function openWorkerDatabase<S extends DatabaseStats>(
  served: ServedConnection,
  options: WorkerDatabaseOptions<S>,
): Promise<WorkerDatabase<S>> {
  const buffer = newChannelBuffer();
  const { port1, port2 } = new MessageChannel();
  const server = new ChannelServer({ buffer, port: port1 }, served);
  port1.unref();
  const spinMicros = options.spinMicros ?? DEFAULT_SPIN_MICROS;
  const laneBuffer = newLaneBuffer();
  const init: WorkerInit = {
    lane: laneBuffer,
    spinMicros,
    buffer,
    port: port2,
    label: options.label,
    writable: options.writable,
    timeoutMs: options.bridgeTimeoutMs ?? DEFAULT_BRIDGE_TIMEOUT_MS,
    localCacheSizeBytes: options.localCacheSizeBytes ?? DEFAULT_LOCAL_CACHE_BYTES,
    statementCacheSize: options.statementCacheSize,
    functions: (served.functions ?? []).map((f) => ({ name: f.name, nArgs: f.nArgs, directOnly: f.directOnly })),
    wasmModule: await compileSyncModule(),
    hydrated: options.hydrated,
  };
  // The thread's module as text, only inside an app's bundle (docs/deploy.md): 325 KB that an installed package need not parse.
  const embedded = IN_BUNDLE ? (await import('./main-embedded.js')).EMBEDDED : undefined;
  let worker: Worker;
  try {
    worker = spawnWorker(siblingModule(import.meta.url, 'main'), { workerData: init, transferList: [port2] }, embedded);
  } catch (err) {
    await server.close();
    throw err;
  }
  try {
    await new Promise<void>((resolve, reject) => {
      const onMessage = (reply: WorkerReply): void => {
        if (reply.type === 'ready') done(undefined);
        else if (reply.type === 'failed') done(deserializeError(reply.error));
      };
      const onError = (err: Error): void => done(err);
      const onExit = (code: number): void => done(new LtxvfsError('LTXVFS_ERR_CLOSED', `the SQLite worker thread exited (code ${code}) while opening`));
      const done = (err: Error | undefined): void => {
        worker.off('message', onMessage);
        worker.off('error', onError);
        worker.off('exit', onExit);
        if (err === undefined) resolve();
        else reject(err);
      };
      worker.on('message', onMessage);
      worker.on('error', onError);
      worker.on('exit', onExit);
    });
  } catch (err) {
    // Explained before the server closes: closing may close the reader whose verification explains it.
    const error = options.explainError === undefined ? err : await options.explainError(err);
    await worker.terminate().catch(() => undefined);
    await server.close();
    throw error;
  }
  worker.unref();
  // A worker waiting on the page bridge needs this thread's event loop: stop spinning.
  const ctl = new Int32Array(buffer, 0, CONTROL_BYTES / 4);
  const lane = new LaneMain(laneBuffer, undefined, spinMicros, () => Atomics.load(ctl, CTL.STATE) === STATE.WAITING);
  return new WorkerDatabase<S>(worker, server, lane, options.statsProvider, options.beforeCalls, options.explainError, options.intMode);
}

/**
 * `openDatabase` with `engine: 'worker'`: connect to the replica (lib/connection/connect.ts:
 * the shared reader, the connection's view, writer and SQL surface, as in process), serve
 * the connection over the page bridge and open it in a worker. Returns the database, the
 * connection, and with `warmInterior` the warm-up.
 * @throws as `connectReplica`, and what opening the worker throws; nothing stays open after a failure.
 */
export async function openWorkerEngine(
  url: string | undefined,
  options: ConnectOptions & WorkerEngineOptions & DatabaseOptions,
): Promise<{ db: Database<DatabaseReplicaStats>; connection: ReplicaConnection; warmup: Promise<WarmupResult> | undefined }> {
  // Before anything is opened: a bad option fails without a worker to stop.
  if (options.intMode !== undefined) checkIntMode(options.intMode, `${url ?? 'LITESTREAM_REPLICA_URL'}: open`);
  const connection = await connectReplica(url, { ...options, view: 'bridged' });
  const served = serveReplicaConnection(connection);
  const view = served.view;
  const hydrator = connection.reader.hydration;
  const db = await openWorkerDatabase<DatabaseReplicaStats>(served, {
    ...options,
    label: connection.reader.client.url,
    writable: connection.writable,
    statsProvider: () => connection.stats(),
    beforeCalls: () => view.beforeTransaction(),
    explainError: (err) => connection.explainError(err),
    hydrated: hydrator === undefined ? undefined : { path: hydrator.path, publication: hydrator.publication.buffer },
  });
  const warmup = wantsWarmup(connection, options.warmInterior)
    ? startWarmup(connection, (await db.all(ROOTPAGES_SQL)).map((r) => Number(r.rootpage)), options.warmupBudgetBytes)
    : undefined;
  return { db, connection, warmup };
}
