/**
 * The sql.js 1.x API that `loadSqlJs` / `openSqlJs` hand out, declared here.
 *
 * sql.js is an optional peer dependency and ships no types (they are in `@types/sql.js`),
 * so ltxvfs's public `.d.ts` cannot import them: a consumer without sql.js would get
 * `Could not find a declaration file for module 'sql.js'`. These are structural copies
 * of the members sql.js 1.16 has (https://sql.js.org/documentation/): `@types/sql.js`'s
 * `SqlJsStatic` is a {@link SqlJsStatic} (so its `initSqlJs` can be given as
 * `LoadSqlJsOptions.init`), and a {@link SqlJsDatabase} is sql.js's own `Database` object.
 */

/** A value sql.js reads or binds (integers beyond ±2⁵³ come back as numbers, rounded). */
export type SqlJsValue = number | string | Uint8Array | null;

/** Named parameters keyed with their prefix (`:a`, `@a`, `$a`). */
export type SqlJsParamsObject = Record<string, SqlJsValue>;

/** Parameters of a statement: positional, named, or none. */
export type SqlJsBindParams = SqlJsValue[] | SqlJsParamsObject | null;

/** One statement's result in `Database.exec`. */
export interface SqlJsQueryExecResult {
  columns: string[];
  values: SqlJsValue[][];
}

/** sql.js's prepared `Statement`. */
export interface SqlJsStatement {
  bind(values?: SqlJsBindParams): boolean;
  /** The next row; false after the last. */
  step(): boolean;
  get(params?: SqlJsBindParams): SqlJsValue[];
  getAsObject(params?: SqlJsBindParams): SqlJsParamsObject;
  getColumnNames(): string[];
  getSQL(): string;
  getNormalizedSQL(): string;
  run(values?: SqlJsBindParams): void;
  reset(): void;
  freemem(): void;
  free(): boolean;
}

/** sql.js's `Database`: synchronous; errors are thrown (by ltxvfs as `LtxvfsError`s, see vfs/sqljs/index.ts). */
export interface SqlJsDatabase {
  /** Every statement of `sql`, and the rows of those that return some. */
  exec(sql: string, params?: SqlJsBindParams): SqlJsQueryExecResult[];
  /** Run one statement, discarding rows. */
  run(sql: string, params?: SqlJsBindParams): SqlJsDatabase;
  prepare(sql: string, params?: SqlJsBindParams): SqlJsStatement;
  each(sql: string, params: SqlJsBindParams, callback: (row: SqlJsParamsObject) => void, done: () => void): SqlJsDatabase;
  each(sql: string, callback: (row: SqlJsParamsObject) => void, done: () => void): SqlJsDatabase;
  /** The statements of `sql`, prepared one at a time. */
  iterateStatements(sql: string): SqlJsStatementIterator;
  /** Called after each row change (`null` removes the hook). */
  updateHook(callback: ((operation: 'insert' | 'update' | 'delete', database: string, table: string, rowId: number) => void) | null): SqlJsDatabase;
  /** Throws the connection's last error for a failed result code (ltxvfs wraps it, see vfs/sqljs/index.ts). */
  handleError(): null | never;
  /** Rows changed by the last statement. */
  getRowsModified(): number;
  /** Register a scalar SQL function of `func.length` arguments. */
  create_function(name: string, func: (...args: never[]) => unknown): SqlJsDatabase;
  /** The database as one SQLite file image. */
  export(): Uint8Array;
  close(): void;
}

/** What `Database.iterateStatements` returns. */
export interface SqlJsStatementIterator extends Iterator<SqlJsStatement>, Iterable<SqlJsStatement> {
  /** The SQL not yet prepared. */
  getRemainingSQL(): string;
  next(): { done: boolean; value: SqlJsStatement };
}

/** sql.js's module object (what `initSqlJs()` resolves to). */
export interface SqlJsStatic {
  /** An in-memory database, empty or from the bytes of a SQLite file. */
  Database: { new (data?: ArrayLike<number> | null): SqlJsDatabase; readonly prototype: SqlJsDatabase };
  /** The statement class (statements come from `Database.prepare`). */
  Statement: { new (...args: never[]): SqlJsStatement; readonly prototype: SqlJsStatement };
}
