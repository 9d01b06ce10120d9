/**
 * The s3:// ReplicaClient against s3rver behind the fault proxy (which checks SigV4 and
 * enforces S3's preconditions): what only S3 does — Litestream's key layout, ListObjectsV2
 * paging, HEADs for metadata, HTTP statuses, authentication, not-found errors without
 * retries, and every fault the proxy injects. What every backend must do is the
 * conformance suite (conformance.ts), run on this client by conformance.test.ts. Credentials are distinctive strings, and no error may contain them.
 */
import t, { type Test } from 'tap';
import { createHash, randomBytes } from 'node:crypto';
import { LtxvfsError } from '../../../ltx/errors.js';
import { openS3Replica, S3ReplicaClient, type S3ReplicaOptions } from '../../../lib/storage/s3/index.js';
import { openPoolCount } from '../../../lib/storage/s3/http.js';
import { openReplicaClient } from '../../../lib/storage/url.js';
import { startFaultProxy, type FaultProxy } from '../../helpers/fault-proxy.js';
import { waitFor } from '../../helpers/polling.js';
import { startS3rver, type S3rverHandle } from '../../helpers/s3rver.js';

const CREDS = { accessKeyId: 'AKIDLTXVFSTESTKEY', secretAccessKey: 'ltxvfs/Test+Secret=Key' };
const ENV = { AWS_ACCESS_KEY_ID: CREDS.accessKeyId, AWS_SECRET_ACCESS_KEY: CREDS.secretAccessKey };
const WRONG_SECRET = 'Wrong/Secret+Value';
const WRONG_KEY = 'AKIDWRONGKEYID';
/** Small backoff so retries cost milliseconds. */
const FAST: S3ReplicaOptions = { retryBaseDelayMs: 2, retryMaxDelayMs: 20 };

const enc = (s: string) => new TextEncoder().encode(s);
const dec = (b: Uint8Array) => new TextDecoder().decode(b);
const md5Etag = (b: Uint8Array) => `"${createHash('md5').update(b).digest('hex')}"`;

/** Every error the tests provoke, checked for credentials at the end. */
const seenErrors: unknown[] = [];

let s3: S3rverHandle;
let proxy: FaultProxy;

t.before(async () => {
  s3 = await startS3rver();
  proxy = await startFaultProxy(s3.endpoint, { verifySignatures: CREDS });
});
t.teardown(async () => {
  await proxy.close();
  await s3.close();
});
t.beforeEach(() => {
  proxy.set({
    latencyMs: 0, getErrorRate: 0, errorStatus: 503, resetRate: 0, shortBodyRate: 0, shortRangeRate: 0, stallMs: 0, stallRate: 1,
    dropResponses: 0, bucketRegion: undefined, seed: 1,
  });
  proxy.reset();
});

/** A client of `s3://<bucket>/<path>` through the proxy, closed at the end of the test. */
async function open(t: Test, path: string, options: S3ReplicaOptions = {}, env: NodeJS.ProcessEnv = ENV, query = ''): Promise<S3ReplicaClient> {
  const client = await openReplicaClient(`s3://${s3.bucket}/${path}?endpoint=${proxy.endpoint}${query}`, { env, s3: { ...FAST, ...options } });
  t.teardown(() => client.close());
  t.ok(client instanceof S3ReplicaClient);
  return client as S3ReplicaClient;
}

/** The error `p` rejects with (recorded for the credentials check). */
async function failure(p: Promise<unknown>): Promise<LtxvfsError> {
  try {
    await p;
  } catch (err) {
    seenErrors.push(err);
    if (!(err instanceof LtxvfsError)) throw err;
    return err;
  }
  throw new Error('expected a rejection');
}

const gets = () => proxy.stats().requests.GET ?? 0;

t.test('keys follow Litestream s3 layout: <path>/<level %04x>/<min>-<max>.ltx', async (t) => {
  const c = await open(t, 'layout');
  t.equal(c.url, `s3://ltxvfs-test/layout?endpoint=${proxy.endpoint}`);
  t.equal(c.ltxKey(0, 1, 1), 'layout/0000/0000000000000001-0000000000000001.ltx');
  t.equal(c.ltxKey(9, 1, 0x1f), 'layout/0009/0000000000000001-000000000000001f.ltx');
  t.equal(c.ltxKey(15, 2, 3), 'layout/000f/0000000000000002-0000000000000003.ltx');
  t.equal(c.ltxKey(255, 2, 3), 'layout/00ff/0000000000000002-0000000000000003.ltx');
  t.equal(c.objectKey('lock.json'), 'layout/lock.json', 'the lease key (s3/leaser.go)');
  t.throws(() => c.ltxKey(-1, 1, 1), { code: 'LTXVFS_ERR_USAGE', message: 'bad level -1: need an integer >= 0' });
  t.throws(() => c.ltxKey(0, 2, 1), { code: 'LTXVFS_ERR_USAGE' });

  const nested = await open(t, 'a//b/./c/');
  t.equal(nested.ltxKey(1, 5, 6), 'a/b/c/0001/0000000000000005-0000000000000006.ltx', 'the URL path is cleaned');
  const root = await openS3Replica({ bucket: s3.bucket, path: '', params: { endpoint: proxy.endpoint } }, { env: ENV });
  t.teardown(() => root.close());
  t.equal(root.ltxKey(0, 1, 1), '/0000/0000000000000001-0000000000000001.ltx', 'bucket root: Litestream joins "" + "/" + …');
  t.equal(root.objectKey('lock.json'), 'lock.json', 'the lease key at the root has no slash (s3/leaser.go)');

  await c.write(c.ltxKey(0, 1, 1), enc('l0'));
  await c.write(c.ltxKey(9, 1, 1), enc('snapshot'));
  const raw = await (await fetch(`${s3.endpoint}/${s3.bucket}?list-type=2&prefix=layout%2F`)).text();
  t.same([...raw.matchAll(/<Key>([^<]+)<\/Key>/g)].map((m) => m[1]), [
    'layout/0000/0000000000000001-0000000000000001.ltx',
    'layout/0009/0000000000000001-0000000000000001.ltx',
  ], 'the objects in the bucket');
});

t.test('listLtxFiles', async (t) => {
  t.test('pages through ListObjectsV2, ignores other names, sorts, reports sizes and LastModified', async (t) => {
    const c = await open(t, 'list', { listPageSize: 2 });
    const before = Date.now();
    for (const [min, max] of [[1, 1], [2, 3], [4, 4], [5, 5], [6, 9], [10, 10], [11, 11]]) {
      await c.write(c.ltxKey(0, min, max), new Uint8Array(min * 10));
    }
    for (const noise of ['list/0000/readme.txt', 'list/0000/sub/000000000000000c-000000000000000c.ltx',
      'list/0000/000000000000000D-000000000000000D.ltx', 'list/0000/0000000000000009-0000000000000008.ltx', 'list/00001/x']) {
      await c.write(noise, enc('noise'));
    }
    const after = Date.now();
    proxy.reset();
    const files = await c.listLtxFiles(0);
    t.same(files.map((f) => [f.level, f.minTXID, f.maxTXID, f.size, f.key]), [
      [0, 1, 1, 10, c.ltxKey(0, 1, 1)],
      [0, 2, 3, 20, c.ltxKey(0, 2, 3)],
      [0, 4, 4, 40, c.ltxKey(0, 4, 4)],
      [0, 5, 5, 50, c.ltxKey(0, 5, 5)],
      [0, 6, 9, 60, c.ltxKey(0, 6, 9)],
      [0, 10, 10, 100, c.ltxKey(0, 10, 10)],
      [0, 11, 11, 110, c.ltxKey(0, 11, 11)],
    ]);
    t.ok(files.every((f) => f.createdAt >= before - 1000 && f.createdAt <= after), 'createdAt = LastModified (s3rver keeps whole seconds)');
    t.equal(gets(), 6, '11 keys under the level prefix, 2 per page');

    proxy.reset();
    const seeked = await c.listLtxFiles(0, { seekTXID: 5 });
    t.same(seeked.map((f) => f.minTXID), [5, 6, 10, 11], 'minTXID >= seek; 2-3 and 4 are skipped');
    t.equal(gets(), 4, 'start-after skips the keys before the seek on the server');
    t.same(await c.listLtxFiles(0, { seekTXID: 12 }), []);
    t.same((await c.listLtxFiles(0, { seekTXID: 2 })).map((f) => f.minTXID), [2, 4, 5, 6, 10, 11]);
  });

  t.test('useMetadata reads the litestream-timestamp of each file (time travel)', async (t) => {
    const c = await open(t, 'meta', { metadataConcurrency: 2 });
    const ts = [1795254709256, 1795254711037, 1795254712792];
    for (const [i, time] of ts.entries()) await c.write(c.ltxKey(0, i + 1, i + 1), enc(`tx${i}`), { timestamp: time });
    await c.write(c.ltxKey(0, 4, 4), enc('no timestamp'));
    const plain = await c.listLtxFiles(0);
    t.ok(plain.every((f) => f.createdAt > 1795254712792 + 60_000 || f.createdAt < 1795254709256), 'by default LastModified (upload time)');
    proxy.reset();
    const timed = await c.listLtxFiles(0, { useMetadata: true });
    t.same(timed.slice(0, 3).map((f) => f.createdAt), ts);
    t.equal(timed[3].createdAt, plain[3].createdAt, 'without metadata: LastModified');
    t.equal(proxy.stats().requests.HEAD, 4, 'one HEAD per file');
  });

  t.test('a file deleted between the listing and its HEAD keeps LastModified', async (t) => {
    const c = await open(t, 'meta-gone');
    await c.write(c.ltxKey(0, 1, 1), enc('x'), { timestamp: 1795254709256 });
    const real = c.headTimestamp.bind(c);
    c.headTimestamp = async (key) => {
      await c.delete(key);
      return real(key);
    };
    const [f] = await c.listLtxFiles(0, { useMetadata: true });
    t.not(f.createdAt, 1795254709256);
    c.headTimestamp = async () => {
      throw new LtxvfsError('LTXVFS_ERR_STORAGE', 'boom');
    };
    await c.write(c.ltxKey(0, 1, 1), enc('x'));
    t.match(await failure(c.listLtxFiles(0, { useMetadata: true })), { code: 'LTXVFS_ERR_STORAGE', message: 'boom' }, 'other HEAD errors fail the listing');
  });

  t.test('bad seeks and client options are LTXVFS_ERR_USAGE', async (t) => {
    const c = await open(t, 'x');
    await t.rejects(c.listLtxFiles(0, { seekTXID: -1 }), { code: 'LTXVFS_ERR_USAGE' });
    await t.rejects(open(t, 'x', { listPageSize: 1001 }), { code: 'LTXVFS_ERR_USAGE', message: 'bad listPageSize 1001: need an integer in 1…1000' });
    await t.rejects(open(t, 'x', { requestTimeoutMs: 0 }), { code: 'LTXVFS_ERR_USAGE', message: 'bad requestTimeoutMs 0: need an integer in 1…2^53-1' });
    await t.rejects(open(t, 'x', { maxAttempts: 0 }), { code: 'LTXVFS_ERR_USAGE', message: 'bad maxAttempts 0: need an integer >= 1' });
  });
});

t.test('readRange and read', async (t) => {
  const c = await open(t, 'read');
  const data = randomBytes(100_000);
  const key = 'read/0000/0000000000000001-0000000000000001.ltx';
  const { etag } = await c.write(key, data);

  t.test('the ETag is the MD5 S3 gives', async (t) => {
    t.equal(etag, md5Etag(data));
    t.equal((await c.read(key)).etag, etag);
  });

  t.test('past the end: a short read, not retried', async (t) => {
    proxy.reset();
    t.match(await failure(c.readRange(key, 99_990, 20)), {
      code: 'LTXVFS_ERR_STORAGE',
      key,
      status: 206,
      message: `short read of s3://ltxvfs-test/${key}: got 10 of 20 bytes at offset 99990 (object is 100000 bytes)`,
    });
    t.match(await failure(c.readRange(key, 100_000, 5)), {
      code: 'LTXVFS_ERR_STORAGE',
      status: 416,
      message: `short read of s3://ltxvfs-test/${key}: got 0 of 5 bytes at offset 100000`,
    });
    t.equal(gets(), 2);
  });

  t.test('length 0 costs a HEAD and still reports missing keys', async (t) => {
    proxy.reset();
    t.same(await c.readRange(key, 5, 0), new Uint8Array(0));
    t.equal(proxy.stats().requests.HEAD, 1);
    t.match(await failure(c.readRange('read/missing', 0, 0)), { code: 'LTXVFS_ERR_NOT_FOUND', status: 404 });
  });

  t.test('a missing key is LTXVFS_ERR_NOT_FOUND at once', async (t) => {
    proxy.reset();
    t.match(await failure(c.readRange('read/0000/nope.ltx', 0, 10)), {
      code: 'LTXVFS_ERR_NOT_FOUND',
      key: 'read/0000/nope.ltx',
      status: 404,
      message: 'object does not exist: s3://ltxvfs-test/read/0000/nope.ltx (HTTP 404 NoSuchKey: The specified key does not exist.)',
    });
    t.match(await failure(c.read('read/nope')), { code: 'LTXVFS_ERR_NOT_FOUND' });
    t.match(await failure(c.headObject('read/nope')), { code: 'LTXVFS_ERR_NOT_FOUND', message: 'object does not exist: s3://ltxvfs-test/read/nope (HTTP 404)' });
    t.equal(gets(), 2, 'no retries');
  });

  t.test('keys inside the prefix, at most 1024 bytes, without . or .. segments', async (t) => {
    for (const [bad, why] of [['', 'empty'], ['other/x', 'outside the replica prefix read/'], ['read/../x', 'has a . or .. segment'],
      ['read/./x', 'has a . or .. segment'], [`read/${'é'.repeat(600)}`, 'longer than 1024 bytes']]) {
      await t.rejects(c.read(bad), { code: 'LTXVFS_ERR_BAD_KEY', message: `bad key ${JSON.stringify(bad)}: ${why}` });
      await t.rejects(c.readRange(bad, 0, 1), { code: 'LTXVFS_ERR_BAD_KEY' });
      await t.rejects(c.write(bad, enc('x')), { code: 'LTXVFS_ERR_BAD_KEY' });
      await t.rejects(c.delete(bad), { code: 'LTXVFS_ERR_BAD_KEY' });
    }
  });

});

t.test('write', async (t) => {
  const c = await open(t, 'write');

  t.test('returns the ETag; stores Content-Type and the litestream-timestamp metadata (RFC 3339 ns)', async (t) => {
    const key = c.ltxKey(0, 1, 1);
    const data = enc('payload');
    t.same(await c.write(key, data, { timestamp: 1795254709256 }), { etag: md5Etag(data) });
    const head = await c.headObject(key);
    t.same(head.metadata, { 'litestream-timestamp': '2026-11-21T09:51:49.256Z' });
    t.equal(head.size, 7);
    t.equal(head.etag, md5Etag(data));
    t.equal(await c.headTimestamp(key), 1795254709256);
    await c.write(key, data, { timestamp: 1795254709000, contentType: 'application/json' });
    t.equal((await c.headObject(key)).metadata['litestream-timestamp'], '2026-11-21T09:51:49Z', 'whole seconds have no fraction (Go)');
    const raw = await fetch(`${s3.endpoint}/${s3.bucket}/${key}`, { method: 'HEAD' });
    t.equal(raw.headers.get('content-type'), 'application/json');
    await c.write(key, data);
    const plain = await fetch(`${s3.endpoint}/${s3.bucket}/${key}`, { method: 'HEAD' });
    t.equal(plain.headers.get('content-type'), 'application/octet-stream');
    t.equal(plain.headers.get('x-amz-meta-litestream-timestamp'), null, 'no timestamp, no metadata');
    t.equal(await c.headTimestamp(key), Date.parse(plain.headers.get('last-modified') ?? ''), 'headTimestamp falls back to Last-Modified');
  });

  t.test('a create-only write of an existing key fails with S3\'s 412', async (t) => {
    const key = c.ltxKey(0, 2, 2);
    await c.write(key, enc('first'), { ifNoneMatch: true });
    t.match(await failure(c.write(key, enc('second'), { ifNoneMatch: true })), {
      code: 'LTXVFS_ERR_PRECONDITION',
      key,
      status: 412,
      message: `precondition failed for s3://ltxvfs-test/${key}: object exists (if-none-match *)`,
    });
  });

  t.test('if-match failures carry S3\'s status: 412 for another ETag, 404 for a missing object', async (t) => {
    const key = c.objectKey('lock.json');
    const { etag: e1 } = await c.write(key, enc('{"generation":1}'), { ifNoneMatch: true, contentType: 'application/json' });
    const { etag: e2 } = await c.write(key, enc('{"generation":2}'), { ifMatch: e1 });
    t.not(e2, e1);
    t.match(await failure(c.write(key, enc('{"generation":3}'), { ifMatch: e1 })), {
      code: 'LTXVFS_ERR_PRECONDITION',
      status: 412,
      message: `precondition failed for s3://ltxvfs-test/${key}: etag differs (if-match ${e1})`,
    });
    t.same(await c.read(key), { data: enc('{"generation":2}'), etag: e2 });
    t.match(await failure(c.write(c.objectKey('none.json'), enc('x'), { ifMatch: e2 })), {
      code: 'LTXVFS_ERR_PRECONDITION',
      status: 404,
      message: `precondition failed for s3://ltxvfs-test/write/none.json: object does not exist (if-match ${e2})`,
    });
    t.match(await failure(c.delete(key, { ifMatch: e1 })), {
      code: 'LTXVFS_ERR_PRECONDITION',
      status: 412,
      message: `precondition failed for s3://ltxvfs-test/${key}: etag differs (if-match ${e1})`,
    });
    await c.delete(key, { ifMatch: e2 });
    t.match(await failure(c.read(key)), { code: 'LTXVFS_ERR_NOT_FOUND' });
    t.match(await failure(c.delete(key, { ifMatch: e2 })), {
      code: 'LTXVFS_ERR_PRECONDITION',
      status: 404,
      message: `precondition failed for s3://ltxvfs-test/${key}: object does not exist (if-match ${e2})`,
    });
    await c.delete(key);
    await c.delete(key);
    t.pass('deleting a missing key without if-match is fine');
  });

  t.test('timestamps RFC 3339 cannot hold are LTXVFS_ERR_USAGE', async (t) => {
    for (const ts of [NaN, Infinity, Date.UTC(10000, 0, 1)]) {
      await t.rejects(c.write(c.ltxKey(0, 9, 9), enc('x'), { timestamp: ts }), { code: 'LTXVFS_ERR_USAGE', message: /bad timestamp/ });
    }
  });

  t.test('storageClass and sseKmsKeyId go out as PUT headers', async (t) => {
    const w = await open(t, 'write', {}, ENV, '&storageClass=STANDARD&sseKmsKeyId=alias/ltxvfs');
    const key = w.objectKey('classy');
    proxy.reset();
    await w.write(key, enc('x'));
    t.equal(proxy.stats().requests.PUT, 1, 'accepted: the proxy verified the signature over them; s3rver ignores them');
  });
});

t.test('credentials and authentication', async (t) => {
  t.test('a wrong secret fails at once with "authentication failed", naming bucket and key', async (t) => {
    const c = await open(t, 'auth', {}, { ...ENV, AWS_SECRET_ACCESS_KEY: WRONG_SECRET });
    proxy.reset();
    t.match(await failure(c.listLtxFiles(0)), {
      code: 'LTXVFS_ERR_STORAGE',
      status: 403,
      key: 'auth/0000/',
      message: 'list s3://ltxvfs-test/auth/0000/: authentication failed (HTTP 403 SignatureDoesNotMatch: The request signature we calculated does not match the signature you provided. Check your key and signing method.)',
    });
    t.match(await failure(c.read('auth/x')), { status: 403, message: /^get s3:\/\/ltxvfs-test\/auth\/x: authentication failed/ });
    t.match(await failure(c.write('auth/x', enc('x'))), { status: 403, message: /^put s3:\/\/ltxvfs-test\/auth\/x: authentication failed/ });
    t.equal(proxy.stats().requests.GET, 2, 'no retries');
    t.equal(proxy.stats().requests.PUT, 1, 'no retries');
    t.equal(c.stats().retries, 0);
    t.equal(c.stats().failures, 3);
  });

  t.test('an unknown access key and a missing signature are authentication failures too', async (t) => {
    const c = await open(t, 'auth', {}, { ...ENV, AWS_ACCESS_KEY_ID: WRONG_KEY });
    t.match(await failure(c.listLtxFiles(0)), { status: 403, message: /authentication failed \(HTTP 403 InvalidAccessKeyId: / });
    const anon = await open(t, 'auth', {}, {}, '&anonymous=true');
    t.equal(anon.credentialOrigin, 'anonymous');
    t.match(await failure(anon.listLtxFiles(0)), { status: 403, message: /authentication failed \(HTTP 403 AccessDenied: Access Denied\)$/ });
    await t.rejects(open(t, 'auth', {}, { AWS_ACCESS_KEY_ID: 'x' }), { code: 'LTXVFS_ERR_BAD_URL' });
  });

  t.test('LITESTREAM_ACCESS_KEY_ID / LITESTREAM_SECRET_ACCESS_KEY work; a session token is signed along', async (t) => {
    const legacy = await open(t, 'auth', {}, { LITESTREAM_ACCESS_KEY_ID: CREDS.accessKeyId, LITESTREAM_SECRET_ACCESS_KEY: CREDS.secretAccessKey });
    t.same(await legacy.listLtxFiles(0), []);
    const token = await open(t, 'auth', {}, { ...ENV, AWS_SESSION_TOKEN: 'session/token+value' });
    t.same(await token.listLtxFiles(0), []);
    const explicit = await openS3Replica(`s3://${s3.bucket}/auth?endpoint=${proxy.endpoint}`, { env: {}, credentials: CREDS });
    t.teardown(() => explicit.close());
    t.same(await explicit.listLtxFiles(0), [], 'credentials given as an option');
  });

  t.test('a missing bucket is LTXVFS_ERR_NOT_FOUND naming it, at once', async (t) => {
    const c = await openReplicaClient(`s3://no-such-bucket/db?endpoint=${proxy.endpoint}`, { env: ENV, s3: FAST });
    t.teardown(() => c.close());
    proxy.reset();
    t.match(await failure(c.listLtxFiles(0)), {
      code: 'LTXVFS_ERR_NOT_FOUND',
      status: 404,
      message: 'list s3://no-such-bucket/db/0000/: bucket does not exist: no-such-bucket (HTTP 404 NoSuchBucket: The specified bucket does not exist)',
    });
    t.match(await failure(c.write('db/x', enc('x'), { ifMatch: '"e"' })), { code: 'LTXVFS_ERR_NOT_FOUND', message: /bucket does not exist/ });
    t.match(await failure(c.delete('db/x', { ifMatch: '"e"' })), { code: 'LTXVFS_ERR_NOT_FOUND', message: /bucket does not exist/ });
    t.match(await failure(c.delete('db/x')), { code: 'LTXVFS_ERR_NOT_FOUND', message: /bucket does not exist/ });
    t.equal(gets(), 1);
  });
});

t.test('faults are retried and results stay exact', async (t) => {
  const c = await open(t, 'faults', { listPageSize: 4 });
  const blobs = Array.from({ length: 24 }, (_, i) => randomBytes(2000 + i * 100));
  for (const [i, b] of blobs.entries()) await c.write(c.ltxKey(0, i + 1, i + 1), b);
  const big = randomBytes(256 * 1024);
  await c.write(c.objectKey('big'), big);

  async function readEverything(t: Test): Promise<void> {
    const files = await c.listLtxFiles(0);
    t.same(files.map((f) => f.minTXID), blobs.map((_, i) => i + 1), 'complete listing');
    for (const [i, f] of files.entries()) {
      t.same(Buffer.from(await c.readRange(f.key, 100, 1000)), blobs[i].subarray(100, 1100));
      t.same(Buffer.from((await c.read(f.key)).data), blobs[i]);
    }
    for (let off = 0; off < big.length; off += 32 * 1024) {
      t.same(Buffer.from(await c.readRange(c.objectKey('big'), off, 32 * 1024)), big.subarray(off, off + 32 * 1024));
    }
  }

  for (const [name, fault] of [
    ['20% of GETs answered 503 SlowDown', { getErrorRate: 0.2 }],
    ['30% of GET bodies reset mid-body', { resetRate: 0.3 }],
    ['30% of GET bodies closed early', { shortBodyRate: 0.3 }],
    ['30% of range reads answered with half the range', { shortRangeRate: 0.3 }],
  ] as const) {
    t.test(name, async (t) => {
      proxy.set({ ...fault, seed: 7 });
      const before = c.stats().retries;
      await readEverything(t);
      const f = proxy.stats().faults;
      const injected = f.errors + f.resets + f.shortBodies + f.shortRanges;
      t.ok(injected >= 5, `faults injected: ${injected}`);
      t.equal(c.stats().retries - before, injected, 'one retry per fault');
    });
  }

  t.test('429 and 500 are transient; giving up names status, code and attempts', async (t) => {
    for (const status of [429, 500, 503] as const) {
      const limited = await open(t, 'faults', { maxAttempts: 3 });
      proxy.set({ getErrorRate: 1, errorStatus: status });
      proxy.reset();
      const err = await failure(limited.read(c.objectKey('big')));
      t.match(err, {
        code: 'LTXVFS_ERR_STORAGE',
        status,
        key: 'faults/big',
        message: new RegExp(`^get s3://ltxvfs-test/faults/big: HTTP ${status} (SlowDown|InternalError): .+ \\(gave up after 3 attempts in \\d+ ms\\)$`),
      });
      t.equal(gets(), 3);
      t.equal(limited.stats().retries, 2);
    }
  });

  t.test('a stalled answer times out and the retry succeeds', async (t) => {
    const slow = await open(t, 'faults', { requestTimeoutMs: 300 });
    proxy.set({ stallMs: 2000, stallRate: 1 });
    proxy.reset();
    const read = slow.readRange(c.objectKey('big'), 0, 10);
    await waitFor('the first attempt to stall', () => proxy.stats().faults.stalls === 1);
    proxy.set({ stallMs: 0 });
    t.same(Buffer.from(await read), big.subarray(0, 10));
    // Had the client waited for a stalled answer, it would not have retried: every stalled
    // attempt (one, or more on a machine slower than the 300 ms timeout) timed out and was
    // retried. On a loaded machine an answer that was not stalled can take longer than the
    // 300 ms too, and be retried as well: retries are at least the stalls, not equal to them.
    const { retries } = slow.stats();
    const { stalls } = proxy.stats().faults;
    t.ok(stalls >= 1 && retries >= stalls, `retried (${retries}) every stalled attempt (${stalls})`);
  });

  t.test('a permanent stall fails within the budget', async (t) => {
    const slow = await open(t, 'faults', { requestTimeoutMs: 500, retryBudgetMs: 1500 });
    proxy.set({ stallMs: 2000, stallRate: 1 });
    const err = await failure(slow.readRange(c.objectKey('big'), 0, 10));
    t.match(err, {
      code: 'LTXVFS_ERR_STORAGE',
      message: /^get s3:\/\/ltxvfs-test\/faults\/big: timed out \(no complete response within 500 ms\) \(gave up after \d+ attempts in [\d.]+ s\)$/,
    });
    // Each attempt lasts at least its 500 ms timeout and none starts after the 1.5 s
    // budget: at most four, however fast or slow the machine.
    const attempts = slow.stats().requests.get;
    t.ok(attempts >= 2 && attempts <= 4, `retried within the budget (${attempts} attempts)`);
    proxy.set({ stallMs: 0 });
  });

  t.test('a write whose answer was lost is found to have landed (create-only and if-match)', async (t) => {
    const key = c.ltxKey(1, 1, 24);
    const data = randomBytes(5000);
    proxy.set({ dropResponses: 1 });
    t.same(await c.write(key, data, { ifNoneMatch: true }), { etag: md5Etag(data) }, 'the retry sees 412 and our own bytes');
    t.equal(proxy.stats().faults.droppedResponses, 1);
    const next = randomBytes(10);
    proxy.set({ dropResponses: 1 });
    t.same(await c.write(key, next, { ifMatch: md5Etag(data) }), { etag: md5Etag(next) });
    proxy.set({ dropResponses: 1 });
    await c.delete(key, { ifMatch: md5Etag(next) });
    t.match(await failure(c.read(key)), { code: 'LTXVFS_ERR_NOT_FOUND' });
    await c.write(key, enc('someone else'));
    proxy.set({ dropResponses: 1 });
    t.match(await failure(c.write(key, enc('mine'), { ifMatch: md5Etag(next) })), { code: 'LTXVFS_ERR_PRECONDITION' }, 'a real conflict after a retry stays a conflict');
    proxy.set({ dropResponses: 1 });
    await c.delete(key);
    proxy.set({ dropResponses: 1 });
    t.match(await failure(c.write(key, enc('mine'), { ifMatch: '"gone"' })), { code: 'LTXVFS_ERR_PRECONDITION', status: 404 },
      'a retried if-match on a missing key is still a precondition failure');
  });

  t.test('an unreachable endpoint is retried, then LTXVFS_ERR_STORAGE with the socket error', async (t) => {
    const dead = await openReplicaClient('s3://b/db?endpoint=http://127.0.0.1:1', { env: ENV, s3: { ...FAST, maxAttempts: 2 } });
    t.teardown(() => dead.close());
    t.match(await failure(dead.listLtxFiles(0)), {
      code: 'LTXVFS_ERR_STORAGE',
      message: /^list s3:\/\/b\/db\/0000\/: ECONNREFUSED: .*\(gave up after 2 attempts in \d+ ms\)$/,
    });
  });
});

t.test('S3 answers a wrong region with the right one, and the client follows', async (t) => {
  proxy.set({ bucketRegion: 'eu-west-1' });
  const c = await open(t, 'region');
  t.equal(c.region, 'us-east-1');
  proxy.reset();
  t.same(await c.listLtxFiles(0), []);
  t.equal(c.region, 'eu-west-1');
  t.equal(proxy.stats().requests.GET, 2);
  await c.write(c.objectKey('x'), enc('x'));
  t.equal(proxy.stats().requests.PUT, 1, 'later requests are signed for the right region at once');
  t.equal(proxy.stats().faults.regionRedirects, 1);
});

t.test('close', async (t) => {
  t.test('aborts requests in flight, refuses further use, shares and frees pools', async (t) => {
    const baseline = openPoolCount();
    const a = await open(t, 'close', { requestTimeoutMs: 5000 });
    const b = await open(t, 'close');
    await a.write(a.objectKey('x'), enc('x'));
    await b.read(b.objectKey('x'));
    t.equal(openPoolCount(), baseline + 1, 'one pool per origin, shared');
    proxy.set({ stallMs: 3000 });
    proxy.reset();
    const pending = failure(a.read(a.objectKey('x')));
    await waitFor('the read to stall', () => proxy.stats().faults.stalls === 1);
    await a.close();
    t.equal(proxy.stats().bytesOut.GET, undefined, 'close returned before the stalled answer was sent');
    t.match(await pending, { code: 'LTXVFS_ERR_CLOSED', message: `replica client is closed: ${a.url}` });
    await a.close();
    for (const op of [a.listLtxFiles(0), a.readRange('close/x', 0, 1), a.read('close/x'), a.write('close/x', enc('x')), a.delete('close/x'),
      a.headObject('close/x')] as Promise<unknown>[]) {
      await t.rejects(op, { code: 'LTXVFS_ERR_CLOSED' });
    }
    t.equal(openPoolCount(), baseline + 1, 'b still holds the pool');
    proxy.set({ stallMs: 0 });
    await b.close();
    t.equal(openPoolCount(), baseline);
  });

  t.test('a close during a backoff sleep ends the retries', async (t) => {
    const c = await open(t, 'close', { retryBaseDelayMs: 5000, retryMaxDelayMs: 5000 });
    proxy.set({ getErrorRate: 1 });
    proxy.reset();
    const pending = failure(c.read(c.objectKey('x')));
    // Closed once the first attempt has failed (then the client sleeps 5 s): not after a
    // fixed 100 ms, which a loaded machine may spend before the attempt is even sent.
    await waitFor('the first attempt to fail', () => proxy.stats().faults.errors === 1);
    await c.close();
    t.match(await pending, { code: 'LTXVFS_ERR_CLOSED' });
  });
});

t.test('openS3Replica and openReplicaClient', async (t) => {
  const c = await openS3Replica(`s3://${s3.bucket}/o?endpoint=${proxy.endpoint}`, { env: ENV });
  t.equal(c.bucket, s3.bucket);
  t.equal(c.prefix, 'o');
  await c.close();
  await t.rejects(openS3Replica('/tmp/dir'), { code: 'LTXVFS_ERR_BAD_URL', message: 'not an s3:// URL: /tmp/dir' });
  const viaEnv = await openReplicaClient(undefined, { env: { ...ENV, LITESTREAM_REPLICA_URL: `s3://${s3.bucket}/e?endpoint=${proxy.endpoint}` } });
  t.equal(viaEnv.url, `s3://ltxvfs-test/e?endpoint=${proxy.endpoint}`);
  await viaEnv.close();
  const aws = await openReplicaClient('s3://some-bucket/db?region=eu-west-1', { env: ENV });
  t.equal(aws.url, 's3://some-bucket/db', 'AWS itself: no endpoint in the URL');
  await aws.close();
});

t.test('no credential appears in any error, cause, URL or statistic', async (t) => {
  t.ok(seenErrors.length >= 30, `${seenErrors.length} errors seen`);
  const secrets = [CREDS.accessKeyId, CREDS.secretAccessKey, WRONG_SECRET, WRONG_KEY, 'session/token+value'];
  for (const err of seenErrors) {
    let text = '';
    for (let e: unknown = err; e !== undefined && e !== null; e = (e as Error).cause) {
      text += `${String((e as Error).message)}\n${String((e as Error).stack)}\n`;
    }
    for (const secret of secrets) t.notOk(text.includes(secret), `not in: ${(err as Error).message.slice(0, 80)}`);
  }
  const c = await open(t, 'final');
  await c.listLtxFiles(0);
  const visible = `${c.url} ${JSON.stringify(c.stats())} ${JSON.stringify(Object.keys(c))}`;
  for (const secret of secrets) t.notOk(visible.includes(secret));
});
