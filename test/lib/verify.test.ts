import t, { type Test } from 'tap';
import { promises as fs } from 'node:fs';
import { join } from 'node:path';
import { verifyReplica } from '../../lib/tools/verify.js';
import { openFileReplica, type FileReplicaClient } from '../../lib/storage/file/client.js';
import { CHECKSUM_FLAG } from '../../ltx/checksum.js';
import { decodeLtxFile } from '../../ltx/decoder.js';
import {
  copyChecksummedReplica, copyFixtureReplica, encodeLtx, FIXTURE_NAMES, flipBit, historyFromStates, randomPage, rejectsLtx,
  sqlJsHistory, writeLtx, writeReplica,
} from '../helpers/replica-builder.js';

const key = (n: number) => `ltx/0/${FIXTURE_NAMES[n - 1]}`;

async function open(t: Test, dir: string): Promise<FileReplicaClient> {
  const c = await openFileReplica(dir);
  t.teardown(() => c.close());
  return c;
}

/** Assert exactly one problem, starting with `file` and matching `reason`. */
function oneProblem(t: Test, problems: string[], file: string, reason: RegExp): void {
  t.equal(problems.length, 1, `one problem: ${JSON.stringify(problems)}`);
  t.ok(problems[0]?.startsWith(`${file}: `), `names ${file}: ${problems[0]}`);
  t.match(problems[0], reason);
}

t.test('the Litestream fixture is sound', async (t) => {
  const dir = await copyFixtureReplica(t.testdir());
  const progress: number[][] = [];
  const report = await verifyReplica(await open(t, dir), { onProgress: (...a) => void progress.push(a) });
  t.same(report.problems, []);
  t.same([report.filesChecked, report.bytesRead, report.txid, report.checksummed], [5, 9466, 5, false]);
  t.same(report.plan.map((f) => f.key), [1, 2, 3, 4, 5].map(key));
  t.same(progress, [[1, 5], [2, 5], [3, 5], [4, 5], [5, 5]]);
});

t.test('the checksummed fixture is sound and its chain is checked', async (t) => {
  const dir = await copyChecksummedReplica(t.testdir());
  const report = await verifyReplica(await open(t, dir));
  t.same(report.problems, []);
  t.same([report.txid, report.checksummed], [5, true]);
});

t.test('a checksummed history that grows and shrinks is sound', async (t) => {
  const states = await sqlJsHistory([
    'CREATE TABLE t (id INTEGER PRIMARY KEY, v BLOB)',
    'INSERT INTO t (v) SELECT randomblob(3000) FROM (WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c WHERE x < 20) SELECT x FROM c)',
    'DELETE FROM t WHERE id > 2',
    'VACUUM',
    "INSERT INTO t (v) VALUES ('z')",
  ]);
  const dir = t.testdir();
  await writeReplica(dir, historyFromStates(states, { checksummed: true }));
  const report = await verifyReplica(await open(t, dir));
  t.same(report.problems, []);
  t.same([report.filesChecked, report.txid, report.checksummed], [5, 5, true]);
});

t.test('each kind of damage is one problem line naming the file', async (t) => {
  t.test('a bit flip in a page', async (t) => {
    const dir = await copyFixtureReplica(t.testdir());
    await flipBit(join(dir, key(3)), 500, 0);
    const report = await verifyReplica(await open(t, dir));
    oneProblem(t, report.problems, key(3), /file checksum mismatch: stored [0-9a-f]{16}, computed [0-9a-f]{16}/);
    t.equal(report.txid, 2, 'the plan is followed up to the damaged file');
  });

  t.test('a bit flip in the header', async (t) => {
    const dir = await copyFixtureReplica(t.testdir());
    await flipBit(join(dir, key(2)), 10, 1); // pageSize 4096 → 4098... not a power of two
    const report = await verifyReplica(await open(t, dir));
    oneProblem(t, report.problems, key(2), /header: /);
  });

  t.test('a truncated file', async (t) => {
    const dir = await copyFixtureReplica(t.testdir());
    await fs.truncate(join(dir, key(5)), 1500);
    const report = await verifyReplica(await open(t, dir));
    oneProblem(t, report.problems, key(5), /truncated|page index/);
    t.equal(report.txid, 4);
  });

  t.test('a bit flip in LZ4 literals of a large file', async (t) => {
    const dir = t.testdir();
    const pages = Array.from({ length: 20 }, (_, i) => ({ pgno: i + 1, data: randomPage(i + 1) }));
    const { key: k, path } = await writeLtx(dir, { minTXID: 1, maxTXID: 1, pageSize: 4096, commit: 20, pages });
    await flipBit(path!, 100 + 5 * 4124 + 3000, 7);
    const report = await verifyReplica(await open(t, dir));
    oneProblem(t, report.problems, k, /file checksum mismatch/);
  });

  t.test('a bit flip in LZ4 literals of a file above 2 MiB, read in ranges', async (t) => {
    const dir = t.testdir();
    const pages = Array.from({ length: 600 }, (_, i) => ({ pgno: i + 1, data: randomPage(i + 1) }));
    const { key: k, path, bytes } = await writeLtx(dir, { minTXID: 1, maxTXID: 1, pageSize: 4096, commit: 600, pages });
    t.ok(bytes.length > 2 * 1024 * 1024, `${bytes.length} bytes: above the whole-file bound`);
    const clean = await open(t, dir);
    const sizes: number[] = [];
    const read = clean.readRange.bind(clean);
    clean.readRange = (key, offset, length, into) => {
      sizes.push(length);
      return read(key, offset, length, into);
    };
    const sound = await verifyReplica(clean);
    t.same(sound.problems, [], 'sound');
    t.ok(sizes.length > 2 && sizes.every((n) => n < bytes.length), `read in parts, never whole: ${sizes.join(', ')}`);
    await flipBit(path!, 100 + 400 * 4110 + 3000, 7);
    const report = await verifyReplica(await open(t, dir));
    oneProblem(t, report.problems, k, /file checksum mismatch/);
    // A frame read in a range that no longer decodes: its page and offset named.
    await flipBit(path!, 100 + 400 * 4110 + 3000, 7);
    const offset = decodeLtxFile(bytes, k).index.find((e) => e.pgno === 501)!.offset;
    await flipBit(path!, offset + 7, 7); // the size prefix of page 501
    const broken = await verifyReplica(await open(t, dir));
    oneProblem(t, broken.problems, k, new RegExp(`^${k}: page 501 at offset ${offset}: size prefix`));
  });

  t.test('a file whose header does not match its name', async (t) => {
    const dir = await copyFixtureReplica(t.testdir());
    await fs.rename(join(dir, key(5)), join(dir, 'ltx/0/0000000000000005-0000000000000006.ltx'));
    const report = await verifyReplica(await open(t, dir));
    oneProblem(t, report.problems, 'ltx/0/0000000000000005-0000000000000006.ltx',
      /header TXIDs 0000000000000005-0000000000000005 do not match the file name/);
  });

  t.test('a TXID gap', async (t) => {
    const dir = await copyFixtureReplica(t.testdir());
    await fs.rm(join(dir, key(3)));
    const report = await verifyReplica(await open(t, dir));
    t.equal(report.problems.length, 1);
    t.match(report.problems[0], new RegExp(`TXID gap after 0000000000000002: next file ${key(4)} starts at 0000000000000004`));
    t.same(report.plan, [], 'no plan');
    t.equal(report.txid, 0);
  });

  t.test('overlapping files in one level', async (t) => {
    const dir = await copyFixtureReplica(t.testdir());
    const pages = [{ pgno: 1, data: randomPage(1) }, { pgno: 2, data: randomPage(2) }];
    await writeLtx(dir, { level: 0, minTXID: 4, maxTXID: 6, pageSize: 4096, commit: 4, pages });
    const report = await verifyReplica(await open(t, dir));
    t.same(report.problems, [`overlapping LTX files in level 0: ${key(4)} and ltx/0/0000000000000004-0000000000000006.ltx`]);
    t.equal(report.filesChecked, 6, 'every file is still checked');
    t.equal(report.txid, 6, 'the plan goes through the larger file');
  });

  t.test('a level-9 file that is not a snapshot', async (t) => {
    const dir = await copyFixtureReplica(t.testdir());
    await writeLtx(dir, { level: 9, minTXID: 2, maxTXID: 3, pageSize: 4096, commit: 1, pages: [{ pgno: 1, data: randomPage(1) }] });
    const report = await verifyReplica(await open(t, dir));
    t.same(report.problems, ['snapshot does not start at TXID 1: ltx/9/0000000000000002-0000000000000003.ltx starts at 0000000000000002'],
      'reported once');
    t.equal(report.filesChecked, 6);
  });

  t.test('a page size that changes between files', async (t) => {
    const dir = await copyFixtureReplica(t.testdir());
    const big = encodeLtx({ minTXID: 6, maxTXID: 6, pageSize: 8192, commit: 2, pages: [{ pgno: 1, data: randomPage(6, 8192) }] });
    await fs.writeFile(join(dir, 'ltx/0/0000000000000006-0000000000000006.ltx'), big);
    const report = await verifyReplica(await open(t, dir));
    oneProblem(t, report.problems, 'ltx/0/0000000000000006-0000000000000006.ltx', /page size 8192 does not match 4096/);
    t.equal(report.txid, 5);
  });

  t.test('a wrong post-apply checksum', async (t) => {
    const states = await sqlJsHistory(['CREATE TABLE t (x)', 'INSERT INTO t VALUES (1)', 'INSERT INTO t VALUES (2)']);
    const specs = historyFromStates(states, { checksummed: true });
    specs[1].postApplyChecksum = CHECKSUM_FLAG | 0x99n;
    specs[2].preApplyChecksum = CHECKSUM_FLAG | 0x99n; // the chain itself holds
    const dir = t.testdir();
    const keys = await writeReplica(dir, specs);
    const report = await verifyReplica(await open(t, dir));
    oneProblem(t, report.problems, keys[1], /post-apply checksum 8000000000000099 does not match the database checksum [0-9a-f]{16} computed from the pages/);
  });

  t.test('a broken pre-apply chain', async (t) => {
    const states = await sqlJsHistory(['CREATE TABLE t (x)', 'INSERT INTO t VALUES (1)', 'INSERT INTO t VALUES (2)']);
    const specs = historyFromStates(states, { checksummed: true });
    specs[2].preApplyChecksum = CHECKSUM_FLAG | 0x77n;
    const dir = t.testdir();
    const keys = await writeReplica(dir, specs);
    const report = await verifyReplica(await open(t, dir));
    oneProblem(t, report.problems, keys[2], /pre-apply checksum 8000000000000077 does not match post-apply checksum [0-9a-f]{16} at TXID 2/);
    t.equal(report.txid, 2);
  });
});

t.test('several damaged files give several problems', async (t) => {
  const dir = await copyFixtureReplica(t.testdir());
  await flipBit(join(dir, key(2)), 300, 0);
  await flipBit(join(dir, key(4)), 300, 0);
  const report = await verifyReplica(await open(t, dir));
  t.equal(report.problems.length, 2);
  t.ok(report.problems[0].startsWith(`${key(2)}: `));
  t.ok(report.problems[1].startsWith(`${key(4)}: `));
});

t.test('a replica that cannot be listed throws', async (t) => {
  const dir = await copyFixtureReplica(t.testdir({ r: {} }));
  const c = await open(t, dir);
  await fs.rm(dir, { recursive: true });
  await rejectsLtx(t, verifyReplica(c), 'LTXVFS_ERR_NOT_FOUND', dir, /replica directory does not exist/);
});
