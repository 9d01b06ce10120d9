/**
 * ConnectionView: one connection's view of a shared reader — the newest version at the
 * start of each read transaction (snapshot isolation), or a fixed past state (time
 * travel by TXID or time). Real replicas throughout: the Litestream fixture, and
 * replicas the project's encoder writes with files in every level 0–8 and snapshots in
 * level 9, read with the fewest files.
 */
import t, { type Test } from 'tap';
import { promises as fs } from 'node:fs';
import { join } from 'node:path';
import v8 from 'node:v8';
import vm from 'node:vm';
import { ConnectionView } from '../../lib/connection/connection-view.js';
import { ReplicaReader, type ReplicaReaderOptions } from '../../lib/read/replica-reader.js';
import { openDatabase } from '../../lib/api/open.js';
import { acquireReader } from '../../lib/read/registry.js';
import type { PageIndex } from '../../lib/replica/page-index.js';
import {
  bytesEqual, compactSpecs, copyFixtureReplica, CountingClient, FIXTURE_NAMES, historyFromStates, keyOf, rejectsLtx,
  snapshotFromDatabase, sqlJsHistory, sqlJsRows, timestampOf, writeReplica, type LtxSpec,
} from '../helpers/replica-builder.js';
import { TestClock } from '../helpers/polling.js';

async function openView(t: Test, dir: string, options: ReplicaReaderOptions = {}): Promise<{ view: ConnectionView; reader: ReplicaReader; client: CountingClient }> {
  const client = await CountingClient.open(dir);
  const reader = await ReplicaReader.open(client, { pollIntervalMs: 0, ...options });
  t.teardown(() => reader.close());
  return { view: new ConnectionView(reader), reader, client };
}

/** A fixture replica with TXIDs 1–4; `arrive()` adds TXID 5. */
async function fixtureUpTo4(dir: string): Promise<{ arrive: () => Promise<void> }> {
  await copyFixtureReplica(dir);
  const five = join(dir, 'ltx/0', FIXTURE_NAMES[4]);
  const held = join(dir, 'held.ltx');
  await fs.rename(five, held);
  return { arrive: () => fs.rename(held, five) };
}

async function imageOf(view: ConnectionView): Promise<Uint8Array> {
  const v = view.acquire();
  try {
    const out = new Uint8Array(v.commit * v.pageSize);
    for (let pgno = 1; pgno <= v.commit; pgno++) out.set(await view.readPage(v, pgno), (pgno - 1) * v.pageSize);
    return out;
  } finally {
    view.release(v);
  }
}

t.test('a view follows the newest version between read transactions, and keeps the one it pinned during one', async (t) => {
  const dir = t.testdir();
  const { arrive } = await fixtureUpTo4(dir);
  const { view, reader } = await openView(t, dir);
  t.equal(view.target, undefined);
  t.equal(view.version, reader.current);
  t.equal(view.visible, reader.current, 'no transaction: what a new one would see');

  const pinned = view.acquire();
  t.equal(pinned, reader.current);
  await arrive();
  await reader.poller.pollNow();
  t.equal(reader.current.txid, 5);
  t.equal(view.version.txid, 5, 'version: what the next transaction gets');
  t.equal(view.visible, pinned, 'visible: the pinned version while the transaction lasts');
  t.equal(reader.stats().pinnedVersions, 1);
  view.release(pinned);
  t.equal(view.visible.txid, 5, 'after release: the newest');
  t.equal(reader.stats().pinnedVersions, 0, 'versions nobody pins are released');

  // Nested pins (a read outside the lock while … never in practice, but counted right).
  const a = view.acquire();
  const b = view.acquire();
  view.release(b);
  t.equal(view.visible, a, 'still pinned once');
  view.release(a);
  t.equal(reader.stats().pinnedVersions, 0);
});

t.test('an old version nobody pins can be collected (checked only where gc can be forced)', async (t) => {
  const dir = t.testdir();
  const { arrive } = await fixtureUpTo4(dir);
  const { view, reader } = await openView(t, dir);
  // In a function of its own, so that no suspended frame of this test keeps the version.
  const ref = await (async (): Promise<WeakRef<PageIndex>> => {
    const v = view.acquire() as PageIndex;
    await imageOf(view);
    view.release(v);
    return new WeakRef(v);
  })();
  await arrive();
  await reader.poller.pollNow();
  t.equal(reader.current.txid, 5);
  t.equal(reader.stats().pinnedVersions, 0);
  let gc: (() => void) | undefined;
  try {
    v8.setFlagsFromString('--expose-gc');
    gc = vm.runInNewContext('gc') as () => void;
  } catch {
    gc = undefined;
  }
  if (gc === undefined) {
    t.comment('gc cannot be forced here: collection not checked');
    return;
  }
  for (let i = 0; i < 5 && ref.deref() !== undefined; i++) {
    await new Promise((resolve) => setImmediate(resolve));
    gc();
  }
  t.equal(ref.deref(), undefined, 'the TXID 4 version was garbage collected');
});

t.test('snapshot isolation through SQL: BEGIN … new files arrive … same rows and same litestream_txid until COMMIT', async (t) => {
  const dir = t.testdir();
  const { arrive } = await fixtureUpTo4(dir);
  const db = await openDatabase(dir, { pollIntervalMs: 0 });
  t.teardown(() => db.close());
  const other = await openDatabase(dir, { pollIntervalMs: 0 });
  t.teardown(() => other.close());
  const lease = await acquireReader(dir);
  t.teardown(() => lease.release());
  const SQL = 'SELECT count(*) AS n, sum(id) AS s, litestream_txid() AS txid FROM t';
  const at4 = { n: 303, s: 46056, txid: '0000000000000004' };
  const at5 = { n: 250, s: 31375, txid: '0000000000000005' };

  await db.transaction(async () => {
  t.same(await db.all(SQL), [at4]);
  await arrive();
  await lease.reader.poller.pollNow();
  t.equal(lease.reader.current.txid, 5, 'the reader moved on');
  t.same(await other.all(SQL), [at5], 'another connection sees TXID 5 at once');
  t.same(await db.all(SQL), [at4], 'the open transaction: same rows, same TXID');
  t.same(await db.all("SELECT name FROM t WHERE id = 300"), [{ name: 'row-0297' }], 'a row TXID 5 deleted, read from pages not read before');
  t.same(await db.all('SELECT litestream_txid() AS txid'), [{ txid: '0000000000000004' }]);
  t.same(await db.all('PRAGMA litestream_txid'), [{ '0000000000000004': '0000000000000004' }]);
  t.same(await db.all('SELECT litestream_time() AS time'), [{ time: '2026-11-21T09:51:54.541Z' }], 'and the time of TXID 4');
  t.equal(db.stats().pinnedVersions, 1, 'one version pinned: the transaction\'s');
  t.equal(db.stats().txid, 5, 'stats(): the newest TXID known');
  });
  t.equal(db.stats().pinnedVersions, 0, 'released at COMMIT');
  t.same(await db.all(SQL), [at5], 'the next statement sees TXID 5');
  t.same(await db.all("SELECT name FROM t WHERE id = 300"), []);
  t.same(await db.all('SELECT litestream_txid() AS txid'), [{ txid: '0000000000000005' }]);
  t.equal(db.stats().pinnedVersions, 0);
});

t.test('time travel: setAt takes a TXID (decimal or 16 hex digits) or a time; latest returns', async (t) => {
  const dir = t.testdir();
  const states = await sqlJsHistory([
    'CREATE TABLE t (id INTEGER PRIMARY KEY, v TEXT)',
    ...Array.from({ length: 6 }, (_, i) => `INSERT INTO t (v) VALUES ('tx-${i + 2}')`),
  ]);
  const specs = historyFromStates(states);
  await writeReplica(dir, specs);
  const { view, reader, client } = await openView(t, dir);

  for (const [at, txid] of [['3', 3], ['0000000000000005', 5], [' 7 ', 7], ['1', 1]] as const) {
    await view.setAt(at);
    t.same([view.target?.txid, view.target?.time, view.version.txid], [txid, undefined, txid], `at ${JSON.stringify(at)}`);
    t.ok(bytesEqual(await imageOf(view), states[txid - 1]), `image of TXID ${txid}`);
    t.not(view.version, reader.current);
  }
  await view.setAt(new Date(timestampOf(specs[3]) + 1).toISOString());
  t.same([view.target?.txid, view.target?.time, view.version.txid], [undefined, timestampOf(specs[3]) + 1, 4], 'a time just after TXID 4\'s file');
  await view.setAt(new Date(timestampOf(specs[3])).toISOString());
  t.equal(view.version.txid, 3, 'files created strictly before the time: TXID 4\'s own time shows TXID 3');
  await view.setTime('LATEST');
  t.same([view.target, view.version], [undefined, reader.current], 'latest: back to the newest');

  // Errors name the replica and the reason, and leave the view as it was.
  await view.setTxid(2);
  const before = view.target;
  await rejectsLtx(t, view.setAt('9'), 'LTXVFS_ERR_EMPTY_REPLICA', client.url,
    /^transaction not available: TXID 0000000000000009 \(the newest state at or before it is 0000000000000007\) in file:\/\//);
  await rejectsLtx(t, view.setAt('0000000000000009'), 'LTXVFS_ERR_EMPTY_REPLICA', client.url, /transaction not available/);
  await rejectsLtx(t, view.setAt('2020-01-01T00:00:00Z'), 'LTXVFS_ERR_EMPTY_REPLICA', client.url,
    /^transaction not available: no LTX file created before 2020-01-01T00:00:00\.000Z in file:\/\//);
  await rejectsLtx(t, view.setAt('0'), 'LTXVFS_ERR_USAGE', '0', /restore target: bad TXID 0/);
  await rejectsLtx(t, view.setAt('soon-ish'), 'LTXVFS_ERR_USAGE', 'soon-ish',
    /^invalid timestamp \(expected RFC3339 or relative time like '5 minutes ago'\): soon-ish$/);
  t.equal(view.target, before, 'a failed request keeps the target');
  t.equal(view.version.txid, 2);
});

t.test('a time-travel view is read-only and pins its own version, even while the reader is stale', async (t) => {
  const dir = t.testdir();
  await copyFixtureReplica(dir);
  const clock = new TestClock();
  const { view, reader, client } = await openView(t, dir, { pollIntervalMs: 3_600_000, stalenessBoundMs: 1000, now: clock.now });
  t.doesNotThrow(() => view.assertWritable(), 'following the newest state: writable as far as the view goes');
  await view.setAt('3');
  t.throws(() => view.assertWritable(), {
    code: 'LTXVFS_ERR_READONLY',
    key: client.url,
    message: `${client.url}: a time-travel view is read-only (PRAGMA litestream_time = 'latest' to return)`,
  });
  // Staleness is what polls find: the replica becomes unreachable, a poll fails past the bound.
  await fs.rename(dir, `${dir}-away`);
  clock.advance(1001);
  await reader.poller.pollNow();
  t.throws(() => reader.acquire(), { code: 'LTXVFS_ERR_STALE' }, 'the reader is stale');
  const v = view.acquire();
  t.equal(v.txid, 3, 'a fixed past state is not stale: it still reads');
  t.equal(reader.stats().pinnedVersions, 1);
  view.release(v);
  t.equal(reader.stats().pinnedVersions, 0);
  await view.setAt('latest');
  t.throws(() => view.acquire(), { code: 'LTXVFS_ERR_STALE' }, 'back on the newest state: stale again');
  await fs.rename(`${dir}-away`, dir);
});

/**
 * A replica with files in every level: L0 holds every TXID 1–36; levels 1–8 hold
 * compactions; level 9 two snapshots. The plan for the newest state uses one file per
 * level (docs/formats.md §4.4): 9:1-10, 8:11-20, 7:21-24, 6:25-26, 5:27-30, 4:31-32, 3:33, 2:34, 1:35, 0:36.
 */
const LAYOUT: Array<[level: number, min: number, max: number]> = [
  [9, 1, 5], [9, 1, 10],
  [8, 1, 10], [8, 11, 20],
  [7, 1, 4], [7, 21, 24],
  [6, 5, 8], [6, 25, 26],
  [5, 11, 14], [5, 27, 30],
  [4, 15, 18], [4, 31, 32],
  [3, 19, 20], [3, 33, 33],
  [2, 21, 21], [2, 34, 34],
  [1, 22, 23], [1, 35, 35],
];

async function layeredReplica(dir: string): Promise<Uint8Array[]> {
  const states = await sqlJsHistory([
    'CREATE TABLE t (id INTEGER PRIMARY KEY, k INTEGER, v TEXT); CREATE INDEX t_k ON t(k)',
    ...Array.from({ length: 35 }, (_, i) =>
      i % 5 === 4
        ? `UPDATE t SET v = v || '+${i}' WHERE k % 3 = ${i % 3}`
        : `WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c WHERE x < 20) INSERT INTO t (k, v) SELECT x * ${i + 1}, printf('%d-%d-%s', ${i}, x, hex(zeroblob(${(i % 7) * 20}))) FROM c`),
  ]);
  const l0 = historyFromStates(states);
  const specs: LtxSpec[] = [...l0];
  for (const [level, min, max] of LAYOUT) {
    specs.push(level === 9 ? snapshotFromDatabase(states[max - 1], { level, maxTXID: max }) : compactSpecs(l0.slice(min - 1, max), level));
  }
  await writeReplica(dir, specs);
  return states;
}

const key = (level: number, min: number, max: number): string => keyOf({ level, minTXID: min, maxTXID: max });

t.test('levels 1–8 and snapshots in level 9: every state is read from the fewest files', async (t) => {
  const dir = t.testdir();
  const states = await layeredReplica(dir);
  const { view, reader, client } = await openView(t, dir);
  const newest = [key(9, 1, 10), key(8, 11, 20), key(7, 21, 24), key(6, 25, 26), key(5, 27, 30), key(4, 31, 32),
    key(3, 33, 33), key(2, 34, 34), key(1, 35, 35), key(0, 36, 36)];
  t.same(reader.current.files.map((f) => f.info.key), newest, 'newest state: 10 files of 36 + 18');
  t.same([...new Set(client.reads.map((r) => r.key))].sort(), [...newest].sort(), 'only those are read');
  t.ok(bytesEqual(await imageOf(view), states[35]), 'image after TXID 36');

  const cases: Array<[txid: number, plan: string[]]> = [
    [30, [key(9, 1, 10), key(8, 11, 20), key(7, 21, 24), key(6, 25, 26), key(5, 27, 30)]],
    [12, [key(9, 1, 10), key(0, 11, 11), key(0, 12, 12)]],
    [7, [key(9, 1, 5), key(0, 6, 6), key(0, 7, 7)]],
    [4, [key(7, 1, 4)]],
    [10, [key(9, 1, 10)]],
  ];
  for (const [txid, plan] of cases) {
    client.reset();
    await view.setTxid(txid);
    t.same(view.version.files.map((f) => f.info.key), plan, `TXID ${txid}: ${plan.length} files`);
    t.ok(client.reads.every((r) => plan.includes(r.key)), `TXID ${txid}: reads only its plan's files`);
    t.ok(bytesEqual(await imageOf(view), states[txid - 1]), `TXID ${txid}: image`);
  }
  // By time: compactions carry their newest input's timestamp.
  await view.setTime(new Date(timestampOf({ maxTXID: 30 }) + 500).toISOString());
  t.same(view.version.files.map((f) => f.info.key), cases[0][1], 'a time between TXIDs 30 and 31: the TXID 30 plan');
});

t.test('the same replica through SQL: rows at the newest state and at { at } equal sql.js on the images', async (t) => {
  const dir = t.testdir();
  const states = await layeredReplica(dir);
  const SQL = 'SELECT count(*) AS n, sum(k) AS k, max(v) AS v, litestream_txid() AS txid FROM t';
  const expected = async (txid: number): Promise<unknown[]> =>
    (await sqlJsRows(states[txid - 1], 'SELECT count(*) AS n, sum(k) AS k, max(v) AS v FROM t')).map((r) => ({ ...r, txid: txid.toString(16).padStart(16, '0') }));
  const latest = await openDatabase(dir, { pollIntervalMs: 0 });
  t.teardown(() => latest.close());
  t.same(await latest.all(SQL), await expected(36));
  t.same(await latest.all('PRAGMA integrity_check'), [{ integrity_check: 'ok' }]);
  for (const at of ['30', '000000000000000C', '7']) {
    const db = await openDatabase(dir, { at, pollIntervalMs: 0 });
    const txid = /^\d+$/.test(at) ? Number(at) : Number.parseInt(at, 16);
    t.same(await db.all(SQL), await expected(txid), `at ${at}`);
    t.equal(db.stats().timeTravel, true);
    t.equal(db.stats().txid, txid);
    await db.close();
  }
  t.equal(latest.stats().timeTravel, false);
  await rejectsLtx(t, openDatabase(dir, { at: '37', pollIntervalMs: 0 }), 'LTXVFS_ERR_EMPTY_REPLICA', 'file://', /transaction not available: TXID 0000000000000025/);
});
