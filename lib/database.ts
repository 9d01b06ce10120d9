/**
 * `Database`: the public async API over one SQLite connection (DESIGN.md, public
 * surface): `all`, `get`, `run`, `exec`, `close`, `stats`.
 *
 * Engine-independent: it drives a connection through {@link SqliteApi}, the handful of
 * wa-sqlite API calls it needs (wa-sqlite's `SQLiteAPI` satisfies it), so `lib/` imports
 * no engine. An engine adapter (`vfs/asyncify-database.ts`) opens the connection and
 * hands it over with a {@link DatabaseInit}.
 *
 * Calls on one Database run one at a time, in call order (a promise chain): an Asyncify
 * module can suspend only one call at a time. `all`/`get`/`run` take one statement and
 * keep it prepared, keyed by its SQL text, in a bounded cache (finalized on eviction and
 * on close). Errors from SQLite become `LtxvfsError`s with code `LTXVFS_ERR_SQLITE`, the
 * SQLite result code in `sqliteCode`, and as `cause` the error the VFS caught behind it
 * (e.g. the `LTXVFS_ERR_STORAGE` error behind an `SQLITE_IOERR_READ`) or else SQLite's own.
 */
import { LtxvfsError } from '../ltx/errors.js';
import { bindParams, toRow } from './sql-params.js';

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
  /** Must bind an empty array as an empty BLOB (wa-sqlite's own binds NULL: see `withEmptyBlobs` in vfs/wa-sqlite.ts). */
  bind_blob(stmt: number, i: number, value: Uint8Array): number;
  column_names(stmt: number): string[];
  row(stmt: number): unknown[];
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
}

/** `SQLITE_BUSY`. */
const SQLITE_BUSY = 5;
const SQLITE_ROW = 100;
const SQLITE_PREPARE_PERSISTENT = 0x01;
const DEFAULT_STATEMENT_CACHE_SIZE = 64;
const SQL_EXCERPT_LENGTH = 120;

/** The public database API. Create it with `openDatabase` (or an engine adapter). */
export class Database<S extends DatabaseStats = DatabaseStats> {
  readonly #sqlite3: SqliteApi;
  readonly #db: number;
  readonly #vfs: VfsErrorSource;
  readonly #statsProvider: () => S;
  readonly #onClose: (() => void | Promise<void>) | undefined;
  readonly #cacheSize: number;
  /** Prepared statements by SQL text, least recently used first; guarded by the call chain. */
  readonly #statements = new Map<string, number>();
  /** The end of the call chain: every call runs after the previous one settled. */
  #tail: Promise<void> = Promise.resolve();
  #closing: Promise<void> | undefined;

  constructor(init: DatabaseInit<S>) {
    this.#sqlite3 = init.sqlite3;
    this.#db = init.db;
    this.#vfs = init.vfs;
    this.#statsProvider = init.statsProvider;
    this.#onClose = init.onClose;
    this.#cacheSize = init.statementCacheSize ?? DEFAULT_STATEMENT_CACHE_SIZE;
  }

  /** Whether `close()` has been called. */
  get closed(): boolean {
    return this.#closing !== undefined;
  }

  /**
   * All rows of one statement, as objects keyed by column name. `T` names the row's
   * shape for the caller (default {@link Row}); it is not checked against the columns.
   * @throws LtxvfsError `LTXVFS_ERR_SQLITE` (SQLite failed; `sqliteCode`, `cause`),
   *   `LTXVFS_ERR_USAGE` (not exactly one statement, parameters that do not fit),
   *   `LTXVFS_ERR_CLOSED`.
   */
  all<T extends object = Row>(sql: string, params?: Params): Promise<T[]> {
    return this.query<T>(sql, params).then((r) => r.rows);
  }

  /**
   * All rows of one statement and its column names (known even when there are no rows,
   * e.g. for printing a table header). `T` as in {@link Database.all}. Errors as {@link Database.all}.
   */
  query<T extends object = Row>(sql: string, params?: Params): Promise<{ columns: string[]; rows: T[] }> {
    return this.#enqueue(sql, () =>
      this.#withStatement(sql, params, async (stmt) => {
        const rows: Row[] = [];
        // Names after the first step: a step may re-prepare an expired statement (every
        // PRAGMA expires after one run; file-control PRAGMAs name their column after the value).
        let columns: string[] | undefined;
        while ((await this.#sqlite3.step(stmt)) === SQLITE_ROW) {
          columns ??= this.#sqlite3.column_names(stmt);
          rows.push(toRow(columns, this.#sqlite3.row(stmt)));
        }
        return { columns: columns ?? this.#sqlite3.column_names(stmt), rows: rows as object[] as T[] };
      }),
    );
  }

  /** The first row of one statement, or `undefined`. `T` as in {@link Database.all}. Errors as {@link Database.all}. */
  get<T extends object = Row>(sql: string, params?: Params): Promise<T | undefined> {
    return this.#enqueue(sql, () =>
      this.#withStatement(sql, params, async (stmt) => {
        if ((await this.#sqlite3.step(stmt)) !== SQLITE_ROW) return undefined;
        return toRow(this.#sqlite3.column_names(stmt), this.#sqlite3.row(stmt)) as object as T;
      }),
    );
  }

  /**
   * Run one statement to completion (rows are discarded). On a replica database writes
   * fail with `sqliteCode` `SQLITE_READONLY`; TEMP tables can be written.
   * Errors as {@link Database.all}.
   */
  run(sql: string, params?: Params): Promise<RunResult> {
    return this.#enqueue(sql, async () => {
      await this.#withStatement(sql, params, async (stmt) => {
        while ((await this.#sqlite3.step(stmt)) === SQLITE_ROW);
      });
      const changes = this.#sqlite3.changes(this.#db);
      const lastInsertRowid = await this.#withStatement('SELECT last_insert_rowid()', undefined, async (stmt) => {
        await this.#sqlite3.step(stmt);
        return this.#sqlite3.row(stmt)[0] as number | bigint;
      });
      return { changes, lastInsertRowid };
    });
  }

  /**
   * Run any number of statements separated by `;`, without parameters; rows are discarded.
   * @throws LtxvfsError `LTXVFS_ERR_SQLITE` (statements before the failing one have run), `LTXVFS_ERR_CLOSED`.
   */
  exec(sql: string): Promise<void> {
    return this.#enqueue(sql, async () => {
      await this.#sqlite3.exec(this.#db, sql);
    });
  }

  /** The counters of the database (from the opener's stats provider). @throws LtxvfsError `LTXVFS_ERR_CLOSED`. */
  stats(): S {
    if (this.closed) throw closedError();
    return this.#statsProvider();
  }

  /**
   * Close the connection after the calls already made have finished, then call `onClose`.
   * Idempotent: later calls return the same promise. Every other method fails with
   * `LTXVFS_ERR_CLOSED` once `close()` has been called.
   */
  close(): Promise<void> {
    this.#closing ??= this.#tail.then(async () => {
      try {
        for (const stmt of this.#statements.values()) await this.#sqlite3.finalize(stmt);
        this.#statements.clear();
        await this.#sqlite3.close(this.#db);
      } catch (err) {
        throw this.#sqliteError(err, 'close');
      } finally {
        await this.#onClose?.();
      }
    });
    return this.#closing;
  }

  /** Run `op` after every call made before; SQLite errors become `LTXVFS_ERR_SQLITE`. */
  #enqueue<T>(sql: string, op: () => Promise<T>): Promise<T> {
    if (this.closed) return Promise.reject(closedError());
    const run = this.#tail.then(async () => {
      // An error a VFS caught but SQLite got past must not become the cause of a later one.
      this.#vfs.takeLastError();
      try {
        return await op();
      } catch (err) {
        const error = this.#sqliteError(err, sql);
        // A commit the replica refused (another writer took the TXID, the lease was lost)
        // leaves SQLite's explicit transaction open; nothing of it may stay.
        if ((((error as { sqliteCode?: number }).sqliteCode ?? 0) & 0xff) === SQLITE_BUSY && this.#sqlite3.get_autocommit(this.#db) === 0) {
          await this.#sqlite3.exec(this.#db, 'ROLLBACK').catch(noop);
        }
        throw error;
      }
    });
    this.#tail = run.then(noop, noop);
    return run;
  }

  /** Bind `params` to the prepared statement for `sql`, run `body`, and reset it for reuse. */
  async #withStatement<T>(sql: string, params: Params | undefined, body: (stmt: number) => Promise<T>): Promise<T> {
    const stmt = await this.#prepare(sql);
    try {
      bindParams(this.#sqlite3, stmt, params);
      return await body(stmt);
    } finally {
      await this.#release(sql, stmt);
    }
  }

  /** The prepared statement for `sql`: from the cache, or prepared now (exactly one statement). */
  async #prepare(sql: string): Promise<number> {
    const cached = this.#statements.get(sql);
    if (cached !== undefined) {
      this.#statements.delete(sql);
      return cached;
    }
    const statements = this.#sqlite3
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
      await this.#sqlite3.finalize(stmt);
      throw err;
    }
    if (rest.done !== true) {
      await statements.return?.();
      await this.#sqlite3.finalize(stmt);
      await this.#sqlite3.finalize(rest.value);
      throw new LtxvfsError('LTXVFS_ERR_USAGE', `more than one SQL statement (use exec()): ${excerpt(sql)}`);
    }
    return stmt;
  }

  /** Reset `stmt` and put it back in the cache (as most recently used), evicting the oldest. */
  async #release(sql: string, stmt: number): Promise<void> {
    try {
      // reset() repeats the error of a failed step; that error has already been thrown.
      await this.#sqlite3.reset(stmt);
    } catch {
      // Nothing more to report.
    }
    this.#sqlite3.clear_bindings(stmt);
    if (this.#cacheSize <= 0) {
      await this.#sqlite3.finalize(stmt);
      return;
    }
    this.#statements.set(sql, stmt);
    if (this.#statements.size > this.#cacheSize) {
      const [oldestSql, oldest] = this.#statements.entries().next().value as [string, number];
      this.#statements.delete(oldestSql);
      await this.#sqlite3.finalize(oldest);
    }
  }

  /** `err` as the API reports it: SQLite's errors become `LTXVFS_ERR_SQLITE`, others pass. */
  #sqliteError(err: unknown, sql: string): unknown {
    if (err instanceof LtxvfsError || !isSqliteError(err)) return err;
    const behind = this.#vfs.takeLastError();
    return new LtxvfsError('LTXVFS_ERR_SQLITE', `${err.message}: ${excerpt(sql)}`, {
      sqliteCode: err.code,
      cause: behind ?? err,
    });
  }
}

function noop(): void {}

function closedError(): LtxvfsError {
  return new LtxvfsError('LTXVFS_ERR_CLOSED', 'the database is closed');
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
