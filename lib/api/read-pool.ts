/**
 * The `readConnections` option of `openDatabase` (issue 14 item 1: "reads run concurrently
 * on a small pool of read connections"): how many connections a database's reads may use,
 * and how the extra ones are opened. The pool itself — which call goes where — is
 * lib/sql/read-pool.ts.
 *
 * A pooled connection is one more connection in the primary's engine (another wa-sqlite
 * Asyncify instance in this thread, or another SQLite worker), read-only, over the
 * primary's own reader (lib/connection/connect.ts `connectLease`: the same page cache,
 * fetcher and poller, also when the primary's reader is private with `shared: false`) and
 * at the primary's `at`. It is opened when a read finds every open connection busy, so a
 * database used by one flow at a time never opens one.
 *
 * Default 4 in process, 2 with the worker engine: connections are opened only under
 * concurrency, and then cost — measured with idle caches, an RSS delta with 7 pooled
 * connections opened — about 4 MiB each in process (a wasm instance), about 32 MiB each
 * with the worker engine (a thread with its own wasm), plus what their caches fill to:
 * SQLite's own page cache per connection, and for a worker its local page cache
 * (`localCacheSizeBytes`). Four connections let one or two long scans run while point
 * lookups go on for ~12 MiB; a second worker lets a scan and lookups run side by side for
 * ~32 MiB. The pages themselves stay in the one shared page cache. 1 turns the pool off:
 * every call runs on the primary connection, in call order.
 */
import { LtxvfsError } from '../../ltx/errors.js';
import { connectLease, type ConnectOptions, type ReplicaConnection } from '../connection/connect.js';
import { engineOpsOf, type Database, type DatabaseOptions } from '../sql/database.js';
import type { PooledConnection } from '../sql/read-pool.js';

/** Default of `readConnections` per engine (module doc). */
export const DEFAULT_READ_CONNECTIONS = { asyncify: 4, worker: 2 } as const;
/** Largest `readConnections` accepted: each is a wasm instance or a thread. */
export const MAX_READ_CONNECTIONS = 64;

/**
 * Check `readConnections` (default {@link DEFAULT_READ_CONNECTIONS} of `engine`).
 * @throws LtxvfsError `LTXVFS_ERR_USAGE` naming the value unless it is an integer from 1 to {@link MAX_READ_CONNECTIONS}.
 */
export function readConnectionsOf(value: unknown, engine: 'asyncify' | 'worker', where: string): number {
  if (value === undefined) return DEFAULT_READ_CONNECTIONS[engine];
  if (typeof value === 'number' && Number.isInteger(value) && value >= 1 && value <= MAX_READ_CONNECTIONS) return value;
  throw new LtxvfsError('LTXVFS_ERR_USAGE',
    `${where}: readConnections ${JSON.stringify(value) ?? String(value)} is not an integer from 1 to ${MAX_READ_CONNECTIONS} ` +
    '(the connections reads may use, the primary included; 1 = no read pool)');
}

/**
 * A function that opens one pooled connection beside `primary`: `connect` wires it over
 * the primary's reader (read-only, at the primary's `at`), `open` starts SQLite over it in
 * the primary's engine.
 */
export function pooledOpener<C extends ReplicaConnection>(
  primary: ReplicaConnection,
  options: ConnectOptions & DatabaseOptions,
  connect: (lease: Parameters<typeof connectLease>[0], options: ConnectOptions) => Promise<C>,
  open: (connection: C) => Promise<Database>,
): () => Promise<PooledConnection> {
  return async () => {
    // The primary owns the reader: a pooled connection never releases it.
    const connection = await connect({ reader: primary.reader, release: async () => undefined }, { ...options, readOnly: true, warmInterior: false });
    const db = await open(connection);
    return { ops: engineOpsOf(db), close: () => db.close() };
  };
}
