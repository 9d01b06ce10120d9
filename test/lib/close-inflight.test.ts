/**
 * A close while background reads are in flight (issue 15, the bench's "db.close() right after
 * the first query of a fresh process never settles"): the reader's close waited for the
 * background verification's current range read. When that read never answers the close
 * never settles, and when nothing else is left in the event loop — a read held by a promise,
 * as here — node exits with 13 (unsettled top-level await). Over S3 the same wait lasted as
 * long as S3 took to answer a 4 MiB verification range, and its retries.
 *
 * Reads are held, never timed: by the counting client's gate (a real directory replica) and
 * by the gate proxy in front of s3rver and the fault proxy. Each test checks that the close
 * settles while the reads are still held, and that nothing is sent after it.
 */
import t, { type Test } from 'tap';
import { join } from 'node:path';
import { openDatabase, warmupOf } from '../../lib/api/open.js';
import { ReplicaReader } from '../../lib/read/replica-reader.js';
import { TAIL_BYTES } from '../../lib/replica/ltx-loader.js';
import { importDatabase } from '../../lib/tools/import.js';
import { openReplicaClient } from '../../lib/storage/url.js';
import { startFaultProxy } from '../helpers/fault-proxy.js';
import { startGateProxy } from '../helpers/gate-proxy.js';
import { startS3rver } from '../helpers/s3rver.js';
import { CountingClient, randomPage, sqliteCli, writeLtx } from '../helpers/replica-builder.js';

const ENV = { AWS_ACCESS_KEY_ID: 'S3RVER', AWS_SECRET_ACCESS_KEY: 'S3RVER' };

/** Let pending I/O callbacks and promise jobs run (`turns` event-loop turns, no timer). */
async function turns(n: number): Promise<void> {
  for (let i = 0; i < n; i++) await new Promise((resolve) => setImmediate(resolve));
}

/**
 * Resolves with true once `promise` settles, false if it is still pending after 30 s. The reads
 * stay held until the test releases them, so a close that waits for one never settles, however
 * fast the machine; a count of event-loop turns (tried: 200) also bounded how fast a loaded
 * machine's thread pool closes files.
 */
async function settlesWhileHeld(promise: Promise<unknown>): Promise<boolean> {
  let timer: NodeJS.Timeout | undefined;
  const pending = new Promise<boolean>((resolve) => { timer = setTimeout(() => resolve(false), 30_000); });
  try {
    return await Promise.race([promise.then(() => true, () => true), pending]);
  } finally {
    clearTimeout(timer);
  }
}

/** Wait (polling the event loop, no timer) until `cond` holds. */
async function until(cond: () => boolean): Promise<void> {
  while (!cond()) await new Promise((resolve) => setTimeout(resolve, 5));
}

t.test('a reader closes while its background verification read is held: the close does not wait for storage', async (t: Test) => {
  const dir = t.testdir();
  const pages = Array.from({ length: 60 }, (_, i) => ({ pgno: i + 1, data: randomPage(i + 1) }));
  await writeLtx(dir, { minTXID: 1, maxTXID: 1, pageSize: 4096, commit: pages.length, pages });
  const client = await CountingClient.open(dir);
  // Paged (not read whole at load), verified in the background in 64 KiB ranges; no warm-up, no poll.
  const reader = await ReplicaReader.open(client, { pollIntervalMs: 0, wholeFileBytes: TAIL_BYTES, verifyRangeBytes: 64 * 1024, headBytes: 100 });
  const v = reader.acquire();
  await reader.readPage(v, 30); // a page served: the file's verification starts
  reader.release(v);
  const release = client.hold();
  t.teardown(release);
  const before = client.reads.length;
  await until(() => client.reads.length > before); // the verification's first range read, held
  const sent = client.reads.length;
  t.ok(await settlesWhileHeld(reader.close()), 'close settled while the verification read is held');
  release();
  await turns(50);
  t.equal(client.reads.length, sent, 'nothing sent after the close');
  t.equal(reader.stats().verification.filesVerified, 0, 'the file was not verified');
});

t.test('openDatabase over S3: db.close() right after the first query settles while warm-up and verification reads wait at the gate', async (t: Test) => {
  const file = join(t.testdir(), 'orders.db');
  sqliteCli(file, `PRAGMA page_size = 4096;
    CREATE TABLE orders (id INTEGER PRIMARY KEY, customer INTEGER NOT NULL, note TEXT NOT NULL);
    WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c WHERE x < 20000)
      INSERT INTO orders SELECT x, x % 97, printf('order %d %s', x, hex(randomblob(60))) FROM c;
    CREATE INDEX orders_customer ON orders (customer);`);
  const s3 = await startS3rver();
  t.teardown(() => s3.close());
  const writer = await openReplicaClient(`s3://${s3.bucket}/orders?endpoint=${s3.endpoint}`, { env: ENV });
  await importDatabase(file, writer);
  await writer.close();
  const proxy = await startFaultProxy(s3.endpoint);
  t.teardown(() => proxy.close());
  const gate = await startGateProxy(proxy.endpoint);
  t.teardown(() => gate.close());

  // Defaults for s3:// (warm-up on, background verification of the snapshot), a request
  // deadline far beyond the test so that only the close itself can end the wait.
  const db = await openDatabase(`s3://${s3.bucket}/orders?endpoint=${gate.endpoint}`, {
    env: ENV, shared: false, pollIntervalMs: 0, s3: { requestTimeoutMs: 3_600_000 },
  });
  t.same(await db.get('SELECT customer FROM orders WHERE id = ?', [12345]), { customer: 12345 % 97 });
  gate.shut();
  await gate.whenHeld(1); // the warm-up's or the verification's next range read, held
  const requests = (): number => Object.values(proxy.stats().requests).reduce((a, b) => a + b, 0);
  const closed = db.close();
  t.ok(await settlesWhileHeld(closed), 'close settled while background reads are held at the gate');
  const held = gate.held;
  t.ok(held >= 1, `${held} reads still held when it did`);
  const after = requests();
  gate.open();
  const warmup = await warmupOf(db)!;
  t.ok(warmup.cancelled, 'the warm-up stopped at the close');
  await turns(50);
  t.ok(requests() - after <= held, `no read sent after the close but the ${held} held ones (${requests() - after} reached the proxy)`);
});
