/**
 * sftp:// end to end against the real Litestream 0.5.17 VFS and a real SFTP server
 * (ssh2's Server on a temporary directory, login directory `/`): the same URL and
 * environment for both.
 *
 * - Litestream writes (write mode), ltxvfs (`openDatabase`) reads the rows native sqlite3
 *   and Litestream read; files at /PATH/ltx/0/ with mtime = header timestamp (seconds).
 * - ltxvfs writes under the lease, Litestream reads it back, then Litestream writes on top.
 * - Time travel from the files' mtimes, compared with Litestream's over the same server.
 * - The server stopped mid-query: a clean LTXVFS_ERR_STORAGE naming the key; reads recover.
 * - Figures (printed, not asserted): requests and time of open + a cold point lookup and a
 *   full scan, beside file:// on the same files.
 */
import t, { type Test } from 'tap';
import { promises as fs } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { decodeHeader } from '../../../ltx/header.js';
import { openDatabase } from '../../../lib/api/open.js';
import type { SftpReplicaOptions } from '../../../lib/storage/sftp/index.js';
import { openReplicaClient } from '../../../lib/storage/url.js';
import { fileReplicaUrl, litestreamQueryMany, litestreamWrite } from '../../helpers/litestream.js';
import { requireLitestreamVfs, requireSqlite3 } from '../../helpers/paths.js';
import { copyFixtureReplica } from '../../helpers/replica-builder.js';
import { startSftpServer, type SftpServer } from '../../helpers/sftp-server.js';
import { sqliteExec, sqliteQueryMany } from '../../helpers/sqlite-cli.js';

requireSqlite3();
requireLitestreamVfs();

const FAST: Omit<SftpReplicaOptions, 'env'> = { retryBaseDelayMs: 5, retryMaxDelayMs: 50, retryBudgetMs: 500, requestTimeoutMs: 3000 };
const OPEN = { env: {}, sftp: FAST, shared: false, pollIntervalMs: 0 } as const;

const HISTORY = [
  "BEGIN; CREATE TABLE items (id INTEGER PRIMARY KEY, name TEXT NOT NULL, qty INTEGER); WITH RECURSIVE c(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM c WHERE i < 2000) INSERT INTO items (name, qty) SELECT printf('item-%05d', i), i % 17 FROM c; COMMIT;",
  'UPDATE items SET qty = qty * 2 WHERE id % 3 = 0;',
  'DELETE FROM items WHERE id BETWEEN 100 AND 180;',
];
const QUERIES = [
  'SELECT count(*) AS n, sum(qty) AS q, max(name) AS m FROM items',
  'SELECT id, name, qty FROM items WHERE id IN (1, 99, 181, 1500, 2000) ORDER BY id',
  'PRAGMA integrity_check',
];

let server: SftpServer;
t.before(async () => {
  server = await startSftpServer();
});
t.teardown(() => server?.close());
const urlOf = (dir: string) => `sftp://${server.user}:${server.password}@127.0.0.1:${server.port}/${dir}?hostKey=${encodeURIComponent(server.fingerprint)}`;

async function nativeRows(t: Test, sqls: readonly string[]) {
  const dir = await fs.mkdtemp(join(tmpdir(), 'ltxvfs-native-'));
  t.teardown(() => fs.rm(dir, { recursive: true, force: true }));
  await sqliteExec(join(dir, 'n.db'), sqls.join('\n'));
  return sqliteQueryMany(join(dir, 'n.db'), QUERIES);
}

t.test('Litestream writes a replica over sftp; ltxvfs reads the rows native sqlite3 and Litestream read', async (t) => {
  const url = urlOf('from-litestream');
  for (const sql of HISTORY) await litestreamWrite(url, sql, { env: {} });
  const names = await fs.readdir(join(server.root, 'from-litestream/ltx/0'));
  t.same(names.filter((n) => n.endsWith('.ltx')), ['0000000000000001-0000000000000001.ltx', '0000000000000002-0000000000000002.ltx', '0000000000000003-0000000000000003.ltx'],
    'at /PATH/ltx/0/ (the VFS wrote PATH relative to the login directory /)');

  const client = await openReplicaClient(url, { env: {}, sftp: FAST });
  t.teardown(() => client.close());
  for (const f of await client.listLtxFiles(0, { useMetadata: true })) {
    const header = decodeHeader(await client.readRange(f.key, 0, 100), f.key);
    t.equal(f.createdAt, header.timestamp - (header.timestamp % 1000), `${f.key}: createdAt is the header timestamp in whole seconds (mtime)`);
  }

  const expected = await nativeRows(t, HISTORY);
  t.same(expected[2], [{ integrity_check: 'ok' }]);
  const db = await openDatabase(url, OPEN);
  t.teardown(() => db.close());
  const mine = [];
  for (const q of QUERIES) mine.push(await db.all(q));
  t.same(mine, expected, 'ltxvfs = native sqlite3');
  t.same(await litestreamQueryMany(url, QUERIES, { env: {} }), expected, 'Litestream = native sqlite3');
});

t.test('ltxvfs writes under the lease over sftp; Litestream reads it and writes on top', async (t) => {
  const url = urlOf('from-ltxvfs');
  const db = await openDatabase(url, { ...OPEN, create: true, autoLease: true, leaseOwner: 'sftp-interop' });
  for (const sql of HISTORY) await db.exec(sql);
  t.equal(db.stats().txid, HISTORY.length);
  await db.close();
  t.ok((await fs.readdir(join(server.root, 'from-ltxvfs'))).includes('ltx'), 'written under /PATH');
  t.same(await litestreamQueryMany(url, QUERIES, { env: {} }), await nativeRows(t, HISTORY), 'Litestream reads what ltxvfs wrote');

  const more = "INSERT INTO items (name, qty) VALUES ('from litestream', 42);";
  const w = await litestreamWrite(url, more, { env: {} });
  t.same(w.txids, ['0000000000000004']);
  const again = await openDatabase(url, OPEN);
  t.teardown(() => again.close());
  t.same(await again.all("SELECT name, qty FROM items WHERE name = 'from litestream'"), [{ name: 'from litestream', qty: 42 }], 'ltxvfs reads Litestream\'s TXID 4');
});

t.test('time travel over sftp: the files\' mtimes (whole seconds), as Litestream reads them', async (t) => {
  const dir = await copyFixtureReplica(join(t.testdir(), 'fixture'));
  const url = urlOf('travel');
  const client = await openReplicaClient(url, { env: {}, sftp: FAST });
  const source = await openReplicaClient(fileReplicaUrl(dir));
  for (const f of await source.listLtxFiles(0)) {
    const { data } = await source.read(f.key);
    await client.write(f.key, data, { timestamp: decodeHeader(data, f.key).timestamp });
  }
  await source.close();
  await client.close();

  const db = await openDatabase(url, OPEN);
  t.teardown(() => db.close());
  const STATE = 'SELECT count(*) AS n, litestream_txid() AS txid, litestream_time() AS time FROM t';
  for (const at of ['2026-11-21T09:51:50Z', '2026-11-21T09:51:51.999Z', '2026-11-21T09:51:52Z', '2026-11-21T09:51:55Z']) {
    await db.exec(`PRAGMA litestream_time = '${at}'`);
    const mine = await db.all(STATE);
    const [theirs] = await litestreamQueryMany(url, [STATE], { env: {}, pre: [`PRAGMA litestream_time = '${at}'`] });
    t.same(mine, theirs, `${at}: ltxvfs and Litestream agree over sftp`);
  }
});

t.test('faults: the server stopped mid-query gives LTXVFS_ERR_STORAGE naming the key; reads recover', async (t) => {
  const s = await startSftpServer();
  t.teardown(() => s.close());
  const url = `sftp://${s.user}:${s.password}@127.0.0.1:${s.port}/faults?hostKey=${encodeURIComponent(s.fingerprint)}`;
  const writer = await openDatabase(url, { ...OPEN, create: true, autoLease: true });
  await writer.exec('BEGIN; CREATE TABLE items (id INTEGER PRIMARY KEY, name TEXT, qty INTEGER, pad BLOB); WITH RECURSIVE c(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM c WHERE i < 2000) INSERT INTO items SELECT i, printf(\'item-%05d\', i), i % 17, randomblob(1500) FROM c; COMMIT;');
  await writer.close();

  const db = await openDatabase(url, { ...OPEN, warmInterior: false });
  t.teardown(() => db.close());
  t.same(await db.all('SELECT name FROM items WHERE id = 1'), [{ name: 'item-00001' }], 'a point lookup fetches a few pages');
  await s.stop();
  const err = await db.all('SELECT sum(qty) AS q FROM items').then(() => undefined, (e: unknown) => e);
  t.match(err, { ltxvfsCode: 'LTXVFS_ERR_STORAGE', message: /ltx\/0\/0000000000000001-0000000000000001\.ltx: cannot connect to 127\.0\.0\.1:\d+: .*ECONNREFUSED/ },
    'the scan needs pages: a clean error naming the key, within the retry budget');
  await s.start();
  t.same(await db.all('SELECT sum(qty) AS q FROM items'), [{ q: 15978 }], 'reads recover on a new connection');
});

t.test('figures: open + cold point lookup + full scan, sftp beside file:// (printed, not asserted)', async (t) => {
  const url = urlOf('from-litestream');
  const fileUrl = fileReplicaUrl(join(server.root, 'from-litestream'));
  for (const [name, u, opts] of [['file://', fileUrl, { shared: false, pollIntervalMs: 0 }], ['sftp://', url, OPEN]] as const) {
    const before = [...server.requests.values()].reduce((a, b) => a + b, 0);
    const t0 = performance.now();
    const db = await openDatabase(u, opts);
    const t1 = performance.now();
    await db.all('SELECT * FROM items WHERE id = 1500');
    const t2 = performance.now();
    const s1 = db.stats();
    await db.all('SELECT sum(length(name)) FROM items');
    const t3 = performance.now();
    const s2 = db.stats();
    const sftpRequests = [...server.requests.values()].reduce((a, b) => a + b, 0) - before;
    t.comment(`${name} open ${(t1 - t0).toFixed(1)} ms, cold point lookup ${(t2 - t1).toFixed(1)} ms (${s1.readRequests} reads so far), full scan ${(t3 - t2).toFixed(1)} ms (${s2.readRequests} reads in all)${name === 'sftp://' ? `, ${sftpRequests} SFTP requests in all` : ''}`);
    await db.close();
  }
  t.pass('printed');
});
