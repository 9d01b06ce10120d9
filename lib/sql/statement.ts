/**
 * Prepared statements, row shapes and integer modes of the `Database` API (lib/sql/database.ts),
 * after better-sqlite3's `Statement` (`get`, `all`, `run`, `iterate`, `raw`, `pluck`,
 * `columns`, `safeIntegers`) and libSQL's `intMode`.
 *
 * A {@link Statement} is one SQLite statement prepared once per connection it runs on and
 * kept until `finalize()` (or the database closes); in the worker engine it lives in the
 * worker and is named by a handle id. Its calls go where any other call of the flow that
 * makes them goes (lib/sql/core.ts): inside a `transaction()` callback they run in that
 * transaction; outside one, a statement that only reads runs on any connection of the read
 * pool (lib/sql/read-pool.ts), prepared again there on its first use — so one Statement
 * serves many flows at once, each call on one connection.
 *
 * Integers (SQLite's INTEGER, 64-bit) come back as {@link IntMode} says, read with
 * wa-sqlite's 64-bit column API, so no mode ever rounds: `'number'` (the default) gives a
 * `number` and throws a `RangeError` naming the column for a value beyond ±(2^53−1)
 * (better-sqlite3's rule), `'bigint'` always a `bigint`, `'string'` always the decimal digits.
 */
import { LtxvfsError } from '../../ltx/errors.js';
import type { Params, Row, RunResult, SqliteApi, SqlValue } from './types.js';
import type { Now } from './now.js';

/** How INTEGER values come back: `number` (RangeError beyond ±(2^53−1)), `bigint`, or decimal `string`. */
export type IntMode = 'number' | 'bigint' | 'string';

/** SQLite's transaction kinds `transaction()` can begin (https://sqlite.org/lang_transaction.html). */
export type TransactionMode = 'deferred' | 'immediate';

/** How a statement's rows are built. */
export interface RowShape {
  /** How integers come back. */
  intMode: IntMode;
  /** Rows as arrays of values in column order (duplicate column names kept). */
  raw: boolean;
  /** Rows as the first column's value only. */
  pluck: boolean;
}

/** Rows and the column names of a statement (names known even without rows). */
export interface RowsResult {
  columns: string[];
  rows: unknown[];
}

/** One batch of a statement stepped by {@link EngineOps.step}. */
export interface StepResult extends RowsResult {
  /** True when the statement has no more rows (it has been reset). */
  done: boolean;
}

/** What {@link EngineOps.prepare} reports of a statement. */
export interface PreparedInfo {
  /** The statement's handle (`sqlite3_stmt*` in the engine's SQLite). */
  id: number;
  /** Column names (empty for a statement without result columns). */
  columns: string[];
}

/** What `Database.batch()` takes: one statement and its parameters. */
export interface BatchStatement {
  sql: string;
  params?: Params;
}

/**
 * The operations of one connection an engine provides, run one at a time in call order
 * (the in-process engine chains them; the worker engine runs them in the worker in the
 * order they were sent). No locking, no transaction checks: `Database` does those.
 * @internal
 */
export interface EngineOps {
  /** All rows (`max` 0) or at most `max` rows of one statement, by SQL text (statement cache). */
  query(sql: string, params: Params | undefined, shape: RowShape, max: number): Promise<RowsResult>;
  /** Run one statement by SQL text to completion. */
  run(sql: string, params: Params | undefined): Promise<RunResult>;
  /** Run a script (`sqlite3_exec`). */
  exec(sql: string): Promise<void>;
  /** Prepare exactly one statement, kept until {@link EngineOps.finalize}. */
  prepare(sql: string): Promise<PreparedInfo>;
  /**
   * Step a prepared statement: with `start`, reset it and bind `params` first; at most
   * `max` rows (0: all); with `finish` (or when the rows end), reset it after.
   */
  step(id: number, start: boolean, params: Params | undefined, shape: RowShape, max: number, finish: boolean): Promise<StepResult>;
  /**
   * As `step`, where the engine can answer without a Promise (the in-process engine, when
   * nothing is queued and no step suspends: lib/sql/sqlite-ops.ts); may throw what `step` rejects with.
   */
  stepNow?(id: number, start: boolean, params: Params | undefined, shape: RowShape, max: number, finish: boolean): Now<StepResult>;
  /** Run a prepared statement to completion (reset first and after). */
  stmtRun(id: number, params: Params | undefined): Promise<RunResult>;
  /** Reset a prepared statement (an iteration given up). */
  reset(id: number): Promise<void>;
  /** Finalize a prepared statement. */
  finalize(id: number): Promise<void>;
  /** True while the connection is inside an explicit transaction (`!sqlite3_get_autocommit`). */
  inTransaction(): Promise<boolean>;
  /** Finalize every statement and close the connection. */
  close(): Promise<void>;
}

/** Every method of {@link EngineOps}. @internal */
export const ENGINE_METHODS = ['query', 'run', 'exec', 'prepare', 'step', 'stmtRun', 'reset', 'finalize', 'inTransaction', 'close'] as const satisfies readonly (keyof EngineOps)[];

/** `ops` with every failure replaced by what `explain` makes of it (e.g. SQLite's "malformed" → the integrity failure naming the file). */
export function explainingOps(ops: EngineOps, explain: (err: unknown) => Promise<unknown>): EngineOps {
  const out = {} as Record<keyof EngineOps, unknown>;
  for (const method of ENGINE_METHODS) {
    const op = ops[method] as (...args: unknown[]) => Promise<unknown>;
    out[method] = (...args: unknown[]) => op.apply(ops, args).catch(async (err: unknown) => {
      throw await explain(err);
    });
  }
  const stepNow = ops.stepNow;
  if (stepNow !== undefined) {
    const explained = async (err: unknown): Promise<never> => {
      throw await explain(err);
    };
    out.stepNow = (...args: Parameters<typeof stepNow>): Now<StepResult> => {
      try {
        const result = stepNow.apply(ops, args);
        return result instanceof Promise ? result.catch(explained) : result;
      } catch (err) {
        return explained(err);
      }
    };
  }
  return out as unknown as EngineOps;
}

/** A connection held by one iteration (lib/sql/read-pool.ts `HeldLane`). */
export interface HeldConnection {
  /** Run one batch on the held connection. */
  run<T>(op: (ops: EngineOps) => Promise<T>): Promise<T>;
  /** The iteration has ended. */
  release(): void;
}

/**
 * What a {@link Statement} needs of its database (lib/sql/core.ts): its calls go where
 * the Database sends the calling flow's calls — inside a transaction to the primary
 * connection, else reads (`read`) to the read pool when there is one.
 */
export interface StatementHost {
  /** Run `op` on the connection the call goes to. */
  dispatch<T>(sql: string, read: boolean, op: (ops: EngineOps) => Promise<T>): Promise<T>;
  /** As `dispatch`, with `op`'s answer as it is when the call is handed over at once. */
  dispatchNow<T>(sql: string, read: boolean, op: (ops: EngineOps) => Now<T>): Now<T>;
  /** A connection for one iteration. */
  hold(sql: string, read: boolean): Promise<HeldConnection>;
  /** Finalize handle `id` on the connection `ops`. */
  finalize(ops: EngineOps, id: number, sql: string): Promise<void>;
  /** The database's integer mode (the statement's default). */
  readonly intMode: IntMode;
}

const SQLITE_INTEGER = 1;
const SQLITE_FLOAT = 2;
const SQLITE_TEXT = 3;
const SQLITE_BLOB = 4;
const MAX_SAFE = BigInt(Number.MAX_SAFE_INTEGER);

/** Rows fetched per batch by {@link Statement.iterate} (default). */
export const DEFAULT_ITERATE_BATCH = 256;

/** Check an `intMode` option. @throws LtxvfsError `LTXVFS_ERR_USAGE` naming the value. */
export function checkIntMode(mode: unknown, where: string): IntMode {
  if (mode === 'number' || mode === 'bigint' || mode === 'string') return mode;
  throw new LtxvfsError('LTXVFS_ERR_USAGE', `${where}: intMode ${JSON.stringify(mode)} is not 'number', 'bigint' or 'string'`);
}

/**
 * The current row of `stmt` shaped as `shape` says.
 * @throws RangeError in `'number'` mode for an integer beyond ±(2^53−1), naming the column.
 */
export function readRow(api: SqliteApi, stmt: number, columns: readonly string[], shape: RowShape): unknown {
  if (shape.pluck) return readValue(api, stmt, 0, columns, shape.intMode);
  if (shape.raw) {
    const values: SqlValue[] = new Array<SqlValue>(columns.length);
    for (let i = 0; i < columns.length; i++) values[i] = readValue(api, stmt, i, columns, shape.intMode);
    return values;
  }
  const row: Row = {};
  for (let i = 0; i < columns.length; i++) row[columns[i]] = readValue(api, stmt, i, columns, shape.intMode);
  return row;
}

function readValue(api: SqliteApi, stmt: number, i: number, columns: readonly string[], mode: IntMode): SqlValue {
  switch (api.column_type(stmt, i)) {
    case SQLITE_INTEGER: {
      if (mode === 'number') {
        // wa-sqlite's column(): sqlite3_column_int64, a number when it is safe, else a bigint.
        const v = api.column(stmt, i) as number | bigint;
        // -2^53 comes back as a number (it is exact) but is outside ±(2^53−1) all the same.
        if (typeof v === 'number' && Number.isSafeInteger(v)) return v;
        throw unsafeInteger(columns[i], BigInt(v));
      }
      const v = api.column_int64(stmt, i);
      if (mode === 'bigint') return v;
      return v.toString();
    }
    case SQLITE_FLOAT:
      return api.column_double(stmt, i);
    case SQLITE_TEXT:
      return api.column_text(stmt, i);
    case SQLITE_BLOB:
      // A view of wasm memory until the next step: copy.
      return api.column_blob(stmt, i).slice();
    default:
      return null;
  }
}

function unsafeInteger(column: string, value: bigint): RangeError {
  const side = value > MAX_SAFE ? 'above 2^53−1' : 'below −(2^53−1)';
  return new RangeError(`column ${JSON.stringify(column)}: the integer ${value} is ${side}, so a number would round it; ` +
    "read it with intMode 'bigint' or 'string' (openDatabase option, stmt.intMode() or stmt.safeIntegers())");
}

/**
 * A prepared statement (`db.prepare(sql)`). `T` names the row's shape for the caller
 * (default {@link Row}); it is not checked against the columns. Settings (`raw`,
 * `pluck`, `intMode`) apply to later calls and return the statement, for chaining.
 */
export class Statement<T = Row> {
  readonly #host: StatementHost;
  readonly #info: PreparedInfo;
  /** Whether its calls are reads the read pool may take (lib/sql/read-routing.ts). */
  readonly #read: boolean;
  /** Its handle on each connection it has run on (prepared there on first use). */
  readonly #handles = new Map<EngineOps, Promise<number>>();
  /** The handles of {@link Statement.#handles} known to be prepared, for the warm path. */
  readonly #ready = new Map<EngineOps, number>();
  /** The SQL text it was prepared from. */
  readonly source: string;
  #shape: RowShape;
  #busy = false;
  #finalized: Promise<void> | undefined;

  /** @internal Use `db.prepare(sql)`: `info` is its preparation on the connection `ops`. */
  constructor(host: StatementHost, source: string, info: PreparedInfo, ops: EngineOps, read = false) {
    this.#host = host;
    this.source = source;
    this.#info = info;
    this.#read = read;
    this.#handles.set(ops, Promise.resolve(info.id));
    this.#ready.set(ops, info.id);
    this.#shape = { intMode: host.intMode, raw: false, pluck: false };
  }

  /** Column names in order (better-sqlite3's `columns()` gives objects; here the names). Empty for a statement without result columns. */
  columns(): string[] {
    return [...this.#info.columns];
  }

  /** Rows as arrays of values in column order (`SELECT 1 AS a, 2 AS a` → `[[1, 2]]`); turns `pluck` off. */
  raw(on = true): Statement<SqlValue[]> {
    this.#shape = { ...this.#shape, raw: on, pluck: on ? false : this.#shape.pluck };
    return this as unknown as Statement<SqlValue[]>;
  }

  /** Rows as the first column's value only; turns `raw` off. */
  pluck(on = true): Statement<SqlValue> {
    this.#shape = { ...this.#shape, pluck: on, raw: on ? false : this.#shape.raw };
    return this as unknown as Statement<SqlValue>;
  }

  /** How this statement's integers come back (default: the database's `intMode`). @throws LtxvfsError `LTXVFS_ERR_USAGE` for another value. */
  intMode(mode: IntMode): this {
    this.#shape = { ...this.#shape, intMode: checkIntMode(mode, `statement ${excerpt(this.source)}`) };
    return this;
  }

  /** better-sqlite3's switch: `true` is `intMode('bigint')`, `false` `intMode('number')`. */
  safeIntegers(on = true): this {
    return this.intMode(on ? 'bigint' : 'number');
  }

  /**
   * The first row, or `undefined`.
   * @throws LtxvfsError `LTXVFS_ERR_SQLITE`, `LTXVFS_ERR_USAGE` (parameters that do not fit,
   *   finalized, busy iterating), `LTXVFS_ERR_CLOSED`; RangeError (an unsafe integer in `'number'` mode).
   */
  async get<R = T>(params?: Params): Promise<R | undefined> {
    const result = this.#step(params, 1);
    const { rows } = result instanceof Promise ? await result : result;
    return rows[0] as R | undefined;
  }

  /** All rows. Errors as {@link Statement.get}. */
  async all<R = T>(params?: Params): Promise<R[]> {
    const result = this.#step(params, 0);
    const { rows } = result instanceof Promise ? await result : result;
    return rows as R[];
  }

  /** Run to completion (rows discarded). Errors as {@link Statement.get}. */
  run(params?: Params): Promise<RunResult> {
    return this.#exclusive(() => this.#host.dispatch(this.source, this.#read, async (ops) => ops.stmtRun(await this.#handleOn(ops), params)));
  }

  /**
   * The rows one at a time, fetched `batchSize` rows at a time (default 256) when the
   * loop has used the previous batch: a large result is never held whole. Each batch
   * takes the connection's lock on its own, so other flows' calls run between batches
   * (inside `transaction()` nothing else runs until it ends). With a read pool the whole
   * iteration stays on one connection, which other reads avoid while it is open (its
   * snapshot stays the one the iteration started on). Leaving the loop (`break`,
   * `return`, a throw) resets the statement. While it iterates, other calls on this
   * statement fail with `LTXVFS_ERR_USAGE` (prepare it twice to use it twice); `get`,
   * `all` and `run` from many flows at once are fine (each is one call on the connection).
   * Errors as {@link Statement.get}.
   */
  async *iterate<R = T>(params?: Params, options: { batchSize?: number } = {}): AsyncGenerator<R, void, undefined> {
    const batchSize = options.batchSize ?? DEFAULT_ITERATE_BATCH;
    if (!Number.isInteger(batchSize) || batchSize < 1) {
      throw new LtxvfsError('LTXVFS_ERR_USAGE', `iterate: batchSize ${batchSize} is not a positive integer`);
    }
    this.#claim();
    const shape = this.#shape;
    let done = false;
    let held: HeldConnection | undefined;
    try {
      held = await this.#host.hold(this.source, this.#read);
      let start = true;
      while (!done) {
        const first = start;
        const batch = await held.run(async (ops) => ops.step(await this.#handleOn(ops), first, params, shape, batchSize, false));
        start = false;
        done = batch.done;
        for (const row of batch.rows) yield row as R;
      }
    } finally {
      this.#busy = false;
      if (held !== undefined && !done && this.#finalized === undefined) {
        await held.run(async (ops) => ops.reset(await this.#handleOn(ops))).catch(() => undefined);
      }
      held?.release();
    }
  }

  /** Release the statement in SQLite. Idempotent; later calls fail with `LTXVFS_ERR_USAGE`. */
  finalize(): Promise<void> {
    this.#finalized ??= (async () => {
      const handles = [...this.#handles].map(async ([ops, id]) => {
        // A handle whose preparation failed has nothing to finalize.
        const handle = await id.catch(() => undefined);
        if (handle !== undefined) await this.#host.finalize(ops, handle, this.source);
      });
      await Promise.all(handles);
    })();
    return this.#finalized;
  }

  /** Its handle on the connection `ops`, prepared there on first use (a pooled connection). */
  #handleOn(ops: EngineOps): Promise<number> {
    let id = this.#handles.get(ops);
    if (id === undefined) {
      const prepared = ops.prepare(this.source).then((info) => info.id);
      // A failed preparation is not kept: the next call on that connection tries again.
      prepared.then((handle) => {
        if (this.#handles.get(ops) === prepared) this.#ready.set(ops, handle);
      }, () => {
        if (this.#handles.get(ops) === prepared) this.#handles.delete(ops);
      });
      this.#handles.set(ops, prepared);
      id = prepared;
    }
    return id;
  }

  /**
   * One get/all: the rows themselves when the engine answered at once (a warm lookup on a
   * handle prepared on that connection: no promise per layer), else a Promise of them.
   * @throws as {@link Statement.get} rejects (the callers are async).
   */
  #step(params: Params | undefined, max: number): Now<StepResult> {
    this.#check();
    const shape = this.#shape;
    return this.#host.dispatchNow(this.source, this.#read, (ops) => {
      const id = this.#ready.get(ops);
      if (id !== undefined && ops.stepNow !== undefined) return ops.stepNow(id, true, params, shape, max, true);
      return this.#handleOn(ops).then((handle) => ops.step(handle, true, params, shape, max, true));
    });
  }

  /** A one-call use (get/all/run: reset, bind, step, reset in one engine call): fine beside others, not during an iteration. */
  async #exclusive<R>(op: () => Promise<R>): Promise<R> {
    this.#check();
    return op();
  }

  #claim(): void {
    this.#check();
    this.#busy = true;
  }

  #check(): void {
    if (this.#finalized !== undefined) {
      throw new LtxvfsError('LTXVFS_ERR_USAGE', `the statement is finalized: ${excerpt(this.source)}`);
    }
    if (this.#busy) {
      throw new LtxvfsError('LTXVFS_ERR_USAGE', `the statement is busy in an iterate() that has not finished (prepare it again to use it beside the loop): ${excerpt(this.source)}`);
    }
  }
}

/** The SQL text for a message: whitespace collapsed, at most ~120 characters. */
export function excerpt(sql: string): string {
  const flat = sql.replace(/\s+/g, ' ').trim();
  return flat.length > 120 ? `${flat.slice(0, 120)}…` : flat;
}
