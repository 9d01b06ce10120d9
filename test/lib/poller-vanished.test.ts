/**
 * The replica may not step back under a reader (issue 12): when the newest LTX file a
 * reader applied disappears and no file at any level covers its TXID any more, the next
 * poll makes every later transaction fail with `LTXVFS_ERR_NOT_FOUND` naming the file —
 * on the reader, and through the Database API of every engine. A compaction that
 * replaces the L0 files (the newest included) by an L1, L2 or snapshot file covering them
 * does not. Real replicas in t.testdir() (files encoded from real sql.js database images),
 * the real directory client; polls driven by `pollNow()` or by a {@link TestClock} the
 * poller reads at transaction start; sql.js, whose poller runs in the fetch thread and
 * cannot take a clock, by the real timer with a generous limit for what must happen.
 */
import t, { type Test } from 'tap';
import { promises as fs } from 'node:fs';
import { join } from 'node:path';
import { ReplicaReader } from '../../lib/read/replica-reader.js';
import { openFileReplica } from '../../lib/storage/file/client.js';
import type { ReplicaClient } from '../../lib/storage/types.js';
import { isLtxvfsError, type LtxvfsError } from '../../ltx/errors.js';
import {
  compactSpecs, historyFromStates, keyOf, snapshotFromDatabase, sqlJsHistory, writeLtx, writeReplica, type LtxSpec,
} from '../helpers/replica-builder.js';
import { ListFaultClient, TestClock, waitFor } from '../helpers/polling.js';
import { ENGINES, openEngine } from '../helpers/engines.js';

const HOUR = 3_600_000;
/** Listings of a poll: level 0 from the current TXID, and level 1. */
const POLL_LISTINGS = 2;
/** Listings of the confirmation: every level, 0–9. */
const ALL_LEVELS = 10;

let states: Uint8Array[] = [];
let specs: LtxSpec[] = [];

t.before(async () => {
  states = await sqlJsHistory([
    'CREATE TABLE t (id INTEGER PRIMARY KEY, v TEXT NOT NULL)',
    "INSERT INTO t (v) VALUES ('alpha'), ('bravo')",
    "INSERT INTO t (v) VALUES ('charlie')",
    "UPDATE t SET v = 'ALPHA' WHERE id = 1",
    "INSERT INTO t (v) VALUES ('delta')",
  ]);
  specs = historyFromStates(states);
});

async function openReader(t: Test, dir: string): Promise<{ reader: ReplicaReader; client: ListFaultClient; corrupt: LtxvfsError[] }> {
  const client = await ListFaultClient.open(dir);
  const reader = await ReplicaReader.open(client, { pollIntervalMs: 0 });
  t.teardown(() => reader.close());
  const corrupt: LtxvfsError[] = [];
  reader.on('corrupt', (e) => corrupt.push(e));
  return { reader, client, corrupt };
}

t.test('the newest file deleted, nothing covering its TXID: the next poll fails the reader naming the file', async (t) => {
  const dir = t.testdir();
  await writeReplica(dir, specs.slice(0, 4));
  const { reader, client, corrupt } = await openReader(t, dir);
  t.equal(reader.current.txid, 4);
  const newest = keyOf(specs[3]);

  const before = client.lists;
  await reader.poller.pollNow();
  t.equal(client.lists - before, POLL_LISTINGS, 'a healthy poll: the two listings it always made');
  t.equal(reader.integrityFailure, undefined);

  await fs.rm(join(dir, newest));
  const lists = client.lists;
  await reader.poller.pollNow();
  t.equal(client.lists - lists, POLL_LISTINGS + ALL_LEVELS, 'the newest file not listed: one listing of every level confirms');
  const failure = reader.integrityFailure;
  t.ok(isLtxvfsError(failure, 'LTXVFS_ERR_NOT_FOUND'), `failure: ${String(failure)}`);
  t.equal(failure?.key, newest, 'the error is about the vanished file');
  t.match(failure?.message, new RegExp(`^${newest}: the newest LTX file this reader applied is gone .* no file at any level covers TXID 0000000000000004`));
  t.same(corrupt, [failure], "'corrupt' emitted once");
  const same = { code: 'LTXVFS_ERR_NOT_FOUND', key: newest, message: failure?.message };
  t.throws(() => reader.acquire(), same, 'every new read transaction fails with it');
  t.throws(() => reader.readPage(reader.current, 1), same, 'so does every page read');
  t.equal(reader.current.txid, 4, 'no step back: the reader stays where it was, failing');

  const after = client.lists;
  await reader.poller.pollNow();
  t.equal(client.lists, after, 'a failed reader lists nothing more');
  await writeLtx(dir, specs[3]);
  await reader.poller.pollNow();
  t.throws(() => reader.acquire(), same, 'final: the file coming back does not revive the reader');
});

t.test('compactions that replace the newest file keep the reader', async (t) => {
  /** A reader at TXID 4, then L0 files 1–4 (the newest included) compacted into one file at `level` and deleted. */
  async function compacted(t: Test, level: number): Promise<Awaited<ReturnType<typeof openReader>> & { writer: ReplicaClient }> {
    const dir = t.testdir();
    await writeReplica(dir, specs.slice(0, 4));
    const opened = await openReader(t, dir);
    const writer = await openFileReplica(dir);
    t.teardown(() => writer.close());
    await writeLtx(writer, compactSpecs(specs.slice(0, 4), level));
    for (const spec of specs.slice(0, 4)) await writer.delete(keyOf(spec));
    return { ...opened, writer };
  }

  t.test('L0 files replaced by an L1 file covering them: no extra listing, nothing reported', async (t) => {
    const { reader, client, corrupt, writer } = await compacted(t, 1);
    const before = client.lists;
    await reader.poller.pollNow();
    t.equal(client.lists - before, POLL_LISTINGS, 'the L1 listing shows the compaction: no confirmation');
    t.same([reader.integrityFailure, corrupt], [undefined, []]);
    reader.release(reader.acquire());
    await writeLtx(writer, specs[4]);
    await reader.poller.pollNow();
    t.equal(reader.current.txid, 5, 'and it keeps following the replica');
  });

  t.test('replaced by an L2 file (no L1): confirmed by one listing of every level', async (t) => {
    const { reader, client, corrupt } = await compacted(t, 2);
    const before = client.lists;
    await reader.poller.pollNow();
    t.equal(client.lists - before, POLL_LISTINGS + ALL_LEVELS);
    t.same([reader.integrityFailure, corrupt], [undefined, []]);
    reader.release(reader.acquire());
  });

  t.test('replaced by a snapshot covering its TXID', async (t) => {
    const dir = t.testdir();
    await writeReplica(dir, specs.slice(0, 3));
    const { reader, corrupt } = await openReader(t, dir);
    const writer = await openFileReplica(dir);
    t.teardown(() => writer.close());
    await writeLtx(writer, specs[3]);
    await writeLtx(writer, snapshotFromDatabase(states[3], { level: 9, maxTXID: 4 }));
    for (const spec of specs.slice(0, 4)) await writer.delete(keyOf(spec));
    await writeLtx(writer, specs[4]);
    await reader.poller.pollNow();
    t.same([reader.integrityFailure, corrupt], [undefined, []]);
    t.equal(reader.current.txid, 5, 'rebuilt from the snapshot and the L0 file after it');
  });
});

for (const engine of ENGINES) {
  t.test(`${engine}: a connection that read TXID 4 fails every later statement naming the vanished file`, async (t) => {
    const dir = t.testdir();
    await writeReplica(dir, specs.slice(0, 4));
    const clock = new TestClock();
    // sql.js's reader runs in the fetch thread: the real timer polls it (every 20 ms).
    const db = await openEngine(engine, dir, engine === 'sqljs'
      ? { pollIntervalMs: 20, shared: false }
      : { pollIntervalMs: HOUR, now: clock.now, shared: false });
    t.teardown(() => db.close());
    t.same(await db.all('SELECT v FROM t ORDER BY id'), [{ v: 'ALPHA' }, { v: 'bravo' }, { v: 'charlie' }]);
    const newest = keyOf(specs[3]);
    await fs.rm(join(dir, newest));
    clock.advance(HOUR); // the next transaction polls first
    const failed = await waitFor('a statement to fail', () => db.all('SELECT v FROM t').then(() => undefined, (e: unknown) => e as Error));
    for (const err of [failed, await db.all('SELECT count(*) FROM t').then(() => undefined, (e: unknown) => e as Error)]) {
      t.ok(isLtxvfsError(err, 'LTXVFS_ERR_NOT_FOUND'), `${String(err)}`);
      t.equal((err as LtxvfsError | undefined)?.key, newest, 'naming the file');
    }
  });
}
