/**
 * `Poller.beforeTransaction` (lib/read/poller.ts), the check engines make when a read
 * transaction starts, over real replicas in t.testdir() and the real directory client.
 * The poller's clock is a {@link TestClock}, which moves only when a test moves it: the
 * timer polls only when a poll is due by that clock, so it cannot race the tests. A listing can be held (a slow poll) by
 * {@link HeldListings}.
 */
import t, { type Test } from 'tap';
import { LtxvfsError } from '../../ltx/errors.js';
import { MAX_POLL_WAIT_MS } from '../../lib/read/poller.js';
import { ReplicaReader, type ReplicaReaderOptions } from '../../lib/read/replica-reader.js';
import { ConnectionView } from '../../lib/connection/connection-view.js';
import type { LtxFileInfo } from '../../lib/storage/types.js';
import { openFileReplica } from '../../lib/storage/file/client.js';
import { historyFromStates, sqlJsHistory, writeLtx, writeReplica, type LtxSpec } from '../helpers/replica-builder.js';
import { ListFaultClient, TestClock, waitFor } from '../helpers/polling.js';

const HOUR = 3_600_000;

/** A ListFaultClient whose listings can be held until released. */
class HeldListings extends ListFaultClient {
  #gate: Promise<void> | undefined;

  static override async open(dir: string): Promise<HeldListings> {
    return new HeldListings(await openFileReplica(dir));
  }

  /** Hold every listing from now until the returned function is called. */
  holdListings(): () => void {
    let release!: () => void;
    this.#gate = new Promise((resolve) => (release = resolve));
    return () => {
      this.#gate = undefined;
      release();
    };
  }

  override async listLtxFiles(level: number, options?: { seekTXID?: number }): Promise<LtxFileInfo[]> {
    await this.#gate;
    return super.listLtxFiles(level, options);
  }
}

async function specs(): Promise<LtxSpec[]> {
  return historyFromStates(await sqlJsHistory([
    'CREATE TABLE t (id INTEGER PRIMARY KEY, v TEXT NOT NULL)',
    "INSERT INTO t (v) VALUES ('a')",
    "INSERT INTO t (v) VALUES ('b')",
    "INSERT INTO t (v) VALUES ('c')",
  ]));
}

async function open(t: Test, dir: string, options: ReplicaReaderOptions): Promise<{ reader: ReplicaReader; client: HeldListings; clock: TestClock }> {
  const clock = new TestClock();
  const client = await HeldListings.open(dir);
  const reader = await ReplicaReader.open(client, { pollIntervalMs: HOUR, now: clock.now, ...options });
  t.teardown(() => reader.close());
  return { reader, client, clock };
}

t.test('a transaction starting once the last poll is an interval old polls first and sees the new file', async (t) => {
  const dir = t.testdir();
  const s = await specs();
  await writeReplica(dir, s.slice(0, 1));
  const { reader, client, clock } = await open(t, dir, { pollIntervalMs: 100 });
  await writeLtx(dir, s[1]);

  const lists = client.lists;
  clock.advance(99);
  t.equal(reader.poller.beforeTransaction(), undefined, 'within the interval: go ahead, no poll');
  t.equal(client.lists, lists);
  clock.advance(1);
  const wait = reader.poller.beforeTransaction();
  t.ok(wait instanceof Promise, 'an interval after the open: wait');
  t.equal(reader.stats().polls, 1, 'the poll started at once');
  t.equal(reader.poller.beforeTransaction(), undefined, 'a transaction starting meanwhile: the last poll is fresh, go ahead');
  await wait;
  t.equal(reader.current.txid, 2, 'the file written before the transaction started is applied');
  t.equal(reader.poller.beforeTransaction(), undefined, 'just polled: go ahead');
  t.equal(reader.stats().polls, 1);

  // The view a connection reads through: the same check, none for a fixed past state.
  const view = new ConnectionView(reader);
  await writeLtx(dir, s[2]);
  clock.advance(100);
  await view.beforeTransaction();
  t.equal(view.reader.current.txid, 3);
  await view.setTxid(1);
  clock.advance(100);
  t.equal(view.beforeTransaction(), undefined, 'a time-travel view never waits');
  t.equal(reader.stats().polls, 2);
  await reader.poller.pollNow();

  // acquire(), for engines that cannot wait: starts a due poll, serves what it has.
  await writeLtx(dir, s[3]);
  clock.advance(100);
  const version = reader.acquire();
  t.equal(version.txid, 3, 'served at once');
  reader.release(version);
  t.equal(reader.stats().polls, 4, 'and a poll started');
  await reader.poller.pollNow();
  t.equal(reader.current.txid, 4);
});

t.test('polling off, or stopped: transactions never wait', async (t) => {
  const dir = t.testdir();
  await writeReplica(dir, (await specs()).slice(0, 1));
  const off = await open(t, dir, { pollIntervalMs: 0 });
  off.clock.advance(HOUR);
  t.equal(off.reader.poller.beforeTransaction(), undefined, 'pollIntervalMs 0');
  const stopped = await open(t, dir, { pollIntervalMs: 100 });
  stopped.reader.poller.stop();
  stopped.clock.advance(HOUR);
  t.equal(stopped.reader.poller.beforeTransaction(), undefined, 'stopped (closed reader)');
  t.same([off.reader.stats().polls, stopped.reader.stats().polls], [0, 0]);
});

t.test('a failing poll: the wait ends without an error; the failure is counted', async (t) => {
  const dir = t.testdir();
  await writeReplica(dir, (await specs()).slice(0, 1));
  const { reader, client, clock } = await open(t, dir, { pollIntervalMs: 100 });
  client.listFault = () => new LtxvfsError('LTXVFS_ERR_STORAGE', 'connection refused');
  clock.advance(100);
  await reader.poller.beforeTransaction();
  t.same([reader.stats().pollFailures, reader.stats().lastPollError, reader.current.txid], [1, 'connection refused', 1]);
});

t.test('a slow poll holds transactions for at most the interval on the poller\'s clock, then they only yield a turn', async (t) => {
  const dir = t.testdir();
  const s = await specs();
  await writeReplica(dir, s.slice(0, 1));
  const { reader, client, clock } = await open(t, dir, { pollIntervalMs: 100 });
  await writeLtx(dir, s[1]);
  const release = client.holdListings();
  clock.advance(100);
  let waited = false;
  const wait = reader.poller.beforeTransaction()!.then(() => (waited = true));
  await new Promise((resolve) => setTimeout(resolve, 250));
  t.equal(waited, false, 'the clock stands still: the transaction waits for the poll (the real timer only rechecks)');
  clock.advance(100);
  await wait;
  t.equal(reader.current.txid, 1, 'the budget ran out on the poller\'s clock: the transaction goes ahead on what it has');
  const turn = reader.poller.beforeTransaction();
  t.ok(turn instanceof Promise, 'while the slow poll runs, a due transaction gives the event loop a turn');
  await turn;
  t.equal(reader.stats().polls, 1, 'no second poll meanwhile');
  release();
  await reader.poller.pollNow();
  t.equal(reader.current.txid, 2, 'the slow poll applied the file');
  const next = reader.poller.beforeTransaction();
  t.ok(next instanceof Promise, 'it started an interval ago: the next transaction polls again');
  await next;
  t.same([reader.stats().polls, reader.poller.beforeTransaction()], [2, undefined], 'then goes ahead');
});

t.test('staleness: a poll that hangs past the bound makes the reader stale; a busy reader whose polls succeed never is', async (t) => {
  const dir = t.testdir();
  await writeReplica(dir, (await specs()).slice(0, 1));
  const { reader, client, clock } = await open(t, dir, { pollIntervalMs: 100, stalenessBoundMs: 1000 });
  for (let i = 0; i < 5; i++) {
    clock.advance(60_000);
    t.equal(reader.stats().stale, false, 'a minute without a poll is not stale');
    await reader.poller.beforeTransaction();
    reader.release(reader.acquire());
  }
  t.equal(reader.stats().polls, 5, 'each transaction after a minute polled first');

  const release = client.holdListings();
  clock.advance(100);
  const hung = reader.poller.beforeTransaction()!;
  clock.advance(1000);
  t.equal(reader.stats().stale, false, 'in flight for the bound: not yet');
  clock.advance(1);
  await hung;
  t.throws(() => reader.acquire(), { code: 'LTXVFS_ERR_STALE', message: /replica not polled successfully for 1101 ms \(bound 1000 ms\)/ },
    'in flight for longer than the bound, no poll succeeded for longer: stale');
  release();
  await waitFor('the hung poll to finish', () => !reader.stats().stale);
  reader.release(reader.acquire());
});

t.test('MAX_POLL_WAIT_MS bounds the wait of a long interval', async (t) => {
  const dir = t.testdir();
  await writeReplica(dir, (await specs()).slice(0, 1));
  const { reader, client, clock } = await open(t, dir, { pollIntervalMs: 60_000 });
  const release = client.holdListings();
  clock.advance(60_000);
  const wait = reader.poller.beforeTransaction()!;
  clock.advance(MAX_POLL_WAIT_MS);
  await wait;
  t.pass(`the wait ended ${MAX_POLL_WAIT_MS} ms into a poll of a 60 s interval`);
  release();
  await reader.poller.pollNow();
});
