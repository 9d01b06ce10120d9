/**
 * `Database`: the public async API over one SQLite connection (docs/architecture.md, public
 * surface): `all`, `get`, `run`, `exec`, `query`, `prepare`, `transaction`, `batch`,
 * `close`, `stats` (issue 14 items 1–3, 7).
 *
 * Engine-independent: the connection is driven through {@link EngineOps} (lib/sql/statement.ts),
 * run one at a time in call order by the engine — over {@link SqliteApi} in this thread
 * (lib/sql/sqlite-ops.ts; wa-sqlite's `SQLiteAPI` satisfies it), or in a worker
 * (vfs/worker/database.ts) — so `lib/` imports no engine. An engine adapter
 * (`vfs/asyncify/database.ts`) opens the connection and hands it over with a {@link DatabaseInit}.
 *
 * Concurrency (lib/sql/connection-lock.ts): every async flow shares the connection; a
 * `transaction()` holds it exclusively while its callback runs (other flows' calls wait,
 * calls made inside the callback — found through AsyncLocalStorage — run in it), and a
 * statement that would leave a transaction open across calls is refused. Errors from
 * SQLite become `LtxvfsError`s (see `#sqliteError`) with the SQLite result code in
 * `sqliteCode`, and as `cause` the error the VFS caught behind it (e.g. the
 * `LTXVFS_ERR_STORAGE` error behind an `SQLITE_IOERR_READ`) or else SQLite's own.
 */
import { LtxvfsError } from '../../ltx/errors.js';
import { AsyncLocalStorage } from 'node:async_hooks';
import { ConnectionLock, transactionControlOf, transactionLeftOpen } from './connection-lock.js';
import { SqliteOps } from './sqlite-ops.js';
import { checkIntMode, explainingOps, Statement, type BatchStatement, type EngineOps, type IntMode, type RowShape, type StatementHost, type TransactionMode } from './statement.js';

export { Statement, type IntMode, type TransactionMode, type BatchStatement } from './statement.js';

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

/** Options of `transaction()` and `batch()`. */
export interface TransactionOptions {
  /**
   * `'deferred'` (default): `BEGIN DEFERRED`, the write lock is taken at the first write.
   * `'immediate'`: `BEGIN IMMEDIATE`, taken at once (a writer's choice: it fails at the
   * start, not half-way, when the lease is not held). Nested calls are savepoints and ignore it.
   */
  mode?: TransactionMode;
}

/** The SQL a Database itself sends to begin and end transactions. */
const COMMIT_SQL = 'COMMIT';
const ROLLBACK_SQL = 'ROLLBACK';

/** Set by Database's static block: a Database's engine operations. */
// eslint-disable-next-line prefer-const
let engineOps: (db: Database) => EngineOps;

/** One transaction level: its lock (the calls made inside it), depth and state. */
interface TxFrame {
  readonly lock: ConnectionLock;
  readonly depth: number;
  readonly parent: TxFrame | undefined;
  active: boolean;
}

/**
 * What a Database and its transactions share: the engine's operations, the connection's
 * lock, the flow → transaction map (AsyncLocalStorage: a call made inside a
 * `transaction()` callback, on the transaction or on the Database, runs in it).
 */
class Core {
  readonly ops: EngineOps;
  readonly lock = new ConnectionLock();
  readonly flows = new AsyncLocalStorage<TxFrame>();
  intMode: IntMode;
  closed = false;
  readonly host: StatementHost;

  constructor(ops: EngineOps, intMode: IntMode) {
    this.ops = ops;
    this.intMode = intMode;
    const core = this;
    this.host = {
      dispatch: (sql, op) => this.dispatch(undefined, sql, op),
      get intMode() {
        return core.intMode;
      },
    };
  }

  /** The transaction the calling flow is in (explicit, else from the flow), or undefined. */
  frame(explicit: TxFrame | undefined): TxFrame | undefined {
    if (explicit !== undefined) return explicit;
    let f = this.flows.getStore();
    while (f !== undefined && !f.active) f = f.parent;
    return f;
  }

  dispatch<T>(explicit: TxFrame | undefined, sql: string, op: (ops: EngineOps) => Promise<T>): Promise<T> {
    const f = this.frame(explicit);
    if (f === undefined) {
      if (this.closed) return Promise.reject(closedError());
      return this.lock.shared(() => op(this.ops));
    }
    return f.lock.shared(() => (f.active ? op(this.ops) : Promise.reject(endedError(sql))));
  }

  shape(): RowShape {
    return { intMode: this.intMode, raw: false, pluck: false };
  }

  /** Refuse a single statement that controls transactions. */
  checkStatement(sql: string, explicit: TxFrame | undefined): void {
    const control = transactionControlOf(sql);
    if (control !== undefined) throw controlError(control.text, this.frame(explicit) !== undefined);
  }

  exec(explicit: TxFrame | undefined, sql: string): Promise<void> {
    let control;
    try {
      control = transactionControlOf(sql);
    } catch (err) {
      return Promise.reject(err);
    }
    if (control === undefined) return this.dispatch(explicit, sql, (ops) => ops.exec(sql));
    const f = this.frame(explicit);
    if (f !== undefined) return Promise.reject(controlError(control.text, true));
    const opener = transactionLeftOpen(sql);
    if (opener !== undefined) return Promise.reject(controlError(opener.text, false));
    if (this.closed) return Promise.reject(closedError());
    // A script that begins and ends its transactions runs alone; if it failed half-way
    // inside one, that transaction is rolled back before any other call runs.
    return this.lock.exclusive(async () => {
      try {
        await this.ops.exec(sql);
      } finally {
        if (await this.ops.inTransaction().catch(() => false)) await this.ops.exec(ROLLBACK_SQL).catch(noop);
      }
    });
  }

  async transaction<R>(explicit: TxFrame | undefined, fn: (tx: Transaction) => R | Promise<R>, options: TransactionOptions): Promise<R> {
    const mode = options.mode ?? 'deferred';
    if (mode !== 'deferred' && mode !== 'immediate') {
      throw new LtxvfsError('LTXVFS_ERR_USAGE', `transaction: mode ${JSON.stringify(mode)} is not 'deferred' or 'immediate'`);
    }
    if (typeof fn !== 'function') throw new LtxvfsError('LTXVFS_ERR_USAGE', 'transaction: the first argument must be a function (tx) => …');
    const parent = this.frame(explicit);
    if (parent === undefined && this.closed) throw closedError();
    const lock = parent?.lock ?? this.lock;
    return lock.exclusive(async () => {
      if (parent !== undefined && !parent.active) throw endedError('transaction()');
      const depth = parent === undefined ? 0 : parent.depth + 1;
      const savepoint = `ltxvfs_savepoint_${depth}`;
      await this.ops.exec(depth === 0 ? `BEGIN ${mode.toUpperCase()}` : `SAVEPOINT ${savepoint}`);
      const frame: TxFrame = { lock: new ConnectionLock(), depth, parent, active: true };
      const rollback = async (): Promise<void> => {
        frame.active = false;
        await this.ops.exec(depth === 0 ? ROLLBACK_SQL : `ROLLBACK TO ${savepoint}; RELEASE ${savepoint}`).catch(noop);
      };
      let result: R;
      try {
        result = await this.flows.run(frame, () => fn(new Transaction(this, frame)));
      } catch (err) {
        // After the calls the callback started: they ran inside the transaction.
        await frame.lock.exclusive(rollback);
        throw err;
      }
      try {
        await frame.lock.exclusive(async () => {
          frame.active = false;
          await this.ops.exec(depth === 0 ? COMMIT_SQL : `RELEASE ${savepoint}`);
        });
      } catch (err) {
        // A commit the replica refused (another writer took the TXID, the lease was lost).
        await rollback();
        throw err;
      }
      return result;
    });
  }

  async prepare<T>(explicit: TxFrame | undefined, sql: string): Promise<Statement<T>> {
    this.checkStatement(sql, explicit);
    const info = await this.dispatch(explicit, sql, (ops) => ops.prepare(sql));
    return new Statement<T>(this.host, sql, info);
  }

  async batch(explicit: TxFrame | undefined, statements: readonly BatchStatement[], options: TransactionOptions): Promise<RunResult[]> {
    if (!Array.isArray(statements)) throw new LtxvfsError('LTXVFS_ERR_USAGE', 'batch: pass an array of { sql, params }');
    statements.forEach((s, i) => {
      if (typeof s?.sql !== 'string') throw new LtxvfsError('LTXVFS_ERR_USAGE', `batch: statement ${i + 1} has no sql string`);
      this.checkStatement(s.sql, explicit);
    });
    return this.transaction(explicit, async (tx) => {
      const results: RunResult[] = [];
      for (const s of statements) results.push(await tx.run(s.sql, s.params));
      return results;
    }, options);
  }

  query<T>(explicit: TxFrame | undefined, sql: string, params: Params | undefined, max: number): Promise<{ columns: string[]; rows: T[] }> {
    try {
      this.checkStatement(sql, explicit);
    } catch (err) {
      return Promise.reject(err);
    }
    const shape = this.shape();
    return this.dispatch(explicit, sql, (ops) => ops.query(sql, params, shape, max)) as Promise<{ columns: string[]; rows: T[] }>;
  }

  run(explicit: TxFrame | undefined, sql: string, params: Params | undefined): Promise<RunResult> {
    try {
      this.checkStatement(sql, explicit);
    } catch (err) {
      return Promise.reject(err);
    }
    return this.dispatch(explicit, sql, (ops) => ops.run(sql, params));
  }
}

/**
 * The queries of one connection: the methods a {@link Database} and a {@link Transaction} share.
 * Calls made by a flow inside a `transaction()` callback run in that transaction, whether
 * made on `tx` or on the Database.
 */
interface Queryable {
  all<T extends object = Row>(sql: string, params?: Params): Promise<T[]>;
  get<T extends object = Row>(sql: string, params?: Params): Promise<T | undefined>;
  query<T extends object = Row>(sql: string, params?: Params): Promise<{ columns: string[]; rows: T[] }>;
  run(sql: string, params?: Params): Promise<RunResult>;
  exec(sql: string): Promise<void>;
  prepare<T = Row>(sql: string): Promise<Statement<T>>;
  transaction<R>(fn: (tx: Transaction) => R | Promise<R>, options?: TransactionOptions): Promise<R>;
  batch(statements: readonly BatchStatement[], options?: TransactionOptions): Promise<RunResult[]>;
}

/**
 * The handle a `transaction()` callback gets: the Database's query methods, run inside
 * the transaction. `tx.transaction(fn)` nests as a savepoint. Calls after the callback
 * has settled fail with `LTXVFS_ERR_USAGE`.
 */
export class Transaction implements Queryable {
  readonly #core: Core;
  readonly #frame: TxFrame;

  /** @internal Made by `transaction()`. */
  constructor(core: Core, frame: TxFrame) {
    this.#core = core;
    this.#frame = frame;
  }

  /** 0 for the outermost transaction, 1 for a savepoint in it, … */
  get depth(): number {
    return this.#frame.depth;
  }

  /** True until the callback has settled (then the transaction is committed or rolled back). */
  get active(): boolean {
    return this.#frame.active;
  }

  /** As {@link Database.all}, inside the transaction. */
  all<T extends object = Row>(sql: string, params?: Params): Promise<T[]> {
    return this.#core.query<T>(this.#frame, sql, params, 0).then((r) => r.rows);
  }

  /** As {@link Database.get}, inside the transaction. */
  get<T extends object = Row>(sql: string, params?: Params): Promise<T | undefined> {
    return this.#core.query<T>(this.#frame, sql, params, 1).then((r) => r.rows[0]);
  }

  /** As {@link Database.query}, inside the transaction. */
  query<T extends object = Row>(sql: string, params?: Params): Promise<{ columns: string[]; rows: T[] }> {
    return this.#core.query<T>(this.#frame, sql, params, 0);
  }

  /** As {@link Database.run}, inside the transaction. */
  run(sql: string, params?: Params): Promise<RunResult> {
    return this.#core.run(this.#frame, sql, params);
  }

  /** As {@link Database.exec}, inside the transaction: statements that control transactions are refused. */
  exec(sql: string): Promise<void> {
    return this.#core.exec(this.#frame, sql);
  }

  /** As {@link Database.prepare}. */
  prepare<T = Row>(sql: string): Promise<Statement<T>> {
    return this.#core.prepare<T>(this.#frame, sql);
  }

  /** A savepoint: released when `fn` returns, rolled back to when it throws (the outer transaction goes on). */
  transaction<R>(fn: (tx: Transaction) => R | Promise<R>, options: TransactionOptions = {}): Promise<R> {
    return this.#core.transaction(this.#frame, fn, options);
  }

  /** As {@link Database.batch}, in a savepoint. */
  batch(statements: readonly BatchStatement[], options: TransactionOptions = {}): Promise<RunResult[]> {
    return this.#core.batch(this.#frame, statements, options);
  }
}

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
   * Run `fn` in a transaction that holds the connection exclusively: calls of other flows
   * wait until it ends; calls made inside `fn` (on `tx`, on this Database, on statements)
   * run in it. Commits when `fn` returns (resolving to what it returned), rolls back when
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

  /** The counters of the database (from the opener's stats provider). @throws LtxvfsError `LTXVFS_ERR_CLOSED`. */
  stats(): S {
    if (this.closed) throw closedError();
    return this.#statsProvider();
  }

  /**
   * Close the connection after the calls already made (and a transaction running) have
   * finished, then call `onClose`. Idempotent: later calls return the same promise. Every
   * other method fails with `LTXVFS_ERR_CLOSED` once `close()` has been called.
   */
  close(): Promise<void> {
    this.#closing ??= (async () => {
      this.#core.closed = true;
      try {
        await this.#core.lock.exclusive(() => this.#core.ops.close());
      } finally {
        await this.#onClose?.();
      }
    })();
    return this.#closing;
  }

  static {
    engineOps = (db) => db.#core.ops;
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

const SQL_EXCERPT_LENGTH = 120;

function noop(): void {}

function closedError(): LtxvfsError {
  return new LtxvfsError('LTXVFS_ERR_CLOSED', 'the database is closed');
}

/** The engine operations of `db`, for the worker engine's SQLite thread (vfs/worker/main.ts), which runs them for the main thread's lock. @internal */
export function engineOpsOf(db: Database): EngineOps {
  return engineOps(db);
}

/** A call on a transaction whose callback has settled. */
function endedError(sql: string): LtxvfsError {
  return new LtxvfsError('LTXVFS_ERR_USAGE', `the transaction has ended (its callback settled): ${excerpt(sql)}`);
}

/** A statement that controls transactions where the Database controls them. */
function controlError(statement: string, inTransaction: boolean): LtxvfsError {
  const what = excerpt(statement);
  return new LtxvfsError('LTXVFS_ERR_USAGE', inTransaction
    ? `${what}: inside transaction() the transaction is the callback's: it commits when the callback returns, ` +
      'rolls back when it throws; use tx.transaction(fn) for a savepoint'
    : `${what}: a transaction left open by one call would take in the statements of every other async flow ` +
      'on this Database: use db.transaction(async (tx) => …, { mode }) (one exec() script may BEGIN … COMMIT within itself)');
}

/** wa-sqlite's `SQLiteError`: an Error with a numeric SQLite result `code`. */
function isSqliteError(err: unknown): err is Error & { code: number } {
  return err instanceof Error && typeof (err as { code?: unknown }).code === 'number';
}

/** The SQL text for a message: whitespace collapsed, at most ~120 characters. */
function excerpt(sql: string): string {
  const flat = sql.replace(/\s+/g, ' ').trim();
  return flat.length > SQL_EXCERPT_LENGTH ? `${flat.slice(0, SQL_EXCERPT_LENGTH)}…` : flat;
}
