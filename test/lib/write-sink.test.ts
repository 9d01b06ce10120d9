/**
 * The write side of a connection (lib/write/write-sink.ts) through the SQL surface: LiteVFS's
 * lease PRAGMAs (`PRAGMA litevfs_acquire_lease` / `litevfs_release_lease`, docs/formats.md
 * §6.3), writes refused without the lease (SQLITE_READONLY, saying how to get it),
 * `autoLease`, a lease held by another owner, the lease given back on close, and the
 * read-only views (time travel, `readOnly`). Real directory replicas (a copy of the
 * Litestream-written fixture), real lock.json files.
 */
import t from 'tap';
import { existsSync, promises as fs } from 'node:fs';
import { join } from 'node:path';
import { decodeLeaseRecord, Lease } from '../../lib/write/lease.js';
import { openDatabase } from '../../lib/api/open.js';
import { openFileReplica } from '../../lib/storage/file/client.js';
import { leasePragma } from '../../lib/write/write-sink.js';
import { copyFixtureReplica, CountingClient } from '../helpers/replica-builder.js';
import { listLtxFiles, setLtxMtimesFromHeaders } from '../helpers/litestream.js';
import { openWritable, rejectsSqlite } from '../helpers/write-harness.js';

const SQLITE_ERROR = 1;
const SQLITE_BUSY = 5;
const SQLITE_READONLY = 8;
const SQLITE_CORRUPT = 11;
const INSERT = "INSERT INTO t (name) VALUES ('delta')";

async function fixture(): Promise<string> {
  const dir = t.testdir({});
  await copyFixtureReplica(dir);
  return dir;
}

async function lockOwner(dir: string): Promise<string | undefined> {
  const path = join(dir, 'lock.json');
  if (!existsSync(path)) return undefined;
  return decodeLeaseRecord(new Uint8Array(await fs.readFile(path)), 'lock.json').owner;
}

async function l0Names(dir: string): Promise<string[]> {
  return (await listLtxFiles(dir)).map((f) => f.name);
}

t.test('without the lease writes fail with SQLITE_READONLY saying how to get it; the PRAGMAs take and give it back; close releases it', async (t) => {
  const dir = await fixture();
  const db = await openDatabase(dir, { pollIntervalMs: 0, shared: false, leaseOwner: 'sink-test:1' });
  t.teardown(() => db.close());
  const url = `file://${dir}`;

  const cause = await rejectsSqlite(t, db.run(INSERT), SQLITE_READONLY, 'LTXVFS_ERR_READONLY',
    /writing needs the replica's write lease/, /PRAGMA litevfs_acquire_lease/, /autoLease: true/);
  t.equal(cause?.key, url, 'the error names the replica');
  t.equal(await lockOwner(dir), undefined, 'no lock.json was written');
  t.equal((await l0Names(dir)).length, 5, 'nothing shipped');
  t.same(await db.all('SELECT count(*) AS n FROM t'), [{ n: 250 }], 'reads still work');

  t.same(await db.all('PRAGMA litevfs_acquire_lease'), [], 'the acquire PRAGMA returns no row');
  t.equal(await lockOwner(dir), 'sink-test:1', 'lock.json names the owner');
  t.same(await db.all('PRAGMA litevfs_acquire_lease'), [], 'acquiring a held lease is a no-op');
  await db.run(INSERT);
  t.same(await l0Names(dir), ['0000000000000001-0000000000000001.ltx', '0000000000000002-0000000000000002.ltx',
    '0000000000000003-0000000000000003.ltx', '0000000000000004-0000000000000004.ltx', '0000000000000005-0000000000000005.ltx',
    '0000000000000006-0000000000000006.ltx'], 'the write shipped as TXID 6');
  t.same(await db.all('SELECT litestream_txid() AS txid'), [{ txid: '0000000000000006' }], 'litestream_txid() follows the commit');
  t.equal(db.stats().pinnedVersions, 0, 'no version stays pinned after the commit');

  t.same(await db.all('PRAGMA litevfs_release_lease'), [], 'the release PRAGMA returns no row');
  t.equal(await lockOwner(dir), undefined, 'lock.json is gone');
  await rejectsSqlite(t, db.run(INSERT), SQLITE_READONLY, 'LTXVFS_ERR_READONLY', /PRAGMA litevfs_acquire_lease/);
  t.same(await db.all('PRAGMA litevfs_release_lease'), [], 'releasing twice is fine');

  await db.exec('PRAGMA litevfs_acquire_lease');
  await db.run(INSERT);
  t.same(await db.all("SELECT count(*) AS n FROM t WHERE name = 'delta'"), [{ n: 2 }]);
  t.equal(await lockOwner(dir), 'sink-test:1');
  await db.close();
  t.equal(await lockOwner(dir), undefined, 'closing the database released the lease');
  t.equal((await l0Names(dir)).length, 7);
});

t.test('autoLease takes the lease at the first write, not at open or on reads', async (t) => {
  const dir = await fixture();
  const db = await openDatabase(dir, { pollIntervalMs: 0, shared: false, autoLease: true, leaseOwner: 'auto:2', leaseTtlMs: 45_000 });
  t.teardown(() => db.close());
  await db.all('SELECT * FROM t WHERE id < 10');
  t.equal(await lockOwner(dir), undefined, 'no lease for reads');
  const before = Date.now();
  await db.run(INSERT);
  const record = decodeLeaseRecord(new Uint8Array(await fs.readFile(join(dir, 'lock.json'))), 'lock.json');
  t.equal(record.owner, 'auto:2');
  t.equal(record.generation, 1);
  t.ok(record.expiresAtMs >= before + 45_000 && record.expiresAtMs <= Date.now() + 45_000, `leaseTtlMs sets expires_at (${record.expiresAt})`);
  t.equal((await l0Names(dir)).length, 6);
  await db.close();
  t.equal(await lockOwner(dir), undefined);
});

t.test('a lease held by another owner: the write and the PRAGMA fail naming the owner; once it is released, writing works', async (t) => {
  const dir = await fixture();
  const other = await openFileReplica(dir);
  t.teardown(() => other.close());
  const held = await Lease.acquire(other, { owner: 'node-b:4242', renew: false });

  const auto = await openDatabase(dir, { pollIntervalMs: 0, shared: false, autoLease: true });
  t.teardown(() => auto.close());
  const cause = await rejectsSqlite(t, auto.run(INSERT), SQLITE_BUSY, 'LTXVFS_ERR_LEASE_HELD',
    /lease already held by node-b:4242 until .* \(generation 1, lock\.json\)/);
  t.equal(cause?.key, 'lock.json');
  t.equal(cause?.sqliteCode, SQLITE_BUSY, 'SQLITE_BUSY ("database is locked"), not an I/O error');
  t.same(await auto.all('SELECT count(*) AS n FROM t'), [{ n: 250 }], 'the connection still reads');
  await auto.transaction(async (tx) => {
    await rejectsSqlite(t, tx.run(INSERT), SQLITE_BUSY, 'LTXVFS_ERR_LEASE_HELD', /node-b:4242/);
    throw new Error('roll back');
  }).catch(() => undefined);

  const manual = await openDatabase(dir, { pollIntervalMs: 0, shared: false });
  t.teardown(() => manual.close());
  const pragma = await manual.exec('PRAGMA litevfs_acquire_lease').catch((e: unknown) => e as Error & { cause?: Error & { code?: string } });
  t.ok(pragma instanceof Error, 'the acquire PRAGMA failed');
  t.match(pragma?.message, /lease already held by node-b:4242/, 'its message names the owner');
  t.equal(pragma?.cause?.code, 'LTXVFS_ERR_LEASE_HELD');
  t.equal(await lockOwner(dir), 'node-b:4242', 'the other owner keeps it');
  t.equal((await l0Names(dir)).length, 5, 'nothing shipped');

  await held.release();
  await auto.run(INSERT);
  t.equal((await l0Names(dir)).length, 6, 'after the release the write shipped');
  t.same(await auto.all("SELECT name FROM t WHERE name = 'delta'"), [{ name: 'delta' }]);
});

t.test('a lock.json that is not a lease record fails the write naming it; nothing is shipped or overwritten', async (t) => {
  const dir = await fixture();
  await fs.writeFile(join(dir, 'lock.json'), 'not json');
  const db = await openDatabase(dir, { pollIntervalMs: 0, shared: false, autoLease: true });
  t.teardown(() => db.close());
  await rejectsSqlite(t, db.run(INSERT), SQLITE_CORRUPT, 'LTXVFS_ERR_CORRUPT', /^lock\.json: not a lease record: not JSON$/);
  t.equal(await fs.readFile(join(dir, 'lock.json'), 'utf8'), 'not json');
  t.equal((await l0Names(dir)).length, 5);
});

t.test('read-only views refuse writes: readOnly, an `at` open, and a connection travelling in time', async (t) => {
  const dir = await fixture();
  await setLtxMtimesFromHeaders(dir);

  const ro = await openDatabase(dir, { pollIntervalMs: 0, shared: false, readOnly: true });
  t.teardown(() => ro.close());
  await rejectsSqlite(t, ro.run(INSERT), SQLITE_READONLY, undefined, /readonly database/);
  await rejectsSqlite(t, ro.all('PRAGMA litevfs_acquire_lease'), SQLITE_ERROR, 'LTXVFS_ERR_READONLY',
    /PRAGMA litevfs_acquire_lease refused: .* is open as a read-only connection, which never writes or takes the write lease$/);
  t.equal(await lockOwner(dir), undefined, 'refused, not ignored, and no lease was taken');

  const past = await openDatabase(dir, { pollIntervalMs: 0, shared: false, at: '3', autoLease: true });
  t.teardown(() => past.close());
  await rejectsSqlite(t, past.run(INSERT), SQLITE_READONLY, undefined, /readonly database/);
  t.same(await past.all('SELECT count(*) AS n FROM t'), [{ n: 303 }], 'it shows TXID 3');

  const db = await openDatabase(dir, { pollIntervalMs: 0, shared: false, autoLease: true });
  t.teardown(() => db.close());
  await db.exec("PRAGMA litestream_time = '2026-11-21T09:51:52Z'");
  t.same(await db.all('SELECT count(*) AS n FROM t'), [{ n: 3 }], 'travelled to TXID 2');
  await rejectsSqlite(t, db.run(INSERT), SQLITE_READONLY, 'LTXVFS_ERR_READONLY',
    /a time-travel view is read-only/, /PRAGMA litestream_time = 'latest'/);
  t.equal((await l0Names(dir)).length, 5, 'nothing shipped');
  await db.exec("PRAGMA litestream_time = 'latest'");
  await db.run(INSERT);
  t.same(await db.all('SELECT count(*) AS n FROM t'), [{ n: 251 }], 'back at the latest state the write works');
  t.equal((await l0Names(dir)).length, 6);
});

t.test('ConnectionSink and leasePragma on their own', async (t) => {
  const dir = await fixture();
  const client = await CountingClient.open(dir);
  const conn = await openWritable(client, { leaseOwner: 'unit:3' });
  t.teardown(() => conn.close());
  const pragma = leasePragma(conn.writer, conn.view);
  t.equal(pragma('litestream_txid'), undefined, 'other names are not handled');
  t.equal(pragma('journal_mode'), undefined);
  t.equal(await pragma('litevfs_acquire_lease'), null);
  t.equal(conn.writer.lease?.owner, 'unit:3');
  t.equal(await pragma('litevfs_release_lease'), null);
  t.equal(conn.writer.lease, undefined);

  // reserve: the view's check first (time travel), then the writer's (the lease).
  await conn.view.setAt('2');
  t.throws(() => conn.sink.reserve(), { code: 'LTXVFS_ERR_READONLY', message: /time-travel view is read-only/ });
  for (const name of ['litevfs_acquire_lease', 'litevfs_release_lease']) {
    t.throws(() => pragma(name), { code: 'LTXVFS_ERR_READONLY', message: new RegExp(`PRAGMA ${name} refused: .* a time-travel view`) });
  }
  await conn.view.setAt('latest');
  t.throws(() => conn.sink.reserve(), { code: 'LTXVFS_ERR_READONLY', sqliteCode: SQLITE_READONLY }, 'without the lease: refused at once');
  await conn.writer.acquireLease();
  await conn.sink.reserve();
  conn.sink.unreserve();

  // commit: the new version comes back pinned through the view (litestream_txid follows it).
  await conn.db.run(INSERT);
  t.equal(conn.view.visible.txid, 6, 'the view shows the committed version');
  t.equal(conn.reader.stats().pinnedVersions, 0, 'and nothing stays pinned');
  t.same(await conn.db.all('SELECT litestream_txid() AS txid'), [{ txid: '0000000000000006' }]);
});
