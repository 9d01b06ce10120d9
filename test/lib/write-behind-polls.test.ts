/**
 * A write-behind writer's reader polls while its commits are staged (lib/write/write-behind.ts,
 * lib/storage/staging.ts), beside another reader sharing its `cacheDir` listings
 * (lib/read/shared-listing.ts): the writer's polls count its staged files as listed, so they
 * never list every level to look for a vanished file; the listing they share holds only
 * what the store holds, so another process never meets a staged file. The uploads are held by the counting client (no timer); the readers run on
 * one injected clock and timer.
 */
import t from 'tap';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { sharedListingPath } from '../../lib/read/shared-listing.js';
import { ReplicaReader } from '../../lib/read/replica-reader.js';
import type { PageIndex } from '../../lib/replica/page-index.js';
import { ReplicaWriter, type Transaction } from '../../lib/write/writer.js';
import { ClockTimers } from '../helpers/clock-timers.js';
import { TestClock } from '../helpers/polling.js';
import { copyFixtureReplica, CountingClient, diffDatabases, FIXTURE_EXPECTED_DB, loadSqlJs, readBytes } from '../helpers/replica-builder.js';

const INTERVAL = 1000;
const STATE5 = readBytes(FIXTURE_EXPECTED_DB);

/** The transaction taking `base` (whose bytes are `before`) to `before` with `sql` run. */
async function txRunning(base: PageIndex, before: Uint8Array, sql: string): Promise<Transaction> {
  const SQL = await loadSqlJs();
  const db = new SQL.Database(before);
  db.exec(sql);
  const after = db.export();
  db.close();
  const spec = diffDatabases(before, after, { minTXID: base.txid + 1 });
  return { base, pages: new Map(spec.pages.map((p) => [p.pgno, p.data])), commit: spec.commit, pageSize: 4096 };
}

t.test('staged commits and polls with a cacheDir: the writer lists two levels a poll, the listing it shares holds only the store\'s files, the other reader never sees a staged one', async (t) => {
  const root = t.testdir();
  const dir = join(root, 'replica');
  await copyFixtureReplica(dir);
  const clock = new TestClock();
  const timers = new ClockTimers(clock);
  const open = async () => {
    const client = await CountingClient.open(dir);
    const reader = await ReplicaReader.open(client, { now: clock.now, schedule: timers.schedule, pollIntervalMs: INTERVAL, idlePollMaxMs: INTERVAL, cacheDir: join(root, 'cache') });
    t.teardown(() => reader.close());
    return { client, reader };
  };
  const a = await open();
  const b = await open();
  const writer = new ReplicaWriter(a.reader, { leaseOwner: 'write-behind-polls:1', writeBehind: true });
  await writer.acquireLease();

  // Hold the LTX uploads: the commit is staged and stays staged.
  let release!: () => void;
  const held = new Promise<void>((resolve) => { release = resolve; });
  let uploads = 0;
  a.client.beforeWrite = async (key) => {
    if (!key.endsWith('.ltx')) return;
    uploads++;
    await held;
  };
  await writer.commit(await txRunning(a.reader.current, STATE5, "INSERT INTO t (name) VALUES ('staged')"));
  a.client.lists = 0;
  t.equal(a.reader.current.txid, 6, 'the writer\'s reader is at the staged TXID');
  t.equal(a.reader.client.stagedCount, 1);

  const start = clock.ms;
  for (let s = 1; s <= 10; s++) await timers.runUntil(start + s * INTERVAL);
  t.equal(uploads, 1, 'the upload is under way (held)');
  t.equal(a.reader.current.txid, 6, 'ten polls later the writer still serves TXID 6');
  t.equal(a.reader.stats().lastPollError, undefined);
  t.equal(b.reader.current.txid, 5, 'the other reader is at the replica\'s TXID');
  t.equal(b.reader.stats().lastPollError, undefined, 'and none of its polls met the staged file');
  t.equal(a.client.lists, 2 * 10, 'each of the writer\'s polls listed levels 0 and 1 only: its staged file counts as listed, so no listing of every level looked for it');
  // One more poll of the writer, now: the shared listing on disk is its own.
  await a.reader.poller.pollNow();
  const shared = JSON.parse(await readFile(sharedListingPath(join(root, 'cache'), a.client.url), 'utf8')) as { seekTXID: number; files: { key: string }[] };
  t.equal(shared.seekTXID, 6, 'the shared listing is the writer\'s (from its TXID)');
  t.notOk(shared.files.some((f) => f.key.endsWith('0000000000000006-0000000000000006.ltx')), 'and does not hold the staged file: the listing is the store\'s');

  release();
  t.equal(await writer.flush(), 6);
  t.equal(a.reader.client.stagedCount, 0, 'unstaged once uploaded');
  await timers.runUntil(start + 12 * INTERVAL);
  t.equal(b.reader.current.txid, 6, 'the other reader sees the commit once it is in the replica');
});
