/**
 * `Transaction`: the handle a `transaction()` callback gets (issue 14 item 1), and the
 * query surface it shares with `Database` ({@link Queryable}).
 *
 * A transaction is one level of {@link TxFrame}: the outermost holds the primary
 * connection exclusively (lib/sql/core.ts), a nested one is a savepoint in it. Every call
 * made on the handle runs in that level, after the calls handed to it before; once the
 * callback has settled the level is inactive and calls on it fail with `LTXVFS_ERR_USAGE`.
 * The handle only forwards: the work is {@link TransactionCore}'s, so this module needs
 * nothing of the Database's internals.
 */
import type { ConnectionLock } from './connection-lock.js';
import type { BatchStatement, Statement, TransactionMode } from './statement.js';
import type { Params, Row, RunResult } from './types.js';

/** Options of `transaction()` and `batch()`. */
export interface TransactionOptions {
  /**
   * `'deferred'` (default): `BEGIN DEFERRED`, the write lock is taken at the first write.
   * `'immediate'`: `BEGIN IMMEDIATE`, taken at once (a writer's choice: it fails at the
   * start, not half-way, when the lease is not held). Nested calls are savepoints and ignore it.
   */
  mode?: TransactionMode;
}

/** One transaction level: its lock (the calls made inside it), depth and state. @internal */
export interface TxFrame {
  readonly lock: ConnectionLock;
  readonly depth: number;
  readonly parent: TxFrame | undefined;
  active: boolean;
}

/**
 * The queries of a connection: the methods a `Database` and a {@link Transaction} share.
 * Calls made by a flow inside a `transaction()` callback run in that transaction, whether
 * made on `tx` or on the Database.
 */
export interface Queryable {
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
 * What a {@link Transaction} forwards to: the Database's calls, made in a given level
 * (`frame`; undefined = the calling flow's, as a Database call). @internal
 */
export interface TransactionCore {
  query<T>(frame: TxFrame | undefined, sql: string, params: Params | undefined, max: number): Promise<{ columns: string[]; rows: T[] }>;
  run(frame: TxFrame | undefined, sql: string, params: Params | undefined): Promise<RunResult>;
  exec(frame: TxFrame | undefined, sql: string): Promise<void>;
  prepare<T>(frame: TxFrame | undefined, sql: string): Promise<Statement<T>>;
  transaction<R>(frame: TxFrame | undefined, fn: (tx: Transaction) => R | Promise<R>, options: TransactionOptions): Promise<R>;
  batch(frame: TxFrame | undefined, statements: readonly BatchStatement[], options: TransactionOptions): Promise<RunResult[]>;
}

/**
 * The handle a `transaction()` callback gets: the Database's query methods, run inside
 * the transaction (on the primary connection). `tx.transaction(fn)` nests as a savepoint.
 * Calls after the callback has settled fail with `LTXVFS_ERR_USAGE`.
 */
export class Transaction implements Queryable {
  readonly #core: TransactionCore;
  readonly #frame: TxFrame;

  /** @internal Made by `transaction()`. */
  constructor(core: TransactionCore, frame: TxFrame) {
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

  /** As `Database.all`, inside the transaction. */
  all<T extends object = Row>(sql: string, params?: Params): Promise<T[]> {
    return this.#core.query<T>(this.#frame, sql, params, 0).then((r) => r.rows);
  }

  /** As `Database.get`, inside the transaction. */
  get<T extends object = Row>(sql: string, params?: Params): Promise<T | undefined> {
    return this.#core.query<T>(this.#frame, sql, params, 1).then((r) => r.rows[0]);
  }

  /** As `Database.query`, inside the transaction. */
  query<T extends object = Row>(sql: string, params?: Params): Promise<{ columns: string[]; rows: T[] }> {
    return this.#core.query<T>(this.#frame, sql, params, 0);
  }

  /** As `Database.run`, inside the transaction. */
  run(sql: string, params?: Params): Promise<RunResult> {
    return this.#core.run(this.#frame, sql, params);
  }

  /** As `Database.exec`, inside the transaction: statements that control transactions are refused. */
  exec(sql: string): Promise<void> {
    return this.#core.exec(this.#frame, sql);
  }

  /** As `Database.prepare`. */
  prepare<T = Row>(sql: string): Promise<Statement<T>> {
    return this.#core.prepare<T>(this.#frame, sql);
  }

  /** A savepoint: released when `fn` returns, rolled back to when it throws (the outer transaction goes on). */
  transaction<R>(fn: (tx: Transaction) => R | Promise<R>, options: TransactionOptions = {}): Promise<R> {
    return this.#core.transaction(this.#frame, fn, options);
  }

  /** As `Database.batch`, in a savepoint. */
  batch(statements: readonly BatchStatement[], options: TransactionOptions = {}): Promise<RunResult[]> {
    return this.#core.batch(this.#frame, statements, options);
  }
}
