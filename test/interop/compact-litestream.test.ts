/**
 * Compaction interop with the real Litestream VFS (litestream-vfs-linux-amd64@0.5.17 in
 * the sqlite3 CLI) on a directory replica: Litestream writes ten transactions, ltxvfs
 * compacts them (L1 + L9 snapshot, then L0 retention), and
 * - restore gives the same database as before compaction, from the snapshot alone;
 * - verify is clean;
 * - Litestream reads the compacted replica with the same rows and integrity_check ok,
 *   also after the L0 files were removed;
 * - an ltxvfs reader opened before compaction keeps answering (what it needs is reported
 *   in the test output);
 * - Litestream keeps writing on top of the compacted replica, and ltxvfs reads that.
 */
import t, { type Test } from 'tap';
import { subscribe, unsubscribe } from 'node:diagnostics_channel';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { compactReplica } from '../../lib/tools/compact.js';
import { openDatabase } from '../../lib/api/open.js';
import { computePlan, listReplica } from '../../lib/replica/plan.js';
import { restoreDatabase } from '../../lib/tools/restore.js';
import { openReplicaClient } from '../../lib/storage/url.js';
import { verifyReplica } from '../../lib/tools/verify.js';
import { requireLitestreamVfs, requireSqlite3 } from '../helpers/paths.js';
import { bytesEqual, readBytes } from '../helpers/replica-builder.js';
import { sqliteExec, sqliteQueryMany } from '../helpers/sqlite-cli.js';
import { fileReplicaUrl, listLtxFiles, litestreamQueryMany, litestreamWrite, litestreamWriteMany } from '../helpers/litestream.js';

requireSqlite3();
requireLitestreamVfs();

const HISTORY = [
  'CREATE TABLE items (id INTEGER PRIMARY KEY, name TEXT NOT NULL, qty INTEGER NOT NULL, note TEXT)',
  "WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c WHERE x < 300) INSERT INTO items (name, qty, note) SELECT printf('item-%04d', x), x % 17, printf('%.*c', 200 + x, 'n') FROM c",
  'UPDATE items SET qty = qty + 100 WHERE id % 10 = 0',
  'CREATE INDEX items_name ON items(name)',
  'DELETE FROM items WHERE id % 7 = 0',
  'CREATE TABLE events (id INTEGER PRIMARY KEY, item_id INTEGER, at TEXT, payload TEXT)',
  "WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c WHERE x < 400) INSERT INTO events (item_id, at, payload) SELECT (x % 250) + 1, printf('2026-01-%02d', (x % 28) + 1), printf('%.*c', 500 + x, 'p') FROM c",
  "UPDATE items SET note = NULL WHERE id BETWEEN 50 AND 120",
  'DELETE FROM events WHERE id % 3 = 0',
  'CREATE INDEX events_item ON events(item_id, at)',
];

const QUERIES = [
  'SELECT id, name, qty, length(note) AS len FROM items ORDER BY id',
  'SELECT id, item_id, at, length(payload) AS len FROM events ORDER BY id',
  'SELECT i.name, count(*) AS n, sum(length(e.payload)) AS bytes FROM events e JOIN items i ON i.id = e.item_id GROUP BY i.id ORDER BY i.id',
  'SELECT type, name, tbl_name, sql FROM sqlite_schema ORDER BY type, name',
];

async function tempDir(t: Test): Promise<string> {
  const d = await mkdtemp(join(tmpdir(), 'ltxvfs-compact-interop-'));
  t.teardown(() => rm(d, { recursive: true, force: true }));
  return d;
}

/** Every query through the Litestream VFS equals the source's answer, and integrity_check is ok. */
async function litestreamAgrees(t: Test, url: string, source: string, what: string): Promise<void> {
  const expected = await sqliteQueryMany(source, QUERIES);
  const got = await litestreamQueryMany(url, [...QUERIES, 'PRAGMA integrity_check']);
  for (let i = 0; i < QUERIES.length; i++) t.same(got[i], expected[i], `${what}: Litestream: ${QUERIES[i].slice(0, 40)}`);
  t.same(got[QUERIES.length], [{ integrity_check: 'ok' }], `${what}: Litestream integrity_check`);
}

t.test('a replica written by the real Litestream VFS, compacted by ltxvfs, reads the same everywhere; Litestream keeps writing', async (t) => {
  const dir = await tempDir(t);
  const replica = join(dir, 'replica');
  const url = fileReplicaUrl(replica);
  const source = join(dir, 'source.db');
  await litestreamWriteMany(url, HISTORY);
  for (const sql of HISTORY) await sqliteExec(source, sql);
  t.equal((await listLtxFiles(replica)).length, HISTORY.length, 'ten L0 files');
  const client = await openReplicaClient(url);
  t.teardown(() => client.close());

  const before = join(dir, 'before.db');
  await restoreDatabase(client, before);

  const rebuilds: unknown[] = [];
  const onPoll = (m: unknown) => {
    if ((m as { rebuilt: boolean }).rebuilt) rebuilds.push(m);
  };
  subscribe('ltxvfs:poll', onPoll);
  t.teardown(() => unsubscribe('ltxvfs:poll', onPoll));

  // A reader opened before compaction, which has read only a little.
  const reader = await openDatabase(url, { pollIntervalMs: 200 });
  t.teardown(() => reader.close());
  t.same(await reader.all('SELECT count(*) AS n FROM items'), [{ n: 258 }]);

  // A second reader without a page cache, which has read one row: every later read goes to storage.
  const reader2 = await openDatabase(url, { pollIntervalMs: 200, shared: false, cacheSizeBytes: 0 });
  t.teardown(() => reader2.close());
  t.same(await reader2.all('SELECT name FROM items WHERE id = 1'), [{ name: 'item-0001' }], 'a second reader without a cache read one row');

  // Compaction, keeping the L0 files (the default retention is 5 minutes).
  const r1 = await compactReplica(client);
  t.same(r1.written, ['ltx/1/0000000000000001-000000000000000a.ltx', 'ltx/9/0000000000000001-000000000000000a.ltx']);
  t.equal(r1.merged.length, 10);
  t.same(r1.deleted, [], 'Litestream files are minutes old at most: kept');
  t.equal(r1.compacted?.checksummed, false, 'checksum-free like every Litestream file');

  const after = join(dir, 'after.db');
  const restored = await restoreDatabase(client, after);
  t.ok(bytesEqual(readBytes(after), readBytes(before)), 'restore after compaction = restore before');
  t.same(restored.files.map((f) => f.key), ['ltx/9/0000000000000001-000000000000000a.ltx'], 'the plan is the L9 snapshot');
  t.same(await sqliteQueryMany(after, QUERIES), await sqliteQueryMany(source, QUERIES), 'the restored file answers like the source');
  t.same((await verifyReplica(client)).problems, [], 'verify is clean');
  await litestreamAgrees(t, url, source, 'after compaction');
  const expected = await sqliteQueryMany(source, QUERIES);
  for (let i = 0; i < QUERIES.length; i++) t.same(await reader.all(QUERIES[i]), expected[i], `old reader, L0 still there: ${QUERIES[i].slice(0, 40)}`);

  // Retention 0: every L0 file but the newest goes.
  const r2 = await compactReplica(client, { retentionMs: 0 });
  t.equal(r2.deleted.length, 9);
  t.same((await listLtxFiles(replica)).map((f) => `L${f.level}:${f.name}`), [
    'L0:000000000000000a-000000000000000a.ltx', 'L1:0000000000000001-000000000000000a.ltx', 'L9:0000000000000001-000000000000000a.ltx',
  ]);
  t.same(computePlan(await listReplica(client)).map((f) => f.level), [9], 'plan: L9 only');
  t.same((await verifyReplica(client)).problems, [], 'verify is clean after retention');
  await litestreamAgrees(t, url, source, 'after the L0 files were removed');

  // The old readers: their versions point at frames of deleted L0 files.
  const observed: string[] = [`polls that rebuilt the version so far: ${rebuilds.length}`];
  for (const [name, db] of [['reader with everything cached', reader], ['reader without a cache', reader2]] as const) {
    try {
      const s0 = db.stats();
      const rows = await db.all(QUERIES[1]);
      const s1 = db.stats();
      observed.push(`${name}: answered at once (${rows.length} rows, TXID ${s1.txid}, ${s1.cacheMisses - s0.cacheMisses} cache misses, ${s1.readRequests - s0.readRequests} storage reads)`);
      t.same(rows, expected[1], `${name}: right rows at once`);
    } catch (err) {
      observed.push(`${name}: failed at once: ${(err as Error).message}${(err as Error).cause ? ` (cause: ${((err as Error).cause as Error).message})` : ''}`);
      // Give the poller time to notice and rebuild from the new plan.
      let ok = false;
      for (let i = 0; i < 25 && !ok; i++) {
        await new Promise((r) => setTimeout(r, 200));
        try {
          t.same(await db.all(QUERIES[1]), expected[1], `${name}: right rows after ${(i + 1) * 200} ms`);
          observed.push(`${name}: answered after ${(i + 1) * 200} ms`);
          ok = true;
        } catch (e) {
          if (i === 24) observed.push(`${name}: still failing after 5 s: ${(e as Error).message}`);
        }
      }
    }
  }
  t.comment(`readers opened before compaction with retention 0:\n${observed.join('\n')}`);

  // Litestream writes on top of the compacted replica.
  const more = "INSERT INTO items (name, qty, note) VALUES ('after-compaction', 1, 'written by Litestream')";
  const w = await litestreamWrite(url, more);
  await sqliteExec(source, more);
  t.same(w.txids, ['000000000000000b'], 'Litestream continues at TXID 11');
  await litestreamAgrees(t, url, source, 'after Litestream wrote again');
  const fresh = await openDatabase(url, { shared: false, pollIntervalMs: 0 });
  t.same(await fresh.all("SELECT id, name FROM items WHERE name = 'after-compaction'"), [{ id: 301, name: 'after-compaction' }], 'a fresh ltxvfs reader sees it');
  t.equal(fresh.stats().txid, 11);
  await fresh.close();

  // And another round: L1 11-11 and a new snapshot; everyone still agrees.
  const r3 = await compactReplica(client, { retentionMs: 0 });
  t.same(r3.written, ['ltx/1/000000000000000b-000000000000000b.ltx', 'ltx/9/0000000000000001-000000000000000b.ltx']);
  t.same(r3.deleted, ['ltx/0/000000000000000a-000000000000000a.ltx']);
  await litestreamAgrees(t, url, source, 'after the second compaction');
  const final = await openDatabase(url, { shared: false, pollIntervalMs: 0 });
  const all = await sqliteQueryMany(source, QUERIES);
  for (let i = 0; i < QUERIES.length; i++) t.same(await final.all(QUERIES[i]), all[i], `ltxvfs after the second compaction: ${QUERIES[i].slice(0, 40)}`);
  t.same(await final.all('PRAGMA integrity_check'), [{ integrity_check: 'ok' }]);
  await final.close();
});
