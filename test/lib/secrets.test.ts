/**
 * Secret canary (issue 12 item 7): a recognizable secret key and session token, used for
 * real over s3rver behind the verifying fault proxy, must appear in no `util.inspect`,
 * `JSON.stringify`, error message or cause, stats line or `NODE_DEBUG=ltxvfs` output of
 * any public object — the replica client, its credential source, its configuration, a
 * `Database` — nor in the CLI's `--stats` output; and a server that echoes the request's
 * `Authorization` / `X-Amz-*` headers and the secret in its error bodies gets them
 * scrubbed before they reach a message.
 */
import t, { type Test } from 'tap';
import { spawn } from 'node:child_process';
import * as http from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { inspect } from 'node:util';
import { openDatabase } from '../../lib/api/open.js';
import { resolveS3Config } from '../../lib/storage/s3/config.js';
import { S3CredentialSource } from '../../lib/storage/s3/credentials.js';
import { openS3Replica } from '../../lib/storage/s3/index.js';
import { openReplicaClient, parseReplicaUrl } from '../../lib/storage/url.js';
import { startFaultProxy } from '../helpers/fault-proxy.js';
import { REPO_ROOT } from '../helpers/paths.js';
import { makeSmallReplica } from '../helpers/small-replica.js';
import { startS3rver } from '../helpers/s3rver.js';

const KEY_ID = 'AKIDCANARYKEY';
const SECRET = 'CANARYsecret-7f3a9e1d0c';
const TOKEN = 'CANARYtoken-51ab77e2';
const ENV = { AWS_ACCESS_KEY_ID: KEY_ID, AWS_SECRET_ACCESS_KEY: SECRET, AWS_SESSION_TOKEN: TOKEN };

const s3 = await startS3rver();
const proxy = await startFaultProxy(s3.endpoint, { verifySignatures: { accessKeyId: KEY_ID, secretAccessKey: SECRET, sessionToken: TOKEN } });
t.teardown(async () => {
  await proxy.close();
  await s3.close();
});
const URL = `s3://${s3.bucket}/canary?endpoint=${proxy.endpoint}`;

/** Fails when `text` holds the secret or the token. */
function clean(t: Test, text: string, what: string): void {
  t.notMatch(text, SECRET, `${what}: no secret key`);
  t.notMatch(text, TOKEN, `${what}: no session token`);
}

/** Everything a program could print of `value`. */
function everyView(value: unknown): string {
  let json: string;
  try {
    json = JSON.stringify(value) ?? '';
  } catch (err) {
    json = `(JSON.stringify threw: ${(err as Error).message})`;
  }
  return [inspect(value, { depth: 8, showHidden: true, getters: true }), json, String(value)].join('\n');
}

t.before(() => makeSmallReplica(URL, ENV, [1, 2]));

t.test('the replica client, its credential source and configuration print no secret', async (t) => {
  const client = await openReplicaClient(URL, { env: ENV });
  t.teardown(() => client.close());
  t.equal((await client.listLtxFiles(0)).length, 1, 'the secret really signs requests');
  clean(t, everyView(client), 'openReplicaClient()');
  const source = await S3CredentialSource.resolve({ env: ENV, anonymous: false, where: URL });
  clean(t, everyView(source), 'S3CredentialSource');
  t.same(JSON.parse(JSON.stringify(source)), { origin: 'environment' });
  const short = S3CredentialSource.fixed({ accessKeyId: 'k', secretAccessKey: 's' });
  t.equal(short.redact('list s3://b/db: is'), 'list s3://b/db: is', 'a one-letter test secret does not mangle messages');
  t.equal(source.redact(`x ${SECRET} y ${TOKEN}`), 'x *** y ***');
  const parsed = parseReplicaUrl(URL, ENV);
  if (parsed.scheme === 's3') clean(t, everyView(resolveS3Config(parsed, ENV)), 'resolveS3Config()');
  const explicit = await openS3Replica(URL, { credentials: { accessKeyId: KEY_ID, secretAccessKey: SECRET, sessionToken: TOKEN } });
  t.teardown(() => explicit.close());
  clean(t, everyView(explicit), 'a client given credentials as an option');
  clean(t, everyView(explicit.stats()), 'client stats');
});

t.test('a Database over S3 prints no secret: inspect, JSON, stats', async (t) => {
  const db = await openDatabase(URL, { env: ENV });
  t.teardown(() => db.close());
  t.same(await db.all('SELECT n FROM t ORDER BY n'), [{ n: 1 }, { n: 2 }]);
  clean(t, everyView(db), 'Database');
  clean(t, everyView(db.stats()), 'Database stats');
});

/** An S3 stand-in whose error bodies echo the request's auth headers and the secret: 503 for keys containing `retry` or for listings, 403 otherwise. */
async function echoServer(t: Test): Promise<string> {
  const server = http.createServer((req, res) => {
    const echo = `Authorization: ${String(req.headers.authorization)} X-Amz-Security-Token: ${String(req.headers['x-amz-security-token'])} ` +
      `X-Amz-Date=${String(req.headers['x-amz-date'])} your secret is ${SECRET}`;
    const status = /retry|list-type/.test(req.url ?? '') ? 503 : 403;
    res.writeHead(status, { 'content-type': 'application/xml' });
    res.end(`<?xml version="1.0"?><Error><Code>${status === 503 ? 'SlowDown' : 'AccessDenied'}</Code><Message>${echo}</Message></Error>`);
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  t.teardown(() => new Promise<void>((r) => server.close(() => r())));
  return `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
}

t.test('errors from a server that echoes the Authorization header, X-Amz-* values and the secret are scrubbed', async (t) => {
  const endpoint = await echoServer(t);
  const client = await openS3Replica(`s3://b/p?endpoint=${endpoint}`, { env: ENV, maxAttempts: 2, retryBaseDelayMs: 1 });
  t.teardown(() => client.close());
  for (const key of ['p/denied', 'p/retry']) {
    const err = await client.read(key).then(() => undefined, (e: unknown) => e);
    t.ok(err instanceof Error, `${key} fails`);
    const text = everyView(err) + inspect(err, { depth: Infinity });
    clean(t, text, `error of ${key}`);
    t.notMatch(text, /Signature=[0-9a-f]{64}/, 'no signature');
    t.notMatch(text, /Credential=AKID/, 'no credential scope');
    t.notMatch((err as Error).message, /\*\*\*[a-z]\*\*\*/, 'nothing but secrets replaced');
    t.match((err as Error).message, key === 'p/denied' ? /HTTP 403 AccessDenied: Authorization: \*\*\*/ : /HTTP 503 SlowDown/, 'the S3 code is kept');
  }
});

t.test('the CLI: --stats and NODE_DEBUG=ltxvfs output of a query and of a failing one', async (t) => {
  const run = (args: string[], env: Record<string, string>) =>
    new Promise<{ code: number | null; out: string }>((resolve) => {
      const child = spawn(process.execPath, ['--import', 'tsx', join(REPO_ROOT, 'lib/cli/main.ts'), ...args], {
        env: { PATH: process.env.PATH ?? '', NODE_DEBUG: 'ltxvfs', ...env },
        cwd: REPO_ROOT,
      });
      let out = '';
      child.stdout.on('data', (d: Buffer) => (out += d.toString()));
      child.stderr.on('data', (d: Buffer) => (out += d.toString()));
      child.on('close', (code) => resolve({ code, out }));
    });
  const ok = await run(['query', URL, 'SELECT n FROM t ORDER BY n', '--stats', '--json'], ENV);
  t.equal(ok.code, 0, ok.out);
  clean(t, ok.out, 'query --stats with NODE_DEBUG');
  const echoed = await run(['query', `s3://b/p?endpoint=${await echoServer(t)}`, 'SELECT 1', '--stats'], ENV);
  t.equal(echoed.code, 1);
  t.match(echoed.out, /LTXVFS \d+: s3: retry 1 of GET/, 'debug output was on, with the echoing answers');
  clean(t, echoed.out, 'retries against an echoing server with NODE_DEBUG');
  const wrong = await run(['query', URL, 'SELECT 1', '--stats'], { ...ENV, AWS_SESSION_TOKEN: `${TOKEN}-wrong` });
  t.equal(wrong.code, 1);
  t.match(wrong.out, /InvalidToken/);
  clean(t, wrong.out.split(`${TOKEN}-wrong`).join(''), 'a failing query with NODE_DEBUG');
});
