/**
 * S3 credentials as AWS SDK users expect (issue 11 item 4): queries through the `ltxvfs`
 * CLI over s3rver behind the fault proxy, which verifies every SigV4 signature against
 * the expected key pair (s3rver accepts any). Keys from the environment, from a shared
 * credentials file with a profile, and from a container-credentials endpoint on loopback
 * (temporary keys with a session token, refreshed before they expire); a wrong key and a
 * missing key each fail with a clear error; unsigned requests only with `?anonymous=true`;
 * a host that does not resolve fails at once.
 */
import t, { type Test } from 'tap';
import * as http from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { openS3Replica } from '../../../lib/storage/s3/index.js';
import { REFRESH_BEFORE_MS } from '../../../lib/storage/s3/credentials.js';
import { openReplicaClient } from '../../../lib/storage/url.js';
import { cli } from '../../helpers/cli.js';
import { startFaultProxy } from '../../helpers/fault-proxy.js';
import { makeSmallReplica } from '../../helpers/small-replica.js';
import { startS3rver } from '../../helpers/s3rver.js';

const KEYS = { accessKeyId: 'AKIDCREDENTIALTEST', secretAccessKey: 'credential-test-secret' };
const ENV_KEYS = { AWS_ACCESS_KEY_ID: KEYS.accessKeyId, AWS_SECRET_ACCESS_KEY: KEYS.secretAccessKey };
const SQL = 'SELECT n FROM t ORDER BY n';
const ROWS = '[{"n":1},{"n":2},{"n":3}]';

const s3 = await startS3rver();
const proxy = await startFaultProxy(s3.endpoint, { verifySignatures: KEYS });
t.teardown(async () => {
  await proxy.close();
  await s3.close();
});
const URL = `s3://${s3.bucket}/creds?endpoint=${proxy.endpoint}`;

/** An environment whose shared files are empty temp files, so nothing outside the test is read by the SDK's chain. */
function isolated(t: Test, extra: Record<string, string> = {}): Record<string, string> {
  const dir = t.testdir({ credentials: '', config: '' });
  return { HOME: dir, AWS_SHARED_CREDENTIALS_FILE: join(dir, 'credentials'), AWS_CONFIG_FILE: join(dir, 'config'), ...extra };
}

/** A container-credentials endpoint on loopback: each GET answers the next of `answers` (the last one repeated). */
async function containerEndpoint(t: Test, token: string, answers: Array<typeof KEYS & { sessionToken: string; expiresAt: number }>) {
  let hits = 0;
  const server = http.createServer((req, res) => {
    if (req.headers.authorization !== token) {
      res.writeHead(401).end();
      return;
    }
    const a = answers[Math.min(hits++, answers.length - 1)];
    res.writeHead(200, { 'content-type': 'application/json' });
    res.end(JSON.stringify({ AccessKeyId: a.accessKeyId, SecretAccessKey: a.secretAccessKey, Token: a.sessionToken, Expiration: new Date(a.expiresAt).toISOString() }));
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  t.teardown(() => new Promise<void>((r) => server.close(() => r())));
  return { uri: `http://127.0.0.1:${(server.address() as AddressInfo).port}/creds`, hits: () => hits };
}

t.before(() => makeSmallReplica(URL, ENV_KEYS, [1, 2, 3]));

t.test('keys from the environment (AWS_* and the LITESTREAM_* fallback)', async (t) => {
  const run = await cli(['query', URL, SQL, '--json'], ENV_KEYS);
  t.equal(run.stderr, '');
  t.equal(run.code, 0);
  t.equal(run.stdout.trim(), ROWS);
  const legacy = await cli(['query', URL, SQL, '--json'], { LITESTREAM_ACCESS_KEY_ID: KEYS.accessKeyId, LITESTREAM_SECRET_ACCESS_KEY: KEYS.secretAccessKey });
  t.equal(legacy.stdout.trim(), ROWS);
});

t.test('keys from a shared credentials file with a profile (AWS_PROFILE), through the AWS SDK', async (t) => {
  const dir = t.testdir({
    credentials: `[default]\naws_access_key_id = AKIDWRONGDEFAULT\naws_secret_access_key = nope\n\n[ltxvfs-test]\naws_access_key_id = ${KEYS.accessKeyId}\naws_secret_access_key = ${KEYS.secretAccessKey}\n`,
    config: '[profile ltxvfs-test]\nregion = us-east-1\n',
  });
  const env = { HOME: dir, AWS_PROFILE: 'ltxvfs-test', AWS_SHARED_CREDENTIALS_FILE: join(dir, 'credentials'), AWS_CONFIG_FILE: join(dir, 'config') };
  const run = await cli(['query', URL, SQL, '--json'], env);
  t.equal(run.stderr, '');
  t.equal(run.stdout.trim(), ROWS);
  const client = await openS3Replica(URL, { env });
  t.equal(client.credentialOrigin, 'aws-sdk');
  await client.close();
  const wrongProfile = await cli(['query', URL, SQL], { ...env, AWS_PROFILE: 'no-such-profile' });
  t.not(wrongProfile.code, 0);
  t.match(wrongProfile.stderr, /no S3 credentials for s3:\/\/ltxvfs-test\/creds \(AWS_PROFILE=no-such-profile\): /);
});

t.test('temporary keys from a container-credentials endpoint on loopback, with a session token', async (t) => {
  const temp = { accessKeyId: 'ASIATEMPORARY1', secretAccessKey: 'temporary-secret-1', sessionToken: 'session-token-1', expiresAt: Date.now() + 3_600_000 };
  const endpoint = await containerEndpoint(t, 'container-auth-token', [temp]);
  proxy.set({ verifySignatures: temp });
  t.teardown(() => proxy.set({ verifySignatures: KEYS }));
  const env = isolated(t, { AWS_CONTAINER_CREDENTIALS_FULL_URI: endpoint.uri, AWS_CONTAINER_AUTHORIZATION_TOKEN: 'container-auth-token' });
  const run = await cli(['query', URL, SQL, '--json'], env);
  t.equal(run.stderr, '');
  t.equal(run.stdout.trim(), ROWS);
  t.equal(endpoint.hits(), 1, 'asked once per open');
  const noToken = await cli(['query', URL, SQL], { AWS_ACCESS_KEY_ID: temp.accessKeyId, AWS_SECRET_ACCESS_KEY: temp.secretAccessKey, AWS_SESSION_TOKEN: 'not-the-token' });
  t.match(noToken.stderr, /authentication failed \(HTTP 403 InvalidToken/, 'the proxy checks the session token too');
});

t.test('temporary keys are fetched again before they expire (injected clock)', async (t) => {
  let now = Date.now();
  const first = { accessKeyId: 'ASIAFIRST', secretAccessKey: 'first-secret', sessionToken: 'first-token', expiresAt: now + 3_600_000 };
  const second = { accessKeyId: 'ASIASECOND', secretAccessKey: 'second-secret', sessionToken: 'second-token', expiresAt: now + 7_200_000 };
  const endpoint = await containerEndpoint(t, 'tok', [first, second]);
  t.teardown(() => proxy.set({ verifySignatures: KEYS }));
  const env = isolated(t, { AWS_CONTAINER_CREDENTIALS_FULL_URI: endpoint.uri, AWS_CONTAINER_AUTHORIZATION_TOKEN: 'tok' });
  const client = await openS3Replica(URL, { env, now: () => now, maxAttempts: 1 });
  t.teardown(() => client.close());
  proxy.set({ verifySignatures: first });
  t.equal((await client.listLtxFiles(0)).length, 1);
  now += 3_600_000 - REFRESH_BEFORE_MS - 1000;
  t.equal((await client.listLtxFiles(0)).length, 1, 'still the first keys, more than 5 minutes before expiry');
  t.equal(endpoint.hits(), 1);
  now += 2000;
  proxy.set({ verifySignatures: second });
  t.equal((await client.listLtxFiles(0)).length, 1, 'within 5 minutes of expiry: signed with the new keys');
  t.equal(endpoint.hits(), 2);
});

t.test('a wrong key and a missing key each fail with a clear error', async (t) => {
  const wrong = await cli(['query', URL, SQL], { ...ENV_KEYS, AWS_SECRET_ACCESS_KEY: 'wrong-secret' });
  t.equal(wrong.code, 1);
  t.match(wrong.stderr, /authentication failed \(HTTP 403 SignatureDoesNotMatch/);
  t.notMatch(wrong.stderr, 'wrong-secret');
  const unknown = await cli(['query', URL, SQL], { ...ENV_KEYS, AWS_ACCESS_KEY_ID: 'AKIDUNKNOWN' });
  t.match(unknown.stderr, /authentication failed \(HTTP 403 InvalidAccessKeyId/);
  const missing = await cli(['query', URL, SQL], isolated(t, { AWS_EC2_METADATA_DISABLED: 'true' }));
  t.not(missing.code, 0);
  t.match(missing.stderr, /no S3 credentials for s3:\/\/ltxvfs-test\/creds: .*set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY.*add \?anonymous=true to the URL for a public bucket/);
  await t.rejects(openS3Replica(URL, { env: isolated(t) }), { code: 'LTXVFS_ERR_USAGE', key: 's3://ltxvfs-test/creds' });
});

t.test('unsigned requests only with ?anonymous=true', async (t) => {
  const anon = await cli(['query', `${URL}&anonymous=true`, SQL], isolated(t));
  t.match(anon.stderr, /authentication failed \(HTTP 403 AccessDenied/, 'sent unsigned: the verifying proxy refuses it');
  proxy.set({ verifySignatures: undefined });
  t.teardown(() => proxy.set({ verifySignatures: KEYS }));
  const open = await cli(['query', `${URL}&anonymous=true`, SQL, '--json'], isolated(t));
  t.equal(open.stdout.trim(), ROWS, 'a public bucket reads without credentials');
  const client = await openS3Replica(`${URL}&anonymous=true`, { env: ENV_KEYS });
  t.equal(client.credentialOrigin, 'anonymous', 'the parameter wins over keys in the environment');
  await client.close();
});

t.test('a host that does not resolve fails at once, naming it', async (t) => {
  const client = await openS3Replica('s3://b/db?endpoint=http://no-such-host.invalid:9000', { env: ENV_KEYS, retryBaseDelayMs: 1000 });
  t.teardown(() => client.close());
  await t.rejects(client.listLtxFiles(0), {
    code: 'LTXVFS_ERR_STORAGE',
    message: /^list s3:\/\/b\/db\/0000\/: cannot resolve host no-such-host\.invalid \((ENOTFOUND|EAI_AGAIN)\)$/,
  });
  t.equal(client.stats().retries, 0, 'not retried');
  t.equal(client.stats().requests.list, 1);
});
