/**
 * Hydration's reads (lib/hydrate/plan.ts, pass.ts, hydrator.ts): once the file is complete,
 * each new LTX file's changed frames are read in coalesced range reads — one per run of
 * frames within `maxGapBytes` of each other, not one request per page — and the file then
 * equals what restore writes; a pass's range reads land in two receive buffers per worker,
 * reused (the next range in flight while the last is written). Real file:// replica, reads
 * counted by CountingClient.
 */
import t from 'tap';
import { promises as fs } from 'node:fs';
import { join } from 'node:path';
import { ReplicaReader } from '../../lib/read/replica-reader.js';
import { TAIL_BYTES } from '../../lib/replica/ltx-loader.js';
import { restoreDatabase } from '../../lib/tools/restore.js';
import { bytesEqual, CountingClient, diffDatabases, snapshotFromDatabase, writeLtx } from '../helpers/replica-builder.js';
import { chinookBytes } from '../helpers/bytes-source.js';
import { databaseAfter } from '../helpers/database-after.js';

t.test('catch-up reads each new LTX file\'s changed frames coalesced, not one request per page', async (t) => {
  const root = t.testdir();
  const replica = join(root, 'replica');
  const path = join(root, 'hydrated.db');
  const s1 = await chinookBytes();
  await writeLtx(replica, snapshotFromDatabase(s1));
  const client = await CountingClient.open(replica);
  // No memory cache (nothing to peek at) and every file paged: the pass has to read the frames.
  const reader = await ReplicaReader.open(client, { pollIntervalMs: 0, cacheSizeBytes: 0, wholeFileBytes: TAIL_BYTES, hydrate: path });
  t.teardown(() => reader.close());
  await reader.hydration!.whenReady();

  // Two new LTX files changing many pages spread over the database.
  const s2 = await databaseAfter("UPDATE Track SET Name = Name || ' (live)' WHERE TrackId % 3 = 0", s1);
  const s3 = await databaseAfter("UPDATE InvoiceLine SET UnitPrice = UnitPrice + 1 WHERE InvoiceLineId % 2 = 0", s2);
  const f2 = await writeLtx(replica, diffDatabases(s1, s2, { minTXID: 2 }));
  const f3 = await writeLtx(replica, diffDatabases(s2, s3, { minTXID: 3 }));
  const before = client.reads.length;
  const pagesBefore = reader.hydration!.stats().pagesWritten;
  await reader.poller.pollNow();
  t.equal(reader.current.txid, 3);
  await reader.hydration!.settled();
  const s = reader.hydration!.stats();
  t.match(s, { state: 'ready', txid: 3, passes: 2 });
  // The catch-up's reads of frames (the loader reads the new files' headers and tails).
  const sizes = new Map([f2, f3].map((f) => [f.key, f.bytes.length]));
  const reads = client.reads.slice(before).filter((r) => r.offset > 0 && r.offset + r.length < (sizes.get(r.key) ?? Infinity));
  const pages = s.pagesWritten - pagesBefore;
  t.ok(pages > 50, `the catch-up wrote ${pages} pages`);
  // At most one range read per new file.
  for (const f of [f2, f3]) {
    const ofFile = reads.filter((r) => r.key === f.key);
    t.ok(ofFile.length <= 1, `${f.key} (${f.bytes.length} bytes): ${JSON.stringify(ofFile)}`);
  }
  t.ok(reads.length >= 1 && reads.length <= 2, `${reads.length} requests for ${pages} pages`);
  const out = join(root, 'restored.db');
  await restoreDatabase(client.inner, out);
  t.ok(bytesEqual(new Uint8Array(await fs.readFile(path)), new Uint8Array(await fs.readFile(out))), 'the file is the restore at TXID 3');
});

t.test('a pass reads into two receive buffers per worker, reused from range to range', async (t) => {
  const root = t.testdir();
  const replica = join(root, 'replica');
  await writeLtx(replica, snapshotFromDatabase(await chinookBytes()));
  for (const concurrency of [1, 2]) {
    const path = join(root, `hydrated-${concurrency}.db`);
    const client = await CountingClient.open(replica);
    const reader = await ReplicaReader.open(client, {
      pollIntervalMs: 0, cacheSizeBytes: 0, wholeFileBytes: TAIL_BYTES, hydrate: path, hydrateOptions: { concurrency, rangeBytes: 64 * 1024 },
    });
    await reader.hydration!.whenReady();
    // The pass's range reads (the open's reads of the file's header and tail have none).
    const buffers = client.buffers.filter((b) => b !== undefined);
    t.ok(buffers.length > 8, `${buffers.length} range reads with a receive buffer`);
    t.equal(new Set(buffers).size, 2 * concurrency, `${concurrency} worker(s): ${2 * concurrency} buffers for ${buffers.length} reads`);
    const out = join(root, `restored-${concurrency}.db`);
    await restoreDatabase(client.inner, out);
    t.ok(bytesEqual(new Uint8Array(await fs.readFile(path)), new Uint8Array(await fs.readFile(out))), 'the file is the restore');
    await reader.close();
  }
});
