/**
 * {@link EngineOps} over a wa-sqlite connection ({@link SqliteApi}): what the in-process
 * engine runs directly and the worker engine runs in its worker (vfs/worker/main.ts).
 *
 * Operations run one at a time in call order (a promise chain): an Asyncify module can
 * suspend only one call at a time. A step handed over while nothing is queued runs at once,
 * and with an API that answers without a Promise when SQLite did not suspend
 * ({@link SqliteApi.stepNow}, vfs/asyncify/raw-calls.ts) a warm lookup completes within the
 * call ({@link SqliteOps.stepNow}); one that suspends holds back later operations until done. SQL run by text (`query`, `run`) stays prepared, keyed
 * by its text, in a bounded cache (finalized on eviction and on close); statements from
 * `prepare` are the caller's until `finalize`. Every error goes through `mapError` (the
 * Database's mapping of SQLite's errors) before the next operation starts, so the error a
 * VFS caught behind one is still there to be its cause.
 */
import { LtxvfsError } from '../../ltx/errors.js';
import type { Params, RunResult, SqliteApi, VfsErrorSource } from './types.js';
import { bindParams } from './params.js';
import { excerpt, readRow, type EngineOps, type PreparedInfo, type RowShape, type RowsResult, type StepResult } from './statement.js';
import { then, type Now } from './now.js';

const SQLITE_ROW = 100;
const SQLITE_PREPARE_PERSISTENT = 0x01;
const DEFAULT_STATEMENT_CACHE_SIZE = 64;
const LAST_ROWID_SQL = 'SELECT last_insert_rowid()';

/** Options of {@link SqliteOps}. */
export interface SqliteOpsOptions {
  /** Prepared statements kept by SQL text (default 64; 0 prepares every call afresh). */
  statementCacheSize?: number;
  /** The error an operation reports for what it caught (`sql`: the statement, for the message). */
  mapError: (err: unknown, sql: string) => unknown;
}

/** The in-process engine's operations on one open connection. */
export class SqliteOps implements EngineOps {
  readonly #api: SqliteApi;
  readonly #db: number;
  readonly #vfs: VfsErrorSource;
  readonly #cacheSize: number;
  readonly #mapError: (err: unknown, sql: string) => unknown;
  /** Prepared statements by SQL text, least recently used first. */
  readonly #cache = new Map<string, number>();
  /** Statements from `prepare`, with their column names. */
  readonly #prepared = new Map<number, string>();
  #tail: Promise<void> = Promise.resolve();
  /** Column names by statement handle, with its re-prepare count when read ({@link SqliteApi.reprepares}). */
  readonly #names = new Map<number, { reprepares: number; names: string[] }>();
  /** Operations handed to the chain and not settled. */
  #pending = 0;

  constructor(api: SqliteApi, db: number, vfs: VfsErrorSource, options: SqliteOpsOptions) {
    this.#api = api;
    this.#db = db;
    this.#vfs = vfs;
    this.#cacheSize = options.statementCacheSize ?? DEFAULT_STATEMENT_CACHE_SIZE;
    this.#mapError = options.mapError;
  }

  query(sql: string, params: Params | undefined, shape: RowShape, max: number): Promise<RowsResult> {
    return this.#chain(sql, () => this.#withCached(sql, params, async (stmt) => {
      const { columns, rows } = await this.#rows(stmt, shape, max, []);
      // The names are the statement's kept ones: the caller gets its own copy.
      return { columns: [...columns], rows };
    }));
  }

  run(sql: string, params: Params | undefined): Promise<RunResult> {
    return this.#chain(sql, async () => {
      await this.#withCached(sql, params, (stmt) => this.#drain(stmt));
      return this.#runResult();
    });
  }

  exec(sql: string): Promise<void> {
    return this.#chain(sql, async () => {
      await this.#api.exec(this.#db, sql);
    });
  }

  prepare(sql: string): Promise<PreparedInfo> {
    return this.#chain(sql, async () => {
      const id = await this.#prepareOne(sql);
      this.#prepared.set(id, sql);
      return { id, columns: this.#api.column_names(id) };
    });
  }

  step(id: number, start: boolean, params: Params | undefined, shape: RowShape, max: number, finish: boolean): Promise<StepResult> {
    try {
      return Promise.resolve(this.stepNow(id, start, params, shape, max, finish));
    } catch (err) {
      return Promise.reject(err);
    }
  }

  /** As {@link SqliteOps.step}, but the result itself when no step suspended and nothing was queued (module doc); throws what `step` rejects with. */
  stepNow(id: number, start: boolean, params: Params | undefined, shape: RowShape, max: number, finish: boolean): Now<StepResult> {
    const sql = this.#sqlOf(id);
    if (this.#pending > 0) return this.#chain(sql, async () => this.#stepBatch(id, start, params, shape, max, finish));
    // Nothing queued: at once. As in #chain, an error a VFS caught before is not this one's cause.
    this.#vfs.takeLastError();
    let result: Now<StepResult>;
    try {
      result = this.#stepBatch(id, start, params, shape, max, finish);
    } catch (err) {
      throw this.#mapError(err, sql);
    }
    if (!(result instanceof Promise)) return result;
    // It suspended: later operations wait for it.
    return this.#track(result.catch((err: unknown) => {
      throw this.#mapError(err, sql);
    }));
  }

  /** One batch of {@link SqliteOps.step}, run now. */
  #stepBatch(id: number, start: boolean, params: Params | undefined, shape: RowShape, max: number, finish: boolean): Now<StepResult> {
    this.#checkPrepared(id);
    if (start) this.#rebind(id, params);
    let result: Now<StepResult>;
    try {
      result = this.#rows(id, shape, max, []);
    } catch (err) {
      return this.#resetAfter(id, err);
    }
    if (result instanceof Promise) return result.then((r) => this.#ended(id, r, finish), (err: unknown) => this.#resetAfter(id, err));
    return this.#ended(id, result, finish);
  }

  /** `result`, after resetting `id` when the batch finishes the call or the rows ended. */
  #ended(id: number, result: StepResult, finish: boolean): Now<StepResult> {
    return finish || result.done ? then(this.#reset(id), () => result) : result;
  }

  /** Reset `id` after a failed step, then throw `err`. */
  #resetAfter(id: number, err: unknown): Now<never> {
    return then(this.#reset(id), () => {
      throw err;
    });
  }

  stmtRun(id: number, params: Params | undefined): Promise<RunResult> {
    const sql = this.#sqlOf(id);
    return this.#chain(sql, async () => {
      this.#checkPrepared(id);
      this.#rebind(id, params);
      try {
        await this.#drain(id);
      } finally {
        await this.#reset(id);
      }
      return this.#runResult();
    });
  }

  reset(id: number): Promise<void> {
    return this.#chain(this.#sqlOf(id), async () => {
      this.#checkPrepared(id);
      await this.#reset(id);
    });
  }

  finalize(id: number): Promise<void> {
    return this.#chain(this.#sqlOf(id), async () => {
      this.#checkPrepared(id);
      this.#prepared.delete(id);
      await this.#finalize(id);
    });
  }

  inTransaction(): Promise<boolean> {
    return this.#chain('', async () => this.#api.get_autocommit(this.#db) === 0);
  }

  close(): Promise<void> {
    return this.#chain('close', async () => {
      for (const stmt of this.#cache.values()) await this.#finalize(stmt);
      for (const stmt of this.#prepared.keys()) await this.#finalize(stmt);
      this.#cache.clear();
      this.#prepared.clear();
      await this.#api.close(this.#db);
    });
  }

  #chain<T>(sql: string, op: () => Promise<T>): Promise<T> {
    return this.#track(this.#tail.then(async () => {
      // An error a VFS caught but SQLite got past must not become the cause of a later one.
      this.#vfs.takeLastError();
      try {
        return await op();
      } catch (err) {
        throw this.#mapError(err, sql);
      }
    }));
  }

  /** Count `run` as pending and make it the tail later operations wait for. */
  #track<T>(run: Promise<T>): Promise<T> {
    this.#pending++;
    const settled = (): void => {
      this.#pending--;
    };
    this.#tail = run.then(settled, settled);
    return run;
  }

  /** The SQL of a prepared statement (for messages); a statement not prepared here fails when its operation runs. */
  #sqlOf(id: number): string {
    return this.#prepared.get(id) ?? `statement ${id}`;
  }

  /** The column names of `stmt` (after a step: module doc), kept while SQLite has not re-prepared it. */
  #columnNames(stmt: number): string[] {
    const reprepares = this.#api.reprepares?.(stmt);
    if (reprepares === undefined) return this.#api.column_names(stmt);
    const known = this.#names.get(stmt);
    if (known !== undefined && known.reprepares === reprepares) return known.names;
    const names = this.#api.column_names(stmt);
    this.#names.set(stmt, { reprepares, names });
    return names;
  }

  /** Finalize `stmt`, forgetting its names (a later statement may get the same handle). */
  #finalize(stmt: number): Promise<number> {
    this.#names.delete(stmt);
    return this.#api.finalize(stmt);
  }

  #checkPrepared(id: number): void {
    if (!this.#prepared.has(id)) throw new LtxvfsError('LTXVFS_ERR_USAGE', `no prepared statement ${id} (finalized?)`);
  }

  /**
   * Step `stmt` for at most `max` rows (0: all) onto `rows`; synchronous while no step
   * suspends. Names after the first step: a step may re-prepare an expired statement
   * (every PRAGMA expires after one run; file-control PRAGMAs name their column after the value).
   */
  #rows(stmt: number, shape: RowShape, max: number, rows: unknown[], names?: string[]): Now<StepResult> {
    for (;;) {
      if (max !== 0 && rows.length >= max) return { columns: names ?? this.#columnNames(stmt), rows, done: false };
      const rc = this.#stepOnce(stmt);
      if (rc instanceof Promise) {
        return rc.then((code) => (code === SQLITE_ROW ? this.#rows(stmt, shape, max, rows, this.#readInto(rows, stmt, shape, names)) : this.#done(stmt, rows, names)));
      }
      if (rc !== SQLITE_ROW) return this.#done(stmt, rows, names);
      names = this.#readInto(rows, stmt, shape, names);
    }
  }

  /** Append the current row of `stmt` to `rows`; the column names (read now unless given). */
  #readInto(rows: unknown[], stmt: number, shape: RowShape, names: string[] | undefined): string[] {
    const columns = names ?? this.#columnNames(stmt);
    rows.push(readRow(this.#api, stmt, columns, shape));
    return columns;
  }

  #done(stmt: number, rows: unknown[], names: string[] | undefined): StepResult {
    return { columns: names ?? this.#columnNames(stmt), rows, done: true };
  }

  /** One `sqlite3_step`, its result code itself when the API can tell that it did not suspend. */
  #stepOnce(stmt: number): Now<number> {
    return this.#api.stepNow === undefined ? this.#api.step(stmt) : this.#api.stepNow(stmt);
  }

  async #drain(stmt: number): Promise<void> {
    while ((await this.#stepOnce(stmt)) === SQLITE_ROW);
  }

  async #runResult(): Promise<RunResult> {
    const changes = this.#api.changes(this.#db);
    const lastInsertRowid = await this.#withCached(LAST_ROWID_SQL, undefined, async (stmt) => {
      await this.#api.step(stmt);
      // As before the int modes: a number, a bigint beyond ±(2^53−1).
      return this.#api.column(stmt, 0) as number | bigint;
    });
    return { changes, lastInsertRowid };
  }

  /** Bind `params` for the next run: `bindParams` binds every parameter or throws before the statement runs, so no `clear_bindings` first. */
  #rebind(stmt: number, params: Params | undefined): void {
    bindParams(this.#api, stmt, params);
  }

  /** Reset `stmt`; its result code is not reported: reset() repeats the error of a failed step, which has already been thrown. */
  #reset(stmt: number): Now<void> {
    try {
      const rc = this.#api.resetNow === undefined ? this.#api.reset(stmt) : this.#api.resetNow(stmt);
      if (rc instanceof Promise) return rc.then(noop, noop);
    } catch {
      // Nothing more to report.
    }
  }

  /** Bind `params` to the cached statement for `sql`, run `body`, and reset it for reuse. */
  async #withCached<T>(sql: string, params: Params | undefined, body: (stmt: number) => Promise<T>): Promise<T> {
    const cached = this.#cache.get(sql);
    if (cached !== undefined) this.#cache.delete(sql);
    const stmt = cached ?? (await this.#prepareOne(sql));
    try {
      bindParams(this.#api, stmt, params);
      return await body(stmt);
    } finally {
      await this.#release(sql, stmt);
    }
  }

  /** Prepare exactly one statement. @throws LtxvfsError `LTXVFS_ERR_USAGE` for none or more than one. */
  async #prepareOne(sql: string): Promise<number> {
    const statements = this.#api
      .statements(this.#db, sql, { unscoped: true, flags: SQLITE_PREPARE_PERSISTENT })
      [Symbol.asyncIterator]();
    const first = await statements.next();
    if (first.done === true) {
      throw new LtxvfsError('LTXVFS_ERR_USAGE', `no SQL statement in: ${excerpt(sql)}`);
    }
    const stmt = first.value;
    let rest: IteratorResult<number>;
    try {
      rest = await statements.next();
    } catch (err) {
      await this.#finalize(stmt);
      throw err;
    }
    if (rest.done !== true) {
      await statements.return?.();
      await this.#finalize(stmt);
      await this.#finalize(rest.value);
      throw new LtxvfsError('LTXVFS_ERR_USAGE', `more than one SQL statement (use exec()): ${excerpt(sql)}`);
    }
    return stmt;
  }

  /** Reset `stmt` and put it back in the cache (as most recently used), evicting the oldest. */
  async #release(sql: string, stmt: number): Promise<void> {
    await this.#reset(stmt);
    this.#api.clear_bindings(stmt);
    if (this.#cacheSize <= 0) {
      await this.#finalize(stmt);
      return;
    }
    this.#cache.set(sql, stmt);
    if (this.#cache.size > this.#cacheSize) {
      const [oldestSql, oldest] = this.#cache.entries().next().value as [string, number];
      this.#cache.delete(oldestSql);
      await this.#finalize(oldest);
    }
  }
}

function noop(): void {}
