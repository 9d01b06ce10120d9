/**
 * `connectReplica()`: one connection to a replica, the same for every engine (issue 13
 * item 2) — the in-process engine (lib/api/open.ts), the worker engine (vfs/worker/) and
 * the sql.js engine's fetch thread (lib/bridge/fetch-worker.ts) all open connections here:
 *
 * 1. join the replica's shared reader (lib/read/registry.ts: one page cache, fetcher and
 *    poller per replica URL per process), allowing an empty replica only to a writer that
 *    creates it;
 * 2. a per-connection {@link ConnectionView} (its pinned version, time travel with `at`);
 * 3. when writable, the replica's writer behind a {@link ConnectionSink} (lease, commit);
 * 4. the SQL surface: the `litestream_*`, `litevfs_*` lease and hydration PRAGMAs and the
 *    Litestream SQL functions (docs/formats.md §6.1);
 * 5. stats, the explanation of SQLite's "malformed" by the file that failed verification,
 *    and the release of the reader.
 *
 * The engine then opens SQLite over the connection's view (its VFS or the page bridge);
 * {@link startWarmup} is the interior-page warm-up every engine starts after open
 * ({@link wantsWarmup}).
 */
import type { ReaderLease } from '../read/registry.js';
import { acquireReader } from '../read/registry.js';
import type { ReplicaReader, ReplicaReaderOptions, ReplicaStats } from '../read/replica-reader.js';
import { explainFailure } from '../read/verifier.js';
import { warmInteriorPages, type WarmupResult } from '../read/warmup.js';
import type { BackendOptions } from '../storage/url.js';
import { LtxvfsError } from '../../ltx/errors.js';
import { writerFor, type ReplicaWriter, type WriterOptions } from '../write/writer.js';
import type { WriteBehindStats } from '../write/write-behind.js';
import { ConnectionSink, leasePragma } from '../write/write-sink.js';
import { hydrationPragma } from '../hydrate/pragma.js';
import { BridgedView, ConnectionView } from './connection-view.js';
import { litestreamFunctions, litestreamPragma, type SqlFunctionSpec } from './sql-surface.js';

/** What `Database.stats()` returns for a replica database: the reader's counters and the view's TXID. */
export interface DatabaseReplicaStats extends ReplicaStats {
  /** True while the connection is fixed at a past state. */
  timeTravel: boolean;
  /** With `writeBehind`: the upload queue (staged files and bytes, uploads, the failure that stopped it). */
  writeBehind?: WriteBehindStats;
}

/** Options of {@link connectReplica}: the replica, its reader, the writer and the connection's view. */
export interface ConnectOptions extends ReplicaReaderOptions, WriterOptions, BackendOptions {
  /** Environment to read `LITESTREAM_REPLICA_URL` and the backend's settings (docs/formats.md §6) from. Default `process.env`. */
  env?: NodeJS.ProcessEnv;
  /** Share the replica's reader (cache, fetcher, poller) with other connections in this process. Default true. */
  shared?: boolean;
  /** Open at a past state: a TXID (decimal or 16 hex digits) or a time (docs/formats.md §6.2). */
  at?: string;
  /**
   * Read every interior B-tree page in the background after open (lib/read/warmup.ts), so cold
   * point lookups cost about one round trip. Default: on when the storage client's
   * `capabilities.latency` is `'remote'` (object storage), off for `'local'` ones (directories).
   * It reads ~1–2% of the database up front (one request per interior page), which pays
   * on object storage (tens of ms a round trip: bench, cold point lookups 3 → 1 request)
   * and rarely on a local directory. `warmupOf(db)` gives its result.
   */
  warmInterior?: boolean;
  /**
   * Bytes of interior pages the warm-up may read, top B-tree levels first (lib/read/warmup.ts).
   * Default `DEFAULT_WARMUP_BUDGET_BYTES` (4 MiB).
   */
  warmupBudgetBytes?: number;
  /**
   * Open read-only: no writes, no lease. Default false: connections may write once they
   * hold the replica's lease (`PRAGMA litevfs_acquire_lease`, or `autoLease`). A time-travel
   * open (`at`) is always read-only.
   */
  readOnly?: boolean;
  /** Create the replica (directory) if it does not exist, and open an empty replica as a new database. Default false. */
  create?: boolean;
}

/** A PRAGMA handler of the SQL surface: a result, `null` for no rows, `undefined` when the PRAGMA is not ours. */
export type SurfacePragma = (name: string, value: string | null) => string | null | undefined | Promise<null>;

/** One connection to a replica, for an engine to open SQLite over. */
export interface ReplicaConnection<V extends ConnectionView = ConnectionView> {
  /** The replica's shared reader. */
  readonly reader: ReplicaReader;
  /** The connection's view of the reader (pinned version, time travel). */
  readonly view: V;
  /** Whether the connection accepts writes (with the lease): not read-only and not at a past state. */
  readonly writable: boolean;
  /** Where the connection's committed transactions go (the replica's writer), when writable. */
  readonly sink: ConnectionSink | undefined;
  /** The Litestream SQL functions (`litestream_txid()`, …) to register on the connection. */
  readonly functions: SqlFunctionSpec[];
  /** The SQL surface's PRAGMAs: lease, hydration, then `litestream_*`. */
  readonly pragma: SurfacePragma;
  /** The reader's counters with the view's TXID. */
  stats(): DatabaseReplicaStats;
  /** What a failed call reports: SQLite's "malformed" becomes the integrity failure naming the LTX file; never rejects. */
  explainError(err: unknown): Promise<unknown>;
  /**
   * Give the reader back (idempotent), once the commits this process acknowledged are in
   * the replica (`writeBehind`: lib/write/write-behind.ts).
   * @throws LtxvfsError the write-behind upload failure, after the reader is given back.
   */
  release(): Promise<void>;
}

/** Which view a connection gets: `'local'` for an engine in this thread, `'bridged'` for one behind the page bridge. */
export type ViewKind = 'local' | 'bridged';

/**
 * Connect to the replica at `url`: join its shared reader and wire a connection over it
 * (module doc). Release it with `release()` (or hand that to the database's close).
 * @param url `file:///abs/dir`, a directory path, a backend URL (`s3://…`, lib/storage/replica-url.ts), or undefined for `LITESTREAM_REPLICA_URL`.
 * @throws LtxvfsError as `openReplicaClient` and `ReplicaReader.open` (`LTXVFS_ERR_BAD_URL`,
 *   `LTXVFS_ERR_NOT_FOUND`, `LTXVFS_ERR_EMPTY_REPLICA`, `LTXVFS_ERR_TXID_GAP`, …, storage
 *   errors), and `LTXVFS_ERR_USAGE` for a bad `at`; nothing stays acquired after a failure.
 */
export async function connectReplica(url: string | undefined, options: ConnectOptions & { view: 'bridged' }): Promise<ReplicaConnection<BridgedView>>;
export async function connectReplica(url: string | undefined, options?: ConnectOptions & { view?: ViewKind }): Promise<ReplicaConnection>;
export async function connectReplica(url: string | undefined, options: ConnectOptions & { view?: ViewKind } = {}): Promise<ReplicaConnection> {
  const writable = isWritable(options);
  const lease = await acquireReader(url, {
    ...options,
    allowEmpty: (writable && options.create === true) || options.allowEmpty,
  });
  return connectLease(lease, options);
}

/**
 * {@link connectReplica} over a reader already held (`lease`), which the connection's
 * `release()` gives back — also on failure here.
 * @throws LtxvfsError `LTXVFS_ERR_USAGE` (bad `at`), `LTXVFS_ERR_EMPTY_REPLICA` (`at` before the history), storage errors.
 */
export async function connectLease(lease: ReaderLease, options: ConnectOptions & { view: 'bridged' }): Promise<ReplicaConnection<BridgedView>>;
export async function connectLease(lease: ReaderLease, options?: ConnectOptions & { view?: ViewKind }): Promise<ReplicaConnection>;
export async function connectLease(lease: ReaderLease, options: ConnectOptions & { view?: ViewKind } = {}): Promise<ReplicaConnection> {
  const { reader } = lease;
  const view = options.view === 'bridged' ? new BridgedView(reader) : new ConnectionView(reader);
  try {
    if (options.at !== undefined) await view.setAt(options.at);
  } catch (err) {
    await lease.release();
    throw err;
  }
  const writable = isWritable(options);
  let writer: ReplicaWriter | undefined;
  try {
    writer = writable ? writerFor(reader, options) : undefined;
    if (writer?.writeBehind === true && reader.hydration !== undefined) {
      // The hydration file would record staged commits as the replica's; if the process dies
      // before their upload, a restart would resume from a state the replica never had.
      throw new LtxvfsError('LTXVFS_ERR_USAGE',
        `${reader.client.url}: writeBehind cannot be combined with hydrate (the hydration file would hold commits not yet in the replica)`,
        { key: reader.client.url });
    }
  } catch (err) {
    await lease.release();
    throw err;
  }
  const sink = writer === undefined ? undefined : new ConnectionSink(view, writer);
  const litestream = litestreamPragma(view);
  const leases = writer === undefined ? undefined : leasePragma(writer, view);
  const hydration = hydrationPragma(() => reader.hydration);
  return {
    reader,
    view,
    writable,
    sink,
    functions: litestreamFunctions(view),
    pragma: (name, value) => leases?.(name) ?? hydration(name, value) ?? litestream(name, value),
    stats: () => {
      const behind = writer?.writeBehindStats();
      return { ...reader.stats(), txid: view.version.txid, timeTravel: view.target !== undefined, ...(behind === undefined ? {} : { writeBehind: behind }) };
    },
    explainError: (err) => explainFailure(err, reader),
    // Commits acknowledged before the release (write-behind) reach the replica first; a failed upload rejects, after the release.
    release: async () => {
      try {
        await writer?.flush();
      } finally {
        await lease.release();
      }
    },
  };
}

/**
 * Whether a connection just opened gets the interior-page warm-up: `warmInterior` when
 * given, else on for `'remote'` storage (its `capabilities.latency`).
 */
export function wantsWarmup(connection: ReplicaConnection, warmInterior: boolean | undefined): boolean {
  return warmInterior ?? connection.reader.client.capabilities.latency === 'remote';
}

/** The SQL that gives the B-tree roots to warm up, beside page 1. */
export const ROOTPAGES_SQL = 'SELECT rootpage FROM sqlite_schema WHERE rootpage > 0';

/**
 * Start the interior-page warm-up (lib/read/warmup.ts) of a connection just opened, from
 * page 1 and the `rootpages` its engine read with {@link ROOTPAGES_SQL}, reading at most
 * `budgetBytes` of pages (`warmupBudgetBytes`).
 * @returns the warm-up's result (it never rejects: failures are counted in it).
 */
export function startWarmup(connection: ReplicaConnection, rootpages: readonly number[], budgetBytes?: number): Promise<WarmupResult> {
  return warmInteriorPages(connection.reader, connection.view.version, [1, ...rootpages], { budgetBytes });
}

/** Writable unless read-only or at a past state. */
function isWritable(options: ConnectOptions): boolean {
  return options.readOnly !== true && options.at === undefined;
}
