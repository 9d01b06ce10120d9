/**
 * The sql.js adapter (`openSqlJs(SQL, url)`): the shared engine suite (interop with the
 * real Litestream VFS, the oracle queries, bad input, isolation, time travel), then what
 * is particular to it — a genuine sql.js Database, blocking only on misses, writes under
 * the lease rules, `export()`, and a sql.js module that did not come from `loadSqlJs`.
 */
import t from 'tap';
import { mkdtemp, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import initSqlJs from 'sql.js';
import { isLtxvfsError } from '../../ltx/errors.js';
import { openDatabase } from '../../lib/api/open.js';
import { loadSqlJs, openSqlJs, sqlJsStats } from '../../vfs/sqljs/index.js';
import { requireLitestreamVfs, requireSqlite3 } from '../helpers/paths.js';
import { waitFor } from '../helpers/polling.js';
import {
  badInputChecks, buildSuiteFixture, interopChecks, isolationChecks, timeTravelChecks, type SuiteFixture,
} from '../helpers/engine-suite.js';

requireSqlite3();
requireLitestreamVfs();

let fixture: SuiteFixture;
t.before(async () => {
  const dir = await mkdtemp(join(tmpdir(), 'ltxvfs-sqljs-engine-'));
  t.teardown(() => rm(dir, { recursive: true, force: true }));
  fixture = await buildSuiteFixture(dir);
});

t.test('interop: replicas the real Litestream VFS wrote read like their sources', (t) => interopChecks(t, 'sqljs', fixture));
t.test('bad input: a damaged frame is SQLITE_CORRUPT naming the file; a missing replica fails the open', (t) => badInputChecks(t, 'sqljs'));
t.test('isolation: a read transaction keeps its version across remote commits', (t) => isolationChecks(t, 'sqljs'));
t.test('time travel: PRAGMA litestream_time, litestream_set_time(), at', (t) => timeTravelChecks(t, 'sqljs'));

t.test('a genuine sql.js Database: prepare, bind, step, getAsObject, exec, functions', async (t) => {
  const SQL = await loadSqlJs();
  const db = await openSqlJs(SQL, fixture.history.url, { pollIntervalMs: 0 });
  t.teardown(() => db.close());
  t.ok(db instanceof SQL.Database);
  const stmt = db.prepare('SELECT id, owner FROM accounts WHERE id > :after ORDER BY id LIMIT 2');
  stmt.bind({ ':after': 10 });
  const rows: unknown[] = [];
  while (stmt.step()) rows.push(stmt.getAsObject());
  stmt.free();
  t.same(rows, [{ id: 11, owner: 'acct-0008' }, { id: 12, owner: 'acct-0009' }]);
  const [position] = db.exec('SELECT litestream_txid() AS txid, litestream_lag() AS lag');
  t.same(position.columns, ['txid', 'lag']);
  t.equal(position.values[0][0], '000000000000000b');
  const lag = position.values[0][1];
  t.ok(typeof lag === 'number' && lag >= 0, `lag: seconds since the open's listing, not -1 (got ${String(lag)})`);
  t.same(db.exec('PRAGMA litestream_txid'), [{ columns: ['000000000000000b'], values: [['000000000000000b']] }]);
  // The instance's other databases are sql.js's own, in memory.
  const mem = new SQL.Database();
  mem.exec('CREATE TABLE m (x); INSERT INTO m VALUES (1), (2)');
  t.same(mem.exec('SELECT sum(x) AS s FROM m'), [{ columns: ['s'], values: [[3]] }]);
  mem.close();
});

t.test('the calling thread blocks only on misses: warm queries send no message', async (t) => {
  const SQL = await loadSqlJs();
  const db = await openSqlJs(SQL, fixture.oracle.url, { pollIntervalMs: 0 });
  t.teardown(() => db.close());
  db.exec('PRAGMA cache_size = 0');
  const sql = 'SELECT count(*) AS n, sum(amount_cents) AS c FROM orders';
  const first = db.exec(sql);
  const after1 = sqlJsStats(db);
  t.ok(after1.bridge.reads > 0, `the first run read ${after1.bridge.reads} times through the bridge`);
  for (let i = 0; i < 5; i++) t.same(db.exec(sql), first);
  const after2 = sqlJsStats(db);
  // sqlJsStats itself is one message.
  t.equal(after2.bridge.messages, after1.bridge.messages + 1, 'five more runs: no message (but the stats call)');
  t.equal(after2.bridge.fastAcquires - after1.bridge.fastAcquires, 5, 'each transaction started on the version it held');
  t.equal(after2.pinnedVersions, 1, 'the fetch thread pins the one version the connection holds');
  t.ok(after2.localCacheBytes > 0);
});

t.test('writes follow the lease rules; COMMIT returns once the LTX file is in the replica', async (t) => {
  const dir = join(t.testdir(), 'replica');
  const SQL = await loadSqlJs();
  const db = await openSqlJs(SQL, dir, { create: true, pollIntervalMs: 0 });
  t.teardown(() => db.close());
  const refused = (() => {
    try {
      db.exec('CREATE TABLE t (x)');
    } catch (e) {
      return e;
    }
    return undefined;
  })();
  t.ok(isLtxvfsError(refused, 'LTXVFS_ERR_SQLITE'));
  t.match(refused, { sqliteCode: 8, message: 'attempt to write a readonly database' });
  t.match((refused as Error).cause, { code: 'LTXVFS_ERR_READONLY', message: /PRAGMA litevfs_acquire_lease/ });
  db.exec('PRAGMA litevfs_acquire_lease');
  db.exec('CREATE TABLE t (x INTEGER PRIMARY KEY, y TEXT)');
  db.run('INSERT INTO t (y) VALUES (?)', ['one']);
  db.exec("BEGIN; INSERT INTO t (y) VALUES ('two'); INSERT INTO t (y) SELECT printf('%.*c', 3000, 'z') FROM t; COMMIT");
  t.same(db.exec('SELECT count(*), sum(length(y)), litestream_txid() FROM t')[0].values, [[4, 6006, '0000000000000003']]);
  t.equal((await readdir(join(dir, 'ltx', '0'))).length, 3, 'one LTX file per transaction');
  const reader = await openDatabase(dir, { pollIntervalMs: 0, readOnly: true });
  t.teardown(() => reader.close());
  t.same(await reader.all('SELECT count(*) AS n, sum(length(y)) AS len FROM t'), [{ n: 4, len: 6006 }], 'the in-process engine reads them');
  t.same(await reader.all('PRAGMA integrity_check'), [{ integrity_check: 'ok' }]);

  const copy = new SQL.Database(db.export());
  t.same(copy.exec('SELECT count(*) FROM t')[0].values, [[4]], 'export() gives the database bytes');
  copy.close();
});

t.test('the hot-journal checks of each transaction are answered without sql.js\'s file system for files never opened; a journal once opened is the unix VFS\'s to answer', async (t) => {
  const dir = join(t.testdir(), 'replica');
  const SQL = await loadSqlJs();
  const writer = await openSqlJs(SQL, dir, { create: true, pollIntervalMs: 0, autoLease: true });
  t.teardown(() => writer.close());
  // Its transactions write through a rollback journal, a file of sql.js's file system.
  writer.exec('CREATE TABLE t (x INTEGER PRIMARY KEY, y TEXT)');
  writer.exec('PRAGMA cache_size = 10');
  writer.exec("BEGIN; WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 3000) INSERT INTO t (y) SELECT printf('%.*c', 1500, 'z') FROM n; COMMIT");
  const reader = await openSqlJs(SQL, dir, { pollIntervalMs: 0, readOnly: true });
  t.teardown(() => reader.close());
  const perTransaction = (db: typeof reader): number => {
    const stmt = db.prepare('SELECT y FROM t WHERE x = ?');
    const before = sqlJsStats(db).journalChecksAnswered;
    for (let i = 0; i < 10; i++) t.equal((stmt.getAsObject([7]) as { y: string }).y.length, 1500);
    stmt.free();
    return (sqlJsStats(db).journalChecksAnswered - before) / 10;
  };
  const read = perTransaction(reader);
  const written = perTransaction(writer);
  t.ok(read >= 1 && Number.isInteger(read), `a connection that never wrote: ${read} checks a transaction answered here`);
  t.equal(written, read - 1, 'the writer\'s journal was opened: the unix VFS answers its check, the others are answered here');
  t.same(reader.exec('SELECT count(*), sum(length(y)) FROM t')[0].values, [[3000, 3000 * 1500]]);
  const inProcess = await openDatabase(dir, { pollIntervalMs: 0, readOnly: true });
  t.teardown(() => inProcess.close());
  t.same(await inProcess.all('PRAGMA integrity_check'), [{ integrity_check: 'ok' }]);
});

t.test('hydration: the option reaches the fetch thread; the PRAGMAs report it', async (t) => {
  const SQL = await loadSqlJs();
  const path = join(t.testdir(), 'hydrated.db');
  const db = await openSqlJs(SQL, fixture.history.url, { pollIntervalMs: 0, hydrate: path, shared: false });
  t.teardown(() => db.close());
  t.same(db.exec('PRAGMA litestream_hydration_file')[0].values, [[path]]);
  await waitFor('hydration completes', () => db.exec('PRAGMA litestream_hydration_progress')[0].values[0][0] === '100.0');
  t.same(db.exec('SELECT count(*) FROM accounts')[0].values, [[346]]);
});

t.test('a sql.js module not loaded by loadSqlJs is refused with the reason', async (t) => {
  const SQL = await initSqlJs();
  const err = await openSqlJs(SQL, fixture.history.url).then(() => undefined, (e: unknown) => e);
  t.ok(isLtxvfsError(err, 'LTXVFS_ERR_USAGE'));
  t.match((err as Error).message, /loadSqlJs/);
});

t.test('open errors: a missing replica, and a bad time target', async (t) => {
  const SQL = await loadSqlJs();
  await t.rejects(openSqlJs(SQL, join(t.testdir(), 'nowhere')), { code: 'LTXVFS_ERR_NOT_FOUND' });
  await t.rejects(openSqlJs(SQL, fixture.history.url, { at: 'not a time' }), { code: 'LTXVFS_ERR_USAGE' });
});
