/**
 * Freshness a user can see and wait for (lib/api/freshness.ts, lib/read/poller.ts), on the
 * in-process and the worker engine: `sync()`, `waitForTxid()`, the `version`, `stale`,
 * `fresh` and `corrupt` events, `stats().replicaLagMs` / `pollLagMs`. A writer
 * (`openDatabase` with `autoLease`, its own reader: `shared: false`) commits to a real
 * directory replica as another process would; the reader under test polls once an hour,
 * so only `sync`/`waitForTxid` move it. Staleness runs on an injected clock.
 */
import t, { type Test } from 'tap';
import { promises as fs } from 'node:fs';
import { join } from 'node:path';
import { openDatabase } from '../../lib/api/open.js';
import { acquireReader } from '../../lib/read/registry.js';
import { isLtxvfsError, LtxvfsError } from '../../ltx/errors.js';
import { formatTXID } from '../../ltx/filename.js';
import type { ReplicaPosition } from '../../lib/api/freshness.js';
import { TestClock } from '../helpers/polling.js';

const HOUR = 3_600_000;
const ENGINES = ['asyncify', 'worker'] as const;

/** A new replica in `dir` with table t, and its writer (kept open: it holds the lease). */
async function newReplica(t: Test, dir: string) {
  const writer = await openDatabase(dir, { create: true, autoLease: true, shared: false, pollIntervalMs: 0 });
  t.teardown(() => writer.close());
  await writer.exec('CREATE TABLE t (x INTEGER)');
  return writer;
}

for (const engine of ENGINES) {
  t.test(`${engine}: sync() polls now and resolves with the TXID; waitForTxid waits for another writer's commit`, async (t) => {
    const dir = join(t.testdir(), 'replica');
    const writer = await newReplica(t, dir);
    const reader = await openDatabase(dir, { engine, readOnly: true, shared: false, pollIntervalMs: HOUR });
    t.teardown(() => reader.close());
    const versions: ReplicaPosition[] = [];
    reader.on('version', (p) => versions.push(p));
    const first = writer.stats().txid;
    t.equal(reader.stats().txid, first);

    await writer.run('INSERT INTO t VALUES (1)');
    const second = writer.stats().txid;
    t.ok(second > first, 'the writer committed a TXID');
    t.equal(reader.stats().txid, first, 'not polled yet (hourly)');
    t.equal(await reader.sync(), second, 'sync() answers the new TXID');
    t.same(versions.map((v) => v.txid), [second], "one 'version' event");
    t.ok(versions[0].timestamp > 0, 'with the newest file\'s time');
    t.same(await reader.all('SELECT x FROM t'), [{ x: 1 }], 'and new transactions see it');
    t.equal(await reader.sync(), second, 'nothing new: the same TXID');

    await writer.run('INSERT INTO t VALUES (2)');
    const third = writer.stats().txid;
    t.equal(await reader.waitForTxid(third, { timeoutMs: 60_000 }), third, 'waitForTxid: the TXID once applied');
    t.equal(await reader.waitForTxid(first), third, 'an older TXID: at once');

    const e = await reader.waitForTxid(third + 5, { timeoutMs: 0 }).catch((err: unknown) => err);
    t.ok(isLtxvfsError(e, 'LTXVFS_ERR_TIMEOUT'), `LTXVFS_ERR_TIMEOUT, got ${String(e)}`);
    t.match((e as Error).message, `TXID ${formatTXID(third + 5)} not applied within 0 ms: this reader is at TXID ${formatTXID(third)}`);

    for (const bad of [-1, 1.5, Number.NaN]) {
      await t.rejects(reader.waitForTxid(bad), { code: 'LTXVFS_ERR_USAGE', message: /waitForTxid: TXID .* is not a non-negative safe integer/ });
    }
    await t.rejects(reader.waitForTxid(1, { timeoutMs: -1 }), { code: 'LTXVFS_ERR_USAGE', message: /timeoutMs -1 is not/ });

    // A wait that starts before the commit resolves when a later poll applies it.
    const waiting = reader.waitForTxid(third + 1, { timeoutMs: 60_000 });
    await writer.run('INSERT INTO t VALUES (3)');
    await reader.sync();
    t.equal(await waiting, third + 1, 'a pending wait resolves on the version that reaches it');

    await reader.close();
    await t.rejects(reader.sync(), { code: 'LTXVFS_ERR_CLOSED' });
    await t.rejects(reader.waitForTxid(1), { code: 'LTXVFS_ERR_CLOSED' });
  });

  t.test(`${engine}: stale and fresh events, the stale error on a query, replicaLagMs and pollLagMs on the clock`, async (t) => {
    const root = t.testdir();
    const dir = join(root, 'replica');
    await (await newReplica(t, dir)).close();
    const clock = new TestClock(Date.now()); // after the writer's files: their age is not negative
    const db = await openDatabase(dir, { engine, readOnly: true, pollIntervalMs: HOUR, stalenessBoundMs: 1000, now: clock.now });
    t.teardown(() => db.close());
    const events: string[] = [];
    db.on('stale', (err) => events.push(`stale ${err.code}`));
    db.on('fresh', (p) => events.push(`fresh ${p.txid}`));

    const opened = db.stats();
    t.equal(opened.pollLagMs, 0, 'pollLagMs counts from the open\'s listing');
    t.equal(opened.replicaLagMs, clock.ms - opened.timestamp, 'replicaLagMs: the age of the newest file');
    t.equal(opened.lagMs, opened.replicaLagMs, 'lagMs: the deprecated alias');
    clock.advance(700);
    t.same([db.stats().pollLagMs, db.stats().replicaLagMs], [700, opened.replicaLagMs + 700]);

    await fs.rename(dir, join(root, 'away'));
    clock.advance(400);
    const failed = await db.sync().catch((err: unknown) => err);
    t.ok(isLtxvfsError(failed), `sync() rejects with the poll's error: ${String(failed)}`);
    t.same(events, ['stale LTXVFS_ERR_STALE'], "past the bound: 'stale'");
    if (engine === 'asyncify') {
      // (The worker engine's fast acquire trusts a freshness deadline on the wall clock, which this test's clock does not move.)
      const q = await db.all('SELECT count(*) FROM t').catch((err: unknown) => err) as LtxvfsError;
      t.match(q.code, /^SQLITE_IOERR/, "SQLite's name in code");
      t.same([q.ltxvfsCode, q.key], ['LTXVFS_ERR_STALE', (q.cause as LtxvfsError).key], 'the reason in ltxvfsCode, its key in key');
      t.ok(isLtxvfsError(q, 'LTXVFS_ERR_STALE'), 'isLtxvfsError matches the reason');
      t.match(q.message, new RegExp(`stale since ${new Date(clock.ms - 1100).toISOString()}: replica not polled successfully for 1100 ms`),
        'the message says since when and why');
    }

    await fs.rename(join(root, 'away'), dir);
    t.equal(await db.sync(), opened.txid, 'sync() works again');
    t.same(events, ['stale LTXVFS_ERR_STALE', `fresh ${opened.txid}`], "'fresh' once back within the bound");
    t.same(await db.all('SELECT count(*) AS n FROM t'), [{ n: 0 }]);
  });
}

t.test("corrupt is forwarded; a database's listeners leave the shared reader when it closes", async (t) => {
  const dir = join(t.testdir(), 'replica');
  await (await newReplica(t, dir)).close();
  const lease = await acquireReader(dir);
  t.teardown(() => lease.release());
  const before = lease.reader.listenerCount('version');
  const db = await openDatabase(dir, { readOnly: true, pollIntervalMs: HOUR });
  t.equal(lease.reader.listenerCount('version'), before + 1, 'the same reader, one forwarder');
  const seen: LtxvfsError[] = [];
  db.once('corrupt', (err) => seen.push(err));
  const poisoned = new LtxvfsError('LTXVFS_ERR_NOT_FOUND', 'ltx/0/x.ltx: gone', { key: 'ltx/0/x.ltx' });
  lease.reader.poison(poisoned);
  t.same(seen, [poisoned], "'corrupt' with the reader's error");
  await t.rejects(db.waitForTxid(lease.reader.current.txid + 1), poisoned, 'a wait on a failed reader fails with its error');
  await t.rejects(db.sync(), poisoned);
  await db.close();
  t.equal(lease.reader.listenerCount('version'), before, 'removed at close');
});

t.test('a TXID that is not available says which exist', async (t) => {
  const dir = join(t.testdir(), 'replica');
  const writer = await newReplica(t, dir);
  await writer.run('INSERT INTO t VALUES (1)');
  const newest = writer.stats().txid;
  await t.rejects(openDatabase(dir, { at: String(newest + 10) }), {
    code: 'LTXVFS_ERR_EMPTY_REPLICA',
    message: new RegExp(`^transaction not available: TXID ${formatTXID(newest + 10)} .*; the replica's LTX files cover TXIDs ${formatTXID(1)}–${formatTXID(newest)}$`),
  });
});
