import t, { type Test } from 'tap';
import { join } from 'node:path';
import { openDatabase, warmupOf } from '../../lib/api/open.js';
import { openReplicaClient } from '../../lib/storage/url.js';
import { importDatabase } from '../../lib/tools/import.js';
import { ReplicaReader } from '../../lib/read/replica-reader.js';
import { interiorChildren, warmInteriorPages } from '../../lib/read/warmup.js';
import { makeOracleDatabase } from '../helpers/datagen.js';
import { sqliteQuery } from '../helpers/sqlite-cli.js';
import { requireSqlite3 } from '../helpers/paths.js';
import { CountingClient } from '../helpers/replica-builder.js';

requireSqlite3();

async function replicaOf(t: Test): Promise<{ replica: string; source: string }> {
  const dir = t.testdir();
  const source = join(dir, 'source.db');
  await makeOracleDatabase(source, { approxBytes: 12 * 1024 * 1024 });
  const replica = join(dir, 'replica');
  const client = await openReplicaClient(replica, { create: true });
  await importDatabase(source, client);
  await client.close();
  return { replica, source };
}

t.test('warm-up caches exactly the interior pages SQLite\'s dbstat reports, and cold lookups then need one read per leaf', async (t) => {
  const { replica, source } = await replicaOf(t);
  const interior = (await sqliteQuery(source, "SELECT pageno FROM dbstat WHERE pagetype = 'internal' ORDER BY pageno")).map((r) => Number(r.pageno));
  t.ok(interior.length > 5, `${interior.length} interior pages in the source`);

  const cold = await openDatabase(replica, { shared: false, pollIntervalMs: 0, headBytes: 100 }); // header only: no pages come with it
  t.equal(warmupOf(cold), undefined, 'no warm-up unless asked');
  const before = cold.stats().readRequests;
  await cold.get('SELECT * FROM orders WHERE id = 12345');
  const coldReads = cold.stats().readRequests - before;
  await cold.close();

  const db = await openDatabase(replica, { shared: false, pollIntervalMs: 0, warmInterior: true });
  const result = await warmupOf(db)!;
  t.equal(result.interiorPages, interior.length, 'every interior page found');
  t.equal(result.failures, 0);
  t.ok(result.pagesRead <= interior.length * 2 + 20, `pages read ${result.pagesRead}: interior pages plus a leaf probe per tree`);
  const warmed = db.stats().readRequests;
  await db.get('SELECT * FROM orders WHERE id = 12345');
  const warmReads = db.stats().readRequests - warmed;
  t.equal(warmReads, 1, 'a cold point lookup by rowid reads only its leaf');
  t.ok(coldReads > warmReads, `without warm-up it took ${coldReads} reads`);
  t.same(await db.get('SELECT count(*) AS n FROM orders WHERE id = 12345'), { n: 1 });
  await db.close();
});

t.test('the walk reads through the reader: every interior page is then a cache hit', async (t) => {
  const { replica, source } = await replicaOf(t);
  const interior = (await sqliteQuery(source, "SELECT pageno FROM dbstat WHERE pagetype = 'internal'")).map((r) => Number(r.pageno));
  const roots = (await sqliteQuery(source, 'SELECT rootpage FROM sqlite_schema WHERE rootpage > 0')).map((r) => Number(r.rootpage));
  const client = new CountingClient(await openReplicaClient(replica));
  const reader = await ReplicaReader.open(client, { pollIntervalMs: 0 });
  const version = reader.current;
  await warmInteriorPages(reader, version, [1, ...roots, 0, version.commit + 5]);
  for (const pgno of interior) t.ok(reader.readPage(version, pgno) instanceof Uint8Array, `page ${pgno} cached`);
  await reader.close();
});

t.test('pages that cannot be read are counted, not thrown', async (t) => {
  const { replica } = await replicaOf(t);
  const client = new CountingClient(await openReplicaClient(replica));
  const reader = await ReplicaReader.open(client, { pollIntervalMs: 0, cacheSizeBytes: 0 });
  client.fault = () => new Error('injected read failure');
  client.reset();
  const r = await warmInteriorPages(reader, reader.current, [2, 3]);
  t.ok(r.failures > 0);
  t.equal(r.interiorPages, 0);
  t.equal(r.skipped, 2, 'both roots skipped');
  t.ok(client.reads.length <= r.failures, `${client.reads.length} requests for ${r.failures} pages that failed: none read again as a demand read`);
  await reader.close();
});

t.test('interiorChildren parses interior pages and refuses others', async (t) => {
  const page = new Uint8Array(4096);
  const v = new DataView(page.buffer);
  page[0] = 0x05; // interior table
  v.setUint16(3, 2);
  v.setUint32(8, 99); // right-most child
  v.setUint16(12, 1000);
  v.setUint16(14, 2000);
  v.setUint32(1000, 7);
  v.setUint32(2000, 8);
  t.same(interiorChildren(page, 0), [7, 8, 99]);
  page[0] = 0x02;
  t.same(interiorChildren(page, 0), [7, 8, 99], 'interior index pages too');
  page[0] = 0x0d;
  t.equal(interiorChildren(page, 0), undefined, 'leaf');
  page[0] = 0x05;
  v.setUint16(14, 4094);
  t.equal(interiorChildren(page, 0), undefined, 'a cell pointer past the page end');
});
