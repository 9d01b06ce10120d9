import t, { type Test } from 'tap';
import { promises as fs } from 'node:fs';
import { join } from 'node:path';
import { importDatabase } from '../../lib/import.js';
import { openDatabase } from '../../lib/open.js';
import { listReplica } from '../../lib/replica.js';
import { restoreDatabase } from '../../lib/restore.js';
import { openFileReplica, type FileReplicaClient } from '../../lib/storage/file.js';
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
  t.same(result, { key: SNAPSHOT, pageSize: 4096, commit, bytesWritten: ltx.length });
  t.same(progress, [[commit, commit]], 'one slab');
  const decoded = decodeLtxFile(ltx, SNAPSHOT);
  t.same([decoded.header.flags, decoded.header.minTXID, decoded.header.maxTXID, decoded.header.timestamp, decoded.trailer.postApplyChecksum],
    [2, 1, 1, 1795254709256, 0n], 'a NoChecksum snapshot, as Litestream writes');
  const [info] = await listReplica(await replica(t, join(dir, 'replica')));
  t.equal(info.createdAt, 1795254709256, 'file time = header timestamp');

  await sameRows(t, join(dir, 'replica'), bytes, QUERIES);
  await restoreDatabase(await replica(t, join(dir, 'replica')), join(dir, 'restored.db'));
  t.ok(bytesEqual(readBytes(join(dir, 'restored.db')), bytes), 'restore gives the original bytes back');
});

t.test('a database of several 4 MiB slabs reports progress per slab', async (t) => {
  const dir = t.testdir({ replica: {} });
  const dbPath = join(dir, 'big.db');
  sqliteCli(dbPath, `PRAGMA page_size = 8192; CREATE TABLE t (v BLOB);
    INSERT INTO t SELECT randomblob(1500) FROM (WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c WHERE x < 4000) SELECT x FROM c);`);
  const bytes = readBytes(dbPath);
  const progress: number[][] = [];
  const result = await importDatabase(dbPath, await replica(t, join(dir, 'replica')), { onProgress: (...a) => void progress.push(a) });
  const commit = bytes.length / 8192;
  t.equal(result.pageSize, 8192);
  t.same(progress.map((p) => p[0]), [512, 1024].filter((n) => n < commit).concat([commit]));
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
  const db = await openDatabase(join(dir, 'replica'), { cacheSize });
  t.teardown(() => db.close());
  t.same(await db.all('SELECT id, hex(v) AS v FROM t ORDER BY id'), await sqlJsRows(bytes, 'SELECT id, hex(v) AS v FROM t ORDER BY id'));
  t.ok(db.stats().cacheBytes <= cacheSize, `cache holds ${db.stats().cacheBytes} ≤ ${cacheSize} bytes`);
});

t.test('WAL mode: a live -wal file is refused, a checkpointed database is accepted', async (t) => {
  const dir = t.testdir({ r1: {}, r2: {}, r3: {} });
  const dbPath = join(dir, 'wal.db');
  // Keep a copy of the -wal while the connection is open, then put it back after the CLI checkpointed on exit.
  sqliteCli(dbPath, `PRAGMA journal_mode = WAL; CREATE TABLE t (x); INSERT INTO t VALUES (1), (2), (3);\n.shell cp '${dbPath}-wal' '${dbPath}.saved-wal'\n`);
  const checkpointed = readBytes(dbPath);
  t.same([checkpointed[18], checkpointed[19]], [2, 2], 'a WAL-mode header');
  await fs.copyFile(`${dbPath}.saved-wal`, `${dbPath}-wal`);
  const walSize = (await fs.stat(`${dbPath}-wal`)).size;
  t.ok(walSize > 0);
  const c1 = await replica(t, join(dir, 'r1'));
  await rejectsLtx(t, importDatabase(dbPath, c1), 'LTXVFS_ERR_UNSUPPORTED', dbPath,
    new RegExp(`WAL-mode database with ${walSize} bytes in .*-wal; checkpoint it first`));
  t.same(await listReplica(c1), [], 'nothing written');

  await fs.writeFile(`${dbPath}-wal`, new Uint8Array(0));
  await importDatabase(dbPath, await replica(t, join(dir, 'r2')));
  await sameRows(t, join(dir, 'r2'), checkpointed, ['SELECT x FROM t ORDER BY x']);

  await fs.rm(`${dbPath}-wal`);
  await importDatabase(dbPath, await replica(t, join(dir, 'r3')));
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
