/**
 * `ltxvfs/kysely`: a Kysely dialect over an ltxvfs {@link Database} (issue 14 item 6;
 * docs/kysely.md). `new Kysely<DB>({ dialect: new LtxvfsDialect({ database }) })`.
 *
 * Kysely's SQLite adapter, introspector and query compiler, with a driver of its own:
 * a Database refuses a bare `BEGIN` (one flow's open transaction would take in every
 * other flow's statements), so a Kysely transaction runs as a `database.transaction()`
 * whose callback runs that transaction's statements one after another until Kysely
 * commits (the callback returns) or rolls back (it throws). Statements outside a
 * transaction go to the Database directly; its lock keeps them out of other flows'
 * transactions. `kysely` is an optional peer dependency: only this entry imports it.
 */
import { SqliteAdapter, SqliteIntrospector, SqliteQueryCompiler } from 'kysely';
import type { CompiledQuery, DatabaseConnection, DatabaseIntrospector, Dialect, DialectAdapter, Driver, Kysely, QueryCompiler, QueryResult, TransactionSettings } from 'kysely';
import { LtxvfsError } from '../../ltx/errors.js';
import type { Database, Params, TransactionMode } from '../sql/database.js';
import { TransactionRun } from '../sql/transaction-run.js';

/** What {@link LtxvfsDialect} takes. */
export interface LtxvfsDialectConfig {
  /** The database Kysely runs on (`openDatabase(url, options)`), or a function that opens it at Kysely's first query. Kysely's `destroy()` does not close it. */
  database: Database | (() => Promise<Database>);
  /** How Kysely transactions begin (`transaction()`'s `mode`): `'deferred'` (default) or `'immediate'` (take the write lock at once). */
  transactionMode?: TransactionMode;
}

/**
 * Kysely's dialect for an ltxvfs Database: SQLite's adapter, introspector and query
 * compiler, and a driver that runs statements through the Database (rows as objects;
 * `numAffectedRows` and `insertId` for statements without result columns; `stream()`
 * through `Statement.iterate()`) and Kysely transactions as `database.transaction()`.
 * Savepoints of Kysely's controlled transactions are not supported (Kysely says so).
 */
export class LtxvfsDialect implements Dialect {
  readonly #config: LtxvfsDialectConfig;

  /** @throws LtxvfsError `LTXVFS_ERR_USAGE` without a `database`, or with a `transactionMode` other than 'deferred' / 'immediate'. */
  constructor(config: LtxvfsDialectConfig) {
    if (config?.database === undefined || config.database === null) {
      throw new LtxvfsError('LTXVFS_ERR_USAGE', 'LtxvfsDialect: pass { database } (an openDatabase() Database, or a function returning one)');
    }
    const mode = config.transactionMode ?? 'deferred';
    if (mode !== 'deferred' && mode !== 'immediate') {
      throw new LtxvfsError('LTXVFS_ERR_USAGE', `LtxvfsDialect: transactionMode ${JSON.stringify(mode)} is not 'deferred' or 'immediate'`);
    }
    this.#config = { ...config, transactionMode: mode };
  }

  /** The driver (one per Kysely instance). */
  createDriver(): Driver {
    return new LtxvfsDriver(this.#config);
  }

  /** Kysely's SQLite query compiler. */
  createQueryCompiler(): QueryCompiler {
    return new SqliteQueryCompiler();
  }

  /** Kysely's SQLite adapter. */
  createAdapter(): DialectAdapter {
    return new SqliteAdapter();
  }

  /** Kysely's SQLite introspector (`db.introspection`). */
  createIntrospector(db: Kysely<unknown>): DatabaseIntrospector {
    return new SqliteIntrospector(db);
  }
}

/** SQL texts remembered as returning rows or not, before the map starts over. */
const READER_CACHE_SIZE = 512;

/** The driver: connections are views of the one Database; the Database's lock orders them. */
class LtxvfsDriver implements Driver {
  readonly #config: LtxvfsDialectConfig;
  #database: Promise<Database> | undefined;
  readonly #readers = new Map<string, boolean>();

  constructor(config: LtxvfsDialectConfig) {
    this.#config = config;
  }

  async init(): Promise<void> {
    const { database } = this.#config;
    this.#database = typeof database === 'function' ? database() : Promise.resolve(database);
    await this.#database;
  }

  async acquireConnection(): Promise<DatabaseConnection> {
    if (this.#database === undefined) await this.init();
    return new LtxvfsConnection(await this.#database!, this.#readers);
  }

  async beginTransaction(connection: DatabaseConnection, settings: TransactionSettings): Promise<void> {
    if (settings.isolationLevel !== undefined || settings.accessMode !== undefined) {
      throw new LtxvfsError('LTXVFS_ERR_USAGE', `Kysely transaction: SQLite has no isolation levels or access modes (got ${JSON.stringify(settings)}); ` +
        'its transactions are serializable; choose deferred or immediate with LtxvfsDialect({ transactionMode })');
    }
    await (connection as LtxvfsConnection).begin(this.#config.transactionMode ?? 'deferred');
  }

  async commitTransaction(connection: DatabaseConnection): Promise<void> {
    await (connection as LtxvfsConnection).end(true);
  }

  async rollbackTransaction(connection: DatabaseConnection): Promise<void> {
    await (connection as LtxvfsConnection).end(false);
  }

  async releaseConnection(): Promise<void> {}

  /** Kysely's `destroy()`: the Database stays open (its opener closes it). */
  async destroy(): Promise<void> {}
}

/** One Kysely connection: the Database, or the transaction Kysely began on it. */
class LtxvfsConnection implements DatabaseConnection {
  readonly #database: Database;
  readonly #readers: Map<string, boolean>;
  #transaction: TransactionRun | undefined;

  constructor(database: Database, readers: Map<string, boolean>) {
    this.#database = database;
    this.#readers = readers;
  }

  async begin(mode: TransactionMode): Promise<void> {
    this.#transaction = await TransactionRun.begin((body) => this.#database.transaction(body, { mode }));
  }

  async end(commit: boolean): Promise<void> {
    const run = this.#transaction;
    // A rollback after a failed commit: the transaction has ended already.
    if (run === undefined) return;
    this.#transaction = undefined;
    await run.end(commit);
  }

  /** Run `op` in this connection's transaction, if it has one. */
  #run<T>(op: () => Promise<T>): Promise<T> {
    return this.#transaction === undefined ? op() : this.#transaction.run(op);
  }

  /** Whether `sql` returns rows (it has result columns), remembered by SQL text. */
  async #isReader(sql: string): Promise<boolean> {
    const known = this.#readers.get(sql);
    if (known !== undefined) return known;
    const statement = await this.#database.prepare(sql);
    const reader = statement.columns().length > 0;
    await statement.finalize();
    if (this.#readers.size >= READER_CACHE_SIZE) this.#readers.clear();
    this.#readers.set(sql, reader);
    return reader;
  }

  executeQuery<R>(compiledQuery: CompiledQuery): Promise<QueryResult<R>> {
    const { sql } = compiledQuery;
    const params = compiledQuery.parameters as Params;
    return this.#run(async () => {
      if (await this.#isReader(sql)) return { rows: await this.#database.all(sql, params) as R[] };
      const { changes, lastInsertRowid } = await this.#database.run(sql, params);
      return { rows: [], numAffectedRows: BigInt(changes), insertId: BigInt(lastInsertRowid) };
    });
  }

  /**
   * Rows of a statement that returns rows, `chunkSize` at a time (`Statement.iterate()`'s
   * batch size; default 256). @throws LtxvfsError `LTXVFS_ERR_USAGE` for a statement without result columns.
   */
  async *streamQuery<R>(compiledQuery: CompiledQuery, chunkSize = 256): AsyncIterableIterator<QueryResult<R>> {
    const { sql } = compiledQuery;
    const params = compiledQuery.parameters as Params;
    const statement = await this.#run(() => this.#database.prepare<R>(sql));
    try {
      if (statement.columns().length === 0) {
        throw new LtxvfsError('LTXVFS_ERR_USAGE', `Kysely stream(): the statement returns no rows: ${statement.source}`);
      }
      const rows = statement.iterate(params, { batchSize: chunkSize });
      try {
        let chunk: R[] = [];
        for (;;) {
          const next = await this.#run(() => rows.next());
          if (next.done === true) break;
          chunk.push(next.value);
          if (chunk.length >= chunkSize) {
            yield { rows: chunk };
            chunk = [];
          }
        }
        if (chunk.length > 0) yield { rows: chunk };
      } finally {
        await this.#run(() => rows.return(undefined));
      }
    } finally {
      await this.#run(() => statement.finalize());
    }
  }
}
