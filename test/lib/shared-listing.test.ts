/**
 * Shared listings (issue 15 item 6, lib/read/shared-listing.ts): readers polling one replica
 * with the same `cacheDir` list it about once per interval between them, see new files as
 * soon as one of them lists, and fall back to listing storage — counted by reason, never
 * serving an older view — when the shared file is corrupt, another version's, another
 * replica's, from the future, older than the reader's view, or locked. Readers in one
 * process on one injected clock and timer (test/helpers/clock-timers.ts), each through its
 * own counting client over a real directory replica; the processes test is
 * shared-listing-processes.test.ts.
 */
import { mkdir, readdir, readFile, stat, utimes, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import t, { type Test } from 'tap';
import { ReplicaReader, type ReplicaReaderOptions } from '../../lib/read/replica-reader.js';
import { LISTINGS_DIR, sharedListingPath, STALE_LOCK_INTERVALS, STALE_TMP_MS, type SharedListingRefusal } from '../../lib/read/shared-listing.js';
import { ClockTimers } from '../helpers/clock-timers.js';
import { TestClock } from '../helpers/polling.js';
import { CountingClient, historyFromStates, sqlJsHistory, writeLtx, writeReplica, type LtxSpec } from '../helpers/replica-builder.js';

const INTERVAL = 1000;

/** A table, then four inserts: TXIDs 1–5. */
async function history(): Promise<LtxSpec[]> {
  const inserts = ['a', 'b', 'c', 'd'].map((v) => `INSERT INTO t (v) VALUES ('${v}')`);
  return historyFromStates(await sqlJsHistory(['CREATE TABLE t (id INTEGER PRIMARY KEY, v TEXT)', ...inserts]));
}

/** A replica of the first `n` specs, a cache directory, a clock and a timer. */
async function setup(t: Test, n = 2) {
  const root = t.testdir();
  const dir = join(root, 'replica');
  const cacheDir = join(root, 'cache');
  const specs = await history();
  await writeReplica(dir, specs.slice(0, n));
  const clock = new TestClock();
  const timers = new ClockTimers(clock);
  const open = async (options: ReplicaReaderOptions = {}, on = dir) => {
    const client = await CountingClient.open(on);
    const reader = await ReplicaReader.open(client, { now: clock.now, schedule: timers.schedule, pollIntervalMs: INTERVAL, idlePollMaxMs: INTERVAL, cacheDir, ...options });
    t.teardown(() => reader.close());
    client.lists = 0;
    return { client, reader };
  };
  return { root, dir, cacheDir, specs, clock, timers, open };
}

/** The refusal counters of `reader` that are not 0. */
function refusals(reader: ReplicaReader): Partial<Record<SharedListingRefusal, number>> {
  return Object.fromEntries(Object.entries(reader.stats().sharedListingRefusals).filter(([, n]) => n > 0));
}

t.test('three readers sharing a cacheDir list once per interval between them, and all see a new file at the next poll', async (t) => {
  const { dir, specs, clock, timers, open } = await setup(t);
  const readers = [await open(), await open(), await open()];
  const start = clock.ms;
  for (let s = 1; s <= 60; s++) {
    await timers.runUntil(start + s * INTERVAL);
    if (s === 30) await writeLtx(dir, specs[2]);
    if (s === 31) t.same(readers.map((r) => r.reader.current.txid), [3, 3, 3], 'the file written during second 30 is seen by every reader at the next poll');
  }
  const lists = readers.reduce((n, r) => n + r.client.lists, 0);
  t.equal(lists, 120, '60 polls of two levels in 60 s between the three (unshared: 360)');
  const stats = readers.map((r) => r.reader.stats());
  t.same(stats.map((s) => s.polls), [60, 60, 60], 'each reader polled every interval');
  t.equal(stats.reduce((n, s) => n + s.listingsTaken, 0), 60, 'listingsTaken: 60 in all');
  t.equal(stats.reduce((n, s) => n + s.sharedListings, 0), 120, 'sharedListings: the other 120 polls');
  t.same(readers.map((r) => refusals(r.reader)), [{}, {}, {}], 'nothing refused');
  t.same(stats.map((s) => s.pollLagMs), [0, 0, 0], 'each view is as old as the listing it came from');
});

t.test('readers polling at the same instant list once: the others wait for the lock holder\'s listing', async (t) => {
  const { clock, open } = await setup(t);
  const readers = [await open(), await open(), await open()];
  clock.advance(INTERVAL);
  // Transactions starting together, each polling first (due: the last poll is an interval old).
  await Promise.all(readers.map((r) => r.reader.poller.beforeTransaction()));
  t.equal(readers.reduce((n, r) => n + r.client.lists, 0), 2, 'one listing of two levels between the three');
  t.same(readers.map((r) => r.reader.stats().sharedListings).sort(), [0, 1, 1], 'two polls used it');
  t.same(readers.map((r) => refusals(r.reader)), [{}, {}, {}], 'nothing refused');
});

t.test('a shared listing moves the reader\'s timer: the next poll comes when that listing is an interval old', async (t) => {
  const { clock, timers, open } = await setup(t);
  const a = await open({ schedule: new ClockTimers(clock).schedule });
  const b = await open();
  const opened = clock.ms;
  clock.advance(600);
  await a.reader.poller.pollNow();
  t.equal(a.client.lists, 2, 'reader A listed');
  t.equal(await timers.runNext(), opened + INTERVAL, "B's timer poll");
  t.equal(b.client.lists, 0, 'B used the listing A took 400 ms before');
  t.equal(b.reader.stats().pollLagMs, 400, 'pollLagMs is the age of that listing');
  t.equal(await timers.runNext(), opened + 600 + INTERVAL, "B's next poll: when A's listing is an interval old, not an interval after B's poll");
  t.equal(b.client.lists, 2, 'then B lists (the listing expired)');
  t.same(refusals(b.reader), {}, 'an expired listing is not a refusal');
});

t.test('explicit polls (sync, pollNow) list storage; two replicas never share a listing', async (t) => {
  const { root, specs, clock, timers, open } = await setup(t);
  const a = await open();
  const b = await open();
  const otherDir = join(root, 'other');
  await writeReplica(otherDir, specs.slice(0, 3));
  const other = await open({}, otherDir);
  await timers.runUntil(clock.ms + INTERVAL);
  t.same([a.client.lists, b.client.lists, other.client.lists], [2, 0, 2], 'A listed for B; the other replica listed its own');
  t.equal(other.reader.current.txid, 3, 'the other replica is at its own TXID');
  t.equal(await b.reader.poller.sync(), 2, 'sync');
  t.equal(b.client.lists, 2, 'sync listed storage although a listing of this instant was shared');
});

t.test('a shared listing that cannot be used is refused by reason, the reader lists storage, and its view never goes back', async (t) => {
  const { dir, cacheDir, specs, clock, timers, open } = await setup(t);
  const a = await open({ schedule: new ClockTimers(clock).schedule });
  const b = await open();
  const path = sharedListingPath(cacheDir, b.client.url);
  await a.reader.poller.pollNow();
  const good = JSON.parse(await readFile(path, 'utf8')) as Record<string, unknown> & { files: Record<string, unknown>[] };
  // B polls every interval (idlePollMaxMs is the interval): its next timer poll is at `next`.
  let next = clock.ms + INTERVAL;

  /** Write `body` as the shared listing, taken at B's next poll unless it says otherwise; run that poll; return B's LISTs and refusals. */
  const pollWith = async (body: string | Record<string, unknown>) => {
    const text = typeof body === 'string' ? body : JSON.stringify({ ...good, takenAt: next, ...body });
    await writeFile(path, text);
    b.client.lists = 0;
    const before = b.reader.stats().sharedListingRefusals;
    t.equal(await timers.runNext(), next, 'B polls on its timer');
    next += INTERVAL;
    const after = b.reader.stats().sharedListingRefusals;
    const changed = Object.fromEntries(Object.entries(after).filter(([k, n]) => n !== before[k as SharedListingRefusal]).map(([k, n]) => [k, n - before[k as SharedListingRefusal]]));
    return { lists: b.client.lists, refused: changed, txid: b.reader.current.txid };
  };
  const cases: [string, string | Record<string, unknown>, SharedListingRefusal][] = [
    ['not JSON', '{"format": "ltxvfs-listing", "vers', 'corrupt'],
    ['not a listing', JSON.stringify({ hello: 1 }), 'corrupt'],
    ['a file info with a key that is not its level and TXIDs', { files: [{ ...good.files[0], key: 'ltx/0/elsewhere.ltx' }] }, 'corrupt'],
    ['a TXID out of shape', { files: [{ ...good.files[0], maxTXID: -1 }] }, 'corrupt'],
    ['another format version', { version: 2 }, 'version'],
    ['another replica URL', { url: 'file:///elsewhere' }, 'replica'],
    ['taken in the future (clock)', { takenAt: next + 3_600_000 }, 'clock'],
    ['no file holding the TXID the reader applied (older than its view)', { files: [] }, 'older'],
    ['level 0 listed from a later TXID than the reader needs', { seekTXID: 3 }, 'position'],
  ];
  for (const [what, body, reason] of cases) {
    const r = await pollWith(body);
    t.same(r, { lists: 2, refused: { [reason]: 1 }, txid: 2 }, `${what}: refused as '${reason}', listed storage, still at TXID 2`);
  }
  t.equal(b.reader.integrityFailure, undefined, 'the reader was never poisoned');
  const fine = await pollWith({});
  t.same([fine.lists, fine.refused], [0, {}], 'a good listing of this instant is used');

  // A listing from before the newest file (it holds the reader's TXID, so it is no older view: nothing new in it).
  await writeLtx(dir, specs[2]);
  const stale = await pollWith({});
  t.same([stale.lists, stale.txid], [0, 2], 'a listing taken before the new file shows nothing new (within one interval)');
  const later = await pollWith({ takenAt: next - INTERVAL });
  t.same([later.lists, later.txid, later.refused], [2, 3, {}], 'a listing an interval old has expired: the reader lists and sees the file');
});

t.test('the lock: held by a live process, the reader waits for its listing and then lists; left by a crashed one, it is broken', async (t) => {
  const { cacheDir, clock, timers, open } = await setup(t);
  const b = await open();
  const path = sharedListingPath(cacheDir, b.client.url);
  const lock = path.replace(/\.json$/, '.lock');
  await mkdir(dirname(path), { recursive: true });

  await writeFile(lock, JSON.stringify({ token: 'other', at: clock.ms + INTERVAL }));
  await timers.runNext();
  t.same([b.client.lists, refusals(b.reader)], [2, { lock: 1 }], 'held (its holder never wrote): the reader waited, then listed');
  t.equal(JSON.parse(await readFile(lock, 'utf8')).token, 'other', "another process's lock is left alone");

  for (const [what, body] of [
    ['older than the bound', JSON.stringify({ token: 'crashed', at: clock.ms + INTERVAL - STALE_LOCK_INTERVALS * INTERVAL - 1 })],
    ['unreadable', '{"tok'],
  ] as const) {
    await writeFile(lock, body);
    b.client.lists = 0;
    await timers.runNext();
    t.same([b.client.lists, refusals(b.reader)], [2, { lock: 1 }], `a lock ${what} is broken: the reader listed at once`);
    await t.rejects(stat(lock), { code: 'ENOENT' }, 'and removed its own lock after writing the listing');
    t.equal((JSON.parse(await readFile(path, 'utf8')) as { takenAt: number }).takenAt, clock.ms, 'the listing it wrote');
  }
});

t.test('temporary files a crashed process left in the listings directory are removed at a poller\'s first write; others are kept', async (t) => {
  const { cacheDir, clock, timers, open } = await setup(t);
  const listings = join(cacheDir, LISTINGS_DIR);
  await mkdir(listings, { recursive: true });
  const old = (Date.now() - STALE_TMP_MS - 60_000) / 1000;
  // A listing and a lock being written when their process ended, long ago (file system time).
  for (const name of ['.tmp-123-abc-1', '.tmp-123-abc-2']) {
    await writeFile(join(listings, name), '{"format":"ltxvfs-listing"');
    await utimes(join(listings, name), old, old);
  }
  // Another process's file being written right now, and another replica's listing, as old.
  await writeFile(join(listings, '.tmp-456-def-1'), '{');
  await writeFile(join(listings, 'another-replica.json'), '{}');
  await utimes(join(listings, 'another-replica.json'), old, old);
  const a = await open();
  await timers.runUntil(clock.ms + INTERVAL);
  t.equal(a.reader.stats().listingsTaken, 1, 'the poll listed storage and wrote the listing');
  const left = (await readdir(listings)).sort();
  t.same(left.filter((n) => n.startsWith('.tmp-')), ['.tmp-456-def-1'], 'the stale temporary files are gone, the fresh one is kept');
  t.ok(left.includes('another-replica.json'), 'files that are not temporary are kept, however old');
  t.ok(left.some((n) => n.endsWith('.json') && n !== 'another-replica.json'), 'this replica\'s listing is written');
});

t.test('a cache directory that cannot hold listings: the reader lists storage every poll, counted as io', async (t) => {
  const { cacheDir, clock, timers, open } = await setup(t);
  await mkdir(cacheDir, { recursive: true });
  await writeFile(join(cacheDir, 'listings'), 'a file where the directory would be');
  const b = await open();
  await timers.runUntil(clock.ms + 3 * INTERVAL);
  const s = b.reader.stats();
  t.same([b.client.lists, s.listingsTaken, s.sharedListings, s.pollFailures, s.txid], [6, 3, 0, 0, 2], 'three polls listed storage, none failed');
  t.ok(s.sharedListingRefusals.io >= 3, `io refusals counted (${s.sharedListingRefusals.io})`);
});

t.test('without cacheDir every poll lists storage', async (t) => {
  const { clock, timers, open } = await setup(t);
  const a = await open({ cacheDir: undefined });
  const b = await open({ cacheDir: undefined });
  await timers.runUntil(clock.ms + 5 * INTERVAL);
  t.same([a.client.lists, b.client.lists], [10, 10], 'each reader listed two levels each interval');
  t.same([a.reader.stats().listingsTaken, a.reader.stats().sharedListings], [5, 0]);
});
