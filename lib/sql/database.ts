/**
 * `Database`: the public async API over a replica's SQLite connections (docs/architecture.md,
 * public surface): `all`, `get`, `run`, `exec`, `query`, `prepare`, `transaction`, `batch`,
 * `close`, `stats` (issue 14 items 1–3, 7).
 *
 * Engine-independent: the connection is driven through {@link EngineOps} (lib/sql/statement.ts),
 * run one at a time in call order by the engine — over {@link SqliteApi} in this thread
 * (lib/sql/sqlite-ops.ts; wa-sqlite's `SQLiteAPI` satisfies it), or in a worker
 * (vfs/worker/database.ts) — so `lib/` imports no engine. An engine adapter
 * (`vfs/asyncify/database.ts`) opens the connection and hands it over with a {@link DatabaseInit}.
 *
 * The parts: the dispatch of calls to connections, the lock and transactions are
 * lib/sql/core.ts (with lib/sql/connection-lock.ts); the `tx` handle lib/sql/transaction.ts;
 * the optional read pool lib/sql/read-pool.ts, attached by `openDatabase` with
 * {@link attachReadPool}. Errors from SQLite become `LtxvfsError`s (see `#sqliteError`) with
 * the SQLite result code in `sqliteCode`, and as `cause` the error the VFS caught behind it
 * (e.g. the `LTXVFS_ERR_STORAGE` error behind an `SQLITE_IOERR_READ`) or else SQLite's own.
 */
import { LtxvfsError } from '../../ltx/errors.js';
import { Core } from './core.js';
import { closedError } from './errors.js';
import type { PooledConnection, ReadPoolStats } from './read-pool.js';
import { SqliteOps } from './sqlite-ops.js';
import { checkIntMode, excerpt, explainingOps, type BatchStatement, type EngineOps, type IntMode, type Statement } from './statement.js';
import type { Queryable, Transaction, TransactionOptions } from './transaction.js';

export { Statement, type IntMode, type TransactionMode, type BatchStatement } from './statement.js';
export { Transaction, type TransactionOptions } from './transaction.js';
export type { ReadPoolStats } from './read-pool.js';

export type { SqlValue, BindValue, Params, Row, RunResult, DatabaseStats, SqliteApi, VfsErrorSource } from './types.js';
import type { DatabaseStats, Params, Row, RunResult, SqliteApi, VfsErrorSource } from './types.js';

/** What an engine adapter hands a {@link Database}: an open connection and its surroundings. */
export interface DatabaseInit<S extends DatabaseStats = DatabaseStats> {
  /** The API the connection is driven through. */
  sqlite3: SqliteApi;
  /** The open connection handle (`sqlite3_open_v2`'s result). */
  db: number;
  /** The VFS serving the connection, for the errors behind SQLite's codes. */
  vfs: VfsErrorSource;
  /** Gives `stats()`. */
  statsProvider: () => S;
  /** Called once after the connection is closed (release the replica, stop polling). */
  onClose?: () => void | Promise<void>;
  /** Prepared statements kept per Database (default 64; 0 prepares every call afresh). */
  statementCacheSize?: number;
  /** How integers come back (default `'number'`: a RangeError beyond ±(2^53−1)). */
  intMode?: IntMode;
  /** What a failed call reports instead of its error (every call: statements and transactions too); never rejects. */
  explainError?: (err: unknown) => Promise<unknown>;
}

/** How a {@link Database} starts when an engine brings its own operations (the worker engine). @internal */
export interface EngineDatabaseInit<S extends DatabaseStats = DatabaseStats> {
  /** The connection's operations, run in call order by the engine. */
  ops: EngineOps;
  /** Gives `stats()`. */
  statsProvider: () => S;
  /** Called once after the connection is closed. */
  onClose?: () => void | Promise<void>;
  /** How integers come back (default `'number'`). */
  intMode?: IntMode;
}

/** Options of a Database that every engine takes (`openDatabase` options). */
export interface DatabaseOptions {
  /**
   * How INTEGER values come back (issue 14 item 3): `'number'` (default) — a `number`,
   * and a `RangeError` naming the column for a value beyond ±(2^53−1), never a rounded
   * one and never a type that changes with the value; `'bigint'` — always a `bigint`;
   * `'string'` — always the decimal digits. A statement can change it (`stmt.intMode()`,
   * `stmt.safeIntegers()`).
   */
  intMode?: IntMode;
}

/** Set by Database's static block: a Database's core. */
// eslint-disable-next-line prefer-const
let coreOf: (db: Database) => Core;

/** The public database API. Create it with `openDatabase` (or an engine adapter). */
export class Database<S extends DatabaseStats = DatabaseStats> implements Queryable {
  readonly #vfs: VfsErrorSource;
  readonly #statsProvider: () => S;
  readonly #onClose: (() => void | Promise<void>) | undefined;
  readonly #core: Core;
  #closing: Promise<void> | undefined;

  constructor(init: DatabaseInit<S> | EngineDatabaseInit<S>) {
    this.#statsProvider = init.statsProvider;
    this.#onClose = init.onClose;
    const intMode = checkIntMode(init.intMode ?? 'number', 'Database');
    if ('ops' in init) {
      this.#vfs = { takeLastError: () => undefined };
      this.#core = new Core(init.ops, intMode);
    } else {
      this.#vfs = init.vfs;
      const ops = new SqliteOps(init.sqlite3, init.db, init.vfs, {
        statementCacheSize: init.statementCacheSize,
        mapError: (err, sql) => this.#sqliteError(err, sql),
      });
      this.#core = new Core(init.explainError === undefined ? ops : explainingOps(ops, init.explainError), intMode);
    }
  }

  /** Whether `close()` has been called. */
  get closed(): boolean {
    return this.#closing !== undefined;
  }

  /** How integers come back from this database's calls and new statements (`intMode` at open; default `'number'`). */
  get intMode(): IntMode {
    return this.#core.intMode;
  }

  /**
   * All rows of one statement, as objects keyed by column name. `T` names the row's
   * shape for the caller (default {@link Row}); it is not checked against the columns.
   * Integers as {@link Database.intMode} says.
   * @throws LtxvfsError `LTXVFS_ERR_SQLITE` (SQLite failed; `sqliteCode`, `cause`),
   *   `LTXVFS_ERR_USAGE` (not exactly one statement, parameters that do not fit, a
   *   statement that controls transactions: use `transaction()`), `LTXVFS_ERR_CLOSED`;
   *   RangeError (`intMode` `'number'` and an integer beyond ±(2^53−1), naming the column).
   */
  all<T extends object = Row>(sql: string, params?: Params): Promise<T[]> {
    return this.query<T>(sql, params).then((r) => r.rows);
  }

  /**
   * All rows of one statement and its column names (known even when there are no rows,
   * e.g. for printing a table header). `T` as in {@link Database.all}. Errors as {@link Database.all}.
   */
  query<T extends object = Row>(sql: string, params?: Params): Promise<{ columns: string[]; rows: T[] }> {
    return this.#core.query<T>(undefined, sql, params, 0);
  }

  /** The first row of one statement, or `undefined`. `T` as in {@link Database.all}. Errors as {@link Database.all}. */
  get<T extends object = Row>(sql: string, params?: Params): Promise<T | undefined> {
    return this.#core.query<T>(undefined, sql, params, 1).then((r) => r.rows[0]);
  }

  /**
   * Run one statement to completion (rows are discarded). On a replica database writes
   * fail with `sqliteCode` `SQLITE_READONLY`; TEMP tables can be written.
   * Errors as {@link Database.all}.
   */
  run(sql: string, params?: Params): Promise<RunResult> {
    return this.#core.run(undefined, sql, params);
  }

  /**
   * Run any number of statements separated by `;`, without parameters; rows are discarded.
   * A script may control transactions only if it ends every transaction it begins
   * (`BEGIN; …; COMMIT`): it then runs alone on the connection. One that would leave a
   * transaction open (`exec('BEGIN')`) is refused before it runs: another flow's
   * statements would run inside it; use {@link Database.transaction}. A script that fails
   * inside its transaction has that transaction rolled back.
   * @throws LtxvfsError `LTXVFS_ERR_SQLITE` (statements before the failing one have run),
   *   `LTXVFS_ERR_USAGE` (a transaction left open, naming the statement), `LTXVFS_ERR_CLOSED`.
   */
  exec(sql: string): Promise<void> {
    return this.#core.exec(undefined, sql);
  }

  /**
   * Prepare one statement, kept until `stmt.finalize()` or `close()` (see {@link Statement}).
   * @throws LtxvfsError `LTXVFS_ERR_SQLITE` (SQLite cannot prepare it), `LTXVFS_ERR_USAGE`
   *   (not exactly one statement; one that controls transactions), `LTXVFS_ERR_CLOSED`.
   */
  prepare<T = Row>(sql: string): Promise<Statement<T>> {
    return this.#core.prepare<T>(undefined, sql);
  }

  /**
   * Run `fn` in a transaction that holds the primary connection exclusively: calls of
   * other flows wait until it ends (with a read pool, their reads run meanwhile on the
   * pool's other connections and see the state before it); calls made inside `fn` (on
   * `tx`, on this Database, on statements) run in it. Commits when `fn` returns (resolving to what it returned), rolls back when
   * it throws (rethrowing its error) or when the commit fails (e.g. `SQLITE_BUSY`: the
   * lease was lost or another writer took the TXID). Called inside another
   * transaction's callback (or as `tx.transaction`) it is a savepoint.
   * @throws LtxvfsError `LTXVFS_ERR_USAGE` (bad `mode`, `fn` not a function),
   *   `LTXVFS_ERR_CLOSED`, `LTXVFS_ERR_SQLITE` from BEGIN or COMMIT; whatever `fn` throws.
   */
  transaction<R>(fn: (tx: Transaction) => R | Promise<R>, options: TransactionOptions = {}): Promise<R> {
    return this.#core.transaction(undefined, fn, options);
  }

  /**
   * Run statements (`{ sql, params }`) in order in one transaction; all or nothing.
   * Returns each one's {@link RunResult}. Errors as {@link Database.transaction} and {@link Database.run}.
   */
  batch(statements: readonly BatchStatement[], options: TransactionOptions = {}): Promise<RunResult[]> {
    return this.#core.batch(undefined, statements, options);
  }

  /**
   * The counters of the database (from the opener's stats provider; the replica's reader is
   * shared by every connection, so its counters cover them all). With a read pool, also
   * {@link ReadPoolStats} (`readConnections`, `pooledReads`).
   * @throws LtxvfsError `LTXVFS_ERR_CLOSED`.
   */
  stats(): S {
    if (this.closed) throw closedError();
    const pool = this.#core.poolStats;
    return pool === undefined ? this.#statsProvider() : { ...this.#statsProvider(), ...pool() };
  }

  /**
   * Close the connections (the read pool's, then the primary) after the calls already
   * made (and a transaction running) have finished, then call `onClose`. Idempotent: later
   * calls return the same promise. Every other method fails with `LTXVFS_ERR_CLOSED` once
   * `close()` has been called.
   */
  close(): Promise<void> {
    this.#closing ??= (async () => {
      this.#core.closed = true;
      try {
        await this.#core.pool?.close();
        await this.#core.lock.exclusive(() => this.#core.ops.close());
      } finally {
        await this.#onClose?.();
      }
    })();
    return this.#closing;
  }

  static {
    coreOf = (db) => db.#core;
  }

  /** `await using db = await openDatabase(url)`: closes the database. */
  [Symbol.asyncDispose](): Promise<void> {
    return this.close();
  }

  /**
   * `err` as the API reports it: SQLite's errors become an `LtxvfsError` built with
   * `LTXVFS_ERR_SQLITE` and `sqliteCode` (so `code` is SQLite's name, `ltxvfsCode` the
   * reason of the VFS error behind it: ltx/errors.ts), others pass.
   */
  #sqliteError(err: unknown, sql: string): unknown {
    if (err instanceof LtxvfsError || !isSqliteError(err)) return err;
    const behind = this.#vfs.takeLastError();
    return new LtxvfsError('LTXVFS_ERR_SQLITE', `${err.message}: ${excerpt(sql)}`, {
      sqliteCode: err.code,
      cause: behind ?? err,
    });
  }
}

/** The engine operations of `db`, for the worker engine's SQLite thread (vfs/worker/main.ts), which runs them for the main thread's lock, and for a read pool (lib/api/read-pool.ts). @internal */
export function engineOpsOf(db: Database): EngineOps {
  return coreOf(db).ops;
}

/**
 * Give `db` a read pool (lib/sql/read-pool.ts): reads outside transactions run on up to
 * `size` connections, `db`'s own and read-only ones `open` makes on demand; `close()`
 * closes them first (`size` 1: no pool, but `stats()` has its counters). Called by `openDatabase` before the database is handed out. @internal
 */
export function attachReadPool(db: Database, size: number, open: () => Promise<PooledConnection>): void {
  coreOf(db).attachPool(size, open);
}

/** wa-sqlite's `SQLiteError`: an Error with a numeric SQLite result `code`. */
function isSqliteError(err: unknown): err is Error & { code: number } {
  return err instanceof Error && typeof (err as { code?: unknown }).code === 'number';
}
