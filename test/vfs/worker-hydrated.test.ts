/**
 * The worker engine reads a completed hydration file in place (vfs/bridge/hydrated-file.ts):
 * pages of a version at the file's TXID come from `fs.readSync` in the worker, with no
 * page-bridge crossing; pages of other versions (a pass catching up, a transaction pinned
 * on an older version) still come through the bridge, and every row stays right while
 * ltxvfs's writer commits new versions.
 */
import t from 'tap';
import { join } from 'node:path';
import { openDatabase } from '../../lib/api/open.js';
import type { WorkerDatabase } from '../../vfs/worker/database.js';
import { HydratedFile } from '../../vfs/bridge/hydrated-file.js';
import { HydrationPublication } from '../../lib/hydrate/publication.js';
import { chinookBytes } from '../helpers/bytes-source.js';
import { snapshotFromDatabase, sqlJsRows, writeLtx } from '../helpers/replica-builder.js';
import { databaseAfter as after } from '../helpers/database-after.js';
import { waitFor } from '../helpers/polling.js';

const CHINOOK = chinookBytes();
const TRACKS = 'SELECT count(*) AS n, sum(Milliseconds) AS ms, max(Name) AS last FROM Track';
const ARTISTS = 'SELECT count(*) AS n, max(Name) AS last, sum(length(Name)) AS chars FROM Artist';
const LINES = 'SELECT count(*) AS n, sum(Quantity) AS q, sum(UnitPrice) AS p FROM InvoiceLine';
const ALBUMS = 'SELECT count(*) AS n, max(Title) AS last, sum(length(Title)) AS chars FROM Album';

/** Passes the hydrator completed (each one publishes the TXID the file then holds). */
function passes(db: { stats(): { hydration?: { passes: number } } }): number {
  return db.stats().hydration?.passes ?? 0;
}

/** Wait for `cond` (a generous 60 s: what must happen, not how fast a loaded machine does it). */
async function until(what: string, cond: () => boolean): Promise<void> {
  await waitFor(what, cond, 60_000);
}

t.test('hydrated pages are read in the worker with no bridge crossing; new versions from the writer stay right', async (t) => {
  const root = t.testdir();
  const replica = join(root, 'replica');
  await writeLtx(replica, snapshotFromDatabase(CHINOOK));
  const path = join(root, 'hydrated.db');
  // No worker page cache: every page SQLite's own cache misses is read from the file or crosses.
  const db = await openDatabase(replica, { engine: 'worker', shared: false, pollIntervalMs: 20, hydrate: path, localCacheSizeBytes: 0 });
  const worker = db as unknown as WorkerDatabase;
  await until('hydration', () => db.stats().hydration?.state === 'ready');
  const before = await worker.counters();
  t.same(await db.all(TRACKS), await sqlJsRows(CHINOOK, TRACKS));
  const read = await worker.counters();
  t.equal(read.reads, before.reads, 'no page crossed the bridge');
  t.equal(read.messages, before.messages, 'no message at all');
  t.ok(read.hydratedReads - before.hydratedReads > 30, `pages read in place: ${read.hydratedReads - before.hydratedReads}`);

  // ltxvfs's writer commits on the same replica, from another connection.
  const writer = await openDatabase(replica, { autoLease: true, shared: false, pollIntervalMs: 0 });
  const edit1 = "UPDATE Artist SET Name = Name || ' (remastered)' WHERE ArtistId % 7 = 0";
  const s1 = await after(edit1, CHINOOK);
  await writer.run(edit1);
  const txid1 = writer.stats().txid;
  const passes0 = passes(db);
  await db.waitForTxid(txid1, { timeoutMs: 10_000 });
  t.same(await db.all(ARTISTS), await sqlJsRows(s1, ARTISTS), 'the new version right after it is seen, hydrated or not');
  await until('the pass to the new version', () => passes(db) > passes0 && db.stats().hydration?.txid === txid1);
  const c1 = await worker.counters();
  t.same(await db.all(TRACKS + ' WHERE TrackId % 3 = 0'), await sqlJsRows(s1, TRACKS + ' WHERE TrackId % 3 = 0'));
  const c2 = await worker.counters();
  t.equal(c2.reads, c1.reads, 'once the file holds the new version, it is read in place again');

  // A transaction pinned on that version while the writer moves on and the file follows:
  // the file no longer holds the pinned version, so its pages come through the bridge.
  const edit2 = "UPDATE InvoiceLine SET Quantity = Quantity + 1; UPDATE Album SET Title = 'Z' || Title WHERE AlbumId % 2 = 0";
  const s2 = await after(edit2, s1);
  let txid2 = 0;
  const inside = await db.transaction(async (tx) => {
    await tx.all(ARTISTS); // pins the version (its pages are in SQLite's cache already)
    const passes1 = passes(db);
    await writer.exec(edit2);
    txid2 = writer.stats().txid;
    await until('the pass to the next version', () => passes(db) > passes1 && db.stats().hydration?.txid === txid2);
    // Tables not read before: their pages go to the VFS, and the file holds another TXID now.
    return { lines: await tx.all(LINES), albums: await tx.all(ALBUMS) };
  });
  t.same(inside.lines, await sqlJsRows(s1, LINES), 'the pinned version\'s rows, not the file\'s');
  t.same(inside.albums, await sqlJsRows(s1, ALBUMS));
  const c3 = await worker.counters();
  t.ok(c3.reads > c2.reads, 'the pinned version\'s pages crossed the bridge');
  const c4 = await worker.counters();
  t.same(await db.all(LINES), await sqlJsRows(s2, LINES), 'the next transaction sees the newest version');
  t.same(await db.all(ALBUMS), await sqlJsRows(s2, ALBUMS));
  t.equal((await worker.counters()).reads, c4.reads, 'read in place again');
  await writer.close();
  await db.close();
});

t.test('HydratedFile answers false while a pass writes, for another TXID, and after close; a missing file is refused', async (t) => {
  const root = t.testdir({ 'db.sqlite': Buffer.from(CHINOOK) });
  const publication = new HydrationPublication();
  const file = new HydratedFile({ path: join(root, 'db.sqlite'), publication: publication.buffer });
  const version = { txid: 7, pageSize: 4096, commit: CHINOOK.length / 4096, timestamp: 0 };
  const page = new Uint8Array(4096);
  t.notOk(file.readInto(version, 2, page), 'nothing published yet');
  publication.publish(7);
  t.ok(file.readInto(version, 2, page));
  t.same(page, CHINOOK.subarray(4096, 8192));
  t.notOk(file.readInto({ ...version, txid: 6 }, 2, page), 'another TXID');
  publication.beginWrites();
  t.notOk(file.readInto(version, 2, page), 'a pass is writing');
  publication.endWrites(7);
  t.ok(file.readInto(version, 3, page));
  t.equal(file.reads, 2);
  file.close();
  file.close();
  t.notOk(file.readInto(version, 2, page), 'closed');
  t.throws(() => new HydratedFile({ path: join(root, 'missing.db'), publication: publication.buffer }), { code: 'ENOENT' });
  t.throws(() => new HydrationPublication(new SharedArrayBuffer(8)), RangeError);
});

t.test('a sequential run reads ahead: one system call per 32 pages, those pages served for their TXID only', async (t) => {
  const root = t.testdir({ 'db.sqlite': Buffer.from(CHINOOK) });
  const publication = new HydrationPublication();
  const file = new HydratedFile({ path: join(root, 'db.sqlite'), publication: publication.buffer });
  const version = { txid: 7, pageSize: 4096, commit: CHINOOK.length / 4096, timestamp: 0 };
  const page = new Uint8Array(4096);
  const expected = (pgno: number): Uint8Array => CHINOOK.subarray((pgno - 1) * 4096, pgno * 4096);
  publication.publish(7);
  for (let pgno = 2; pgno <= 41; pgno++) {
    t.ok(file.readInto(version, pgno, page), `page ${pgno}`);
    t.same(page, expected(pgno));
  }
  t.equal(file.syscalls, 4, 'pages 2 and 3 alone, then 4–35 and 36–67 in one read each');
  publication.publish(8);
  t.ok(file.readInto(version, 50, page), 'a page read ahead for TXID 7 still serves TXID 7');
  t.same(page, expected(50));
  t.notOk(file.readInto(version, 90, page), 'beyond it, the file no longer holds TXID 7');
  t.ok(file.readInto({ ...version, txid: 8 }, 51, page), 'TXID 8 reads the file');
  t.equal(file.syscalls, 5);
  file.close();
});
