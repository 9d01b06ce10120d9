/**
 * The disk tier (lib/cache/disk-cache.ts): restarts at the same TXID read nothing but the
 * listing; after new commits only the new LTX file is read; bad entries edited on disk
 * are rejected and refetched, never returned; eviction keeps the directory bounded;
 * processes sharing one directory under load return correct rows; and over S3 a second
 * process costs zero object GETs (the fault proxy's counters).
 */
import t, { type Test } from 'tap';
import { promises as fs, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { ReplicaReader } from '../../../lib/read/replica-reader.js';
import { DiskCache } from '../../../lib/cache/disk-cache.js';
import { importDatabase } from '../../../lib/tools/import.js';
import { openReplicaClient } from '../../../lib/storage/url.js';
import { openAsyncifyDatabase } from '../../../vfs/asyncify/database.js';
import type { Database } from '../../../lib/sql/database.js';
import type { ReplicaStats } from '../../../lib/read/replica-reader.js';
import {
  CountingClient, diffDatabases, keyOf, loadSqlJs, ltxFileFromSpec, randomPage, snapshotFromDatabase, sqlJsRows, writeLtx,
} from '../../helpers/replica-builder.js';
import { chinookBytes } from '../../helpers/bytes-source.js';
import { runChild } from '../../helpers/ltxvfs-child.js';
import { startS3rver } from '../../helpers/s3rver.js';
import { startFaultProxy } from '../../helpers/fault-proxy.js';

const QUERIES = [
  'SELECT ArtistId, Name FROM Artist WHERE ArtistId IN (1, 42, 100, 200) ORDER BY ArtistId',
  'SELECT count(*) AS n, sum(Milliseconds) AS ms, max(Name) AS last FROM Track',
  'SELECT a.Name AS name, count(*) AS albums FROM Album al JOIN Artist a USING (ArtistId) GROUP BY a.ArtistId ORDER BY albums DESC, a.Name LIMIT 5',
];

const CHINOOK = chinookBytes();

/** Chinook after an update touching many Track pages and a few Artist pages. */
async function chinookUpdated(): Promise<Uint8Array> {
  const SQL = await loadSqlJs();
  const db = new SQL.Database(CHINOOK);
  try {
    db.exec("UPDATE Artist SET Name = Name || ' (remastered)' WHERE ArtistId IN (1, 100, 200); UPDATE Track SET Name = Name || ' (live)' WHERE TrackId % 5 = 0");
    return db.export();
  } finally {
    db.close();
  }
}

async function expected(bytes: Uint8Array): Promise<Record<string, unknown>[][]> {
  return Promise.all(QUERIES.map((q) => sqlJsRows(bytes, q)));
}

interface Opened {
  client: CountingClient;
  reader: ReplicaReader;
  db: Database<ReplicaStats>;
}

/** A reader over a counting client of `replica` with the disk tier in `cacheDir`, and a Database on it. */
async function openWith(replica: string, cacheDir: string, options: { cacheSizeBytes?: number; wholeFileBytes?: number } = {}): Promise<Opened> {
  const client = await CountingClient.open(replica);
  const reader = await ReplicaReader.open(client, { pollIntervalMs: 0, cacheDir, ...options });
  const db = await openAsyncifyDatabase(reader, { statsProvider: () => reader.stats(), onClose: () => reader.close() });
  return { client, reader, db };
}

async function dirBytes(dir: string): Promise<number> {
  let n = 0;
  for (const e of await fs.readdir(dir, { withFileTypes: true })) {
    const p = join(dir, e.name);
    n += e.isDirectory() ? await dirBytes(p) : (await fs.stat(p)).size;
  }
  return n;
}

async function runQueries(db: Database<ReplicaStats>): Promise<Record<string, unknown>[][]> {
  const out: Record<string, unknown>[][] = [];
  for (const q of QUERIES) out.push(await db.all(q));
  return out;
}

/** A replica of Chinook (one snapshot) and a cache directory beside it, in the test's directory. */
async function chinookReplica(t: Test): Promise<{ replica: string; cacheDir: string; root: string }> {
  const root = t.testdir();
  const replica = join(root, 'replica');
  await writeLtx(replica, snapshotFromDatabase(CHINOOK));
  return { replica, cacheDir: join(root, 'cache'), root };
}

t.test('a fresh reader with the same cacheDir answers what it asked before, at the same TXID, with no storage read', async (t) => {
  const { replica, cacheDir } = await chinookReplica(t);
  const want = await expected(CHINOOK);

  const first = await openWith(replica, cacheDir);
  t.same(await runQueries(first.db), want);
  t.ok(first.client.reads.length > 0, 'the first run reads from storage');
  await first.db.close();

  const second = await openWith(replica, cacheDir);
  t.same(await runQueries(second.db), want, 'same rows');
  t.same(second.client.reads, [], 'no range read at all: page indexes and pages come from disk');
  t.ok(second.client.lists > 0, 'the listing is still made (that is how a new TXID would be seen)');
  const s = second.db.stats();
  t.equal(s.readRequests, 0);
  t.equal(s.diskCache?.fileHits, 1, 'the snapshot\'s page index came from disk');
  t.ok((s.diskCache?.hits ?? 0) > 0, 'pages came from disk');
  t.equal(s.diskCache?.rejected, 0);

  // A disk hit is answered synchronously (no Asyncify unwind): bytes, not a Promise.
  const version = second.reader.acquire();
  const page = second.reader.readPage(version, 1);
  second.reader.release(version);
  t.ok(page instanceof Uint8Array, 'readPage returns the bytes of a disk hit synchronously');
  await second.db.close();
});

t.test('after a new commit, a fresh reader reads only the new LTX file, and only the pages it changed', async (t) => {
  const { replica, cacheDir } = await chinookReplica(t);
  const first = await openWith(replica, cacheDir);
  await runQueries(first.db);
  await first.db.close();

  const updated = await chinookUpdated();
  const diff = diffDatabases(CHINOOK, updated, { minTXID: 2 });
  const { key, bytes } = await writeLtx(replica, diff);
  t.ok(bytes.length > 32 * 1024, 'the new file is larger than the tail read, so its pages are read on demand');

  const second = await openWith(replica, cacheDir);
  t.same(await runQueries(second.db), await expected(updated), 'rows of the new state');
  t.ok(second.client.reads.length > 0);
  t.same([...new Set(second.client.reads.map((r) => r.key))], [key], 'every storage read is of the new file');
  const s = second.db.stats();
  t.ok(s.pagesFetched <= diff.pages.length, `pages fetched (${s.pagesFetched}) are pages of the new file (${diff.pages.length})`);
  t.ok((s.diskCache?.hits ?? 0) > 0, 'unchanged pages came from disk');
  await second.db.close();
});

t.test('corrupt, truncated and stale entries edited on disk are rejected and refetched, never returned', async (t) => {
  const { replica, cacheDir } = await chinookReplica(t);
  const want = await expected(CHINOOK);
  // The snapshot paged by range reads (as a file above the whole-file bound), so pages come from disk entries.
  const paged = { wholeFileBytes: 32 * 1024, headBytes: 100 }; // header only: pages 1… come from their disk entries
  const first = await openWith(replica, cacheDir, paged);
  await runQueries(first.db);
  await first.reader.verified();
  const roots = Object.fromEntries((await first.db.all("SELECT name, rootpage FROM sqlite_schema WHERE name IN ('Artist', 'Track')"))
    .map((r) => [r.name as string, Number(r.rootpage)]));
  const disk = first.reader.diskCache!;
  const v = first.reader.current;
  const pathOf = (pgno: number): string => disk.pagePath(v.get(pgno)!);
  const filePath = disk.filePath(v.files[0].info);
  await first.db.close();

  // Page 1: one byte of the page flipped (its checksum no longer matches).
  const p1 = await fs.readFile(pathOf(1));
  p1[p1.length - 100] ^= 0x40;
  await fs.writeFile(pathOf(1), p1);
  // Artist's root: replaced by Track's root entry, a valid entry of another frame (stale).
  await fs.copyFile(pathOf(roots.Track), pathOf(roots.Artist));
  // Track's root: cut in half (a torn write).
  const track = await fs.readFile(pathOf(roots.Track));
  await fs.writeFile(pathOf(roots.Track), track.subarray(0, track.length >> 1));
  // The snapshot's page index entry: one byte flipped.
  const meta = await fs.readFile(filePath);
  meta[meta.length - 20] ^= 0x01;
  await fs.writeFile(filePath, meta);

  const second = await openWith(replica, cacheDir, paged);
  t.same(await runQueries(second.db), want, 'rows are right');
  await second.reader.verified();
  const s = second.db.stats();
  t.equal(s.diskCache?.rejected, 4, 'four bad entries found');
  t.equal(s.diskCache?.fileMisses, 1, 'the page index was read from storage again');
  const fetched = new Set(second.client.reads.filter((r) => r.length < 32 * 1024).map((r) => r.offset));
  t.ok(fetched.size >= 3, 'the three bad pages were fetched again');
  await second.db.close();

  const third = await openWith(replica, cacheDir, paged);
  t.same(await runQueries(third.db), want);
  t.same(third.client.reads, [], 'the refetched entries were written back whole; the snapshot is known verified');
  t.equal(third.db.stats().diskCache?.rejected, 0);
  await third.db.close();
});

t.test('a replica replaced under the same keys never serves the old entries', async (t) => {
  const { replica, cacheDir } = await chinookReplica(t);
  const first = await openWith(replica, cacheDir);
  await runQueries(first.db);
  await first.db.close();

  // Another database as TXID 1 under the same key, written later (as a new Litestream history would be).
  const updated = await chinookUpdated();
  await fs.rm(join(replica, 'ltx'), { recursive: true });
  await writeLtx(replica, { ...snapshotFromDatabase(updated), timestamp: Date.now() });
  const second = await openWith(replica, cacheDir);
  t.same(await runQueries(second.db), await expected(updated), 'rows of the new content');
  t.equal(second.db.stats().diskCache?.hits, 0, 'no old page matched: the file checksum is part of every page entry');
  await second.db.close();
});

t.test('eviction keeps the directory near its bound, oldest entries first; scans remove stale temporary files', async (t) => {
  const dir = t.testdir();
  const spec = {
    minTXID: 1, maxTXID: 1, pageSize: 4096, commit: 64,
    pages: Array.from({ length: 64 }, (_, i) => ({ pgno: i + 1, data: randomPage(i + 1) })),
  };
  const file = ltxFileFromSpec(spec);
  const maxBytes = 40 * 4300;
  const disk = new DiskCache(dir, 'file:///replica', { maxBytes, maxPendingBytes: 1 << 20 });
  for (let n = 0; n < 16; n++) disk.putPage({ file, entry: n }, spec.pages[n].data);
  await disk.flush();
  // The first eight are the least recently used.
  const old = new Date(Date.now() - 3_600_000);
  for (let n = 0; n < 8; n++) await fs.utimes(disk.pagePath({ file, entry: n }), old, old);
  for (let n = 16; n < 64; n++) disk.putPage({ file, entry: n }, spec.pages[n].data);
  await disk.flush();
  const leftover = join(dir, 'v1', 'tmp', 'crashed-writer');
  await fs.writeFile(leftover, 'x');
  await fs.utimes(leftover, old, old);
  await disk.scan();
  const scan = await disk.scan();
  // Scans also run in the background as writes pass maxBytes / 16; whichever evicted, the bound holds now.
  t.ok(disk.stats().bytesWritten > maxBytes, `${disk.stats().bytesWritten} bytes were written, more than the bound`);
  t.ok(scan.bytesAfter <= maxBytes, `after eviction: ${scan.bytesAfter} ≤ ${maxBytes} bytes`);
  const present = (n: number): boolean => readdirSync(join(dir, 'v1', 'pages')).some((shard) =>
    readdirSync(join(dir, 'v1', 'pages', shard)).includes(disk.pagePath({ file, entry: n }).split('/').pop()!));
  t.same(Array.from({ length: 8 }, (_, n) => present(n)), Array(8).fill(false), 'the oldest entries went first');
  t.ok(present(63), 'the newest stayed');
  t.ok(disk.stats().evictions >= 8);
  await t.rejects(fs.stat(leftover), 'a temporary file left by a crash is removed');
  t.equal(disk.getPage({ file, entry: 0 }, 4096), undefined, 'an evicted entry is a miss');
  t.same(disk.getPage({ file, entry: 63 }, 4096), spec.pages[63].data, 'a kept entry reads back');
  await disk.close();
});

t.test('entries of another page size, replica or identity are misses; a bad cacheDir is a usage error', async (t) => {
  const dir = t.testdir();
  const spec = { minTXID: 1, maxTXID: 1, pageSize: 4096, commit: 1, pages: [{ pgno: 1, data: randomPage(7) }] };
  const file = ltxFileFromSpec(spec);
  const disk = new DiskCache(dir, 'file:///a');
  disk.putPage({ file, entry: 0 }, spec.pages[0].data);
  await disk.flush();
  t.same(disk.getPage({ file, entry: 0 }, 4096), spec.pages[0].data);
  t.equal(disk.getPage({ file, entry: 0 }, 8192), undefined, 'another page size: rejected');
  disk.putPage({ file, entry: 0 }, spec.pages[0].data);
  await disk.flush();
  const other = new DiskCache(dir, 'file:///b');
  t.equal(other.getPage({ file, entry: 0 }, 4096), undefined, 'another replica URL: another entry');
  t.equal(disk.stats().rejected, 1);
  await disk.close();
  await other.close();
  const blocker = join(dir, 'a-file');
  await fs.writeFile(blocker, '');
  t.throws(() => new DiskCache(join(blocker, 'sub'), 'file:///a'), { code: 'LTXVFS_ERR_USAGE' });
  t.throws(() => new DiskCache(dir, 'file:///a', { maxBytes: -1 }), { code: 'LTXVFS_ERR_USAGE' });
});

t.test('four processes sharing one cacheDir under load (memory cache off, constant eviction) return correct rows', async (t) => {
  const { replica, cacheDir } = await chinookReplica(t);
  const ids = Array.from({ length: 60 }, (_, i) => [1 + ((i * 577) % 3503)]);
  const point = 'SELECT TrackId, Name, Composer, UnitPrice FROM Track WHERE TrackId = ?';
  const want: Record<string, unknown>[][] = [];
  for (let round = 0; round < 3; round++) {
    for (const q of QUERIES) want.push(await sqlJsRows(CHINOOK, q));
  }
  const wantPoints = await Promise.all(ids.map((p) => sqlJsRows(CHINOOK, point, p)));
  const command = (queries: string[], params?: number[][]) => runChild({
    mode: 'query',
    url: replica,
    options: { cacheDir, cacheSizeBytes: 0, cacheDirSizeBytes: 96 * 1024 },
    queries,
    params,
    rounds: 3,
  });
  const [a, b, c, d] = await Promise.all([command(QUERIES), command(QUERIES), command([point], ids), command([point], ids)]);
  t.same(a.results, want, 'process 1: every row right');
  t.same(b.results, want, 'process 2: every row right');
  const pointsWant = [...wantPoints, ...wantPoints, ...wantPoints];
  t.same(c.results, pointsWant, 'process 3: every point lookup right');
  t.same(d.results, pointsWant, 'process 4: every point lookup right');
  const disk = [a, b, c, d].map((r) => r.stats.diskCache as { hits: number; bytesWritten: number; rejected: number });
  t.ok(disk.every((s) => s.hits > 0), 'every process read pages from disk');
  t.same(disk.map((s) => s.rejected), [0, 0, 0, 0], 'no entry was ever seen torn');
  const written = disk.reduce((n, s) => n + s.bytesWritten, 0);
  const left = await dirBytes(join(cacheDir, 'v1'));
  t.ok(written > 96 * 1024 && left < written, `eviction ran while they read: ${written} bytes written, ${left} left`);
});

t.test('over S3: a second process runs the same query with zero object GETs (the listing is the only request)', async (t) => {
  const s3 = await startS3rver();
  t.teardown(() => s3.close());
  const proxy = await startFaultProxy(s3.endpoint, { latencyMs: 10 });
  t.teardown(() => proxy.close());
  const env = { AWS_ACCESS_KEY_ID: 'S3RVER', AWS_SECRET_ACCESS_KEY: 'S3RVER' };
  const dir = t.testdir();
  const source = join(dir, 'chinook.db');
  await fs.writeFile(source, CHINOOK);
  const direct = await openReplicaClient(`s3://${s3.bucket}/chinook?endpoint=${s3.endpoint}&forcePathStyle=true`, { env });
  await importDatabase(source, direct);
  await direct.close();
  const url = `s3://${s3.bucket}/chinook?endpoint=${proxy.endpoint}&forcePathStyle=true`;
  const cacheDir = join(dir, 'cache');
  const command = { mode: 'query' as const, url, env, options: { cacheDir }, queries: QUERIES };

  proxy.reset();
  const first = await runChild(command);
  const cold = proxy.stats();
  t.same(first.results, await expected(CHINOOK));
  t.ok(cold.gets.object > 0, `first process: ${cold.gets.object} object GETs`);

  proxy.reset();
  const second = await runChild(command);
  const warm = proxy.stats();
  t.same(second.results, await expected(CHINOOK), 'same rows');
  t.equal(warm.gets.object, 0, 'second process: no object GET');
  t.equal(warm.gets.list, 10, 'the listing: one ListObjectsV2 per level 0…9');
  t.same(Object.keys(warm.requests), ['GET'], 'nothing but those GETs');
});
