/**
 * Half-written temporary files (lib/write/temp-files.ts) on real directory replicas: which
 * entries count, their age by an injected clock, removal through the client with the age
 * bound, `verify` listing them, `compact` and a writer's lease acquisition removing them.
 */
import t, { type Test } from 'tap';
import { existsSync, promises as fs } from 'node:fs';
import { join } from 'node:path';
import { LtxvfsError } from '../../ltx/errors.js';
import { compactReplica } from '../../lib/tools/compact.js';
import { ReplicaReader } from '../../lib/read/replica-reader.js';
import { openFileReplica } from '../../lib/storage/file/client.js';
import type { ReplicaCapabilities } from '../../lib/storage/types.js';
import { DEFAULT_TEMP_FILE_MAX_AGE_MS, listTempFiles, removeTempFiles } from '../../lib/write/temp-files.js';
import { verifyReplica } from '../../lib/tools/verify.js';
import { writerFor } from '../../lib/write/writer.js';
import { copyFixtureReplica, CountingClient, rejectsLtx } from '../helpers/replica-builder.js';

/** A directory client that declares what object storage declares: no temporary-file directory. */
class ObjectStoreLike extends CountingClient {
  override get capabilities(): ReplicaCapabilities {
    return { ...this.inner.capabilities, tempFileRoot: undefined };
  }
}

const TMP5 = 'ltx/0/0000000000000006-0000000000000006.ltx.tmp-0a1b2c3d4e5f';
const TMP_L1 = 'ltx/1/0000000000000001-0000000000000005.ltx.tmp-ffee00112233';
const TMP_LOCK = 'lock.json.tmp-abcdef012345';

/** A copy of the fixture with three temporary files (sizes 3, 5 and 2 bytes) and entries that are not ones. */
async function replicaWithLeftovers(t: Test): Promise<string> {
  const dir = t.testdir({});
  await copyFixtureReplica(dir);
  await fs.mkdir(join(dir, 'ltx/1'), { recursive: true });
  await fs.writeFile(join(dir, TMP5), 'abc');
  await fs.writeFile(join(dir, TMP_L1), 'abcde');
  await fs.writeFile(join(dir, TMP_LOCK), '{}');
  await fs.mkdir(join(dir, 'ltx/0/not-a-file.ltx.tmp-0123'));
  await fs.writeFile(join(dir, 'ltx/0/notes.tmp-xyz'), 'not hex');
  await fs.writeFile(join(dir, 'ltx/level.tmp-0123'), 'not in a level folder');
  await fs.symlink('/etc/hostname', join(dir, 'ltx/0/link.ltx.tmp-0123'));
  return dir;
}

t.test('listTempFiles: regular *.tmp-<hex> files of the root and the level folders, with size and age', async (t) => {
  const dir = await replicaWithLeftovers(t);
  const client = await openFileReplica(dir);
  t.teardown(() => client.close());
  const changed = (await fs.stat(join(dir, TMP5))).ctimeMs;
  const found = await listTempFiles(client, { now: () => changed + 5000 });
  t.same(found.map((f) => [f.key, f.size]), [[TMP_LOCK, 2], [TMP5, 3], [TMP_L1, 5]]);
  t.ok(found.every((f) => f.ageMs >= 4000 && f.ageMs <= 6000), 'ages from the injected clock');
  t.same((await listTempFiles(client, { now: () => 0 })).map((f) => f.ageMs), [0, 0, 0], 'a change in the future counts as age 0');
  t.same((await listTempFiles(new CountingClient(client))).map((f) => f.key), [TMP_LOCK, TMP5, TMP_L1], 'a wrapper passes the declared tempFileRoot on');
  t.same(await listTempFiles(new ObjectStoreLike(client)), [], 'a client declaring no tempFileRoot (object storage) has none');
  const empty = await openFileReplica(t.testdir({}));
  t.same(await listTempFiles(empty), [], 'a replica without ltx/');
  await empty.close();
});

t.test('an mtime set back (a compaction output\'s old header timestamp) does not make a temporary file old', async (t) => {
  const dir = await replicaWithLeftovers(t);
  await fs.utimes(join(dir, TMP5), 1_000_000, 1_000_000); // 1970: the ctime moves to now
  const client = await openFileReplica(dir);
  t.teardown(() => client.close());
  t.same(await removeTempFiles(client, 60_000), [], 'changed just now: younger than a minute');
  t.ok(existsSync(join(dir, TMP5)));
});

t.test('removeTempFiles: only those at least the bound old; bad bounds are usage errors', async (t) => {
  const dir = await replicaWithLeftovers(t);
  const client = await openFileReplica(dir);
  t.teardown(() => client.close());
  const changed = (await fs.stat(join(dir, TMP5))).ctimeMs;
  t.equal(DEFAULT_TEMP_FILE_MAX_AGE_MS, 3_600_000);
  t.same(await removeTempFiles(client, undefined, { now: () => changed + 60_000 }), [], 'a minute old: may be a live writer\'s');
  const seen: string[] = [];
  t.same(await removeTempFiles(client, undefined, { now: () => changed + 3_700_000, beforeDelete: (k) => seen.push(k) }), [TMP_LOCK, TMP5, TMP_L1]);
  t.same(seen, [TMP_LOCK, TMP5, TMP_L1], 'beforeDelete before each removal');
  for (const key of [TMP_LOCK, TMP5, TMP_L1]) t.notOk(existsSync(join(dir, key)), key);
  for (const other of ['ltx/0/not-a-file.ltx.tmp-0123', 'ltx/0/notes.tmp-xyz', 'ltx/level.tmp-0123', 'ltx/0/link.ltx.tmp-0123']) {
    t.ok(existsSync(join(dir, other)), `${other} is not a temporary file of the client: kept`);
  }
  t.equal((await fs.readdir(join(dir, 'ltx/0'))).filter((n) => n.endsWith('.ltx')).length, 5, 'the LTX files are untouched');
  for (const bad of [-1, NaN]) await rejectsLtx(t, removeTempFiles(client, bad), 'LTXVFS_ERR_USAGE', `bad temp file age bound ${bad}`);
  await fs.writeFile(join(dir, TMP5), 'again');
  await rejectsLtx(t, removeTempFiles(client, 0, {
    beforeDelete: () => { throw new LtxvfsError('LTXVFS_ERR_LEASE_LOST', 'lease lock.json lost'); },
  }), 'LTXVFS_ERR_LEASE_LOST', 'lease lock.json lost');
  t.ok(existsSync(join(dir, TMP5)), 'nothing removed after beforeDelete threw');
});

t.test('verify lists the leftovers without counting them as problems; compact removes those past --temp-max-age', async (t) => {
  const dir = await replicaWithLeftovers(t);
  const client = await openFileReplica(dir);
  t.teardown(() => client.close());
  const report = await verifyReplica(client);
  t.same(report.problems, []);
  t.same(report.tempFiles.map((f) => f.key), [TMP_LOCK, TMP5, TMP_L1]);
  const young = await compactReplica(client);
  t.same(young.tempFilesRemoved, [], 'default bound: an hour');
  const old = await compactReplica(client, { tempFileMaxAgeMs: 0 });
  t.same(old.tempFilesRemoved, [TMP_LOCK, TMP5, TMP_L1]);
  t.same((await verifyReplica(client)).tempFiles, []);
});

t.test('a writer taking the lease removes the leftovers past its bound (tempFileMaxAgeMs), and keeps young ones by default', async (t) => {
  const dir = await replicaWithLeftovers(t);
  const client = await openFileReplica(dir);
  const reader = await ReplicaReader.open(client, { pollIntervalMs: 0 });
  t.teardown(() => reader.close());
  const writer = writerFor(reader, { tempFileMaxAgeMs: 0 });
  await writer.acquireLease();
  t.same((await listTempFiles(client)).map((f) => f.key), [], 'all removed at bound 0');
  await writer.releaseLease();

  await fs.writeFile(join(dir, TMP5), 'young');
  const other = await ReplicaReader.open(await openFileReplica(dir), { pollIntervalMs: 0 });
  t.teardown(() => other.close());
  const kept = writerFor(other);
  await kept.acquireLease();
  t.ok(existsSync(join(dir, TMP5)), 'default bound: a young one may be a live writer\'s, kept');
  await kept.releaseLease();
});
