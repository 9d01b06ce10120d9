import t from 'tap';
import * as path from 'node:path';
import { openReplicaClient, parseReplicaUrl } from '../../../lib/storage/url.js';
import * as storage from '../../../lib/storage/index.js';

const noEnv = {};

t.test('file URLs', async (t) => {
  t.same(parseReplicaUrl('file:///var/lib/replica', noEnv), { scheme: 'file', path: '/var/lib/replica' });
  t.same(parseReplicaUrl('FILE:///var/lib/replica/', noEnv), { scheme: 'file', path: '/var/lib/replica' }, 'scheme in any case, trailing slash dropped');
  t.same(parseReplicaUrl('file:///data/my%20db', noEnv), { scheme: 'file', path: '/data/my db' }, 'percent-escapes decoded');
  t.same(parseReplicaUrl('file:///a/./b/../c#frag', noEnv), { scheme: 'file', path: '/a/c' }, 'cleaned, fragment ignored');
  t.same(parseReplicaUrl('file://localhost/x', noEnv), { scheme: 'file', path: '/x' }, 'RFC 8089 localhost');
  t.same(parseReplicaUrl('file://LocalHost/x', noEnv), { scheme: 'file', path: '/x' }, 'localhost in any case');
  t.same(parseReplicaUrl('file:/abs', noEnv), { scheme: 'file', path: '/abs' });
  t.same(parseReplicaUrl('  file:///x  ', noEnv), { scheme: 'file', path: '/x' }, 'surrounding blanks trimmed');
});

t.test('bad file URLs are LTXVFS_ERR_BAD_URL naming the URL', async (t) => {
  t.throws(() => parseReplicaUrl('file:///a%2Fb', noEnv), { code: 'LTXVFS_ERR_BAD_URL', message: /^bad path in file URL file:\/\/\/a%2Fb: / });
  t.throws(() => parseReplicaUrl('file://u:secret@host/x', noEnv), {
    code: 'LTXVFS_ERR_BAD_URL',
    message: 'malformed file URL: file://***@host/x',
  });
  t.throws(() => parseReplicaUrl('file://[::1/x', noEnv), { code: 'LTXVFS_ERR_BAD_URL', message: 'malformed file URL: file://[::1/x' });
});

t.test('strict file URLs: a host other than localhost, parameters, NUL in the path (issue 12 item 5)', async (t) => {
  t.throws(() => parseReplicaUrl('file://evil.example.com/x', noEnv), {
    code: 'LTXVFS_ERR_BAD_URL',
    key: 'file://evil.example.com/x',
    message: 'file URL file://evil.example.com/x names host "evil.example.com": only local directories can be read (file:///path or file://localhost/path)',
  });
  t.throws(() => parseReplicaUrl('file://data/replica', noEnv), { code: 'LTXVFS_ERR_BAD_URL', message: /names host "data"/ });
  t.throws(() => parseReplicaUrl('file:///a?x=1', noEnv), {
    code: 'LTXVFS_ERR_BAD_URL',
    message: 'unknown URL parameter "x" in file:///a?x=1 (file URLs take no parameters)',
  });
  t.throws(() => parseReplicaUrl('file:///data/a%00b', noEnv), {
    code: 'LTXVFS_ERR_BAD_URL',
    message: 'control character U+0000 in the path of file:///data/a%00b',
  });
  t.throws(() => parseReplicaUrl('/data/a\0b', noEnv), { code: 'LTXVFS_ERR_BAD_URL', message: 'bad replica path "/data/a\\u0000b": contains NUL' });
});

t.test('plain paths', async (t) => {
  t.same(parseReplicaUrl('/srv/replica', noEnv), { scheme: 'file', path: '/srv/replica' });
  t.same(parseReplicaUrl('replica/dir', noEnv), { scheme: 'file', path: path.resolve('replica/dir') });
  t.same(parseReplicaUrl('./r', noEnv), { scheme: 'file', path: path.resolve('r') });
  t.same(parseReplicaUrl('./my:dir', noEnv), { scheme: 'file', path: path.resolve('my:dir') }, 'a colon after ./ is a path');
  t.same(parseReplicaUrl('C:\\data', noEnv), { scheme: 'file', path: path.resolve('C:\\data') }, 'a one-letter scheme is a drive');
  t.throws(() => parseReplicaUrl('my:dir', noEnv), { code: 'LTXVFS_ERR_BAD_URL', message: /^unknown replica URL scheme "my"/ }, 'scheme: is a URL');
});

t.test('LITESTREAM_REPLICA_URL is the default', async (t) => {
  const env = { LITESTREAM_REPLICA_URL: 'file:///from/env' };
  t.same(parseReplicaUrl(undefined, env), { scheme: 'file', path: '/from/env' });
  t.same(parseReplicaUrl('', env), { scheme: 'file', path: '/from/env' });
  t.same(parseReplicaUrl('  ', env), { scheme: 'file', path: '/from/env' });
  t.same(parseReplicaUrl('/given', env), { scheme: 'file', path: '/given' }, 'an explicit URL wins');
  const saved = process.env.LITESTREAM_REPLICA_URL;
  process.env.LITESTREAM_REPLICA_URL = 's3://from-process-env/db';
  t.teardown(() => {
    if (saved === undefined) delete process.env.LITESTREAM_REPLICA_URL;
    else process.env.LITESTREAM_REPLICA_URL = saved;
  });
  t.match(parseReplicaUrl(), { scheme: 's3', bucket: 'from-process-env', path: 'db' }, 'process.env by default');
});

t.test('no URL and no LITESTREAM_REPLICA_URL is LTXVFS_ERR_BAD_URL', async (t) => {
  const expected = { code: 'LTXVFS_ERR_BAD_URL', message: 'no replica URL given and LITESTREAM_REPLICA_URL is not set' };
  t.throws(() => parseReplicaUrl(undefined, noEnv), expected);
  t.throws(() => parseReplicaUrl('', { LITESTREAM_REPLICA_URL: ' ' }), expected);
});

t.test('s3 URLs', async (t) => {
  t.same(parseReplicaUrl('s3://mybucket/db', noEnv), { scheme: 's3', bucket: 'mybucket', path: 'db', params: {} });
  t.same(parseReplicaUrl('s3://mybucket', noEnv), { scheme: 's3', bucket: 'mybucket', path: '', params: {} });
  t.same(parseReplicaUrl('s3://mybucket/', noEnv), { scheme: 's3', bucket: 'mybucket', path: '', params: {} });
  t.same(parseReplicaUrl('S3://mybucket//a//b/../c/', noEnv), { scheme: 's3', bucket: 'mybucket', path: 'a/c', params: {} });
  t.same(parseReplicaUrl('s3://mybucket/my%20db', noEnv), { scheme: 's3', bucket: 'mybucket', path: 'my db', params: {} });
  t.same(
    parseReplicaUrl('s3://b/p?endpoint=http://127.0.0.1:9000&region=us-east-1&forcePathStyle=true&skipVerify=true&region=ignored', noEnv),
    {
      scheme: 's3',
      bucket: 'b',
      path: 'p',
      params: { endpoint: 'http://127.0.0.1:9000', region: 'us-east-1', forcePathStyle: 'true', skipVerify: 'true' },
    },
    'query parameters, first value wins',
  );
  t.same(parseReplicaUrl('s3://b.localhost:9000/db', noEnv), { scheme: 's3', bucket: 'b.localhost:9000', path: 'db', params: {} }, 'host kept whole');
  t.same(
    parseReplicaUrl('s3://arn:aws:s3:us-east-1:123456789012:accesspoint/my-ap/db/x?region=us-east-1', noEnv),
    { scheme: 's3', bucket: 'arn:aws:s3:us-east-1:123456789012:accesspoint/my-ap', path: 'db/x', params: { region: 'us-east-1' } },
    'access point ARN',
  );
  t.same(
    parseReplicaUrl('s3://arn:aws:s3:us-east-1:123456789012:accesspoint/my-ap', noEnv),
    { scheme: 's3', bucket: 'arn:aws:s3:us-east-1:123456789012:accesspoint/my-ap', path: '', params: {} },
  );
});

t.test('bad s3 URLs are LTXVFS_ERR_BAD_URL, never echoing credentials', async (t) => {
  t.throws(() => parseReplicaUrl('s3:///db', noEnv), { code: 'LTXVFS_ERR_BAD_URL', message: 's3 URL has no bucket: s3:///db' });
  t.throws(() => parseReplicaUrl('s3://AKIA:secret@b/db', noEnv), {
    code: 'LTXVFS_ERR_BAD_URL',
    message: 'credentials are not allowed in an s3 URL (use AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY): s3://***@b/db',
  });
  t.throws(() => parseReplicaUrl('s3://bad bucket/db', noEnv), { code: 'LTXVFS_ERR_BAD_URL', message: 'malformed s3 URL: s3://bad bucket/db' });
  t.throws(() => parseReplicaUrl('s3://b/%zz', noEnv), { code: 'LTXVFS_ERR_BAD_URL', message: 'bad percent-escape in the path of s3://b/%zz' });
  t.throws(() => parseReplicaUrl('s3://arn:aws:s3:us-east-1:1:bucket/x', noEnv), {
    code: 'LTXVFS_ERR_BAD_URL',
    message: 'bad s3 access point ARN: s3://arn:aws:s3:us-east-1:1:bucket/x',
  });
  t.throws(() => parseReplicaUrl('s3://arn:aws:s3:us-east-1:1:accesspoint/', noEnv), { code: 'LTXVFS_ERR_BAD_URL' });
});

t.test('strict s3 URLs: unknown parameters, bad escapes, control characters, malformed (issues 11, 12)', async (t) => {
  t.throws(() => parseReplicaUrl('s3://b/db?regoin=x', noEnv), {
    code: 'LTXVFS_ERR_BAD_URL',
    key: 's3://b/db?regoin=x',
    message: /^unknown URL parameter "regoin" in s3:\/\/b\/db\?regoin=x \(known: endpoint, region, /,
  });
  t.throws(() => parseReplicaUrl('s3://arn:aws:s3:us-east-1:1:accesspoint/ap/db?regoin=x', noEnv), { message: /unknown URL parameter "regoin"/ });
  t.throws(() => parseReplicaUrl('s3://b/db?region=%00', noEnv), {
    code: 'LTXVFS_ERR_BAD_URL',
    message: 'control character U+0000 in URL parameter region of s3://b/db?region=%00',
  });
  t.throws(() => parseReplicaUrl('s3://b/db?region=%zz', noEnv), { message: 'bad percent-escape in URL parameter region of s3://b/db?region=%zz' });
  t.throws(() => parseReplicaUrl('s3://b/db?re%zzgion=x', noEnv), { message: /^bad percent-escape in the name of URL parameter "re%zzgion"/ });
  t.throws(() => parseReplicaUrl('s3://b/a%00b', noEnv), { code: 'LTXVFS_ERR_BAD_URL', message: 'control character U+0000 in the path of s3://b/a%00b' });
  t.throws(() => parseReplicaUrl('s3:/bucket', noEnv), { code: 'LTXVFS_ERR_BAD_URL', message: 'malformed s3 URL s3:/bucket: expected s3://bucket/path' });
  t.throws(() => parseReplicaUrl('S3:bucket', noEnv), { code: 'LTXVFS_ERR_BAD_URL', message: /^malformed s3 URL/ });
  t.throws(() => parseReplicaUrl('mailto:x@y', noEnv), { code: 'LTXVFS_ERR_BAD_URL', message: 'unknown replica URL scheme "mailto" (expected file://, s3://, abs://, gs://, sftp://, webdav://, webdavs://, nats://, oss://): mailto:x@y' });
  t.same(parseReplicaUrl('S3://b/db?anonymous=true&force-path-style=true', noEnv), {
    scheme: 's3', bucket: 'b', path: 'db', params: { anonymous: 'true', 'force-path-style': 'true' },
  }, 'S3:// is s3; anonymous is a known parameter');
  t.match(parseReplicaUrl('s3://b/db?concurrency=4&part-size=5MB&sign-payload=true', noEnv), { scheme: 's3' }, "Litestream's upload tuning is accepted (and ignored)");
});

t.test('other schemes', async (t) => {
  t.throws(() => parseReplicaUrl('ftp://host/x', noEnv), {
    code: 'LTXVFS_ERR_BAD_URL',
    key: 'ftp://host/x',
    message: 'unknown replica URL scheme "ftp" (expected file://, s3://, abs://, gs://, sftp://, webdav://, webdavs://, nats://, oss://): ftp://host/x',
  });
});

t.test('oss URLs as Litestream parses them: the bucket, and the region of an OSS endpoint host', async (t) => {
  t.same(parseReplicaUrl('oss://bucket/a/./b/', noEnv), { scheme: 'oss', bucket: 'bucket', region: undefined, internal: false, path: 'a/b', params: {} });
  t.same(parseReplicaUrl('oss://my-bucket.oss-cn-shanghai.aliyuncs.com/db', noEnv), {
    scheme: 'oss', bucket: 'my-bucket', region: 'cn-shanghai', internal: false, path: 'db', params: {},
  });
  t.same(parseReplicaUrl('OSS://b.oss-ap-southeast-1-internal.aliyuncs.com/', noEnv), {
    scheme: 'oss', bucket: 'b', region: 'ap-southeast-1', internal: true, path: '', params: {},
  }, 'the -internal suffix is not part of the region');
  t.match(parseReplicaUrl('oss://b/db?endpoint=http%3A%2F%2F127.0.0.1%3A9000', noEnv), { scheme: 'oss', params: { endpoint: 'http://127.0.0.1:9000' } });
  t.throws(() => parseReplicaUrl('oss://oss-cn-hangzhou.aliyuncs.com/db', noEnv), { code: 'LTXVFS_ERR_BAD_URL', message: 'oss URL oss://oss-cn-hangzhou.aliyuncs.com/db: no bucket' });
  t.throws(() => parseReplicaUrl('oss://id:secret@b/db', noEnv), {
    code: 'LTXVFS_ERR_BAD_URL',
    message: 'oss URL oss://***@b/db: credentials are not allowed in the URL (use OSS_ACCESS_KEY_ID and OSS_ACCESS_KEY_SECRET)',
  });
  t.throws(() => parseReplicaUrl('oss://b:9000/db', noEnv), { code: 'LTXVFS_ERR_BAD_URL', message: /a port is not allowed/ });
  t.throws(() => parseReplicaUrl('oss://b/db?region=x', noEnv), { code: 'LTXVFS_ERR_BAD_URL', message: /^unknown URL parameter "region" in oss:\/\/b\/db\?region=x \(known: endpoint\)/ });
  t.throws(() => parseReplicaUrl('oss:b/db', noEnv), { code: 'LTXVFS_ERR_BAD_URL', message: 'malformed oss URL oss:b/db: expected oss://host/path' });
});

t.test('abs, gs, sftp, webdav and nats URLs as Litestream users write them (issue 16)', async (t) => {
  t.same(parseReplicaUrl('abs://myaccount@mycontainer/db/prod', noEnv), { scheme: 'abs', account: 'myaccount', container: 'mycontainer', path: 'db/prod', params: {} });
  t.same(parseReplicaUrl('ABS://MyContainer//a/./b/', noEnv), { scheme: 'abs', account: undefined, container: 'MyContainer', path: 'a/b', params: {} });
  t.same(parseReplicaUrl('abs://acct@c/p?endpoint=http%3A%2F%2F127.0.0.1%3A10000', noEnv).scheme, 'abs');
  t.same(parseReplicaUrl('gs://bucket/a/../b', noEnv), { scheme: 'gs', bucket: 'bucket', path: 'b', params: {} });
  t.same(parseReplicaUrl('sftp://me:p%40ss@example.com:2222/var/lib/replica', noEnv), {
    scheme: 'sftp', user: 'me', password: 'p@ss', host: 'example.com', port: 2222, path: 'var/lib/replica', params: {},
  });
  t.same(parseReplicaUrl('sftp://me@[::1]/r?key-path=/k', noEnv), { scheme: 'sftp', user: 'me', password: undefined, host: '::1', port: 22, path: 'r', params: { 'key-path': '/k' } });
  t.same(parseReplicaUrl('webdavs://u:pw@dav.example.com/remote.php/dav/files/u/db', noEnv), {
    scheme: 'webdav', secure: true, user: 'u', password: 'pw', host: 'dav.example.com', port: undefined, path: 'remote.php/dav/files/u/db', params: {},
  });
  t.same(parseReplicaUrl('webdav://127.0.0.1:8080/r', noEnv), { scheme: 'webdav', secure: false, user: undefined, password: undefined, host: '127.0.0.1', port: 8080, path: 'r', params: {} });
  t.same(parseReplicaUrl('nats://u:p@nats.local:4333/replicas', noEnv), { scheme: 'nats', user: 'u', password: 'p', host: 'nats.local', port: 4333, bucket: 'replicas', params: {} });
  t.same(parseReplicaUrl('nats:///replicas', noEnv), { scheme: 'nats', user: undefined, password: undefined, host: '127.0.0.1', port: 4222, bucket: 'replicas', params: {} });

  const refused: Array<[string, RegExp]> = [
    ['abs://acct:secret@c/p', /^abs URL abs:\/\/\*\*\*@c\/p: an account key is not allowed in the URL/],
    ['abs://c:99/p', /: a port is not allowed/],
    ['gs://u@b/p', /^gs URL gs:\/\/\*\*\*@b\/p: credentials are not allowed/],
    ['sftp://host/p', /^sftp URL sftp:\/\/host\/p: no user/],
    ['nats://host', /: no bucket/],
    ['nats://host/a/b', /the path "a\/b" is the object store bucket and cannot contain "\/"/],
    ['gs:/bucket', /^malformed gs URL gs:\/bucket: expected gs:\/\/host\/path/],
    ['webdav://h/p?x=1', /^unknown URL parameter "x" in webdav:\/\/h\/p/],
  ];
  for (const [url, message] of refused) {
    const err = t.throws(() => parseReplicaUrl(url, noEnv), { code: 'LTXVFS_ERR_BAD_URL', message }, url) as unknown as Error;
    t.notMatch(String(err?.message), /secret/, 'no password in the message');
  }
});

t.test('openReplicaClient', async (t) => {
  t.test('opens a directory from a URL, a path or the environment', async (t) => {
    const dir = t.testdir({});
    for (const url of [`file://${dir}`, dir]) {
      const client = await openReplicaClient(url);
      t.equal(client.url, `file://${dir}`);
      t.same(await client.listLtxFiles(0), []);
      await client.close();
    }
    const client = await openReplicaClient(undefined, { env: { LITESTREAM_REPLICA_URL: dir } });
    t.ok(client instanceof storage.FileReplicaClient);
    await client.close();
  });

  t.test('a missing directory is LTXVFS_ERR_NOT_FOUND unless create', async (t) => {
    const dir = path.join(t.testdir({}), 'new');
    await t.rejects(openReplicaClient(`file://${dir}`), { code: 'LTXVFS_ERR_NOT_FOUND', message: `replica directory does not exist: ${dir}` });
    const client = await openReplicaClient(`file://${dir}`, { create: true });
    t.equal(client.url, `file://${dir}`);
    await client.close();
  });

  t.test('s3 URLs open an S3ReplicaClient (no request is sent before the first operation)', async (t) => {
    const client = await openReplicaClient('s3://b/db?region=eu-west-1&endpoint=http://127.0.0.1:9&anonymous=true', { env: {} });
    t.ok(client instanceof storage.S3ReplicaClient);
    t.equal(client.url, 's3://b/db?endpoint=http://127.0.0.1:9');
    t.equal(client.ltxKey(0, 1, 2), 'db/0000/0000000000000001-0000000000000002.ltx');
    t.equal((client as storage.S3ReplicaClient).region, 'eu-west-1');
    await client.close();
    const fromEnv = await openReplicaClient(undefined, {
      env: { LITESTREAM_REPLICA_URL: 's3://b2/x', AWS_REGION: 'ap-south-1', AWS_ACCESS_KEY_ID: 'k', AWS_SECRET_ACCESS_KEY: 's' },
      s3: { listPageSize: 10 },
    });
    t.equal(fromEnv.url, 's3://b2/x');
    t.equal((fromEnv as storage.S3ReplicaClient).region, 'ap-south-1', 'options.env is the environment of the S3 settings too');
    await fromEnv.close();
  });

  t.test('s3 configuration errors reject', async (t) => {
    await t.rejects(openReplicaClient('s3://b/db?sseCustomerKey=abc', { env: {} }), { code: 'LTXVFS_ERR_UNSUPPORTED' });
    await t.rejects(openReplicaClient('s3://b/db', { env: { AWS_ACCESS_KEY_ID: 'only-the-key' } }), { code: 'LTXVFS_ERR_BAD_URL' });
    await t.rejects(openReplicaClient('s3://b/db?anonymous=1', { env: {}, s3: { listPageSize: 0 } }), { code: 'LTXVFS_ERR_USAGE' });
  });

  t.test('parse errors reject', async (t) => {
    await t.rejects(openReplicaClient(undefined, { env: {} }), { code: 'LTXVFS_ERR_BAD_URL' });
  });
});

t.test('the storage index re-exports the public surface', async (t) => {
  t.equal(storage.openReplicaClient, openReplicaClient);
  t.equal(storage.parseReplicaUrl, parseReplicaUrl);
  t.type(storage.openFileReplica, 'function');
  t.type(storage.openS3Replica, 'function');
  t.type(storage.withRetry, 'function');
  t.equal(storage.METADATA_KEY_TIMESTAMP, 'litestream-timestamp');
});
