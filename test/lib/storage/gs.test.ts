/**
 * The gs:// client against firebase-tools' Cloud Storage emulator (test/helpers/gcs-emulator.ts,
 * started once for the file): the conformance suite, the layout and timestamps Litestream
 * reads, faults (the server stopped mid-query, and back), bad input (missing bucket,
 * denied bucket, credentials that cannot be used, a bad endpoint, the vendor package missing).
 */
import t from 'tap';
import { join } from 'node:path';
import { openReplicaClient } from '../../../lib/storage/url.js';
import { GsReplicaClient } from '../../../lib/storage/gs/index.js';
import { loadGcs } from '../../../lib/storage/gs/vendor.js';
import { startGcsEmulator, type GcsEmulator } from '../../helpers/gcs-emulator.js';
import { openDatabase } from '../../../lib/api/open.js';
import { importWideReplica, openBeforeOutage, queryAcrossOutage, SMALL_CACHE_BYTES } from '../../helpers/query-faults.js';
import { waitFor } from '../../helpers/polling.js';
import { storageConformance } from './conformance.js';

const FAST = { retryBaseDelayMs: 2, retryMaxDelayMs: 20 };

let gcs: GcsEmulator;
t.before(async () => {
  const start = performance.now();
  gcs = await startGcsEmulator();
  t.comment(`gcs emulator started in ${Math.round(performance.now() - start)} ms`);
});
t.teardown(() => gcs?.close());

let prefixes = 0;
storageConformance(t, 'gs', {
  open: () => openReplicaClient(`gs://${gcs.bucket}/conformance-${++prefixes}`, { env: gcs.env, gs: FAST }),
  capabilities: { rangeReads: true, conditionalWrites: 'atomic', leaseLock: 'conditional-write', latency: 'remote', tempFileRoot: undefined },
  readsIntoBuffer: true,
});

t.test('gs: keys are PATH/ltx/<level decimal>/…; the bucket root has no leading slash', async (t) => {
  const c = await openReplicaClient(`gs://${gcs.bucket}/a/b`, { env: gcs.env });
  t.teardown(() => c.close());
  t.equal(c.ltxKey(10, 1, 2), 'a/b/ltx/10/0000000000000001-0000000000000002.ltx');
  t.equal(c.objectKey('lock.json'), 'a/b/lock.json');
  t.equal(c.url, `gs://${gcs.bucket}/a/b`, 'no endpoint from the environment in the URL');
  const root = await openReplicaClient(`gs://${gcs.bucket}`, { env: { STORAGE_EMULATOR_HOST: gcs.host } });
  t.teardown(() => root.close());
  t.equal(root.ltxKey(0, 1, 1), 'ltx/0/0000000000000001-0000000000000001.ltx');
  await root.write(root.ltxKey(0, 1, 1), new Uint8Array([1, 2, 3]), { timestamp: 1795254709256 });
  t.same((await root.listLtxFiles(0)).map((f) => [f.key, f.createdAt]), [[root.ltxKey(0, 1, 1), 1795254709256]],
    'a bare STORAGE_EMULATOR_HOST is http (as Litestream reads it); the listing carries the timestamp');
  const viaUrl = await openReplicaClient(`gs://${gcs.bucket}?endpoint=${gcs.endpoint}`, { env: {} });
  t.teardown(() => viaUrl.close());
  t.equal(viaUrl.url, `gs://${gcs.bucket}/?endpoint=${gcs.endpoint}`);
  t.equal((await viaUrl.listLtxFiles(0)).length, 1, '?endpoint= works without the variable');
});

t.test('gs: a missing bucket, a denied bucket: clear errors naming the replica', async (t) => {
  const missing = await openReplicaClient('gs://no-such-bucket/db', { env: gcs.env, gs: FAST });
  t.teardown(() => missing.close());
  await t.rejects(missing.listLtxFiles(0), {
    code: 'LTXVFS_ERR_NOT_FOUND',
    message: /^list gs:\/\/no-such-bucket\/db\/ltx\/0\/: bucket does not exist: no-such-bucket/,
  });
  gcs.createBucket('denied-bucket');
  gcs.denyBucket('denied-bucket');
  const denied = await openReplicaClient('gs://denied-bucket/db', { env: gcs.env, gs: FAST });
  t.teardown(() => denied.close());
  await t.rejects(denied.read(denied.objectKey('x')), {
    code: 'LTXVFS_ERR_STORAGE',
    status: 403,
    message: /^read gs:\/\/denied-bucket\/db\/x: authentication failed \(HTTP 403: /,
  });
});

t.test('gs: credentials that cannot be used fail the first request naming the replica', async (t) => {
  const dir = t.testdir({
    'bad-key.json': JSON.stringify({
      type: 'service_account', project_id: 'demo', private_key_id: 'x', client_email: 'ltxvfs@demo.iam.gserviceaccount.com',
      private_key: '-----BEGIN PRIVATE KEY-----\nnot a key\n-----END PRIVATE KEY-----\n', token_uri: 'http://127.0.0.1:9/token',
    }),
  });
  for (const [name, file] of [['missing file', join(dir, 'missing.json')], ['a key that cannot sign', join(dir, 'bad-key.json')]]) {
    const c = await openReplicaClient('gs://some-bucket/db', { env: { GOOGLE_APPLICATION_CREDENTIALS: file }, gs: { ...FAST, maxAttempts: 1 } });
    t.teardown(() => c.close());
    await t.rejects(c.listLtxFiles(0), {
      code: 'LTXVFS_ERR_STORAGE',
      message: /^list gs:\/\/some-bucket\/db\/ltx\/0\/: authentication failed/,
    }, name);
  }
});

t.test('gs: bad endpoints and options are refused at open', async (t) => {
  await t.rejects(openReplicaClient('gs://b/p', { env: { STORAGE_EMULATOR_HOST: 'ftp://127.0.0.1:1' } }), {
    code: 'LTXVFS_ERR_BAD_URL',
    message: 'bad gs endpoint "ftp://127.0.0.1:1" in STORAGE_EMULATOR_HOST: need http:// or https://',
  });
  await t.rejects(openReplicaClient('gs://b/p?endpoint=http://u:p@127.0.0.1:1', { env: {} }), { code: 'LTXVFS_ERR_BAD_URL', message: /only scheme, host, port and path/ });
  await t.rejects(openReplicaClient('gs://b/p', { env: gcs.env, gs: { listPageSize: 1001 } }), { code: 'LTXVFS_ERR_USAGE', message: 'bad listPageSize 1001: need an integer in 1…1000' });
  await t.rejects(openReplicaClient('gs://b/p', { env: gcs.env, gs: { maxAttempts: 0 } }), { code: 'LTXVFS_ERR_USAGE', message: /bad maxAttempts 0/ });
});

t.test('gs: listings page on; seeks; strays', async (t) => {
  const c = await openReplicaClient(`gs://${gcs.bucket}/paging`, { env: gcs.env, gs: { listPageSize: 2 } }) as GsReplicaClient;
  t.teardown(() => c.close());
  for (let i = 1; i <= 5; i++) await c.write(c.ltxKey(0, i, i), new Uint8Array(i));
  const before = c.stats().requests;
  t.same((await c.listLtxFiles(0)).map((f) => f.minTXID), [1, 2, 3, 4, 5]);
  t.equal(c.stats().requests - before, 3, 'three pages of two');
  t.same((await c.listLtxFiles(0, { seekTXID: 4 })).map((f) => f.minTXID), [4, 5]);
});

t.test('gs: the server stopped mid-read is LTXVFS_ERR_STORAGE naming the key, bounded by the retry budget; reads recover', async (t) => {
  const c = await openReplicaClient(`gs://${gcs.bucket}/faults`, { env: gcs.env, gs: { ...FAST, retryBudgetMs: 200, requestTimeoutMs: 2000 } }) as GsReplicaClient;
  t.teardown(() => c.close());
  const key = c.ltxKey(0, 1, 1);
  await c.write(key, new Uint8Array(4096).fill(9));
  await gcs.stop();
  try {
    await t.rejects(c.readRange(key, 0, 100), { code: 'LTXVFS_ERR_STORAGE', key, message: new RegExp(`^read gs://${gcs.bucket}/${key}: .*gave up after \\d+ attempts`) });
    await t.rejects(c.listLtxFiles(0), { code: 'LTXVFS_ERR_STORAGE', message: /^list gs:\/\/.*faults\/ltx\/0\// });
    t.ok(c.stats().retries > 0, 'connection failures were retried');
  } finally {
    await gcs.restart();
  }
  // The restarted emulator's first answers may miss the 2 s deadline on a loaded machine: awaited.
  const back = await waitFor('a read once the emulator is back', () => c.readRange(key, 10, 3).catch(() => undefined), 30_000, 50);
  t.same(back, new Uint8Array([9, 9, 9]), 'back');
});

t.test('gs: openDatabase: a query the stopped server cannot finish is LTXVFS_ERR_STORAGE naming the key; it succeeds once the server is back', async (t) => {
  const url = `gs://${gcs.bucket}/wide`;
  const c = await openReplicaClient(url, { env: gcs.env, gs: FAST });
  await importWideReplica(c);
  await c.close();
  const db = await openBeforeOutage(() => openDatabase(url, {
    env: gcs.env,
    gs: { ...FAST, retryBudgetMs: 200, requestTimeoutMs: 2000 },
    cacheSizeBytes: SMALL_CACHE_BYTES,
    pollIntervalMs: 60_000,
    shared: false,
  }));
  t.teardown(() => db.close());
  await queryAcrossOutage(t, db, { stop: () => gcs.stop(), start: () => gcs.restart() },
    new RegExp(`gs://${gcs.bucket}/wide/ltx/0/0000000000000001-0000000000000001\\.ltx`));
});

t.test('gs: a missing @google-cloud/storage is LTXVFS_ERR_USAGE naming it', async (t) => {
  const missing = () => Promise.reject(Object.assign(new Error("Cannot find package '@google-cloud/storage' imported from /app/x.js"), { code: 'ERR_MODULE_NOT_FOUND' }));
  await t.rejects(loadGcs(missing), {
    code: 'LTXVFS_ERR_USAGE',
    message: 'gs:// replicas need the optional package @google-cloud/storage, which is not installed: npm install @google-cloud/storage',
  });
  const mod = await t.mockImport<typeof import('../../../lib/storage/gs/index.js')>('../../../lib/storage/gs/index.js', {
    '../../../lib/storage/gs/vendor.js': { loadGcs: () => loadGcs(missing) },
  });
  await t.rejects(mod.openGsReplica({ scheme: 'gs', bucket: 'b', path: 'p', params: {} }, { env: {} }), { code: 'LTXVFS_ERR_USAGE', key: '@google-cloud/storage' });
});
