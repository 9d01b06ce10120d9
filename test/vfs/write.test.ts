/**
 * The VFS write path (vfs/asyncify-vfs.ts, vfs/write-buffer.ts) end to end on real
 * directory replicas: every COMMIT returns once its transaction is one new L0 LTX file
 * (TXID = previous + 1) in the replica; which of SQLite's commit paths carried it (the
 * batch-atomic write, or the journal and the database sync when pages spilled, and
 * `synchronous = OFF`); shrinking (VACUUM) and growing over unwritten free pages;
 * rollbacks ship nothing; checksum modes; conflicts between writers, lost leases and
 * storage failures refused with nothing kept. A {@link RecordingVFS} logs the
 * commit-point calls; restores, `verify` and `PRAGMA integrity_check` judge the result.
 */
import t, { type Test } from 'tap';
import { subscribe, unsubscribe } from 'node:diagnostics_channel';
import { promises as fs } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as SQLite from '@journeyapps/wa-sqlite';
import { decodeLtxFile } from '../../ltx/decoder.js';
import { LtxvfsError } from '../../ltx/errors.js';
import { HEADER_FLAG_NO_CHECKSUM } from '../../ltx/header.js';
import { Database } from '../../lib/database.js';
import { encodeLeaseRecord, type LeaseMessage } from '../../lib/lease.js';
import { openDatabase } from '../../lib/open.js';
import type { PageSink, PageVersion, WritablePageSource } from '../../lib/page-source.js';
import { restoreDatabase } from '../../lib/restore.js';
import { openFileReplica } from '../../lib/storage/file.js';
import { verifyReplica } from '../../lib/verify.js';
import { LtxAsyncVFS } from '../../vfs/asyncify-vfs.js';
import { loadAsyncifyModule, withEmptyBlobs } from '../../vfs/wa-sqlite.js';
import { WriteBuffer } from '../../vfs/core/write-buffer.js';
import { BytesSource, sqliteCliDatabase } from '../helpers/bytes-source.js';
import { listLtxFiles } from '../helpers/litestream.js';
import { waitFor } from '../helpers/polling.js';
import { copyChecksummedReplica, copyFixtureReplica, CountingClient, databaseChecksumOf, readBytes } from '../helpers/replica-builder.js';
import { sqliteQuery } from '../helpers/sqlite-cli.js';
import { openWritable, rejectsSqlite } from '../helpers/write-harness.js';

const SQLITE_BUSY = 5;
const SQLITE_READONLY = 8;
const SQLITE_IOERR_WRITE = 778;
const INSERT = "INSERT INTO t (name) VALUES ('delta')";
const BATCH = ['begin-atomic', 'commit-atomic', 'sync-fcntl', 'xsync'];

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

t.test('every COMMIT is one new L0 file, TXID = previous + 1, in the replica when the call returns', async (t) => {
  const dir = await fixture(t);
  const conn = await openWritable(await CountingClient.open(dir), { autoLease: true, leaseOwner: 'write-test:1' });
  t.teardown(() => conn.close());
  const { db, vfs } = conn;

  await db.run(INSERT);
  t.same(await txids(dir), [1, 2, 3, 4, 5, 6], 'an autocommit statement: TXID 6 is there when run() returns');
  t.same(vfs.take(), BATCH, 'shipped at the batch-atomic commit');

  await db.exec("BEGIN; INSERT INTO t (name) VALUES ('e1'); INSERT INTO t (name) VALUES ('e2'); UPDATE t SET name = 'E' WHERE id = 1; DELETE FROM t WHERE id = 2; COMMIT;");
  t.same(await txids(dir), [1, 2, 3, 4, 5, 6, 7], 'BEGIN … COMMIT with four statements: one file');
  t.same(vfs.take(), BATCH);

  await db.exec("INSERT INTO t (name) VALUES ('f1'); INSERT INTO t (name) VALUES ('f2');");
  t.same(await txids(dir), [1, 2, 3, 4, 5, 6, 7, 8, 9], 'two autocommit statements: two files');

  for (const sql of ['SELECT count(*) FROM t', "UPDATE t SET name = 'none' WHERE id = -1", 'BEGIN; COMMIT', 'BEGIN IMMEDIATE; COMMIT']) {
    await db.exec(sql);
  }
  t.same(await txids(dir), [1, 2, 3, 4, 5, 6, 7, 8, 9], 'reads, a no-op UPDATE and empty transactions ship nothing');
  vfs.take();

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

t.test('header timestamps make time travel work on what ltxvfs wrote', async (t) => {
  const dir = await fixture(t);
  const db = await openDatabase(dir, { autoLease: true, shared: false, pollIntervalMs: 0 });
  t.teardown(() => db.close());
  const times: number[] = [];
  for (const name of ['t6', 't7', 't8']) {
    await db.run('INSERT INTO t (name) VALUES (?)', [name]);
    const file = decodeLtxFile(readBytes(ltxPath(dir, 5 + times.length + 1)), name);
    times.push(file.header.timestamp);
    await new Promise((resolve) => setTimeout(resolve, 15));
  }
  t.ok(times[0] < times[1] && times[1] < times[2], 'increasing timestamps');
  const at = new Date(times[1] + 1).toISOString();
  const past = await openDatabase(dir, { at, shared: false, pollIntervalMs: 0 });
  t.teardown(() => past.close());
  t.same(await past.all("SELECT name FROM t WHERE name LIKE 't_' ORDER BY id"), [{ name: 't6' }, { name: 't7' }], `state at ${at}: TXID 7`);
  t.same(await past.all('SELECT litestream_txid() AS txid'), [{ txid: '0000000000000007' }]);
  await db.exec(`PRAGMA litestream_time = '${new Date(times[0] + 1).toISOString()}'`);
  t.same(await db.all("SELECT name FROM t WHERE name LIKE 't_'"), [{ name: 't6' }], 'the writer\'s own connection travels too');
});

t.test('a new database in an empty replica (create: true): the first commit is the TXID 1 snapshot', async (t) => {
  const root = t.testdir({});
  const dir = join(root, 'new', 'replica');
  await t.rejects(openDatabase(dir, { shared: false }), { code: 'LTXVFS_ERR_NOT_FOUND' }, 'without create a missing directory is an error');
  const db = await openDatabase(dir, { create: true, autoLease: true, shared: false, pollIntervalMs: 0 });
  t.teardown(() => db.close());
  t.same(await db.all('SELECT litestream_txid() AS txid'), [{ txid: '0000000000000000' }]);
  await db.exec('CREATE TABLE k (id INTEGER PRIMARY KEY, v TEXT)');
  await db.run("INSERT INTO k (v) VALUES ('one')");
  t.same(await txids(dir), [1, 2]);
  const snapshot = decodeLtxFile(readBytes(ltxPath(dir, 1)), 'TXID 1');
  t.equal(snapshot.header.pageSize, 4096);
  t.same(snapshot.pages.map((p) => p.pgno), Array.from({ length: snapshot.header.commit }, (_, i) => i + 1), 'every page');
  t.same(await freshRows(dir, 'SELECT * FROM k'), [{ id: 1, v: 'one' }]);
  t.equal((await restore(dir)).integrity, 'ok');

  const empty = join(root, 'empty');
  await fs.mkdir(empty);
  await t.rejects(openDatabase(empty, { shared: false }), { code: 'LTXVFS_ERR_EMPTY_REPLICA' }, 'an empty replica needs create: true');
  const conn = await openWritable(await CountingClient.open(empty), { autoLease: true });
  t.teardown(() => conn.close());
  await conn.db.exec('CREATE TABLE a (x)');
  t.same(await txids(empty), [1]);
  t.ok(conn.vfs.take().includes('sync-fcntl'), 'a new database\'s first transaction goes through the journal and the sync');
});

t.test('large transactions: several MiB through the batch path, and through the journal when pages spill (cache_size = 10)', async (t) => {
  const dir = await fixture(t);
  const conn = await openWritable(await CountingClient.open(dir), { autoLease: true });
  t.teardown(() => conn.close());
  const { db, vfs } = conn;
  const fill = (table: string, rows: number) =>
    `BEGIN; CREATE TABLE ${table} (id INTEGER PRIMARY KEY, b BLOB);
     WITH RECURSIVE c(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM c WHERE i < ${rows}) INSERT INTO ${table} (b) SELECT randomblob(1500) FROM c;
     COMMIT;`;

  await db.exec('PRAGMA cache_size = -65536');
  vfs.take();
  await db.exec(fill('big1', 3000));
  t.same(vfs.take(), BATCH, '4.5 MiB that fit the cache: one batch-atomic commit');
  t.same(await txids(dir), [1, 2, 3, 4, 5, 6]);
  const f6 = decodeLtxFile(readBytes(ltxPath(dir, 6)), 'TXID 6');
  t.ok(f6.pages.length > 1100, `${f6.pages.length} pages in one file`);

  await db.exec('PRAGMA cache_size = 10');
  await db.exec(fill('big2', 3000));
  const events = vfs.take();
  t.notOk(events.includes('commit-atomic'), `no batch once pages spilled: ${events.join(', ')}`);
  t.ok(events.includes('sync-fcntl') && events.includes('xsync'), 'shipped at the database sync');
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

t.test('VACUUM that shrinks the database: the commit carries the smaller size; restore is clean', async (t) => {
  const dir = await fixture(t);
  const conn = await openWritable(await CountingClient.open(dir), { autoLease: true });
  t.teardown(() => conn.close());
  const { db, vfs } = conn;
  await db.exec("CREATE TABLE big (b BLOB); WITH RECURSIVE c(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM c WHERE i < 400) INSERT INTO big SELECT randomblob(3000) FROM c;");
  const [{ page_count: grown }] = await db.all('PRAGMA page_count');
  await db.exec('DROP TABLE big');
  vfs.take();
  await db.exec('VACUUM');
  const events = vfs.take();
  t.ok(events.some((e) => e.startsWith('truncate')) || events.includes('commit-atomic') || events.includes('sync-fcntl'), `events: ${events.join(', ')}`);
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

t.test('a commit whose new last pages went to the free list: the pages SQLite never wrote ship as zeros', async (t) => {
  const dir = await fixture(t);
  const db = await openDatabase(dir, { autoLease: true, shared: false, pollIntervalMs: 0 });
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

t.test('ROLLBACK ships nothing, also after pages spilled; a spilled transaction that commits ships once', async (t) => {
  const dir = await fixture(t);
  const conn = await openWritable(await CountingClient.open(dir), { autoLease: true });
  t.teardown(() => conn.close());
  const { db, vfs } = conn;
  await db.exec('PRAGMA cache_size = 5');
  const big = "UPDATE t SET name = printf('%.500c', 'x'); WITH RECURSIVE c(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM c WHERE i < 300) INSERT INTO t (name) SELECT randomblob(800) FROM c;";
  vfs.take();
  await db.exec(`BEGIN; ${big}`);
  t.same(await txids(dir), [1, 2, 3, 4, 5], 'nothing shipped before COMMIT, though pages spilled');
  await db.exec('ROLLBACK');
  const events = vfs.take();
  t.ok(events.includes('sync-fcntl'), `the rollback restored spilled pages and synced: ${events.join(', ')}`);
  t.same(await txids(dir), [1, 2, 3, 4, 5], 'and shipped nothing');
  t.same(await db.all('SELECT count(*) AS n, max(length(name)) AS m FROM t'), [{ n: 250, m: 8 }]);
  t.same(await db.all('PRAGMA integrity_check'), [{ integrity_check: 'ok' }]);

  await db.exec('BEGIN; INSERT INTO t (name) VALUES (1); ROLLBACK;');
  t.same(await txids(dir), [1, 2, 3, 4, 5], 'a small rollback ships nothing either');

  await db.exec(`BEGIN; ${big} COMMIT;`);
  t.same(await txids(dir), [1, 2, 3, 4, 5, 6]);
  t.same(await freshRows(dir, 'SELECT count(*) AS n FROM t'), [{ n: 550 }]);
});

t.test('PRAGMA synchronous = OFF: commits still ship (SQLITE_FCNTL_SYNC without xSync)', async (t) => {
  const dir = await fixture(t);
  const conn = await openWritable(await CountingClient.open(dir), { autoLease: true });
  t.teardown(() => conn.close());
  const { db, vfs } = conn;
  await db.exec('PRAGMA synchronous = OFF');
  vfs.take();
  await db.run(INSERT);
  t.same(vfs.take(), ['sync-fcntl'], 'no batch, no xSync: the file control is the commit point');
  t.same(await txids(dir), [1, 2, 3, 4, 5, 6]);
  await db.exec('PRAGMA cache_size = 5');
  await db.exec("BEGIN; WITH RECURSIVE c(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM c WHERE i < 300) INSERT INTO t (name) SELECT randomblob(800) FROM c; COMMIT;");
  t.same(await txids(dir), [1, 2, 3, 4, 5, 6, 7]);
  t.same(await freshRows(dir, "SELECT count(*) AS n FROM t"), [{ n: 551 }]);
});

t.test('checksum modes follow the replica', async (t) => {
  t.test('a checksummed replica keeps its chain through several writes; verify and restore check it', async (t) => {
    const dir = t.testdir({});
    await copyChecksummedReplica(dir);
    const db = await openDatabase(dir, { autoLease: true, shared: false, pollIntervalMs: 0 });
    t.teardown(() => db.close());
    await db.run(INSERT);
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
    const db = await openDatabase(dir, { create: true, checksums: true, autoLease: true, shared: false, pollIntervalMs: 0 });
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
    const db = await openDatabase(dir, { checksums: true, autoLease: true, shared: false, pollIntervalMs: 0 });
    t.teardown(() => db.close());
    await db.run(INSERT);
    const file = decodeLtxFile(readBytes(ltxPath(dir, 6)), '6');
    t.equal(file.header.flags, HEADER_FLAG_NO_CHECKSUM);
    t.equal((await verify(dir)).checksummed, false);
  });
});

t.test('two writers race for one TXID: one wins, the loser gets SQLITE_BUSY, keeps nothing, then sees the winner and retries', async (t) => {
  const dir = await fixture(t);
  const a = await openDatabase(dir, { shared: false, pollIntervalMs: 0, leaseOwner: 'writer-a:1' });
  t.teardown(() => a.close());
  const b = await openDatabase(dir, { shared: false, pollIntervalMs: 0, leaseOwner: 'writer-b:2' });
  t.teardown(() => b.close());
  await a.exec('PRAGMA litevfs_acquire_lease');
  await fs.rm(join(dir, 'lock.json'));
  await b.exec('PRAGMA litevfs_acquire_lease');

  await a.run("INSERT INTO t (name) VALUES ('from a')");
  t.same(await txids(dir), [1, 2, 3, 4, 5, 6]);
  const winner = readBytes(ltxPath(dir, 6));

  const cause = await rejectsSqlite(t, b.run("INSERT INTO t (name) VALUES ('from b')"), SQLITE_BUSY, 'LTXVFS_ERR_CONFLICT',
    /ltx\/0\/0000000000000006-0000000000000006\.ltx: another writer committed TXID 0000000000000006 first/);
  t.equal(cause?.key, 'ltx/0/0000000000000006-0000000000000006.ltx');
  t.same(await txids(dir), [1, 2, 3, 4, 5, 6], 'no extra file');
  t.same(readBytes(ltxPath(dir, 6)), winner, 'the winner\'s file is untouched');
  await waitFor('b to see a\'s row', async () => (await b.all("SELECT name FROM t WHERE name LIKE 'from %'")).length === 1);
  t.same(await b.all("SELECT name FROM t WHERE name LIKE 'from %'"), [{ name: 'from a' }], 'b\'s row is absent, a\'s is there');
  t.same(await b.all('PRAGMA integrity_check'), [{ integrity_check: 'ok' }]);

  await b.run("INSERT INTO t (name) VALUES ('from b')");
  t.same(await txids(dir), [1, 2, 3, 4, 5, 6, 7], 'the retry shipped TXID 7');

  // Now a is behind: an explicit transaction with several statements loses as a whole.
  await rejectsSqlite(t, a.exec("BEGIN; INSERT INTO t (name) VALUES ('a2'); INSERT INTO t (name) VALUES ('a3'); COMMIT;"),
    SQLITE_BUSY, 'LTXVFS_ERR_CONFLICT', /another writer committed TXID 0000000000000007 first/);
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

t.test('a lease lost during a transaction: COMMIT fails with SQLITE_BUSY (LEASE_LOST) and nothing is written', async (t) => {
  const dir = await fixture(t);
  const events: LeaseMessage[] = [];
  const onLease = (m: unknown) => events.push(m as LeaseMessage);
  subscribe('ltxvfs:lease', onLease);
  t.teardown(() => unsubscribe('ltxvfs:lease', onLease));
  const db = await openDatabase(dir, { shared: false, pollIntervalMs: 0, leaseOwner: 'loser:1', leaseTtlMs: 600 });
  t.teardown(() => db.close());
  await db.exec('PRAGMA litevfs_acquire_lease');
  await db.exec("BEGIN; INSERT INTO t (name) VALUES ('lost');");
  await fs.writeFile(join(dir, 'lock.json'), encodeLeaseRecord({ generation: 7, expiresAtMs: Date.now() + 60_000, owner: 'thief:2' }));
  await waitFor('the renewal to find the lease taken over', () => events.some((e) => e.event === 'lost' && e.owner === 'loser:1'));
  await rejectsSqlite(t, db.exec('COMMIT'), SQLITE_BUSY, 'LTXVFS_ERR_LEASE_LOST', /the write lease was lost before commit/);
  t.same(await txids(dir), [1, 2, 3, 4, 5], 'nothing written');
  t.same(await db.all("SELECT count(*) AS n FROM t WHERE name = 'lost'"), [{ n: 0 }], 'the transaction was rolled back');
  await rejectsSqlite(t, db.run(INSERT), SQLITE_READONLY, 'LTXVFS_ERR_READONLY', /PRAGMA litevfs_acquire_lease/);
  await rejectsSqlite(t, db.exec('PRAGMA litevfs_acquire_lease'), 1, 'LTXVFS_ERR_LEASE_HELD', /held by thief:2/);
});

t.test('storage failing during the upload: the transaction fails, nothing stays; a failure SQLite retries through the journal ships once', async (t) => {
  const dir = await fixture(t);
  const client = await CountingClient.open(dir);
  const conn = await openWritable(client, { autoLease: true });
  t.teardown(() => conn.close());
  const { db, vfs } = conn;
  let failures = 0;
  let failUploads = Infinity;
  client.beforeWrite = async (key) => {
    if (!key.endsWith('.ltx') || failures >= failUploads) return;
    failures++;
    throw new LtxvfsError('LTXVFS_ERR_STORAGE', `write ${key}: injected: connection refused`, { key });
  };
  vfs.take();
  const cause = await rejectsSqlite(t, db.run(INSERT), SQLITE_IOERR_WRITE, 'LTXVFS_ERR_STORAGE',
    /write ltx\/0\/0000000000000006-0000000000000006\.ltx: injected: connection refused/);
  t.equal(cause?.key, 'ltx/0/0000000000000006-0000000000000006.ltx');
  t.same(vfs.take(), ['begin-atomic', 'commit-atomic', 'rollback-atomic', 'sync-fcntl', 'sync-fcntl', 'xsync'],
    'the batch failed, SQLite retried through the journal, that failed too; its rollback synced the restored pages');
  t.equal(failures, 2, 'two uploads tried: the rollback shipped nothing');
  t.same(await txids(dir), [1, 2, 3, 4, 5], 'nothing stays');
  t.same(await db.all("SELECT count(*) AS n FROM t WHERE name = 'delta'"), [{ n: 0 }]);
  t.equal(conn.reader.current.txid, 5);

  failures = 0;
  failUploads = 1;
  await db.run(INSERT);
  t.equal(failures, 1);
  t.same(await txids(dir), [1, 2, 3, 4, 5, 6], 'one failure: the journal retry shipped it once');
  t.same(await freshRows(dir, "SELECT count(*) AS n FROM t WHERE name = 'delta'"), [{ n: 1 }]);
  client.beforeWrite = undefined;
});

t.test('two connections of one process share the writer: one writes at a time, the other gets SQLITE_BUSY', async (t) => {
  const dir = await fixture(t);
  const first = await openWritable(await CountingClient.open(dir), { autoLease: true });
  t.teardown(() => first.close());
  const second = await openWritable(first.reader.client, { reader: first.reader });
  t.teardown(() => second.close());
  await first.db.exec("BEGIN; INSERT INTO t (name) VALUES ('first');");
  await rejectsSqlite(t, second.db.run(INSERT), SQLITE_BUSY, 'LTXVFS_ERR_CONFLICT', /another connection of this process is writing/);
  await first.db.exec('COMMIT');
  await second.db.run(INSERT);
  t.same(await txids(dir), [1, 2, 3, 4, 5, 6, 7]);
  t.same(await first.db.all("SELECT name FROM t WHERE id > 250 ORDER BY id"), [{ name: 'first' }, { name: 'delta' }]);
});

/** An in-memory writable source: a BytesSource whose sink applies transactions and answers reserve synchronously. */
class MemorySink implements PageSink {
  readonly commits: Array<{ pages: number[]; commit: number }> = [];
  reserved = 0;
  constructor(readonly source: BytesSource) {}
  reserve(): void {
    this.reserved++;
  }
  unreserve(): void {}
  async commit(base: PageVersion, pages: ReadonlyMap<number, Uint8Array>, commit: number, pageSize: number): Promise<PageVersion> {
    const bytes = new Uint8Array(commit * pageSize);
    bytes.set(this.source.current.bytes.subarray(0, Math.min(bytes.length, this.source.current.bytes.length)));
    for (const [pgno, data] of pages) if (pgno <= commit) bytes.set(data, (pgno - 1) * pageSize);
    this.commits.push({ pages: [...pages.keys()].sort((x, y) => x - y), commit });
    if (base.txid !== this.source.current.txid) throw new Error(`commit on TXID ${base.txid}, source at ${this.source.current.txid}`);
    this.source.setBytes(bytes);
    return this.source.acquire();
  }
}

t.test('the VFS over any PageSink: a synchronous reserve, commits, the file size inside a transaction', async (t) => {
  const bytes = sqliteCliDatabase('CREATE TABLE n (v); INSERT INTO n VALUES (1);');
  const source = new BytesSource(bytes);
  const sink = new MemorySink(source);
  const writable: WritablePageSource = {
    sink,
    acquire: () => source.acquire(),
    release: (v) => source.release(v),
    readPage: (v, p) => source.readPage(v, p),
  };
  const { module, sqlite3 } = await loadAsyncifyModule();
  const vfs = new LtxAsyncVFS(module, { name: 'memory-sink' });
  sqlite3.vfs_register(vfs, false);
  vfs.addDatabase('m.db', writable);
  const handle = await sqlite3.open_v2('m.db', SQLite.SQLITE_OPEN_READWRITE, vfs.name);
  const db = new Database({ sqlite3: withEmptyBlobs(sqlite3, module), db: handle, vfs, statsProvider: () => ({ pagesFetched: 0, bytesRead: 0, readRequests: 0, cacheHits: 0, cacheMisses: 0, cacheBytes: 0, txid: 0 }) });
  t.teardown(() => db.close());
  await db.exec("BEGIN; INSERT INTO n VALUES (2); CREATE TABLE m (b); INSERT INTO m VALUES (zeroblob(9000));");
  t.same(await db.all('SELECT sum(length(b)) AS s FROM m'), [{ s: 9000 }], 'reads inside the transaction see its own pages');
  await db.exec('COMMIT');
  t.equal(sink.reserved, 1);
  t.equal(sink.commits.length, 1);
  t.ok(sink.commits[0].commit > bytes.length / 4096);
  t.same(await db.all('SELECT v FROM n'), [{ v: 1 }, { v: 2 }]);
  t.same(await db.all('PRAGMA integrity_check'), [{ integrity_check: 'ok' }]);
  await db.close();
  t.equal(source.pinnedCount, 0, 'every pinned version was released');
});

t.test('the write path called directly: refusals before RESERVED, a commit at xSync alone, batch controls without pages', async (t) => {
  const source = new BytesSource(sqliteCliDatabase('CREATE TABLE n (v); INSERT INTO n VALUES (1);'));
  const sink = new MemorySink(source);
  const { module } = await loadAsyncifyModule();
  const vfs = new LtxAsyncVFS(module, { name: 'direct' });
  const writable: WritablePageSource = { sink, acquire: () => source.acquire(), release: (v) => source.release(v), readPage: (v, p) => source.readPage(v, p) };
  vfs.addDatabase('d.db', writable);
  const code = (r: number | { then(f: (c: number) => unknown): unknown }) =>
    typeof r === 'number' ? Promise.resolve(r) : new Promise<number>((resolve) => r.then(resolve));
  const out = new DataView(new ArrayBuffer(4));
  const FD = 501;
  t.equal(vfs.jOpen('d.db', FD, SQLite.SQLITE_OPEN_MAIN_DB | SQLite.SQLITE_OPEN_READWRITE, out), SQLite.SQLITE_OK);
  t.ok(out.getInt32(0, true) & SQLite.SQLITE_OPEN_READWRITE, 'opened read-write: the source has a sink');
  t.equal(vfs.jDeviceCharacteristics(FD), 0x4000, 'SQLITE_IOCAP_BATCH_ATOMIC');
  t.equal(vfs.jWrite(FD, new Uint8Array(4096), 0), SQLITE_READONLY, 'a write before RESERVED is refused');
  t.match(vfs.takeLastError(), { code: 'LTXVFS_ERR_READONLY', key: 'd.db', message: 'cannot write replica database "d.db": it is read-only' });
  t.equal(vfs.jTruncate(FD, 0), SQLITE_READONLY);
  t.match(vfs.takeLastError(), { message: /cannot truncate replica database "d.db"/ });

  t.equal(await code(vfs.jLock(FD, SQLite.SQLITE_LOCK_SHARED)), SQLite.SQLITE_OK);
  t.equal(await code(vfs.jLock(FD, SQLite.SQLITE_LOCK_RESERVED)), SQLite.SQLITE_OK);
  t.equal(sink.reserved, 1, 'a synchronous reserve');
  const page1 = new Uint8Array(4096);
  t.equal(await code(vfs.jRead(FD, page1, 0)), SQLite.SQLITE_OK);
  const header = new DataView(page1.buffer);
  header.setUint32(24, header.getUint32(24) + 1);
  header.setUint32(92, header.getUint32(24));
  t.equal(vfs.jWrite(FD, page1, 0), SQLite.SQLITE_OK);
  const size = new DataView(new ArrayBuffer(8));
  t.equal(vfs.jTruncate(FD, 3 * 4096), SQLite.SQLITE_OK);
  t.equal(vfs.jFileSize(FD, size), SQLite.SQLITE_OK);
  t.equal(size.getBigInt64(0, true), 3n * 4096n, 'the file size follows the transaction');
  const synced = vfs.jSync(FD, 0);
  t.ok(synced instanceof Promise, 'xSync without SQLITE_FCNTL_SYNC before it ships the pages itself');
  t.equal(await code(synced), SQLite.SQLITE_OK);
  t.same(sink.commits, [{ pages: [1], commit: 2 }], 'one commit, its size from page 1\'s header');

  t.equal(await code(vfs.jFileControl(FD, 31, out)), SQLite.SQLITE_OK, 'BEGIN_ATOMIC_WRITE');
  header.setUint32(24, header.getUint32(24) + 1);
  header.setUint32(92, header.getUint32(24));
  t.equal(vfs.jWrite(FD, page1, 0), SQLite.SQLITE_OK);
  t.equal(await code(vfs.jSync(FD, 0)), SQLite.SQLITE_OK, 'a sync inside a batch ships nothing');
  t.equal(await code(vfs.jFileControl(FD, 33, out)), SQLite.SQLITE_OK, 'ROLLBACK_ATOMIC_WRITE drops the pages');
  t.equal(await code(vfs.jFileControl(FD, 32, out)), SQLite.SQLITE_OK, 'COMMIT_ATOMIC_WRITE with no pages ships nothing');
  t.equal(await code(vfs.jFileControl(FD, 21, out)), SQLite.SQLITE_OK, 'nor does SQLITE_FCNTL_SYNC');
  t.equal(sink.commits.length, 1);
  t.equal(vfs.jUnlock(FD, SQLite.SQLITE_LOCK_SHARED), SQLite.SQLITE_OK);
  t.equal(vfs.jUnlock(FD, SQLite.SQLITE_LOCK_NONE), SQLite.SQLITE_OK);
  t.equal(vfs.jClose(FD), SQLite.SQLITE_OK);
  t.equal(source.pinnedCount, 0);

  const JOURNAL = 502;
  t.equal(vfs.jOpen('d.db-journal', JOURNAL, SQLite.SQLITE_OPEN_MAIN_JOURNAL | SQLite.SQLITE_OPEN_READWRITE | SQLite.SQLITE_OPEN_CREATE, out), SQLite.SQLITE_OK);
  t.equal(await code(vfs.jFileControl(JOURNAL, 32, out)), SQLite.SQLITE_NOTFOUND, 'file controls are for the database only');
  t.equal(await code(vfs.jSync(JOURNAL, 0)), SQLite.SQLITE_OK);
  t.equal(vfs.jWrite(JOURNAL, new Uint8Array(512), 0), SQLite.SQLITE_OK);
  t.equal(vfs.jTruncate(JOURNAL, 0), SQLite.SQLITE_OK, 'journals are memory files: written and truncated freely');
  t.equal(vfs.jDeviceCharacteristics(JOURNAL) & 0x4000, 0, 'and never batch-atomic');
  t.equal(vfs.jClose(JOURNAL), SQLite.SQLITE_OK);
  t.equal(await code(vfs.jFileControl(999, 32, out)), SQLite.SQLITE_IOERR, 'an unknown handle fails with a code');
  t.match(vfs.takeLastError(), { code: 'LTXVFS_ERR_USAGE', message: 'VFS "direct" has no open file 999' });
});

t.test('WriteBuffer', async (t) => {
  const buffer = new WriteBuffer(0, 0);
  buffer.truncate(8192);
  t.equal(buffer.commit, 0, 'a truncation before the page size is known changes nothing');
  t.equal(buffer.changeCounter(), undefined, 'no page 1 written');
  t.equal(buffer.commitSize(), 0);
  const page = new Uint8Array(512);
  buffer.write(page, 1024);
  t.equal(buffer.pageSize, 512, 'the first write gives the page size');
  t.equal(buffer.commit, 3);
  t.throws(() => buffer.write(new Uint8Array(100), 0), { code: 'LTXVFS_ERR_UNSUPPORTED', message: 'write of 100 bytes at offset 0: only whole pages of 512 bytes are supported' });
  t.throws(() => buffer.write(new Uint8Array(512), 100), { code: 'LTXVFS_ERR_UNSUPPORTED', message: /at offset 100/ });
  page[0] = 9;
  t.equal(buffer.page(3)?.[0], 0, 'the buffer keeps a copy');
  t.equal(buffer.page(2), undefined);

  const page1 = new Uint8Array(512);
  const view = new DataView(page1.buffer);
  view.setUint32(24, 41);
  view.setUint32(92, 41);
  view.setUint32(28, 2);
  buffer.write(page1, 0);
  t.equal(buffer.changeCounter(), 41);
  t.equal(buffer.commitSize(), 2, 'a valid header size wins over the file size (SQLite truncates after its commit point)');
  view.setUint32(92, 40);
  buffer.write(page1, 0);
  t.equal(buffer.commitSize(), 3, 'not when 24–27 differ from 92–95');
  view.setUint32(92, 41);
  view.setUint32(28, 0);
  buffer.write(page1, 0);
  t.equal(buffer.commitSize(), 3, 'nor when the size is 0');
  buffer.truncate(1024);
  t.equal(buffer.commit, 2);
  t.equal(buffer.page(3), undefined, 'pages beyond a truncation are dropped');
});
