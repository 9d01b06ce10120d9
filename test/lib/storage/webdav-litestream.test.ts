/**
 * Interop over WebDAV with the real Litestream 0.5.17 VFS (Go, gowebdav) in write mode,
 * both on one webdav-server (test/helpers/webdav-server.ts) with the same URL: Litestream
 * writes a replica over webdav:// and webdavs:// (the Go child trusts the test certificate
 * through `SSL_CERT_FILE`), and ltxvfs (`openDatabase`) reads exactly the rows Litestream
 * reads; time travel by `getlastmodified` as Litestream's uploads set it. The other way
 * (ltxvfs writing under the lease) is refused on WebDAV (webdav.test.ts). Also prints the
 * requests and time of open + a cold point lookup and a full scan, beside file://.
 */
import t, { type Test } from 'tap';
import { cpSync, mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { openDatabase } from '../../../lib/api/open.js';
import { openReplicaClient } from '../../../lib/storage/url.js';
import type { WebdavReplicaClient } from '../../../lib/storage/webdav/index.js';
import { litestreamQuery, litestreamWrite } from '../../helpers/litestream.js';
import { requireLitestreamVfs, requireSqlite3 } from '../../helpers/paths.js';
import { startWebdavServer, type WebdavServerHandle } from '../../helpers/webdav-server.js';

requireSqlite3();
requireLitestreamVfs();

const ROWS = `CREATE TABLE t (id INTEGER PRIMARY KEY, name TEXT, pad BLOB);
  WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c WHERE x < 2000)
  INSERT INTO t SELECT x, 'row ' || x, zeroblob(200) FROM c;`;

async function litestreamWritesLtxvfsReads(t: Test, server: WebdavServerHandle, env: Record<string, string>, options: Parameters<typeof openDatabase>[1]) {
  const url = server.url('apps/interop.db');
  await litestreamWrite(url, ROWS, { env });
  await litestreamWrite(url, "UPDATE t SET name = 'changed' WHERE id % 7 = 0; DELETE FROM t WHERE id > 1900;", { env });
  const sql = "SELECT count(*) AS n, sum(id) AS s, sum(name = 'changed') AS c, max(name) AS m FROM t";
  const expected = await litestreamQuery(url, `${sql};`, { env });
  const db = await openDatabase(url, options);
  t.teardown(() => db.close());
  t.same(await db.all(sql), expected, 'the same rows as the Litestream VFS');
  t.same(expected, [{ n: 1900, s: 1805950, c: 271, m: 'row 999' }]);
  t.same(await db.all('SELECT litestream_txid() AS txid'), [{ txid: '0000000000000002' }]);
  const fromEnv = await openDatabase(undefined, { ...options, env: { ...env, LITESTREAM_REPLICA_URL: url } });
  t.teardown(() => fromEnv.close());
  t.same(await fromEnv.all(sql), expected, 'the same URL through LITESTREAM_REPLICA_URL, unchanged');
  t.ok(statSync(join(server.directory, 'apps/interop.db/ltx/0/0000000000000002-0000000000000002.ltx')).isFile(), 'Litestream\'s layout: PATH/ltx/<level>/…');
}

t.test('webdav: Litestream writes, ltxvfs reads the same rows', async (t) => {
  const server = await startWebdavServer();
  t.teardown(() => server.close());
  await litestreamWritesLtxvfsReads(t, server, {}, {});
});

t.test('webdavs: the same over TLS (SSL_CERT_FILE for Go, the ca option for ltxvfs)', async (t) => {
  const server = await startWebdavServer({ secure: true });
  t.teardown(() => server.close());
  await litestreamWritesLtxvfsReads(t, server, { SSL_CERT_FILE: server.certFile as string }, { webdav: { ca: server.ca } });
});

t.test('webdav: time travel by getlastmodified, as Litestream reads it', async (t) => {
  const server = await startWebdavServer();
  t.teardown(() => server.close());
  const url = server.url('travel');
  await litestreamWrite(url, 'CREATE TABLE t (id INTEGER PRIMARY KEY, v TEXT); INSERT INTO t VALUES (1, \'first\');');
  // getlastmodified is whole seconds: the next upload must land in a later second.
  const client = await openReplicaClient(url) as WebdavReplicaClient;
  t.teardown(() => client.close());
  const [first] = await client.listLtxFiles(0, { useMetadata: true });
  while (Date.now() < first.createdAt + 1100) await new Promise((r) => setTimeout(r, 100));
  await litestreamWrite(url, "INSERT INTO t VALUES (2, 'second');");
  const files = await client.listLtxFiles(0, { useMetadata: true });
  t.equal(files.length, 2);
  t.ok(files.every((f) => f.createdAt % 1000 === 0), 'whole seconds');
  t.ok(files[1].createdAt > files[0].createdAt, 'the second upload is a later second');
  const at = new Date(files[0].createdAt + 500).toISOString();
  const expected = await litestreamQuery(url, 'SELECT id, v FROM t ORDER BY id;', { pre: [`PRAGMA litestream_time = '${at}'`] });
  t.same(expected, [{ id: 1, v: 'first' }], 'Litestream at T sees the first upload only');
  const db = await openDatabase(url);
  t.teardown(() => db.close());
  t.same(await db.all('SELECT id, v FROM t ORDER BY id'), [{ id: 1, v: 'first' }, { id: 2, v: 'second' }]);
  await db.exec(`PRAGMA litestream_time = '${at}'`);
  t.same(await db.all('SELECT id, v FROM t ORDER BY id'), expected, 'ltxvfs at T: the same rows');
  await db.exec("PRAGMA litestream_time = 'latest'");
  t.equal((await db.all('SELECT id FROM t')).length, 2);
});

t.test('figures: requests and time of open + cold point lookup and full scan, webdav:// beside file://', async (t) => {
  const server = await startWebdavServer();
  t.teardown(() => server.close());
  const url = server.url('figures');
  await litestreamWrite(url, ROWS);
  const dir = mkdtempSync(join(tmpdir(), 'ltxvfs-webdav-figures-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  cpSync(join(server.directory, 'figures'), dir, { recursive: true });
  for (const [name, replica] of [['file://', pathToFileURL(dir).href], ['webdav://', url]] as const) {
    server.requests(true);
    const t0 = performance.now();
    const db = await openDatabase(replica, { pollIntervalMs: 0 });
    const t1 = performance.now();
    const openRequests = server.requests();
    const point = await db.get<{ name: string }>('SELECT name FROM t WHERE id = ?', [1234]);
    const t2 = performance.now();
    const pointRequests = server.requests();
    const scan = await db.get<{ n: number }>('SELECT count(*) AS n, sum(length(pad)) AS b FROM t');
    const t3 = performance.now();
    const scanRequests = server.requests();
    await db.close();
    const http = name === 'file://' ? () => '' : (r: Record<string, number>) => ` [HTTP: ${Object.entries(r).map(([m, n]) => `${m} ${n}`).join(', ')}]`;
    t.same([point?.name, scan?.n], ['row 1234', 2000]);
    t.comment(`${name} open ${(t1 - t0).toFixed(1)} ms${http(openRequests)}, +cold point lookup ${(t2 - t1).toFixed(1)} ms${http(pointRequests)}, +full scan ${(t3 - t2).toFixed(1)} ms${http(scanRequests)} (cumulative)`);
  }
});
