/**
 * One correctness suite for every engine path (test/helpers/engines.ts): the same
 * replicas, queries and expectations whether SQLite runs in process (Asyncify), in a
 * worker, or as sql.js in this thread. Each check is a function of (t, engine, fixture);
 * the engine test files (test/vfs/worker-engine.test.ts, test/vfs/sqljs-engine.test.ts,
 * test/vfs/engine-parity.test.ts) call them.
 *
 * - interop: a replica the real Litestream VFS wrote in many small transactions, and an
 *   oracle database copied into Litestream and changed by it, read exactly like the
 *   source file read by the native sqlite3 CLI (test/helpers/datagen.ts oracleQueries);
 * - bad input: a damaged page frame fails the query with SQLITE_CORRUPT whose cause
 *   names the LTX file and page; a replica that does not exist fails the open;
 * - isolation: a read transaction keeps its version while the real Litestream VFS
 *   commits and the connection polls;
 * - time travel: `PRAGMA litestream_time`, `litestream_set_time()`, `at`.
 */
import type { Test } from 'tap';
import { promises as fs } from 'node:fs';
import { join } from 'node:path';
import { isLtxvfsError } from '../../ltx/errors.js';
import { decodeLtxFile } from '../../ltx/decoder.js';
import { sqliteExec, sqliteQueryMany } from './sqlite-cli.js';
import {
  copyDatabaseIntoLitestream, fileReplicaUrl, litestreamWrite, litestreamWriteMany, setLtxMtimesFromHeaders,
} from './litestream.js';
import { makeOracleDatabase, oracleQueries, wholeTableQueries, type OracleQuery } from './datagen.js';
import { copyFixtureReplica, flipBit, readBytes, snapshotFromDatabase, sqliteCli, writeLtx } from './replica-builder.js';
import { openEngine, type EngineName } from './engines.js';
import { waitFor } from './polling.js';

const SQLITE_CORRUPT = 11;

/** A history with inserts, updates, deletes and schema changes, one Litestream process per transaction. */
export const HISTORY = [
  'CREATE TABLE accounts (id INTEGER PRIMARY KEY, owner TEXT NOT NULL, balance INTEGER NOT NULL)',
  "INSERT INTO accounts (owner, balance) VALUES ('ann', 100), ('bob', 250), ('cyd', 75)",
  "WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c WHERE x < 400) INSERT INTO accounts (owner, balance) SELECT printf('acct-%04d', x), x * 3 FROM c",
  'UPDATE accounts SET balance = balance - 40 WHERE id = 1',
  'DELETE FROM accounts WHERE id % 7 = 0',
  'ALTER TABLE accounts ADD COLUMN note TEXT',
  "UPDATE accounts SET note = printf('note %d %s', id, substr(owner, 1, 3)) WHERE id % 3 = 0",
  'CREATE INDEX accounts_owner ON accounts(owner)',
  'CREATE TABLE ledger (id INTEGER PRIMARY KEY, account_id INTEGER REFERENCES accounts(id), amount INTEGER, memo TEXT)',
  "WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c WHERE x < 300) INSERT INTO ledger (account_id, amount, memo) SELECT (x % 200) + 1, x - 150, printf('%.*c', 1000 + x, 'm') FROM c",
  'DELETE FROM ledger WHERE amount < -100',
];

export const HISTORY_QUERIES: OracleQuery[] = [
  { name: 'accounts', sql: 'SELECT * FROM accounts ORDER BY id' },
  { name: 'ledger', sql: 'SELECT id, account_id, amount, length(memo) AS len, substr(memo, 1, 5) AS head FROM ledger ORDER BY id' },
  { name: 'schema', sql: 'SELECT type, name, tbl_name, sql FROM sqlite_schema ORDER BY type, name' },
  { name: 'join', sql: 'SELECT a.owner, sum(l.amount) AS total, count(*) AS n FROM ledger l JOIN accounts a ON a.id = l.account_id WHERE l.account_id BETWEEN 10 AND 40 GROUP BY a.id ORDER BY a.id' },
];

/** Replicas the suite reads, built once per test file. */
export interface SuiteFixture {
  /** A replica of {@link HISTORY} written by the real Litestream VFS, and the native source. */
  history: { url: string; source: string };
  /** An oracle database copied into Litestream and changed by it, and the native source. */
  oracle: { url: string; source: string; queries: OracleQuery[] };
}

/** Build the replicas of {@link SuiteFixture} under `dir` (with the real Litestream VFS). */
export async function buildSuiteFixture(dir: string): Promise<SuiteFixture> {
  const historyDir = join(dir, 'history');
  const historySource = join(dir, 'history.db');
  await litestreamWriteMany(fileReplicaUrl(historyDir), HISTORY);
  for (const sql of HISTORY) await sqliteExec(historySource, sql);

  const oracleSource = join(dir, 'oracle.db');
  await makeOracleDatabase(oracleSource, { approxBytes: 3 * 1024 * 1024 });
  const oracleUrl = fileReplicaUrl(join(dir, 'oracle'));
  await copyDatabaseIntoLitestream(oracleSource, oracleUrl);
  const changes = [
    'UPDATE users SET score = score + 1 WHERE id % 50 = 0',
    'DELETE FROM orders WHERE id % 97 = 0',
    "INSERT INTO documents (id, user_id, title, body, payload) SELECT id + 1000000, user_id, title || ' (copy)', body, payload FROM documents WHERE id <= 20",
  ];
  for (const sql of changes) await sqliteExec(oracleSource, sql);
  await litestreamWriteMany(oracleUrl, changes);
  return {
    history: { url: fileReplicaUrl(historyDir), source: historySource },
    oracle: { url: oracleUrl, source: oracleSource, queries: [...oracleQueries, ...(await wholeTableQueries(oracleSource))] },
  };
}

/** Every query gives the native CLI's rows on the source file; integrity_check is ok. */
async function compare(t: Test, engine: EngineName, url: string, source: string, queries: readonly OracleQuery[]): Promise<void> {
  const expected = await sqliteQueryMany(source, queries.map((q) => q.sql));
  const db = await openEngine(engine, url, { pollIntervalMs: 0 });
  try {
    for (let i = 0; i < queries.length; i++) t.same(await db.all(queries[i].sql), expected[i], `${engine}: ${queries[i].name}`);
    t.same(await db.all('PRAGMA integrity_check'), [{ integrity_check: 'ok' }], `${engine}: integrity_check`);
  } finally {
    await db.close();
  }
}

/** Interop: both replicas the real Litestream VFS wrote read like their sources. */
export async function interopChecks(t: Test, engine: EngineName, fixture: SuiteFixture): Promise<void> {
  await compare(t, engine, fixture.history.url, fixture.history.source, HISTORY_QUERIES);
  const db = await openEngine(engine, fixture.history.url, { pollIntervalMs: 0 });
  t.same(await db.all('SELECT litestream_txid() AS txid'), [{ txid: HISTORY.length.toString(16).padStart(16, '0') }], `${engine}: the TXID of the last transaction`);
  await db.close();
  await compare(t, engine, fixture.oracle.url, fixture.oracle.source, fixture.oracle.queries);
}

/**
 * Bad input: a damaged page-number byte in one leaf frame of a large snapshot fails the
 * query that reads it with SQLITE_CORRUPT (cause: `LTXVFS_ERR_CORRUPT` naming the file,
 * page and offset) while other pages are served; a missing replica fails the open.
 */
export async function badInputChecks(t: Test, engine: EngineName): Promise<void> {
  const dir = t.testdir();
  const dbPath = join(dir, 'src.db');
  sqliteCli(dbPath, `CREATE TABLE item (id INTEGER PRIMARY KEY, sku TEXT, body TEXT);
    INSERT INTO item SELECT x, printf('sku-%06d', (x * 7919) % 100003),
      printf('%08x-%08x-%08x-%08x', x * 2654435761 % 4294967291, x * 40503 % 65521, x * x % 999983, x * 97) FROM
      (WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c WHERE x < 6000) SELECT x FROM c);`);
  const leaf = Number(sqliteCli(dbPath, "SELECT pageno FROM dbstat WHERE name = 'item' AND pagetype = 'leaf' ORDER BY pageno LIMIT 1 OFFSET 10;").trim());
  const db = readBytes(dbPath);
  await fs.rm(dbPath);
  const replica = join(dir, 'replica');
  await fs.mkdir(replica);
  const { path, bytes } = await writeLtx(replica, snapshotFromDatabase(db));
  const key = 'ltx/0/0000000000000001-0000000000000001.ltx';
  const entry = decodeLtxFile(bytes, key).index[leaf - 1];
  await flipBit(path!, entry.offset + 3, 6); // the frame's page number

  // Paged (only the 32 KiB tail read whole), so the damage is met by a page read or the
  // background verification, not at load. Either way SQLite's "malformed" waits for the
  // verification and becomes the checksum error naming the file, page and offset.
  // The verification starts at the first page served: it may fail the open already.
  const conn = await openEngine(engine, replica, { pollIntervalMs: 0, wholeFileBytes: 32 * 1024 }).catch((e: unknown) => e as Error);
  if (!(conn instanceof Error)) t.teardown(() => conn.close());
  const err = conn instanceof Error ? conn : await conn.all('SELECT sum(length(body)) AS n FROM item').then(() => undefined, (e: unknown) => e);
  t.ok(isLtxvfsError(err, 'LTXVFS_ERR_CHECKSUM'), `${engine}: LTXVFS_ERR_CHECKSUM, got ${String(err)}`);
  t.match((err as Error).message, new RegExp(`${key}: failed verification: ${key}: page ${leaf} at offset ${entry.offset}: frame holds page`), `${engine}: names the file, page and offset`);
  const cause = (err as Error).cause;
  t.ok(isLtxvfsError(cause, 'LTXVFS_ERR_SQLITE'), `${engine}: cause SQLite's error, got ${String(cause)}`);
  t.equal(((cause as { sqliteCode?: number }).sqliteCode ?? 0) & 0xff, SQLITE_CORRUPT, `${engine}: SQLITE_CORRUPT`);
  if (!(conn instanceof Error)) {
    const later = await conn.all('SELECT sku FROM item WHERE id = 1').then(() => undefined, (e: unknown) => e);
    t.ok(isLtxvfsError(later, 'LTXVFS_ERR_CHECKSUM') && later.key === key, `${engine}: every later statement too, got ${String(later)}`);
  }

  const missing = await openEngine(engine, join(dir, 'nowhere'), { pollIntervalMs: 0 }).then(() => undefined, (e: unknown) => e);
  t.ok(isLtxvfsError(missing, 'LTXVFS_ERR_NOT_FOUND'), `${engine}: a missing replica: LTXVFS_ERR_NOT_FOUND, got ${String(missing)}`);
  t.match((missing as Error).message, /replica directory does not exist/);
}

const TOTALS = 'SELECT sum(balance) AS total, count(*) AS n, litestream_txid() AS txid FROM accounts';

/**
 * Isolation: a connection holds a read transaction while the real Litestream VFS commits
 * transfers (the total never changes) and the reader polls; a second connection sees
 * each new TXID; the first keeps its TXID and balances until COMMIT, then sees the newest.
 */
export async function isolationChecks(t: Test, engine: EngineName, commits = 6): Promise<void> {
  const url = fileReplicaUrl(join(t.testdir(), 'replica'));
  await litestreamWrite(url, `CREATE TABLE accounts (id INTEGER PRIMARY KEY, balance INTEGER NOT NULL, owner TEXT NOT NULL);
    INSERT INTO accounts SELECT x, 1000, printf('owner-%04d-%s', x, hex(zeroblob(80)))
      FROM (WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c WHERE x < 1500) SELECT x FROM c);`);
  const reader = await openEngine(engine, url, { pollIntervalMs: 50 });
  t.teardown(() => reader.close());
  const observer = await openEngine(engine, url, { pollIntervalMs: 50 });
  t.teardown(() => observer.close());
  // A tiny SQLite page cache: the held transaction's scans read through the VFS.
  await reader.exec('PRAGMA cache_size = 10');

  let balances: unknown;
  await reader.transaction(async () => {
  const held = (await reader.all(TOTALS))[0];
  balances = (await reader.all('SELECT group_concat(balance) AS b FROM accounts'))[0].b;
  t.same(held, { total: 1_500_000, n: 1500, txid: '0000000000000001' });
  for (let i = 1; i <= commits; i++) {
    await litestreamWrite(url, `BEGIN; UPDATE accounts SET balance = balance - ${i} WHERE id = ${i};
      UPDATE accounts SET balance = balance + ${i} WHERE id = ${1500 - i}; COMMIT;`);
    const txid = (i + 1).toString(16).padStart(16, '0');
    const seen = await waitFor(`${engine}: the observer sees TXID ${txid}`, async () => {
      const row = (await observer.all(TOTALS))[0];
      return row.txid === txid ? row : undefined;
    });
    t.equal(seen!.total, 1_500_000, `${engine}: commit ${i}: the observer's total`);
    t.same((await reader.all(TOTALS))[0], held, `${engine}: commit ${i}: the open transaction still sees TXID 1`);
  }
  t.equal((await reader.all('SELECT group_concat(balance) AS b FROM accounts'))[0].b, balances, `${engine}: the same balances inside the transaction`);
  });
  // The newest TXID once the reader's poller has it: sql.js's reader is its own (in its fetch
  // thread), and a poll it started just before the last commit's file can leave the next one
  // not yet due when a fast machine gets here (the observer's poll saw the file first).
  await waitFor(`${engine}: the reader's poller to apply TXID ${commits + 1}`, async () => (await reader.stats()).txid === commits + 1);
  const after = (await reader.all(TOTALS))[0];
  t.same(after, { total: 1_500_000, n: 1500, txid: (commits + 1).toString(16).padStart(16, '0') }, `${engine}: after COMMIT, the newest TXID`);
  t.not((await reader.all('SELECT group_concat(balance) AS b FROM accounts'))[0].b, balances, `${engine}: and the moved balances`);
  t.same(await reader.all('PRAGMA integrity_check'), [{ integrity_check: 'ok' }]);
}

const STATE = 'SELECT count(*) AS n, sum(id) AS s FROM t';
const POSITION = 'SELECT litestream_txid() AS txid, litestream_time() AS time';

/**
 * Time travel on the Litestream fixture (file times restored from the headers): the
 * PRAGMA, the function, `latest`, and `at` (a TXID), with the fixture README's figures.
 */
export async function timeTravelChecks(t: Test, engine: EngineName): Promise<void> {
  const dir = await copyFixtureReplica(join(t.testdir(), 'replica'));
  await setLtxMtimesFromHeaders(dir);
  const db = await openEngine(engine, dir, { pollIntervalMs: 0 });
  t.teardown(() => db.close());
  const latest = { state: [{ n: 250, s: 31375 }], position: [{ txid: '0000000000000005', time: '2026-11-21T09:51:56.305Z' }] };
  t.same({ state: await db.all(STATE), position: await db.all(POSITION) }, latest, `${engine}: latest`);

  await db.exec("PRAGMA litestream_time = '2026-11-21T09:51:52.793Z'");
  t.same(await db.all(STATE), [{ n: 303, s: 46056 }], `${engine}: PRAGMA litestream_time: the rows at TXID 3`);
  t.same(await db.all(POSITION), [{ txid: '0000000000000003', time: '2026-11-21T09:51:52.793Z' }], `${engine}: and its position`);
  t.same(await db.all('PRAGMA litestream_txid'), [{ '0000000000000003': '0000000000000003' }], `${engine}: PRAGMA litestream_txid`);
  t.equal((await db.stats()).timeTravel, true);
  await db.exec("PRAGMA litestream_time = 'latest'");
  t.same(await db.all(POSITION), latest.position, `${engine}: back to latest`);

  await db.all("SELECT litestream_set_time('2026-11-21T09:51:50+00:00')");
  t.same(await db.all(STATE), [{ n: 0, s: null }], `${engine}: litestream_set_time(): TXID 1, no rows yet`);
  t.same(await db.all('SELECT litestream_txid() AS txid'), [{ txid: '0000000000000001' }]);
  await db.all("SELECT litestream_set_time('latest')");
  t.same(await db.all(STATE), latest.state, `${engine}: and back`);

  const bad = await db.all("PRAGMA litestream_time = 'not a time'").then(() => undefined, (e: unknown) => e);
  t.ok(isLtxvfsError(bad, 'LTXVFS_ERR_SQLITE'), `${engine}: a bad time fails`);
  t.match((bad as Error).message, /^invalid timestamp/);
  t.ok(isLtxvfsError((bad as Error).cause, 'LTXVFS_ERR_USAGE'), `${engine}: with the cause`);

  const at = await openEngine(engine, dir, { pollIntervalMs: 0, at: '3' });
  t.same(await at.all(STATE), [{ n: 303, s: 46056 }], `${engine}: at TXID 3`);
  t.same(await at.all('SELECT litestream_txid() AS txid'), [{ txid: '0000000000000003' }]);
  const write = await at.exec('DELETE FROM t').then(() => undefined, (e: unknown) => e);
  t.equal(((write as { sqliteCode?: number }).sqliteCode ?? 0) & 0xff, 8, `${engine}: a time-travel open is read-only`);
  await at.close();
}
