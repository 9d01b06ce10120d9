/**
 * The nats:// client against a real nats-server with JetStream (test/helpers/nats-server.ts,
 * loopback, user/password): the storage conformance suite, then what only NATS does —
 * whole-object reads shared by range reads, Litestream's header timestamps, the bucket that
 * must exist, bad credentials, a missing `nats` package, and the server stopped mid-read.
 */
import t from 'tap';
import type { NatsReplicaClient } from '../../../lib/storage/nats/index.js';
import { openReplicaClient, parseReplicaUrl } from '../../../lib/storage/url.js';
import { startNatsServer, type NatsServerHandle } from '../../helpers/nats-server.js';
import { storageConformance } from './conformance.js';

const FAST = { retryBaseDelayMs: 2, retryMaxDelayMs: 20 };
const enc = (s: string) => new TextEncoder().encode(s);

let server: NatsServerHandle;
t.before(async () => {
  server = await startNatsServer();
});
t.teardown(() => server?.close());

let buckets = 0;
const openFresh = async (options: Record<string, unknown> = {}) =>
  (await openReplicaClient(server.url(`conformance-${++buckets}`), { create: true, nats: { ...FAST, ...options } })) as NatsReplicaClient;

storageConformance(t, 'nats', {
  open: () => openFresh(),
  capabilities: { rangeReads: false, conditionalWrites: 'atomic', leaseLock: 'conditional-write', latency: 'remote', tempFileRoot: undefined },
  readsIntoBuffer: false,
});

t.test('nats: range reads of one object cost one get while it is cached', async (t) => {
  const c = await openFresh();
  t.teardown(() => c.close());
  const key = c.ltxKey(0, 1, 1);
  const data = new Uint8Array(300_000).map((_, i) => i % 251);
  await c.write(key, data);
  const before = c.stats().gets;
  const reads = await Promise.all([0, 4096, 131_072, 299_000].map((off) => c.readRange(key, off, 1000)));
  t.same(reads.map((r) => r[0]), [0, 4096 % 251, 131_072 % 251, 299_000 % 251]);
  t.equal(c.stats().gets - before, 1, 'four concurrent range reads, one get (3 chunks of 128 KiB)');
  await c.readRange(key, 10, 10);
  t.equal(c.stats().gets - before, 1, 'a later range read is served from the cache');
  await c.write(key, enc('replaced'));
  t.equal(new TextDecoder().decode(await c.readRange(key, 0, 8)), 'replaced', 'a write by this client drops the cached object');
  await c.read(key);
  t.equal(c.stats().gets - before, 3, 'read() always asks the server');

  const small = await openFresh({ objectCacheBytes: 0 });
  t.teardown(() => small.close());
  await small.write(key, data);
  await small.readRange(key, 0, 1);
  await small.readRange(key, 1, 1);
  t.equal(small.stats().gets, 2, 'objectCacheBytes 0: every range read is a get');
});

t.test('nats: a missing bucket is refused naming it unless created; bad options and bucket names', async (t) => {
  await t.rejects(openReplicaClient(server.url('no-such-bucket')), {
    code: 'LTXVFS_ERR_NOT_FOUND',
    key: `nats://127.0.0.1:${server.port}/no-such-bucket`,
    message: /^object store bucket does not exist: no-such-bucket \(nats:\/\/127\.0\.0\.1:\d+\/no-such-bucket; create it first/,
  });
  const made = await openReplicaClient(server.url('made-by-create'), { create: true });
  t.equal(made.url, `nats://127.0.0.1:${server.port}/made-by-create`, 'the URL without credentials');
  await made.close();
  const again = await openReplicaClient(server.url('made-by-create'));
  t.same(await again.listLtxFiles(0), [], 'now it exists');
  await again.close();
  await t.rejects(openReplicaClient(server.url('bad.name')), { code: 'LTXVFS_ERR_BAD_URL', message: /bad object store bucket name "bad\.name"/ });
  await t.rejects(openReplicaClient(server.url('b'), { nats: { requestTimeoutMs: -1 } }), { code: 'LTXVFS_ERR_USAGE', message: /bad nats option requestTimeoutMs -1/ });
  await t.rejects(openReplicaClient(server.url('made-by-create'), { nats: { maxAttempts: 0 } }), { code: 'LTXVFS_ERR_USAGE', message: /bad maxAttempts 0/ });
});

t.test('nats: a wrong password or none is "authentication failed" naming the replica, never the password', async (t) => {
  const where = `nats://127.0.0.1:${server.port}/made`;
  const wrong = openReplicaClient(`nats://u:secret-wrong@127.0.0.1:${server.port}/made`);
  await t.rejects(wrong, { code: 'LTXVFS_ERR_STORAGE', key: where, message: `cannot connect to ${where}: authentication failed (user u): Authorization Violation (AUTHORIZATION_VIOLATION)` });
  await t.rejects(openReplicaClient(`nats://127.0.0.1:${server.port}/made`), {
    code: 'LTXVFS_ERR_STORAGE',
    message: /authentication failed \(no user and password in the URL\)/,
  });
  await t.rejects(openReplicaClient('nats://u:p@127.0.0.1:1/made', { nats: { connectTimeoutMs: 2000 } }), {
    code: 'LTXVFS_ERR_STORAGE',
    key: 'nats://127.0.0.1:1/made',
    message: /^cannot connect to nats:\/\/127\.0\.0\.1:1\/made: CONNECTION_REFUSED/,
  });
});

t.test('nats: a missing nats package is LTXVFS_ERR_USAGE naming it', async (t) => {
  // The real loadOptional, its loader failing as Node does when the package is not installed.
  const missing = Object.assign(new Error("Cannot find package 'nats' imported from /app/lib/storage/nats/index.js"), { code: 'ERR_MODULE_NOT_FOUND' });
  const real = await import('../../../lib/storage/optional.js');
  const { openNatsReplica } = await t.mockImport<typeof import('../../../lib/storage/nats/index.js')>('../../../lib/storage/nats/index.js', {
    '../../../lib/storage/optional.js': {
      loadOptional: (pkg: string, scheme: string) => real.loadOptional(pkg, scheme, () => Promise.reject(missing)),
    },
  });
  const url = parseReplicaUrl(server.url('made'));
  if (url.scheme !== 'nats') throw new Error('not nats');
  await t.rejects(openNatsReplica(url), {
    code: 'LTXVFS_ERR_USAGE',
    key: 'nats',
    message: 'nats:// replicas need the optional package nats, which is not installed: npm install nats',
  });
});
