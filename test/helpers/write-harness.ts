/**
 * A writable ltxvfs connection assembled from the real parts, the way `openDatabase`
 * (lib/api/open.ts) assembles it, but over a client the test chooses (e.g. a
 * {@link CountingClient} whose writes can fail) and with a VFS that records what SQLite
 * did at its commit points ({@link RecordingVFS}): whether a transaction went through the
 * batch-atomic path (`SQLITE_FCNTL_BEGIN/COMMIT_ATOMIC_WRITE`) or through the journal and
 * the database sync (`SQLITE_FCNTL_SYNC`, `xSync`), and when the file was truncated.
 *
 * Nothing of the code under test is replaced: the recorder subclasses LtxAsyncVFS and
 * calls every method through.
 */
import * as SQLite from '@journeyapps/wa-sqlite';
import type { Test } from 'tap';
import { isLtxvfsError, type LtxvfsError, type LtxvfsErrorCode } from '../../ltx/errors.js';
import { Database } from '../../lib/sql/database.js';
import { ConnectionView } from '../../lib/connection/connection-view.js';
import type { WritablePageSource } from '../../lib/read/page-source.js';
import { ReplicaReader, type ReplicaReaderOptions, type ReplicaStats } from '../../lib/read/replica-reader.js';
import { litestreamFunctions, litestreamPragma } from '../../lib/connection/sql-surface.js';
import type { ReplicaClient } from '../../lib/storage/types.js';
import { ConnectionSink, leasePragma } from '../../lib/write/write-sink.js';
import { writerFor, type ReplicaWriter, type WriterOptions } from '../../lib/write/writer.js';
import { LtxAsyncVFS, type Thenable } from '../../vfs/asyncify/vfs.js';
import { registerFunction } from '../../vfs/core/sql-functions.js';
import { loadAsyncifyModule, withEmptyBlobs } from '../../vfs/wasm/wa-sqlite.js';

const SQLITE_OPEN_EXRESCODE = 0x0200_0000;
const FCNTL_NAMES: Record<number, string> = { 21: 'sync-fcntl', 31: 'begin-atomic', 32: 'commit-atomic', 33: 'rollback-atomic' };

/** An LtxAsyncVFS that logs the commit-point calls SQLite makes on main database files. */
export class RecordingVFS extends LtxAsyncVFS {
  readonly #main = new Set<number>();
  /** `begin-atomic`, `commit-atomic`, `rollback-atomic`, `sync-fcntl`, `xsync`, `truncate <pages>`, in order. */
  readonly events: string[] = [];

  override jOpen(filename: string | null, pFile: number, flags: number, pOutFlags: DataView): number {
    const rc = super.jOpen(filename, pFile, flags, pOutFlags);
    if (rc === SQLite.SQLITE_OK && flags & SQLite.SQLITE_OPEN_MAIN_DB) this.#main.add(pFile);
    return rc;
  }

  override jFileControl(pFile: number, op: number, pArg: DataView): Thenable<number> | Promise<number> {
    if (this.#main.has(pFile) && FCNTL_NAMES[op] !== undefined) this.events.push(FCNTL_NAMES[op]);
    return super.jFileControl(pFile, op, pArg);
  }

  override jSync(pFile: number, flags: number): Thenable<number> | Promise<number> {
    if (this.#main.has(pFile)) this.events.push('xsync');
    return super.jSync(pFile, flags);
  }

  override jTruncate(pFile: number, size: number): number {
    if (this.#main.has(pFile)) this.events.push(`truncate ${size}`);
    return super.jTruncate(pFile, size);
  }

  /** The events since the last call, forgetting them. */
  take(): string[] {
    return this.events.splice(0);
  }
}

/** A writable connection and the parts behind it. */
export interface WritableConnection {
  db: Database<ReplicaStats>;
  vfs: RecordingVFS;
  reader: ReplicaReader;
  writer: ReplicaWriter;
  view: ConnectionView;
  sink: ConnectionSink;
  /** Close the connection, then the reader (which releases the lease and closes the client). */
  close(): Promise<void>;
}

/** Options of {@link openWritable}. */
export interface OpenWritableOptions extends WriterOptions, ReplicaReaderOptions {
  /** Share this reader (a second connection of the same process); default: open one over the client. */
  reader?: ReplicaReader;
}

/**
 * Open a read-write connection over `client` (polling off unless asked, an empty replica
 * allowed): reader, writer, view, sink, the lease and Litestream PRAGMAs, the Litestream
 * SQL functions, a {@link RecordingVFS}.
 */
export async function openWritable(client: ReplicaClient, options: OpenWritableOptions = {}): Promise<WritableConnection> {
  const reader = options.reader ?? (await ReplicaReader.open(client, { pollIntervalMs: 0, allowEmpty: true, ...options }));
  const writer = writerFor(reader, options);
  const view = new ConnectionView(reader);
  const sink = new ConnectionSink(view, writer);
  const source: WritablePageSource = {
    sink,
    acquire: () => view.acquire(),
    release: (v) => view.release(v),
    readPage: (v, pgno) => view.readPage(v, pgno),
    // As the in-process engine's source (lib/api/open.ts): cached pages copied without a wait.
    readPageInto: (v, pgno, dst) => view.readPageInto(v, pgno, dst),
  };
  const { module, sqlite3 } = await loadAsyncifyModule();
  const leases = leasePragma(writer);
  const litestream = litestreamPragma(view);
  const vfs = new RecordingVFS(module, { name: 'ltxvfs-recording', pragmaHandler: (name, value) => leases(name) ?? litestream(name, value) });
  sqlite3.vfs_register(vfs, false);
  vfs.addDatabase('main.db', source);
  const handle = await sqlite3.open_v2('main.db', SQLite.SQLITE_OPEN_READWRITE | SQLite.SQLITE_OPEN_CREATE | SQLITE_OPEN_EXRESCODE, vfs.name);
  for (const spec of litestreamFunctions(view)) registerFunction(sqlite3, module, handle, spec);
  const db = new Database<ReplicaStats>({ sqlite3: withEmptyBlobs(sqlite3, module), db: handle, vfs, statsProvider: () => reader.stats() });
  return {
    db, vfs, reader, writer, view, sink,
    async close() {
      await db.close();
      if (options.reader === undefined) await reader.close();
    },
  };
}

/**
 * Assert that `promise` rejects with `LTXVFS_ERR_SQLITE` carrying `sqliteCode` (compared
 * exactly, or by its primary code when `primary`), whose `cause` is an LtxvfsError of
 * `causeCode` with a message matching every pattern. `causeCode` undefined: SQLite's own
 * error is behind it (nothing of ltxvfs refused). Returns the cause.
 */
export async function rejectsSqlite(
  t: Test,
  promise: Promise<unknown>,
  sqliteCode: number,
  causeCode: LtxvfsErrorCode | undefined,
  ...patterns: RegExp[]
): Promise<LtxvfsError | undefined> {
  try {
    await promise;
  } catch (err) {
    const e = err as LtxvfsError;
    t.ok(isLtxvfsError(e, 'LTXVFS_ERR_SQLITE'), `LTXVFS_ERR_SQLITE expected, got ${e.code}: ${e.message}`);
    t.equal(e.sqliteCode, sqliteCode, `sqliteCode ${sqliteCode}: ${e.message}`);
    const cause = e.cause;
    if (causeCode === undefined) {
      t.notOk(isLtxvfsError(cause), `SQLite's own error behind it, got ${(cause as Error | undefined)?.message}`);
      for (const p of patterns) t.match(e.message, p);
      return undefined;
    }
    t.ok(isLtxvfsError(cause, causeCode), `cause ${causeCode} expected, got ${(cause as LtxvfsError | undefined)?.code}: ${(cause as Error | undefined)?.message}`);
    for (const p of patterns) t.match((cause as Error | undefined)?.message ?? '', p, `cause names ${p}`);
    return cause as LtxvfsError;
  }
  t.fail(`expected LTXVFS_ERR_SQLITE ${sqliteCode} (${causeCode ?? 'SQLite'}), nothing thrown`);
  return undefined;
}
