import t from 'tap';
import { credentialsFromEnv, ensureEndpointScheme, redactEndpoint, requestPath, resolveS3Config, s3Target, type S3Config } from '../../../lib/storage/s3/config.js';
import { parseReplicaUrl } from '../../../lib/storage/url.js';

const KEYS = { AWS_ACCESS_KEY_ID: 'AKIDEXAMPLE', AWS_SECRET_ACCESS_KEY: 'wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY' };

function resolve(url: string, env: NodeJS.ProcessEnv = {}): S3Config {
  const parsed = parseReplicaUrl(url, {});
  if (parsed.scheme !== 's3') throw new Error('not s3');
  return resolveS3Config(parsed, env);
}

t.test('defaults: AWS, virtual-hosted, us-east-1, signed unless ?anonymous=true', async (t) => {
  t.same(resolve('s3://my-bucket/db'), {
    bucket: 'my-bucket',
    prefix: 'db',
    region: 'us-east-1',
    endpoint: undefined,
    forcePathStyle: false,
    skipVerify: false,
    anonymous: false,
    storageClass: undefined,
    sseKmsKeyId: undefined,
  });
});

t.test('an endpoint means path-style unless forcePathStyle says otherwise (Litestream)', async (t) => {
  t.match(resolve('s3://b/p?endpoint=http://127.0.0.1:9000'), {
    endpoint: { protocol: 'http:', host: '127.0.0.1:9000', basePath: '' },
    forcePathStyle: true,
    region: 'us-east-1',
  });
  t.match(resolve('s3://b/p?endpoint=https://s3.example.com/gw/&forcePathStyle=false'), {
    endpoint: { protocol: 'https:', host: 's3.example.com', basePath: '/gw' },
    forcePathStyle: false,
  });
  t.match(resolve('s3://b/p?endpoint=localhost:9000&force-path-style=0'), { endpoint: { protocol: 'http:' }, forcePathStyle: false }, 'kebab-case too');
  t.match(resolve('s3://b/p?forcePathStyle=yes'), { endpoint: undefined, forcePathStyle: true });
  t.match(resolve('s3://b/p?forcePathStyle=maybe&skipVerify=TRUE'), { forcePathStyle: false, skipVerify: true }, "BoolQueryValue: only true/1/t/yes are true");
  t.match(resolve('s3://b/p?skip-verify=t'), { skipVerify: true });
});

t.test('endpoints without a scheme get http:// when local, https:// otherwise (EnsureEndpointScheme)', async (t) => {
  for (const local of ['localhost:9000', '127.0.0.1:9000', '192.168.1.2', '10.0.0.1:80', '172.16.0.1', '172.31.9.9', 'minio.local', 'x.localhost/p']) {
    t.equal(ensureEndpointScheme(local), `http://${local}`, local);
  }
  for (const remote of ['s3.example.com', '172.32.0.1', 'fly.storage.tigris.dev']) t.equal(ensureEndpointScheme(remote), `https://${remote}`, remote);
  t.equal(ensureEndpointScheme('HTTP://x'), 'HTTP://x', 'a scheme is kept');
});

t.test('provider hosts name bucket, region and endpoint (Litestream ParseHost)', async (t) => {
  t.match(resolve('s3://mybkt.localhost:9000/db'), { bucket: 'mybkt', region: 'us-east-1', endpoint: { protocol: 'http:', host: 'localhost:9000' }, forcePathStyle: true });
  t.match(resolve('s3://mybkt.s3.eu-west-1.amazonaws.com/db'), { bucket: 'mybkt', region: 'eu-west-1', endpoint: undefined, forcePathStyle: false });
  t.match(resolve('s3://mybkt.s3.amazonaws.com/db', { AWS_REGION: 'ap-south-1' }), { bucket: 'mybkt', region: 'ap-south-1' });
  t.match(resolve('s3://mybkt.nyc3.digitaloceanspaces.com/db'), { bucket: 'mybkt', region: 'nyc3', endpoint: { host: 'nyc3.digitaloceanspaces.com' }, forcePathStyle: false });
  t.match(resolve('s3://mybkt.s3.us-west-002.backblazeb2.com/db'), { bucket: 'mybkt', region: 'us-west-002', endpoint: { host: 's3.us-west-002.backblazeb2.com' }, forcePathStyle: true });
  t.match(resolve('s3://mybkt.s3.filebase.com/db'), { bucket: 'mybkt', endpoint: { protocol: 'https:', host: 's3.filebase.com' }, forcePathStyle: true });
  t.match(resolve('s3://mybkt.s3.fr-par.scw.cloud/db'), { bucket: 'mybkt', region: 'fr-par', endpoint: { host: 's3.fr-par.scw.cloud' }, forcePathStyle: false });
  t.match(resolve('s3://mybkt.s3.fr-par.scw.cloud/db?endpoint=http://127.0.0.1:1&region=x'), { endpoint: { host: '127.0.0.1:1' }, region: 'x', forcePathStyle: true },
    'query parameters win over the host');
  t.throws(() => resolve('s3://minio:9000/db'), { code: 'LTXVFS_ERR_BAD_URL', message: 's3 URL has no bucket: s3://minio:9000/db' });
  for (const bucketless of ['nyc3.digitaloceanspaces.com', 's3.us-west-002.backblazeb2.com', 's3.filebase.com', 's3.fr-par.scw.cloud']) {
    t.throws(() => resolve(`s3://${bucketless}/db`), { code: 'LTXVFS_ERR_BAD_URL', message: /has no bucket/ }, bucketless);
  }
});

t.test('access point ARNs carry their region', async (t) => {
  const c = resolve('s3://arn:aws:s3:eu-central-1:123456789012:accesspoint/my-ap/db');
  t.match(c, { bucket: 'arn:aws:s3:eu-central-1:123456789012:accesspoint/my-ap', prefix: 'db', region: 'eu-central-1' });
  t.same(s3Target(c), { origin: 'https://my-ap-123456789012.s3-accesspoint.eu-central-1.amazonaws.com', bucketPath: '' });
  t.match(resolve('s3://arn:aws:s3::1:accesspoint/x', { AWS_REGION: 'us-west-2' }), { region: 'us-west-2' }, 'an ARN without region falls back');
});

t.test('endpoint precedence: URL, provider host, LITESTREAM_S3_ENDPOINT, AWS_ENDPOINT_URL_S3, AWS_ENDPOINT_URL', async (t) => {
  const env = { LITESTREAM_S3_ENDPOINT: 'localhost:1', AWS_ENDPOINT_URL_S3: 'http://s3only:2', AWS_ENDPOINT_URL: 'http://all:3' };
  t.match(resolve('s3://b/p?endpoint=http://url:4', env), { endpoint: { host: 'url:4' } });
  t.match(resolve('s3://b.host:5/p', env), { endpoint: { host: 'host:5' } }, 'a bucket.host:port host beats the environment');
  t.match(resolve('s3://b/p', env), { endpoint: { protocol: 'http:', host: 'localhost:1' }, forcePathStyle: true });
  t.match(resolve('s3://b/p', { ...env, LITESTREAM_S3_ENDPOINT: '' }), { endpoint: { host: 's3only:2' }, forcePathStyle: true });
  t.match(resolve('s3://b/p', { AWS_ENDPOINT_URL: 'https://all:3' }), { endpoint: { protocol: 'https:', host: 'all:3' }, forcePathStyle: true });
  t.match(resolve('s3://b/p?forcePathStyle=false', { AWS_ENDPOINT_URL: 'https://all:3' }), { forcePathStyle: false });
});

t.test('region precedence: URL, host, AWS_REGION, AWS_DEFAULT_REGION, us-east-1', async (t) => {
  const env = { AWS_REGION: 'r1', AWS_DEFAULT_REGION: 'r2' };
  t.equal(resolve('s3://b/p?region=r0', env).region, 'r0');
  t.equal(resolve('s3://b.s3.rh.amazonaws.com/p', env).region, 'rh');
  t.equal(resolve('s3://b/p', env).region, 'r1');
  t.equal(resolve('s3://b/p', { AWS_DEFAULT_REGION: 'r2', AWS_REGION: '' }).region, 'r2');
  t.equal(resolve('s3://b/p?endpoint=http://x:1', {}).region, 'us-east-1');
});

t.test('credentials: AWS_* first, LITESTREAM_* as fallback (Litestream), session token', async (t) => {
  t.same(credentialsFromEnv(KEYS), { accessKeyId: 'AKIDEXAMPLE', secretAccessKey: KEYS.AWS_SECRET_ACCESS_KEY });
  t.same(credentialsFromEnv({ LITESTREAM_ACCESS_KEY_ID: 'L1', LITESTREAM_SECRET_ACCESS_KEY: 'L2' }), { accessKeyId: 'L1', secretAccessKey: 'L2' });
  t.same(credentialsFromEnv({ ...KEYS, LITESTREAM_ACCESS_KEY_ID: 'L1', LITESTREAM_SECRET_ACCESS_KEY: 'L2' })?.accessKeyId, 'AKIDEXAMPLE', 'AWS wins');
  t.same(credentialsFromEnv({ AWS_ACCESS_KEY_ID: '', LITESTREAM_ACCESS_KEY_ID: 'L1', AWS_SECRET_ACCESS_KEY: 'S' }), { accessKeyId: 'L1', secretAccessKey: 'S' },
    'an empty variable counts as unset');
  t.same(credentialsFromEnv({ ...KEYS, AWS_SESSION_TOKEN: 'tok' })?.sessionToken, 'tok');
  t.equal(credentialsFromEnv({}), undefined);
  t.equal(credentialsFromEnv({ AWS_SESSION_TOKEN: 'tok' }), undefined, 'a token alone is nothing');
  const err1 = t.throws(() => credentialsFromEnv({ AWS_ACCESS_KEY_ID: 'AKIDEXAMPLE' }), {
    code: 'LTXVFS_ERR_BAD_URL',
    message: 'AWS_ACCESS_KEY_ID (or its LITESTREAM_ twin) is set but AWS_SECRET_ACCESS_KEY is not',
  }) as Error;
  t.notMatch(err1.message, 'AKIDEXAMPLE');
  t.throws(() => credentialsFromEnv({ LITESTREAM_SECRET_ACCESS_KEY: 'sekrit' }), {
    message: 'AWS_SECRET_ACCESS_KEY (or its LITESTREAM_ twin) is set but AWS_ACCESS_KEY_ID is not',
  });
  t.match(resolve('s3://b/p?anonymous=true', KEYS), { anonymous: true });
});

t.test('write parameters; refused parameters and endpoints', async (t) => {
  t.match(resolve('s3://b/p?storageClass=STANDARD_IA&sseKmsKeyId=alias/k'), { storageClass: 'STANDARD_IA', sseKmsKeyId: 'alias/k' });
  t.match(resolve('s3://b/p?storage-class=GLACIER_IR&sse-kms-key-id=k2'), { storageClass: 'GLACIER_IR', sseKmsKeyId: 'k2' });
  t.throws(() => resolve('s3://b/p?sseCustomerKey=c2VjcmV0'), {
    code: 'LTXVFS_ERR_UNSUPPORTED',
    message: 'SSE-C (sseCustomerKey) is not supported: s3://b/p',
  });
  t.throws(() => resolve('s3://b/p?sse-customer-key=x'), { code: 'LTXVFS_ERR_UNSUPPORTED' });
  t.throws(() => resolve('s3://b/p?sse-customer-key-path=/k'), { code: 'LTXVFS_ERR_UNSUPPORTED' });
  t.throws(() => resolve('s3://b/p?endpoint=http://user:pw@host:1'), {
    code: 'LTXVFS_ERR_BAD_URL',
    message: 'credentials are not allowed in an s3 endpoint: http://***@host:1',
  });
  t.throws(() => resolve('s3://b/p?endpoint=ftp://host'), { code: 'LTXVFS_ERR_BAD_URL', message: /^bad s3 endpoint ftp:\/\/host for s3:\/\/b\/p: need http/ });
  t.throws(() => resolve('s3://b/p?endpoint=http://[::1'), { code: 'LTXVFS_ERR_BAD_URL', message: 'bad s3 endpoint http://[::1 for s3://b/p' });
  t.equal(redactEndpoint('https://k:s@h/'), 'https://***@h/');
});

t.test('s3Target: path-style and virtual-hosted addressing', async (t) => {
  const base = resolve('s3://b/p');
  t.same(s3Target({ ...base, bucket: 'my-bucket' }), { origin: 'https://my-bucket.s3.us-east-1.amazonaws.com', bucketPath: '' });
  t.same(s3Target({ ...base, bucket: 'my.bucket' }), { origin: 'https://s3.us-east-1.amazonaws.com', bucketPath: '/my.bucket' }, 'dotted names go path-style');
  t.same(s3Target({ ...base, bucket: 'my-bucket', forcePathStyle: true, region: 'cn-north-1' }), {
    origin: 'https://s3.cn-north-1.amazonaws.com.cn',
    bucketPath: '/my-bucket',
  });
  const ep = resolve('s3://b/p?endpoint=http://127.0.0.1:9000/base');
  t.same(s3Target(ep), { origin: 'http://127.0.0.1:9000', bucketPath: '/base/b' });
  t.same(s3Target({ ...ep, forcePathStyle: false }), { origin: 'http://b.127.0.0.1:9000', bucketPath: '/base' });
});

t.test('requestPath: bucket path, encoded key, encoded query', async (t) => {
  t.equal(requestPath({ origin: 'x', bucketPath: '' }, undefined, { 'list-type': '2', prefix: '/0000/' }), '/?list-type=2&prefix=%2F0000%2F');
  t.equal(requestPath({ origin: 'x', bucketPath: '/b' }, undefined), '/b');
  t.equal(requestPath({ origin: 'x', bucketPath: '/b' }, '/0000/a b.ltx'), '/b//0000/a%20b.ltx', 'a leading / in the key stays');
  t.equal(requestPath({ origin: 'x', bucketPath: '' }, 'p/k+1', { 'continuation-token': 'a+b/c=' }), '/p/k%2B1?continuation-token=a%2Bb%2Fc%3D');
});
