/**
 * The webdav:// and webdavs:// client against a real WebDAV server (webdav-server 2.6 with
 * a PhysicalFileSystem on a temporary directory, Basic auth, test/helpers/webdav-server.ts):
 * the storage conformance suite, the layout Litestream uses, TLS trust, the refused
 * conditional writes and lease, faults (the server stopped mid-query, back again) and bad
 * input (wrong password, no credentials, a missing collection, a missing vendor package).
 */
import t from 'tap';
import * as http from 'node:http';
import { mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { loadOptional } from '../../../lib/storage/optional.js';
import type { WebdavReplicaClient, WebdavReplicaOptions } from '../../../lib/storage/webdav/index.js';
import { openReplicaClient } from '../../../lib/storage/url.js';
import { openDatabase } from '../../../lib/api/open.js';
import { openFileReplica } from '../../../lib/storage/file/client.js';
import { startWebdavServer, WEBDAV_PASSWORD, WEBDAV_USER, type WebdavServerHandle } from '../../helpers/webdav-server.js';
import { importWideReplica, queryAcrossOutage, SMALL_CACHE_BYTES } from '../../helpers/query-faults.js';
import { storageConformance } from './conformance.js';

const FAST: Omit<WebdavReplicaOptions, 'env'> = { retryBaseDelayMs: 2, retryMaxDelayMs: 20 };
const enc = (s: string) => new TextEncoder().encode(s);
const dec = (b: Uint8Array) => new TextDecoder().decode(b);

let server: WebdavServerHandle;
t.before(async () => {
  server = await startWebdavServer();
});
t.teardown(() => server?.close());

let replicas = 0;
storageConformance(t, 'webdav', {
  open: () => {
    const path = `conformance-${++replicas}`;
    mkdirSync(join(server.directory, path));
    return openReplicaClient(server.url(path), { webdav: FAST });
  },
  capabilities: { rangeReads: true, conditionalWrites: 'none', leaseLock: 'none', latency: 'remote', tempFileRoot: undefined },
  readsIntoBuffer: true,
  timestampResolutionMs: 1000,
  keepsTimestamps: false,
});

t.test('webdav: Litestream\'s layout, URL without credentials, files where gowebdav puts them', async (t) => {
  const c = await openReplicaClient(server.url('apps/db'), { webdav: FAST }) as WebdavReplicaClient;
  t.teardown(() => c.close());
  t.equal(c.url, `webdav://127.0.0.1:${server.port}/apps/db`, 'no user, no password');
  t.notMatch(c.url, WEBDAV_PASSWORD);
  const key = c.ltxKey(0, 1, 2);
  t.equal(key, 'ltx/0/0000000000000001-0000000000000002.ltx');
  await c.write(key, enc('ltx bytes'));
  await c.write(c.ltxKey(9, 1, 2), enc('snapshot'));
  t.same(readdirSync(join(server.directory, 'apps/db/ltx/0')), ['0000000000000001-0000000000000002.ltx'], 'collections made by MKCOL; no temporary file left');
  t.same(readdirSync(join(server.directory, 'apps/db/ltx')).sort(), ['0', '9'], 'level in decimal, as LTXLevelDir');
  const before = c.stats();
  const [file] = await c.listLtxFiles(0);
  t.equal(c.stats().byOp.list - before.byOp.list, 1, 'one PROPFIND per level');
  t.equal(file.size, 9);
  t.equal(dec(await c.readRange(key, 4, 5)), 'bytes');
  t.equal(c.stats().byOp.read - before.byOp.read, 1, 'one ranged GET');
  t.equal(c.stats().bytesRead - before.bytesRead, 5, 'only the range crosses the wire');
  t.same(await c.listLtxFiles(3), [], 'a missing level in an existing collection is empty');
  t.equal(c.objectKey('lock.json'), 'lock.json');
  t.throws(() => c.objectKey('a\\b'), { code: 'LTXVFS_ERR_BAD_KEY', message: /backslash/ });
  t.throws(() => c.objectKey('a//b'), { code: 'LTXVFS_ERR_BAD_KEY', message: /empty, \. or \.\. segment/ });
});

t.test('webdav: conditional writes and the lease are refused naming the replica', async (t) => {
  const c = await openReplicaClient(server.url('conditional'), { webdav: FAST });
  t.teardown(() => c.close());
  const key = c.objectKey('lock.json');
  await t.rejects(c.write(key, enc('x'), { ifNoneMatch: true }), {
    code: 'LTXVFS_ERR_UNSUPPORTED',
    key,
    message: /^write webdav:\/\/127\.0\.0\.1:\d+\/conditional\/lock\.json: ifNoneMatch is not supported: .*webdav:\/\/127\.0\.0\.1:\d+\/conditional has no conditional writes/,
  });
  await t.rejects(c.write(key, enc('x'), { ifMatch: '"e"' }), { code: 'LTXVFS_ERR_UNSUPPORTED', message: /ifMatch is not supported/ });
  await t.rejects(c.delete(key, { ifMatch: '"e"' }), { code: 'LTXVFS_ERR_UNSUPPORTED', message: /^delete .*ifMatch is not supported/ });
  await t.rejects(c.read(key), { code: 'LTXVFS_ERR_NOT_FOUND' }, 'nothing was written');

  const url = server.url('lease');
  const writer = await openReplicaClient(url, { webdav: FAST });
  t.teardown(() => writer.close());
  const fixture = new URL('../../../fixtures/litestream-0.5.17/replica/ltx/0/', import.meta.url);
  for (const name of readdirSync(fixture)) await writer.write(`ltx/0/${name}`, readFileSync(new URL(name, fixture)));
  const reader = await openDatabase(url, { webdav: FAST });
  t.teardown(() => reader.close());
  t.same(await reader.all('SELECT litestream_txid() AS txid'), [{ txid: '0000000000000005' }], 'Litestream\'s LTX files copied in are read');
  await t.rejects(reader.exec('PRAGMA litevfs_acquire_lease'), {
    ltxvfsCode: 'LTXVFS_ERR_UNSUPPORTED',
    message: new RegExp(`webdav://127\\.0\\.0\\.1:${server.port}/lease: this storage has no conditional writes, so no write lease can be held on it`),
  });
});

t.test('webdavs: TLS trust from the ca option or NODE_EXTRA_CA_CERTS, refused without', async (t) => {
  const secure = await startWebdavServer({ secure: true });
  t.teardown(() => secure.close());
  mkdirSync(join(secure.directory, 'tls'));
  const url = secure.url('tls');
  const viaCa = await openReplicaClient(url, { webdav: { ...FAST, ca: secure.ca } });
  t.teardown(() => viaCa.close());
  t.match(viaCa.url, /^webdavs:\/\/127\.0\.0\.1:\d+\/tls$/);
  await viaCa.write(viaCa.ltxKey(0, 1, 1), enc('over tls'));
  t.equal(dec(await viaCa.readRange(viaCa.ltxKey(0, 1, 1), 5, 3)), 'tls');
  const viaEnv = await openReplicaClient(url, { env: { NODE_EXTRA_CA_CERTS: secure.certFile }, webdav: FAST });
  t.teardown(() => viaEnv.close());
  t.same((await viaEnv.listLtxFiles(0)).map((f) => f.key), [viaEnv.ltxKey(0, 1, 1)]);

  const untrusted = await openReplicaClient(url, { env: {}, webdav: FAST });
  t.teardown(() => untrusted.close());
  await t.rejects(untrusted.listLtxFiles(0), {
    code: 'LTXVFS_ERR_STORAGE',
    key: 'ltx/0',
    message: /^list webdavs:\/\/127\.0\.0\.1:\d+\/tls\/ltx\/0: .*self[- ]signed certificate/,
  }, 'a certificate nobody trusts is not retried');
  await t.rejects(openReplicaClient(url, { env: { NODE_EXTRA_CA_CERTS: join(secure.directory, 'none.pem') } }), {
    code: 'LTXVFS_ERR_USAGE',
    message: /^cannot read NODE_EXTRA_CA_CERTS file .*none\.pem/,
  });
});

t.test('webdav: bad input names the replica', async (t) => {
  mkdirSync(join(server.directory, 'auth'));
  const wrong = await openReplicaClient(server.url('auth', { user: WEBDAV_USER, password: 'wrong-password' }), { webdav: FAST });
  t.teardown(() => wrong.close());
  const denied = await t.rejects(wrong.listLtxFiles(0), {
    code: 'LTXVFS_ERR_STORAGE',
    status: 401,
    message: /^list webdav:\/\/127\.0\.0\.1:\d+\/auth\/ltx\/0: authentication failed \(HTTP 401 Unauthorized\): check the user and password in the URL$/,
  });
  t.notMatch(String((denied as unknown as Error)?.message), 'wrong-password', 'the password is never echoed');
  await t.rejects(openDatabase(server.url('auth', false), { webdav: FAST }), {
    message: /webdav:\/\/127\.0\.0\.1:\d+\/auth\/ltx\/\d: authentication failed \(HTTP 401/,
  }, 'no credentials: the same, at open');
  await t.rejects(openDatabase(server.url('no/such/replica'), { webdav: FAST }), {
    code: 'LTXVFS_ERR_NOT_FOUND',
    message: /^replica collection does not exist: webdav:\/\/127\.0\.0\.1:\d+\/no\/such\/replica$/,
  }, 'a missing collection, like a missing bucket');
  await t.rejects(openReplicaClient(server.url('auth'), { webdav: { requestTimeoutMs: 0 } }), { code: 'LTXVFS_ERR_USAGE', message: /requestTimeoutMs 0/ });
  await t.rejects(openReplicaClient(server.url('auth'), { webdav: { maxAttempts: 0 } }), { code: 'LTXVFS_ERR_USAGE', message: /maxAttempts 0/ });
});

t.test('webdav: a missing vendor package is LTXVFS_ERR_USAGE naming it', async (t) => {
  const missing = Object.assign(new Error("Cannot find package 'webdav' imported from /app/node_modules/ltxvfs/dist/lib/storage/webdav/vendor.js"), { code: 'ERR_MODULE_NOT_FOUND' });
  const { connectDav } = await t.mockImport<typeof import('../../../lib/storage/webdav/vendor.js')>('../../../lib/storage/webdav/vendor.js', {
    '../../../lib/storage/optional.js': { loadOptional: (pkg: string, scheme: string) => loadOptional(pkg, scheme, () => Promise.reject(missing)) },
  });
  await t.rejects(connectDav({ origin: 'http://127.0.0.1:1', user: undefined, password: undefined, agent: new http.Agent() }), {
    code: 'LTXVFS_ERR_USAGE',
    key: 'webdav',
    message: 'webdav:// replicas need the optional package webdav, which is not installed: npm install webdav',
  });
});

t.test('webdav: the server stopped mid-query is a clean LTXVFS_ERR_STORAGE naming the key; reads recover', async (t) => {
  const own = await startWebdavServer();
  t.teardown(() => own.close());
  const path = 'faults';
  // The first attempt after the stop meets the keep-alive socket the server closed ('socket
  // hang up'); only a retry connects and is refused. A budget of 200 ms let a loaded machine
  // give up before that retry (failed once here): 2 s, which the refused retries never use.
  const c = await openReplicaClient(own.url(path), { webdav: { ...FAST, retryBudgetMs: 2000, requestTimeoutMs: 2000 } });
  t.teardown(() => c.close());
  const key = c.ltxKey(0, 1, 1);
  await c.write(key, enc('0123456789'));
  await own.stop();
  const err = await t.rejects(c.readRange(key, 2, 3), {
    code: 'LTXVFS_ERR_STORAGE',
    key,
    message: new RegExp(`^read webdav://127\\.0\\.0\\.1:${own.port}/faults/ltx/0/0000000000000001-0000000000000001\\.ltx: connect ECONNREFUSED .*\\(gave up after \\d+ attempts? in `),
  });
  t.ok(err);
  await own.restart();
  t.equal(dec(await c.readRange(key, 2, 3)), '234', 'the same client reads again once the server is back');
  writeFileSync(join(own.directory, path, 'ltx/0/0000000000000002-0000000000000002.ltx'), 'later');
  t.same((await c.listLtxFiles(0)).map((f) => f.maxTXID), [1, 2]);
});

t.test('webdav: openDatabase: a query the stopped server cannot finish is LTXVFS_ERR_STORAGE naming the key; it succeeds once the server is back', async (t) => {
  const own = await startWebdavServer();
  t.teardown(() => own.close());
  // The server serves this directory: a file:// client writes the same ltx/<level>/… layout (WebDAV has no create-only write for import).
  const local = await openFileReplica(join(own.directory, 'wide'), { create: true });
  await importWideReplica(local);
  await local.close();
  const db = await openDatabase(own.url('wide'), {
    webdav: { ...FAST, retryBudgetMs: 200, requestTimeoutMs: 2000 },
    cacheSizeBytes: SMALL_CACHE_BYTES,
    pollIntervalMs: 60_000,
    shared: false,
  });
  t.teardown(() => db.close());
  await queryAcrossOutage(t, db, { stop: () => own.stop(), start: () => own.restart() },
    new RegExp(`webdav://127\\.0\\.0\\.1:${own.port}/wide/ltx/0/0000000000000001-0000000000000001\\.ltx`));
});
