/**
 * Request counts of the three cold rows issue 15 names, over S3 (s3rver behind the fault
 * proxy adding 10 ms per request), each in a reader of its own opened right before the
 * query, with the defaults (interior warm-up on, as for every s3:// URL): a point lookup,
 * a range of 1,000 keys, a full scan. The figures are printed, not asserted (they move with
 * the scheduling they describe); what is asserted is that the rows are right.
 */
import t from 'tap';
import { join } from 'node:path';
import { openDatabase, warmupOf } from '../../lib/api/open.js';
import { openReplicaClient } from '../../lib/storage/url.js';
import { importDatabase } from '../../lib/tools/import.js';
import { makeOracleDatabase } from '../helpers/datagen.js';
import { sqliteQuery } from '../helpers/sqlite-cli.js';
import { requireSqlite3 } from '../helpers/paths.js';
import { startS3rver } from '../helpers/s3rver.js';
import { startFaultProxy } from '../helpers/fault-proxy.js';

requireSqlite3();

const ENV = { AWS_ACCESS_KEY_ID: 'S3RVER', AWS_SECRET_ACCESS_KEY: 'S3RVER' };

t.test('cold point lookup, 1,000-key range and full scan right after open over S3: requests printed', async (t) => {
  const s3 = await startS3rver();
  t.teardown(() => s3.close());
  const proxy = await startFaultProxy(s3.endpoint, { latencyMs: 10 });
  t.teardown(() => proxy.close());
  const dir = t.testdir();
  const source = join(dir, 'source.db');
  const info = await makeOracleDatabase(source, { approxBytes: 32 * 2 ** 20, seed: 3 });
  const direct = await openReplicaClient(`s3://${s3.bucket}/db?endpoint=${s3.endpoint}&forcePathStyle=true`, { env: ENV });
  await importDatabase(source, direct);
  await direct.close();
  const url = `s3://${s3.bucket}/db?endpoint=${proxy.endpoint}&forcePathStyle=true`;
  t.comment(`database: ${(info.bytes / 2 ** 20).toFixed(1)} MiB, ${info.pageCount} pages, ${info.orders} orders`);

  const rows: [string, string][] = [
    ['cold point lookup', `SELECT id, user_id, amount_cents FROM orders WHERE id = ${Math.floor(info.orders * 0.61)}`],
    ['cold 1,000-key range', `SELECT count(*) AS n, sum(amount_cents) AS s FROM orders WHERE id BETWEEN ${Math.floor(info.orders * 0.3)} AND ${Math.floor(info.orders * 0.3) + 999}`],
    ['cold full scan', 'SELECT count(*) AS n, sum(length(payload)) AS s FROM documents'],
  ];
  for (const [name, sql] of rows) {
    const expected = await sqliteQuery(source, sql);
    proxy.reset();
    const started = performance.now();
    const db = await openDatabase(url, { env: ENV, shared: false, pollIntervalMs: 0 });
    const atOpen = proxy.stats().gets.object;
    const opened = performance.now();
    const got = await db.all(sql);
    const atQuery = proxy.stats();
    const openMs = opened - started;
    const ms = performance.now() - opened;
    t.same(got, expected, `${name}: rows as the sqlite3 CLI gives them`);
    await warmupOf(db);
    const s = db.stats();
    t.comment(`${name}: ${atOpen} object GETs at open, ${atQuery.gets.object} when the query returned ` +
      `(${(atQuery.bytesOut.GET / 2 ** 20).toFixed(2)} MiB, open ${openMs.toFixed(0)} ms, query ${ms.toFixed(0)} ms); ${proxy.stats().gets.object} after the warm-up; reader: ${s.readRequests} reads, ${s.pagesFetched} pages`);
    await db.close();
  }
});
