/**
 * What a `Database` and its transactions and statements share (lib/sql/database.ts): the
 * primary connection's engine operations and lock, the flow → transaction map, and the
 * dispatch of every call to a connection.
 *
 * Dispatch: a call made inside a `transaction()` callback (found through
 * AsyncLocalStorage, or made on the `tx` handle) runs in that transaction on the primary
 * connection, under the transaction level's lock. Outside one, a read
 * (lib/sql/read-routing.ts) goes to the read pool when the Database has one
 * (lib/sql/read-pool.ts) and everything else to the primary connection under its
 * {@link ConnectionLock} (lib/sql/connection-lock.ts: transactions hold it exclusively,
 * other calls are handed to the engine in call order). With a pool:
 *
 * - a pooled read starts after every call made on the primary before it (a write, a
 *   PRAGMA) has settled, so call order holds between a flow's write and its next read;
 *   transactions are not waited for — a read made while one runs sees the state before it;
 * - once the primary ran a statement that leaves state on its connection (ATTACH, TEMP
 *   objects, `PRAGMA x = …` such as `litestream_time`), every read runs on the primary.
 *
 * The flow → transaction map is an AsyncLocalStorage, which on Node 20 keeps async_hooks
 * on for every promise of the process; it is disabled again whenever no transaction of
 * this Database is open (a flow then has no transaction to join), so code outside
 * transactions does not pay for it (issue 15 item 2).
 */
import { AsyncLocalStorage } from 'node:async_hooks';
import { LtxvfsError } from '../../ltx/errors.js';
import { ConnectionLock, transactionControlOf, transactionLeftOpen } from './connection-lock.js';
import { closedError, controlError, endedError } from './errors.js';
import { Lane, ReadPool, type HeldLane, type PooledConnection, type ReadPoolStats } from './read-pool.js';
import { changesConnectionState, isPooledRead } from './read-routing.js';
import { Statement, type BatchStatement, type EngineOps, type IntMode, type RowShape, type StatementHost } from './statement.js';
import { Transaction, type TransactionCore, type TransactionOptions, type TxFrame } from './transaction.js';
import type { Params, RunResult } from './types.js';
import type { Now } from './now.js';

/** The SQL a Database itself sends to end transactions. */
const COMMIT_SQL = 'COMMIT';
const ROLLBACK_SQL = 'ROLLBACK';

function noop(): void {}

/** The shared state and call dispatch of one Database (module doc). @internal */
export class Core implements TransactionCore {
  readonly ops: EngineOps;
  readonly lock = new ConnectionLock();
  readonly flows = new AsyncLocalStorage<TxFrame>();
  intMode: IntMode;
  closed = false;
  readonly host: StatementHost;
  /** The primary connection as a lane of the pool (its load counts only while a pool exists). */
  readonly primary: Lane;
  pool: ReadPool | undefined;
  /** The read pool's counters, once `openDatabase` attached one (also of size 1). */
  poolStats: (() => ReadPoolStats) | undefined;
  /** Set once the primary holds connection state: reads stay on it (module doc). */
  #pinned = false;
  /** Primary calls outside transactions not settled, and the last one's settlement. */
  #primaryCalls = 0;
  #lastPrimaryCall: Promise<void> = Promise.resolve();
  /** Transactions (all levels) running: while 0 the flow map is disabled (module doc). */
  #openTransactions = 0;

  constructor(ops: EngineOps, intMode: IntMode) {
    this.ops = ops;
    this.intMode = intMode;
    this.primary = new Lane(ops, (op) => this.lock.shared(() => op(this.ops)));
    const core = this;
    this.host = {
      dispatch: (sql, read, op) => this.dispatch(undefined, sql, read, op),
      dispatchNow: (sql, read, op) => this.dispatchNow(sql, read, op),
      hold: (sql, read) => this.hold(sql, read),
      finalize: (ops, id, sql) => this.finalize(ops, id, sql),
      get intMode() {
        return core.intMode;
      },
    };
  }

  /** Give this Database a read pool of `size` connections, the primary included (1: no pool, only its stats). */
  attachPool(size: number, open: () => Promise<PooledConnection>): void {
    const pool = new ReadPool(this.primary, size, open);
    this.poolStats = () => pool.stats();
    if (size > 1) this.pool = pool;
  }

  /** The transaction the calling flow is in (explicit, else from the flow), or undefined. */
  frame(explicit: TxFrame | undefined): TxFrame | undefined {
    if (explicit !== undefined) return explicit;
    let f = this.flows.getStore();
    while (f !== undefined && !f.active) f = f.parent;
    return f;
  }

  /** Run `op` on the connection the call goes to (module doc); `read`: the SQL only reads (lib/sql/read-routing.ts). */
  dispatch<T>(explicit: TxFrame | undefined, sql: string, read: boolean, op: (ops: EngineOps) => Promise<T>): Promise<T> {
    const f = this.frame(explicit);
    if (f !== undefined) return f.lock.shared(() => (f.active ? op(this.ops) : Promise.reject(endedError(sql))));
    if (this.closed) return Promise.reject(closedError());
    const pool = this.pool;
    if (pool === undefined) return this.lock.shared(() => op(this.ops));
    if (read && !this.#pinned) return this.#afterPrimaryCalls(() => pool.read(op));
    return this.#onPrimary(sql, () => this.lock.shared(() => op(this.ops)));
  }

  /**
   * As {@link Core.dispatch} (outside a `tx` handle) for an `op` that may answer without a
   * Promise (a warm lookup: lib/sql/sqlite-ops.ts `stepNow`): when the call is handed over
   * at once — no transaction holder, queued call or earlier primary call ahead of it, the
   * same cases in which `dispatch` calls `op` at once — `op`'s answer comes back as it is.
   */
  dispatchNow<T>(sql: string, read: boolean, op: (ops: EngineOps) => Now<T>): Now<T> {
    const f = this.frame(undefined);
    if (f !== undefined) {
      if (f.active && f.lock.idle) return op(this.ops);
    } else if (!this.closed) {
      const pool = this.pool;
      if (pool === undefined) return this.lock.shared(() => op(this.ops));
      if (read && !this.#pinned && this.#primaryCalls === 0) return pool.read(op);
    }
    return this.dispatch(undefined, sql, read, async (ops) => op(ops));
  }

  /** A connection for one iteration of a statement: a pooled one when the call is a pooled read, else the flow's (per batch, as dispatch). */
  async hold(sql: string, read: boolean): Promise<HeldLane> {
    const pool = this.pool;
    if (read && pool !== undefined && !this.#pinned && !this.closed && this.frame(undefined) === undefined) {
      return this.#afterPrimaryCalls(() => pool.hold());
    }
    return { run: (op) => this.dispatch(undefined, sql, false, op), release: noop };
  }

  /** Finalize a statement's handle `id` on the connection `ops` it was prepared on; a closed connection has done it. */
  async finalize(ops: EngineOps, id: number, sql: string): Promise<void> {
    const pooled = ops === this.ops ? undefined : this.pool?.laneOf(ops);
    const done = pooled === undefined ? this.dispatch(undefined, sql, false, (o) => o.finalize(id)) : pooled.run((o) => o.finalize(id));
    await done.catch((err: unknown) => {
      if (!(err instanceof LtxvfsError && err.code === 'LTXVFS_ERR_CLOSED')) throw err;
    });
  }

  /** A call on the primary outside transactions, with a pool: counted for the pooled reads after it, and checked for connection state. */
  #onPrimary<T>(sql: string, call: () => Promise<T>): Promise<T> {
    if (!this.#pinned && changesConnectionState(sql)) this.#pinned = true;
    this.#primaryCalls++;
    const p = this.primary.track(call);
    this.#lastPrimaryCall = p.then(noop, noop).then(() => {
      this.#primaryCalls--;
    });
    return p;
  }

  #afterPrimaryCalls<T>(read: () => Promise<T>): Promise<T> {
    return this.#primaryCalls === 0 ? read() : this.#lastPrimaryCall.then(read);
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
    if (control === undefined) return this.dispatch(explicit, sql, false, (ops) => ops.exec(sql));
    const f = this.frame(explicit);
    if (f !== undefined) return Promise.reject(controlError(control.text, true));
    const opener = transactionLeftOpen(sql);
    if (opener !== undefined) return Promise.reject(controlError(opener.text, false));
    if (this.closed) return Promise.reject(closedError());
    // A script that begins and ends its transactions runs alone; if it failed half-way
    // inside one, that transaction is rolled back before any other call runs.
    const script = (): Promise<void> => this.lock.exclusive(async () => {
      try {
        await this.ops.exec(sql);
      } finally {
        if (await this.ops.inTransaction().catch(() => false)) await this.ops.exec(ROLLBACK_SQL).catch(noop);
      }
    });
    return this.pool === undefined ? script() : this.#onPrimary(sql, script);
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
    const run = (): Promise<R> => lock.exclusive(async () => {
      if (parent !== undefined && !parent.active) throw endedError('transaction()');
      const depth = parent === undefined ? 0 : parent.depth + 1;
      const savepoint = `ltxvfs_savepoint_${depth}`;
      await this.ops.exec(depth === 0 ? `BEGIN ${mode.toUpperCase()}` : `SAVEPOINT ${savepoint}`);
      const frame: TxFrame = { lock: new ConnectionLock(), depth, parent, active: true };
      const rollback = async (): Promise<void> => {
        frame.active = false;
        await this.ops.exec(depth === 0 ? ROLLBACK_SQL : `ROLLBACK TO ${savepoint}; RELEASE ${savepoint}`).catch(noop);
      };
      this.#openTransactions++;
      try {
        return await this.#runFrame(frame, fn, rollback, depth === 0 ? COMMIT_SQL : `RELEASE ${savepoint}`);
      } finally {
        // The frame is inactive now: no flow joins it any more.
        if (--this.#openTransactions === 0) this.flows.disable();
      }
    });
    // The primary is busy while it runs: pooled reads go elsewhere, but do not wait for it.
    return parent === undefined && this.pool !== undefined ? this.primary.track(run) : run();
  }

  /** Run the callback of `frame`'s level, then commit it (`commitSql`) or roll it back; the callback's result. */
  async #runFrame<R>(frame: TxFrame, fn: (tx: Transaction) => R | Promise<R>, rollback: () => Promise<void>, commitSql: string): Promise<R> {
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
        await this.ops.exec(commitSql);
      });
    } catch (err) {
      // A commit the replica refused (another writer took the TXID, the lease was lost).
      await rollback();
      throw err;
    }
    return result;
  }

  async prepare<T>(explicit: TxFrame | undefined, sql: string): Promise<Statement<T>> {
    this.checkStatement(sql, explicit);
    const read = this.pool !== undefined && isPooledRead(sql);
    const { ops, info } = await this.dispatch(explicit, sql, read, async (o) => ({ ops: o, info: await o.prepare(sql) }));
    return new Statement<T>(this.host, sql, info, ops, read);
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
    return this.dispatch(explicit, sql, this.pool !== undefined && isPooledRead(sql), (ops) => ops.query(sql, params, shape, max)) as Promise<{ columns: string[]; rows: T[] }>;
  }

  run(explicit: TxFrame | undefined, sql: string, params: Params | undefined): Promise<RunResult> {
    try {
      this.checkStatement(sql, explicit);
    } catch (err) {
      return Promise.reject(err);
    }
    return this.dispatch(explicit, sql, false, (ops) => ops.run(sql, params));
  }
}
