/**
 * Compaction and L0 retention (lib/tools/compact.ts) on replicas built from real database
 * histories (sql.js states encoded by the project's encoder): the output is exactly what
 * ltx's Compactor gives (compactSpecs in the replica builder), restores to the same
 * database, verifies clean (with the checksum chain where files carry checksums), and
 * bad inputs stop the run before anything is written or deleted.
 */
import t, { type Test } from 'tap';
import { promises as fs } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { compactReplica, mergeLtx, DEFAULT_L0_RETENTION_MS, type CompactReport } from '../../lib/tools/compact.js';
import { Lease } from '../../lib/write/lease.js';
import { computePlan, listReplica } from '../../lib/replica/plan.js';
import { openDatabase } from '../../lib/api/open.js';
import { restoreDatabase } from '../../lib/tools/restore.js';
import type { S3ReplicaClient } from '../../lib/storage/s3/index.js';
import type { LtxFileInfo, ReplicaClient } from '../../lib/storage/types.js';
import { openReplicaClient } from '../../lib/storage/url.js';
import { verifyReplica } from '../../lib/tools/verify.js';
import { decodeLtxFile } from '../../ltx/decoder.js';
import { LtxvfsError } from '../../ltx/errors.js';
import { formatLtxFilename } from '../../ltx/filename.js';
import { HEADER_FLAG_NO_CHECKSUM } from '../../ltx/header.js';
import { startFaultProxy } from '../helpers/fault-proxy.js';
import {
  bytesEqual, compactSpecs, CountingClient, databaseChecksumOf, encodeLtx, flipBit, historyFromStates, keyOf, readBytes, rejectsLtx,
  sqlJsHistory, testPage, timestampOf, writeLtx, writeReplica, type LtxSpec,
} from '../helpers/replica-builder.js';
import { startS3rver } from '../helpers/s3rver.js';

/** Twelve transactions: a table and an index growing, updates, deletes. */
const TRANSACTIONS = [
  'CREATE TABLE t (id INTEGER PRIMARY KEY, name TEXT, v BLOB)',
  "INSERT INTO t (name, v) VALUES ('a', randomblob(100)), ('b', randomblob(200))",
  "WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c WHERE x < 60) INSERT INTO t (name, v) SELECT 'row ' || x, randomblob(300) FROM c",
  "UPDATE t SET name = upper(name) WHERE id % 3 = 0",
  'CREATE INDEX t_name ON t(name)',
  'DELETE FROM t WHERE id % 5 = 0',
  "INSERT INTO t (name, v) VALUES ('late', randomblob(5000))",
  "UPDATE t SET v = randomblob(50) WHERE id < 10",
  "INSERT INTO t (name) VALUES ('nine')",
  "UPDATE t SET name = 'ten' WHERE id = 1",
  "WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c WHERE x < 30) INSERT INTO t (name, v) SELECT 'more ' || x, randomblob(700) FROM c",
  'DELETE FROM t WHERE id > 50',
];

let states: Uint8Array[];
t.before(async () => {
  states = await sqlJsHistory(TRANSACTIONS);
});

async function open(t: Test, dir: string): Promise<CountingClient> {
  const c = await CountingClient.open(dir);
  t.teardown(() => c.close());
  return c;
}

/** The keys of a replica, per level, as `L<level>:<min>-<max>`. */
async function layout(client: ReplicaClient): Promise<string[]> {
  return (await listReplica(client)).map((f) => `L${f.level}:${f.minTXID}-${f.maxTXID}`);
}

/** Restore the replica and compare with `expected`. */
async function restoresTo(t: Test, client: ReplicaClient, expected: Uint8Array, what: string): Promise<LtxFileInfo[]> {
  const tmp = await fs.mkdtemp(join(tmpdir(), 'ltxvfs-compact-'));
  t.teardown(() => fs.rm(tmp, { recursive: true, force: true }));
  const out = join(tmp, 'restored.db');
  const r = await restoreDatabase(client, out);
  t.ok(bytesEqual(readBytes(out), expected), `${what}: restore gives the same database`);
  return r.files;
}

async function verifiesClean(t: Test, client: ReplicaClient, what: string): Promise<void> {
  const v = await verifyReplica(client);
  t.same(v.problems, [], `${what}: verify is clean`);
}

const stored = async (client: CountingClient, key: string) => (await client.inner.read(key)).data;

t.test('L0 files compact into one L1 file exactly as ltx does, plus an L9 snapshot; the replica restores and verifies', async (t) => {
  const dir = t.testdir();
  const specs = historyFromStates(states.slice(0, 8));
  await writeReplica(dir, specs);
  const client = await open(t, dir);
  const report = await compactReplica(client, { retentionMs: Infinity });

  t.same(report.merged.map((f) => f.key), specs.map(keyOf), 'every L0 file merged');
  const l1 = encodeLtx(compactSpecs(specs, 1));
  t.ok(bytesEqual(await stored(client, 'ltx/1/0000000000000001-0000000000000008.ltx'), l1), 'L1 1-8 is byte for byte the ltx compaction');
  const l9 = await stored(client, 'ltx/9/0000000000000001-0000000000000008.ltx');
  t.ok(bytesEqual(l9, l1), 'the snapshot of a chain starting at TXID 1 holds the same file');
  const d = decodeLtxFile(l9, 'l9');
  t.equal(d.header.flags, HEADER_FLAG_NO_CHECKSUM, 'checksum-free, like the inputs (and Litestream)');
  t.equal(d.header.timestamp, timestampOf(specs[7]), "the last input's timestamp");
  t.same(report.written, ['ltx/1/0000000000000001-0000000000000008.ltx', 'ltx/9/0000000000000001-0000000000000008.ltx']);
  t.same(report.deleted, []);
  t.match(report, {
    txid: 8,
    compacted: { level: 1, minTXID: 1, maxTXID: 8, size: l1.length, timestamp: timestampOf(specs[7]), checksummed: false },
    snapshot: { level: 9, minTXID: 1, maxTXID: 8, size: l1.length, checksummed: false },
    bytesWritten: 2 * l1.length,
  });
  const inputBytes = report.merged.reduce((n, f) => n + f.size, 0);
  t.equal(report.bytesRead, inputBytes, 'each input read once, whole; nothing else');
  const listed = await listReplica(client);
  for (const f of listed.filter((x) => x.level > 0)) t.equal(f.createdAt, timestampOf(specs[7]), `${f.key}: mtime = header timestamp`);
  t.same(await layout(client), [...specs.map((s) => `L0:${s.minTXID}-${s.maxTXID}`), 'L1:1-8', 'L9:1-8']);
  const plan = await restoresTo(t, client, states[7], 'after the first compaction');
  t.same(plan.map((f) => f.key), ['ltx/9/0000000000000001-0000000000000008.ltx'], 'the plan is the snapshot alone');
  await verifiesClean(t, client, 'after the first compaction');

  // More transactions, then a second round: only the new L0 files are merged.
  const more = historyFromStates(states).slice(8);
  await writeReplica(dir, more);
  const second = await compactReplica(client, { retentionMs: Infinity });
  t.same(second.merged.map((f) => f.key), more.map(keyOf));
  t.ok(bytesEqual(await stored(client, 'ltx/1/0000000000000009-000000000000000c.ltx'), encodeLtx(compactSpecs(more, 1))), 'L1 9-12 as ltx compacts it');
  t.same(second.written, ['ltx/1/0000000000000009-000000000000000c.ltx', 'ltx/9/0000000000000001-000000000000000c.ltx']);
  const snap = decodeLtxFile(await stored(client, 'ltx/9/0000000000000001-000000000000000c.ltx'), 'snap');
  t.equal(snap.header.commit, states[11].length / 4096);
  t.same(snap.pages.map((p) => p.pgno), Array.from({ length: snap.header.commit }, (_, i) => i + 1), 'a full database');
  const plan2 = await restoresTo(t, client, states[11], 'after the second compaction');
  t.same(plan2.map((f) => f.key), ['ltx/9/0000000000000001-000000000000000c.ltx']);
  await verifiesClean(t, client, 'after the second compaction');

  // Nothing new: nothing to do.
  client.reset();
  const third = await compactReplica(client, { retentionMs: Infinity });
  t.same({ merged: third.merged, written: third.written, deleted: third.deleted, txid: third.txid, bytesRead: third.bytesRead }, {
    merged: [], written: [], deleted: [], txid: 12, bytesRead: 0,
  });
  t.equal(client.reads.length, 0);
});

t.test('without a snapshot, the L1 file alone; a later run writes the missing snapshot (crash recovery)', async (t) => {
  const dir = t.testdir();
  await writeReplica(dir, historyFromStates(states.slice(0, 5)));
  const client = await open(t, dir);
  const r = await compactReplica(client, { snapshot: false, retentionMs: Infinity });
  t.same(r.written, ['ltx/1/0000000000000001-0000000000000005.ltx']);
  t.equal(r.snapshot, undefined);
  const again = await compactReplica(client, { retentionMs: Infinity });
  t.same(again.merged, []);
  t.same(again.written, ['ltx/9/0000000000000001-0000000000000005.ltx'], 'the snapshot of the existing L1 state');
  await restoresTo(t, client, states[4], 'snapshot from L1');
});

t.test('retention follows EnforceL0Retention: covered and old enough, in TXID order up to the first younger file, never the newest', async (t) => {
  const dir = t.testdir();
  const specs = historyFromStates(states.slice(0, 8));
  await writeReplica(dir, specs);
  const client = await open(t, dir);
  // Timestamps are BASE + 1000 × TXID: a threshold at TXID 5's time deletes 1…5.
  const r = await compactReplica(client, { retentionMs: 60_000, now: () => timestampOf(specs[4]) + 60_000 });
  t.same(r.deleted, specs.slice(0, 5).map(keyOf), 'TXIDs 1-5 are old enough');
  t.same(await layout(client), ['L0:6-6', 'L0:7-7', 'L0:8-8', 'L1:1-8', 'L9:1-8']);

  const all = await compactReplica(client, { retentionMs: 0, now: () => timestampOf(specs[7]) + 1 });
  t.same(all.deleted, [keyOf(specs[5]), keyOf(specs[6])], 'retention 0: every covered file but the newest');
  t.same(await layout(client), ['L0:8-8', 'L1:1-8', 'L9:1-8']);
  await restoresTo(t, client, states[7], 'after retention');
  await verifiesClean(t, client, 'after retention');

  // Files beyond level 1 are kept, however old; the newest L0 file too.
  const more = historyFromStates(states).slice(8, 10);
  await writeReplica(dir, more);
  t.same((await compactReplica(client, { retentionMs: 0, snapshot: false, level: 1, now: () => 0 })).deleted, [], 'a clock before every file: nothing');
  const last = await compactReplica(client, { retentionMs: 0, now: () => timestampOf(more[1]) });
  t.same(last.written, ['ltx/9/0000000000000001-000000000000000a.ltx'], 'the missing snapshot');
  t.same(last.deleted, [keyOf(specs[7]), keyOf(more[0])]);
  t.same(await layout(client), ['L0:10-10', 'L1:1-8', 'L1:9-10', 'L9:1-8', 'L9:1-10']);
  await restoresTo(t, client, states[9], 'after a second retention');
});

t.test('retention stops at the first file younger than the threshold, and keeps files not yet in level 1', async (t) => {
  const dir = t.testdir();
  const specs = historyFromStates(states.slice(0, 6));
  specs[2].timestamp = Date.now() + 3_600_000; // TXID 3 from the future
  await writeReplica(dir, specs);
  const client = await open(t, dir);
  const r = await compactReplica(client, { retentionMs: 0 });
  t.same(r.deleted, [keyOf(specs[0]), keyOf(specs[1])], 'stops at TXID 3');

  const dir2 = t.testdir();
  const specs2 = historyFromStates(states.slice(0, 6));
  await writeReplica(dir2, specs2.slice(0, 4));
  const c2 = await open(t, dir2);
  await compactReplica(c2, { retentionMs: Infinity });
  await writeReplica(dir2, specs2.slice(4));
  // Compacting level 1 into level 2 leaves level 0 alone, whatever the retention.
  const r2 = await compactReplica(c2, { level: 2, retentionMs: 0 });
  t.same(r2.deleted, [], 'only level-1 compaction applies L0 retention');
  t.same(await layout(c2), ['L0:1-1', 'L0:2-2', 'L0:3-3', 'L0:4-4', 'L0:5-5', 'L0:6-6', 'L1:1-4', 'L2:1-4', 'L9:1-4']);
  t.same(r2.written, ['ltx/2/0000000000000001-0000000000000004.ltx'], 'L1 1-4 into L2; the snapshot 1-4 exists');
});

t.test('a replica with database checksums keeps its chain: L1 and L9 carry checksums and verify clean', async (t) => {
  const dir = t.testdir();
  const specs = historyFromStates(states, { checksummed: true });
  await writeReplica(dir, specs.slice(0, 7));
  const client = await open(t, dir);
  const r1 = await compactReplica(client, { retentionMs: 0 });
  t.equal(r1.compacted?.checksummed, true);
  t.equal(r1.snapshot?.checksummed, true);
  const l1 = decodeLtxFile(await stored(client, r1.written[0]), 'l1');
  t.equal(l1.header.flags, 0);
  t.equal(l1.trailer.postApplyChecksum, databaseChecksumOf(states[6]), 'post-apply = checksum of the database at TXID 7');
  await writeReplica(dir, specs.slice(7));
  const r2 = await compactReplica(client, { retentionMs: 0 });
  const l1b = decodeLtxFile(await stored(client, r2.written[0]), 'l1b');
  t.equal(l1b.header.preApplyChecksum, databaseChecksumOf(states[6]), "pre-apply = the first input's = the state before");
  t.equal(l1b.trailer.postApplyChecksum, databaseChecksumOf(states[11]));
  const snap = decodeLtxFile(await stored(client, r2.written[1]), 'snap');
  t.equal(snap.trailer.postApplyChecksum, databaseChecksumOf(states[11]), 'snapshot: the database checksum');
  const v = await verifyReplica(client);
  t.same(v.problems, []);
  t.equal(v.checksummed, true, 'the chain was followed');
  const out = join(dir, 'restored.db');
  t.equal((await restoreDatabase(client, out)).checksum, databaseChecksumOf(states[11]));
});

t.test('one checksum-free input makes the output checksum-free', async (t) => {
  const dir = t.testdir();
  const specs = historyFromStates(states.slice(0, 4), { checksummed: true });
  specs[3] = historyFromStates(states.slice(0, 4))[3];
  await writeReplica(dir, specs);
  const client = await open(t, dir);
  const r = await compactReplica(client, { retentionMs: Infinity });
  t.equal(r.compacted?.checksummed, false);
  t.equal(r.snapshot?.checksummed, false);
  await restoresTo(t, client, states[3], 'mixed inputs');
});

t.test('pages beyond the last commit are dropped; a page no file holds is zero in the snapshot, as a restore has it', async (t) => {
  const shrink = await sqlJsHistory([
    'CREATE TABLE t (id INTEGER PRIMARY KEY, v BLOB)',
    "INSERT INTO t (v) SELECT randomblob(3000) FROM (WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c WHERE x < 20) SELECT x FROM c)",
    'DELETE FROM t WHERE id > 3',
    'VACUUM',
  ]);
  const dir = t.testdir();
  await writeReplica(dir, historyFromStates(shrink));
  const client = await open(t, dir);
  const r = await compactReplica(client, { retentionMs: 0 });
  const l1 = decodeLtxFile(await stored(client, r.written[0]), 'l1');
  t.equal(l1.header.commit, shrink[3].length / 4096);
  t.ok(l1.pages.every((p) => p.pgno <= l1.header.commit));
  await restoresTo(t, client, shrink[3], 'after VACUUM');

  const sparse = t.testdir();
  const a = testPage(1, 512);
  const b = testPage(2, 512);
  const c = testPage(3, 512);
  await writeReplica(sparse, [
    { minTXID: 1, maxTXID: 1, pageSize: 512, commit: 2, pages: [{ pgno: 1, data: a }, { pgno: 2, data: b }] },
    { minTXID: 2, maxTXID: 2, pageSize: 512, commit: 4, pages: [{ pgno: 3, data: c }] },
  ]);
  const sc = await open(t, sparse);
  const before = join(sparse, 'before.db');
  await restoreDatabase(sc, before);
  await compactReplica(sc, { retentionMs: 0 });
  const snap = decodeLtxFile(await stored(sc, 'ltx/9/0000000000000001-0000000000000002.ltx'), 'snap');
  t.same(snap.pages.map((p) => p.pgno), [1, 2, 3, 4]);
  t.ok(snap.pages[3].data.every((x) => x === 0), 'page 4 zero-filled');
  const out = join(sparse, 'after.db');
  await restoreDatabase(sc, out);
  t.ok(bytesEqual(readBytes(out), readBytes(before)), 'the same bytes as before compaction');
});

t.test('a corrupt L0 file stops compaction with the file named; nothing is written or deleted', async (t) => {
  const dir = t.testdir();
  const specs = historyFromStates(states.slice(0, 6));
  await writeReplica(dir, specs);
  await flipBit(join(dir, keyOf(specs[3])), 39); // the header timestamp: only the file checksum notices
  const client = await open(t, dir);
  const before = await layout(client);
  await rejectsLtx(t, compactReplica(client, { retentionMs: 0 }), 'LTXVFS_ERR_CHECKSUM', keyOf(specs[3]));
  t.same(await layout(client), before, 'no file written or deleted');
  t.equal(client.others, 0, 'no write or delete was attempted');

  // A truncated one.
  await fs.truncate(join(dir, keyOf(specs[3])), 50);
  await rejectsLtx(t, compactReplica(client), 'LTXVFS_ERR_CORRUPT', keyOf(specs[3]));
  // Header TXIDs that disagree with the name.
  await fs.writeFile(join(dir, keyOf(specs[3])), encodeLtx({ ...specs[3], minTXID: 5, maxTXID: 5 }));
  await rejectsLtx(t, compactReplica(client), 'LTXVFS_ERR_CORRUPT', keyOf(specs[3]), /header TXIDs 0000000000000005-0000000000000005 do not match the file name/);
  t.same(await layout(client), before);
});

t.test('inputs must be contiguous and continue level 1', async (t) => {
  const dir = t.testdir();
  const specs = historyFromStates(states.slice(0, 8));
  await writeReplica(dir, specs);
  const client = await open(t, dir);
  await fs.rm(join(dir, keyOf(specs[4])));
  await rejectsLtx(t, compactReplica(client), 'LTXVFS_ERR_TXID_GAP', keyOf(specs[5]), /TXID gap in level 0 after 0000000000000004/);

  const dir2 = t.testdir();
  await writeReplica(dir2, specs.slice(0, 4));
  const c2 = await open(t, dir2);
  await compactReplica(c2, { retentionMs: 0, now: () => Number.MAX_SAFE_INTEGER });
  await writeReplica(dir2, specs.slice(5));
  t.same(await layout(c2), ['L0:4-4', 'L0:6-6', 'L0:7-7', 'L0:8-8', 'L1:1-4', 'L9:1-4']);
  await rejectsLtx(t, compactReplica(c2), 'LTXVFS_ERR_TXID_GAP', keyOf(specs[5]),
    /level-0 files do not continue level 1: it ends at TXID 0000000000000004, the next level-0 file .* starts at 0000000000000006/);
});

t.test('retention that would break the restore plan is refused', async (t) => {
  const dir = t.testdir();
  const specs = historyFromStates(states.slice(0, 10));
  await writeReplica(dir, specs);
  // Level 1 with a hole (5-6 missing) that L0 bridges.
  await writeLtx(dir, compactSpecs(specs.slice(0, 4), 1));
  await writeLtx(dir, compactSpecs(specs.slice(6, 8), 1));
  const client = await open(t, dir);
  const err = await rejectsLtx(t, compactReplica(client, { retentionMs: 0, snapshot: false }), 'LTXVFS_ERR_TXID_GAP', 'retention would break the restore plan',
    /TXID 000000000000000a no longer reachable: TXID gap after 0000000000000004/, /nothing deleted/);
  t.equal((err as LtxvfsError).key, keyOf(specs[0]));
  t.equal((await listReplica(client)).filter((f) => f.level === 0).length, 10, 'every L0 file still there');
});

t.test('an output key that already exists (another compactor) fails the create-only write; nothing is deleted', async (t) => {
  const dir = t.testdir();
  const specs = historyFromStates(states.slice(0, 5));
  await writeReplica(dir, specs);
  const client = await open(t, dir);
  client.beforeWrite = async (key) => {
    client.beforeWrite = undefined;
    await client.inner.write(key, encodeLtx(compactSpecs(specs, 1)));
  };
  await rejectsLtx(t, compactReplica(client, { retentionMs: 0 }), 'LTXVFS_ERR_PRECONDITION', 'ltx/1/0000000000000001-0000000000000005.ltx');
  t.same(await layout(client), [...specs.map((s) => `L0:${s.minTXID}-${s.maxTXID}`), 'L1:1-5'], 'no snapshot, no deletion');
});

t.test('with a lease: assertHeld before every write and delete; a lost lease stops the run', async (t) => {
  const dir = t.testdir();
  const specs = historyFromStates(states.slice(0, 5));
  await writeReplica(dir, specs);
  const client = await open(t, dir);
  let clock = 1_000;
  const lease = await Lease.acquire(client, { ttlMs: 10_000, now: () => clock, renew: false });
  let checks = 0;
  const assertHeld = lease.assertHeld.bind(lease);
  lease.assertHeld = () => {
    checks++;
    assertHeld();
  };
  const r = await compactReplica(client, { lease, retentionMs: 0, now: () => Number.MAX_SAFE_INTEGER });
  t.equal(checks, r.written.length + r.deleted.length, 'one check per write and delete');
  t.equal(checks, 2 + 4);
  await writeReplica(dir, historyFromStates(states.slice(0, 7)).slice(5));
  clock = 20_000;
  const before = await layout(client);
  await rejectsLtx(t, compactReplica(client, { lease, retentionMs: 0 }), 'LTXVFS_ERR_LEASE_LOST', 'lock.json', /expired/);
  t.same(await layout(client), before, 'nothing written');
});

t.test('storage errors while reading stop the run before any write', async (t) => {
  const dir = t.testdir();
  await writeReplica(dir, historyFromStates(states.slice(0, 6)));
  const client = await open(t, dir);
  client.fault = (call) => (call.key.includes('0000000000000003-') ? new LtxvfsError('LTXVFS_ERR_STORAGE', `read ${call.key}: injected`, { key: call.key }) : undefined);
  await rejectsLtx(t, compactReplica(client, { readConcurrency: 2 }), 'LTXVFS_ERR_STORAGE', '0000000000000003-0000000000000003.ltx');
  t.equal(client.others, 0);
});

t.test('options are checked', async (t) => {
  const client = await open(t, t.testdir());
  for (const level of [0, 9, 1.5, -1]) await rejectsLtx(t, compactReplica(client, { level }), 'LTXVFS_ERR_USAGE', `bad compaction level ${level}`);
  for (const retentionMs of [-1, NaN]) await rejectsLtx(t, compactReplica(client, { retentionMs }), 'LTXVFS_ERR_USAGE', `bad retention ${retentionMs}`);
  await rejectsLtx(t, compactReplica(client, { readConcurrency: 0 }), 'LTXVFS_ERR_USAGE', 'bad readConcurrency 0');
  for (const tempFileMaxAgeMs of [-1, NaN]) await rejectsLtx(t, compactReplica(client, { tempFileMaxAgeMs }), 'LTXVFS_ERR_USAGE', `bad tempFileMaxAgeMs ${tempFileMaxAgeMs}`);
  t.equal(DEFAULT_L0_RETENTION_MS, 300_000, "Litestream's default l0-retention");
  const empty = await compactReplica(client);
  t.same(empty, { merged: [], compacted: undefined, snapshot: undefined, written: [], deleted: [], tempFilesRemoved: [], txid: 0, bytesRead: 0, bytesWritten: 0 } satisfies CompactReport, 'an empty replica: nothing to do');
});

t.test('mergeLtx: overlapping inputs are allowed, gaps, page sizes and broken checksum chains are not', async (t) => {
  const specs = historyFromStates(states.slice(0, 5), { checksummed: true });
  const dec = (s: LtxSpec) => decodeLtxFile(encodeLtx(s), keyOf(s));
  const info = (s: LtxSpec): LtxFileInfo => ({ level: s.level ?? 0, minTXID: s.minTXID, maxTXID: s.maxTXID, size: 0, createdAt: 0, key: keyOf(s) });
  // L1 1-3 then L0 3-3 … 5: overlap on 3, as a plan may have.
  const overlapping = [compactSpecs(specs.slice(0, 3), 1), compactSpecs(specs.slice(2, 4), 1), specs[4]];
  const m = mergeLtx(overlapping.map(dec), overlapping.map(info));
  t.equal(m.header.minTXID, 1);
  t.equal(m.postApplyChecksum, databaseChecksumOf(states[4]));

  const gap = [specs[0], specs[2]];
  t.throws(() => mergeLtx(gap.map(dec), gap.map(info)), { code: 'LTXVFS_ERR_TXID_GAP', message: /non-contiguous LTX files/ });
  const behind = [specs[1], specs[0]];
  t.throws(() => mergeLtx(behind.map(dec), behind.map(info)), { code: 'LTXVFS_ERR_TXID_GAP' });

  const broken = [specs[1], { ...specs[2], preApplyChecksum: specs[1].preApplyChecksum }];
  t.throws(() => mergeLtx(broken.map(dec), broken.map(info)), { code: 'LTXVFS_ERR_CHECKSUM', message: /pre-apply checksum .* does not match post-apply checksum/ });

  const wrongPost = [specs[0], { ...specs[1], postApplyChecksum: specs[0].postApplyChecksum }];
  t.throws(() => mergeLtx(wrongPost.map(dec), wrongPost.map(info)), {
    code: 'LTXVFS_ERR_CHECKSUM', message: /post-apply checksum .* does not match the database checksum .* at TXID 0000000000000002/,
  });

  const small = { minTXID: 6, maxTXID: 6, pageSize: 1024, commit: 1, pages: [{ pgno: 1, data: testPage(1, 1024) }], preApplyChecksum: specs[4].postApplyChecksum } as LtxSpec;
  const mixed = [{ ...specs[4], flags: HEADER_FLAG_NO_CHECKSUM, preApplyChecksum: 0n, postApplyChecksum: 0n }, { ...small, flags: HEADER_FLAG_NO_CHECKSUM, preApplyChecksum: 0n }];
  t.throws(() => mergeLtx(mixed.map(dec), mixed.map(info)), { code: 'LTXVFS_ERR_PAGE_SIZE', message: /page size 1024 differs from 4096/ });
});

t.test('S3: Litestream key layout, create-only writes, header times in metadata; restore and verify through the fault proxy', async (t) => {
  const s3 = await startS3rver();
  t.teardown(() => s3.close());
  const proxy = await startFaultProxy(s3.endpoint);
  t.teardown(() => proxy.close());
  const client = await openReplicaClient(`s3://${s3.bucket}/db?endpoint=${proxy.endpoint}`, {
    env: { AWS_ACCESS_KEY_ID: 'S3RVER', AWS_SECRET_ACCESS_KEY: 'S3RVER' }, s3: { retryBaseDelayMs: 2, retryMaxDelayMs: 20 },
  });
  t.teardown(() => client.close());
  const specs = historyFromStates(states.slice(0, 6));
  for (const spec of specs) {
    const bytes = encodeLtx(spec);
    await client.write(client.ltxKey(0, spec.minTXID, spec.maxTXID), bytes, { timestamp: timestampOf(spec) });
  }
  proxy.reset();
  const r = await compactReplica(client, { retentionMs: 0 });
  t.same(r.written, ['db/0001/0000000000000001-0000000000000006.ltx', 'db/0009/0000000000000001-0000000000000006.ltx']);
  t.same(r.deleted, specs.slice(0, 5).map((s) => `db/0000/${formatLtxFilename(s.minTXID, s.maxTXID)}`), 'S3 createdAt is the upload time: all old enough at retention 0');
  t.equal(proxy.stats().requests.PUT, 2);
  t.equal(proxy.stats().requests.DELETE, 5);
  const head = await (client as S3ReplicaClient).headTimestamp(r.written[1]);
  t.equal(head, timestampOf(specs[5]), 'litestream-timestamp = the header timestamp');
  const out = join(await fs.mkdtemp(join(tmpdir(), 'ltxvfs-compact-')), 'r.db');
  t.teardown(() => fs.rm(dirname(out), { recursive: true, force: true }));
  const restored = await restoreDatabase(client, out);
  t.ok(bytesEqual(readBytes(out), states[5]));
  t.same(restored.files.map((f) => f.key), ['db/0009/0000000000000001-0000000000000006.ltx']);
  t.same((await verifyReplica(client)).problems, []);
  t.same(computePlan(await listReplica(client)).map((f) => f.level), [9]);
  // A second compactor racing on the same L0 files loses on the create-only write (412 through the proxy).
  const more = historyFromStates(states.slice(0, 8)).slice(6);
  for (const spec of more) await client.write(client.ltxKey(0, spec.minTXID, spec.maxTXID), encodeLtx(spec), { timestamp: timestampOf(spec) });
  // Both have read their inputs before either writes.
  let arrived = 0;
  let open!: () => void;
  const barrier = new Promise<void>((resolve) => (open = resolve));
  const racer = () => {
    const c = new CountingClient(client);
    c.beforeWrite = async () => {
      c.beforeWrite = undefined;
      if (++arrived === 2) open();
      await barrier;
    };
    return compactReplica(c, { retentionMs: Infinity });
  };
  const results = await Promise.allSettled([racer(), racer()]);
  const failed = results.filter((x): x is PromiseRejectedResult => x.status === 'rejected');
  t.equal(failed.length, 1, 'one of two concurrent compactors fails');
  t.equal((failed[0].reason as LtxvfsError).code, 'LTXVFS_ERR_PRECONDITION');
  t.same((await verifyReplica(client)).problems, []);
});

t.test('S3: a reader opened before compaction keeps answering after retention deleted the files its version points at', async (t) => {
  const s3 = await startS3rver();
  t.teardown(() => s3.close());
  const env = { AWS_ACCESS_KEY_ID: 'S3RVER', AWS_SECRET_ACCESS_KEY: 'S3RVER' };
  const url = `s3://${s3.bucket}/reader?endpoint=${s3.endpoint}&forcePathStyle=true`;
  const client = await openReplicaClient(url, { env });
  t.teardown(() => client.close());
  // Most pages stay in TXID 2's file; later files touch one row each.
  const history = await sqlJsHistory([
    'CREATE TABLE t (id INTEGER PRIMARY KEY, v BLOB)',
    'WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c WHERE x < 400) INSERT INTO t (v) SELECT randomblob(300) FROM c',
    'UPDATE t SET v = randomblob(300) WHERE id = 1',
    'UPDATE t SET v = randomblob(300) WHERE id = 2',
  ]);
  for (const spec of historyFromStates(history)) await client.write(client.ltxKey(0, spec.minTXID, spec.maxTXID), encodeLtx(spec), { timestamp: timestampOf(spec) });
  const db = await openDatabase(url, { env, shared: false, cacheSizeBytes: 0, pollIntervalMs: 100 });
  t.teardown(() => db.close());
  t.same(await db.all('SELECT length(v) AS n FROM t WHERE id = 3'), [{ n: 300 }], 'read one row before compaction');
  const r = await compactReplica(client, { retentionMs: 0 });
  t.same(r.deleted, ['reader/0000/0000000000000001-0000000000000001.ltx', 'reader/0000/0000000000000002-0000000000000002.ltx', 'reader/0000/0000000000000003-0000000000000003.ltx']);
  await t.rejects(client.read(r.deleted[1]), { code: 'LTXVFS_ERR_NOT_FOUND' }, 'the file holding most pages is gone');
  const before = db.stats();
  t.same(await db.all('SELECT count(*) AS n, sum(length(v)) AS total FROM t'), [{ n: 400, total: 120_000 }], 'answers at once, right');
  const after = db.stats();
  t.ok(after.cacheMisses - before.cacheMisses > 10, `${after.cacheMisses - before.cacheMisses} pages read from storage after the deletion`);
  t.equal(after.txid, 4, 'same TXID');
  t.equal(after.stale, false);
});

