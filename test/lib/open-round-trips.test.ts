/**
 * Open in one round trip after the listing (issue 15 item 3), counted over s3rver behind
 * the fault proxy: every level listed in parallel, then the snapshot's header and page
 * index in two parallel range reads — the tail sized from the listed file size, so an
 * index over 32 KiB needs no third, sequential read. Requests and sequential depth are
 * counted (test/helpers/request-trace.ts), never timed.
 */
import t from 'tap';
import { join } from 'node:path';
import { openDatabase } from '../../lib/api/open.js';
import { ReplicaReader } from '../../lib/read/replica-reader.js';
import { newReadCounters } from '../../lib/read/fetcher.js';
import { HEAD_BYTES, loadLtxFile, TAIL_BYTES, tailBytesFor } from '../../lib/replica/ltx-loader.js';
import { listReplica, MAX_LEVEL } from '../../lib/replica/plan.js';
import { importDatabase } from '../../lib/tools/import.js';
import { openReplicaClient } from '../../lib/storage/url.js';
import { startFaultProxy } from '../helpers/fault-proxy.js';
import { startS3rver } from '../helpers/s3rver.js';
import { TracingClient } from '../helpers/request-trace.js';
import { copyFixtureReplica, rejectsLtx, sqliteCli } from '../helpers/replica-builder.js';
import { openFileReplica } from '../../lib/storage/file/client.js';

const ENV = { AWS_ACCESS_KEY_ID: 'S3RVER', AWS_SECRET_ACCESS_KEY: 'S3RVER' };
const ROWS = 400_000;

t.test('open over S3: 10 LISTs in parallel, then header and index in one round trip (before: a third, sequential read)', async (t) => {
  // A ~35 MB table of orders: its snapshot is larger than the whole-file bound and its index larger than 32 KiB.
  const db = join(t.testdir(), 'orders.db');
  sqliteCli(db, `PRAGMA page_size = 4096;
    CREATE TABLE orders (id INTEGER PRIMARY KEY, customer INT, amount REAL, note TEXT, created TEXT);
    WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c WHERE x < ${ROWS})
    INSERT INTO orders SELECT x, (x * 7919) % 10000, (x * 104729) % 100000 / 100.0, printf('%08x note %d', x * 2654435761 % 4294967296, x),
      datetime(1700000000 + x * 7, 'unixepoch') FROM c;`);
  const s3 = await startS3rver();
  t.teardown(() => s3.close());
  const proxy = await startFaultProxy(s3.endpoint);
  t.teardown(() => proxy.close());
  const url = `s3://${s3.bucket}/orders?endpoint=${proxy.endpoint}`;
  const writer = await openReplicaClient(`s3://${s3.bucket}/orders?endpoint=${s3.endpoint}`, { env: ENV });
  await importDatabase(db, writer);
  await writer.close();

  const client = new TracingClient(await openReplicaClient(url, { env: ENV }));
  t.teardown(() => client.close());
  const [snapshot] = await listReplica(client);
  t.ok(snapshot.size > 2 * 1024 * 1024, `the snapshot (${snapshot.size} bytes) is read in ranges`);

  // Before: the listing, then header and a fixed 32 KiB tail, then the rest of the index.
  client.restart();
  proxy.reset();
  await listReplica(client);
  await loadLtxFile(client, snapshot, newReadCounters(), undefined, undefined, TAIL_BYTES);
  const before = { requests: client.requests.length, depth: client.depth, gets: proxy.stats().requests.GET };
  t.same([before.requests, before.depth], [MAX_LEVEL + 1 + 3, 3], 'before: 13 requests, 3 round trips');
  t.equal(before.gets, before.requests, 'the proxy saw each of them');

  // After: ReplicaReader.open itself.
  client.restart();
  proxy.reset();
  const reader = await ReplicaReader.open(client, { pollIntervalMs: 0 });
  t.teardown(() => reader.close());
  const tail = tailBytesFor(snapshot.size);
  t.same(client.requests.map((r) => [r.what, r.depth]), [
    ...Array.from({ length: MAX_LEVEL + 1 }, (_, level) => [`LIST ${level}`, 1]),
    [`RANGE ${snapshot.key} 0+${HEAD_BYTES}`, 2],
    [`RANGE ${snapshot.key} ${snapshot.size - tail}+${tail}`, 2],
  ], 'after: every level listed at once, then header and sized tail at once');
  const after = { requests: client.requests.length, depth: client.depth, gets: proxy.stats().requests.GET };
  t.same([after.requests, after.depth, after.gets], [12, 2, 12], 'after: 12 requests, 2 round trips');
  t.equal(reader.current.commit > 4096, true, `${reader.current.commit} pages`);
  t.comment(`open of a ${snapshot.size}-byte snapshot over S3: before ${before.requests} requests in ${before.depth} round trips, after ${after.requests} in ${after.depth}`);

  // openDatabase: SQLite reads page 1 first of all; it came with the head (before: a miss, a third round trip).
  // (The snapshot's background verification starts from that first use; its reads are not the open's.)
  proxy.reset();
  const database = await openDatabase(url, { env: ENV, warmInterior: false, pollIntervalMs: 0, shared: false });
  t.teardown(() => database.close());
  const opened = database.stats();
  t.same([opened.readRequests, opened.cacheMisses, opened.cacheHits > 0], [2, 0, true], 'openDatabase: 2 reads, page 1 a cache hit: no third round trip');
  t.equal(proxy.stats().gets.list, MAX_LEVEL + 1, 'openDatabase: the same one listing round trip');
  t.same(await database.get('SELECT count(*) AS n FROM orders'), { n: ROWS });
});

t.test('headBytes: a bad value is a usage error naming it', async (t) => {
  const client = await openFileReplica(await copyFixtureReplica(t.testdir()));
  t.teardown(() => client.close());
  for (const bad of [-1, 1.5, Number.NaN]) {
    await rejectsLtx(t, ReplicaReader.open(client, { headBytes: bad, pollIntervalMs: 0 }), 'LTXVFS_ERR_USAGE', 'headBytes',
      new RegExp(`option headBytes ${String(bad)} is not a non-negative integer`));
  }
});
