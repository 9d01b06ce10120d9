/**
 * ReplicaWriter (lib/write/writer.ts) on real directory replicas through a real file client
 * (CountingClient, which can fail writes and hold reads): the lease, the per-process
 * reservation, and `commit` — one level-0 LTX file `TXID-TXID` uploaded create-only,
 * checksum mode following the replica, conflicts and lost leases refused with
 * SQLITE_BUSY, storage failures passed on, and nothing of a failed transaction kept.
 *
 * Transactions are made from real database states: sql.js runs SQL on the previous state
 * and the pages that differ become the transaction; restore and verify check the result.
 */
import t, { type Test } from 'tap';
import { existsSync, promises as fs } from 'node:fs';
import { hostname, tmpdir } from 'node:os';
import { join } from 'node:path';
import { decodeLtxFile } from '../../ltx/decoder.js';
import { LtxvfsError } from '../../ltx/errors.js';
import { HEADER_FLAG_NO_CHECKSUM } from '../../ltx/header.js';
import { decodeLeaseRecord, encodeLeaseRecord, Lease } from '../../lib/write/lease.js';
import type { PageIndex } from '../../lib/replica/page-index.js';
import { ReplicaReader } from '../../lib/read/replica-reader.js';
import { restoreDatabase } from '../../lib/tools/restore.js';
import { openFileReplica } from '../../lib/storage/file/client.js';
import { verifyReplica } from '../../lib/tools/verify.js';
import { ReplicaWriter, writerFor, type Transaction } from '../../lib/write/writer.js';
import { waitFor } from '../helpers/polling.js';
import {
  copyChecksummedReplica, copyFixtureReplica, CountingClient, databaseChecksumOf, diffDatabases, FIXTURE_EXPECTED_DB,
  FIXTURE_TXID5_CHECKSUM, keyOf, loadSqlJs, pageOf, readBytes, rejectsLtx, sqlJsDatabase, sqlJsRows, writeLtx,
} from '../helpers/replica-builder.js';

const SQLITE_BUSY = 5;
const SQLITE_READONLY = 8;
const PAGE = 4096;
const STATE5 = readBytes(FIXTURE_EXPECTED_DB);

/** The database after running `sql` (sql.js) on `bytes`. */
async function next(bytes: Uint8Array, sql: string): Promise<Uint8Array> {
  const SQL = await loadSqlJs();
  const db = new SQL.Database(bytes);
  try {
    db.exec(sql);
    return db.export();
  } finally {
    db.close();
  }
}

/** The transaction taking `base` (whose bytes are `before`) to `after`. */
function txOf(base: PageIndex, before: Uint8Array, after: Uint8Array): Transaction {
  const spec = diffDatabases(before, after, { minTXID: base.txid + 1 });
  return { base, pages: new Map(spec.pages.map((p) => [p.pgno, p.data])), commit: spec.commit, pageSize: PAGE };
}

/** A reader over a CountingClient of `dir`, polling off. */
async function open(t: Test, dir: string, options: { allowEmpty?: boolean; cacheSizeBytes?: number } = {}) {
  const client = await CountingClient.open(dir);
  const reader = await ReplicaReader.open(client, { pollIntervalMs: 0, ...options });
  t.teardown(() => reader.close());
  return { client, reader };
}

/** Restore `dir` into a file and return its bytes and the restore result. */
async function restored(dir: string) {
  const client = await openFileReplica(dir);
  const tmp = await fs.mkdtemp(join(tmpdir(), 'ltxvfs-writer-restore-'));
  try {
    const out = join(tmp, 'restored.db');
    const r = await restoreDatabase(client, out);
    return { bytes: readBytes(out), result: r };
  } finally {
    await client.close();
    await fs.rm(tmp, { recursive: true, force: true });
  }
}

async function verified(dir: string) {
  const client = await openFileReplica(dir);
  try {
    return await verifyReplica(client);
  } finally {
    await client.close();
  }
}

async function l0(dir: string): Promise<string[]> {
  return (await fs.readdir(join(dir, 'ltx', '0'))).sort();
}

t.test('commit ships one checksum-free L0 file, TXID = current + 1, create-only; the reader adopts it with its pages cached', async (t) => {
  const dir = t.testdir({});
  await copyFixtureReplica(dir);
  const { client, reader } = await open(t, dir);
  const writer = new ReplicaWriter(reader, { leaseOwner: 'writer-test:1' });
  await writer.acquireLease();
  const state6 = await next(STATE5, "INSERT INTO t (name) VALUES ('delta'); UPDATE t SET name = 'BRAVO' WHERE id = 2;");
  const tx = txOf(reader.current, STATE5, state6);
  t.ok(tx.pages.size >= 2, `${tx.pages.size} pages changed`);

  const before = Date.now();
  const version = await writer.commit(tx);
  const after = Date.now();
  t.equal(version.txid, 6);
  t.equal(reader.current, version, 'the reader adopted the new version');
  t.equal(writer.commits, 1);

  const path = join(dir, 'ltx/0/0000000000000006-0000000000000006.ltx');
  const bytes = readBytes(path);
  const decoded = decodeLtxFile(bytes, path);
  t.equal(decoded.header.flags, HEADER_FLAG_NO_CHECKSUM, 'flags 0x2, as Litestream writes: the replica carries no checksums');
  t.equal(decoded.header.preApplyChecksum, 0n);
  t.equal(decoded.trailer.postApplyChecksum, 0n);
  t.equal(decoded.header.minTXID, 6);
  t.equal(decoded.header.maxTXID, 6);
  t.equal(decoded.header.commit, 4);
  t.equal(decoded.header.pageSize, PAGE);
  t.equal(decoded.header.nodeID, 0);
  t.ok(decoded.header.timestamp >= before && decoded.header.timestamp <= after, 'timestamp = commit time');
  t.equal(Math.round((await fs.stat(path)).mtimeMs), decoded.header.timestamp, 'file mtime = header timestamp (Litestream file backend)');
  t.same(decoded.pages.map((p) => p.pgno), [...tx.pages.keys()].sort((a, b) => a - b), 'exactly the written pages');
  t.equal(version.timestamp, decoded.header.timestamp);

  const reads = client.reads.length;
  for (const pgno of tx.pages.keys()) t.same(reader.readPage(version, pgno), tx.pages.get(pgno), `page ${pgno} served from the cache`);
  t.equal(client.reads.length, reads, 'no storage read for the pages just written');

  const { bytes: db } = await restored(dir);
  t.same(db, state6, 'restore gives the new state byte for byte');
  const report = await verified(dir);
  t.same(report.problems, []);
  t.equal(report.txid, 6);
  t.equal(report.checksummed, false);
});

t.test('a checksummed replica keeps its chain: pre-apply = previous post-apply, post-apply updated incrementally, also when the database shrinks', async (t) => {
  const dir = t.testdir({});
  await copyChecksummedReplica(dir);
  const { reader } = await open(t, dir);
  t.equal(reader.current.checksummed, true);
  t.equal(reader.current.postApplyChecksum, FIXTURE_TXID5_CHECKSUM);
  const writer = new ReplicaWriter(reader, { leaseOwner: 'writer-test:2', checksums: false });
  await writer.acquireLease();

  const grown = await next(STATE5, "CREATE TABLE big (b BLOB); WITH RECURSIVE c(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM c WHERE i < 40) INSERT INTO big SELECT randomblob(900) FROM c;");
  await writer.commit(txOf(reader.current, STATE5, grown));
  const shrunk = await next(grown, 'DROP TABLE big; VACUUM;');
  t.ok(shrunk.length < grown.length, `VACUUM shrinks ${grown.length / PAGE} → ${shrunk.length / PAGE} pages`);
  await writer.commit(txOf(reader.current, grown, shrunk));

  const f6 = decodeLtxFile(readBytes(join(dir, 'ltx/0/0000000000000006-0000000000000006.ltx')), '6');
  const f7 = decodeLtxFile(readBytes(join(dir, 'ltx/0/0000000000000007-0000000000000007.ltx')), '7');
  t.equal(f6.header.flags, 0, 'flags 0: database checksums on, like the replica');
  t.equal(f6.header.preApplyChecksum, FIXTURE_TXID5_CHECKSUM, 'pre-apply of TXID 6 = post-apply of TXID 5');
  t.equal(f6.trailer.postApplyChecksum, databaseChecksumOf(grown), 'post-apply of TXID 6 = checksum of the grown database');
  t.equal(f7.header.preApplyChecksum, f6.trailer.postApplyChecksum, 'the chain continues');
  t.equal(f7.trailer.postApplyChecksum, databaseChecksumOf(shrunk), 'truncated pages were XORed out');
  t.equal(f7.header.commit, shrunk.length / PAGE);
  t.equal(reader.current.postApplyChecksum, databaseChecksumOf(shrunk));

  const report = await verified(dir);
  t.same(report.problems, []);
  t.equal(report.checksummed, true, 'verify checked the checksum chain');
  const { bytes, result } = await restored(dir);
  t.same(bytes, shrunk);
  t.equal(result.checksum, databaseChecksumOf(shrunk), 'restore verified the database checksum');
});

t.test('a new replica: checksum-free by default, checksummed with `checksums: true`; the first file is the TXID 1 snapshot', async (t) => {
  const state1 = await sqlJsDatabase("CREATE TABLE k (v TEXT); INSERT INTO k VALUES ('one'), ('two');");
  for (const checksums of [false, true]) {
    const dir = t.testdir({});
    const { reader } = await open(t, dir, { allowEmpty: true });
    t.equal(reader.current.txid, 0);
    const writer = new ReplicaWriter(reader, { autoLease: true, checksums });
    await writer.reserve(reader);
    t.equal(writer.lease?.owner, `${hostname()}:${process.pid}`, 'default owner: <hostname>:<pid>');
    const pages = new Map<number, Uint8Array>();
    for (let p = 1; p <= state1.length / PAGE; p++) pages.set(p, pageOf(state1, PAGE, p));
    const version = await writer.commit({ base: reader.current, pages, commit: state1.length / PAGE, pageSize: PAGE });
    t.equal(version.pageSize, PAGE, 'the page size comes from the transaction');
    const file = decodeLtxFile(readBytes(join(dir, 'ltx/0/0000000000000001-0000000000000001.ltx')), 'TXID 1');
    t.equal(file.header.flags, checksums ? 0 : HEADER_FLAG_NO_CHECKSUM, `checksums: ${checksums}`);
    t.equal(file.header.preApplyChecksum, 0n, 'a snapshot has no pre-apply checksum');
    t.equal(file.trailer.postApplyChecksum, checksums ? databaseChecksumOf(state1) : 0n);
    t.same((await restored(dir)).bytes, state1);
    t.same((await verified(dir)).problems, []);
    writer.unreserve(reader);
    await writer.releaseLease();
  }
});

t.test('pages the database gains but SQLite never wrote are shipped as zeros, so the replica stays readable', async (t) => {
  const dir = t.testdir({});
  await copyFixtureReplica(dir);
  const { reader } = await open(t, dir);
  const writer = new ReplicaWriter(reader, { leaseOwner: 'writer-test:3' });
  await writer.acquireLease();
  // Pages 5 and 6 are new free-list leaves SQLite does not write; page 7 is the last page.
  const page1 = pageOf(STATE5, PAGE, 1).slice();
  new DataView(page1.buffer).setUint32(28, 7);
  const last = new Uint8Array(PAGE).fill(7);
  await writer.commit({ base: reader.current, pages: new Map([[1, page1], [7, last]]), commit: 7, pageSize: PAGE });
  const file = decodeLtxFile(readBytes(join(dir, 'ltx/0/0000000000000006-0000000000000006.ltx')), '6');
  t.same(file.pages.map((p) => p.pgno), [1, 5, 6, 7]);
  t.same(file.pages[1].data, new Uint8Array(PAGE));
  t.same(file.pages[2].data, new Uint8Array(PAGE));
  const client = await openFileReplica(dir);
  const fresh = await ReplicaReader.open(client, { pollIntervalMs: 0 });
  t.equal(fresh.current.commit, 7, 'another reader opens it');
  await fresh.close();
});

t.test('the lease: acquire, share a pending acquisition, refuse one held by another owner, release', async (t) => {
  const dir = t.testdir({});
  await copyFixtureReplica(dir);
  const { client, reader } = await open(t, dir);
  const writer = new ReplicaWriter(reader, { leaseOwner: 'writer-test:4', leaseTtlMs: 10_000 });
  t.equal(writer.lease, undefined);
  client.reset();
  const before = Date.now();
  const [a, b] = await Promise.all([writer.acquireLease(), writer.acquireLease()]);
  t.equal(a, b, 'concurrent acquisitions share one');
  t.equal(client.others, 2, 'one read and one create-only write of lock.json');
  t.equal(await writer.acquireLease(), a, 'a held lease is returned as is');
  const record = decodeLeaseRecord(new Uint8Array(await fs.readFile(join(dir, 'lock.json'))), 'lock.json');
  t.same({ owner: record.owner, generation: record.generation }, { owner: 'writer-test:4', generation: 1 });
  // Bracketed by the clock before and after, not bounded in time: a slow machine cannot fail it.
  t.ok(record.expiresAtMs >= before + 10_000 && record.expiresAtMs <= Date.now() + 10_000, 'leaseTtlMs');
  await writer.releaseLease();
  t.equal(writer.lease, undefined);
  t.notOk(existsSync(join(dir, 'lock.json')), 'lock.json deleted');
  await writer.releaseLease();

  const other = await openFileReplica(dir);
  t.teardown(() => other.close());
  const held = await Lease.acquire(other, { owner: 'node-b:4242', renew: false });
  await rejectsLtx(t, writer.acquireLease(), 'LTXVFS_ERR_LEASE_HELD', 'lock.json', /held by node-b:4242 until/);
  const auto = new ReplicaWriter(reader, { autoLease: true });
  const err = await rejectsLtx(t, async () => auto.reserve({}), 'LTXVFS_ERR_LEASE_HELD', 'lock.json', /held by node-b:4242/);
  t.equal((err as LtxvfsError).sqliteCode, SQLITE_BUSY, 'autoLease against a held lease: SQLITE_BUSY');
  await held.release();
  t.ok(await writer.acquireLease(), 'taken once the other owner released it');
  await writer.releaseLease();

  // Anything else acquiring fails with passes through as it is.
  await fs.writeFile(join(dir, 'lock.json'), '{"generation":"x"}');
  await rejectsLtx(t, async () => auto.reserve({}), 'LTXVFS_ERR_CORRUPT', 'lock.json', /not a lease record/);
});

t.test('reserve: the lease (or autoLease), one writing connection per process', async (t) => {
  const dir = t.testdir({});
  await copyFixtureReplica(dir);
  const { reader } = await open(t, dir);
  const writer = new ReplicaWriter(reader);
  const a = {};
  const b = {};
  const err = await rejectsLtx(t, async () => writer.reserve(a), 'LTXVFS_ERR_READONLY', `file://${dir}`,
    /writing needs the replica's write lease: run PRAGMA litevfs_acquire_lease, or open with \{ autoLease: true \}/);
  t.equal((err as LtxvfsError).sqliteCode, SQLITE_READONLY);
  await writer.acquireLease();
  await writer.reserve(a);
  await writer.reserve(a);
  const busy = await rejectsLtx(t, async () => writer.reserve(b), 'LTXVFS_ERR_CONFLICT', `file://${dir}`, /another connection of this process is writing/);
  t.equal((busy as LtxvfsError).sqliteCode, SQLITE_BUSY);
  writer.unreserve(b);
  await rejectsLtx(t, async () => writer.reserve(b), 'LTXVFS_ERR_CONFLICT', dir, /another connection/, /is writing/);
  writer.unreserve(a);
  await writer.reserve(b);
  writer.unreserve(b);
  await writer.releaseLease();

  const auto = new ReplicaWriter(reader, { autoLease: true, leaseOwner: 'auto:5' });
  await auto.reserve(a);
  t.equal(auto.lease?.owner, 'auto:5', 'autoLease took it at the reservation');
  t.ok(existsSync(join(dir, 'lock.json')));
  auto.unreserve(a);
  await auto.releaseLease();
});

t.test('commit refuses what it cannot ship, and keeps nothing of it', async (t) => {
  const dir = t.testdir({});
  await copyFixtureReplica(dir);
  const { client, reader } = await open(t, dir);
  const writer = new ReplicaWriter(reader, { leaseOwner: 'writer-test:6' });
  const state6 = await next(STATE5, "INSERT INTO t (name) VALUES ('six');");
  const tx6 = txOf(reader.current, STATE5, state6);
  const names5 = await l0(dir);

  t.test('without the lease: LEASE_LOST, SQLITE_BUSY', async (t) => {
    const err = await rejectsLtx(t, async () => writer.commit(tx6), 'LTXVFS_ERR_LEASE_LOST', `file://${dir}`,
      /the write lease was lost before commit; run PRAGMA litevfs_acquire_lease/);
    t.equal((err as LtxvfsError).sqliteCode, SQLITE_BUSY);
    t.same(await l0(dir), names5);
  });

  t.test('a storage failure is passed on; nothing stays and the reader does not move', async (t) => {
    await writer.acquireLease();
    client.beforeWrite = async (key) => {
      if (key.endsWith('.ltx')) throw new LtxvfsError('LTXVFS_ERR_STORAGE', `write ${key}: injected: no space left on device`, { key });
    };
    await rejectsLtx(t, async () => writer.commit(tx6), 'LTXVFS_ERR_STORAGE', 'ltx/0/0000000000000006-0000000000000006.ltx', /no space left/);
    client.beforeWrite = undefined;
    t.same(await l0(dir), names5);
    t.equal(reader.current.txid, 5);
    t.equal(writer.commits, 0);
  });

  t.test('another writer took the TXID: CONFLICT, SQLITE_BUSY; its file stays; the reader catches up; a retry succeeds', async (t) => {
    const theirs = await next(STATE5, "DELETE FROM t WHERE id > 100;");
    const written = await writeLtx(dir, diffDatabases(STATE5, theirs, { minTXID: 6, timestamp: Date.now() }));
    const err = await rejectsLtx(t, async () => writer.commit(tx6), 'LTXVFS_ERR_CONFLICT', 'ltx/0/0000000000000006-0000000000000006.ltx',
      /another writer committed TXID 0000000000000006 first/);
    t.equal((err as LtxvfsError).sqliteCode, SQLITE_BUSY);
    t.equal(((err as LtxvfsError).cause as LtxvfsError).code, 'LTXVFS_ERR_PRECONDITION');
    t.same(readBytes(join(dir, keyOf({ minTXID: 6, maxTXID: 6 }))), written.bytes, 'the other writer\'s file is untouched');
    await waitFor('the reader to apply TXID 6', () => reader.current.txid === 6);
    t.same(await sqlJsRows(theirs, 'SELECT count(*) AS n FROM t'), [{ n: 100 }]);

    const mine = await next(theirs, "INSERT INTO t (name) VALUES ('six');");
    const base = reader.current;
    await rejectsLtx(t, async () => writer.commit(tx6), 'LTXVFS_ERR_CONFLICT', `file://${dir}`,
      /the replica moved to TXID 0000000000000006 during a transaction begun at 0000000000000005/);
    await writer.commit(txOf(base, theirs, mine));
    t.same((await restored(dir)).bytes, mine, 'the retry on the new state shipped as TXID 7');
  });

  t.test('a lease taken over (renewal finds lock.json replaced): LEASE_LOST, SQLITE_BUSY, nothing written', async (t) => {
    const lease = writer.lease!;
    await fs.writeFile(join(dir, 'lock.json'), encodeLeaseRecord({ generation: 9, expiresAtMs: Date.now() + 60_000, owner: 'thief:9' }));
    await t.rejects(lease.renew(), { code: 'LTXVFS_ERR_LEASE_LOST', message: /taken over or deleted by another writer/ });
    const names = await l0(dir);
    const base = reader.current;
    const state = (await restored(dir)).bytes;
    const err = await rejectsLtx(t, async () => writer.commit(txOf(base, state, await next(state, 'DELETE FROM t;'))), 'LTXVFS_ERR_LEASE_LOST', dir, /lost before commit/);
    t.equal((err as LtxvfsError).sqliteCode, SQLITE_BUSY);
    t.same(await l0(dir), names);
    await rejectsLtx(t, writer.acquireLease(), 'LTXVFS_ERR_LEASE_HELD', 'lock.json', /thief:9/);
  });
});

t.test('a lease lost while a checksummed commit reads the old pages: LEASE_LOST with SQLITE_BUSY, nothing written', async (t) => {
  const dir = t.testdir({});
  await copyChecksummedReplica(dir);
  const { client, reader } = await open(t, dir, { cacheSizeBytes: 0 });
  const writer = new ReplicaWriter(reader, { leaseOwner: 'writer-test:7' });
  const lease = await writer.acquireLease();
  const state6 = await next(STATE5, "UPDATE t SET name = 'x' WHERE id = 3;");
  const release = client.hold();
  const reads = client.reads.length;
  const commit = writer.commit(txOf(reader.current, STATE5, state6));
  await waitFor('the old pages to be requested', () => client.reads.length > reads);
  await fs.writeFile(join(dir, 'lock.json'), encodeLeaseRecord({ generation: 3, expiresAtMs: Date.now() + 60_000, owner: 'thief:10' }));
  await lease.renew().catch(() => undefined);
  release();
  const err = await rejectsLtx(t, Promise.resolve(commit), 'LTXVFS_ERR_LEASE_LOST', `file://${dir}`, /taken over or deleted by another writer/, /acquire it again to write/);
  t.equal((err as LtxvfsError).sqliteCode, SQLITE_BUSY);
  t.equal(((err as LtxvfsError).cause as LtxvfsError).key, 'lock.json');
  t.equal((await l0(dir)).length, 5);
});

t.test('writerFor: one writer per reader, made with the first options; closing the reader releases its lease', async (t) => {
  const dir = t.testdir({});
  await copyFixtureReplica(dir);
  const client = await CountingClient.open(dir);
  const reader = await ReplicaReader.open(client, { pollIntervalMs: 0 });
  const writer = writerFor(reader, { leaseOwner: 'first:1' });
  t.equal(writerFor(reader, { leaseOwner: 'second:2' }), writer);
  t.equal(writerFor(reader), writer);
  await writer.acquireLease();
  t.equal(writer.lease?.owner, 'first:1');
  t.ok(existsSync(join(dir, 'lock.json')));
  await reader.close();
  t.notOk(existsSync(join(dir, 'lock.json')), 'released before the client closed');
});

t.test('acquireLease catches up to the newest TXID: a transaction begun after it does not conflict with what others shipped', async (t) => {
  const dir = t.testdir({});
  await copyFixtureReplica(dir);
  const a = await open(t, dir);
  const b = await open(t, dir);
  const writerB = new ReplicaWriter(b.reader, { leaseOwner: 'writer-test:b' });
  await writerB.acquireLease();
  const state6 = await next(STATE5, "INSERT INTO t (name) VALUES ('from b');");
  await writerB.commit(txOf(b.reader.current, STATE5, state6));
  await writerB.releaseLease();
  t.equal(a.reader.current.txid, 5, 'reader A, polling off, has not seen TXID 6');

  const writerA = new ReplicaWriter(a.reader, { leaseOwner: 'writer-test:a' });
  await writerA.acquireLease();
  t.equal(a.reader.current.txid, 6, 'caught up when the lease was taken');
  const state7 = await next(state6, "INSERT INTO t (name) VALUES ('from a');");
  t.equal((await writerA.commit(txOf(a.reader.current, state6, state7))).txid, 7);

  const state8 = await next(state7, "INSERT INTO t (name) VALUES ('again');");
  await writeLtx(dir, { ...diffDatabases(state7, state8, { minTXID: 8 }), level: 0 });
  await writerA.acquireLease();
  t.equal(a.reader.current.txid, 8, 'a held lease catches up too (what exec does after a conflict)');

  await fs.writeFile(join(dir, 'ltx/0/0000000000000009-0000000000000009.ltx'), 'not an LTX file');
  await rejectsLtx(t, writerA.acquireLease(), 'LTXVFS_ERR_CORRUPT', '0000000000000009-0000000000000009.ltx');
  t.ok(writerA.lease?.held, 'a failed catch-up keeps the lease held');
});

// A commit answered without a Promise costs SQLite no Asyncify unwind and rewind.
t.test('writeBehind: a commit is answered at once with room and its old pages cached, else later', async (t) => {
  const name = (n: number): string => `${n.toString(16).padStart(16, '0')}-${n.toString(16).padStart(16, '0')}.ltx`;
  const state6 = await next(STATE5, "UPDATE t SET name = 'one' WHERE id = 3;");
  const state7 = await next(state6, "UPDATE t SET name = 'two' WHERE id = 3;");
  const state8 = await next(state7, "UPDATE t SET name = 'three' WHERE id = 3;");

  t.test('pages cached', async (t) => {
    const dir = t.testdir({});
    await copyChecksummedReplica(dir);
    const { reader } = await open(t, dir);
    const writer = new ReplicaWriter(reader, { leaseOwner: 'writer-test:8', writeBehind: true });
    await writer.acquireLease();
    t.teardown(() => writer.releaseLease());
    for (const [before, after, txid] of [[STATE5, state6, 6], [state6, state7, 7], [state7, state8, 8]] as const) {
      const version = writer.commit(txOf(reader.current, before, after));
      t.notOk(version instanceof Promise, `TXID ${txid}: answered at once`);
      t.equal((version as PageIndex).txid, txid);
      t.equal(reader.current, version, 'and current at once');
    }
    t.equal(await writer.flush(), 8, 'uploaded behind');
    const files = await l0(dir);
    for (const n of [6, 7, 8]) t.ok(files.includes(name(n)), `TXID ${n} in the replica`);
    const report = await verified(dir);
    t.same(report.problems, []);
    t.equal(report.checksummed, true, 'the checksum chain holds across the three commits');
    t.same((await restored(dir)).bytes, state8);
  });

  t.test('a page to read, or no room', async (t) => {
    const dir = t.testdir({});
    await copyChecksummedReplica(dir);
    const { client, reader } = await open(t, dir, { cacheSizeBytes: 0 });
    const writer = new ReplicaWriter(reader, { leaseOwner: 'writer-test:9', writeBehind: true, writeBehindMaxBytes: 1 });
    await writer.acquireLease();
    t.teardown(() => writer.releaseLease());
    const reads = client.reads.length;
    const first = writer.commit(txOf(reader.current, STATE5, state6));
    t.ok(first instanceof Promise, 'no page cache: the old pages are read first');
    t.equal((await first).txid, 6);
    t.ok(client.reads.length > reads, 'they were read');
    const second = writer.commit(txOf(reader.current, state6, state7));
    t.ok(second instanceof Promise, 'one file staged, a bound of 1 byte: the commit waits for room');
    t.equal((await second).txid, 7);
    t.equal(await writer.flush(), 7);
    t.same((await restored(dir)).bytes, state7);
  });
});
