/**
 * The Litestream SQL surface on ltxvfs connections (docs/formats.md §6): `PRAGMA litestream_txid
 * | litestream_lag | litestream_time`, `litestream_txid() | litestream_lag() |
 * litestream_time() | litestream_set_time()`, on the real Litestream fixture with file
 * times restored, answering what the fixture README says the Litestream VFS answers.
 * The comparison with the real VFS itself is in test/interop/time-travel.test.ts.
 */
import t, { type Test } from 'tap';
import { promises as fs } from 'node:fs';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { acquireReader } from '../../lib/read/registry.js';
import { openDatabase } from '../../lib/api/open.js';
import { ConnectionView } from '../../lib/connection/connection-view.js';
import { ReplicaReader } from '../../lib/read/replica-reader.js';
import { litestreamFunctions, litestreamPragma, type SqlFunctionSpec } from '../../lib/connection/sql-surface.js';
import { openAsyncifyDatabase } from '../../vfs/asyncify/database.js';
import { isLtxvfsError, LtxvfsError } from '../../ltx/errors.js';
import type { Database } from '../../lib/sql/database.js';
import {
  copyFixtureReplica, CountingClient, historyFromStates, rejectsLtx, snapshotFromDatabase, sqlJsDatabase, sqlJsHistory, writeLtx,
  writeReplica,
} from '../helpers/replica-builder.js';
import { setLtxMtimesFromHeaders } from '../helpers/litestream.js';
import { TestClock } from '../helpers/polling.js';

const INVALID = "invalid timestamp (expected RFC3339 or relative time like '5 minutes ago'): ";
const STATE = 'SELECT count(*) AS n, litestream_txid() AS txid, litestream_time() AS time FROM t';

/** A copy of the fixture replica with file times = header times (fixture README "File times matter"). */
async function fixture(t: Test): Promise<string> {
  const dir = await copyFixtureReplica(join(t.testdir(), 'replica'));
  t.equal(await setLtxMtimesFromHeaders(dir), 5);
  return dir;
}

/** The one-row result of a read PRAGMA: its column is named after its value. */
async function pragma(db: Database, name: string): Promise<string> {
  const rows = await db.all(`PRAGMA ${name}`);
  t.equal(rows.length, 1);
  const [[column, value]] = Object.entries(rows[0]);
  t.equal(column, String(value), `PRAGMA ${name}: one column named after its value`);
  return String(value);
}

/** Assert a statement fails with LTXVFS_ERR_SQLITE carrying `message`, and return the error. */
async function fails(t: Test, db: Database, sql: string, message: string | RegExp): Promise<LtxvfsError> {
  const err = await rejectsLtx(t, db.all(sql), 'LTXVFS_ERR_SQLITE', sql);
  t.match((err as Error).message, message, sql);
  return err as LtxvfsError;
}

t.test('the fixture: the Litestream VFS\'s answers, by PRAGMA and by litestream_set_time()', async (t) => {
  const dir = await fixture(t);
  const db = await openDatabase(dir, { pollIntervalMs: 0 });
  t.teardown(() => db.close());
  t.same(await db.all(STATE), [{ n: 250, txid: '0000000000000005', time: '2026-11-21T09:51:56.305Z' }], 'latest');
  t.equal(await pragma(db, 'litestream_txid'), '0000000000000005');
  t.equal(await pragma(db, 'litestream_time'), '2026-11-21T09:51:56.305Z');

  const targets: Array<[at: string, n: number, txid: string, time: string]> = [
    ['2026-11-21T09:51:52Z', 3, '0000000000000002', '2026-11-21T09:51:52Z'],
    ['2026-11-21T09:51:52.792Z', 3, '0000000000000002', '2026-11-21T09:51:52.792Z'], // TXID 3's own time: strictly before
    ['2026-11-21T09:51:52.793Z', 303, '0000000000000003', '2026-11-21T09:51:52.793Z'],
    ['2026-11-21T09:51:50+00:00', 0, '0000000000000001', '2026-11-21T09:51:50Z'],
    ['2026-11-21T11:51:55+02:00', 303, '0000000000000004', '2026-11-21T09:51:55Z'],
    ['2026-11-21 09:51:56.306Z', 250, '0000000000000005', '2026-11-21T09:51:56.306Z'],
  ];
  for (const [at, n, txid, time] of targets) {
    t.same(await db.all(`PRAGMA litestream_time = '${at}'`), [], `PRAGMA litestream_time = '${at}': no result row`);
    t.same(await db.all(STATE), [{ n, txid, time }], `PRAGMA: ${at}`);
    t.equal(await pragma(db, 'litestream_txid'), txid);
    t.equal(await pragma(db, 'litestream_time'), time);
    t.same(await db.all("PRAGMA litestream_time = 'latest'"), []);
    t.same(await db.all(STATE), [{ n: 250, txid: '0000000000000005', time: '2026-11-21T09:51:56.305Z' }], 'back to latest');
    t.same(await db.all('SELECT litestream_set_time(?) AS r', [at]), [{ r: null }], 'litestream_set_time returns NULL');
    t.same(await db.all(STATE), [{ n, txid, time }], `litestream_set_time: ${at}`);
    t.same(await db.all("SELECT litestream_set_time('LATEST') AS r"), [{ r: null }]);
  }
  t.same(await db.all("SELECT name FROM t WHERE id = 1"), [{ name: 'ALPHA' }]);
  await db.exec("PRAGMA litestream_time = '2026-11-21T09:51:54Z'");
  t.same(await db.all("SELECT name FROM t WHERE id = 1"), [{ name: 'alpha' }], 'TXID 3: before the UPDATE');
  t.equal(db.stats().timeTravel, true);
  t.equal(db.stats().txid, 3);
  await db.exec("PRAGMA litestream_time = 'LaTeSt'");
  t.equal(db.stats().timeTravel, false);
});

t.test('errors: before the history, unparseable, NULL, setting read-only PRAGMAs', async (t) => {
  const dir = await fixture(t);
  const db = await openDatabase(dir, { pollIntervalMs: 0 });
  t.teardown(() => db.close());
  const url = pathToFileURL(dir).href;
  await db.exec("PRAGMA litestream_time = '2026-11-21T09:51:53Z'");

  const before = `transaction not available: no LTX file created before 2026-11-21T09:51:40.000Z in ${url}`;
  let e = await fails(t, db, "PRAGMA litestream_time = '2026-11-21T09:51:40Z'", before);
  t.ok(isLtxvfsError(e.cause, 'LTXVFS_ERR_EMPTY_REPLICA'), 'PRAGMA: the cause is the plan\'s error');
  t.equal((e.cause as LtxvfsError).key, url);
  e = await fails(t, db, "SELECT litestream_set_time('2026-11-21T09:51:40Z')", before);
  t.same(await db.all(STATE), [{ n: 303, txid: '0000000000000003', time: '2026-11-21T09:51:53Z' }], 'a failed request keeps the target');

  for (const bad of ['garbage', '5 minutes ago please', '2026-13-45T99:00:00Z', '']) {
    e = await fails(t, db, `PRAGMA litestream_time = '${bad}'`, `${INVALID}${bad}`);
    t.equal((e.cause as LtxvfsError).code, 'LTXVFS_ERR_USAGE');
    await fails(t, db, `SELECT litestream_set_time('${bad}')`, `${INVALID}${bad}`);
  }
  await fails(t, db, 'SELECT litestream_set_time(NULL)', /^timestamp required: /);

  for (const name of ['litestream_txid', 'litestream_lag']) {
    e = await fails(t, db, `PRAGMA ${name} = 3`, `PRAGMA ${name} is read-only`);
    t.equal((e.cause as LtxvfsError).code, 'LTXVFS_ERR_USAGE');
  }
  t.same(await db.all(STATE), [{ n: 303, txid: '0000000000000003', time: '2026-11-21T09:51:53Z' }], 'nothing changed');

});

t.test('litestream_lag: whole seconds since the last successful listing, the open\'s until the first poll', async (t) => {
  const root = t.testdir();
  const dir = await copyFixtureReplica(join(root, 'replica'));
  const clock = new TestClock();
  const db = await openDatabase(dir, { pollIntervalMs: 3_600_000, stalenessBoundMs: 0, now: clock.now });
  t.teardown(() => db.close());
  const lease = await acquireReader(dir);
  t.teardown(() => lease.release());
  const { poller } = lease.reader;
  const lag = async (): Promise<[unknown, string]> => [(await db.get('SELECT litestream_lag() AS lag'))!.lag, await pragma(db, 'litestream_lag')];
  t.same(await lag(), [0, '0'], 'before the first poll: from the open\'s listing (Litestream: -1)');
  clock.advance(1999);
  t.same(await lag(), [1, '1'], 'one-shot use: the open\'s listing ages');
  clock.advance(3001);
  await fs.rename(dir, join(root, 'away'));
  await poller.pollNow();
  t.same([db.stats().polls, db.stats().pollFailures], [1, 1]);
  t.same(await lag(), [5, '5'], 'a failed poll is not a successful listing: still counted from the open');
  t.same(await db.all('SELECT count(*) AS n FROM t'), [{ n: 250 }], 'queries keep working on the version they had');
  await fs.rename(join(root, 'away'), dir);
  await poller.pollNow();
  t.same(await lag(), [0, '0'], 'just polled');
  clock.advance(2999);
  t.same(await lag(), [2, '2'], 'whole seconds, truncated');
  clock.advance(1);
  t.same(await lag(), [3, '3']);
  await fs.rename(dir, join(root, 'away'));
  await poller.pollNow();
  clock.advance(1500);
  t.same(await lag(), [4, '4'], 'counted from the last successful poll');
  await fs.rename(join(root, 'away'), dir);
  t.equal(typeof (await db.get('SELECT litestream_lag() AS lag'))!.lag, 'number', 'an INTEGER, as Litestream\'s');
});

t.test('litestream_time without a target: the newest applied file\'s time (moving with polling), or latest when files carry none', async (t) => {
  const dir = await fixture(t);
  const five = join(dir, 'ltx/0/0000000000000005-0000000000000005.ltx');
  const held = join(dir, 'held');
  await fs.rename(five, held);
  const db = await openDatabase(dir, { pollIntervalMs: 0 });
  t.teardown(() => db.close());
  t.same(await db.all(STATE), [{ n: 303, txid: '0000000000000004', time: '2026-11-21T09:51:54.541Z' }]);
  await fs.rename(held, five);
  const lease = await acquireReader(dir);
  await lease.reader.poller.pollNow();
  await lease.release();
  t.same(await db.all(STATE), [{ n: 250, txid: '0000000000000005', time: '2026-11-21T09:51:56.305Z' }], 'moved with the poll');
  await db.exec("PRAGMA litestream_time = '2026-11-21T09:51:55Z'");
  t.same(await db.all(STATE), [{ n: 303, txid: '0000000000000004', time: '2026-11-21T09:51:55Z' }], 'a time target prints the target');

  const at = await openDatabase(dir, { at: '2', pollIntervalMs: 0 });
  t.teardown(() => at.close());
  t.same(await at.all(STATE), [{ n: 3, txid: '0000000000000002', time: '2026-11-21T09:51:51.037Z' }], 'a TXID target prints that TXID\'s time');

  const zero = join(dir, '..', 'zero');
  await writeLtx(zero, { ...snapshotFromDatabase(await sqlJsDatabase('CREATE TABLE t (x)')), timestamp: 0 });
  const z = await openDatabase(zero, { pollIntervalMs: 0 });
  t.teardown(() => z.close());
  t.same(await z.all(STATE), [{ n: 0, txid: '0000000000000001', time: 'latest' }]);
  t.equal(await pragma(z, 'litestream_time'), 'latest');
});

t.test('relative times count from now', async (t) => {
  // A replica whose files were written 3 h, 2 h, 30 min and 5 s ago.
  const dir = join(t.testdir(), 'replica');
  const now = Date.now();
  const ages = [3 * 3_600_000, 2 * 3_600_000, 1_800_000, 5_000];
  const states = await sqlJsHistory(['CREATE TABLE t (id INTEGER PRIMARY KEY)', 'INSERT INTO t DEFAULT VALUES', 'INSERT INTO t DEFAULT VALUES', 'INSERT INTO t DEFAULT VALUES']);
  await writeReplica(dir, historyFromStates(states).map((spec, i) => ({ ...spec, timestamp: now - ages[i] })));
  const db = await openDatabase(dir, { pollIntervalMs: 0 });
  t.teardown(() => db.close());
  for (const [expr, ms, n] of [['10 seconds ago', 10_000, 2], ['1 hour ago', 3_600_000, 1], ['150 minutes ago', 9_000_000, 0]] as const) {
    const before = Date.now();
    await db.exec(`PRAGMA litestream_time = '${expr}'`);
    const after = Date.now();
    const row = (await db.get(STATE))!;
    const target = Date.parse(row.time as string);
    t.ok(target >= before - ms - 1000 && target <= after - ms, `${expr}: ${row.time} is ${ms} ms before the request`);
    t.same([row.n, row.txid], [n, `000000000000000${n + 1}`], `${expr}: TXID ${n + 1}`);
    await db.exec("SELECT litestream_set_time('latest')");
    await db.all(`SELECT litestream_set_time('${expr}')`);
    t.same((await db.get(STATE))!.txid, `000000000000000${n + 1}`, `litestream_set_time('${expr}')`);
  }
  await fails(t, db, "PRAGMA litestream_time = '4 hours ago'", /^transaction not available: no LTX file created before /);
  await fails(t, db, "SELECT litestream_set_time('yesterday')", /^transaction not available: no LTX file created before /);
});

t.test('litestream_set_time is SQLITE_DIRECTONLY, as Litestream flags it: not from a view in the database', async (t) => {
  const dir = join(t.testdir(), 'replica');
  const db0 = await sqlJsDatabase(`CREATE TABLE t (x);
    CREATE VIEW travel AS SELECT litestream_set_time('latest') AS r;
    CREATE VIEW position AS SELECT litestream_txid() AS txid, litestream_time() AS time, litestream_lag() AS lag;`);
  await writeLtx(dir, snapshotFromDatabase(db0));
  const db = await openDatabase(dir, { pollIntervalMs: 0, now: () => 1_000_000 });
  t.teardown(() => db.close());
  await fails(t, db, 'SELECT * FROM travel', /^unsafe use of litestream_set_time\(\): /);
  t.same(await db.all('SELECT txid, lag FROM position'), [{ txid: '0000000000000001', lag: 0 }], 'the other functions are usable from views');
  t.same(await db.all("SELECT litestream_set_time('latest') AS r"), [{ r: null }], 'and it is usable directly');
});

t.test('unknown PRAGMAs go to SQLite; the handler and the function list, directly', async (t) => {
  const dir = await fixture(t);
  const db = await openDatabase(dir, { pollIntervalMs: 0 });
  t.teardown(() => db.close());
  t.same(await db.all('PRAGMA page_count'), [{ page_count: 4 }]);
  t.same(await db.all('PRAGMA litestream_no_such_thing'), [], 'unknown litestream_* names: SQLite ignores them');
  t.same(await db.all('PRAGMA journal_mode'), [{ journal_mode: 'delete' }]);

  const client = await CountingClient.open(dir);
  // A clock that stands still: the lag is that of the open's listing, 0.
  const reader = await ReplicaReader.open(client, { pollIntervalMs: 0, now: () => 1_000_000 });
  t.teardown(() => reader.close());
  const view = new ConnectionView(reader);
  const handler = litestreamPragma(view);
  t.equal(handler('page_count', null), undefined, 'not ours');
  t.equal(handler('litestream_txid', null), '0000000000000005');
  t.equal(handler('litestream_lag', null), '0', 'just opened');
  t.equal(await handler('litestream_time', '2026-11-21T09:51:52Z'), null);
  t.equal(view.version.txid, 2);
  t.throws(() => handler('litestream_lag', '1'), { code: 'LTXVFS_ERR_USAGE', message: 'PRAGMA litestream_lag is read-only' });
  const fns = litestreamFunctions(view);
  t.same(fns.map((f) => [f.name, f.nArgs, f.directOnly, typeof f.call, typeof f.callAsync]), [
    ['litestream_txid', 0, false, 'function', 'undefined'],
    ['litestream_lag', 0, false, 'function', 'undefined'],
    ['litestream_time', 0, false, 'function', 'undefined'],
    ['litestream_set_time', 1, true, 'undefined', 'function'],
  ]);
  t.same(fns.slice(0, 3).map((f) => f.call!([])), ['0000000000000002', 0, '2026-11-21T09:51:52Z']);
  t.equal(await fns[3].callAsync!(['latest']), null);
  t.equal(view.target, undefined);
  await t.rejects(fns[3].callAsync!([null]), { code: 'LTXVFS_ERR_USAGE', message: 'timestamp required' });
});

t.test('registerFunction: arguments in, results out, a throw becomes the SQL error', async (t) => {
  const dir = await fixture(t);
  const client = await CountingClient.open(dir);
  const reader = await ReplicaReader.open(client, { pollIntervalMs: 0 });
  t.teardown(() => reader.close());
  const view = new ConnectionView(reader);
  const functions: SqlFunctionSpec[] = [
    { name: 'echo_types', nArgs: -1, directOnly: false, call: (args) => args.map((a) => (a instanceof Uint8Array ? `blob:${a.length}` : `${typeof a}:${String(a)}`)).join(',') },
    { name: 'fail_sync', nArgs: 0, directOnly: false, call: () => { throw new LtxvfsError('LTXVFS_ERR_USAGE', 'sync failure, as asked'); } },
    { name: 'fail_plain', nArgs: 0, directOnly: false, call: () => { throw 'a thrown string'; } }, // eslint-disable-line no-throw-literal
    { name: 'fail_async', nArgs: 0, directOnly: false, callAsync: async () => { throw 42; } },
    { name: 'add_async', nArgs: 2, directOnly: false, callAsync: async ([a, b]) => Number(a) + Number(b) },
  ];
  const db = await openAsyncifyDatabase(view, { statsProvider: () => reader.stats(), functions });
  t.teardown(() => db.close());
  t.same(await db.all("SELECT echo_types(1, 'x', NULL, x'0102', 2.5) AS r"), [{ r: 'number:1,string:x,object:null,blob:2,number:2.5' }]);
  t.same(await db.all('SELECT add_async(40, 2) AS r'), [{ r: 42 }]);
  await fails(t, db, 'SELECT fail_sync()', /^sync failure, as asked: /);
  await fails(t, db, 'SELECT fail_plain()', /^a thrown string: /);
  await fails(t, db, 'SELECT fail_async()', /^42: /);
});
