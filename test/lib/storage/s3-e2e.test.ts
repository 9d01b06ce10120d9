/**
 * End to end over S3: the Chinook database imported into an s3:// replica on s3rver, then
 * queried with `openDatabase` — directly, and through the fault proxy with 20% of GETs
 * failing — and compared row for row with sql.js over the original file.
 */
import t from 'tap';
import { promises as fs } from 'node:fs';
import { join } from 'node:path';
import { importDatabase } from '../../../lib/tools/import.js';
import { openDatabase } from '../../../lib/api/open.js';
import { openReplicaClient } from '../../../lib/storage/url.js';
import { startFaultProxy } from '../../helpers/fault-proxy.js';
import { CHINOOK_DB } from '../../helpers/paths.js';
import { sqlJsRows } from '../../helpers/replica-builder.js';
import { S3RVER_CREDENTIALS, startS3rver } from '../../helpers/s3rver.js';

const ENV = { AWS_ACCESS_KEY_ID: 'S3RVER', AWS_SECRET_ACCESS_KEY: 'S3RVER' };

const QUERIES = [
  'SELECT * FROM Artist ORDER BY ArtistId',
  'SELECT * FROM Track ORDER BY TrackId',
  'SELECT count(*) AS n, sum(Total) AS total, min(InvoiceDate) AS first, max(InvoiceDate) AS last FROM Invoice',
  `SELECT g.Name AS genre, count(*) AS tracks, sum(t.Milliseconds) AS ms
     FROM Track t JOIN Genre g ON g.GenreId = t.GenreId GROUP BY g.GenreId ORDER BY tracks DESC, genre`,
  `SELECT c.Country, count(DISTINCT c.CustomerId) AS customers, round(sum(il.UnitPrice * il.Quantity), 2) AS revenue
     FROM Customer c JOIN Invoice i ON i.CustomerId = c.CustomerId JOIN InvoiceLine il ON il.InvoiceId = i.InvoiceId
     GROUP BY c.Country ORDER BY revenue DESC, c.Country`,
  "SELECT * FROM Track WHERE Name LIKE '%love%' ORDER BY Name",
  'PRAGMA integrity_check',
];

t.test('Chinook imported into s3:// reads back row for row, with and without faults', async (t) => {
  const s3 = await startS3rver();
  t.teardown(() => s3.close());
  const dir = t.testdir({});
  const dbPath = join(dir, 'chinook.db');
  await fs.copyFile(CHINOOK_DB, dbPath);
  const original = new Uint8Array(await fs.readFile(dbPath));

  const url = `s3://${s3.bucket}/music/chinook?endpoint=${s3.endpoint}&forcePathStyle=true`;
  const client = await openReplicaClient(url, { env: ENV });
  const result = await importDatabase(dbPath, client, { timestamp: 1795254709256 });
  await client.close();
  t.equal(result.key, 'music/chinook/0000/0000000000000001-0000000000000001.ltx', 'a level-0 snapshot at Litestream\'s s3 key');
  t.equal(result.pageSize * result.commit, original.length);

  const expected = await Promise.all(QUERIES.map((sql) => sqlJsRows(original, sql)));

  const db = await openDatabase(url, { env: ENV });
  try {
    for (const [i, sql] of QUERIES.entries()) t.same(await db.all(sql), expected[i], sql.split('\n')[0]);
  } finally {
    await db.close();
  }

  const proxy = await startFaultProxy(s3.endpoint, { verifySignatures: S3RVER_CREDENTIALS, getErrorRate: 0.2, latencyMs: 1, seed: 3 });
  t.teardown(() => proxy.close());
  const faulty = await openDatabase(`s3://${s3.bucket}/music/chinook?endpoint=${proxy.endpoint}`, { env: ENV });
  try {
    for (const [i, sql] of QUERIES.entries()) t.same(await faulty.all(sql), expected[i], `through 20% 503s: ${sql.split('\n')[0]}`);
  } finally {
    await faulty.close();
  }
  t.ok(proxy.stats().faults.errors > 0, `${proxy.stats().faults.errors} GETs failed and were retried`);
});
