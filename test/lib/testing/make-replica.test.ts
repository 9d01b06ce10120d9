/**
 * `ltxvfs/testing`'s makeReplica on directories: a replica made from Chinook reads like
 * the file itself (native sqlite3 CLI) through ltxvfs and through the real Litestream VFS;
 * a replica made from SQL transactions with chosen times travels to each of them in both;
 * every bad option is a clear LtxvfsError.
 */
import t from 'tap';
import { existsSync } from 'node:fs';
import { copyFile, mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { makeReplica } from '../../../lib/testing/index.js';
import { openDatabase } from '../../../lib/api/open.js';
import { listReplica } from '../../../lib/replica/plan.js';
import { openFileReplica } from '../../../lib/storage/file/client.js';
import { CHINOOK_DB, requireLitestreamVfs, requireSqlite3 } from '../../helpers/paths.js';
import { litestreamQueryMany } from '../../helpers/litestream.js';
import { sqliteQueryMany } from '../../helpers/sqlite-cli.js';
import { rejectsLtx } from '../../helpers/replica-builder.js';
import { CHINOOK_QUERIES } from './chinook-queries.js';


t.test('a replica made from Chinook reads like the file: ltxvfs, the native CLI and the Litestream VFS agree', async (t) => {
  requireSqlite3();
  requireLitestreamVfs();
  const source = join(t.testdir(), 'chinook.db');
  await copyFile(CHINOOK_DB, source);
  const replica = await makeReplica({ from: source, fromAt: new Date('2025-06-01T12:00:00Z') });
  t.teardown(() => replica.cleanup());
  t.equal(replica.txid, 1);
  t.match(replica.url, /^file:\/\//);
  t.same(replica.env, { LITESTREAM_REPLICA_URL: replica.url });
  t.same(replica.timestamps, [Date.parse('2025-06-01T12:00:00Z')]);

  const expected = await sqliteQueryMany(source, CHINOOK_QUERIES);
  t.ok(expected[0].length > 3000, `${expected[0].length} tracks`);
  const db = await openDatabase(undefined, { env: { ...replica.env }, pollIntervalMs: 0 });
  try {
    for (const [i, sql] of CHINOOK_QUERIES.entries()) t.same(await db.all(sql), expected[i], `ltxvfs: ${sql}`);
    t.same(await db.all('SELECT litestream_time() AS time'), [{ time: '2025-06-01T12:00:00Z' }], 'the chosen header time');
  } finally {
    await db.close();
  }
  const viaLitestream = await litestreamQueryMany(replica.url, CHINOOK_QUERIES);
  for (const [i, sql] of CHINOOK_QUERIES.entries()) t.same(viaLitestream[i], expected[i], `Litestream VFS: ${sql}`);

  const dir = replica.dir as string;
  await replica.cleanup();
  t.notOk(existsSync(dir), 'cleanup removes the temporary directory');
  await replica.cleanup();
  t.pass('cleanup is idempotent');
});

const HOUR = 3_600_000;
const T0 = Date.parse('2024-03-01T10:00:00Z');
const TRANSACTIONS = [
  { sql: 'CREATE TABLE t (id INTEGER PRIMARY KEY, name TEXT); INSERT INTO t VALUES (1, \'one\')', at: new Date(T0) },
  { sql: "INSERT INTO t VALUES (2, 'two'); INSERT INTO t VALUES (3, 'three')", at: T0 + HOUR },
  { sql: "UPDATE t SET name = upper(name) WHERE id <= 2", at: T0 + 2 * HOUR },
  { sql: 'DELETE FROM t WHERE id = 3', at: T0 + 3 * HOUR },
];
/** The rows after each transaction. */
const STATES = [
  [{ id: 1, name: 'one' }],
  [{ id: 1, name: 'one' }, { id: 2, name: 'two' }, { id: 3, name: 'three' }],
  [{ id: 1, name: 'ONE' }, { id: 2, name: 'TWO' }, { id: 3, name: 'three' }],
  [{ id: 1, name: 'ONE' }, { id: 2, name: 'TWO' }],
];

t.test('a replica made from transactions at chosen times: one LTX file each, time travel to each in ltxvfs and Litestream', async (t) => {
  requireSqlite3();
  requireLitestreamVfs();
  const dir = join(t.testdir(), 'replica');
  const replica = await makeReplica({ transactions: TRANSACTIONS, dir });
  t.teardown(() => replica.cleanup());
  t.equal(replica.dir, dir);
  t.equal(replica.txid, 4);
  t.same(replica.timestamps, [T0, T0 + HOUR, T0 + 2 * HOUR, T0 + 3 * HOUR]);
  const client = await openFileReplica(dir);
  const files = await listReplica(client);
  await client.close();
  t.same(files.map((f) => [f.level, f.minTXID, f.maxTXID, f.createdAt]), replica.timestamps.map((ts, i) => [0, i + 1, i + 1, ts]),
    'one level-0 file per transaction, mtime = the chosen time');

  const db = await openDatabase(replica.url, { pollIntervalMs: 0 });
  t.teardown(() => db.close());
  for (const [i, rows] of STATES.entries()) {
    const at = new Date(T0 + i * HOUR + 60_000).toISOString();
    await db.exec(`PRAGMA litestream_time = '${at}'`);
    t.same(await db.all('SELECT * FROM t ORDER BY id'), rows, `ltxvfs at ${at}`);
    t.same(await db.all('SELECT litestream_txid() AS txid'), [{ txid: `000000000000000${i + 1}` }]);
    const [got] = await litestreamQueryMany(replica.url, ['SELECT * FROM t ORDER BY id'], { pre: [`PRAGMA litestream_time = '${at}'`] });
    t.same(got, rows, `Litestream VFS at ${at}`);
  }
  await db.exec("PRAGMA litestream_time = 'latest'");
  t.same(await db.all('SELECT * FROM t ORDER BY id'), STATES[3], 'latest');
  await replica.cleanup();
  t.ok(existsSync(join(dir, 'ltx', '0')), 'cleanup leaves a directory the caller gave');
});

t.test('transactions on top of a file, and times left to the writer', async (t) => {
  const source = join(t.testdir(), 'chinook.db');
  await copyFile(CHINOOK_DB, source);
  const before = Date.now();
  const replica = await makeReplica({ from: source, transactions: ['DELETE FROM Track WHERE TrackId > 100'] });
  t.teardown(() => replica.cleanup());
  t.equal(replica.txid, 2);
  t.ok(replica.timestamps.every((ts) => ts >= before - 1000), 'header times are the time of making');
  const db = await openDatabase(replica.url, { pollIntervalMs: 0 });
  t.teardown(() => db.close());
  t.same(await db.all('SELECT count(*) AS n FROM Track'), [{ n: 100 }]);
});

t.test('a file with timed transactions on top: its snapshot is as old as the first of them', async (t) => {
  const replica = await makeReplica({ from: CHINOOK_DB, transactions: [{ sql: 'DELETE FROM Genre WHERE GenreId > 20', at: T0 }] });
  t.teardown(() => replica.cleanup());
  t.same(replica.timestamps, [T0, T0]);
  const db = await openDatabase(replica.url, { pollIntervalMs: 0, at: new Date(T0 + 1).toISOString() });
  t.teardown(() => db.close());
  t.same(await db.all('SELECT count(*) AS n FROM Genre'), [{ n: 20 }]);
});

t.test('bad options are LtxvfsErrors naming what is wrong', async (t) => {
  const dir = t.testdir({ 'not-a-db': 'hello' });
  await rejectsLtx(t, makeReplica({}), 'LTXVFS_ERR_USAGE', 'nothing to make');
  await rejectsLtx(t, makeReplica({ transactions: ['  '] }), 'LTXVFS_ERR_USAGE', 'transactions[0].sql', /empty/);
  await rejectsLtx(t, makeReplica({ transactions: [{ sql: 'CREATE TABLE a (x)', at: Number.NaN }] }), 'LTXVFS_ERR_USAGE', 'transactions[0].at', /not a valid time/);
  await rejectsLtx(t, makeReplica({ transactions: [{ sql: 'CREATE TABLE a (x)', at: new Date('nope') }] }), 'LTXVFS_ERR_USAGE', 'transactions[0].at');
  await rejectsLtx(t, makeReplica({ from: CHINOOK_DB, fromAt: 2000, transactions: [{ sql: 'CREATE TABLE a (x)', at: 1000 }] }),
    'LTXVFS_ERR_USAGE', 'transactions[0]', /before from .*times must not go back/);
  await rejectsLtx(t, makeReplica({ fromAt: 1000, transactions: ['CREATE TABLE a (x)'] }), 'LTXVFS_ERR_USAGE', 'fromAt without from');
  await rejectsLtx(t, makeReplica({ transactions: ['CREATE TABLE a (x)', { sql: 'INSERT INTO a VALUES (1)', at: 1000 }] }), 'LTXVFS_ERR_USAGE',
    'transactions[0] has no at', /give every transaction a time, or none/);
  await rejectsLtx(t, makeReplica({ transactions: ['CREATE TABLE a (x)'], prefix: 'p' }), 'LTXVFS_ERR_USAGE', 'prefix "p" needs s3');
  await rejectsLtx(t, makeReplica({ from: join(dir, 'missing.db') }), 'LTXVFS_ERR_NOT_FOUND', 'missing.db');
  await rejectsLtx(t, makeReplica({ from: join(dir, 'not-a-db') }), 'LTXVFS_ERR_CORRUPT', 'not-a-db', /not a SQLite database/);
  await rejectsLtx(t, makeReplica({ transactions: ['CREATE TABLE a (x)', 'SELECT 1'] }), 'LTXVFS_ERR_USAGE', 'transactions[1]', /changed nothing/);
  await rejectsLtx(t, makeReplica({ transactions: ['CREATE TABLE a (x)', 'INSERT INTO nope VALUES (1)'] }), 'LTXVFS_ERR_SQLITE', 'transactions[1] failed', /no such table: nope/);

  const used = join(dir, 'used');
  const first = await makeReplica({ transactions: ['CREATE TABLE a (x)'], dir: used });
  await rejectsLtx(t, makeReplica({ transactions: ['CREATE TABLE a (x)'], dir: used }), 'LTXVFS_ERR_USAGE', used, /already holds a replica/);
  await first.cleanup();

  const old = join(dir, 'old');
  await mkdir(join(old, 'generations', '0123456789abcdef', 'snapshots'), { recursive: true });
  await writeFile(join(old, 'generations', '0123456789abcdef', 'snapshots', '00000000.snapshot.lz4'), 'x');
  await rejectsLtx(t, makeReplica({ transactions: ['CREATE TABLE a (x)'], dir: old }), 'LTXVFS_ERR_UNSUPPORTED', 'generations/0123456789abcdef/snapshots/00000000.snapshot.lz4');
});
