/**
 * `openDatabase`: the main entry point. Resolves the replica URL (docs/formats.md §6:
 * `file://` URLs, plain paths, `LITESTREAM_REPLICA_URL` when none is given), joins the
 * process's shared reader of that replica (lib/read/registry.ts), and runs SQLite (wa-sqlite's
 * Asyncify build) over the connection's own view of it, with the Litestream SQL surface
 * (`PRAGMA litestream_*`, `litestream_*()` functions).
 */
import type { ReplicaReaderOptions, ReplicaStats } from '../read/replica-reader.js';
import type { BackendOptions } from '../storage/url.js';
import { acquireReader } from '../read/registry.js';
import { ConnectionView } from '../connection/connection-view.js';
import { litestreamFunctions, litestreamPragma } from '../connection/sql-surface.js';
import { writerFor, type WriterOptions } from '../write/writer.js';
import { ConnectionSink, leasePragma } from '../write/write-sink.js';
import type { WritablePageSource } from '../read/page-source.js';
import { openAsyncifyDatabase } from '../../vfs/asyncify/database.js';
import type { TransactionStartSource } from '../../vfs/asyncify/vfs.js';
import type { DatabaseOptions } from '../sql/database.js';
import { warmInteriorPages, type WarmupResult } from '../read/warmup.js';
import { hydrationPathFromEnv, hydrationPragma } from '../hydrate/index.js';
import { openWorkerEngine, type WorkerEngineOptions } from '../../vfs/worker/database.js';
import { explainFailure } from '../read/verifier.js';
import { withFreshness, type DatabaseReplicaStats, type ReplicaDatabase } from './freshness.js';
import { rejectRenamedOptions } from './renamed-options.js';

/** Options of {@link openDatabase}. */
export interface OpenOptions extends ReplicaReaderOptions, WriterOptions, WorkerEngineOptions, DatabaseOptions, BackendOptions {
  /**
   * Where SQLite runs (docs/engines.md). `'asyncify'` (default): wa-sqlite's Asyncify build
   * in this thread, the simplest to embed. `'worker'`: wa-sqlite's non-Asyncify build in a
   * worker thread, 2.5–4× faster per query, blocking on page misses through the page
   * bridge while this thread's event loop stays free (options `bridgeTimeoutMs`,
   * `localCacheSizeBytes`, `statementCacheSize`).
   */
  engine?: 'asyncify' | 'worker';
  /** Environment to read `LITESTREAM_REPLICA_URL` and the S3 settings (docs/formats.md §6) from. Default `process.env`. */
  env?: NodeJS.ProcessEnv;
  /** Share the replica's reader (cache, fetcher, poller) with other connections in this process. Default true. */
  shared?: boolean;
  /** Open at a past state: a TXID (decimal or 16 hex digits) or a time (docs/formats.md §6.2). */
  at?: string;
  /**
   * Read every interior B-tree page in the background after open (lib/read/warmup.ts), so cold
   * point lookups cost about one round trip. Default: on when the storage client's
   * `capabilities.latency` is `'remote'` (s3://), off for `'local'` ones (directories).
   * It reads ~1–2% of the database up front (one request per interior page), which pays
   * on object storage (tens of ms a round trip: bench, cold point lookups 3 → 1 request)
   * and rarely on a local directory. {@link warmupOf} gives its result.
   */
  warmInterior?: boolean;
  /**
   * Open read-only: no writes, no lease. Default false: connections may write once they
   * hold the replica's lease (`PRAGMA litevfs_acquire_lease`, or `autoLease`). A time-travel
   * open (`at`) is always read-only.
   */
  readOnly?: boolean;
  /** Create the replica (directory) if it does not exist, and open an empty replica as a new database. Default false. */
  create?: boolean;
  /**
   * Hydrate the database into this local file in the background and serve reads from it
   * once complete (lib/hydrate/). Default: `LITESTREAM_HYDRATION_PATH` when
   * `LITESTREAM_HYDRATION_ENABLED` is true in `env` (a temp file named after the replica
   * when no path is set), else off. `PRAGMA litestream_hydration_progress` /
   * `litestream_hydration_file` report it.
   */
  hydrate?: string;
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

export type { DatabaseReplicaStats } from './freshness.js';

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
  // Hydration from the Litestream VFS's environment (docs/formats.md §6.1) applies to both engines.
  const hydrate = options.hydrate ?? hydrationPathFromEnv(options.env ?? process.env, url);
  if (options.engine === 'worker') {
    const { db, warmup, verified, reader } = await openWorkerEngine(url, { ...options, hydrate });
    if (warmup !== undefined) warmups.set(db, warmup);
    verifications.set(db, verified);
    return withFreshness(db, reader);
  }
  const writable = options.readOnly !== true && options.at === undefined;
  const lease = await acquireReader(url, {
    ...options,
    hydrate,
    allowEmpty: (writable && options.create === true) || options.allowEmpty,
  });
  const { reader } = lease;
  const view = new ConnectionView(reader);
  const writer = writable ? writerFor(reader, options) : undefined;
  const sink = writer === undefined ? undefined : new ConnectionSink(view, writer);
  const source: WritablePageSource & TransactionStartSource = {
    sink,
    beforeTransaction: () => view.beforeTransaction(),
    acquire: () => view.acquire(),
    release: (v) => view.release(v),
    readPage: (v, pgno) => view.readPage(v, pgno),
    readPageInto: (v, pgno, dst) => view.readPageInto(v, pgno, dst),
  };
  const litestream = litestreamPragma(view);
  const leases = writer === undefined ? undefined : leasePragma(writer, view);
  const hydration = hydrationPragma(() => reader.hydration);
  try {
    if (options.at !== undefined) await view.setAt(options.at);
    const db = await openAsyncifyDatabase(source, {
      writable,
      label: reader.client.url,
      statsProvider: () => ({ ...reader.stats(), txid: view.version.txid, timeTravel: view.target !== undefined }),
      onClose: () => lease.release(),
      pragmaHandler: (name, value) => leases?.(name) ?? hydration(name, value) ?? litestream(name, value),
      functions: litestreamFunctions(view),
      intMode: options.intMode,
      // Every call's error (statements and transactions too): SQLite's "malformed" becomes the integrity failure naming the file.
      explainError: (err) => explainFailure(err, reader),
    });
    verifications.set(db, () => reader.verified());
    if (options.warmInterior ?? reader.client.capabilities.latency === 'remote') {
      const rows = await db.all('SELECT rootpage FROM sqlite_schema WHERE rootpage > 0');
      const roots = [1, ...rows.map((r) => Number(r.rootpage))];
      warmups.set(db, warmInteriorPages(reader, view.version, roots));
    }
    return withFreshness(db, reader);
  } catch (err) {
    // SQLite's "malformed" at open, explained by the file that failed verification (before the reader closes).
    const error = await explainFailure(err, reader);
    await lease.release();
    throw error;
  }
}

