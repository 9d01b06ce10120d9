/**
 * Write-behind (lib/write/write-behind.ts, option `writeBehind`): a commit is acknowledged
 * once its LTX file is staged in this process, and uploaded behind it in TXID order.
 *
 * Over s3rver, uploads are held at a gate proxy (no timer decides anything): the commits
 * return while their PUTs wait, this process reads them, another process's reader does
 * not, the replica holds a prefix of them and never a gap, and `flush()` / `close()`
 * settle only once they are in. Failures after the acknowledgement (another writer took
 * the TXID; a lost response) and bad options each have a test; the Litestream VFS reads
 * the replica the write-behind writer made.
 */
import t, { type Test } from 'tap';
import { join } from 'node:path';
import { openDatabase } from '../../lib/api/open.js';
import { LtxvfsError } from '../../ltx/errors.js';
import { openReplicaClient } from '../../lib/storage/url.js';
import type { ReplicaClient } from '../../lib/storage/types.js';
import { startFaultProxy, type FaultProxy } from '../helpers/fault-proxy.js';
import { LTX_UPLOADS, startGateProxy, type GateProxy } from '../helpers/gate-proxy.js';
import { startS3rver } from '../helpers/s3rver.js';
import { fileReplicaUrl, litestreamQuery } from '../helpers/litestream.js';
import { rejectsLtx } from '../helpers/replica-builder.js';

const ENV = { AWS_ACCESS_KEY_ID: 'S3RVER', AWS_SECRET_ACCESS_KEY: 'S3RVER' };

/** Let pending I/O callbacks and promise jobs run (`n` event-loop turns, no timer). */
async function turns(n: number): Promise<void> {
  for (let i = 0; i < n; i++) await new Promise((resolve) => setImmediate(resolve));
}

/** Whether `promise` has settled after `n` event-loop turns. */
async function settledAfter(promise: Promise<unknown>, n = 50): Promise<boolean> {
  let settled = false;
  promise.then(() => { settled = true; }, () => { settled = true; });
  await turns(n);
  return settled;
}

/**
 * Whether `promise` is still pending after `ms` of real time. Only ever used where the
 * promise cannot settle while the gate holds an upload: a slow machine makes the check
 * weaker, never wrong.
 */
async function pendingAfter(promise: Promise<unknown>, ms: number): Promise<boolean> {
  let settled = false;
  promise.then(() => { settled = true; }, () => { settled = true; });
  await new Promise((resolve) => setTimeout(resolve, ms));
  return !settled;
}

/** The level-0 LTX keys in the bucket, in order. */
async function level0(client: ReplicaClient): Promise<string[]> {
  return (await client.listLtxFiles(0)).map((f) => f.key.slice(f.key.lastIndexOf('/') + 1));
}

interface Stack {
  url: string;
  gate: GateProxy;
  /** A client to the fault proxy, past the gate. */
  direct: ReplicaClient;
  proxy: FaultProxy;
}

/**
 * s3rver behind the fault proxy (which enforces S3's conditional writes, as s3rver does
 * not), a gate holding LTX uploads in front, and a replica made by ltxvfs with table `t` (TXID 1).
 */
async function stack(t: Test, name: string): Promise<Stack> {
  const s3 = await startS3rver();
  t.teardown(() => s3.close());
  const proxy = await startFaultProxy(s3.endpoint);
  t.teardown(() => proxy.close());
  const gate = await startGateProxy(proxy.endpoint, LTX_UPLOADS);
  t.teardown(() => gate.close());
  const url = `s3://${s3.bucket}/${name}?endpoint=${gate.endpoint}`;
  const setup = await openDatabase(url, { env: ENV, shared: false, create: true, autoLease: true, pollIntervalMs: 0 });
  await setup.exec('CREATE TABLE t (id INTEGER PRIMARY KEY, v TEXT NOT NULL)');
  await setup.close();
  const direct = await openReplicaClient(`s3://${s3.bucket}/${name}?endpoint=${proxy.endpoint}`, { env: ENV });
  t.teardown(() => direct.close());
  return { url, gate, direct, proxy };
}

t.test('commits return while their uploads are held; this process reads them, the replica gets them in order, flush and close wait', async (t) => {
  const { url, gate, direct } = await stack(t, 'held');
  t.same(await level0(direct), ['0000000000000001-0000000000000001.ltx']);
  const db = await openDatabase(url, { env: ENV, shared: false, autoLease: true, writeBehind: true, pollIntervalMs: 0 });
  gate.shut();
  for (let i = 1; i <= 3; i++) await db.run('INSERT INTO t (v) VALUES (?)', [`row ${i}`]);
  await gate.whenHeld(1);
  t.equal(gate.held, 1, 'one upload at a time: the first waits at the gate, the others wait behind it');
  t.same(await db.all('SELECT v FROM t ORDER BY id'), [{ v: 'row 1' }, { v: 'row 2' }, { v: 'row 3' }], 'this process reads its acknowledged commits');
  const stats = db.stats();
  t.equal(stats.txid, 4);
  t.match(stats.writeBehind, { staged: 3, uploaded: 0, uploadedTXID: 0, failure: undefined });

  const other = await openDatabase(url, { env: ENV, shared: false, readOnly: true, pollIntervalMs: 0 });
  t.teardown(() => other.close());
  t.equal(other.stats().txid, 1, 'another reader sees the replica: none of the staged commits');
  t.same(await level0(direct), ['0000000000000001-0000000000000001.ltx'], 'nothing uploaded yet');

  const flushed = db.flush();
  t.notOk(await settledAfter(flushed), 'flush waits while the upload is held');
  gate.open();
  t.equal(await flushed, 4, 'flush resolves with the TXID once every commit is in');
  t.same(await level0(direct), [1, 2, 3, 4].map((n) => `${n.toString(16).padStart(16, '0')}-${n.toString(16).padStart(16, '0')}.ltx`), 'one LTX file per transaction, no gap');
  t.equal(await other.sync(), 4);
  t.same(await other.all('SELECT v FROM t ORDER BY id'), [{ v: 'row 1' }, { v: 'row 2' }, { v: 'row 3' }]);

  // close() waits for what is still staged.
  gate.shut();
  await db.run('INSERT INTO t (v) VALUES (?)', ['row 4']);
  await gate.whenHeld(1);
  const closed = db.close();
  t.notOk(await settledAfter(closed), 'close waits while the upload is held');
  gate.open();
  await closed;
  t.equal(await other.sync(), 5, 'the commit acknowledged before the close is in the replica');
});

t.test('polls while uploads are held, with a cacheDir shared between processes: the staged files count as listed, and the shared listing never has them', async (t) => {
  const { url, gate } = await stack(t, 'polls');
  const cacheDir = t.testdir();
  const db = await openDatabase(url, { env: ENV, shared: false, autoLease: true, writeBehind: true, pollIntervalMs: 0, cacheDir });
  const other = await openDatabase(url, { env: ENV, shared: false, readOnly: true, pollIntervalMs: 0, cacheDir });
  t.teardown(() => other.close());
  gate.shut();
  await db.run('INSERT INTO t (v) VALUES (?)', ['staged']);
  await gate.whenHeld(1);
  t.equal(await db.sync(), 2, 'a poll of the writer keeps its staged TXID (the newest file it applied is listed)');
  t.equal(await db.sync(), 2);
  t.same(await db.all('SELECT v FROM t'), [{ v: 'staged' }], 'and still serves (a poll that found the newest file gone would have failed it for good)');
  t.equal(await other.sync(), 1, 'the other process\'s poll, sharing the cacheDir, does not see the staged file');
  gate.open();
  t.equal(await db.flush(), 2);
  t.equal(await other.sync(), 2);
  t.same(await other.all('SELECT v FROM t'), [{ v: 'staged' }]);
  await db.close();
});

t.test('a commit waits for room once writeBehindMaxBytes are staged', async (t) => {
  const { url, gate } = await stack(t, 'room');
  const db = await openDatabase(url, { env: ENV, shared: false, autoLease: true, writeBehind: true, writeBehindMaxBytes: 1, pollIntervalMs: 0 });
  gate.shut();
  await db.run('INSERT INTO t (v) VALUES (?)', ['first']);
  const second = db.run('INSERT INTO t (v) VALUES (?)', ['second']);
  await gate.whenHeld(1);
  t.notOk(await settledAfter(second), 'the second commit waits: one file is staged, the bound is 1 byte');
  t.equal(db.stats().writeBehind?.waits, 1);
  gate.open();
  await second;
  t.equal(await db.flush(), 3);
  await db.close();
});

t.test('another writer takes the TXID before the upload: reads, writes, flush and close fail naming the TXIDs, and the lease goes back', async (t) => {
  const { url, gate, direct } = await stack(t, 'conflict');
  // The other writer's TXID 2, made on a copy of the replica (a writer that ignores the lease).
  const copyUrl = url.replace('/conflict?', '/conflict-copy?');
  const copy = await openReplicaClient(copyUrl, { env: ENV });
  await copy.write(copy.ltxKey(0, 1, 1), (await direct.read(direct.ltxKey(0, 1, 1))).data);
  const rogue = await openDatabase(copyUrl, { env: ENV, shared: false, autoLease: true, pollIntervalMs: 0 });
  await rogue.run('INSERT INTO t (v) VALUES (?)', ['theirs']);
  await rogue.close();
  const theirs = await copy.read(copy.ltxKey(0, 2, 2));
  await copy.close();

  const db = await openDatabase(url, { env: ENV, shared: false, autoLease: true, writeBehind: true, pollIntervalMs: 0 });
  const reported: LtxvfsError[] = [];
  const uploadFailed = new Promise<void>((resolve) => db.on('upload-failed', (e) => { reported.push(e); resolve(); }));
  gate.shut();
  await db.run('INSERT INTO t (v) VALUES (?)', ['mine']);
  await db.run('INSERT INTO t (v) VALUES (?)', ['mine too']);
  await gate.whenHeld(1);
  // It puts TXID 2 first, past the gate.
  await direct.write(direct.ltxKey(0, 2, 2), theirs.data, { ifNoneMatch: true });
  gate.open();
  await uploadFailed;
  t.equal(reported.length, 1, "the 'upload-failed' event came before anyone called flush()");
  const err = await rejectsLtx(t, db.flush(), 'LTXVFS_ERR_CONFLICT', '0000000000000002-0000000000000002.ltx',
    /write-behind upload failed/, /TXIDs 0000000000000002–0000000000000003/, /are not in/, /another writer committed TXID 0000000000000002 first/);
  t.match(db.stats().writeBehind, { staged: 2, uploaded: 0, failure: err?.message });
  t.equal(reported[0].message, err?.message, 'the event carried the error flush() rejects with');
  // Its state (TXIDs 2–3) is no longer the replica's: a poll could stack the other writer's
  // files on it. Every read fails instead of serving a state that exists nowhere.
  const read = await db.all('SELECT v FROM t ORDER BY id').then(() => undefined, (e: unknown) => e);
  t.ok(read instanceof LtxvfsError && read.message.includes('write-behind upload failed'), `a later read fails with the upload's error: ${String(read)}`);
  const write = await db.run('INSERT INTO t (v) VALUES (?)', ['refused']).then(() => undefined, (e: unknown) => e);
  t.ok(write instanceof LtxvfsError && write.message.includes('write-behind upload failed'), `a later write fails with the upload's error: ${String(write)}`);
  // The lease went back: another writer takes it and goes on from the replica's TXID 2.
  const next = await openDatabase(url, { env: ENV, shared: false, autoLease: true, pollIntervalMs: 0 });
  await next.run('INSERT INTO t (v) VALUES (?)', ['next writer']);
  t.equal(next.stats().txid, 3, 'the next writer committed TXID 3 under the lease');
  t.same(await next.all('SELECT v FROM t ORDER BY id'), [{ v: 'theirs' }, { v: 'next writer' }], 'on the replica\'s history, without our lost commits');
  await next.close();
  await rejectsLtx(t, db.close(), 'LTXVFS_ERR_CONFLICT', '0000000000000002-0000000000000002.ltx', /write-behind upload failed/);
  t.ok(db.closed);
  t.same(await level0(direct), ['0000000000000001-0000000000000001.ltx', '0000000000000002-0000000000000002.ltx', '0000000000000003-0000000000000003.ltx'],
    'the replica has the other writer\'s TXID 2, the next writer\'s 3, and nothing of ours');
});

t.test('an upload whose response was lost: the S3 client\'s retry finds its own bytes there, and the queue goes on', async (t) => {
  const { url, direct, proxy } = await stack(t, 'lost');
  const db = await openDatabase(url, { env: ENV, shared: false, autoLease: true, writeBehind: true, pollIntervalMs: 0 });
  await db.run('INSERT INTO t (v) VALUES (?)', ['once']);
  proxy.set({ dropResponses: 1 });
  await db.run('INSERT INTO t (v) VALUES (?)', ['twice']);
  t.equal(await db.flush(), 3, 'both uploads count as done');
  t.match(proxy.stats().faults, { droppedResponses: 1, preconditionFailures: 1 }, 'the PUT landed, its response was dropped, and the retry met its own object');
  t.equal(db.stats().writeBehind?.failure, undefined);
  t.same(await level0(direct), [1, 2, 3].map((n) => `${n.toString(16).padStart(16, '0')}-${n.toString(16).padStart(16, '0')}.ltx`));
  await db.close();
  const reopened = await openDatabase(url, { env: ENV, shared: false, readOnly: true, pollIntervalMs: 0 });
  t.same(await reopened.all('SELECT v FROM t ORDER BY id'), [{ v: 'once' }, { v: 'twice' }]);
  await reopened.close();
});

t.test('bad write-behind options fail the open naming the option and the value', async (t) => {
  const dir = t.testdir();
  const url = fileReplicaUrl(dir);
  await rejectsLtx(t, openDatabase(url, { create: true, writeBehind: 'yes' as unknown as boolean }), 'LTXVFS_ERR_USAGE', dir, /writeBehind "yes" is not true or false/);
  await rejectsLtx(t, openDatabase(url, { create: true, writeBehind: true, writeBehindMaxBytes: 0 }), 'LTXVFS_ERR_USAGE', dir, /writeBehindMaxBytes 0 is not a positive number of bytes/);
  const first = await openDatabase(url, { create: true, writeBehind: true });
  t.teardown(() => first.close());
  await rejectsLtx(t, openDatabase(url, { create: true }), 'LTXVFS_ERR_USAGE', dir, /already open for writing in this process with writeBehind true/, /shared: false/);
  await rejectsLtx(t, openDatabase(url, { create: true, writeBehind: true, writeBehindMaxBytes: 1024 }), 'LTXVFS_ERR_USAGE', dir,
    /already open for writing in this process with writeBehindMaxBytes 67108864, not 1024/);
  const same = await openDatabase(url, { create: true, writeBehind: true });
  t.equal(same.stats().writeBehind?.maxBytes, 64 * 1024 * 1024, 'an open with the same settings shares the writer');
  await same.close();
  const reading = await openDatabase(url, { readOnly: true });
  t.equal(reading.stats().txid, 0, 'a read-only open of the same replica is fine');
  await reading.close();
});

t.test('file://: the Litestream VFS reads what a write-behind writer committed, once flushed', async (t) => {
  const dir = t.testdir();
  const url = fileReplicaUrl(dir);
  const db = await openDatabase(url, { create: true, autoLease: true, writeBehind: true, shared: false, pollIntervalMs: 0 });
  await db.exec('CREATE TABLE t (id INTEGER PRIMARY KEY, v TEXT NOT NULL)');
  for (let i = 1; i <= 50; i++) await db.run('INSERT INTO t (v) VALUES (?)', [`row ${i}`]);
  t.equal(await db.flush(), 51);
  await db.close();
  t.same(await litestreamQuery(url, 'SELECT count(*) AS n, max(v) AS top FROM t'), [{ n: 50, top: 'row 9' }]);
});

for (const engine of ['asyncify', 'worker'] as const) {
  t.test(`${engine}: closing one database of a shared reader waits for its uploads; a read-only one's flush() waits for them too`, async (t) => {
    const { url, gate } = await stack(t, `shared-${engine}`);
    // The read-only database keeps the shared reader (and its writer) open after the writable one closes,
    // so only the close's own flush (lib/connection/connect.ts `release`) can make it wait.
    const reading = await openDatabase(url, { env: ENV, readOnly: true, pollIntervalMs: 0 });
    t.teardown(() => reading.close());
    const db = await openDatabase(url, { env: ENV, engine, autoLease: true, writeBehind: true, pollIntervalMs: 0 });
    gate.shut();
    await db.run('INSERT INTO t (v) VALUES (?)', ['behind']);
    await gate.whenHeld(1);
    const flushed = reading.flush();
    const closed = db.close();
    // The worker engine's close stops a thread first: give it time to end (tens of ms) before asking.
    t.ok(await pendingAfter(closed, 2_000), 'the close waits while the upload is held');
    t.notOk(await settledAfter(flushed), 'so does the read-only database\'s flush()');
    gate.open();
    await closed;
    t.equal(await flushed, 2, 'flush() resolves with the TXID now in the replica');
    const other = await openDatabase(url, { env: ENV, shared: false, readOnly: true, pollIntervalMs: 0 });
    t.same(await other.all('SELECT v FROM t'), [{ v: 'behind' }]);
    await other.close();
  });
}

t.test('writeBehind with hydrate is refused: the hydration file would hold commits not yet in the replica', async (t) => {
  const root = t.testdir();
  const dir = join(root, 'replica');
  await rejectsLtx(t, openDatabase(fileReplicaUrl(dir), { create: true, writeBehind: true, hydrate: join(root, 'hydrated.db'), shared: false }),
    'LTXVFS_ERR_USAGE', dir, /writeBehind cannot be combined with hydrate/);
});

t.test('the sql.js adapter refuses writeBehind: its synchronous close() could not wait for uploads', async (t) => {
  const { loadSqlJs, openSqlJs } = await import('../../vfs/sqljs/index.js');
  const dir = t.testdir();
  const SQL = await loadSqlJs();
  await rejectsLtx(t, openSqlJs(SQL, fileReplicaUrl(dir), { create: true, writeBehind: true } as never), 'LTXVFS_ERR_UNSUPPORTED', dir,
    /writeBehind is not supported/, /close\(\) is synchronous/, /use openDatabase/);
});

t.test('a version listener that runs a statement on the same database while write-behind commits are answered inside SQLite\'s call gets right rows', async (t) => {
  const url = fileReplicaUrl(t.testdir());
  const db = await openDatabase(url, { create: true, autoLease: true, writeBehind: true, shared: false, pollIntervalMs: 0 });
  await db.exec('CREATE TABLE t (id INTEGER PRIMARY KEY, v TEXT NOT NULL)');
  const count = await db.prepare('SELECT count(*) AS n FROM t');
  const seen: Promise<unknown>[] = [];
  // With write-behind the commit, and its event, can come inside SQLite's call (the writer answers
  // at once): the listener's statement must wait its turn, not re-enter SQLite.
  db.on('version', () => seen.push(count.get()));
  // get() of INSERT … RETURNING takes the warm path (a step answered within the call), where
  // the commit happens inside SQLite's step or reset; run() takes the queued one.
  const insert = await db.prepare('INSERT INTO t (v) VALUES (?) RETURNING id');
  for (let i = 1; i <= 20; i++) t.same(await (i % 2 === 0 ? insert.get([`row ${i}`]) : insert.run([`row ${i}`])), i % 2 === 0 ? { id: i } : { changes: 1, lastInsertRowid: i });
  const counts = (await Promise.all(seen)).map((r) => (r as { n: number }).n);
  t.equal(counts.length, 20, 'one event per commit');
  t.ok(counts.every((n) => n >= 1 && n <= 20), `each listener's statement saw a committed state (run when its turn came): ${counts.join(',')}`);
  t.same(await db.all('SELECT count(*) AS n, max(id) AS top FROM t'), [{ n: 20, top: 20 }]);
  t.equal(await db.flush(), db.stats().txid, 'every commit uploaded');
  await count.finalize();
  await insert.finalize();
  await db.close();
  t.same(await litestreamQuery(url, 'SELECT count(*) AS n FROM t'), [{ n: 20 }], 'the Litestream VFS reads all of them');
});
