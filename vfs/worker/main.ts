/**
 * The SQLite thread of the worker engine: wa-sqlite's non-Asyncify build with
 * {@link LtxSyncVFS} over a {@link BridgeClient}, and the Database API (lib/sql/database.ts)
 * over that connection. The main thread (vfs/worker/database.ts) sends the API calls
 * ({@link WorkerCall}) and gets rows back; pages, versions, commits, PRAGMAs and the
 * Litestream functions go through the page bridge to the main thread's reader.
 *
 * Started with `workerData` = {@link WorkerInit}. Answers `ready` or `failed` first. Calls
 * arrive as messages or on the call lane (vfs/worker/call-lane.ts).
 */
import { parentPort, workerData } from 'node:worker_threads';
import * as SQLite from '@journeyapps/wa-sqlite';
import { LtxvfsError } from '../../ltx/errors.js';
import { Database, engineOpsOf } from '../../lib/sql/database.js';
import { serializeError } from '../../lib/bridge/protocol.js';
import type { SqlArg } from '../../lib/connection/sql-surface.js';
import { BridgeClient } from '../bridge/client.js';
import { registerFunction } from '../core/sql-functions.js';
import { SQLITE_CACHE_PRAGMA } from '../core/sqlite-cache.js';
import { withEmptyBlobs } from '../wasm/wa-sqlite.js';
import { loadSyncModule } from '../wasm/wa-sqlite-sync.js';
import { LtxSyncVFS } from './vfs.js';
import { installVfsDispatch } from '../core/vfs-dispatch.js';
import { LaneWorker } from './call-lane.js';
import type { WorkerCall, WorkerCalls, WorkerInit, WorkerReply, WorkerResult } from './protocol.js';

const SQLITE_OPEN_EXRESCODE = 0x0200_0000;

const init = workerData as WorkerInit;
const port = parentPort!;
const reply = (message: WorkerReply): void => port.postMessage(message);

const lane = new LaneWorker(init.lane, undefined, init.spinMicros);
const client = new BridgeClient({ buffer: init.buffer, port: init.port }, {
  timeoutMs: init.timeoutMs,
  localCacheSizeBytes: init.localCacheSizeBytes,
  label: init.label,
  hydrated: init.hydrated,
});

async function open(): Promise<{ database: Database; vfs: LtxSyncVFS }> {
  const { module, sqlite3 } = await loadSyncModule(init.wasmModule);
  const vfs = new LtxSyncVFS(module, {
    pragmaHandler: (name, value, inTransaction) => client.pragma(name, value, inTransaction),
  });
  sqlite3.vfs_register(vfs, false);
  installVfsDispatch(module, vfs);
  vfs.addDatabase(init.label, client, init.writable ? client : undefined);
  let db: number;
  try {
    const access = init.writable ? SQLite.SQLITE_OPEN_READWRITE | SQLite.SQLITE_OPEN_CREATE : SQLite.SQLITE_OPEN_READONLY;
    db = await sqlite3.open_v2(init.label, access | SQLITE_OPEN_EXRESCODE, vfs.name);
    await sqlite3.exec(db, SQLITE_CACHE_PRAGMA); // vfs/core/sqlite-cache.ts
  } catch (err) {
    const e = err as { message: string; code: number };
    throw new LtxvfsError('LTXVFS_ERR_SQLITE', `${init.label}: open database: ${e.message}`, {
      key: init.label, sqliteCode: e.code, cause: vfs.takeLastError() ?? err,
    });
  }
  for (const f of init.functions) {
    registerFunction(sqlite3, module, db, {
      ...f,
      call: (args: SqlArg[]) => client.callFunction(f.name, args, vfs.inTransaction),
    });
  }
  const database = new Database({
    sqlite3: withEmptyBlobs(sqlite3, module),
    db,
    vfs,
    statsProvider: () => ({ pagesFetched: 0, bytesRead: 0, readRequests: 0, cacheHits: 0, cacheMisses: 0, cacheBytes: 0, txid: 0 }),
    statementCacheSize: init.statementCacheSize,
    onClose: () => client.close(),
  });
  try {
    await database.get('SELECT 1 FROM sqlite_schema LIMIT 1');
  } catch (err) {
    await database.close().catch(() => undefined);
    const e = err as LtxvfsError;
    throw new LtxvfsError(e.code ?? 'LTXVFS_ERR_SQLITE', `${init.label}: ${e.message}`, { key: init.label, cause: e.cause, sqliteCode: e.sqliteCode });
  }
  return { database, vfs };
}

async function run(database: Database, call: WorkerCall): Promise<unknown> {
  if (call.type === 'close') return database.close();
  if (call.method === 'counters') {
    return { ...client.counters, localCacheBytes: client.cache.bytes, localCacheHits: client.cache.hits, localCacheMisses: client.cache.misses };
  }
  const ops = engineOpsOf(database);
  const op = ops[call.method] as ((...args: unknown[]) => Promise<unknown>) | undefined;
  if (typeof op !== 'function' || !Object.hasOwn(Object.getPrototypeOf(ops) as object, call.method)) {
    throw new LtxvfsError('LTXVFS_ERR_USAGE', `unknown call ${String(call.method)}`);
  }
  return op.apply(ops, call.args);
}

/** The answers to one batch, in order. The engine operations run one after the other, in the order called. */
function runBatch(database: Database, calls: readonly WorkerCall[]): Promise<WorkerResult[]> {
  const answer = (call: WorkerCall): Promise<WorkerResult> => run(database, call).then(
    (value): WorkerResult => (value === undefined ? { type: 'result', id: call.id } : { type: 'result', id: call.id, value }),
    (err: unknown): WorkerResult => ({ type: 'error', id: call.id, error: serializeError(err) }),
  );
  // A lone call (the common case on the lane) without Promise.all.
  return calls.length === 1 ? answer(calls[0]).then((r) => [r]) : Promise.all(calls.map(answer));
}

let listening = false;
let closed = false;

/**
 * Serve the call lane until a message waits (vfs/worker/call-lane.ts): between batches
 * this thread spins or blocks on the lane instead of returning to its event loop, which
 * then only has messages to deliver.
 */
async function serveLane(database: Database): Promise<void> {
  if (listening) return;
  listening = true;
  try {
    while (!closed) {
      const next = lane.listen();
      if (next === undefined) return;
      closed ||= next.some((c) => c.type === 'close');
      const results = await runBatch(database, next);
      if (!lane.answer(results)) reply({ type: 'results', results });
    }
  } finally {
    listening = false;
  }
}

/** Answer a batch that came as a message, then go back to the lane. */
async function serveMessage(database: Database, calls: readonly WorkerCall[]): Promise<void> {
  closed ||= calls.some((c) => c.type === 'close');
  const results = await runBatch(database, calls);
  // Open the lane before the answer goes: the caller's next call may come at once.
  if (!closed) lane.open();
  reply({ type: 'results', results });
  void serveLane(database);
}

open().then(
  ({ database }) => {
    port.on('message', (message: WorkerCalls) => {
      lane.mailRead();
      void serveMessage(database, message.calls);
    });
    lane.open();
    reply({ type: 'ready' });
    void serveLane(database);
  },
  (err: unknown) => {
    client.close();
    reply({ type: 'failed', error: serializeError(err) });
  },
);
