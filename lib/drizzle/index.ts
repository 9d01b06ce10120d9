/**
 * `ltxvfs/drizzle`: Drizzle ORM on an ltxvfs {@link Database} (issue 14 item 6;
 * docs/drizzle.md). `drizzle(database, config?)` gives Drizzle's async SQLite database
 * (`drizzle-orm/sqlite-proxy`'s), whose callback runs each statement through the
 * Database with rows as arrays (`Statement.raw()`), as Drizzle's joins need: two
 * tables' `id` columns stay two values.
 *
 * Transactions: sqlite-proxy sends `begin`, `commit`, `rollback`, `savepoint spN`,
 * `release savepoint spN` and `rollback to savepoint spN` as SQL through the callback. A
 * Database refuses them (a transaction left open on the shared connection would take
 * in every other flow's statements), so `db.transaction()` runs Drizzle's own inside an
 * AsyncLocalStorage scope, and the callback maps that scope's `begin` … `commit` onto a
 * `database.transaction()` (lib/sql/transaction-run.ts) and its savepoints onto nested ones;
 * the statements of the scope run inside it, and other flows' calls wait.
 * `drizzle-orm` is an optional peer dependency: only this entry imports it.
 */
import { AsyncLocalStorage } from 'node:async_hooks';
import { drizzle as proxyDrizzle, type SqliteRemoteDatabase } from 'drizzle-orm/sqlite-proxy';
import type { DrizzleConfig } from 'drizzle-orm';
import { LtxvfsError } from '../../ltx/errors.js';
import type { Database, Params, TransactionMode } from '../sql/database.js';
import { TransactionRun } from '../sql/transaction-run.js';

/** The methods sqlite-proxy asks for: `run` (no rows), `all` (rows as arrays), `values` (the same), `get` (the first row as an array). */
type Method = 'run' | 'all' | 'values' | 'get';

/** What the callback answers: `rows` (arrays, or for `get` one array or undefined), and for `run` SQLite's counts. */
interface ProxyResult {
  rows: unknown;
  changes?: number;
  lastInsertRowid?: number | bigint;
}

/** The transactions of one `db.transaction()` call: the outermost and its open savepoints. */
interface Scope {
  stack: TransactionRun[];
}

/** The SQL sqlite-proxy sends to control transactions (drizzle-orm/sqlite-proxy/session.js). */
const BEGIN = /^begin(?: (deferred|immediate|exclusive))?$/i;
const SAVEPOINT = /^savepoint sp\d+$/i;
const RELEASE = /^release savepoint sp\d+$/i;
const ROLLBACK_TO = /^rollback to savepoint sp\d+$/i;

/**
 * Drizzle's async SQLite database over `database` (`drizzle-orm/sqlite-proxy`'s
 * `SqliteRemoteDatabase`): queries, `db.batch([...])` (one transaction), and
 * `db.transaction(async (tx) => …, { behavior })` as one `database.transaction()` with
 * `tx.transaction()` as savepoints. `config` is Drizzle's (`schema`, `logger`, `casing`, `cache`).
 * Writes need the lease (`openDatabase(url, { autoLease: true })`).
 * @throws LtxvfsError `LTXVFS_ERR_USAGE` when `database` is not a Database. A failed
 *   query rejects with Drizzle's DrizzleQueryError whose `cause` is the Database's error
 *   (`batch()` with that error itself); `behavior: 'exclusive'` with `LTXVFS_ERR_USAGE` as
 *   the cause (a Database begins 'deferred' or 'immediate'); `db.transaction()` inside a
 *   transaction with `LTXVFS_ERR_USAGE` (use `tx.transaction()`).
 */
export function drizzle<TSchema extends Record<string, unknown> = Record<string, never>>(
  database: Database,
  config: DrizzleConfig<TSchema> = {},
): SqliteRemoteDatabase<TSchema> {
  if (typeof database?.prepare !== 'function' || typeof database.transaction !== 'function') {
    throw new LtxvfsError('LTXVFS_ERR_USAGE', 'drizzle: the first argument must be a Database from openDatabase()');
  }
  const scopes = new AsyncLocalStorage<Scope>();

  /** Run `op` in the calling scope's innermost transaction, or directly outside one. */
  const inScope = <T>(op: () => Promise<T>): Promise<T> => {
    const stack = scopes.getStore()?.stack;
    const current = stack?.[stack.length - 1];
    return current === undefined ? op() : current.run(op);
  };

  const control = async (scope: Scope, sql: string): Promise<void> => {
    const { stack } = scope;
    const begin = BEGIN.exec(sql);
    if (begin !== null) {
      const mode = (begin[1]?.toLowerCase() ?? 'deferred') as TransactionMode;
      stack.push(await TransactionRun.begin((body) => database.transaction(body, { mode })));
    } else if (SAVEPOINT.test(sql)) {
      const outer = stack[stack.length - 1];
      stack.push(await TransactionRun.begin((body) => outer.run(() => database.transaction(body))));
    } else {
      // commit / rollback / release savepoint / rollback to savepoint: end the innermost
      // (none after a failed COMMIT, which rolled back already: Drizzle then sends rollback).
      await stack.pop()?.end(!/^rollback/i.test(sql));
    }
  };

  const execute = async (sql: string, params: Params, method: Method): Promise<ProxyResult> => {
    if (method === 'run') {
      const { changes, lastInsertRowid } = await database.run(sql, params);
      return { rows: [], changes, lastInsertRowid };
    }
    const statement = (await database.prepare(sql)).raw();
    try {
      return { rows: method === 'get' ? await statement.get(params) : await statement.all(params) };
    } finally {
      await statement.finalize();
    }
  };

  const callback = async (sql: string, params: unknown[], method: Method): Promise<ProxyResult> => {
    const scope = scopes.getStore();
    const text = sql.trim();
    if (scope !== undefined && (BEGIN.test(text) || SAVEPOINT.test(text) || RELEASE.test(text) || ROLLBACK_TO.test(text) || /^(commit|rollback)$/i.test(text))) {
      await control(scope, text);
      return { rows: [] };
    }
    return inScope(() => execute(sql, params as Params, method));
  };

  const batch = (queries: { sql: string; params: unknown[]; method: Method }[]): Promise<ProxyResult[]> =>
    inScope(() => database.transaction(async () => {
      const results: ProxyResult[] = [];
      for (const q of queries) results.push(await execute(q.sql, q.params as Params, q.method));
      return results;
    }));

  const db = proxyDrizzle<TSchema>(callback as Parameters<typeof proxyDrizzle>[0], batch as Parameters<typeof proxyDrizzle>[1], config);
  const transaction = db.transaction.bind(db);
  db.transaction = ((fn, txConfig) => {
    if ((scopes.getStore()?.stack.length ?? 0) > 0) {
      return Promise.reject(new LtxvfsError('LTXVFS_ERR_USAGE', 'drizzle: db.transaction() inside a transaction: use tx.transaction() for a savepoint'));
    }
    return scopes.run({ stack: [] }, () => transaction(fn, txConfig));
  }) as typeof db.transaction;
  return db;
}
