/**
 * The staging client (lib/storage/staging.ts) over a real directory replica (the Litestream
 * fixture, TXIDs 1–5): a staged file is listed and read as if the store had it, until it is
 * unstaged; the store's own entry wins once it has the key; bad stages and bad ranges fail
 * naming the key.
 */
import t, { type Test } from 'tap';
import { openFileReplica } from '../../../lib/storage/file/client.js';
import { StagingClient, withStaged } from '../../../lib/storage/staging.js';
import type { LtxFileInfo } from '../../../lib/storage/types.js';
import { copyFixtureReplica, rejectsLtx } from '../../helpers/replica-builder.js';

const bytes = Uint8Array.from({ length: 300 }, (_, i) => i & 0xff);

async function open(t: Test) {
  const dir = await copyFixtureReplica(t.testdir());
  const client = new StagingClient(await openFileReplica(dir));
  t.teardown(() => client.close());
  const info: LtxFileInfo = { level: 0, minTXID: 6, maxTXID: 6, size: bytes.length, createdAt: 1, key: client.ltxKey(0, 6, 6) };
  return { dir, client, info };
}

t.test('a staged file is listed and read until unstaged', async (t) => {
  const { client, info } = await open(t);
  t.equal((await client.listLtxFiles(0)).length, 5, 'the store\'s five files');
  client.stage(info, bytes);
  t.equal(client.stagedCount, 1);
  const listed = await client.listLtxFiles(0);
  t.same(listed.map((f) => f.maxTXID), [1, 2, 3, 4, 5, 6], 'listed in order after the store\'s');
  t.same((await client.listLtxFiles(0, { seekTXID: 6 })).map((f) => f.key), [info.key], 'seekTXID applies to it');
  t.same(await client.listLtxFiles(1), [], 'other levels do not get it');
  t.same([...await client.readRange(info.key, 10, 5)], [10, 11, 12, 13, 14], 'a range of its bytes');
  const into = new Uint8Array(8);
  const got = await client.readRange(info.key, 298, 2, into);
  t.equal(got.buffer, into.buffer, 'read into the buffer given');
  t.same([...got], [42, 43]);
  t.same([...(await client.read(info.key)).data].slice(0, 3), [0, 1, 2], 'read whole');
  client.unstage(info.key);
  t.equal((await client.listLtxFiles(0)).length, 5, 'gone once unstaged');
  await rejectsLtx(t, client.readRange(info.key, 0, 1), 'LTXVFS_ERR_NOT_FOUND', info.key);
});

t.test('bad stages and ranges fail naming the key', async (t) => {
  const { client, info } = await open(t);
  await rejectsLtx(t, async () => client.stage({ ...info, size: 7 }, bytes), 'LTXVFS_ERR_USAGE', info.key, /cannot stage 300 bytes as a file of 7/);
  client.stage(info, bytes);
  await rejectsLtx(t, async () => client.stage(info, bytes), 'LTXVFS_ERR_USAGE', info.key, /cannot stage/);
  await rejectsLtx(t, client.readRange(info.key, 290, 20), 'LTXVFS_ERR_STORAGE', info.key, /range 290\+20 is outside the staged file of 300 bytes/);
  await rejectsLtx(t, client.readRange(info.key, -1, 2), 'LTXVFS_ERR_STORAGE', info.key, /outside the staged file/);
});

t.test('withStaged: the listing\'s entry wins for a key it has, and the result is in TXID order', async (t) => {
  const f = (min: number, max: number, size: number): LtxFileInfo => ({ level: 0, minTXID: min, maxTXID: max, size, createdAt: 0, key: `${min}-${max}` });
  t.same(withStaged([f(1, 1, 10), f(3, 3, 10)], [f(2, 2, 99), f(3, 3, 99)]), [f(1, 1, 10), f(2, 2, 99), f(3, 3, 10)]);
  const listed = [f(1, 1, 10)];
  const out = withStaged(listed, []);
  t.same(out, listed);
  t.not(out, listed, 'a new array');
});
