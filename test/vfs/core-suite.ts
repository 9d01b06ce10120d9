/**
 * The database-file core (vfs/core/database-file.ts) held to one suite on every engine —
 * wa-sqlite's `configureTests(factory)` shape: the test files
 * (test/vfs/core-asyncify.test.ts, core-worker.test.ts, core-sqljs.test.ts) call
 * {@link vfsSuite} and {@link writeSuite} with their engine, and every subtest name
 * starts with it.
 *
 * - {@link vfsSuite}: the VFS methods one at a time through each binding
 *   (test/helpers/vfs-bindings.ts) over an in-memory replica: open flags, reads outside
 *   and inside a lock, page 1, version pinning, short reads, refusals before RESERVED,
 *   each commit point, rollback detection, refused reservations and commits, and SQL
 *   through the engine's own SQLite over a synchronous or asynchronous sink.
 * - {@link writeSuite}: the write path end to end on real directory replicas: every
 *   COMMIT returns once its transaction is one new L0 LTX file (TXID = previous + 1);
 *   which of SQLite's commit paths carried it (the batch-atomic write, or the journal and
 *   the database sync when pages spilled, and `synchronous = OFF`); shrinking (VACUUM)
 *   and growing over unwritten free pages; rollbacks ship nothing; checksum modes;
 *   conflicts between writers, lost leases and storage failures refused with nothing
 *   kept. Restores, `verify`, fresh readers and `PRAGMA integrity_check` judge the result.
 *   The commit-point calls SQLite made are recorded where the engine's VFS runs in this
 *   thread and can be subclassed (Asyncify's {@link RecordingVFS}); elsewhere the
 *   outcome is checked and the path is not.
 */
import type { Test } from 'tap';
import { subscribe, unsubscribe } from 'node:diagnostics_channel';
import { promises as fs } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as SQLite from '@journeyapps/wa-sqlite';
import { decodeLtxFile } from '../../ltx/decoder.js';
import { LtxvfsError } from '../../ltx/errors.js';
import { HEADER_FLAG_NO_CHECKSUM } from '../../ltx/header.js';
import type { Params, Row } from '../../lib/sql/database.js';
import { encodeLeaseRecord, type LeaseMessage } from '../../lib/write/lease.js';
import { openDatabase, type OpenOptions } from '../../lib/api/open.js';
import { ReplicaReader } from '../../lib/read/replica-reader.js';
import { restoreDatabase } from '../../lib/tools/restore.js';
import { serveReplicaConnection } from '../../lib/bridge/served-connection.js';
import { connectLease } from '../../lib/connection/connect.js';
import { openFileReplica } from '../../lib/storage/file/client.js';
import type { ReplicaClient } from '../../lib/storage/types.js';
import { verifyReplica } from '../../lib/tools/verify.js';
import { changeCounterForTxid } from '../../vfs/core/page1.js';
import { openWorkerDatabase } from '../../vfs/worker/database.js';
import { BytesSource, sqliteCliDatabase } from '../helpers/bytes-source.js';
import { openEngine, type EngineName } from '../helpers/engines.js';
import { listLtxFiles } from '../helpers/litestream.js';
import { waitFor } from '../helpers/polling.js';
import { copyChecksummedReplica, copyFixtureReplica, CountingClient, databaseChecksumOf, readBytes } from '../helpers/replica-builder.js';
import { sqliteQuery } from '../helpers/sqlite-cli.js';
import { MemoryReplica, methodDriver, sqlRunner } from '../helpers/vfs-bindings.js';
import { openWritable, rejectsSqlite, type RecordingVFS } from '../helpers/write-harness.js';

const SQLITE_BUSY = 5;
const SQLITE_READONLY = 8;
const SQLITE_IOERR = 10;
const SQLITE_IOERR_WRITE = 778;
const SQLITE_IOERR_SHORT_READ = 522;
const SQLITE_CANTOPEN = 14;
const SQLITE_NOTFOUND = 12;
const SQLITE_IOCAP_BATCH_ATOMIC = 0x4000;
const FCNTL = { SYNC: 21, BEGIN_ATOMIC: 31, COMMIT_ATOMIC: 32, ROLLBACK_ATOMIC: 33 };
const INSERT = "INSERT INTO t (name) VALUES ('delta')";
const BATCH = ['begin-atomic', 'commit-atomic', 'sync-fcntl', 'xsync'];
const MAIN_DB_RW = SQLite.SQLITE_OPEN_MAIN_DB | SQLite.SQLITE_OPEN_READWRITE | SQLite.SQLITE_OPEN_CREATE;

/** A connection of the write suite: SQL, and the commit-point calls where the engine records them. */
interface WriteDb {
  all(sql: string, params?: Params): Promise<Row[]>;
  exec(sql: string): Promise<void>;
  /** Run `fn` in a transaction (a bare BEGIN is refused by the Database API). */
  transaction<R>(fn: () => Promise<R>): Promise<R>;
  close(): Promise<void>;
}

interface WriteConnection {
  db: WriteDb;
  /** The commit-point calls since the last call (see `RecordingVFS`), or undefined when the engine does not record them. */
  take(): string[] | undefined;
  /** The reader's TXID (engines opened over a client only). */
  txid(): number;
  close(): Promise<void>;
}

/** `openDatabase(url, options)` on `engine`. */
function openDb(engine: EngineName, url: string, options: OpenOptions): Promise<WriteDb> {
  return openEngine(engine, url, options);
}

/**
 * A writable connection to the replica in `dir` (polling off, an empty replica allowed),
 * over `client` when given — the in-process and worker engines assemble it from the real
 * parts over the test's client; the sql.js adapter opens the URL in its fetch thread.
 */
async function openWritableFor(engine: EngineName, dir: string, options: OpenOptions, client?: CountingClient): Promise<WriteConnection> {
  if (engine === 'asyncify') {
    const conn = await openWritable(client ?? (await CountingClient.open(dir)), options);
    const vfs: RecordingVFS = conn.vfs;
    return { db: conn.db, take: () => vfs.take(), txid: () => conn.reader.current.txid, close: () => conn.close() };
  }
  if (engine === 'worker') {
    const replicaClient: ReplicaClient = client ?? (await CountingClient.open(dir));
    const reader = await ReplicaReader.open(replicaClient, { pollIntervalMs: 0, allowEmpty: true, ...options });
    const served = serveReplicaConnection(await connectLease({ reader, release: () => reader.close() }, { ...options, view: 'bridged' }));
    const db = await openWorkerDatabase(served, { ...options, label: replicaClient.url, writable: true, statsProvider: () => reader.stats() });
    return { db, take: () => undefined, txid: () => reader.current.txid, close: () => db.close() };
  }
  if (client !== undefined) throw new Error('the sql.js adapter opens its replica client in its fetch thread');
  const db = await openEngine(engine, dir, { shared: false, pollIntervalMs: 0, create: true, ...options });
  return { db, take: () => undefined, txid: () => NaN, close: () => db.close() };
}

/** Run `check` on the commit-point calls since the last take, where the engine records them. */
function paths(t: Test, conn: WriteConnection, check: (events: string[]) => void): void {
  const events = conn.take();
  if (events === undefined) t.comment('commit path not recorded on this engine; outcome checked');
  else check(events);
}

async function fixture(t: Test): Promise<string> {
  const dir = t.testdir({});
  await copyFixtureReplica(dir);
  return dir;
}

/** TXIDs of the L0 files, ascending. */
async function txids(dir: string): Promise<number[]> {
  return (await listLtxFiles(dir)).filter((f) => f.level === 0).map((f) => Number(f.maxTxid));
}

function ltxPath(dir: string, txid: number): string {
  const hex = txid.toString(16).padStart(16, '0');
  return join(dir, 'ltx', '0', `${hex}-${hex}.ltx`);
}

/** Restore the replica into a temporary file: its bytes, the restore result, and the sqlite3 CLI's integrity_check. */
async function restore(dir: string) {
  const client = await openFileReplica(dir);
  const tmp = await fs.mkdtemp(join(tmpdir(), 'ltxvfs-write-restore-'));
  try {
    const out = join(tmp, 'db.sqlite');
    const result = await restoreDatabase(client, out);
    const [{ integrity_check: integrity }] = await sqliteQuery(out, 'PRAGMA integrity_check');
    return { bytes: readBytes(out), result, integrity };
  } finally {
    await client.close();
    await fs.rm(tmp, { recursive: true, force: true });
  }
}

async function verify(dir: string) {
  const client = await openFileReplica(dir);
  try {
    return await verifyReplica(client);
  } finally {
    await client.close();
  }
}

/** A second, read-only reader of the replica (its own process state: nothing shared). */
async function freshRows(dir: string, sql: string) {
  const db = await openDatabase(dir, { readOnly: true, shared: false, pollIntervalMs: 0 });
  try {
    return await db.all(sql);
  } finally {
    await db.close();
  }
}

/** Page 1 of `replica`'s newest version with the change counter (24–27 and 92–95) moved on by `by`. */
function page1Bumped(replica: MemoryReplica, by: number): Uint8Array {
  const { bytes, pageSize } = replica.source.current;
  const page = bytes.slice(0, pageSize);
  const view = new DataView(page.buffer);
  view.setUint32(24, changeCounterForTxid(replica.source.current.txid) + by);
  view.setUint32(92, view.getUint32(24));
  return page;
}

/** The per-method suite on `engine`'s binding of the core. */
export function vfsSuite(t: Test, engine: EngineName): void {
  const test = (name: string, fn: (t: Test) => Promise<void>) => t.test(`${engine}: ${name}`, fn);
  const newReplica = () => new MemoryReplica(new BytesSource(sqliteCliDatabase('CREATE TABLE n (v); INSERT INTO n VALUES (1);'), { txid: 7 }));

  test('xOpen: read-write only with a sink; unknown names and WALs refused naming the file', async (t) => {
    const replica = newReplica();
    const rw = await methodDriver(engine, replica, 'd.db');
    const opened = await rw.open('d.db', MAIN_DB_RW);
    t.equal(opened.code, SQLite.SQLITE_OK);
    t.ok(opened.outFlags & SQLite.SQLITE_OPEN_READWRITE, 'read-write: the source has a sink');
    t.notOk(opened.outFlags & SQLite.SQLITE_OPEN_CREATE, 'CREATE is not passed on');
    t.equal(await rw.deviceCharacteristics(opened.file), SQLITE_IOCAP_BATCH_ATOMIC, 'SQLITE_IOCAP_BATCH_ATOMIC');
    t.equal(await rw.close(opened.file), SQLite.SQLITE_OK);

    const ro = await methodDriver(engine, replica, 'd.db', false);
    const readOnly = await ro.open('d.db', MAIN_DB_RW);
    t.equal(readOnly.code, SQLite.SQLITE_OK);
    t.ok(readOnly.outFlags & SQLite.SQLITE_OPEN_READONLY, 'no sink: answered read-only whatever was asked');
    t.notOk(readOnly.outFlags & SQLite.SQLITE_OPEN_READWRITE);
    t.equal(await ro.deviceCharacteristics(readOnly.file), 0, 'never batch-atomic, never immutable');
    t.equal(await ro.lock(readOnly.file, SQLite.SQLITE_LOCK_RESERVED), SQLite.SQLITE_OK, 'RESERVED without a sink asks no one');
    t.equal(await ro.write(readOnly.file, new Uint8Array(4096), 4096), SQLITE_READONLY, 'and writes stay refused');
    t.match(ro.takeLastError(), { code: 'LTXVFS_ERR_READONLY', key: 'd.db', message: 'cannot write replica database "d.db": it is read-only' });
    t.equal(await ro.unlock(readOnly.file, SQLite.SQLITE_LOCK_NONE), SQLite.SQLITE_OK);
    t.equal(await ro.close(readOnly.file), SQLite.SQLITE_OK);
    t.equal(replica.source.pinnedCount, 0, 'every pinned version was released');

    if (rw.byName) {
      t.equal((await rw.open('other.db', MAIN_DB_RW)).code, SQLITE_CANTOPEN, 'a name never added');
      t.match(rw.takeLastError(), { code: 'LTXVFS_ERR_NOT_FOUND', key: 'other.db', message: /no database "other.db"/ });
      t.equal((await rw.open('d.db-wal', SQLite.SQLITE_OPEN_WAL | SQLite.SQLITE_OPEN_READWRITE)).code, SQLITE_CANTOPEN, 'a WAL');
      t.match(rw.takeLastError(), { code: 'LTXVFS_ERR_UNSUPPORTED', key: 'd.db-wal', message: /cannot open a WAL \(d.db-wal\): replica databases are read in rollback-journal mode/ });
    }
  });

  test('reads: the header outside a lock, page 1 patched, one version from SHARED to NONE, zeros past the end', async (t) => {
    const replica = newReplica();
    const vfs = await methodDriver(engine, replica, 'd.db');
    const { file } = await vfs.open('d.db', MAIN_DB_RW);
    const { pageSize, commit, bytes } = replica.source.current;
    const header = new Uint8Array(100);
    t.equal(await vfs.read(file, header, 0), SQLite.SQLITE_OK, 'the header before any lock');
    t.same([header[18], header[19]], [1, 1], 'bytes 18/19: a rollback-journal database');
    const view = new DataView(header.buffer);
    t.equal(view.getUint32(24), changeCounterForTxid(7), 'change counter from the TXID');
    t.equal(view.getUint32(92), view.getUint32(24), 'version-valid-for = change counter');
    t.equal(view.getUint32(28), commit, 'size in pages = commit');
    t.equal(replica.source.pinnedCount, 0, 'the version acquired for that read was released');

    t.equal(await vfs.lock(file, SQLite.SQLITE_LOCK_SHARED), SQLite.SQLITE_OK);
    t.equal(replica.source.pinnedCount, 1, 'SHARED pins a version');
    const grown = new Uint8Array((commit + 1) * pageSize);
    grown.set(bytes);
    grown.fill(0x5a, commit * pageSize);
    replica.source.setBytes(grown);
    t.same(await vfs.fileSize(file), { code: SQLite.SQLITE_OK, size: commit * pageSize }, 'the pinned version\'s size, though the replica moved');
    const page2 = new Uint8Array(pageSize);
    t.equal(await vfs.read(file, page2, pageSize), SQLite.SQLITE_OK);
    t.same(page2, bytes.subarray(pageSize, 2 * pageSize), 'a whole page of the pinned version');
    const counter = new Uint8Array(16);
    t.equal(await vfs.read(file, counter, 24), SQLite.SQLITE_OK, 'the 16 bytes at 24 SQLite reads at each transaction');
    t.equal(new DataView(counter.buffer).getUint32(0), changeCounterForTxid(7));
    const tail = new Uint8Array(2 * pageSize).fill(9);
    t.equal(await vfs.read(file, tail, (commit - 1) * pageSize), SQLITE_IOERR_SHORT_READ, 'a read past the end');
    t.same(tail.subarray(pageSize), new Uint8Array(pageSize), 'zero-filled');
    t.equal(await vfs.unlock(file, SQLite.SQLITE_LOCK_NONE), SQLite.SQLITE_OK);
    t.equal(replica.source.pinnedCount, 0, 'NONE releases it');
    t.same(await vfs.fileSize(file), { code: SQLite.SQLITE_OK, size: (commit + 1) * pageSize }, 'the next transaction sees the new version');
    t.equal(await vfs.lock(file, SQLite.SQLITE_LOCK_SHARED), SQLite.SQLITE_OK);
    t.equal(await vfs.read(file, counter, 24), SQLite.SQLITE_OK);
    t.equal(new DataView(counter.buffer).getUint32(0), changeCounterForTxid(8), 'and a new change counter, so SQLite drops its cache');
    t.equal(await vfs.close(file), SQLite.SQLITE_OK, 'close inside a transaction');
    t.equal(replica.source.pinnedCount, 0, 'releases its version');
  });

  test('a read failing in the source answers its code and keeps the error', async (t) => {
    const replica = newReplica();
    const vfs = await methodDriver(engine, replica, 'd.db');
    const { file } = await vfs.open('d.db', MAIN_DB_RW);
    t.equal(await vfs.lock(file, SQLite.SQLITE_LOCK_SHARED), SQLite.SQLITE_OK);
    replica.source.failWith(new LtxvfsError('LTXVFS_ERR_CHECKSUM', 'ltx/0/x.ltx: page 2: checksum mismatch', { key: 'ltx/0/x.ltx' }), { pgno: 2 });
    const page = new Uint8Array(replica.source.current.pageSize);
    t.equal(await vfs.read(file, page, page.length), 11, 'SQLITE_CORRUPT');
    t.match(vfs.takeLastError(), { code: 'LTXVFS_ERR_CHECKSUM', key: 'ltx/0/x.ltx' });
    replica.source.failWith(new LtxvfsError('LTXVFS_ERR_STORAGE', 'ltx/0/x.ltx: connection reset', { key: 'ltx/0/x.ltx' }), { pgno: 2 });
    t.equal(await vfs.read(file, page, page.length), 266, 'SQLITE_IOERR_READ');
    replica.source.failWith(undefined);
    t.equal(await vfs.unlock(file, SQLite.SQLITE_LOCK_NONE), SQLite.SQLITE_OK);
    t.equal(await vfs.close(file), SQLite.SQLITE_OK);
    t.equal(replica.source.pinnedCount, 0);
  });

  test('the write path: refusals before RESERVED, a commit at xSync alone, batch controls, rollbacks dropped', async (t) => {
    const replica = newReplica();
    const vfs = await methodDriver(engine, replica, 'd.db');
    const { file } = await vfs.open('d.db', MAIN_DB_RW);
    const pageSize = replica.source.current.pageSize;
    t.equal(await vfs.write(file, new Uint8Array(pageSize), 0), SQLITE_READONLY, 'a write before RESERVED is refused');
    t.match(vfs.takeLastError(), { code: 'LTXVFS_ERR_READONLY', key: 'd.db', message: 'cannot write replica database "d.db": it is read-only' });
    t.equal(await vfs.truncate(file, 0), SQLITE_READONLY);
    t.match(vfs.takeLastError(), { message: /cannot truncate replica database "d.db"/ });

    t.equal(await vfs.lock(file, SQLite.SQLITE_LOCK_SHARED), SQLite.SQLITE_OK);
    t.equal(await vfs.lock(file, SQLite.SQLITE_LOCK_RESERVED), SQLite.SQLITE_OK);
    t.equal(replica.reserved, 1, 'RESERVED asked the sink');
    t.equal(await vfs.write(file, page1Bumped(replica, 1), 0), SQLite.SQLITE_OK);
    t.equal(await vfs.write(file, new Uint8Array(100), 0), SQLITE_IOERR, 'a write of part of a page');
    t.match(vfs.takeLastError(), { code: 'LTXVFS_ERR_UNSUPPORTED', message: /write of 100 bytes at offset 0/ });
    t.equal(await vfs.truncate(file, 3 * pageSize), SQLite.SQLITE_OK);
    t.same(await vfs.fileSize(file), { code: SQLite.SQLITE_OK, size: 3 * pageSize }, 'the file size follows the transaction');
    const own = new Uint8Array(pageSize);
    t.equal(await vfs.read(file, own, 0), SQLite.SQLITE_OK);
    t.equal(new DataView(own.buffer).getUint32(24), changeCounterForTxid(7) + 1, 'reads see the transaction\'s own pages');
    t.equal(await vfs.sync(file), SQLite.SQLITE_OK, 'xSync without SQLITE_FCNTL_SYNC before it ships the pages itself');
    t.same(replica.commits, [{ pages: [1], commit: 2 }], 'one commit, its size from page 1\'s header (2), not the file\'s (3)');
    t.same(await vfs.fileSize(file), { code: SQLite.SQLITE_OK, size: 2 * pageSize }, 'the file moved to the new version');

    t.equal(await vfs.fileControl(file, FCNTL.BEGIN_ATOMIC), SQLite.SQLITE_OK, 'BEGIN_ATOMIC_WRITE');
    t.equal(await vfs.write(file, page1Bumped(replica, 1), 0), SQLite.SQLITE_OK);
    t.equal(await vfs.sync(file), SQLite.SQLITE_OK, 'a sync inside a batch ships nothing');
    t.equal(await vfs.fileControl(file, FCNTL.ROLLBACK_ATOMIC), SQLite.SQLITE_OK, 'ROLLBACK_ATOMIC_WRITE drops the pages');
    t.equal(await vfs.fileControl(file, FCNTL.COMMIT_ATOMIC), SQLite.SQLITE_OK, 'COMMIT_ATOMIC_WRITE with no pages ships nothing');
    t.equal(await vfs.fileControl(file, FCNTL.SYNC), SQLite.SQLITE_OK, 'nor does SQLITE_FCNTL_SYNC');
    t.equal(replica.commits.length, 1);

    t.equal(await vfs.write(file, page1Bumped(replica, 0), 0), SQLite.SQLITE_OK, 'page 1 written back with the counter it was served');
    t.equal(await vfs.fileControl(file, FCNTL.SYNC), SQLite.SQLITE_OK, 'a rollback playing back its journal');
    t.equal(replica.commits.length, 1, 'is not shipped');

    t.equal(await vfs.fileControl(file, FCNTL.BEGIN_ATOMIC), SQLite.SQLITE_OK);
    t.equal(await vfs.write(file, page1Bumped(replica, 1), 0), SQLite.SQLITE_OK);
    t.equal(await vfs.write(file, new Uint8Array(pageSize).fill(3), 2 * pageSize), SQLite.SQLITE_OK);
    t.equal(await vfs.fileControl(file, FCNTL.COMMIT_ATOMIC), SQLite.SQLITE_OK, 'COMMIT_ATOMIC_WRITE ships the batch');
    t.same(replica.commits[1], { pages: [1, 3], commit: 2 }, 'page 1\'s size wins: page 3 is past it');
    t.equal(await vfs.fileControl(file, 999), SQLITE_NOTFOUND, 'other file controls are not the core\'s');

    t.equal(await vfs.unlock(file, SQLite.SQLITE_LOCK_SHARED), SQLite.SQLITE_OK);
    t.equal(replica.unreserved, 1, 'dropping to SHARED ends the reservation');
    t.equal(await vfs.unlock(file, SQLite.SQLITE_LOCK_NONE), SQLite.SQLITE_OK);
    t.equal(await vfs.close(file), SQLite.SQLITE_OK);
    t.equal(replica.source.pinnedCount, 0, 'every pinned version was released');
  });

  test('refused reservations and commits answer the error\'s code; nothing of a failed commit stays', async (t) => {
    const replica = newReplica();
    const vfs = await methodDriver(engine, replica, 'd.db');
    const { file } = await vfs.open('d.db', MAIN_DB_RW);
    const { pageSize, commit } = replica.source.current;
    t.equal(await vfs.lock(file, SQLite.SQLITE_LOCK_SHARED), SQLite.SQLITE_OK);
    replica.refuseReserve = new LtxvfsError('LTXVFS_ERR_READONLY', 'd.db: no write lease (PRAGMA litevfs_acquire_lease)', { sqliteCode: SQLITE_READONLY });
    t.equal(await vfs.lock(file, SQLite.SQLITE_LOCK_RESERVED), SQLITE_READONLY, 'no lease: SQLITE_READONLY');
    t.match(vfs.takeLastError(), { code: 'LTXVFS_ERR_READONLY', message: /no write lease/ });
    t.equal(await vfs.write(file, page1Bumped(replica, 1), 0), SQLITE_READONLY, 'and no write');
    replica.refuseReserve = new LtxvfsError('LTXVFS_ERR_CONFLICT', 'd.db: another connection of this process is writing', { sqliteCode: SQLITE_BUSY });
    t.equal(await vfs.lock(file, SQLite.SQLITE_LOCK_RESERVED), SQLITE_BUSY, 'another writer: SQLITE_BUSY');
    replica.refuseReserve = undefined;
    t.equal(await vfs.lock(file, SQLite.SQLITE_LOCK_RESERVED), SQLite.SQLITE_OK);

    for (const [failure, code, what] of [
      [new LtxvfsError('LTXVFS_ERR_CONFLICT', 'ltx/0/0000000000000008-0000000000000008.ltx: another writer committed TXID 0000000000000008 first', { sqliteCode: SQLITE_BUSY }), SQLITE_BUSY, 'a conflict'],
      [new LtxvfsError('LTXVFS_ERR_STORAGE', 'write ltx/0/0000000000000008-0000000000000008.ltx: connection refused'), SQLITE_IOERR_WRITE, 'a storage failure'],
      [new Error('a bug'), SQLITE_IOERR, 'anything else'],
    ] as const) {
      t.equal(await vfs.fileControl(file, FCNTL.BEGIN_ATOMIC), SQLite.SQLITE_OK);
      t.equal(await vfs.write(file, page1Bumped(replica, 1), 0), SQLite.SQLITE_OK);
      t.equal(await vfs.write(file, new Uint8Array(pageSize), (commit + 4) * pageSize), SQLite.SQLITE_OK);
      replica.failCommit = failure;
      t.equal(await vfs.fileControl(file, FCNTL.COMMIT_ATOMIC), code, `${what}: code ${code}`);
      t.equal(vfs.takeLastError(), failure, 'the error kept as the cause');
      t.same(await vfs.fileSize(file), { code: SQLite.SQLITE_OK, size: commit * pageSize }, 'nothing of it stays');
      const own = new Uint8Array(pageSize);
      t.equal(await vfs.read(file, own, 0), SQLite.SQLITE_OK);
      t.equal(new DataView(own.buffer).getUint32(24), changeCounterForTxid(7), 'page 1 is the version\'s again');
      t.equal(await vfs.fileControl(file, FCNTL.ROLLBACK_ATOMIC), SQLite.SQLITE_OK);
    }
    t.same(replica.commits, [], 'nothing shipped');
    t.equal(await vfs.close(file), SQLite.SQLITE_OK, 'close ends the reservation');
    t.equal(replica.unreserved, 1);
    t.equal(replica.source.pinnedCount, 0);
  });

  test('memory files beside the database; unknown handles', async (t) => {
    const vfs = await methodDriver(engine, newReplica(), 'd.db');
    if (!vfs.memoryFiles) {
      t.comment('this engine leaves journals and TEMP files to its own SQLite (sql.js: its unix VFS)');
      return;
    }
    const journal = await vfs.open('d.db-journal', SQLite.SQLITE_OPEN_MAIN_JOURNAL | SQLite.SQLITE_OPEN_READWRITE | SQLite.SQLITE_OPEN_CREATE);
    t.equal(journal.code, SQLite.SQLITE_OK);
    t.equal(await vfs.write(journal.file, new Uint8Array(512).fill(7), 0), SQLite.SQLITE_OK);
    const back = new Uint8Array(1024);
    t.equal(await vfs.read(journal.file, back, 0), SQLITE_IOERR_SHORT_READ, 'a memory file reads what was written, zeros after');
    t.same(back.subarray(0, 512), new Uint8Array(512).fill(7));
    t.equal(await vfs.truncate(journal.file, 0), SQLite.SQLITE_OK, 'journals are written and truncated freely');
    t.same(await vfs.fileSize(journal.file), { code: SQLite.SQLITE_OK, size: 0 });
    t.equal(await vfs.fileControl(journal.file, FCNTL.COMMIT_ATOMIC), SQLITE_NOTFOUND, 'file controls are for the database only');
    t.equal(await vfs.sync(journal.file), SQLite.SQLITE_OK);
    t.equal((await vfs.deviceCharacteristics(journal.file)) & SQLITE_IOCAP_BATCH_ATOMIC, 0, 'never batch-atomic');
    t.equal(await vfs.close(journal.file), SQLite.SQLITE_OK);
    t.equal(await vfs.lock(999, SQLite.SQLITE_LOCK_SHARED), SQLITE_IOERR, 'an unknown handle fails with a code');
    t.match(vfs.takeLastError(), { code: 'LTXVFS_ERR_USAGE', message: /has no open file 999/ });
  });

  test('SQL through the engine\'s own SQLite over an in-memory sink: reads see the transaction, commits apply, pins are released', async (t) => {
    const replica = newReplica();
    const startBytes = replica.source.current.bytes.length;
    const db = await sqlRunner(engine, replica, 'm.db');
    await db.transaction(async () => {
      await db.exec('INSERT INTO n VALUES (2); CREATE TABLE m (b); INSERT INTO m VALUES (zeroblob(9000));');
      t.same(await db.all('SELECT sum(length(b)) AS s FROM m'), [{ s: 9000 }], 'reads inside the transaction see its own pages');
    });
    t.equal(replica.reserved, 1);
    t.equal(replica.commits.length, 1, 'one commit');
    t.ok(replica.commits[0].commit > startBytes / 4096, 'that grew the database');
    await db.exec('BEGIN; INSERT INTO n VALUES (3); ROLLBACK;');
    t.equal(replica.commits.length, 1, 'a rollback ships nothing');
    t.same(await db.all('SELECT v FROM n'), [{ v: 1 }, { v: 2 }]);
    t.same(await db.all('PRAGMA integrity_check'), [{ integrity_check: 'ok' }]);
    await db.close();
    t.equal(replica.source.pinnedCount, 0, 'every pinned version was released');
  });
}

/** The write suite on `engine`, over real directory replicas. */
export function writeSuite(t: Test, engine: EngineName): void {
  const test = (name: string, fn: (t: Test) => Promise<void>) => t.test(`${engine}: ${name}`, fn);

  test('every COMMIT is one new L0 file, TXID = previous + 1, in the replica when the call returns', async (t) => {
    const dir = await fixture(t);
    const conn = await openWritableFor(engine, dir, { autoLease: true, leaseOwner: 'write-test:1' });
    t.teardown(() => conn.close());
    const { db } = conn;

    await db.all(INSERT);
    t.same(await txids(dir), [1, 2, 3, 4, 5, 6], 'an autocommit statement: TXID 6 is there when run() returns');
    paths(t, conn, (e) => t.same(e, BATCH, 'shipped at the batch-atomic commit'));

    await db.exec("BEGIN; INSERT INTO t (name) VALUES ('e1'); INSERT INTO t (name) VALUES ('e2'); UPDATE t SET name = 'E' WHERE id = 1; DELETE FROM t WHERE id = 2; COMMIT;");
    t.same(await txids(dir), [1, 2, 3, 4, 5, 6, 7], 'BEGIN … COMMIT with four statements: one file');
    paths(t, conn, (e) => t.same(e, BATCH));

    await db.exec("INSERT INTO t (name) VALUES ('f1'); INSERT INTO t (name) VALUES ('f2');");
    t.same(await txids(dir), [1, 2, 3, 4, 5, 6, 7, 8, 9], 'two autocommit statements: two files');

    for (const sql of ['SELECT count(*) FROM t', "UPDATE t SET name = 'none' WHERE id = -1", 'BEGIN; COMMIT', 'BEGIN IMMEDIATE; COMMIT']) {
      await db.exec(sql);
    }
    t.same(await txids(dir), [1, 2, 3, 4, 5, 6, 7, 8, 9], 'reads, a no-op UPDATE and empty transactions ship nothing');
    conn.take();

    for (const txid of [6, 7, 8, 9]) {
      const file = decodeLtxFile(readBytes(ltxPath(dir, txid)), `TXID ${txid}`);
      t.equal(file.header.flags, HEADER_FLAG_NO_CHECKSUM, `TXID ${txid}: flags 0x2 on a checksum-free (Litestream) replica`);
      t.equal(file.header.preApplyChecksum, 0n);
      t.equal(file.trailer.postApplyChecksum, 0n);
      t.same([file.header.minTXID, file.header.maxTXID], [txid, txid]);
      t.equal(Math.round((await fs.stat(ltxPath(dir, txid))).mtimeMs), file.header.timestamp, 'mtime = header timestamp');
    }
    const expected = await db.all('SELECT * FROM t ORDER BY id');
    t.same(await freshRows(dir, 'SELECT * FROM t ORDER BY id'), expected, 'another reader sees the same rows');
    t.same(expected.slice(0, 2), [{ id: 1, name: 'E' }, { id: 3, name: 'charlie' }]);
    t.equal(expected.length, 250 + 5 - 1);
    t.same(await db.all('SELECT litestream_txid() AS txid'), [{ txid: '0000000000000009' }]);
    const r = await restore(dir);
    t.equal(r.integrity, 'ok');
    t.same((await verify(dir)).problems, []);
  });

  test('header timestamps make time travel work on what ltxvfs wrote', async (t) => {
    const dir = await fixture(t);
    const db = await openDb(engine, dir, { autoLease: true, shared: false, pollIntervalMs: 0 });
    t.teardown(() => db.close());
    const times: number[] = [];
    for (const name of ['t6', 't7', 't8']) {
      await db.all('INSERT INTO t (name) VALUES (?)', [name]);
      const file = decodeLtxFile(readBytes(ltxPath(dir, 5 + times.length + 1)), name);
      times.push(file.header.timestamp);
      await new Promise((resolve) => setTimeout(resolve, 15));
    }
    t.ok(times[0] < times[1] && times[1] < times[2], 'increasing timestamps');
    const at = new Date(times[1] + 1).toISOString();
    const past = await openDb(engine, dir, { at, shared: false, pollIntervalMs: 0 });
    t.teardown(() => past.close());
    t.same(await past.all("SELECT name FROM t WHERE name LIKE 't_' ORDER BY id"), [{ name: 't6' }, { name: 't7' }], `state at ${at}: TXID 7`);
    t.same(await past.all('SELECT litestream_txid() AS txid'), [{ txid: '0000000000000007' }]);
    await db.exec(`PRAGMA litestream_time = '${new Date(times[0] + 1).toISOString()}'`);
    t.same(await db.all("SELECT name FROM t WHERE name LIKE 't_'"), [{ name: 't6' }], 'the writer\'s own connection travels too');
  });

  test('a new database in an empty replica (create: true): the first commit is the TXID 1 snapshot', async (t) => {
    const root = t.testdir({});
    const dir = join(root, 'new', 'replica');
    await t.rejects(openDb(engine, dir, { shared: false }), { code: 'LTXVFS_ERR_NOT_FOUND' }, 'without create a missing directory is an error');
    const db = await openDb(engine, dir, { create: true, autoLease: true, shared: false, pollIntervalMs: 0 });
    t.teardown(() => db.close());
    t.same(await db.all('SELECT litestream_txid() AS txid'), [{ txid: '0000000000000000' }]);
    await db.exec('CREATE TABLE k (id INTEGER PRIMARY KEY, v TEXT)');
    await db.all("INSERT INTO k (v) VALUES ('one')");
    t.same(await txids(dir), [1, 2]);
    const snapshot = decodeLtxFile(readBytes(ltxPath(dir, 1)), 'TXID 1');
    t.equal(snapshot.header.pageSize, 4096);
    t.same(snapshot.pages.map((p) => p.pgno), Array.from({ length: snapshot.header.commit }, (_, i) => i + 1), 'every page');
    t.same(await freshRows(dir, 'SELECT * FROM k'), [{ id: 1, v: 'one' }]);
    t.equal((await restore(dir)).integrity, 'ok');

    const empty = join(root, 'empty');
    await fs.mkdir(empty);
    await t.rejects(openDb(engine, empty, { shared: false }), { code: 'LTXVFS_ERR_EMPTY_REPLICA' }, 'an empty replica needs create: true');
    const conn = await openWritableFor(engine, empty, { autoLease: true });
    t.teardown(() => conn.close());
    await conn.db.exec('CREATE TABLE a (x)');
    t.same(await txids(empty), [1]);
    paths(t, conn, (e) => t.ok(e.includes('sync-fcntl'), 'a new database\'s first transaction goes through the journal and the sync'));
  });

  test('large transactions: several MiB through the batch path, and through the journal when pages spill (cache_size = 10)', async (t) => {
    const dir = await fixture(t);
    const conn = await openWritableFor(engine, dir, { autoLease: true });
    t.teardown(() => conn.close());
    const { db } = conn;
    const fill = (table: string, rows: number) =>
      `BEGIN; CREATE TABLE ${table} (id INTEGER PRIMARY KEY, b BLOB);
       WITH RECURSIVE c(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM c WHERE i < ${rows}) INSERT INTO ${table} (b) SELECT randomblob(1500) FROM c;
       COMMIT;`;

    await db.exec('PRAGMA cache_size = -65536');
    conn.take();
    await db.exec(fill('big1', 3000));
    paths(t, conn, (e) => t.same(e, BATCH, '4.5 MiB that fit the cache: one batch-atomic commit'));
    t.same(await txids(dir), [1, 2, 3, 4, 5, 6]);
    const f6 = decodeLtxFile(readBytes(ltxPath(dir, 6)), 'TXID 6');
    t.ok(f6.pages.length > 1100, `${f6.pages.length} pages in one file`);

    await db.exec('PRAGMA cache_size = 10');
    await db.exec(fill('big2', 3000));
    paths(t, conn, (events) => {
      t.notOk(events.includes('commit-atomic'), `no batch once pages spilled: ${events.join(', ')}`);
      t.ok(events.includes('sync-fcntl') && events.includes('xsync'), 'shipped at the database sync');
    });
    t.same(await txids(dir), [1, 2, 3, 4, 5, 6, 7], 'still one file');

    await db.exec("BEGIN; UPDATE big1 SET b = zeroblob(10) WHERE id % 2 = 0; DELETE FROM big2 WHERE id > 1000; COMMIT;");
    t.same(await txids(dir), [1, 2, 3, 4, 5, 6, 7, 8]);
    const expected = [{ n1: 3000, s1: 1500 * 1500 + 1500 * 10, n2: 1000 }];
    const sql = 'SELECT (SELECT count(*) FROM big1) AS n1, (SELECT sum(length(b)) FROM big1) AS s1, (SELECT count(*) FROM big2) AS n2';
    t.same(await db.all(sql), expected);
    t.same(await db.all('PRAGMA integrity_check'), [{ integrity_check: 'ok' }], 'the writer\'s own view is sound');
    t.same(await freshRows(dir, sql), expected, 'a fresh reader agrees');
    const r = await restore(dir);
    t.equal(r.integrity, 'ok');
    t.ok(r.bytes.length > 9 * 2 ** 20, `restored ${(r.bytes.length / 2 ** 20).toFixed(1)} MiB`);
  });

  test('VACUUM that shrinks the database: the commit carries the smaller size; restore is clean', async (t) => {
    const dir = await fixture(t);
    const conn = await openWritableFor(engine, dir, { autoLease: true });
    t.teardown(() => conn.close());
    const { db } = conn;
    await db.exec("CREATE TABLE big (b BLOB); WITH RECURSIVE c(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM c WHERE i < 400) INSERT INTO big SELECT randomblob(3000) FROM c;");
    const [{ page_count: grown }] = await db.all('PRAGMA page_count');
    await db.exec('DROP TABLE big');
    conn.take();
    await db.exec('VACUUM');
    paths(t, conn, (events) => t.ok(events.some((e) => e.startsWith('truncate')) || events.includes('commit-atomic') || events.includes('sync-fcntl'), `events: ${events.join(', ')}`));
    const files = await txids(dir);
    t.same(files, [1, 2, 3, 4, 5, 6, 7, 8, 9], 'CREATE, INSERT, DROP, VACUUM: four files');
    const last = decodeLtxFile(readBytes(ltxPath(dir, 9)), 'VACUUM');
    const [{ page_count: after }] = await db.all('PRAGMA page_count');
    t.ok(last.header.commit < 5, `the VACUUM file's commit: ${grown} → ${last.header.commit} pages`);
    t.equal(after, last.header.commit, 'the writer sees the smaller database');
    t.same(await db.all('PRAGMA freelist_count'), [{ freelist_count: 0 }]);
    t.same(await db.all('PRAGMA integrity_check'), [{ integrity_check: 'ok' }]);
    t.same(await freshRows(dir, 'PRAGMA page_count'), [{ page_count: after }], 'so does another reader');
    t.same(await freshRows(dir, 'PRAGMA integrity_check'), [{ integrity_check: 'ok' }]);
    t.same(await freshRows(dir, 'SELECT count(*) AS n, sum(id) AS s FROM t'), [{ n: 250, s: 31375 }]);
    const r = await restore(dir);
    t.equal(r.integrity, 'ok');
    t.equal(r.bytes.length, last.header.commit * 4096, 'the restored file has the smaller size');
    t.same((await verify(dir)).problems, []);
  });

  test('a commit whose new last pages went to the free list: the pages SQLite never wrote ship as zeros', async (t) => {
    const dir = await fixture(t);
    const db = await openDb(engine, dir, { autoLease: true, shared: false, pollIntervalMs: 0 });
    t.teardown(() => db.close());
    await db.exec("BEGIN; CREATE TABLE b (x); INSERT INTO b VALUES (randomblob(20000)); DELETE FROM b; DROP TABLE b; COMMIT;");
    const [{ page_count: pages }] = await db.all('PRAGMA page_count');
    const [{ freelist_count: free }] = await db.all('PRAGMA freelist_count');
    t.ok((free as number) > 0, `${free} free pages of ${pages}`);
    const file = decodeLtxFile(readBytes(ltxPath(dir, 6)), 'TXID 6');
    t.equal(file.header.commit, pages);
    t.same(file.pages.filter((p) => p.pgno > 4).map((p) => p.pgno), Array.from({ length: (pages as number) - 4 }, (_, i) => i + 5), 'every new page is in the file');
    t.same(await freshRows(dir, 'PRAGMA integrity_check'), [{ integrity_check: 'ok' }], 'another reader opens it');
    t.equal((await restore(dir)).integrity, 'ok');
  });

  test('a transaction reads back the pages it spilled, not the copies of them the reader has cached', async (t) => {
    const dir = await fixture(t);
    const conn = await openWritableFor(engine, dir, { autoLease: true });
    t.teardown(() => conn.close());
    const { db } = conn;
    await db.exec("CREATE TABLE s (id INTEGER PRIMARY KEY, v TEXT); WITH RECURSIVE c(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM c WHERE i < 2000) INSERT INTO s (v) SELECT printf('%.200c', 'a') FROM c;");
    await db.exec('PRAGMA cache_size = 5');
    // With SQLite's cache that small, every page of the table is read through the VFS: now in the reader's cache.
    t.same(await db.all("SELECT count(*) AS n FROM s WHERE v LIKE 'a%'"), [{ n: 2000 }]);
    await db.transaction(async () => {
      await db.exec("UPDATE s SET v = printf('%.200c', 'b')");
      t.same(await db.all("SELECT count(*) AS n FROM s WHERE v LIKE 'b%'"), [{ n: 2000 }], 'the pages SQLite spilled and reads back are the transaction\'s');
    });
    t.same(await db.all("SELECT count(*) AS n FROM s WHERE v LIKE 'b%'"), [{ n: 2000 }]);
    t.same(await db.all('PRAGMA integrity_check'), [{ integrity_check: 'ok' }]);
    t.same(await freshRows(dir, "SELECT count(*) AS n FROM s WHERE v LIKE 'b%'"), [{ n: 2000 }], 'a fresh reader agrees');
  });

  test('ROLLBACK ships nothing, also after pages spilled; a spilled transaction that commits ships once', async (t) => {
    const dir = await fixture(t);
    const conn = await openWritableFor(engine, dir, { autoLease: true });
    t.teardown(() => conn.close());
    const { db } = conn;
    await db.exec('PRAGMA cache_size = 5');
    const big = "UPDATE t SET name = printf('%.500c', 'x'); WITH RECURSIVE c(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM c WHERE i < 300) INSERT INTO t (name) SELECT randomblob(800) FROM c;";
    conn.take();
    await db.transaction(async () => {
      await db.exec(big);
      t.same(await txids(dir), [1, 2, 3, 4, 5], 'nothing shipped before COMMIT, though pages spilled');
      throw new Error('roll back');
    }).catch((err: Error) => t.equal(err.message, 'roll back'));
    paths(t, conn, (events) => t.ok(events.includes('sync-fcntl'), `the rollback restored spilled pages and synced: ${events.join(', ')}`));
    t.same(await txids(dir), [1, 2, 3, 4, 5], 'and shipped nothing');
    t.same(await db.all('SELECT count(*) AS n, max(length(name)) AS m FROM t'), [{ n: 250, m: 8 }]);
    t.same(await db.all('PRAGMA integrity_check'), [{ integrity_check: 'ok' }]);

    await db.exec('BEGIN; INSERT INTO t (name) VALUES (1); ROLLBACK;');
    t.same(await txids(dir), [1, 2, 3, 4, 5], 'a small rollback ships nothing either');

    await db.exec(`BEGIN; ${big} COMMIT;`);
    t.same(await txids(dir), [1, 2, 3, 4, 5, 6]);
    t.same(await freshRows(dir, 'SELECT count(*) AS n FROM t'), [{ n: 550 }]);
  });

  test('PRAGMA synchronous = OFF: commits still ship (SQLITE_FCNTL_SYNC without xSync)', async (t) => {
    const dir = await fixture(t);
    const conn = await openWritableFor(engine, dir, { autoLease: true });
    t.teardown(() => conn.close());
    const { db } = conn;
    await db.exec('PRAGMA synchronous = OFF');
    conn.take();
    await db.all(INSERT);
    paths(t, conn, (e) => t.same(e, ['sync-fcntl'], 'no batch, no xSync: the file control is the commit point'));
    t.same(await txids(dir), [1, 2, 3, 4, 5, 6]);
    await db.exec('PRAGMA cache_size = 5');
    await db.exec("BEGIN; WITH RECURSIVE c(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM c WHERE i < 300) INSERT INTO t (name) SELECT randomblob(800) FROM c; COMMIT;");
    t.same(await txids(dir), [1, 2, 3, 4, 5, 6, 7]);
    t.same(await freshRows(dir, "SELECT count(*) AS n FROM t"), [{ n: 551 }]);
  });

  test('checksum modes follow the replica', async (t) => {
    t.test('a checksummed replica keeps its chain through several writes; verify and restore check it', async (t) => {
      const dir = t.testdir({});
      await copyChecksummedReplica(dir);
      const db = await openDb(engine, dir, { autoLease: true, shared: false, pollIntervalMs: 0 });
      t.teardown(() => db.close());
      await db.all(INSERT);
      await db.exec("BEGIN; UPDATE t SET name = upper(name) WHERE id < 50; DELETE FROM t WHERE id > 200; COMMIT;");
      await db.exec("CREATE TABLE big (b BLOB); INSERT INTO big SELECT randomblob(3000) FROM t;");
      await db.exec('DROP TABLE big; VACUUM;');
      const ids = await txids(dir);
      t.ok(ids.length >= 9, `${ids.length} files`);
      let pre = 0x9b605845496813acn;
      for (const txid of ids.slice(5)) {
        const file = decodeLtxFile(readBytes(ltxPath(dir, txid)), `TXID ${txid}`);
        t.equal(file.header.flags, 0, `TXID ${txid} carries checksums`);
        t.equal(file.header.preApplyChecksum, pre, `TXID ${txid}: pre-apply = previous post-apply`);
        pre = file.trailer.postApplyChecksum;
      }
      const report = await verify(dir);
      t.same(report.problems, []);
      t.equal(report.checksummed, true);
      const r = await restore(dir);
      t.equal(r.result.checksum, databaseChecksumOf(r.bytes), 'restore verified the database checksum');
      t.equal(r.result.checksum, pre);
      t.equal(r.integrity, 'ok');
    });

    t.test('`checksums: true` on a new replica writes checksummed files; verify is clean', async (t) => {
      const dir = t.testdir({});
      const db = await openDb(engine, dir, { create: true, checksums: true, autoLease: true, shared: false, pollIntervalMs: 0 });
      t.teardown(() => db.close());
      await db.exec('CREATE TABLE k (v)');
      await db.exec("INSERT INTO k VALUES (1); INSERT INTO k VALUES (2); DELETE FROM k WHERE v = 1;");
      for (const txid of await txids(dir)) t.equal(decodeLtxFile(readBytes(ltxPath(dir, txid)), `${txid}`).header.flags, 0);
      const report = await verify(dir);
      t.same(report.problems, []);
      t.equal(report.checksummed, true);
      t.equal(report.txid, 4);
    });

    t.test('on a checksum-free replica `checksums: true` changes nothing', async (t) => {
      const dir = await fixture(t);
      const db = await openDb(engine, dir, { checksums: true, autoLease: true, shared: false, pollIntervalMs: 0 });
      t.teardown(() => db.close());
      await db.all(INSERT);
      const file = decodeLtxFile(readBytes(ltxPath(dir, 6)), '6');
      t.equal(file.header.flags, HEADER_FLAG_NO_CHECKSUM);
      t.equal((await verify(dir)).checksummed, false);
    });
  });

  test('two writers race for one TXID: one wins, the loser gets SQLITE_BUSY, keeps nothing, then sees the winner and retries', async (t) => {
    const dir = await fixture(t);
    const a = await openDb(engine, dir, { shared: false, pollIntervalMs: 0, leaseOwner: 'writer-a:1' });
    t.teardown(() => a.close());
    const b = await openDb(engine, dir, { shared: false, pollIntervalMs: 0, leaseOwner: 'writer-b:2' });
    t.teardown(() => b.close());
    await a.exec('PRAGMA litevfs_acquire_lease');
    await fs.rm(join(dir, 'lock.json'));
    await b.exec('PRAGMA litevfs_acquire_lease');

    await a.all("INSERT INTO t (name) VALUES ('from a')");
    t.same(await txids(dir), [1, 2, 3, 4, 5, 6]);
    const winner = readBytes(ltxPath(dir, 6));

    const cause = await rejectsSqlite(t, b.all("INSERT INTO t (name) VALUES ('from b')"), SQLITE_BUSY, 'LTXVFS_ERR_CONFLICT',
      /ltx\/0\/0000000000000006-0000000000000006\.ltx: another writer committed TXID 0000000000000006 first/);
    t.equal(cause?.key, 'ltx/0/0000000000000006-0000000000000006.ltx');
    t.same(await txids(dir), [1, 2, 3, 4, 5, 6], 'no extra file');
    t.same(readBytes(ltxPath(dir, 6)), winner, 'the winner\'s file is untouched');
    await waitFor('b to see a\'s row', async () => (await b.all("SELECT name FROM t WHERE name LIKE 'from %'")).length === 1);
    t.same(await b.all("SELECT name FROM t WHERE name LIKE 'from %'"), [{ name: 'from a' }], 'b\'s row is absent, a\'s is there');
    t.same(await b.all('PRAGMA integrity_check'), [{ integrity_check: 'ok' }]);

    await b.all("INSERT INTO t (name) VALUES ('from b')");
    t.same(await txids(dir), [1, 2, 3, 4, 5, 6, 7], 'the retry shipped TXID 7');

    // Now a is behind: an explicit transaction with several statements loses as a whole.
    await rejectsSqlite(t, a.exec("BEGIN; INSERT INTO t (name) VALUES ('a2'); INSERT INTO t (name) VALUES ('a3'); COMMIT;"),
      SQLITE_BUSY, 'LTXVFS_ERR_CONFLICT', /another writer committed TXID 0000000000000007 first/);
    // SQLite keeps a transaction whose COMMIT got SQLITE_BUSY open: the Database API of the
    // wa-sqlite engines rolls it back, sql.js leaves that to the caller.
    if (engine === 'sqljs') await a.exec('ROLLBACK');
    await a.exec('BEGIN; ROLLBACK;');
    t.pass('the failed transaction was rolled back (a new one can begin)');
    t.same(await txids(dir), [1, 2, 3, 4, 5, 6, 7]);
    await waitFor('a to see b\'s row', async () => (await a.all("SELECT name FROM t WHERE name = 'from b'")).length === 1);
    t.same(await a.all("SELECT name FROM t WHERE name LIKE 'a_' OR name LIKE 'from %' ORDER BY id"), [{ name: 'from a' }, { name: 'from b' }]);
    await a.exec("BEGIN; INSERT INTO t (name) VALUES ('a2'); INSERT INTO t (name) VALUES ('a3'); COMMIT;");
    t.same(await txids(dir), [1, 2, 3, 4, 5, 6, 7, 8]);
    t.same(await freshRows(dir, "SELECT name FROM t WHERE name LIKE 'a_' OR name LIKE 'from %' ORDER BY id"),
      [{ name: 'from a' }, { name: 'from b' }, { name: 'a2' }, { name: 'a3' }]);
    t.equal((await restore(dir)).integrity, 'ok');
  });

  // The lease's events are published in the thread that holds the writer: the sql.js
  // adapter's is its fetch thread, where this process cannot subscribe.
  if (engine !== 'sqljs') test('a lease lost during a transaction: COMMIT fails with SQLITE_BUSY (LEASE_LOST) and nothing is written', async (t) => {
    const dir = await fixture(t);
    const events: LeaseMessage[] = [];
    const onLease = (m: unknown) => events.push(m as LeaseMessage);
    subscribe('ltxvfs:lease', onLease);
    t.teardown(() => unsubscribe('ltxvfs:lease', onLease));
    // Renewals every second (ttl / 3) find the takeover soon; a 600 ms TTL let a loaded machine's
    // stall between the acquire and the INSERT expire the lease first (a READONLY INSERT, not this).
    const db = await openDb(engine, dir, { shared: false, pollIntervalMs: 0, leaseOwner: 'loser:1', leaseTtlMs: 3000 });
    t.teardown(() => db.close());
    await db.exec('PRAGMA litevfs_acquire_lease');
    await rejectsSqlite(t, db.transaction(async () => {
      await db.exec("INSERT INTO t (name) VALUES ('lost')");
      await fs.writeFile(join(dir, 'lock.json'), encodeLeaseRecord({ generation: 7, expiresAtMs: Date.now() + 60_000, owner: 'thief:2' }));
      await waitFor('the renewal to find the lease taken over', () => events.some((e) => e.event === 'lost' && e.owner === 'loser:1'));
    }), SQLITE_BUSY, 'LTXVFS_ERR_LEASE_LOST', /the write lease was lost before commit/);
    t.same(await txids(dir), [1, 2, 3, 4, 5], 'nothing written');
    t.same(await db.all("SELECT count(*) AS n FROM t WHERE name = 'lost'"), [{ n: 0 }], 'the transaction was rolled back');
    await rejectsSqlite(t, db.all(INSERT), SQLITE_READONLY, 'LTXVFS_ERR_READONLY', /PRAGMA litevfs_acquire_lease/);
    await rejectsSqlite(t, db.exec('PRAGMA litevfs_acquire_lease'), 1, 'LTXVFS_ERR_LEASE_HELD', /held by thief:2/);
  });

  // The injected failures live in the replica client, which the sql.js adapter opens in its
  // fetch thread from the URL: that engine's storage failures are covered by the method suite.
  if (engine !== 'sqljs') test('storage failing during the upload: the transaction fails, nothing stays; a failure SQLite retries through the journal ships once', async (t) => {
    const dir = await fixture(t);
    const client = await CountingClient.open(dir);
    const conn = await openWritableFor(engine, dir, { autoLease: true }, client);
    t.teardown(() => conn.close());
    const { db } = conn;
    let failures = 0;
    let failUploads = Infinity;
    client.beforeWrite = async (key) => {
      if (!key.endsWith('.ltx') || failures >= failUploads) return;
      failures++;
      throw new LtxvfsError('LTXVFS_ERR_STORAGE', `write ${key}: injected: connection refused`, { key });
    };
    conn.take();
    const cause = await rejectsSqlite(t, db.all(INSERT), SQLITE_IOERR_WRITE, 'LTXVFS_ERR_STORAGE',
      /write ltx\/0\/0000000000000006-0000000000000006\.ltx: injected: connection refused/);
    t.equal(cause?.key, 'ltx/0/0000000000000006-0000000000000006.ltx');
    paths(t, conn, (e) => t.same(e, ['begin-atomic', 'commit-atomic', 'rollback-atomic', 'sync-fcntl', 'sync-fcntl', 'xsync'],
      'the batch failed, SQLite retried through the journal, that failed too; its rollback synced the restored pages'));
    t.equal(failures, 2, 'two uploads tried: the rollback shipped nothing');
    t.same(await txids(dir), [1, 2, 3, 4, 5], 'nothing stays');
    t.same(await db.all("SELECT count(*) AS n FROM t WHERE name = 'delta'"), [{ n: 0 }]);
    t.equal(conn.txid(), 5);

    failures = 0;
    failUploads = 1;
    await db.all(INSERT);
    t.equal(failures, 1);
    t.same(await txids(dir), [1, 2, 3, 4, 5, 6], 'one failure: the journal retry shipped it once');
    t.same(await freshRows(dir, "SELECT count(*) AS n FROM t WHERE name = 'delta'"), [{ n: 1 }]);
    client.beforeWrite = undefined;
  });

  test('two connections of one process share the writer: one writes at a time, the other gets SQLITE_BUSY', async (t) => {
    const dir = await fixture(t);
    // Both by URL: the second joins the first's shared reader, and with it its writer.
    const first = await openDb(engine, dir, { autoLease: true, pollIntervalMs: 0 });
    t.teardown(() => first.close());
    const second = await openDb(engine, dir, { autoLease: true, pollIntervalMs: 0 });
    t.teardown(() => second.close());
    await first.transaction(async () => {
      await first.exec("INSERT INTO t (name) VALUES ('first')");
      await rejectsSqlite(t, second.all(INSERT), SQLITE_BUSY, 'LTXVFS_ERR_CONFLICT', /another connection of this process is writing/);
    });
    await second.all(INSERT);
    t.same(await txids(dir), [1, 2, 3, 4, 5, 6, 7]);
    t.same(await first.all("SELECT name FROM t WHERE id > 250 ORDER BY id"), [{ name: 'first' }, { name: 'delta' }]);
  });
}
