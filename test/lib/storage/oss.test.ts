/**
 * oss:// through OSS's S3-compatible API (lib/storage/oss/): no OSS server runs here, so the
 * replica lives on s3rver (`ltxvfs/testing` startS3Server) and the oss:// URL reaches it
 * through `?endpoint=`. Shown: the endpoint, region and addressing a production URL gets;
 * the OSS_* credentials; a replica written in S3's layout read back with its rows and its
 * `litestream-timestamp` history; writes and the lease refused; errors naming `oss://`.
 */
import t from 'tap';
import { makeReplica, startS3Server, S3RVER_CREDENTIALS, type S3Server } from '../../../lib/testing/index.js';
import { openDatabase } from '../../../lib/api/open.js';
import { openReplicaClient, parseReplicaUrl } from '../../../lib/storage/url.js';
import { openOssReplica, resolveOssConfig, OssReplicaClient, type OssUrlParts } from '../../../lib/storage/oss/index.js';
import { s3Target } from '../../../lib/storage/s3/config.js';

const OSS_ENV = { OSS_ACCESS_KEY_ID: S3RVER_CREDENTIALS.accessKeyId, OSS_ACCESS_KEY_SECRET: S3RVER_CREDENTIALS.secretAccessKey };
const T0 = Date.parse('2024-03-01T00:00:00Z');
const DAY = 86_400_000;

let s3: S3Server;
t.before(async () => {
  s3 = await startS3Server({ bucket: 'oss-bucket' });
});
t.teardown(() => s3?.stop());

const ossUrl = (prefix: string) => `oss://${s3.bucket}/${prefix}?endpoint=${encodeURIComponent(s3.endpoint)}`;
const parts = (url: string) => parseReplicaUrl(url, {}) as OssUrlParts;

t.test('oss: a production URL goes to the region\'s S3-compatible endpoint, virtual-hosted, signed for the region', async (t) => {
  const beijing = resolveOssConfig(parts('oss://my-bucket.oss-cn-beijing.aliyuncs.com/db'));
  t.match(beijing, { bucket: 'my-bucket', prefix: 'db', region: 'cn-beijing', forcePathStyle: false, anonymous: false });
  t.same(s3Target(beijing), { origin: 'https://my-bucket.s3.oss-cn-beijing.aliyuncs.com', bucketPath: '' });
  const internal = resolveOssConfig(parts('oss://b.oss-eu-central-1-internal.aliyuncs.com/x'));
  t.same(s3Target(internal), { origin: 'https://b.s3.oss-eu-central-1.aliyuncs.com', bucketPath: '' }, 'the public endpoint, as Litestream');
  const bare = resolveOssConfig(parts('oss://b/x'));
  t.equal(bare.region, 'cn-hangzhou', "Litestream's default region");
  t.same(s3Target(resolveOssConfig(parts('oss://b/x?endpoint=s3.oss-cn-hangzhou-internal.aliyuncs.com'))),
    { origin: 'https://b.s3.oss-cn-hangzhou-internal.aliyuncs.com', bucketPath: '' }, 'an endpoint by name stays virtual-hosted');
  t.same(s3Target(resolveOssConfig(parts(ossUrl('x')))), { origin: s3.endpoint, bucketPath: `/${s3.bucket}` }, 'a loopback endpoint is path-style');
});

t.test('oss: bad input is a clear error naming the replica or the variable', async (t) => {
  await t.rejects(openReplicaClient('oss://b/db', { env: {} }), {
    code: 'LTXVFS_ERR_USAGE',
    key: 'oss://b/db',
    message: 'no OSS credentials for oss://b/db: set OSS_ACCESS_KEY_ID and OSS_ACCESS_KEY_SECRET (and OSS_SESSION_TOKEN for temporary keys)',
  });
  await t.rejects(openReplicaClient('oss://b/db', { env: { OSS_ACCESS_KEY_ID: 'id' } }), {
    code: 'LTXVFS_ERR_USAGE',
    message: 'OSS_ACCESS_KEY_ID is set but OSS_ACCESS_KEY_SECRET is not',
  });
  await t.rejects(openReplicaClient('oss://b/db?endpoint=ftp%3A%2F%2Fh', { env: OSS_ENV }), {
    code: 'LTXVFS_ERR_BAD_URL',
    message: /^bad oss endpoint ftp:\/\/h for oss:\/\/b\/db: need http:\/\/ or https:\/\//,
  });
  await t.rejects(openOssReplica('s3://b/db', { env: OSS_ENV }), { code: 'LTXVFS_ERR_BAD_URL', message: 'not an oss:// URL: s3://b/db' });
  await t.rejects(openReplicaClient(ossUrl('db'), { env: OSS_ENV, oss: { requestTimeoutMs: -1 } }), { code: 'LTXVFS_ERR_USAGE', message: /requestTimeoutMs/ });
});

t.test('oss: a replica in S3\'s layout reads the same rows, and travels in time on litestream-timestamp', async (t) => {
  const replica = await makeReplica({
    s3,
    prefix: 'apps/db',
    transactions: [
      { sql: 'CREATE TABLE k (v INTEGER)', at: T0 },
      { sql: 'INSERT INTO k VALUES (1)', at: T0 + DAY },
      { sql: 'INSERT INTO k VALUES (2)', at: T0 + 2 * DAY },
    ],
  });
  t.teardown(() => replica.cleanup());
  const url = ossUrl('apps/db');
  const client = await openReplicaClient(url, { env: OSS_ENV });
  t.teardown(() => client.close());
  t.ok(client instanceof OssReplicaClient);
  t.equal(client.url, `oss://${s3.bucket}/apps/db?endpoint=${s3.endpoint}`);
  t.equal(client.ltxKey(0, 1, 1), 'apps/db/0000/0000000000000001-0000000000000001.ltx', 'S3\'s layout: <path>/<level %04x>/…');
  const files = await client.listLtxFiles(0, { useMetadata: true });
  t.same(files.map((f) => f.createdAt), [T0, T0 + DAY, T0 + 2 * DAY], 'createdAt from the litestream-timestamp metadata');

  const db = await openDatabase(url, { env: OSS_ENV, pollIntervalMs: 0, shared: false });
  t.teardown(() => db.close());
  t.same(await db.all('SELECT v FROM k ORDER BY v'), [{ v: 1 }, { v: 2 }]);
  for (let day = 0; day < 3; day++) {
    await db.exec(`PRAGMA litestream_time = '${new Date(T0 + day * DAY + 1000).toISOString()}'`);
    t.same(await db.all('SELECT count(*) AS n FROM k'), [{ n: day }], `day ${day}`);
  }
});

t.test('oss: writes, deletes and the lease are refused naming the replica; errors name oss://', async (t) => {
  const url = ossUrl('ro');
  const client = await openReplicaClient(url, { env: OSS_ENV });
  t.teardown(() => client.close());
  t.match(client.capabilities, { conditionalWrites: 'none', leaseLock: 'none', rangeReads: true, latency: 'remote' });
  const key = client.ltxKey(0, 1, 1);
  await t.rejects(client.write(key, new Uint8Array(1), { ifNoneMatch: true }), {
    code: 'LTXVFS_ERR_UNSUPPORTED',
    key,
    message: `write ${client.url} key ${key}: oss:// replicas are read-only in ltxvfs (no conditional write of OSS is tested, so the lease and the write path cannot be made safe; docs/backends/oss.md)`,
  });
  await t.rejects(client.delete(key), { code: 'LTXVFS_ERR_UNSUPPORTED', key });
  await t.rejects(client.readRange(key, 0, 10), { code: 'LTXVFS_ERR_NOT_FOUND', key, message: new RegExp(`oss://${s3.bucket}/ro/0000/`) });

  const replica = await makeReplica({ s3, prefix: 'lease', transactions: ['CREATE TABLE k (v INTEGER)'] });
  t.teardown(() => replica.cleanup());
  const reader = await openDatabase(ossUrl('lease'), { env: OSS_ENV, pollIntervalMs: 0, shared: false });
  t.teardown(() => reader.close());
  await t.rejects(reader.exec('PRAGMA litevfs_acquire_lease'), {
    ltxvfsCode: 'LTXVFS_ERR_UNSUPPORTED',
    message: /oss:\/\/oss-bucket\/lease\?endpoint=.*: this storage has no conditional writes, so no write lease can be held on it/,
  });
  await t.rejects(reader.exec('INSERT INTO k VALUES (1)'), { code: 'SQLITE_READONLY' }, 'a reader without the lease does not write');
});
