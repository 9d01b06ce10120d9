/**
 * The three engine paths behind one async test interface, so one correctness suite runs
 * against all of them (test/helpers/engine-suite.ts):
 *
 * - `asyncify`: `openDatabase(url)` (wa-sqlite's Asyncify build in this thread);
 * - `worker`: `openDatabase(url, { engine: 'worker' })` (non-Asyncify build in a worker);
 * - `sqljs`: `openSqlJs(SQL, url)` (sql.js in this thread, pages from the fetch thread),
 *   its synchronous calls wrapped.
 *
 * Rows are objects keyed by column name in every case; errors are the engines' own.
 */
import type { SqlJsStatic } from 'sql.js';
import { openDatabase, type OpenOptions } from '../../lib/api/open.js';
import type { Params, Row } from '../../lib/sql/database.js';
import { loadSqlJs, openSqlJs, sqlJsStats, type SqlJsOpenOptions } from '../../vfs/sqljs/index.js';

export type EngineName = 'asyncify' | 'worker' | 'sqljs';

export const ENGINES: readonly EngineName[] = ['asyncify', 'worker', 'sqljs'];

/** A connection of any engine. */
export interface EngineDb {
  readonly engine: EngineName;
  all(sql: string, params?: Params): Promise<Row[]>;
  exec(sql: string): Promise<void>;
  /** Run `fn` in a transaction (`Database.transaction`; sql.js: BEGIN … COMMIT around it). */
  transaction<R>(fn: () => Promise<R>): Promise<R>;
  /** The reader's TXID and pinned versions, from the engine's own stats. */
  stats(): Promise<{ txid: number; pinnedVersions: number; timeTravel: boolean }>;
  close(): Promise<void>;
}

let sqlJs: Promise<SqlJsStatic> | undefined;

/** Open `url` with `engine`. */
export async function openEngine(engine: EngineName, url: string, options: OpenOptions & SqlJsOpenOptions = {}): Promise<EngineDb> {
  if (engine !== 'sqljs') {
    const db = await openDatabase(url, engine === 'worker' ? { ...options, engine: 'worker' } : options);
    return {
      engine,
      all: (sql, params) => db.all(sql, params),
      exec: (sql) => db.exec(sql),
      transaction: (fn) => db.transaction(fn),
      stats: async () => db.stats(),
      close: () => db.close(),
    };
  }
  sqlJs ??= loadSqlJs();
  const db = await openSqlJs(await sqlJs, url, options);
  return {
    engine,
    all: async (sql, params) => {
      const stmt = db.prepare(sql);
      try {
        if (params !== undefined) stmt.bind(params as never);
        const rows: Row[] = [];
        while (stmt.step()) rows.push(stmt.getAsObject() as Row);
        return rows;
      } finally {
        stmt.free();
      }
    },
    exec: async (sql) => {
      db.exec(sql);
    },
    transaction: async (fn) => {
      db.exec('BEGIN');
      try {
        const result = await fn();
        db.exec('COMMIT');
        return result;
      } catch (err) {
        db.exec('ROLLBACK');
        throw err;
      }
    },
    stats: async () => sqlJsStats(db),
    close: async () => db.close(),
  };
}
