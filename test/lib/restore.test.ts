import t, { type Test } from 'tap';
import { promises as fs } from 'node:fs';
import { join } from 'node:path';
import { restoreDatabase } from '../../lib/tools/restore.js';
import { openFileReplica } from '../../lib/storage/file/client.js';
import { CHECKSUM_FLAG, formatChecksum } from '../../ltx/checksum.js';
import { LtxvfsError } from '../../ltx/errors.js';
import {
  bytesEqual, compactSpecs, copyChecksummedReplica, copyFixtureReplica, CountingClient, databaseChecksumOf, FIXTURE_EXPECTED_DB,
  FIXTURE_NAMES, FIXTURE_TXID5_CHECKSUM, flipBit, historyFromStates, randomPage, readBytes, rejectsLtx, snapshotFromDatabase,
  sqlJsHistory, sqlJsRows, sqliteCli, writeLtx, writeReplica,
} from '../helpers/replica-builder.js';

async function client(t: Test, dir: string): Promise<CountingClient> {
  const c = await CountingClient.open(dir);
  t.teardown(() => c.close());
  return c;
}

/** The names in `dir` (to see that no temporary file is left behind). */
const names = async (dir: string) => (await fs.readdir(dir)).sort();

t.test('the Litestream fixture restores byte for byte', async (t) => {
  const replica = await copyFixtureReplica(t.testdir({ out: {} }));
  const out = join(replica, 'out', 'restored.db');
  const progress: number[][] = [];
  const result = await restoreDatabase(await client(t, replica), out, { onProgress: (...a) => void progress.push(a) });
  t.ok(bytesEqual(readBytes(out), readBytes(FIXTURE_EXPECTED_DB)), 'identical to expected/test-txid-0000000000000005.db');
  t.same(
    { ...result, files: result.files.map((f) => f.key) },
    { txid: 5, pageSize: 4096, commit: 4, files: FIXTURE_NAMES.map((n) => `ltx/0/${n}`), bytesRead: 9466, checksum: undefined },
  );
  t.same(progress, [[1, 5, 374, 9466], [2, 5, 775, 9466], [3, 5, 3921, 9466], [4, 5, 6571, 9466], [5, 5, 9466, 9466]], "files and bytes");
  t.same(await names(join(replica, 'out')), ['restored.db'], 'no temporary file left');
  const rows = await sqlJsRows(readBytes(out), 'SELECT count(*) AS n, sum(id) AS s, min(name) AS lo, max(name) AS hi FROM t');
  t.same(rows, [{ n: 250, s: 31375, lo: 'ALPHA', hi: 'row-0247' }]);
});

t.test('a checksummed replica restores with its database checksum verified', async (t) => {
  const replica = await copyChecksummedReplica(t.testdir());
  const out = join(replica, 'restored.db');
  const result = await restoreDatabase(await client(t, replica), out);
  t.equal(result.checksum, FIXTURE_TXID5_CHECKSUM);
  t.equal(databaseChecksumOf(readBytes(out)), FIXTURE_TXID5_CHECKSUM);
  t.ok(bytesEqual(readBytes(out), readBytes(FIXTURE_EXPECTED_DB)));
});

t.test('a checksummed history that grows and shrinks (VACUUM) restores and verifies', async (t) => {
  const states = await sqlJsHistory([
    'CREATE TABLE t (id INTEGER PRIMARY KEY, v BLOB)',
    "INSERT INTO t (v) SELECT randomblob(3000) FROM (WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c WHERE x < 20) SELECT x FROM c)",
    'DELETE FROM t WHERE id > 3',
    'VACUUM',
    "INSERT INTO t (v) VALUES (x'00ff')",
  ]);
  t.ok(states[3].length < states[2].length, 'VACUUM shrinks the database');
  const dir = t.testdir();
  await writeReplica(dir, historyFromStates(states, { checksummed: true }));
  const out = join(dir, 'out.db');
  const result = await restoreDatabase(await client(t, dir), out);
  t.equal(result.txid, 5);
  t.equal(result.checksum, databaseChecksumOf(states[4]));
  t.ok(bytesEqual(readBytes(out), states[4]));
});

t.test('a large checksummed database (several 4 MiB slabs) restores and verifies', async (t) => {
  const dir = t.testdir();
  const dbPath = join(dir, 'big.db');
  sqliteCli(dbPath, `CREATE TABLE t (id INTEGER PRIMARY KEY, v BLOB);
    INSERT INTO t (v) SELECT randomblob(2000) FROM (WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c WHERE x < 4500) SELECT x FROM c);`);
  const db = readBytes(dbPath);
  t.ok(db.length > 8 * 1024 * 1024, `${db.length} bytes: more than two slabs`);
  await writeLtx(join(dir, 'replica'), snapshotFromDatabase(db, { checksummed: true }));
  const out = join(dir, 'out.db');
  const result = await restoreDatabase(await client(t, join(dir, 'replica')), out);
  t.equal(result.checksum, databaseChecksumOf(db));
  t.ok(bytesEqual(readBytes(out), db));
});

t.test('a wrong post-apply checksum fails with LTXVFS_ERR_CHECKSUM and leaves nothing behind', async (t) => {
  const states = await sqlJsHistory(['CREATE TABLE t (x)', 'INSERT INTO t VALUES (1)', 'INSERT INTO t VALUES (2)']);
  const specs = historyFromStates(states, { checksummed: true });
  const good = specs[2].postApplyChecksum!;
  specs[2].postApplyChecksum = CHECKSUM_FLAG | 0x42n;
  const dir = t.testdir({ out: {} });
  const [, , last] = await writeReplica(join(dir, 'replica'), specs);
  const out = join(dir, 'out', 'db');
  await rejectsLtx(t, restoreDatabase(await client(t, join(dir, 'replica')), out), 'LTXVFS_ERR_CHECKSUM', last,
    new RegExp(`restored database checksum ${formatChecksum(good)} does not match post-apply checksum 8000000000000042 at TXID 0000000000000003`));
  t.same(await names(join(dir, 'out')), [], 'neither the output nor the temporary file exists');
});

t.test('an existing output is refused unless overwrite is set', async (t) => {
  const replica = await copyFixtureReplica(t.testdir());
  const out = join(replica, 'existing.db');
  await fs.writeFile(out, 'keep me');
  const c = await client(t, replica);
  await rejectsLtx(t, restoreDatabase(c, out), 'LTXVFS_ERR_USAGE', out, /output file already exists/);
  t.equal(await fs.readFile(out, 'utf8'), 'keep me');
  t.equal(c.reads.length, 0, 'nothing read');
  await restoreDatabase(c, out, { overwrite: true });
  t.ok(bytesEqual(readBytes(out), readBytes(FIXTURE_EXPECTED_DB)));
});

t.test('bad replicas fail naming the file; the temporary file is removed', async (t) => {
  const root = t.testdir({ out: {} });
  const outDir = join(root, 'out');
  const out = join(outDir, 'db');

  t.test('a bit flip in a page', async (t) => {
    const replica = await copyFixtureReplica(join(root, 'flip'));
    const key = 'ltx/0/0000000000000003-0000000000000003.ltx';
    await flipBit(join(replica, key), 1000, 5);
    await rejectsLtx(t, restoreDatabase(await client(t, replica), out), 'LTXVFS_ERR_CHECKSUM', key, /file checksum mismatch/);
    t.same(await names(outDir), []);
  });

  t.test('a truncated file', async (t) => {
    const replica = await copyFixtureReplica(join(root, 'trunc'));
    const key = 'ltx/0/0000000000000004-0000000000000004.ltx';
    await fs.truncate(join(replica, key), 2000);
    await rejectsLtx(t, restoreDatabase(await client(t, replica), out), 'LTXVFS_ERR_CORRUPT', key, /truncated|page index/);
    t.same(await names(outDir), []);
  });

  t.test('a bit flip in LZ4 literals of a large file', async (t) => {
    const replica = join(root, 'literal');
    const pages = Array.from({ length: 20 }, (_, i) => ({ pgno: i + 1, data: randomPage(i + 1) }));
    const { key, path, bytes } = await writeLtx(replica, { minTXID: 1, maxTXID: 1, pageSize: 4096, commit: 20, pages });
    t.ok(bytes.length > 32768);
    await flipBit(path!, 100 + 10 * 4124 + 2000, 1); // inside page 11's literal bytes
    await rejectsLtx(t, restoreDatabase(await client(t, replica), out), 'LTXVFS_ERR_CHECKSUM', key, /file checksum mismatch/);
    t.same(await names(outDir), []);
  });

  t.test('a TXID gap', async (t) => {
    const replica = await copyFixtureReplica(join(root, 'gap'));
    await fs.rm(join(replica, 'ltx/0/0000000000000003-0000000000000003.ltx'));
    await rejectsLtx(t, restoreDatabase(await client(t, replica), out), 'LTXVFS_ERR_TXID_GAP', 'ltx/0/0000000000000004-0000000000000004.ltx',
      /TXID gap after 0000000000000002/);
    t.same(await names(outDir), []);
  });

  t.test('an empty replica', async (t) => {
    const replica = join(root, 'empty');
    await fs.mkdir(replica);
    const c = await client(t, replica);
    await rejectsLtx(t, restoreDatabase(c, out), 'LTXVFS_ERR_EMPTY_REPLICA', c.url, /replica has no LTX files/);
    t.same(await names(outDir), []);
  });

  t.test('a storage failure half way', async (t) => {
    const replica = await copyFixtureReplica(join(root, 'storage'));
    const c = await client(t, replica);
    const key = 'ltx/0/0000000000000004-0000000000000004.ltx';
    c.fault = (call) => (call.key === key ? new LtxvfsError('LTXVFS_ERR_STORAGE', `read ${key}: injected`, { key }) : undefined);
    await rejectsLtx(t, restoreDatabase(c, out), 'LTXVFS_ERR_STORAGE', key, /injected/);
    t.same(await names(outDir), []);
  });

  t.test('a page-size change between files', async (t) => {
    const replica = join(root, 'pagesize');
    await writeLtx(replica, { minTXID: 1, maxTXID: 1, pageSize: 4096, commit: 1, pages: [{ pgno: 1, data: randomPage(1) }] });
    const { key } = await writeLtx(replica, { minTXID: 2, maxTXID: 2, pageSize: 8192, commit: 1, pages: [{ pgno: 1, data: randomPage(2, 8192) }] });
    await rejectsLtx(t, restoreDatabase(await client(t, replica), out), 'LTXVFS_ERR_PAGE_SIZE', key, /page size 8192 does not match 4096/);
    t.same(await names(outDir), []);
  });
});

t.test('a file above the whole-file bound is restored in ranges, its checksum verified from the frames decoded: bounded reads', async (t) => {
  const dir = t.testdir({ out: {} });
  const replica = join(dir, 'replica');
  const pages = Array.from({ length: 60 }, (_, i) => ({ pgno: i + 1, data: randomPage(i + 1) }));
  const snapshot = await writeLtx(replica, { minTXID: 1, maxTXID: 1, pageSize: 4096, commit: 60, pages });
  const page20 = randomPage(1000);
  await writeLtx(replica, { minTXID: 2, maxTXID: 2, pageSize: 4096, commit: 50, pages: [{ pgno: 20, data: page20 }] });
  const c = await client(t, replica);
  const out = join(dir, 'out', 'db');
  const progress: number[] = [];
  const result = await restoreDatabase(c, out, { wholeFileBytes: 32 * 1024, rangeBytes: 64 * 1024, onProgress: (_d, _n, bytesRead) => progress.push(bytesRead) });
  t.match(result, { txid: 2, commit: 50, pageSize: 4096 });
  const expected = new Uint8Array(50 * 4096);
  for (const p of pages.slice(0, 50)) expected.set(p.data, (p.pgno - 1) * 4096);
  expected.set(page20, 19 * 4096);
  t.ok(bytesEqual(readBytes(out), expected), 'the newest state, byte for byte (the level-0 file applied, the database cut to 50 pages)');
  const snapshotReads = c.reads.filter((r) => r.key === snapshot.key);
  t.ok(snapshotReads.every((r) => r.length <= 64 * 1024), `no read of the ${snapshot.bytes.length}-byte snapshot over 64 KiB: ${snapshotReads.map((r) => r.length).join(', ')}`);
  const read = snapshotReads.reduce((n, r) => n + r.length, 0);
  t.ok(read < 1.2 * snapshot.bytes.length, `its bytes read about once (${read} of ${snapshot.bytes.length}, the loader's head and tail reads included)`);
  t.ok(progress.length > 4 && progress.every((b, i) => i === 0 || b >= progress[i - 1]), `progress after each range (${progress.length} calls)`);

  // A bit flipped in the literals of a page read in ranges: the frame still decodes; the file checksum tells.
  await flipBit(snapshot.path!, 100 + 30 * 4110 + 2000, 2);
  await rejectsLtx(t, restoreDatabase(await client(t, replica), out, { overwrite: true, wholeFileBytes: 32 * 1024, rangeBytes: 64 * 1024 }),
    'LTXVFS_ERR_CHECKSUM', snapshot.key, /file checksum mismatch/);
  t.same(await names(join(dir, 'out')), ['db'], 'the earlier output stays; no temporary file is left');
});

t.test('a snapshot, compactions and L0 files restore to the newest state', async (t) => {
  const states = await sqlJsHistory([
    'CREATE TABLE t (id INTEGER PRIMARY KEY, v TEXT)',
    ...Array.from({ length: 6 }, (_, i) => `INSERT INTO t (v) VALUES ('${'x'.repeat(500 * (i + 1))}')`),
  ]);
  const l0 = historyFromStates(states);
  const dir = t.testdir();
  await writeReplica(dir, [snapshotFromDatabase(states[1], { level: 9, maxTXID: 2 }), compactSpecs(l0.slice(2, 5), 2), ...l0.slice(4)]);
  const c = await openFileReplica(dir);
  t.teardown(() => c.close());
  const result = await restoreDatabase(c, join(dir, 'out.db'));
  t.same(result.files.map((f) => f.key), [
    'ltx/9/0000000000000001-0000000000000002.ltx',
    'ltx/2/0000000000000003-0000000000000005.ltx',
    'ltx/0/0000000000000006-0000000000000006.ltx',
    'ltx/0/0000000000000007-0000000000000007.ltx',
  ]);
  t.ok(bytesEqual(readBytes(join(dir, 'out.db')), states[6]));
});
