/**
 * nats:// faults against a real nats-server that is killed and started again (same port,
 * same JetStream store): an operation on a server that is gone ends with
 * `LTXVFS_ERR_STORAGE` naming the key once the client's own deadline and retry budget run
 * out (no test sleep bounds it), a query of `openDatabase` stopped between two batches of
 * rows fails cleanly the same way, and reads recover once the server is back (the library
 * reconnects without end).
 */
import t from 'tap';
import { openDatabase } from '../../../lib/index.js';
import type { NatsReplicaClient } from '../../../lib/storage/nats/index.js';
import { openReplicaClient } from '../../../lib/storage/url.js';
import { startNatsServer, type NatsServerHandle } from '../../helpers/nats-server.js';
import { requireSqlite3 } from '../../helpers/paths.js';
import { importWideReplica, WIDE_ROWS as ROWS } from '../../helpers/query-faults.js';
import { waitFor } from '../../helpers/polling.js';

/** Short deadlines so that a dead server fails within a few seconds (one whole-object get of the snapshot takes ~0.4 s on a loaded test machine). */
const QUICK = { requestTimeoutMs: 1500, retryBudgetMs: 1000, maxAttempts: 3, retryBaseDelayMs: 20, retryMaxDelayMs: 100, reconnectWaitMs: 50 };

let server: NatsServerHandle;
let url: string;
t.before(async () => {
  requireSqlite3();
  server = await startNatsServer();
  url = server.url('faults');
  // ~2.4 MiB of incompressible rows: one snapshot larger than the whole-file verification size.
  const client = await openReplicaClient(url, { create: true });
  await importWideReplica(client);
  await client.close();
});
t.teardown(() => server?.close());

t.test('client: a stopped server is LTXVFS_ERR_STORAGE naming the key; reads recover when it is back', async (t) => {
  const c = (await openReplicaClient(url, { nats: QUICK })) as NatsReplicaClient;
  t.teardown(() => c.close());
  const [snapshot] = await c.listLtxFiles(0);
  t.ok(snapshot.size > 2 * 2 ** 20, 'a snapshot over 2 MiB');
  await server.stop();
  t.teardown(() => server.start());
  await t.rejects(c.readRange(snapshot.key, 0, 100), {
    code: 'LTXVFS_ERR_STORAGE',
    key: snapshot.key,
    message: new RegExp(`^get nats://127\\.0\\.0\\.1:${server.port}/faults/${snapshot.key}: .+ \\(gave up after \\d attempts?\\)$`),
  });
  await t.rejects(c.listLtxFiles(0), { code: 'LTXVFS_ERR_STORAGE', key: 'ltx/0/', message: /^list nats:\/\/127\.0\.0\.1:\d+\/faults\/ltx\/0\/: / });
  await t.rejects(c.write(c.objectKey('x'), new Uint8Array(1), { ifNoneMatch: true }), { code: 'LTXVFS_ERR_STORAGE', key: 'x' });
  await server.start();
  const header = await waitFor('a read after the restart', () => c.readRange(snapshot.key, 0, 4).catch(() => undefined), 20_000, 50);
  t.same(new TextDecoder().decode(header), 'LTX1', 'the same object, read again');
  t.same((await c.listLtxFiles(0)).map((f) => f.key), [snapshot.key]);
});

t.test('openDatabase: a query stopped mid-way by a dead server fails with the storage error; the next one succeeds', async (t) => {
  // objectCacheBytes 0: every page miss is a get of the whole snapshot; one attempt of 2 s, no retry.
  const db = await openDatabase(url, { nats: { ...QUICK, requestTimeoutMs: 2000, retryBudgetMs: 0, objectCacheBytes: 0 }, pollIntervalMs: 60_000 });
  t.teardown(() => db.close());
  t.same(await db.get('SELECT id FROM t WHERE id = 1'), { id: 1 });
  const stmt = await db.prepare('SELECT id, length(v) AS n FROM t ORDER BY id');
  const rows = stmt.iterate();
  const first = await rows.next();
  t.same(first.value, { id: 1, n: 1000 });
  await server.stop();
  t.teardown(() => server.start());
  let seen = 1;
  const stoppedAt = performance.now();
  const failure = await (async () => {
    try {
      for (let r = await rows.next(); r.done !== true; r = await rows.next()) seen++;
    } catch (err) {
      return err as { code?: string; ltxvfsCode?: string; message: string };
    }
    return undefined;
  })();
  t.comment(`the scan failed ${Math.round(performance.now() - stoppedAt)} ms after the stop`);
  t.ok(seen < ROWS, `the scan stopped after ${seen} rows`);
  t.match(failure, { ltxvfsCode: 'LTXVFS_ERR_STORAGE', message: /nats:\/\/127\.0\.0\.1:\d+\/faults\/ltx\/0\/0000000000000001-0000000000000001\.ltx/ });
  await server.start();
  const restartedAt = performance.now();
  const last = await waitFor('a read after the restart', () => db.get<{ id: number; n: number }>(`SELECT id, length(v) AS n FROM t WHERE id = ${ROWS}`).catch(() => undefined), 20_000, 50);
  t.comment(`a read succeeded ${Math.round(performance.now() - restartedAt)} ms after the restart`);
  t.same(last, { id: ROWS, n: 1000 }, 'reads recover: a page not read before the stop');
});
