/**
 * Interop over gs:// with the real Litestream 0.5.17 VFS (write mode) on firebase-tools'
 * Cloud Storage emulator, both given the same `LITESTREAM_REPLICA_URL` and
 * `STORAGE_EMULATOR_HOST`: ltxvfs (`openDatabase`) reads exactly the rows Litestream reads,
 * at every point in time (timestamps from the `litestream-timestamp` metadata Litestream
 * wrote); ltxvfs writes under the lease and Litestream reads it back. Prints requests and
 * time for open + a cold point lookup and a full scan beside the same replica on file://.
 */
import t from 'tap';
import { join } from 'node:path';
import { openDatabase } from '../../../lib/api/open.js';
import { openReplicaClient } from '../../../lib/storage/url.js';
import { openFileReplica } from '../../../lib/storage/file/client.js';
import { decodeHeader } from '../../../ltx/header.js';
import { startGcsEmulator, type GcsEmulator } from '../../helpers/gcs-emulator.js';
import { litestreamQuery, litestreamQueryMany, litestreamWrite, litestreamWriteMany } from '../../helpers/litestream.js';
import { requireSqlite3 } from '../../helpers/paths.js';

let gcs: GcsEmulator;
t.before(async () => {
  requireSqlite3();
  gcs = await startGcsEmulator();
});
t.teardown(() => gcs?.close());

const HISTORY = [
  'CREATE TABLE t (id INTEGER PRIMARY KEY, name TEXT, pad TEXT);',
  "WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c WHERE x < 400) INSERT INTO t SELECT x, 'row ' || x, hex(randomblob(100)) FROM c;",
  "UPDATE t SET name = 'changed' WHERE id % 7 = 0 OR id > 350;",
];
const QUERY = "SELECT count(*) AS n, sum(id) AS s, max(name) AS m, sum(length(pad)) AS p, sum(name = 'changed') AS c FROM t";

t.test('gs: ltxvfs reads what Litestream wrote, now and at each earlier time', async (t) => {
  const url = `gs://${gcs.bucket}/from-litestream`;
  const env = gcs.env;
  await litestreamWriteMany(url, HISTORY, { env, pauseMs: 50 });

  const client = await openReplicaClient(url, { env });
  t.teardown(() => client.close());
  const files = await client.listLtxFiles(0);
  t.same(files.map((f) => f.key), [1, 2, 3].map((n) => client.ltxKey(0, n, n)), 'Litestream\'s keys: PATH/ltx/0/<min>-<max>.ltx');
  for (const f of files) {
    const header = decodeHeader(await client.readRange(f.key, 0, 100), f.key);
    t.equal(f.createdAt, header.timestamp, `${f.key}: createdAt is the litestream-timestamp metadata = the LTX header time`);
  }

  const expected = await litestreamQuery(url, QUERY, { env });
  const db = await openDatabase(url, { env, shared: false, pollIntervalMs: 0 });
  t.teardown(() => db.close());
  t.same(await db.all(QUERY), expected, 'the rows Litestream reads');
  t.same(expected[0], { n: 400, s: 80200, m: 'row 99', p: 80000, c: 100 });

  const then = [[{ n: 0, s: null, m: null, p: null, c: null }], [{ n: 400, s: 80200, m: 'row 99', p: 80000, c: 0 }]];
  for (const [i, f] of files.slice(0, 2).entries()) {
    const at = new Date(Math.floor((f.createdAt + files[i + 1].createdAt) / 2)).toISOString(); // between this commit and the next
    await db.exec(`PRAGMA litestream_time = '${at}'`);
    t.same(await db.all(QUERY), then[i], `at ${at} (TXID ${f.maxTXID}, from the metadata Litestream wrote)`);
    const [byLitestream] = await litestreamQueryMany(url, [QUERY], { env, pre: [`PRAGMA litestream_time = '${at}'`] });
    t.same(byLitestream, then[i], 'the rows the Litestream VFS reads then');
    t.same(await db.all('SELECT litestream_txid() AS txid'), [{ txid: f.maxTXID.toString(16).padStart(16, '0') }]);
  }
  await db.exec("PRAGMA litestream_time = 'latest'");
  t.same(await db.all(QUERY), expected);
});

t.test('gs: Litestream reads what ltxvfs wrote under the lease', async (t) => {
  const url = `gs://${gcs.bucket}/from-ltxvfs`;
  const env = gcs.env;
  const db = await openDatabase(url, { env, create: true, autoLease: true, shared: false, pollIntervalMs: 0, leaseOwner: 'gs-test' });
  for (const sql of HISTORY) await db.exec(sql);
  const mine = await db.all(QUERY);
  t.equal(db.stats().txid, 3);
  await db.close();
  const client = await openReplicaClient(url, { env });
  t.teardown(() => client.close());
  t.same((await client.listLtxFiles(0)).map((f) => f.maxTXID), [1, 2, 3], 'one LTX file per commit');
  t.same(await litestreamQuery(url, `${QUERY}; SELECT litestream_txid() AS txid`, { env }), [...mine, { txid: '0000000000000003' }]);
  const w = await litestreamWrite(url, "INSERT INTO t (id, name, pad) VALUES (1000, 'from litestream', '');", { env });
  t.same(w.txids, ['0000000000000004'], 'Litestream continues the chain');
  const again = await openDatabase(url, { env, shared: false, pollIntervalMs: 0 });
  t.teardown(() => again.close());
  t.same(await again.all('SELECT name FROM t WHERE id = 1000'), [{ name: 'from litestream' }]);
});

t.test('gs: requests and time for open + a cold point lookup and a full scan, beside file:// (printed, not asserted)', async (t) => {
  const url = `gs://${gcs.bucket}/from-ltxvfs`;
  const dir = join(t.testdir({}), 'replica');
  const src = await openReplicaClient(url, { env: gcs.env });
  const dst = await openFileReplica(dir, { create: true });
  for (const f of await src.listLtxFiles(0)) await dst.write(dst.ltxKey(0, f.minTXID, f.maxTXID), (await src.read(f.key)).data, { timestamp: f.createdAt });
  await src.close();
  await dst.close();
  for (const [name, target] of [['gs://', url], ['file://', `file://${dir}`]] as const) {
    const before = gcs.requests;
    const t0 = performance.now();
    const db = await openDatabase(target, { env: gcs.env, shared: false, pollIntervalMs: 0 });
    const t1 = performance.now();
    await db.all('SELECT name FROM t WHERE id = 123');
    const t2 = performance.now();
    const afterPoint = db.stats().readRequests;
    await db.all(QUERY);
    const t3 = performance.now();
    const s = db.stats();
    t.comment(`${name} open ${(t1 - t0).toFixed(1)} ms, cold point lookup ${(t2 - t1).toFixed(1)} ms (${afterPoint} range reads so far), full scan ${(t3 - t2).toFixed(1)} ms (${s.readRequests} range reads in all)` +
      (name === 'gs://' ? `; ${gcs.requests - before} HTTP requests at the emulator` : ''));
    await db.close();
  }
  t.pass('measured');
});
