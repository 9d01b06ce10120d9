/**
 * The value and row types of the SQL API, and the wa-sqlite calls it makes: shared by
 * `Database` (lib/sql/database.ts), statements (lib/sql/statement.ts), the SQLite operations
 * (lib/sql/sqlite-ops.ts) and parameter binding (lib/sql/params.ts), so none of those needs
 * to import another to name them.
 */

/** A value SQLite returns: integers as `number`, or `bigint` beyond ±2⁵³−1. */
export type SqlValue = number | bigint | string | Uint8Array | null;

/** A value that can be bound to a parameter (booleans bind as 1/0). */
export type BindValue = SqlValue | boolean;

/**
 * Statement parameters: an array for positional parameters (`?`, `?NNN`), or an object
 * for named ones (`:name`, `@name`, `$name`; keys with or without the prefix).
 */
export type Params = readonly BindValue[] | { readonly [name: string]: BindValue };

/** A result row keyed by column name. */
export type Row = Record<string, SqlValue>;

/** What `run` reports. */
export interface RunResult {
  /** Rows changed by the statement (`sqlite3_changes`). */
  changes: number;
  /** The rowid of the last row inserted on this connection (`bigint` beyond ±2⁵³−1). */
  lastInsertRowid: number | bigint;
}

/** Counters of an open database, as `stats()` gives them. */
export interface DatabaseStats {
  /** Pages decoded from storage. */
  pagesFetched: number;
  /** Bytes received from storage. */
  bytesRead: number;
  /** Storage read requests. */
  readRequests: number;
  /** Page reads served from the page cache. */
  cacheHits: number;
  /** Page reads that went to storage. */
  cacheMisses: number;
  /** Bytes of decompressed pages in the page cache now. */
  cacheBytes: number;
  /** TXID of the newest version known. */
  txid: number;
}

/** The wa-sqlite API calls a {@link Database} makes (wa-sqlite's `SQLiteAPI` has them all). */
export interface SqliteApi {
  statements(db: number, sql: string, options?: { unscoped?: boolean; flags?: number }): AsyncIterable<number>;
  step(stmt: number): Promise<number>;
  /**
   * `sqlite3_step` that answers with the result code itself when the step did not suspend
   * (an engine that can tell: vfs/asyncify/raw-calls.ts), else a Promise of it; errors as `step`.
   */
  stepNow?(stmt: number): number | Promise<number>;
  /** `sqlite3_reset` as {@link SqliteApi.stepNow} answers (its result code is not checked). */
  resetNow?(stmt: number): number | Promise<number>;
  /**
   * How many times SQLite has re-prepared `stmt` (`sqlite3_stmt_status(…, SQLITE_STMTSTATUS_REPREPARE)`,
   * https://sqlite.org/c3ref/c_stmtstatus_counter.html): its column names are kept while it stays the same.
   */
  reprepares?(stmt: number): number;
  reset(stmt: number): Promise<number>;
  finalize(stmt: number): Promise<number>;
  clear_bindings(stmt: number): number;
  bind_parameter_count(stmt: number): number;
  bind_parameter_name(stmt: number, i: number): string;
  bind_null(stmt: number, i: number): number;
  bind_int(stmt: number, i: number, value: number): number;
  bind_int64(stmt: number, i: number, value: bigint): number;
  bind_double(stmt: number, i: number, value: number): number;
  bind_text(stmt: number, i: number, value: string): number;
  /** Must bind an empty array as an empty BLOB (wa-sqlite's own binds NULL: see `withEmptyBlobs` in vfs/wasm/wa-sqlite.ts). */
  bind_blob(stmt: number, i: number, value: Uint8Array): number;
  column_names(stmt: number): string[];
  row(stmt: number): unknown[];
  column_type(stmt: number, i: number): number;
  /** A number when the value is a safe integer, else a bigint (wa-sqlite reads it with `sqlite3_column_int64`). */
  column(stmt: number, i: number): unknown;
  column_int64(stmt: number, i: number): bigint;
  column_double(stmt: number, i: number): number;
  column_text(stmt: number, i: number): string;
  /** A view of wasm memory, valid until the next step. */
  column_blob(stmt: number, i: number): Uint8Array;
  changes(db: number): number;
  get_autocommit(db: number): number;
  exec(db: number, sql: string): Promise<number>;
  close(db: number): Promise<number>;
}

/** Where the errors behind SQLite's codes are kept: the VFS (`LtxAsyncVFS.takeLastError`). */
export interface VfsErrorSource {
  /** The last error a VFS method caught, forgetting it. */
  takeLastError(): unknown;
}
