/**
 * `ltxvfs/testing` on S3: startS3Server's handle, makeReplica on a prefix of it — read
 * by ltxvfs and by the real Litestream VFS with the environment it hands back, time
 * travel by the `litestream-timestamp` metadata — cleanup, and the errors.
 */
import t from 'tap';
import { existsSync } from 'node:fs';
import { copyFile } from 'node:fs/promises';
import { join } from 'node:path';
import { makeReplica, startS3Server } from '../../../lib/testing/index.js';
import { requirePeer } from '../../../lib/testing/s3-server.js';
import { openDatabase } from '../../../lib/api/open.js';
import { listReplica } from '../../../lib/replica/plan.js';
import { openReplicaClient } from '../../../lib/storage/url.js';
import { CHINOOK_DB, requireLitestreamVfs, requireSqlite3 } from '../../helpers/paths.js';
import { litestreamQueryMany } from '../../helpers/litestream.js';
import { sqliteQueryMany } from '../../helpers/sqlite-cli.js';
import { rejectsLtx } from '../../helpers/replica-builder.js';
import { CHINOOK_QUERIES } from './chinook-queries.js';

t.test('replicas on an in-process S3 server read the same through ltxvfs and the Litestream VFS', async (t) => {
  requireSqlite3();
  requireLitestreamVfs();
  const s3 = await startS3Server({ bucket: 'fixtures' });
  t.teardown(() => s3.stop());
  t.match(s3.endpoint, /^http:\/\/127\.0\.0\.1:\d+$/);
  t.equal(s3.url('/a/b/'), `s3://fixtures/a/b?endpoint=${s3.endpoint}&forcePathStyle=true`);
  t.same(s3.env, { AWS_ACCESS_KEY_ID: 'S3RVER', AWS_SECRET_ACCESS_KEY: 'S3RVER' });

  t.test('from Chinook', async (t) => {
    const source = join(t.testdir(), 'chinook.db');
    await copyFile(CHINOOK_DB, source);
    const replica = await makeReplica({ from: source, s3, prefix: 'apps/chinook' });
    t.equal(replica.url, s3.url('apps/chinook'));
    t.equal(replica.dir, undefined);
    t.same(replica.env, { ...s3.env, LITESTREAM_REPLICA_URL: replica.url });
    const expected = await sqliteQueryMany(source, CHINOOK_QUERIES);
    const db = await openDatabase(undefined, { env: { ...replica.env }, pollIntervalMs: 0, warmInterior: false });
    try {
      for (const [i, sql] of CHINOOK_QUERIES.entries()) t.same(await db.all(sql), expected[i], `ltxvfs: ${sql}`);
    } finally {
      await db.close();
    }
    const got = await litestreamQueryMany(replica.url, CHINOOK_QUERIES, { env: { ...s3.env } });
    for (const [i, sql] of CHINOOK_QUERIES.entries()) t.same(got[i], expected[i], `Litestream VFS: ${sql}`);

    await replica.cleanup();
    await replica.cleanup();
    const client = await openReplicaClient(replica.url, { env: { ...s3.env } });
    t.same(await listReplica(client), [], 'cleanup deletes the objects it wrote');
    await client.close();
  });

  t.test('from transactions at chosen times: time travel by the litestream-timestamp metadata', async (t) => {
    const T0 = Date.parse('2023-01-01T00:00:00Z');
    const replica = await makeReplica({
      s3,
      prefix: 'tt',
      transactions: [
        { sql: 'CREATE TABLE k (v INTEGER)', at: T0 },
        { sql: 'INSERT INTO k VALUES (1)', at: T0 + 86_400_000 },
        { sql: 'INSERT INTO k VALUES (2)', at: T0 + 2 * 86_400_000 },
      ],
    });
    t.teardown(() => replica.cleanup());
    const db = await openDatabase(replica.url, { env: { ...replica.env }, pollIntervalMs: 0, warmInterior: false });
    t.teardown(() => db.close());
    for (let day = 0; day < 3; day++) {
      const at = new Date(T0 + day * 86_400_000 + 1000).toISOString();
      await db.exec(`PRAGMA litestream_time = '${at}'`);
      t.same(await db.all('SELECT count(*) AS n FROM k'), [{ n: day }], `ltxvfs at ${at}`);
      const [rows] = await litestreamQueryMany(replica.url, ['SELECT count(*) AS n FROM k'], { env: { ...s3.env }, pre: [`PRAGMA litestream_time = '${at}'`] });
      t.same(rows, [{ n: day }], `Litestream VFS at ${at}`);
    }
  });

  t.test('dir and s3 together are refused', async (t) => {
    await rejectsLtx(t, makeReplica({ s3, dir: t.testdir(), transactions: ['CREATE TABLE a (x)'] }), 'LTXVFS_ERR_USAGE', 'dir or s3, not both');
  });
});

t.test('stop is idempotent and removes the server directory', async (t) => {
  const s3 = await startS3Server();
  t.equal(s3.bucket, 'ltxvfs-test');
  t.ok(existsSync(s3.directory));
  await Promise.all([s3.stop(), s3.stop()]);
  await s3.stop();
  t.notOk(existsSync(s3.directory));
});

t.test('startS3Server errors: a bad bucket name, and a missing s3rver named with how to install it', async (t) => {
  await rejectsLtx(t, startS3Server({ bucket: 'Bad_Bucket' }), 'LTXVFS_ERR_USAGE', 'Bad_Bucket', /bucket names are 3-63/);
  await rejectsLtx(t, async () => requirePeer('ltxvfs-no-such-peer', 'startS3Server (ltxvfs/testing)'), 'LTXVFS_ERR_UNSUPPORTED',
    '"ltxvfs-no-such-peer"', /optional peer dependency/, /npm install --save-dev ltxvfs-no-such-peer/);
  t.equal(typeof requirePeer('s3rver', 'test'), 'function', 'an installed peer loads');
});
