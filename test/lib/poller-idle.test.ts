/**
 * Staying fresh for less (issue 15 item 6): an idle reader backs off its polling, a query
 * after the interval polls first (one listing round trip), a busy reader keeps the 1 s
 * freshness, and idleness is never reported as staleness. Counts on an injected clock and
 * an injected timer (test/helpers/clock-timers.ts), over s3rver behind the fault proxy.
 */
import t, { type Test } from 'tap';
import { ReplicaReader, type ReplicaReaderOptions } from '../../lib/read/replica-reader.js';
import { DEFAULT_IDLE_POLL_MAX_MS } from '../../lib/read/poll-backoff.js';
import { openReplicaClient } from '../../lib/storage/url.js';
import type { LtxvfsError } from '../../ltx/errors.js';
import { startFaultProxy } from '../helpers/fault-proxy.js';
import { startS3rver } from '../helpers/s3rver.js';
import { ClockTimers } from '../helpers/clock-timers.js';
import { ListFaultClient, TestClock } from '../helpers/polling.js';
import { TracingClient } from '../helpers/request-trace.js';
import {
  encodeLtx, historyFromStates, rejectsLtx, sqlJsHistory, timestampOf, writeReplica, type LtxSpec,
} from '../helpers/replica-builder.js';
import type { ReplicaClient } from '../../lib/storage/types.js';

const HOUR = 3_600_000;
const ENV = { AWS_ACCESS_KEY_ID: 'S3RVER', AWS_SECRET_ACCESS_KEY: 'S3RVER' };

async function history(): Promise<LtxSpec[]> {
  const states = await sqlJsHistory([
    'CREATE TABLE t (id INTEGER PRIMARY KEY, v TEXT)',
    "INSERT INTO t (v) VALUES ('a')",
    "INSERT INTO t (v) VALUES ('b')",
    "INSERT INTO t (v) VALUES ('c')",
    "INSERT INTO t (v) VALUES ('d')",
  ]);
  return historyFromStates(states);
}

/** Write `spec` as an LTX file of level 0 through `client`. */
async function writeLtx(client: ReplicaClient, spec: LtxSpec): Promise<void> {
  await client.write(client.ltxKey(0, spec.minTXID, spec.maxTXID), encodeLtx(spec), { timestamp: timestampOf(spec) });
}

/** A replica of `specs` in s3rver, a writer client straight to it, and a traced reader client through the fault proxy. */
async function s3Replica(t: Test, specs: LtxSpec[]) {
  const s3 = await startS3rver();
  t.teardown(() => s3.close());
  const proxy = await startFaultProxy(s3.endpoint);
  t.teardown(() => proxy.close());
  const writer = await openReplicaClient(`s3://${s3.bucket}/db?endpoint=${s3.endpoint}`, { env: ENV });
  t.teardown(() => writer.close());
  for (const spec of specs) await writeLtx(writer, spec);
  const client = new TracingClient(await openReplicaClient(`s3://${s3.bucket}/db?endpoint=${proxy.endpoint}`, { env: ENV }));
  return { proxy, writer, client };
}

async function openReader(t: Test, client: TracingClient | ListFaultClient, options: ReplicaReaderOptions) {
  const reader = await ReplicaReader.open(client, options);
  t.teardown(() => reader.close());
  const stale: LtxvfsError[] = [];
  const fresh: number[] = [];
  reader.on('stale', (e) => stale.push(e));
  reader.on('fresh', (v) => fresh.push(v.txid));
  return { reader, stale, fresh };
}

/** A read transaction as the engines start one: poll first when due, then pin and release. */
async function query(reader: ReplicaReader): Promise<number> {
  await reader.poller.beforeTransaction();
  const version = reader.acquire();
  reader.release(version);
  return (version as { txid: number }).txid;
}

t.test('idle: ≤ 60 LISTs in the first hour, 24 in the next; a query after the gap lists once and sees the new file; busy: 2 LISTs a second', async (t) => {
  const specs = await history();
  const { proxy, writer, client } = await s3Replica(t, specs.slice(0, 3));
  const clock = new TestClock();
  const timers = new ClockTimers(clock);
  const { reader, stale } = await openReader(t, client, { now: clock.now, schedule: timers.schedule });
  t.equal(reader.poller.timerDelayMs, 1000, 'a new reader polls every second');
  const start = clock.ms;
  client.restart();
  proxy.reset();

  await timers.runUntil(start + HOUR);
  const firstHour = client.listCount;
  t.ok(firstHour <= 60, `first idle hour: ${firstHour} LIST requests (≤ 60)`);
  t.equal(client.listsByLevel.get(0), client.listsByLevel.get(1), 'levels 0 and 1 are listed alike');
  t.same([...client.listsByLevel.keys()].sort(), [0, 1], 'no other level is listed');
  t.equal(proxy.stats().gets.list, firstHour, 'the proxy saw as many listings');
  t.equal(client.reads.length, 0, 'nothing else is read');
  t.equal(reader.poller.timerDelayMs, DEFAULT_IDLE_POLL_MAX_MS, 'backed off to the ceiling');
  client.restart();
  await timers.runUntil(start + 2 * HOUR);
  t.equal(client.listCount, 24, 'a later idle hour: 12 polls, 24 LISTs');
  t.comment(`idle reader: ${firstHour} LIST requests in its first idle hour, ${client.listCount} an hour after (L0 and L1 alike)`);

  // Idle is not stale: the replica was reachable at every poll.
  const idle = reader.stats();
  t.same([idle.stale, idle.pollFailures, stale.length], [false, 0, 0], 'not stale, no failure');
  t.ok(idle.pollLagMs <= DEFAULT_IDLE_POLL_MAX_MS, `pollLagMs ${idle.pollLagMs} says when the replica was last listed`);

  // A file arrives while the reader is backed off; the next query polls first.
  await writeLtx(writer, specs[3]);
  clock.advance(1000);
  client.restart();
  t.equal(await query(reader), 4, 'the query sees the file that was in the replica when it started');
  t.same(client.requests.filter((r) => r.what.startsWith('LIST')).map((r) => [r.what, r.depth]), [['LIST 0', 1], ['LIST 1', 1]],
    'one listing round trip (levels 0 and 1 in parallel)');
  t.equal(reader.poller.timerDelayMs, 1000, 'the query brought the timer back to the interval');

  // Busy: a query every 250 ms for 10 minutes of the clock.
  const busyStart = clock.ms;
  client.restart();
  let seen = 4;
  for (let at = busyStart + 250; at <= busyStart + 600_000; at += 250) {
    await timers.runUntil(at);
    if (at === busyStart + 300_000) await writeLtx(writer, specs[4]);
    if (at === busyStart + 301_000) seen = await query(reader);
    else await query(reader);
  }
  t.equal(seen, 5, 'a file written during busy time is seen by a query one interval later');
  const perHour = client.listCount * 6;
  t.ok(perHour >= 7150 && perHour <= 7210, `busy reader: ${perHour} LIST requests an hour (one poll a second)`);
  t.equal(reader.poller.timerDelayMs, 1000, 'busy: still every second');
  t.comment(`busy reader (a query every 250 ms): ${perHour} LIST requests an hour`);
});

t.test('idle is not stale: a failure after an idle gap counts from one interval before it, retried every interval, stale past the bound', async (t) => {
  const dir = t.testdir();
  const specs = await history();
  await writeReplica(dir, specs.slice(0, 2));
  const client = await ListFaultClient.open(dir);
  const clock = new TestClock();
  const timers = new ClockTimers(clock);
  const { reader, stale, fresh } = await openReader(t, client, { now: clock.now, schedule: timers.schedule, stalenessBoundMs: 60_000 });
  await timers.runUntil(clock.ms + 20 * 60_000);
  t.equal(reader.poller.timerDelayMs, DEFAULT_IDLE_POLL_MAX_MS, 'backed off');
  client.listFault = () => new Error('replica unreachable');
  const failAt = (await timers.runNext())!;
  const first = reader.stats();
  t.equal(first.pollFailures, 1, 'the backed-off poll failed');
  t.ok(first.pollLagMs >= DEFAULT_IDLE_POLL_MAX_MS, `last listed ${first.pollLagMs} ms ago`);
  t.same([first.stale, stale.length], [false, 0], 'not stale: the idle time is not counted');
  t.equal(reader.poller.timerDelayMs, 1000, 'a failed poll is retried after one interval');
  t.equal(await query(reader), 2, 'queries still run');

  await timers.runUntil(failAt + 58_000);
  t.equal(reader.stats().stale, false, 'failing for 59 s (from one interval before the first failure): within the bound');
  await timers.runUntil(failAt + 60_000);
  t.equal(reader.stats().stale, true, 'failing for 61 s: stale');
  t.equal(stale.length, 1, "'stale' once");
  await rejectsLtx(t, query(reader), 'LTXVFS_ERR_STALE', client.url, /replica not polled successfully for \d+ ms \(bound 60000 ms\)/);

  client.listFault = undefined;
  await timers.runUntil(clock.ms + 1000);
  t.same([reader.stats().stale, fresh], [false, [2]], "a poll that succeeds: 'fresh', not stale");
});

t.test('idlePollMaxMs: at or below the interval the reader never backs off; a bad value is a usage error naming it', async (t) => {
  const dir = t.testdir();
  await writeReplica(dir, (await history()).slice(0, 2));
  const client = await ListFaultClient.open(dir);
  const clock = new TestClock();
  const timers = new ClockTimers(clock);
  const { reader } = await openReader(t, client, { now: clock.now, schedule: timers.schedule, pollIntervalMs: 60_000, idlePollMaxMs: 0 });
  client.reset();
  await timers.runUntil(clock.ms + HOUR);
  t.equal(client.lists, 120, 'every minute for an hour: 60 polls of two levels');
  t.equal(reader.poller.timerDelayMs, 60_000);
  for (const bad of [-1, Number.NaN, Number.POSITIVE_INFINITY]) {
    await rejectsLtx(t, ReplicaReader.open(client, { idlePollMaxMs: bad }), 'LTXVFS_ERR_USAGE', 'idlePollMaxMs',
      new RegExp(`option idlePollMaxMs ${String(bad)} is not a non-negative number of ms`));
  }
});
