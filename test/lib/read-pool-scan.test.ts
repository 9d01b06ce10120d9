/**
 * The read pool against the problem it solves (issue 14 item 1): one flow runs a long
 * scan while other flows do point lookups. The scan reads pages from S3 (s3rver behind the
 * fault proxy) through a gate (test/helpers/gate-proxy.ts) that holds its range reads for
 * as long as the test says, so the scan is provably still running — no timer. The lookups
 * need only pages already in the shared page cache.
 *
 * With a pool (`readConnections: 3`) every lookup completes while the scan is held; with
 * none (`readConnections: 1`) every lookup completes only after the scan. Completion order
 * is counted, never timed; both engines.
 */
import t from 'tap';
import { join } from 'node:path';
import { openDatabase } from '../../lib/api/open.js';
import { importDatabase } from '../../lib/tools/import.js';
import { openReplicaClient } from '../../lib/storage/url.js';
import { startFaultProxy } from '../helpers/fault-proxy.js';
import { startGateProxy } from '../helpers/gate-proxy.js';
import { startS3rver } from '../helpers/s3rver.js';
import { sqliteCli } from '../helpers/replica-builder.js';

const ENV = { AWS_ACCESS_KEY_ID: 'S3RVER', AWS_SECRET_ACCESS_KEY: 'S3RVER' };
const BIG_ROWS = 30_000;
const LOOKUPS = 8;

t.test('a long scan and point lookups, with and without a read pool', async (t) => {
  const file = join(t.testdir(), 'shop.db');
  sqliteCli(file, `PRAGMA page_size = 4096;
    CREATE TABLE users (id INTEGER PRIMARY KEY, name TEXT NOT NULL);
    WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c WHERE x < 100) INSERT INTO users SELECT x, 'user ' || x FROM c;
    CREATE TABLE events (id INTEGER PRIMARY KEY, payload BLOB NOT NULL);
    WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c WHERE x < ${BIG_ROWS}) INSERT INTO events SELECT x, randomblob(200) FROM c;`);
  const s3 = await startS3rver();
  t.teardown(() => s3.close());
  const writer = await openReplicaClient(`s3://${s3.bucket}/shop?endpoint=${s3.endpoint}`, { env: ENV });
  await importDatabase(file, writer);
  await writer.close();
  const proxy = await startFaultProxy(s3.endpoint);
  t.teardown(() => proxy.close());

  for (const engine of ['asyncify', 'worker'] as const) {
    for (const readConnections of [3, 1]) {
      t.test(`${engine}, readConnections ${readConnections}`, async (t) => {
        const gate = await startGateProxy(proxy.endpoint);
        t.teardown(() => gate.close());
        const db = await openDatabase(`s3://${s3.bucket}/shop?endpoint=${gate.endpoint}`, {
          env: ENV, engine, readConnections, warmInterior: false, pollIntervalMs: 0, shared: false,
        });
        t.teardown(() => db.close());
        const lookup = (id: number): Promise<unknown> => db.get('SELECT name FROM users WHERE id = ?', [id]);
        // The lookups' pages (schema, the users table) into the shared page cache.
        for (let id = 1; id <= LOOKUPS; id++) t.same(await lookup(id), { name: `user ${id}` });

        gate.shut();
        const finished: string[] = [];
        const scan = db.get<{ n: number; bytes: number }>('SELECT count(*) AS n, sum(length(payload)) AS bytes FROM events')
          .then((row) => {
            finished.push('scan');
            return row;
          });
        await gate.whenHeld(1);
        const lookups = Array.from({ length: LOOKUPS }, (_, i) => lookup(i + 1).then((row) => {
          finished.push(`lookup ${i + 1}`);
          return row;
        }));

        if (readConnections > 1) {
          const rows = await Promise.all(lookups);
          t.same(rows, Array.from({ length: LOOKUPS }, (_, i) => ({ name: `user ${i + 1}` })), 'every lookup answered');
          t.notOk(finished.includes('scan'), 'while the scan is still held at the gate');
          t.ok(gate.held >= 1, `${gate.held} of the scan's reads still held`);
          const stats = db.stats();
          t.ok(stats.pooledReads >= 1 && stats.readConnections > 1, `lookups ran on pooled connections (${stats.readConnections} open, ${stats.pooledReads} pooled reads)`);
          gate.open();
          t.same(await scan, { n: BIG_ROWS, bytes: BIG_ROWS * 200 });
          t.equal(finished.indexOf('scan'), LOOKUPS, 'order: the lookups, then the scan');
        } else {
          // Give them every chance: nothing they need is held, only the connection.
          for (let i = 0; i < 20; i++) await new Promise((resolve) => setImmediate(resolve));
          t.same(finished, [], 'no lookup answered while the scan is held');
          gate.open();
          t.same(await scan, { n: BIG_ROWS, bytes: BIG_ROWS * 200 });
          await Promise.all(lookups);
          // Not the order of the answers: the worker engine answers the calls of one batch together,
          // so the scan's callback can run after theirs. What the pool changes is checked above:
          // no lookup answered while the scan held the one connection.
          t.equal(finished.length, LOOKUPS + 1, 'the scan and every lookup answered once the gate opened');
          t.same(db.stats().readConnections, 1, 'one connection');
        }
      });
    }
  }
});
