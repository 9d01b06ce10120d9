/**
 * abs:// interop with the real Litestream 0.5.17 VFS, both on one Azurite (TLS) reached
 * by the production URL `abs://devstoreaccount1@interop/…` through the CONNECT proxy
 * (test/helpers/abs-server.ts): Litestream writes, ltxvfs reads the rows native sqlite3
 * gives (in this process through the direct endpoint, and in a child process with only
 * the environment a Litestream user sets — `LITESTREAM_AZURE_ACCOUNT_KEY`, `HTTPS_PROXY`,
 * `NODE_EXTRA_CA_CERTS`); time travel on Litestream's `litestreamtimestamp` metadata;
 * ltxvfs writes under the lease and Litestream reads it back. Then the figures of
 * docs/backends/abs.md: requests and time of open, a cold point lookup and a full scan,
 * beside file:// (printed, not asserted).
 */
import t from 'tap';
import { spawn } from 'node:child_process';
import { promises as fs } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { openDatabase } from '../../../lib/api/open.js';
import { AbsReplicaClient } from '../../../lib/storage/abs/index.js';
import { parseRfc3339 } from '../../../lib/storage/rfc3339.js';
import { openReplicaClient } from '../../../lib/storage/url.js';
import { importDatabase } from '../../../lib/tools/import.js';
import { startAbsServer, type AbsServer } from '../../helpers/abs-server.js';
import { litestreamQuery, litestreamQueryMany, litestreamWrite } from '../../helpers/litestream.js';
import { requireLitestreamVfs, requireSqlite3 } from '../../helpers/paths.js';
import { sqliteExec, sqliteQuery } from '../../helpers/sqlite-cli.js';

const LITESTREAM_TXNS = [
  'CREATE TABLE t (id INTEGER PRIMARY KEY, name TEXT, n INTEGER)',
  "WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c WHERE x < 400) INSERT INTO t SELECT x, printf('row %03d', x), x * 7 FROM c",
  "BEGIN; UPDATE t SET name = 'changed' WHERE id % 50 = 0; DELETE FROM t WHERE id > 390; COMMIT;",
];
const QUERY = 'SELECT id, name, n FROM t ORDER BY id';

let server: AbsServer;
t.before(async () => {
  requireSqlite3();
  requireLitestreamVfs();
  server = await startAbsServer();
  await server.createContainer('interop');
});
t.teardown(() => server?.close());

/** Rows of `sql` on a native database after `txns` (the oracle). */
async function nativeRows(txns: readonly string[], sql: string) {
  const dir = await fs.mkdtemp(join(tmpdir(), 'ltxvfs-abs-native-'));
  try {
    const path = join(dir, 'native.db');
    await sqliteExec(path, txns.map((s) => `${s};`).join('\n').replace(/;;/g, ';'));
    return await sqliteQuery(path, sql);
  } finally {
    await fs.rm(dir, { recursive: true, force: true });
  }
}

t.test('Litestream writes to Azure; ltxvfs reads the same rows, and travels in time on its metadata', async (t) => {
  const url = server.url('interop', 'from-litestream/db');
  for (const sql of LITESTREAM_TXNS) {
    await litestreamWrite(url, sql, { env: server.childEnv });
    await new Promise((r) => setTimeout(r, 20));
  }
  t.ok(server.proxy.tunnels.every((h) => h === 'devstoreaccount1.blob.core.windows.net:443') && server.proxy.tunnels.length > 0, 'Litestream went through the proxy to the production host');

  const names: [string, string | undefined][] = [];
  for await (const b of server.service.getContainerClient('interop').listBlobsFlat({ prefix: 'from-litestream/', includeMetadata: true })) {
    names.push([b.name, b.metadata?.litestreamtimestamp]);
  }
  t.same(names.map(([n]) => n), [1, 2, 3].map((i) => `from-litestream/db/ltx/0/000000000000000${i}-000000000000000${i}.ltx`), 'Litestream\'s keys: PATH/ltx/<level>/…');
  for (const [, stamp] of names) t.match(stamp, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d*[1-9])?Z$/, 'litestreamtimestamp: Go RFC3339Nano');

  const expected = await nativeRows(LITESTREAM_TXNS, QUERY);
  t.equal(expected.length, 390);
  t.same(await litestreamQuery(url, QUERY, { env: server.childEnv }), expected, 'Litestream reads the native rows');
  const db = await openDatabase(url, { env: server.env, abs: server.absOptions(), shared: false, pollIntervalMs: 0 });
  t.teardown(() => db.close());
  t.same(await db.all(QUERY), expected, 'ltxvfs (in process, direct endpoint) reads the same rows');

  const child = await ltxvfsChild(url, [QUERY, 'SELECT litestream_txid() AS txid']);
  t.same(child[0], expected, 'ltxvfs in a child process with the user\'s environment (production URL, HTTPS_PROXY, NODE_EXTRA_CA_CERTS)');
  t.same(child[1], [{ txid: '0000000000000003' }]);

  // Time travel: the second file's timestamp, as Litestream stored it.
  const client = (await openReplicaClient(url, { env: server.env, abs: server.absOptions() })) as AbsReplicaClient;
  t.teardown(() => client.close());
  const files = await client.listLtxFiles(0, { useMetadata: true });
  t.same(files.map((f) => f.createdAt), names.map(([, s]) => parseRfc3339(s ?? '')), 'createdAt is the metadata timestamp');
  // Go keeps ns: the metadata time is within 1 ms after the ms it rounds down to.
  const at = new Date(Math.floor(files[1].createdAt) + 1).toISOString();
  const afterTwo = await nativeRows(LITESTREAM_TXNS.slice(0, 2), QUERY);
  const past = await openDatabase(url, { env: server.env, abs: server.absOptions(), at, shared: false, pollIntervalMs: 0 });
  t.teardown(() => past.close());
  t.same(await past.all(QUERY), afterTwo, `ltxvfs at ${at}: TXID 2`);
  await db.exec(`PRAGMA litestream_time = '${at}'`);
  t.same(await db.all('SELECT litestream_txid() AS txid'), [{ txid: '0000000000000002' }], 'PRAGMA litestream_time on the open database');
  await db.exec("PRAGMA litestream_time = 'latest'");
  t.same(await litestreamQuery(url, QUERY, { env: server.childEnv, pre: [`PRAGMA litestream_time = '${at}'`] }), afterTwo, 'Litestream agrees at that time');
});

t.test('ltxvfs writes under the lease; Litestream reads it back and writes on top', async (t) => {
  const url = server.url('interop', 'from-ltxvfs/db');
  const db = await openDatabase(url, { env: server.env, abs: server.absOptions(), create: true, autoLease: true, shared: false, pollIntervalMs: 0, leaseOwner: 'abs:1' });
  t.teardown(() => db.close());
  for (const sql of LITESTREAM_TXNS) await db.exec(sql);
  t.equal(db.stats().txid, 3, 'three commits');
  const lock = await server.service.getContainerClient('interop').getBlobClient('from-ltxvfs/db/lock.json').downloadToBuffer();
  t.match(JSON.parse(lock.toString()), { owner: 'abs:1' }, 'the lease is lock.json beside ltx/');

  const other = await openDatabase(url, { env: server.env, abs: server.absOptions(), shared: false, pollIntervalMs: 0, leaseOwner: 'abs:2' });
  t.teardown(() => other.close());
  t.match(await other.exec('PRAGMA litevfs_acquire_lease').catch((e: unknown) => e), { ltxvfsCode: 'LTXVFS_ERR_LEASE_HELD' }, 'a second writer is refused while the lease is held');

  const expected = await nativeRows(LITESTREAM_TXNS, QUERY);
  const [rows, txid] = await litestreamQueryMany(url, [QUERY, 'SELECT litestream_txid() AS txid'], { env: server.childEnv });
  t.same(rows, expected, 'Litestream reads what ltxvfs wrote');
  t.same(txid, [{ txid: '0000000000000003' }]);

  await db.close();
  const more = "INSERT INTO t (id, name, n) VALUES (1000, 'from litestream', 1)";
  await litestreamWrite(url, more, { env: server.childEnv });
  const reader = await openDatabase(url, { env: server.env, abs: server.absOptions(), shared: false, pollIntervalMs: 0 });
  t.teardown(() => reader.close());
  t.same(await reader.all(QUERY), await nativeRows([...LITESTREAM_TXNS, more], QUERY), 'and ltxvfs reads Litestream\'s TXID 4 on top');
});

t.test('figures: open, a cold point lookup and a full scan, abs:// beside file:// (printed)', async (t) => {
  const dir = t.testdir({});
  const src = join(dir, 'src.db');
  await sqliteExec(src, `PRAGMA page_size = 4096; ${LITESTREAM_TXNS.slice(0, 2).join(';\n')}; WITH RECURSIVE c(x) AS (SELECT 401 UNION ALL SELECT x + 1 FROM c WHERE x < 5000) INSERT INTO t SELECT x, printf('row %05d', x), x FROM c;`);
  const absUrl = server.url('interop', 'figures/db');
  const abs = await openReplicaClient(absUrl, { env: server.env, abs: server.absOptions() });
  await importDatabase(src, abs, { timestamp: 1795254709256 });
  await abs.close();
  const fileClient = await openReplicaClient(join(dir, 'replica'), { create: true });
  await importDatabase(src, fileClient, { timestamp: 1795254709256 });
  await fileClient.close();
  for (const [name, url, extra] of [['file://', join(dir, 'replica'), {}], ['abs://', absUrl, { env: server.env, abs: server.absOptions() }], ['abs:// again', absUrl, { env: server.env, abs: server.absOptions() }]] as const) {
    const t0 = performance.now();
    const db = await openDatabase(url, { ...extra, shared: false, pollIntervalMs: 0 });
    const t1 = performance.now();
    const s1 = db.stats().readRequests;
    const one = await db.get('SELECT name FROM t WHERE id = 4321');
    const t2 = performance.now();
    const s2 = db.stats().readRequests;
    const all = await db.all('SELECT sum(n) AS s, count(*) AS c FROM t');
    const t3 = performance.now();
    const s3 = db.stats().readRequests;
    await db.close();
    t.same(one, { name: 'row 04321' });
    t.same(all, [{ s: 400 * 401 / 2 * 7 + (5000 * 5001 / 2 - 400 * 401 / 2), c: 5000 }]);
    t.comment(`${name} open ${(t1 - t0).toFixed(1)} ms (${s1} read requests), cold point lookup ${(t2 - t1).toFixed(1)} ms (${s2 - s1}), full scan ${(t3 - t2).toFixed(1)} ms (${s3 - s2})`);
  }
});

/** Query through ltxvfs in a child process (test/helpers/ltxvfs-child.ts) whose environment is the user's: production URL, proxy, CA file. */
function ltxvfsChild(url: string, queries: string[]): Promise<unknown[][]> {
  const script = fileURLToPath(new URL('../../helpers/ltxvfs-child.ts', import.meta.url));
  // No `env`: the child's own process environment, as a user's, is all it has.
  const command = { mode: 'query', url, queries };
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['--import', 'tsx', script, JSON.stringify(command)], {
      cwd: fileURLToPath(new URL('../../../', import.meta.url)),
      env: { ...process.env, ...server.childEnv },
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    const timer = setTimeout(() => child.kill('SIGKILL'), 60_000);
    child.on('close', (code) => {
      clearTimeout(timer);
      const done = stdout.split('\n').filter((l) => l.includes('"done"')).map((l) => JSON.parse(l) as { results: unknown[][] })[0];
      if (code === 0 && done !== undefined) resolve(done.results);
      else reject(new Error(`ltxvfs child exited ${String(code)}: ${stderr}`));
    });
  });
}
