/**
 * Interop with the real Litestream VFS (litestream-vfs-linux-amd64@0.5.17 in the sqlite3
 * CLI) on directory replicas, both ways:
 * - replicas Litestream writes (many small transactions; a > 20 MiB database with overflow
 *   pages and indexes) read by ltxvfs give exactly the rows SQLite gives on the source;
 * - a replica `ltxvfs import` writes is read by Litestream with the same rows and
 *   `PRAGMA integrity_check` = ok.
 */
import t, { type Test } from 'tap';
import { copyFile } from 'node:fs/promises';
import { join } from 'node:path';
import { openDatabase } from '../../lib/api/open.js';
import { openReplicaClient } from '../../lib/storage/url.js';
import { importDatabase } from '../../lib/tools/import.js';
import { CHINOOK_DB, requireLitestreamVfs, requireSqlite3 } from '../helpers/paths.js';
import { sqliteExec, sqliteQuery, sqliteQueryMany } from '../helpers/sqlite-cli.js';
import {
  copyDatabaseIntoLitestream, fileReplicaUrl, listLtxFiles, litestreamQuery, litestreamQueryMany, litestreamWriteMany,
} from '../helpers/litestream.js';
import { chinookQueries, makeOracleDatabase, oracleQueries, wholeTableQueries, type OracleQuery } from '../helpers/datagen.js';

requireSqlite3();
requireLitestreamVfs();

/** Every query through ltxvfs equals the native sqlite3 CLI's answer on the source file. */
async function compareWithSource(t: Test, replicaUrl: string, sourceDb: string, queries: readonly OracleQuery[]): Promise<void> {
  const expected = await sqliteQueryMany(sourceDb, queries.map((q) => q.sql));
  const db = await openDatabase(replicaUrl);
  try {
    for (let i = 0; i < queries.length; i++) {
      t.same(await db.all(queries[i].sql), expected[i], queries[i].name);
    }
    t.same(await db.all('PRAGMA integrity_check'), [{ integrity_check: 'ok' }], 'integrity_check through ltxvfs');
  } finally {
    await db.close();
  }
}

// A history with inserts, updates, deletes and schema changes, one Litestream process per
// transaction (docs/formats.md §5.1), replayed on a native file as the source of truth.
const HISTORY = [
  'CREATE TABLE accounts (id INTEGER PRIMARY KEY, owner TEXT NOT NULL, balance INTEGER NOT NULL)',
  "INSERT INTO accounts (owner, balance) VALUES ('ann', 100), ('bob', 250), ('cyd', 75)",
  "WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c WHERE x < 400) INSERT INTO accounts (owner, balance) SELECT printf('acct-%04d', x), x * 3 FROM c",
  'UPDATE accounts SET balance = balance - 40 WHERE id = 1',
  'UPDATE accounts SET balance = balance + 40 WHERE id = 2',
  'DELETE FROM accounts WHERE id % 7 = 0',
  'ALTER TABLE accounts ADD COLUMN note TEXT',
  "UPDATE accounts SET note = printf('note %d %s', id, substr(owner, 1, 3)) WHERE id % 3 = 0",
  'CREATE INDEX accounts_owner ON accounts(owner)',
  "CREATE TABLE ledger (id INTEGER PRIMARY KEY, account_id INTEGER REFERENCES accounts(id), amount INTEGER, memo TEXT)",
  "WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c WHERE x < 300) INSERT INTO ledger (account_id, amount, memo) SELECT (x % 200) + 1, x - 150, printf('%.*c', 1000 + x, 'm') FROM c",
  'DELETE FROM ledger WHERE amount < -100',
  'DROP INDEX accounts_owner',
  'CREATE INDEX ledger_account ON ledger(account_id, amount)',
];

const HISTORY_QUERIES: OracleQuery[] = [
  { name: 'accounts', sql: 'SELECT * FROM accounts ORDER BY id' },
  { name: 'ledger', sql: 'SELECT id, account_id, amount, length(memo) AS len, substr(memo, 1, 5) AS head FROM ledger ORDER BY id' },
  { name: 'schema', sql: 'SELECT type, name, tbl_name, sql FROM sqlite_schema ORDER BY type, name' },
  { name: 'join through the new index', sql: 'SELECT a.owner, sum(l.amount) AS total, count(*) AS n FROM ledger l JOIN accounts a ON a.id = l.account_id WHERE l.account_id BETWEEN 10 AND 40 GROUP BY a.id ORDER BY a.id' },
  { name: 'totals', sql: 'SELECT count(*) AS n, sum(balance) AS total, count(note) AS notes FROM accounts' },
];

t.test('a replica written by the real Litestream VFS in many small transactions reads exactly like the source', async (t) => {
  const dir = t.testdir();
  const replica = join(dir, 'replica');
  const url = fileReplicaUrl(replica);
  const source = join(dir, 'source.db');
  await litestreamWriteMany(url, HISTORY);
  for (const sql of HISTORY) await sqliteExec(source, sql);
  const files = await listLtxFiles(replica);
  t.equal(files.length, HISTORY.length, 'one LTX file per transaction');
  await compareWithSource(t, url, source, HISTORY_QUERIES);

  const db = await openDatabase(replica);
  t.equal(db.stats().txid, HISTORY.length, 'ltxvfs is at the TXID of the last transaction');
  await db.close();
});

t.test('a > 20 MiB database written through the Litestream VFS, then changed by it, reads exactly like the source', async (t) => {
  const dir = t.testdir();
  const source = join(dir, 'oracle.db');
  const info = await makeOracleDatabase(source, { approxBytes: 22 * 1024 * 1024 });
  t.ok(info.bytes > 20 * 1024 * 1024, `source is ${info.bytes} bytes`);
  const replica = join(dir, 'replica');
  const url = fileReplicaUrl(replica);
  await copyDatabaseIntoLitestream(source, url);

  const changes = [
    "UPDATE users SET score = score + 1 WHERE id % 50 = 0",
    'DELETE FROM orders WHERE id % 97 = 0',
    "INSERT INTO documents (id, user_id, title, body, payload) SELECT id + 1000000, user_id, title || ' (copy)', body, payload FROM documents WHERE id <= 20",
  ];
  // The oracle schema must accept these; check on the source first so a schema change in
  // datagen shows up here as a clear failure.
  for (const sql of changes) await sqliteExec(source, sql);
  await litestreamWriteMany(url, changes);

  t.ok((await listLtxFiles(replica)).length >= 4, 'snapshot plus one file per change');
  await compareWithSource(t, url, source, [...oracleQueries, ...(await wholeTableQueries(source))]);
});

t.test('a replica made by ltxvfs import is read by the real Litestream VFS with the same rows', async (t) => {
  const dir = t.testdir();
  for (const [name, path, queries] of [
    ['chinook', CHINOOK_DB, chinookQueries],
    ['oracle', join(dir, 'oracle.db'), oracleQueries],
  ] as const) {
    if (name === 'oracle') await makeOracleDatabase(path, { approxBytes: 6 * 1024 * 1024 });
    const source = join(dir, `${name}-source.db`);
    await copyFile(path, source);
    const replica = join(dir, `${name}-replica`);
    const client = await openReplicaClient(replica, { create: true });
    await importDatabase(source, client);
    await client.close();

    const url = fileReplicaUrl(replica);
    const all = [...queries, ...(await wholeTableQueries(source))];
    const expected = await sqliteQueryMany(source, all.map((q) => q.sql));
    const got = await litestreamQueryMany(url, all.map((q) => q.sql));
    for (let i = 0; i < all.length; i++) t.same(got[i], expected[i], `${name}: ${all[i].name} through Litestream`);
    t.same(await litestreamQuery(url, 'PRAGMA integrity_check'), [{ integrity_check: 'ok' }], `${name}: integrity_check through Litestream`);
    t.same(await litestreamQuery(url, 'SELECT litestream_txid() AS txid'), [{ txid: '0000000000000001' }]);
  }
});

t.test('Litestream continues a replica ltxvfs imported, and ltxvfs reads what it added', async (t) => {
  const dir = t.testdir();
  const source = join(dir, 'chinook.db');
  await copyFile(CHINOOK_DB, source);
  const replica = join(dir, 'replica');
  const client = await openReplicaClient(replica, { create: true });
  await importDatabase(source, client);
  await client.close();
  const changes = ["INSERT INTO Artist (Name) VALUES ('ltxvfs interop')", "UPDATE Track SET Name = upper(Name) WHERE TrackId % 10 = 0"];
  await litestreamWriteMany(fileReplicaUrl(replica), changes);
  for (const sql of changes) await sqliteExec(source, sql);
  await compareWithSource(t, fileReplicaUrl(replica), source, [
    ...chinookQueries,
    { name: 'artists', sql: 'SELECT * FROM Artist ORDER BY ArtistId' },
    { name: 'tracks', sql: 'SELECT TrackId, Name FROM Track ORDER BY TrackId' },
  ]);
  t.same(await sqliteQuery(source, 'SELECT count(*) AS n FROM Artist'), [{ n: 276 }]);
});
