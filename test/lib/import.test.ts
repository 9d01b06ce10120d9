import t, { type Test } from 'tap';
import { spawn } from 'node:child_process';
import { promises as fs } from 'node:fs';
import { join } from 'node:path';
import { importDatabase } from '../../lib/tools/import.js';
import { openDatabase } from '../../lib/api/open.js';
import { listReplica } from '../../lib/replica/plan.js';
import { restoreDatabase } from '../../lib/tools/restore.js';
import { openFileReplica, type FileReplicaClient } from '../../lib/storage/file/client.js';
import { decodeLtxFile } from '../../ltx/decoder.js';
import {
  bytesEqual, copyFixtureReplica, CountingClient, readBytes, rejectsLtx, sqlJsDatabase, sqlJsRows, sqliteCli,
} from '../helpers/replica-builder.js';

const SNAPSHOT = 'ltx/0/0000000000000001-0000000000000001.ltx';

const SCHEMA = `
  CREATE TABLE artist (id INTEGER PRIMARY KEY, name TEXT NOT NULL, born REAL, photo BLOB);
  CREATE TABLE song (id INTEGER PRIMARY KEY, artist INTEGER REFERENCES artist(id), title TEXT, seconds INTEGER);
  CREATE INDEX song_artist ON song(artist);
  WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c WHERE x < 200)
    INSERT INTO artist SELECT x, 'artist ' || x, 1900 + x / 3.0, CASE WHEN x % 7 = 0 THEN NULL ELSE zeroblob(x * 10) END FROM c;
  WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c WHERE x < 3000)
    INSERT INTO song SELECT x, 1 + x % 200, printf('song %05d %s', x, hex(randomblob(20))), 60 + x % 400 FROM c;
`;

const QUERIES = [
  'SELECT * FROM artist ORDER BY id',
  'SELECT count(*) AS n, sum(seconds) AS s FROM song',
  'SELECT a.name, count(*) AS songs, max(s.title) AS last FROM song s JOIN artist a ON a.id = s.artist GROUP BY a.id ORDER BY a.id',
];

async function replica(t: Test, dir: string): Promise<FileReplicaClient> {
  const c = await openFileReplica(dir, { create: true });
  t.teardown(() => c.close());
  return c;
}

/** Every query gives the same rows through openDatabase on `replicaDir` and sql.js on `bytes`. */
async function sameRows(t: Test, replicaDir: string, bytes: Uint8Array, queries: string[], options = {}): Promise<void> {
  const db = await openDatabase(replicaDir, options);
  try {
    for (const sql of queries) t.same(await db.all(sql), await sqlJsRows(bytes, sql), sql);
  } finally {
    await db.close();
  }
}

t.test('a SQLite file becomes a one-snapshot replica that reads like the original', async (t) => {
  const dir = t.testdir({ replica: {} });
  const bytes = await sqlJsDatabase(SCHEMA);
  const dbPath = join(dir, 'music.db');
  await fs.writeFile(dbPath, bytes);
  const progress: number[][] = [];
  const result = await importDatabase(dbPath, await replica(t, join(dir, 'replica')), {
    timestamp: 1795254709256,
    onProgress: (...a) => void progress.push(a),
  });
  const commit = bytes.length / 4096;
  const ltx = readBytes(join(dir, 'replica', SNAPSHOT));
  t.same(result, { key: SNAPSHOT, pageSize: 4096, commit, bytesWritten: ltx.length, attempts: 1, walPages: 0 });
  t.same(progress, [[0, commit], [commit, commit]], 'from 0 to all pages');
  const decoded = decodeLtxFile(ltx, SNAPSHOT);
  t.same([decoded.header.flags, decoded.header.minTXID, decoded.header.maxTXID, decoded.header.timestamp, decoded.trailer.postApplyChecksum],
    [2, 1, 1, 1795254709256, 0n], 'a NoChecksum snapshot, as Litestream writes');
  const [info] = await listReplica(await replica(t, join(dir, 'replica')));
  t.equal(info.createdAt, 1795254709256, 'file time = header timestamp');

  await sameRows(t, join(dir, 'replica'), bytes, QUERIES);
  await restoreDatabase(await replica(t, join(dir, 'replica')), join(dir, 'restored.db'));
  t.ok(bytesEqual(readBytes(join(dir, 'restored.db')), bytes), 'restore gives the original bytes back');
});

t.test('a database of several MiB reports progress every 256 pages', async (t) => {
  const dir = t.testdir({ replica: {} });
  const dbPath = join(dir, 'big.db');
  sqliteCli(dbPath, `PRAGMA page_size = 8192; CREATE TABLE t (v BLOB);
    INSERT INTO t SELECT randomblob(1500) FROM (WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c WHERE x < 4000) SELECT x FROM c);`);
  const bytes = readBytes(dbPath);
  const progress: number[][] = [];
  const result = await importDatabase(dbPath, await replica(t, join(dir, 'replica')), { onProgress: (...a) => void progress.push(a) });
  const commit = bytes.length / 8192;
  t.equal(result.pageSize, 8192);
  t.same(progress.map((p) => p[0]), Array.from({ length: Math.floor(commit / 256) + 1 }, (_, i) => i * 256).concat([commit]));
  t.ok(progress.every((p) => p[1] === commit));
  await sameRows(t, join(dir, 'replica'), bytes, ['SELECT count(*) AS n, sum(length(v)) AS l FROM t']);
});

t.test('64 KiB pages (header page size 1) import and read within the cache bound', async (t) => {
  const dir = t.testdir({ replica: {} });
  const dbPath = join(dir, 'wide.db');
  sqliteCli(dbPath, `PRAGMA page_size = 65536; CREATE TABLE t (id INTEGER PRIMARY KEY, v BLOB);
    INSERT INTO t SELECT x, randomblob(20000) FROM (WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c WHERE x < 40) SELECT x FROM c);`);
  const bytes = readBytes(dbPath);
  t.same([bytes[16], bytes[17]], [0, 1], 'the header stores 65536 as 1');
  const result = await importDatabase(dbPath, await replica(t, join(dir, 'replica')));
  t.equal(result.pageSize, 65536);
  const cacheSize = 256 * 1024;
  const db = await openDatabase(join(dir, 'replica'), { cacheSizeBytes: cacheSize });
  t.teardown(() => db.close());
  t.same(await db.all('SELECT id, hex(v) AS v FROM t ORDER BY id'), await sqlJsRows(bytes, 'SELECT id, hex(v) AS v FROM t ORDER BY id'));
  t.ok(db.stats().cacheBytes <= cacheSize, `cache holds ${db.stats().cacheBytes} ≤ ${cacheSize} bytes`);
});

t.test('WAL mode: the committed frames of the -wal file are part of the snapshot, the rest is not', async (t) => {
  const dir = t.testdir({ r1: {}, r2: {}, r3: {} });
  const dbPath = join(dir, 'wal.db');
  const copy = join(dir, 'copy.db');
  // Copy the database and its -wal while the connection is open (no checkpoint: the rows are only in the -wal).
  sqliteCli(dbPath, `PRAGMA journal_mode = WAL; PRAGMA wal_autocheckpoint = 0; CREATE TABLE t (x); INSERT INTO t VALUES (1), (2), (3);
    INSERT INTO t SELECT x + 3 FROM t;\n.shell cp '${dbPath}' '${copy}'; cp '${dbPath}-wal' '${copy}-wal'\n`);
  const checkpointed = readBytes(dbPath);
  t.same([checkpointed[18], checkpointed[19]], [2, 2], 'a WAL-mode header');
  t.ok(readBytes(copy).length < checkpointed.length, 'the copied database file lacks the WAL\'s pages');
  const r1 = await importDatabase(copy, await replica(t, join(dir, 'r1')));
  t.ok(r1.walPages > 0, `${r1.walPages} pages from the -wal`);
  t.equal(r1.commit, checkpointed.length / 4096);
  await sameRows(t, join(dir, 'r1'), checkpointed, ['SELECT x FROM t ORDER BY x']);

  // A frame that does not end a transaction, and a torn frame after it, are not part of any committed state.
  const wal = readBytes(`${copy}-wal`);
  const frame = wal.subarray(32, 32 + 24 + 4096).slice();
  new DataView(frame.buffer).setUint32(4, 0); // "database size" 0: not a commit frame
  await fs.appendFile(`${copy}-wal`, Buffer.concat([frame, frame.subarray(0, 100)]));
  const r2 = await importDatabase(copy, await replica(t, join(dir, 'r2')));
  t.equal(r2.walPages, r1.walPages);
  await sameRows(t, join(dir, 'r2'), checkpointed, ['SELECT x FROM t ORDER BY x']);

  // An empty -wal (after a TRUNCATE checkpoint) is the database file alone.
  await fs.writeFile(`${dbPath}-wal`, new Uint8Array(0));
  const r3 = await importDatabase(dbPath, await replica(t, join(dir, 'r3')));
  t.equal(r3.walPages, 0);
  await sameRows(t, join(dir, 'r3'), checkpointed, ['SELECT sum(x) AS s FROM t']);
});

t.test('files that are not SQLite databases are refused naming the path and the reason', async (t) => {
  const dir = t.testdir({
    'text.db': 'x'.repeat(8192),
    'short.db': 'SQLite format 3\0',
    sub: {},
    'plain-file': 'not a directory',
  });
  const good = await sqlJsDatabase('CREATE TABLE t (x); INSERT INTO t VALUES (1);');
  await fs.writeFile(join(dir, 'ragged.db'), Buffer.concat([good, Buffer.alloc(100)]));
  const odd = good.slice();
  odd[16] = 0x03; // page size 768
  odd[17] = 0x00;
  await fs.writeFile(join(dir, 'oddpage.db'), odd);
  const c = await replica(t, join(dir, 'replica'));
  const p = (name: string) => join(dir, name);
  await rejectsLtx(t, importDatabase(p('text.db'), c), 'LTXVFS_ERR_CORRUPT', p('text.db'), /not a SQLite database \(bad header magic\)/);
  await rejectsLtx(t, importDatabase(p('short.db'), c), 'LTXVFS_ERR_CORRUPT', p('short.db'), /not a SQLite database/);
  await rejectsLtx(t, importDatabase(p('ragged.db'), c), 'LTXVFS_ERR_CORRUPT', p('ragged.db'),
    new RegExp(`file size ${good.length + 100} is not a multiple of the page size 4096`));
  await rejectsLtx(t, importDatabase(p('oddpage.db'), c), 'LTXVFS_ERR_CORRUPT', p('oddpage.db'), /invalid page size 768 in the database header/);
  await rejectsLtx(t, importDatabase(p('missing.db'), c), 'LTXVFS_ERR_NOT_FOUND', p('missing.db'), /cannot open database file \(ENOENT\)/);
  await rejectsLtx(t, importDatabase(p('plain-file/x.db'), c), 'LTXVFS_ERR_STORAGE', p('plain-file/x.db'), /cannot open database file \(ENOTDIR\)/);
  await rejectsLtx(t, importDatabase(p('sub'), c), 'LTXVFS_ERR_USAGE', p('sub'), /not a regular file/);
  t.same(await listReplica(c), [], 'nothing written');
});

t.test('a replica that already has files is refused', async (t) => {
  const dir = await copyFixtureReplica(t.testdir());
  const dbPath = join(dir, 'x.db');
  await fs.writeFile(dbPath, await sqlJsDatabase('CREATE TABLE t (x)'));
  const c = await replica(t, dir);
  await rejectsLtx(t, importDatabase(dbPath, c), 'LTXVFS_ERR_USAGE', c.url, /replica is not empty \(5 LTX files\); import needs an empty replica/);
});

t.test('another writer creating the snapshot first makes the import fail', async (t) => {
  const dir = t.testdir({ replica: {} });
  const dbPath = join(dir, 'x.db');
  await fs.writeFile(dbPath, await sqlJsDatabase('CREATE TABLE t (x)'));
  const c = await CountingClient.open(join(dir, 'replica'));
  t.teardown(() => c.close());
  c.beforeWrite = async (key) => {
    await c.inner.write(key, new Uint8Array([1, 2, 3]));
  };
  await rejectsLtx(t, importDatabase(dbPath, c), 'LTXVFS_ERR_PRECONDITION', SNAPSHOT, /object already exists \(create-only write\)/);
  t.same(readBytes(join(dir, 'replica', SNAPSHOT)), new Uint8Array([1, 2, 3]), 'the other writer\'s file is kept');
});

t.test('a database a writer keeps changing (sqlite3 in WAL mode, checkpointing) imports as one committed state', async (t) => {
  const dir = t.testdir();
  const dbPath = join(dir, 'live.db');
  // acct: the sum of bal never changes; t and c: count(t) - 2000 = c.n after every commit.
  sqliteCli(dbPath, `PRAGMA journal_mode = WAL; PRAGMA page_size = 4096;
    CREATE TABLE acct (id INTEGER PRIMARY KEY, bal INTEGER NOT NULL);
    CREATE TABLE t (id INTEGER PRIMARY KEY, v BLOB);
    CREATE TABLE c (n INTEGER NOT NULL); INSERT INTO c VALUES (0);
    INSERT INTO acct SELECT x, 1000 FROM (WITH RECURSIVE s(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM s WHERE x < 500) SELECT x FROM s);
    INSERT INTO t (v) SELECT randomblob(2000) FROM (WITH RECURSIVE s(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM s WHERE x < 2000) SELECT x FROM s);`);
  const txn = `BEGIN; UPDATE acct SET bal = bal - 7 WHERE id = abs(random()) % 500 + 1; UPDATE acct SET bal = bal + 7 WHERE id = abs(random()) % 500 + 1;
    UPDATE t SET v = randomblob(2000) WHERE id = abs(random()) % 2000 + 1; INSERT INTO t (v) VALUES (randomblob(1500)); UPDATE c SET n = n + 1; COMMIT;\n`;
  const writer = spawn('sqlite3', [dbPath], { stdio: ['pipe', 'ignore', 'pipe'] });
  let writerErr = '';
  writer.stderr.on('data', (d: Buffer) => (writerErr += d.toString()));
  const exited = new Promise<number | null>((resolve) => writer.on('close', resolve));
  // SQLite's default checkpoint every 1000 pages: the database file itself changes during the imports.
  // The writer is killed below with input still queued: the pipe then fails with EPIPE, which is expected.
  writer.stdin.on('error', (err: NodeJS.ErrnoException) => {
    if (err.code !== 'EPIPE') throw err;
  });
  writer.stdin.write(`PRAGMA wal_autocheckpoint = 1000; PRAGMA busy_timeout = 5000;\n${txn.repeat(20000)}`);
  writer.stdin.end();
  let overlapped = 0;
  let retried = 0;
  for (let i = 0; i < 3; i++) {
    const replicaDir = join(dir, `r${i}`);
    if (writer.exitCode === null) overlapped++; // the writer was writing when this import began
    const result = await importDatabase(dbPath, await replica(t, replicaDir), { attempts: 50 });
    if (result.attempts > 1) retried++;
    const out = join(dir, `out${i}.db`);
    await restoreDatabase(await replica(t, replicaDir), out);
    const check = sqliteCli(out, `PRAGMA integrity_check; SELECT sum(bal) FROM acct; SELECT (SELECT count(*) FROM t) - 2000 - (SELECT n FROM c);`);
    t.equal(check.trim(), 'ok\n500000\n0', `import ${i} (${result.attempts} reads, ${result.walPages} pages from the -wal): integrity_check ok, invariants hold`);
  }
  writer.kill();
  await exited;
  t.equal(writerErr, '', 'the writer never failed (import takes no lock)');
  t.ok(overlapped >= 1, `${overlapped} of 3 imports began while the writer was writing (${retried} needed more than one read)`);
});
