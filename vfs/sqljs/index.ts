/**
 * The sql.js adapter: a genuine sql.js `Database` (synchronous `exec`, `prepare`,
 * `step`, …) whose main database is a Litestream replica. SQLite runs in the calling
 * thread at sql.js's full speed; pages come from a thread-local cache, and a miss blocks
 * the thread on the page bridge while the process's fetch thread (lib/bridge/fetch-worker.ts,
 * which holds the replica readers) reads it. How the database file is spliced into
 * sql.js, and why not through its file system: vfs/sqljs/vfs.ts.
 *
 * ```ts
 * const SQL = await loadSqlJs();                       // sql.js, instantiated with the hook ltxvfs needs
 * const db = await openSqlJs(SQL, 's3://bucket/db');  // a sql.js Database
 * db.exec('SELECT count(*) FROM t');                   // synchronous
 * db.close();
 * ```
 *
 * - Isolation: SQLite's locks reach the file, so every read transaction sees one version
 *   (pinned at its SHARED lock), while the fetch thread keeps polling.
 * - Litestream SQL functions `litestream_txid()`, `litestream_time()`,
 *   `litestream_set_time()`, `litestream_lag()` are registered with `create_function`
 *   (sql.js cannot mark `litestream_set_time` direct-only), and the `litestream_*` and
 *   `litevfs_*` PRAGMAs work.
 * - Writes follow the lease rules of the write path (lib/write/writer.ts): without the lease a
 *   write fails with SQLITE_READONLY saying how to get it; with it (`PRAGMA
 *   litevfs_acquire_lease`, or `autoLease`), each transaction is shipped as one LTX file
 *   before COMMIT returns.
 * - Errors sql.js raises for a failed call become `LtxvfsError`s (`LTXVFS_ERR_SQLITE`,
 *   sql.js's message, `sqliteCode`, and as `cause` the error behind it: the storage or
 *   corruption error naming the file). A "malformed" or I/O error first waits for the
 *   fetch thread's verification of the files served: if one failed, the error is that
 *   failure (`LTXVFS_ERR_CHECKSUM` naming the file).
 * - The calling thread blocks on misses (never longer than `bridgeTimeoutMs`); use the
 *   worker engine where the event loop must stay free.
 */
import { readFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { isLtxvfsError, LtxvfsError } from '../../ltx/errors.js';
import { integrityError, isSuspectSqliteError } from '../../lib/read/verifier.js';
import type { FetchOpenOptions } from '../../lib/bridge/fetch-worker.js';
import { openFetchChannel } from '../../lib/bridge/fetch-thread.js';
import { hydrationPathFromEnv } from '../../lib/hydrate/config.js';
import type { ReplicaStats } from '../../lib/read/replica-reader.js';
import type { SqlArg } from '../../lib/connection/sql-surface.js';
import { BridgeClient, type BridgeClientCounters } from '../bridge/client.js';
import { SqlJsVfsHook, type SqlJsDatabaseSource, type SqlJsInternals, type SqlJsModule, type WasmMemory, type WasmTable } from './vfs.js';
import type { SqlJsDatabase, SqlJsStatic } from './types.js';
import { SQLITE_CACHE_PRAGMA } from '../core/sqlite-cache.js';
import { installColumnNameCache } from './column-names.js';

/** Options of {@link loadSqlJs}. */
export interface LoadSqlJsOptions {
  /**
   * sql.js's init function (default: a private copy of the installed `sql.js` 1.16).
   * sql.js instantiates once per copy of its module and hands every later caller that
   * instance, whatever their options: a function given here must not have run before.
   */
  init?: (config?: object) => Promise<SqlJsStatic>;
  /** The wasm binary (default: `sql.js/dist/sql-wasm.wasm` of the installed package). */
  wasmBinary?: Uint8Array;
}

/** Options of {@link openSqlJs}: those of `openDatabase` that apply, and the bridge's. */
export interface SqlJsOpenOptions extends Omit<FetchOpenOptions, 'writeBehind' | 'writeBehindMaxBytes'> {
  /** Longest wait for one answer of the fetch thread, ms; past it the call fails with SQLITE_IOERR (`LTXVFS_ERR_STORAGE`). Default 45,000. */
  bridgeTimeoutMs?: number;
  /** Bytes of this thread's page cache (default 64 MiB; the fetch thread's reader has its own, `cacheSizeBytes`). */
  localCacheSizeBytes?: number;
}

/** What {@link sqlJsStats} reports: the replica reader's counters and this connection's bridge counters. */
export interface SqlJsStats extends ReplicaStats {
  /** True while the connection is fixed at a past state. */
  timeTravel: boolean;
  /** Messages, reads, acquires, timeouts of the bridge, and time blocked. */
  bridge: BridgeClientCounters;
  /** Bytes of pages in this thread's cache. */
  localCacheBytes: number;
  /** SQLite's checks for a hot journal (one per transaction) answered without Emscripten's file system (vfs/sqljs/vfs.ts). */
  journalChecksAnswered: number;
}

const hooks = new WeakMap<object, SqlJsVfsHook>();
const connections = new WeakMap<object, { client: BridgeClient; label: string; hook: SqlJsVfsHook; spec: SqlJsDatabaseSource }>();

type WasmModule = object;
interface WasmApi {
  compile(bytes: Uint8Array): Promise<WasmModule>;
  instantiate(module: WasmModule, imports: object): Promise<{ exports: Record<string, unknown> }>;
  Table: new (...args: never[]) => WasmTable;
  Memory: new (...args: never[]) => WasmMemory;
}
const wasm = (globalThis as unknown as { WebAssembly: WasmApi }).WebAssembly;

let compiled: Promise<WasmModule> | undefined;

/**
 * Instantiate sql.js with the hook {@link openSqlJs} needs (its function table and
 * memory, which sql.js does not export). The result is an ordinary `SqlJsStatic`: its
 * other databases (`new SQL.Database(bytes)`) work as always. Its statements decode their
 * column names once instead of at every row (`getAsObject`, `getColumnNames`;
 * vfs/sqljs/column-names.ts), with the same answers.
 * @throws LtxvfsError `LTXVFS_ERR_UNSUPPORTED` when the instance's SQLite is not as expected; load errors.
 */
export async function loadSqlJs(options: LoadSqlJsOptions = {}): Promise<SqlJsStatic> {
  const init = options.init ?? privateInitSqlJs();
  let wasmModule: Promise<WasmModule>;
  if (options.wasmBinary !== undefined) {
    wasmModule = wasm.compile(options.wasmBinary);
  } else {
    compiled ??= readFile(resolveSqlJs('sql.js/dist/sql-wasm.wasm')).then((b) => wasm.compile(b));
    compiled.catch(() => {
      compiled = undefined;
    });
    wasmModule = compiled;
  }
  const module = await wasmModule;
  let exports: Record<string, unknown> | undefined;
  const SQL = await init({
    instantiateWasm(imports: object, receive: (instance: object, module: WasmModule) => void): object {
      wasm.instantiate(module, imports).then((instance) => {
        exports = instance.exports;
        receive(instance, module);
      }, (err: unknown) => {
        throw err;
      });
      return {};
    },
  });
  const values = Object.values(exports ?? {});
  const table = values.find((v) => v instanceof wasm.Table);
  const memory = values.find((v) => v instanceof wasm.Memory);
  if (table === undefined || memory === undefined) {
    throw new LtxvfsError('LTXVFS_ERR_UNSUPPORTED', 'sql.js: the instance exports no function table or memory');
  }
  const internals: SqlJsInternals = { table: table as WasmTable, memory: memory as WasmMemory };
  hooks.set(SQL, SqlJsVfsHook.install(SQL as unknown as SqlJsModule, internals));
  installColumnNameCache(SQL as unknown as Parameters<typeof installColumnNameCache>[0], internals.memory); // vfs/sqljs/column-names.ts
  return SQL;
}

/** The install command named when sql.js is missing. */
export const SQLJS_INSTALL_COMMAND = 'npm install sql.js';

/**
 * The path of `specifier` (`sql.js` or a file in it) in the installed sql.js package.
 * sql.js is an optional peer dependency of ltxvfs: only {@link loadSqlJs} and
 * {@link openSqlJs} (and `ltxvfs demo`) need it.
 * @throws LtxvfsError `LTXVFS_ERR_USAGE` naming the package and the install command when it is not installed.
 */
export function resolveSqlJs(specifier: string): string {
  try {
    return createRequire(import.meta.url).resolve(specifier);
  } catch (err) {
    if ((err as { code?: unknown }).code !== 'MODULE_NOT_FOUND') throw err;
    throw new LtxvfsError('LTXVFS_ERR_USAGE',
      `${specifier}: the sql.js package is not installed (an optional peer dependency of ltxvfs, needed by loadSqlJs, openSqlJs and \`ltxvfs demo\`): ${SQLJS_INSTALL_COMMAND}`,
      { key: specifier, cause: err });
  }
}

/**
 * sql.js's own (shared) init function, for code that makes plain sql.js databases.
 * @throws LtxvfsError `LTXVFS_ERR_USAGE` when sql.js is not installed (see {@link resolveSqlJs}).
 */
export function initSqlJsShared(): (config?: object) => Promise<SqlJsStatic> {
  return createRequire(import.meta.url)(resolveSqlJs('sql.js')) as (config?: object) => Promise<SqlJsStatic>;
}

/**
 * A fresh copy of sql.js's init function: sql.js keeps the first instance it made in its
 * module scope and returns it to every later call (ignoring their options), so the
 * instance ltxvfs hooks must come from a module copy of its own — the application's
 * `initSqlJs()` stays untouched.
 */
function privateInitSqlJs(): (config?: object) => Promise<SqlJsStatic> {
  const require = createRequire(import.meta.url);
  const path = resolveSqlJs('sql.js');
  const shared = require.cache[path];
  delete require.cache[path];
  try {
    return require(path) as (config?: object) => Promise<SqlJsStatic>;
  } finally {
    if (shared !== undefined) require.cache[path] = shared;
    else delete require.cache[path];
  }
}

/**
 * Open a replica as a sql.js `Database`, at its newest TXID (kept current by the fetch
 * thread's polling) or at `options.at`. The returned database is sql.js's own class;
 * `close()` it to release the replica.
 * @param SQL a sql.js module from {@link loadSqlJs}.
 * @param url as `openDatabase` takes it.
 * @throws LtxvfsError `LTXVFS_ERR_USAGE` (SQL not from `loadSqlJs`), `LTXVFS_ERR_UNSUPPORTED`
 *   for `writeBehind` (its synchronous `close()` cannot wait for uploads), the errors of
 *   `openDatabase` (`LTXVFS_ERR_NOT_FOUND`, `LTXVFS_ERR_EMPTY_REPLICA`, …), and
 *   `LTXVFS_ERR_SQLITE` when SQLite cannot read the database (`cause`: the error behind it).
 */
export async function openSqlJs(SQL: SqlJsStatic, url?: string, options: SqlJsOpenOptions = {}): Promise<SqlJsDatabase> {
  const hook = hooks.get(SQL);
  if (hook === undefined) {
    throw new LtxvfsError('LTXVFS_ERR_USAGE',
      'openSqlJs needs a sql.js module from loadSqlJs() (sql.js 1.16 exports neither its file system nor its function table; loadSqlJs instantiates it with a hook that captures them)');
  }
  if ((options as { writeBehind?: unknown }).writeBehind === true) {
    // sql.js's close() is synchronous: nothing could wait for the staged commits, and the process may exit first.
    throw new LtxvfsError('LTXVFS_ERR_UNSUPPORTED',
      `openSqlJs: writeBehind is not supported (${url ?? 'LITESTREAM_REPLICA_URL'}): sql.js's close() is synchronous and cannot wait for the staged commits' uploads; use openDatabase`,
      { key: url });
  }
  const { bridgeTimeoutMs, localCacheSizeBytes, ...openOptions } = options;
  // Hydration from the Litestream VFS's environment (docs/formats.md §6.1), as openDatabase resolves it.
  const hydrate = options.hydrate ?? hydrationPathFromEnv((options.env ?? process.env) as NodeJS.ProcessEnv, url);
  const remote = await openFetchChannel(url, { ...openOptions, hydrate });
  const label = remote.label;
  const client = new BridgeClient(remote.channel, { timeoutMs: bridgeTimeoutMs, localCacheSizeBytes, label });
  const spec: SqlJsDatabaseSource = {
    name: label,
    source: client,
    sink: remote.writable ? client : undefined,
    pragma: (name, value, inTransaction) => client.pragma(name, value, inTransaction),
    onClose: () => client.close(),
  };
  let db: SqlJsDatabase;
  try {
    db = hook.openWith(spec, () => new SQL.Database());
  } catch (err) {
    client.close();
    throw err;
  }
  const handleError = (db as unknown as { handleError(rc: number): null }).handleError.bind(db);
  (db as unknown as { handleError(rc: number): null }).handleError = (rc: number) => {
    try {
      return handleError(rc);
    } catch (err) {
      throw explainSync(new LtxvfsError('LTXVFS_ERR_SQLITE', (err as Error).message, { key: label, sqliteCode: rc, cause: hook.takeLastError(spec) ?? err }), client);
    }
  };
  for (const f of remote.functions) {
    const call = (...args: unknown[]): SqlArg => client.callFunction(f.name, args as SqlArg[], hook.inTransaction(spec));
    db.create_function(f.name, withArity(f.nArgs, call));
  }
  try {
    db.exec(SQLITE_CACHE_PRAGMA); // vfs/core/sqlite-cache.ts
    // Read the schema now, so that a replica that is not a SQLite database fails the open.
    db.exec('SELECT 1 FROM sqlite_schema LIMIT 1');
  } catch (err) {
    db.close();
    const e = err as LtxvfsError;
    throw new LtxvfsError(e.code ?? 'LTXVFS_ERR_SQLITE', `${label}: ${e.message}`, { key: label, sqliteCode: e.sqliteCode, cause: e.cause });
  }
  connections.set(db, { client, label, hook, spec });
  return db;
}

/**
 * The counters of a database from {@link openSqlJs}: the replica reader's (in the fetch
 * thread; one bridge round trip) and this connection's bridge and cache counters.
 * @throws LtxvfsError `LTXVFS_ERR_USAGE` for another database, `LTXVFS_ERR_CLOSED` after close.
 */
export function sqlJsStats(db: SqlJsDatabase): SqlJsStats {
  const conn = connections.get(db);
  if (conn === undefined) throw new LtxvfsError('LTXVFS_ERR_USAGE', 'not a database from openSqlJs');
  return {
    ...conn.client.stats<Omit<SqlJsStats, 'bridge' | 'localCacheBytes' | 'journalChecksAnswered'>>(),
    bridge: { ...conn.client.counters },
    localCacheBytes: conn.client.cache.bytes,
    journalChecksAnswered: conn.hook.journalChecksAnswered(conn.spec),
  };
}

/**
 * `err`, or — when SQLite reported a damaged or unreadable database and the fetch side's
 * verification of the files it served (awaited through the bridge, blocking this
 * thread) found one bad — the integrity failure naming the file, with `err` as cause
 * (the synchronous counterpart of `explainFailure` in lib/read/verifier.ts).
 */
function explainSync(err: LtxvfsError, client: BridgeClient): LtxvfsError {
  if (!isSuspectSqliteError(err)) return err;
  let failure: Error | undefined;
  try {
    failure = client.verified();
  } catch {
    return err; // the bridge timed out or closed: SQLite's error is all there is
  }
  return isLtxvfsError(failure) ? integrityError(failure, err) : err;
}

/** `call` as a function whose `length` is `n` (sql.js registers a function with `func.length` arguments). */
function withArity(n: number, call: (...args: unknown[]) => SqlArg): (...args: unknown[]) => SqlArg {
  switch (n) {
    case 0:
      return () => call();
    case 1:
      return (a: unknown) => call(a);
    case 2:
      return (a: unknown, b: unknown) => call(a, b);
    default:
      throw new LtxvfsError('LTXVFS_ERR_UNSUPPORTED', `a SQL function of ${n} arguments`);
  }
}
