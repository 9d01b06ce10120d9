/**
 * The abs:// client against the real Azurite blob service over TLS (test/helpers/abs-server.ts):
 * the storage conformance suite, what only Azure does (the key layout and the
 * `litestreamtimestamp` metadata, Azure's 412 for a missing blob under If-Match), bad
 * input (wrong key, SAS token, no credentials, no container, no account, a missing vendor
 * package), and faults: a paused server gives `LTXVFS_ERR_STORAGE` naming the key within
 * the client's own deadline, and reads recover when it answers again.
 */
import t from 'tap';
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { AbsReplicaClient } from '../../../lib/storage/abs/index.js';
import { openReplicaClient } from '../../../lib/storage/url.js';
import { startAbsServer, type AbsServer } from '../../helpers/abs-server.js';
import { openDatabase } from '../../../lib/api/open.js';
import { importWideReplica, openBeforeOutage, queryAcrossOutage, SMALL_CACHE_BYTES } from '../../helpers/query-faults.js';
import { storageConformance } from './conformance.js';
import { waitFor } from '../../helpers/polling.js';

const enc = (s: string) => new TextEncoder().encode(s);
const FAST = { retryBaseDelayMs: 2, retryMaxDelayMs: 20 };

let server: AbsServer;
t.before(async () => {
  server = await startAbsServer();
  await server.createContainer('conformance');
  await server.createContainer('cases');
});
t.teardown(() => server?.close());

let prefixes = 0;
storageConformance(t, 'abs', {
  open: () => openReplicaClient(server.url('conformance', `c-${++prefixes}`), { env: server.env, abs: server.absOptions(FAST) }),
  capabilities: { rangeReads: true, conditionalWrites: 'atomic', leaseLock: 'conditional-write', latency: 'remote', tempFileRoot: undefined },
  readsIntoBuffer: true,
  contentEtags: false,
});

const open = (path: string, env: NodeJS.ProcessEnv = server.env, extra = {}) =>
  openReplicaClient(server.url('cases', path), { env, abs: server.absOptions({ ...FAST, ...extra }) });

t.test('abs: Litestream\'s layout: PATH/ltx/<level>/…, litestreamtimestamp metadata, listed with one request', async (t) => {
  const c = await open('layout/db');
  t.teardown(() => c.close());
  t.equal(c.ltxKey(0, 1, 2), 'layout/db/ltx/0/0000000000000001-0000000000000002.ltx');
  t.equal(c.ltxKey(9, 1, 255), 'layout/db/ltx/9/0000000000000001-00000000000000ff.ltx');
  t.equal(c.objectKey('lock.json'), 'layout/db/lock.json');
  t.match(c.url, /^abs:\/\/devstoreaccount1@cases\/layout\/db\?endpoint=https:\/\/127\.0\.0\.1:\d+\/devstoreaccount1$/);
  for (let i = 1; i <= 3; i++) await c.write(c.ltxKey(0, i, i), enc(`f${i}`), { timestamp: 1795254709256 + i });
  const props = await server.service.getContainerClient('cases').getBlobClient(c.ltxKey(0, 2, 2)).getProperties();
  t.same(props.metadata, { litestreamtimestamp: '2026-11-21T09:51:49.258Z' }, 'the metadata name and format Litestream writes');
  const before = (c as AbsReplicaClient).stats().requests;
  const files = await c.listLtxFiles(0);
  t.same(files.map((f) => f.createdAt), [1795254709257, 1795254709258, 1795254709259], 'timestamps without useMetadata');
  const after = (c as AbsReplicaClient).stats().requests;
  t.same([after.list - before.list, after.head - before.head], [1, 0], 'one List Blobs request, no request per file');

  const root = await openReplicaClient(server.url('cases', ''), { env: server.env, abs: server.absOptions(FAST) });
  t.teardown(() => root.close());
  t.equal(root.ltxKey(1, 3, 3), 'ltx/1/0000000000000003-0000000000000003.ltx', 'at the container root: no leading /');
  t.equal(root.objectKey('lock.json'), 'lock.json');
});

t.test('abs: a listing spans pages', async (t) => {
  const c = await open('pages', server.env, { listPageSize: 2 });
  t.teardown(() => c.close());
  for (let i = 1; i <= 5; i++) await c.write(c.ltxKey(0, i, i), enc('x'));
  t.same((await c.listLtxFiles(0)).map((f) => f.minTXID), [1, 2, 3, 4, 5]);
  t.equal((c as AbsReplicaClient).stats().requests.list, 3, 'five blobs, pages of two');
  t.same(await (c as AbsReplicaClient).listKeys('ltx/', 3), ['pages/ltx/0/0000000000000001-0000000000000001.ltx', 'pages/ltx/0/0000000000000002-0000000000000002.ltx', 'pages/ltx/0/0000000000000003-0000000000000003.ltx']);
});

t.test('abs: bad input is a clear error naming the replica', async (t) => {
  const wrongKey = await open('auth', { LITESTREAM_AZURE_ACCOUNT_KEY: Buffer.from('not the key').toString('base64') });
  t.teardown(() => wrongKey.close());
  await t.rejects(wrongKey.listLtxFiles(0), { code: 'LTXVFS_ERR_STORAGE', message: /^list abs:\/\/devstoreaccount1@cases\/auth\/ltx\/0\/: authentication failed \(HTTP 403/ }, 'wrong account key');

  const badSas = await open('auth', { LITESTREAM_AZURE_SAS_TOKEN: '?sv=2023-01-03&ss=b&srt=co&sp=rl&se=2030-01-01T00:00:00Z&sig=bm90IGEgc2lnbmF0dXJl' });
  t.teardown(() => badSas.close());
  const sasErr = await badSas.listLtxFiles(0).catch((e: Error) => e);
  t.match(sasErr, { code: 'LTXVFS_ERR_STORAGE', message: /^list abs:\/\/devstoreaccount1@cases\/auth\/ltx\/0\/: authentication failed/ }, 'a SAS token Azure refuses');
  t.notMatch((sasErr as Error).message, /bm90IGEgc2lnbmF0dXJl/, 'the signature is not echoed');

  const noContainer = await openReplicaClient(server.url('missing-container', 'db'), { env: server.env, abs: server.absOptions(FAST) });
  t.teardown(() => noContainer.close());
  await t.rejects(noContainer.listLtxFiles(0), {
    code: 'LTXVFS_ERR_NOT_FOUND',
    message: /^list abs:\/\/devstoreaccount1@missing-container\/db\/ltx\/0\/: container does not exist: missing-container/,
  });
  await t.rejects(noContainer.read(noContainer.objectKey('x')), { code: 'LTXVFS_ERR_NOT_FOUND', message: /container does not exist: missing-container/ });

  await t.rejects(openReplicaClient('abs://cases/db', { env: server.env }), {
    code: 'LTXVFS_ERR_USAGE',
    message: 'abs://cases/db: LITESTREAM_AZURE_ACCOUNT_KEY is set but the URL names no storage account (write abs://ACCOUNT@cases/db)',
  }, 'an account key needs the account from the URL');
  await t.rejects(openReplicaClient('abs://cases/db', { env: {} }), { code: 'LTXVFS_ERR_BAD_URL', message: /^abs:\/\/cases\/db: no storage account: write abs:\/\/ACCOUNT@cases\/db/ });
  await t.rejects(openReplicaClient('abs://a@cases/db?endpoint=ftp://x', { env: server.env }), { code: 'LTXVFS_ERR_BAD_URL', message: /bad endpoint "ftp:\/\/x": need http:\/\/ or https:\/\// });
  await t.rejects(open('db', server.env, { requestTimeoutMs: 0 }), { code: 'LTXVFS_ERR_USAGE', message: /bad requestTimeoutMs 0/ });
});

t.test('abs: no credentials at all: the default chain fails at the first request, naming the replica', async (t) => {
  // DefaultAzureCredential reads the process environment: a child without any Azure variables.
  const script = `
    import { openReplicaClient } from './lib/storage/url.ts';
    const c = await openReplicaClient(${JSON.stringify(server.url('cases', 'db'))}, { env: {}, abs: ${JSON.stringify(server.absOptions({ maxAttempts: 1, requestTimeoutMs: 20_000 }))} });
    try { await c.listLtxFiles(0); console.log('no error'); } catch (e) { console.log(JSON.stringify({ code: e.code, message: e.message })); }
    await c.close();`;
  const out = await runNode(['--input-type=module', '--import', 'tsx', '-e', script], { AZURE_CLIENT_ID: undefined, AZURE_TENANT_ID: undefined, AZURE_CLIENT_SECRET: undefined, IDENTITY_ENDPOINT: undefined, MSI_ENDPOINT: undefined });
  t.match(JSON.parse(out.trim().split('\n').at(-1) ?? '{}'), {
    code: 'LTXVFS_ERR_STORAGE',
    message: /^list abs:\/\/devstoreaccount1@cases\/db\/ltx\/0\/: authentication failed: no Azure credential worked \(set LITESTREAM_AZURE_ACCOUNT_KEY or LITESTREAM_AZURE_SAS_TOKEN/,
  });
});

t.test('abs: a missing @azure/storage-blob is LTXVFS_ERR_USAGE naming it', async (t) => {
  // A resolve hook that reports the package missing, as Node does when it is not installed.
  const hook = `export async function resolve(s, c, next) { if (s === '@azure/storage-blob') { const e = new Error("Cannot find package '@azure/storage-blob' imported from " + c.parentURL); e.code = 'ERR_MODULE_NOT_FOUND'; throw e; } return next(s, c); }`;
  const register = `import { register } from 'node:module'; register(${JSON.stringify(`data:text/javascript,${encodeURIComponent(hook)}`)});`;
  const script = `
    import { openReplicaClient } from './lib/storage/url.ts';
    try { await openReplicaClient('abs://acct@c/db', { env: { LITESTREAM_AZURE_ACCOUNT_KEY: 'a2V5' } }); console.log('opened'); }
    catch (e) { console.log(JSON.stringify({ code: e.code, message: e.message })); }`;
  const out = await runNode(['--import', `data:text/javascript,${encodeURIComponent(register)}`, '--import', 'tsx', '--input-type=module', '-e', script]);
  t.same(JSON.parse(out.trim().split('\n').at(-1) ?? '{}'), {
    code: 'LTXVFS_ERR_USAGE',
    message: 'abs:// replicas need the optional package @azure/storage-blob, which is not installed: npm install @azure/storage-blob',
  });
});

t.test('abs: a paused server: LTXVFS_ERR_STORAGE naming the key within the deadline; reads recover', async (t) => {
  const c = await open('faults', server.env, { requestTimeoutMs: 400, retryBudgetMs: 500 });
  t.teardown(() => c.close());
  const key = c.ltxKey(0, 1, 1);
  // Written by a client with the default deadline: 400 ms bounds the paused server's answers,
  // and a loaded machine's healthy Azurite may take longer than that.
  const writer = await open('faults');
  await writer.write(key, enc('0123456789'));
  await writer.close();
  server.azurite.pause();
  let resumed = false;
  t.teardown(() => {
    if (!resumed) server.azurite.resume();
  });
  await t.rejects(c.readRange(key, 2, 4), {
    code: 'LTXVFS_ERR_STORAGE',
    key,
    message: new RegExp(`^get abs://devstoreaccount1@cases/${key}: no answer within 400 ms \\(gave up after \\d+ attempts? in `),
  });
  await t.rejects(c.listLtxFiles(0), { code: 'LTXVFS_ERR_STORAGE', message: /no answer within 400 ms/ });
  server.azurite.resume();
  resumed = true;
  // Just resumed, Azurite answers the requests it held first: the first read may miss the
  // 400 ms deadline on a loaded machine, so the recovery is awaited, not its speed.
  const again = await waitFor('a read of the same client after the resume', () => c.readRange(key, 2, 4).catch(() => undefined), 20_000, 50);
  t.equal(new TextDecoder().decode(again), '2345', 'the same client reads again');
  t.equal((await waitFor('a listing after the resume', () => c.listLtxFiles(0).catch(() => undefined), 20_000, 50))!.length, 1);
});

t.test('abs: openDatabase: a query the paused server cannot finish is LTXVFS_ERR_STORAGE naming the key; it succeeds once it answers', async (t) => {
  const c = await open('wide');
  await importWideReplica(c);
  await c.close();
  const db = await openBeforeOutage(() => openDatabase(server.url('cases', 'wide'), {
    env: server.env,
    abs: server.absOptions({ ...FAST, requestTimeoutMs: 1000, retryBudgetMs: 0 }),
    cacheSizeBytes: SMALL_CACHE_BYTES,
    pollIntervalMs: 60_000,
    shared: false,
  }));
  t.teardown(() => db.close());
  await queryAcrossOutage(t, db, { stop: () => server.azurite.pause(), start: () => server.azurite.resume() },
    /abs:\/\/devstoreaccount1@cases\/wide\/ltx\/0\/0000000000000001-0000000000000001\.ltx: no answer within 1000 ms/);
});

/** Run node in the repository with this environment plus `env` (`undefined` removes a variable); its stdout. */
function runNode(args: string[], env: Record<string, string | undefined> = {}): Promise<string> {
  const childEnv: NodeJS.ProcessEnv = { ...process.env };
  for (const [k, v] of Object.entries(env)) {
    if (v === undefined) delete childEnv[k];
    else childEnv[k] = v;
  }
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, args, { cwd: fileURLToPath(new URL('../../../', import.meta.url)), env: childEnv });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    const timer = setTimeout(() => child.kill('SIGKILL'), 60_000);
    child.on('error', reject);
    child.on('close', (code) => {
      clearTimeout(timer);
      if (code === 0) resolve(stdout);
      else reject(new Error(`node exited ${String(code)}: ${stderr}`));
    });
  });
}
