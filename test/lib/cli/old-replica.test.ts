/**
 * A Litestream ≤ 0.3 replica (the `generations/` layout) is refused with a message that
 * names the layout, what ltxvfs reads and how to move on — by `ltxvfs query`, `ls` and
 * `verify` (exit 1) and by `openDatabase`, on a directory and on S3. An empty replica that
 * is not an old layout keeps its own message; `ls` says plainly that it is empty.
 */
import t, { type Test } from 'tap';
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { openDatabase } from '../../../lib/api/open.js';
import { checkOldLayout } from '../../../lib/replica/plan.js';
import { openFileReplica } from '../../../lib/storage/file/client.js';
import { openReplicaClient } from '../../../lib/storage/url.js';
import type { ReplicaClient } from '../../../lib/storage/types.js';
import { startS3Server } from '../../../lib/testing/index.js';
import { cli } from '../../helpers/cli.js';
import { rejectsLtx } from '../../helpers/replica-builder.js';

const GENERATION = 'b7f1e5c0a9d34e21';
/** What Litestream 0.3 leaves in a replica: a snapshot and WAL segments of one generation (contents do not matter here). */
const OLD_FILES = [
  `generations/${GENERATION}/snapshots/00000000.snapshot.lz4`,
  `generations/${GENERATION}/wal/00000000-00000000.wal.lz4`,
  `generations/${GENERATION}/wal/00000000-00001000.wal.lz4`,
];
const SNAPSHOT = OLD_FILES[0];

/** The parts every old-layout message must have. */
const MESSAGE = [/Litestream 0\.3 \(or older\) replica/, /generations\/ layout/, /Litestream v0\.5 LTX replicas/,
  /litestream restore -o app\.db/, /replicate app\.db with Litestream 0\.5/, /ltxvfs import app\.db <new-url>/];

async function fabricateDir(t: Test): Promise<string> {
  const dir = join(t.testdir(), 'old');
  for (const key of OLD_FILES) {
    await mkdir(join(dir, key, '..'), { recursive: true });
    await writeFile(join(dir, key), 'lz4 bytes');
  }
  return dir;
}

/** Every entry point refuses the replica at `url` (with `env`), naming `where`. */
async function refusedEverywhere(t: Test, url: string, env: NodeJS.ProcessEnv, where: string): Promise<void> {
  for (const args of [['query', url, 'SELECT 1'], ['ls', url], ['verify', url]]) {
    const r = await cli(args, env);
    t.equal(r.code, 1, `ltxvfs ${args[0]} exits 1`);
    t.equal(r.stdout, '', `ltxvfs ${args[0]} prints nothing on stdout`);
    t.ok(r.stderr.includes(where), `ltxvfs ${args[0]} names ${where}: ${r.stderr}`);
    for (const m of MESSAGE) t.match(r.stderr, m, `ltxvfs ${args[0]}: ${m}`);
    t.equal(r.stderr.trim().split('\n').length, 1, 'one line');
  }
  const err = await rejectsLtx(t, openDatabase(url, { env, pollIntervalMs: 0 }), 'LTXVFS_ERR_UNSUPPORTED', where, ...MESSAGE);
  t.equal((err as { key?: string }).key?.endsWith(SNAPSHOT), true, 'the error key is the snapshot found');
  await rejectsLtx(t, openDatabase(url, { env, create: true, autoLease: true, pollIntervalMs: 0 }), 'LTXVFS_ERR_UNSUPPORTED', where,
    /generations\/ layout/);
}

t.test('an old generations/ replica in a directory is refused by query, ls, verify and openDatabase', async (t) => {
  const dir = await fabricateDir(t);
  await refusedEverywhere(t, dir, {}, SNAPSHOT);
  await refusedEverywhere(t, pathToFileURL(dir).href, {}, pathToFileURL(dir).href);
  const r = await cli(['import', join(dir, 'nothing.db'), dir]);
  t.equal(r.code, 1, 'import into it fails too');
});

t.test('an old generations/ replica on S3 is refused by query, ls, verify and openDatabase', async (t) => {
  const s3 = await startS3Server();
  t.teardown(() => s3.stop());
  const url = s3.url('apps/old');
  const client = await openReplicaClient(url, { env: { ...s3.env } });
  for (const key of OLD_FILES) await client.write(client.objectKey(key), new TextEncoder().encode('lz4 bytes'));
  await client.close();
  await refusedEverywhere(t, url, { ...s3.env }, `apps/old/${SNAPSHOT}`);

  // A sibling prefix whose name starts the same is not mistaken for it.
  const other = s3.url('apps/old-not');
  const empty = await cli(['ls', other], { ...s3.env });
  t.equal(empty.code, 0, empty.stderr);
  t.match(empty.stdout, /\(empty replica: no LTX files in s3:\/\/ltxvfs-test\/apps\/old-not/);
});

t.test('an empty replica keeps its own error; ls says plainly that it is empty', async (t) => {
  const dir = t.testdir({ replica: {} });
  const replica = join(dir, 'replica');
  const q = await cli(['query', replica, 'SELECT 1']);
  t.equal(q.code, 1);
  t.match(q.stderr, /replica has no LTX files/);
  t.notMatch(q.stderr, /generations/);
  const ls = await cli(['ls', replica]);
  t.equal(ls.code, 0, ls.stderr);
  t.match(ls.stdout, new RegExp(`\\(empty replica: no LTX files in ${pathToFileURL(replica).href}; nothing to read until`));
  const v = await cli(['verify', replica]);
  t.equal(v.code, 1, 'verify of an empty replica is not ok');
  t.match(v.stdout, /FAIL replica has no LTX files/);
});

t.test('checkOldLayout: a generations/ folder with other files still counts; clients without listKeys are not probed', async (t) => {
  const dir = t.testdir({ generations: { 'README.txt': 'x' } });
  const client = await openFileReplica(dir);
  t.teardown(() => client.close());
  await rejectsLtx(t, checkOldLayout(client), 'LTXVFS_ERR_UNSUPPORTED', 'found generations/README.txt');
  t.same(await client.listKeys('generations/', 0), [], 'limit 0 lists nothing');
  const bare: ReplicaClient = { ...client, url: client.url, listKeys: undefined } as unknown as ReplicaClient;
  await checkOldLayout(bare);
  t.pass('no listKeys: nothing to probe');
  await rejectsLtx(t, client.listKeys('../outside/', 5), 'LTXVFS_ERR_BAD_KEY', '../outside', /escapes the replica root/);
});
