/**
 * `openDatabase`: the main entry point. Resolves the replica URL (docs/formats.md §6:
 * `file://` URLs, plain paths, backend URLs, `LITESTREAM_REPLICA_URL` when none is given),
 * connects to the replica (lib/connection/connect.ts: the process's shared reader, the
 * connection's view, writer and SQL surface) and opens SQLite over it in the chosen engine:
 * wa-sqlite's Asyncify build in this thread (vfs/asyncify/) or the worker engine (vfs/worker/).
 */
import { connectLease, connectReplica, ROOTPAGES_SQL, startWarmup, wantsWarmup, type ConnectOptions, type DatabaseReplicaStats, type ReplicaConnection } from '../connection/connect.js';
import type { BridgedView } from '../connection/connection-view.js';
import type { WritablePageSource } from '../read/page-source.js';
import type { WarmupResult } from '../read/warmup.js';
import { hydrationPathFromEnv } from '../hydrate/config.js';
import { attachReadPool, type Database, type DatabaseOptions, type ReadPoolStats } from '../sql/database.js';
import { openAsyncifyDatabase } from '../../vfs/asyncify/database.js';
import { compileAsyncifyModule } from '../../vfs/wasm/wa-sqlite.js';
import { compileSyncModule } from '../../vfs/wasm/wa-sqlite-sync-wasm.js';
import type { TransactionStartSource } from '../../vfs/asyncify/vfs.js';
import type { WorkerEngineOptions } from '../../vfs/worker/database.js';
import { withFreshness, type ReplicaDatabase } from './freshness.js';
import { rejectRenamedOptions } from './renamed-options.js';
import { writerOf } from '../write/writer.js';
import { pooledOpener, readConnectionsOf } from './read-pool.js';

/** Options of {@link openDatabase}: the connection's ({@link ConnectOptions}), the engine's and the Database's. */
export interface OpenOptions extends ConnectOptions, WorkerEngineOptions, DatabaseOptions {
  /**
   * Where SQLite runs (docs/engines.md). `'asyncify'` (default): wa-sqlite's Asyncify build
   * in this thread, the simplest to embed. `'worker'`: wa-sqlite's non-Asyncify build in a
   * worker thread, 2.5–4× faster per query, blocking on page misses through the page
   * bridge while this thread's event loop stays free (options `bridgeTimeoutMs`,
   * `localCacheSizeBytes`, `statementCacheSize`).
   */
  engine?: 'asyncify' | 'worker';
  /**
   * Hydrate the database into this local file in the background and serve reads from it
   * once complete (lib/hydrate/). Default: `LITESTREAM_HYDRATION_PATH` when
   * `LITESTREAM_HYDRATION_ENABLED` is true in `env` (a temp file named after the replica
   * when no path is set), else off. `PRAGMA litestream_hydration_progress` /
   * `litestream_hydration_file` report it.
   */
  hydrate?: string;
  /**
   * Connections the database's reads may use, the primary included (lib/api/read-pool.ts).
   * Default 4 in process, 2 with the worker engine (each worker connection is a thread). Reads made outside a transaction (`SELECT`, `VALUES`, `WITH … SELECT`,
   * statements from `prepare()` that only read) run on the first idle one; read-only
   * connections beside the primary are opened, in the same engine over the same shared
   * reader, when a read finds every open one busy, so a long scan does not hold up point
   * lookups. Writes, transactions, `exec` and PRAGMAs run on the primary; once the primary
   * holds connection state (ATTACH, TEMP objects, `PRAGMA x = …` such as `litestream_time`)
   * every read runs there. 1: no pool, every call on the primary in call order.
   */
  readConnections?: number;
  /**
   * In-process engine: the longest stretch of a statement's work on cached pages before it
   * gives the event loop a turn, ms (default 20; `Infinity` never). Without it a scan whose
   * pages are all cached holds the event loop until it ends (vfs/asyncify/vfs.ts, "Yielding").
   */
  yieldEveryMs?: number;
}

const warmups = new WeakMap<object, Promise<WarmupResult>>();

/** The interior-page warm-up started by `openDatabase(…, { warmInterior: true })`, if any. */
export function warmupOf(db: object): Promise<WarmupResult> | undefined {
  return warmups.get(db);
}

const verifications = new WeakMap<object, () => Promise<void>>();

/**
 * Resolves once every LTX file a database from {@link openDatabase} (either engine) has
 * read pages from is verified against its file checksum (lib/read/verifier.ts); one-shot
 * commands await it before printing. Resolves at once for other objects.
 * @throws LtxvfsError `LTXVFS_ERR_CHECKSUM` naming the file that failed; storage errors that stopped a verification.
 */
export function readVerified(db: object): Promise<void> {
  return verifications.get(db)?.() ?? Promise.resolve();
}

export type { DatabaseReplicaStats } from '../connection/connect.js';

/**
 * Open the database of a Litestream v0.5 replica, read-only, at its newest TXID (kept
 * current by polling) or at `options.at`.
 * @param url `file:///abs/dir`, a plain directory path, `s3://bucket/path?…`, or undefined for `LITESTREAM_REPLICA_URL`.
 * @returns a {@link Database} with the freshness API (lib/api/freshness.ts: `sync`,
 *   `waitForTxid`, `on('version' | 'stale' | 'fresh' | 'corrupt')`); close it to release the replica.
 * @throws LtxvfsError `LTXVFS_ERR_BAD_URL`, `LTXVFS_ERR_NOT_FOUND`, `LTXVFS_ERR_EMPTY_REPLICA`,
 *   `LTXVFS_ERR_TXID_GAP`, `LTXVFS_ERR_OVERLAP`, `LTXVFS_ERR_PAGE_SIZE`, `LTXVFS_ERR_CORRUPT`,
 *   `LTXVFS_ERR_CHECKSUM`, `LTXVFS_ERR_STORAGE`, `LTXVFS_ERR_USAGE` (bad `at`).
 */
export async function openDatabase(url?: string, options: OpenOptions = {}): Promise<ReplicaDatabase> {
  rejectRenamedOptions(options, 'openDatabase');
  // Compile SQLite's wasm (once per process) while the replica is listed (docs/engines.md,
  // "The first query of a process"); a failure surfaces where the engine awaits it.
  void (options.engine === 'worker' ? compileSyncModule() : compileAsyncifyModule());
  // Hydration from the Litestream VFS's environment (docs/formats.md §6.1) applies to both engines.
  const hydrate = options.hydrate ?? hydrationPathFromEnv(options.env ?? process.env, url);
  const readConnections = readConnectionsOf(options.readConnections, options.engine ?? 'asyncify', url ?? 'LITESTREAM_REPLICA_URL');
  if (options.engine === 'worker') {
    // The worker engine and the page bridge load when asked for (lib/api/lazy-entries.ts says why).
    const { openWorkerEngine } = await import('../../vfs/worker/database.js');
    const { db, connection, warmup } = await openWorkerEngine(url, { ...options, hydrate });
    attachReadPool(db, readConnections, pooledOpener(connection, options,
      (lease, o) => connectLease(lease, { ...o, view: 'bridged' }), (pooled) => openPooledWorker(pooled, options)));
    return registered(db, connection, warmup);
  }
  const connection = await connectReplica(url, { ...options, hydrate });
  try {
    const db = await openInProcess(connection, options);
    attachReadPool(db, readConnections, pooledOpener(connection, options,
      (lease, o) => connectLease(lease, o), (pooled) => openInProcess(pooled, options)));
    const warmup = wantsWarmup(connection, options.warmInterior)
      ? startWarmup(connection, (await db.all(ROOTPAGES_SQL)).map((r) => Number(r.rootpage)), options.warmupBudgetBytes)
      : undefined;
    return registered(db, connection, warmup);
  } catch (err) {
    // SQLite's "malformed" at open, explained by the file that failed verification (before the reader closes).
    const error = await connection.explainError(err);
    await connection.release();
    throw error;
  }
}

/** SQLite over `connection` in this thread (vfs/asyncify/): the in-process engine's database; closing it releases the connection. */
async function openInProcess(connection: ReplicaConnection, options: OpenOptions): Promise<Database<DatabaseReplicaStats>> {
  const { view, sink } = connection;
  const source: WritablePageSource & TransactionStartSource = {
    sink,
    beforeTransaction: () => view.beforeTransaction(),
    acquire: () => view.acquire(),
    release: (v) => view.release(v),
    readPage: (v, pgno) => view.readPage(v, pgno),
    readPageInto: (v, pgno, dst) => view.readPageInto(v, pgno, dst),
  };
  return openAsyncifyDatabase(source, {
      writable: connection.writable,
      label: connection.reader.client.url,
      statsProvider: () => connection.stats(),
      onClose: () => connection.release(),
      pragmaHandler: connection.pragma,
      functions: connection.functions,
      intMode: options.intMode,
      yieldEveryMs: options.yieldEveryMs,
      // Every call's error (statements and transactions too): SQLite's "malformed" becomes the integrity failure naming the file.
    explainError: (err) => connection.explainError(err),
  });
}

/** A pooled connection of the worker engine: served over the page bridge to a worker of its own, as vfs/worker/database.ts's `openWorkerEngine` does. */
async function openPooledWorker(connection: ReplicaConnection<BridgedView>, options: OpenOptions): Promise<Database<DatabaseReplicaStats>> {
  const [{ serveReplicaConnection }, { openWorkerDatabase }] = await Promise.all([import('../bridge/served-connection.js'), import('../../vfs/worker/database.js')]);
  const served = serveReplicaConnection(connection);
  return openWorkerDatabase<DatabaseReplicaStats>(served, {
    ...options,
    label: connection.reader.client.url,
    writable: false,
    statsProvider: () => connection.stats(),
    beforeCalls: () => served.view.beforeTransaction(),
    explainError: (err) => connection.explainError(err),
  });
}

/** Keep a new database's warm-up and verification for {@link warmupOf} and {@link readVerified}, and add the freshness API. */
function registered(db: Database<DatabaseReplicaStats>, connection: ReplicaConnection, warmup: Promise<WarmupResult> | undefined): ReplicaDatabase {
  if (warmup !== undefined) warmups.set(db, warmup);
  verifications.set(db, () => connection.reader.verified());
  // attachReadPool has given its stats (`readConnections`, `pooledReads`).
  return withFreshness(db as Database<DatabaseReplicaStats & ReadPoolStats>, connection.reader, () => writerOf(connection.reader));
}
