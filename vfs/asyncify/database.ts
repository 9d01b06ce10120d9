/**
 * The in-process engine end to end: a fresh wa-sqlite Asyncify module, an
 * {@link LtxAsyncVFS} registered on it serving one {@link PageSource}, a read-only
 * connection, and the {@link Database} API over it. `openDatabase` (lib/api/open.ts) only
 * has to bring the page source and its stats.
 */
import * as SQLite from '@journeyapps/wa-sqlite';
import { LtxvfsError } from '../../ltx/errors.js';
import { Database, type DatabaseStats, type IntMode } from '../../lib/sql/database.js';
import { checkIntMode } from '../../lib/sql/statement.js';
import type { PageSource } from '../../lib/read/page-source.js';
import type { LtxAsyncVFS, PragmaHandler } from './vfs.js';
import { withRawCalls } from './raw-calls.js';
import { RawArgsAsyncVFS } from './raw-args-vfs.js';
import { loadAsyncifyModule, withEmptyBlobs } from '../wasm/wa-sqlite.js';
import { registerFunction } from '../core/sql-functions.js';
import { SQLITE_CACHE_PRAGMA } from '../core/sqlite-cache.js';
import { installVfsDispatch } from '../core/vfs-dispatch.js';
import type { SqlFunctionSpec } from '../../lib/connection/sql-surface.js';

/** `SQLITE_OPEN_EXRESCODE`: report extended result codes (`SQLITE_IOERR_READ`, not just `SQLITE_IOERR`). */
const SQLITE_OPEN_EXRESCODE = 0x0200_0000;

/** Options of {@link openAsyncifyDatabase}. */
export interface AsyncifyDatabaseOptions<S extends DatabaseStats> {
  /** Gives `Database.stats()` (the replica reader's counters). */
  statsProvider: () => S;
  /** Called once after the connection closed (close the replica reader); not called when the open fails. */
  onClose?: () => void | Promise<void>;
  /** The database's name inside the VFS (shows in SQLite messages; default `'main.db'`). */
  name?: string;
  /** What error messages call the database (e.g. the replica URL; default `name`). */
  label?: string;
  /** The VFS name (default `'ltxvfs'`). */
  vfsName?: string;
  /** Answers `PRAGMA`s on the database (see {@link PragmaHandler}). */
  pragmaHandler?: PragmaHandler;
  /**
   * Open read-write: writes go to the source's sink (a `WritablePageSource`), and fail
   * with SQLITE_READONLY where it refuses them. Default false (read-only).
   */
  writable?: boolean;
  /** SQL functions to register on the connection (e.g. the Litestream surface, lib/connection/sql-surface.ts). */
  functions?: readonly SqlFunctionSpec[];
  /** Prepared statements kept (default 64). */
  statementCacheSize?: number;
  /** How integers come back (`DatabaseOptions.intMode`; default `'number'`). */
  intMode?: IntMode;
  /** What a failed call reports instead of its error (e.g. the verifier's `explainFailure`); never rejects. */
  explainError?: (err: unknown) => Promise<unknown>;
  /** See `LtxAsyncVFSOptions.syncCacheHits` (default `true`; `false` only to measure). */
  syncCacheHits?: boolean;
  /** See `LtxAsyncVFSOptions.yieldEveryMs` (default 20 ms). */
  yieldEveryMs?: number;
}

/**
 * Open `source` read-only in a fresh wa-sqlite (Asyncify) instance, and read its schema.
 * `onClose` is not called if the open fails: the caller still owns `source`.
 * @throws LtxvfsError `LTXVFS_ERR_SQLITE` when SQLite cannot open or read the database
 *   (`cause`: the error behind it, e.g. `LTXVFS_ERR_STORAGE`); the loader's Error when
 *   wa-sqlite cannot be loaded.
 */
export async function openAsyncifyDatabase<S extends DatabaseStats>(
  source: PageSource,
  options: AsyncifyDatabaseOptions<S>,
): Promise<Database<S>> {
  const name = options.name ?? 'main.db';
  const label = options.label ?? name;
  if (options.intMode !== undefined) checkIntMode(options.intMode, `${label}: open`);
  const { module, sqlite3 } = await loadAsyncifyModule();
  // LtxAsyncVFS without wa-sqlite's proxies for the out-arguments of xAccess and xFileSize (./raw-args-vfs.ts).
  const vfs = new RawArgsAsyncVFS(module, {
    name: options.vfsName,
    pragmaHandler: options.pragmaHandler,
    syncCacheHits: options.syncCacheHits,
    yieldEveryMs: options.yieldEveryMs,
  });
  sqlite3.vfs_register(vfs, false);
  installVfsDispatch(module, vfs);
  vfs.addDatabase(name, source);
  let db: number;
  try {
    const access = options.writable === true ? SQLite.SQLITE_OPEN_READWRITE | SQLite.SQLITE_OPEN_CREATE : SQLite.SQLITE_OPEN_READONLY;
    db = await sqlite3.open_v2(name, access | SQLITE_OPEN_EXRESCODE, vfs.name);
    // SQLite's own cache holds a hot set: hits then never reach the VFS (vfs/core/sqlite-cache.ts).
    await sqlite3.exec(db, SQLITE_CACHE_PRAGMA);
  } catch (err) {
    const sqliteErr = err as InstanceType<typeof SQLite.SQLiteError>;
    throw new LtxvfsError('LTXVFS_ERR_SQLITE', `${label}: open database: ${sqliteErr.message}`, {
      key: label,
      sqliteCode: sqliteErr.code as number,
      cause: vfs.takeLastError() ?? err,
    });
  }
  for (const spec of options.functions ?? []) registerFunction(sqlite3, module, db, spec);
  let opened = false;
  const database = new Database<S>({
    // The warm path's calls on the module's exports (./raw-calls.ts).
    sqlite3: withRawCalls(withEmptyBlobs(sqlite3, module), module),
    db,
    vfs,
    statsProvider: options.statsProvider,
    statementCacheSize: options.statementCacheSize,
    intMode: options.intMode,
    explainError: options.explainError,
    onClose: async () => {
      vfs.removeDatabase(name);
      if (opened) await options.onClose?.();
    },
  });
  try {
    // Read the schema now, so that a source which is not a SQLite database (or cannot be
    // read) fails the open rather than the first query. SQLite keeps these pages cached.
    await database.get('SELECT 1 FROM sqlite_schema LIMIT 1');
  } catch (err) {
    await database.close();
    // Database names the SQL; name the database too ("file is not a database" says which).
    const e = err as LtxvfsError;
    throw new LtxvfsError(e.code, `${label}: ${e.message}`, { key: label, cause: e.cause, sqliteCode: e.sqliteCode });
  }
  opened = true;
  return database;
}
