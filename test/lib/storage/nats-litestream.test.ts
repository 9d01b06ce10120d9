/**
 * Interop over NATS with the real Litestream 0.5.17 VFS (nats.go 1.44 inside it) and a real
 * nats-server: the same `nats://u:p@127.0.0.1:PORT/BUCKET` URL for both, no environment.
 *
 * - Litestream writes a history, one process per transaction; ltxvfs (`openDatabase`) reads
 *   exactly the rows the native sqlite3 CLI and Litestream read; the objects are
 *   `ltx/0/<min>-<max>.ltx` with `Litestream-Timestamp` = the LTX header time.
 * - Time travel over those timestamps: ltxvfs and Litestream agree at a time between two
 *   Litestream transactions.
 * - ltxvfs writes under the lease (create-only / if-match by expected subject sequence) and
 *   Litestream reads it back.
 *
 * The Litestream VFS sometimes fails to open over NATS with `read ltx page index: context
 * canceled` (about 1 open in 4 against a local server): its opens are retried up to 4 times
 * here, and only for that message; time travel uses `litestream_set_time()`, whose errors carry
 * the VFS's message (a PRAGMA's are a bare "SQL logic error" in 0.5.17).
 */
import t from 'tap';
import { promises as fs } from 'node:fs';
import { join } from 'node:path';
import { decodeHeader } from '../../../ltx/header.js';
import { openDatabase } from '../../../lib/index.js';
import type { NatsReplicaClient } from '../../../lib/storage/nats/index.js';
import { openReplicaClient } from '../../../lib/storage/url.js';
import { litestreamQueryMany, litestreamWrite, type LitestreamQueryOptions } from '../../helpers/litestream.js';
import { startNatsServer, type NatsServerHandle } from '../../helpers/nats-server.js';
import { requireLitestreamVfs, requireSqlite3 } from '../../helpers/paths.js';
import { sqliteExec, sqliteQueryMany, type Row } from '../../helpers/sqlite-cli.js';
import { waitFor } from '../../helpers/polling.js';

const HISTORY = [
  'CREATE TABLE items (id INTEGER PRIMARY KEY, name TEXT NOT NULL, qty INTEGER)',
  "WITH RECURSIVE c(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM c WHERE i < 400) INSERT INTO items (name, qty) SELECT printf('item-%04d', i), i % 13 FROM c",
  'UPDATE items SET qty = qty * 10 WHERE id % 7 = 0',
  "BEGIN; DELETE FROM items WHERE id BETWEEN 50 AND 90; INSERT INTO items (name, qty) VALUES ('late', 1); COMMIT",
];
const QUERIES = [
  'SELECT id, name, qty FROM items ORDER BY id',
  'SELECT count(*) AS n, sum(qty) AS q, max(name) AS m FROM items',
  'PRAGMA integrity_check',
];

/**
 * `run()`, again (at most 4 times in all) only when the Litestream VFS failed with its known
 * `context canceled` over NATS: a read at any point (it changes nothing), a write only when
 * the VFS failed to open (before any SQL ran, so nothing was uploaded).
 */
async function retryCanceled<T>(run: () => Promise<T>, write: boolean): Promise<T> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await run();
    } catch (err) {
      const message = String((err as Error).message);
      if (attempt >= 4 || !message.includes('context canceled') || (write && !message.includes('unable to open database'))) throw err;
    }
  }
}

/** Litestream's reads (retried as {@link retryCanceled} says). */
function litestreamRows(url: string, sqls: readonly string[], opts: LitestreamQueryOptions = {}): Promise<Row[][]> {
  return retryCanceled(() => litestreamQueryMany(url, sqls, opts), false);
}

async function nativeRows(dir: string, sqls: readonly string[]): Promise<Row[][]> {
  const path = join(dir, `native-${sqls.length}.db`);
  await fs.rm(path, { force: true });
  await sqliteExec(path, sqls.map((s) => `${s};`).join('\n'));
  return sqliteQueryMany(path, QUERIES);
}

let server: NatsServerHandle;
t.before(async () => {
  requireSqlite3();
  requireLitestreamVfs();
  server = await startNatsServer();
});
t.teardown(() => server?.close());

/** A new bucket (Litestream needs it to exist) and its URL. */
async function bucket(name: string): Promise<string> {
  const url = server.url(name);
  await (await openReplicaClient(url, { create: true })).close();
  return url;
}

t.test('ltxvfs reads what Litestream wrote over NATS: same rows, keys, header timestamps; time travel', async (t) => {
  const url = await bucket('from-litestream');
  const dir = t.testdir({});
  const stamps: number[] = [];
  for (const [i, sql] of HISTORY.entries()) {
    // A pause before the last transaction gives time travel a point between two files.
    if (i === HISTORY.length - 1) await new Promise((r) => setTimeout(r, 1100));
    const w = await retryCanceled(() => litestreamWrite(url, sql), true);
    t.same(w.txids, [(i + 1).toString(16).padStart(16, '0')], `Litestream wrote TXID ${i + 1}`);
  }
  const client = (await openReplicaClient(url)) as NatsReplicaClient;
  t.teardown(() => client.close());
  const files = await client.listLtxFiles(0);
  t.same(files.map((f) => f.key), HISTORY.map((_, i) => `ltx/0/${(i + 1).toString(16).padStart(16, '0').repeat(2).replace(/^(.{16})/, '$1-')}.ltx`));
  for (const f of files) {
    const header = decodeHeader(await client.readRange(f.key, 0, 100), f.key);
    t.equal(f.createdAt, header.timestamp, `${f.key}: createdAt = Litestream-Timestamp = LTX header time`);
    stamps.push(f.createdAt);
  }

  const expected = await nativeRows(dir, HISTORY);
  t.same(expected[2], [{ integrity_check: 'ok' }]);
  const db = await openDatabase(url);
  t.teardown(() => db.close());
  const mine = [];
  for (const q of QUERIES) mine.push(await db.all(q));
  t.same(mine, expected, 'ltxvfs = native sqlite3');
  t.same(await litestreamRows(url, QUERIES), expected, 'Litestream = native sqlite3');

  // Between the third and the fourth transaction (1.1 s apart).
  const between = new Date(stamps[2] + 500).toISOString();
  const before = await nativeRows(dir, HISTORY.slice(0, 3));
  await db.exec(`PRAGMA litestream_time = '${between}'`);
  const past = [];
  for (const q of QUERIES) past.push(await db.all(q));
  t.same(past, before, `ltxvfs at ${between} = the first three transactions`);
  t.same(await litestreamRows(url, QUERIES, { pre: [`SELECT litestream_set_time('${between}')`] }), before, 'and so says Litestream');
  await db.exec("PRAGMA litestream_time = 'latest'");
  t.same(await db.all(QUERIES[1]), expected[1], 'back to the latest');
});

t.test('Litestream reads what ltxvfs wrote under the lease over NATS; they alternate', async (t) => {
  const url = server.url('from-ltxvfs');
  const dir = t.testdir({});
  const db = await openDatabase(url, { create: true, autoLease: true, shared: false, pollIntervalMs: 50, leaseOwner: 'nats-interop:1' });
  t.teardown(() => db.close());
  for (const sql of HISTORY) await db.exec(sql);
  const client = await openReplicaClient(url);
  t.teardown(() => client.close());
  t.same((await client.listLtxFiles(0)).map((f) => f.maxTXID), [1, 2, 3, 4], 'one LTX file per commit');
  const lock = JSON.parse(new TextDecoder().decode((await client.read('lock.json')).data)) as { owner: string };
  t.equal(lock.owner, 'nats-interop:1', 'the lease is lock.json at the bucket root');
  const expected = await nativeRows(dir, HISTORY);
  t.same(await litestreamRows(url, QUERIES), expected, 'Litestream reads ltxvfs\'s commits = native sqlite3');

  // The lease is ltxvfs's own; Litestream takes none on NATS, so it writes after ltxvfs is done.
  await db.close();
  const more = "INSERT INTO items (name, qty) VALUES ('from litestream', 42)";
  const w = await retryCanceled(() => litestreamWrite(url, more), true);
  t.same(w.txids, ['0000000000000005']);
  const reader = await openDatabase(url, { pollIntervalMs: 50 });
  t.teardown(() => reader.close());
  await waitFor('ltxvfs to see TXID 5', () => reader.stats().txid === 5);
  const after = await nativeRows(dir, [...HISTORY, more]);
  const mine = [];
  for (const q of QUERIES) mine.push(await reader.all(q));
  t.same(mine, after, 'ltxvfs reads Litestream\'s TXID 5 on top of its own');
});

t.test('a second ltxvfs writer is refused while the lease is held', async (t) => {
  const url = server.url('two-writers');
  const a = await openDatabase(url, { create: true, autoLease: true, shared: false, leaseOwner: 'writer:a' });
  t.teardown(() => a.close());
  await a.exec('CREATE TABLE t (x)');
  const b = await openDatabase(url, { autoLease: true, shared: false, leaseOwner: 'writer:b' });
  t.teardown(() => b.close());
  await t.rejects(b.exec('INSERT INTO t VALUES (1)'), { ltxvfsCode: 'LTXVFS_ERR_LEASE_HELD', message: /writer:a/ });
});
