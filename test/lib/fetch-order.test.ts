/**
 * The order and number of range reads the fetch queue sends (issue 15 items 1 and 4),
 * counted at the storage client (a real directory replica through CountingClient): a read
 * SQLite waits for goes before queued warm-up ranges, a queued range SQLite needs is
 * promoted, a random miss reads one frame, and a scan's windows grow past 1 MiB with
 * several ranges in flight. Time is the test's: the queue's clock only moves when told.
 */
import t, { type Test } from 'tap';
import { Fetcher, newReadCounters, type FetcherOptions } from '../../lib/read/fetcher.js';
import { PageCache } from '../../lib/cache/index.js';
import { PageIndex, type FrameRef, type LtxFile } from '../../lib/replica/page-index.js';
import { loadLtxFile, TAIL_BYTES } from '../../lib/replica/ltx-loader.js';
import { listReplica } from '../../lib/replica/plan.js';
import type { FetchClock } from '../../lib/read/fetch-queue.js';
import { isLtxvfsError } from '../../ltx/errors.js';
import { bytesEqual, CountingClient, flipBit, randomPage, writeLtx, type Page } from '../helpers/replica-builder.js';

/** A clock whose sleeps end only when the test calls `tick()`. */
class ManualClock implements FetchClock {
  #sleepers: (() => void)[] = [];
  sleep(): Promise<void> {
    return new Promise((resolve) => this.#sleepers.push(resolve));
  }
  /** End every sleep begun so far, and let what follows run. */
  async tick(): Promise<void> {
    for (const wake of this.#sleepers.splice(0)) wake();
    for (let i = 0; i < 20; i++) await new Promise((resolve) => setImmediate(resolve));
  }
  /** Let time pass until `promise` settles (reads finish on the I/O pool, between ticks). */
  async until(promise: Promise<unknown>): Promise<void> {
    let settled = false;
    void promise.finally(() => (settled = true));
    while (!settled) await this.tick();
  }
}

interface Setup { client: CountingClient; file: LtxFile; version: PageIndex; cache: PageCache; fetcher: Fetcher; data: Page[]; path: string }

/** One snapshot of `pages` incompressible 4 KiB pages (4,124-byte frames), paged by range reads. */
async function setup(t: Test, pages: number, options: FetcherOptions = {}, verify = false): Promise<Setup> {
  const dir = t.testdir();
  const data = Array.from({ length: pages }, (_, i) => ({ pgno: i + 1, data: randomPage(i + 1) }));
  const { path } = await writeLtx(dir, { minTXID: 1, maxTXID: 1, pageSize: 4096, commit: pages, pages: data });
  const client = await CountingClient.open(dir);
  t.teardown(() => client.close());
  const [info] = await listReplica(client);
  const { file } = await loadLtxFile(client, info, newReadCounters(), undefined, TAIL_BYTES);
  client.reset();
  const cache = new PageCache(256 << 20);
  const fetcher = new Fetcher(client, cache, newReadCounters(), { cacheSizeBytes: 256 << 20, ...options });
  if (!verify) fetcher.verifier.trust(file);
  return { client, file, version: PageIndex.empty().apply(file), cache, fetcher, data, path: path! };
}

const ref = (s: Setup, pgno: number): FrameRef => ({ file: s.file, entry: pgno - 1 });
/** First pgno each logged read covers. */
const firstPgnos = (s: Setup): number[] => s.client.reads.map((r) => s.file.entries.toArray().find((e) => e.offset === r.offset)!.pgno);
const settle = async (): Promise<void> => { for (let i = 0; i < 20; i++) await new Promise((resolve) => setImmediate(resolve)); };

t.test('a page SQLite waits for is requested before every queued warm-up range; the warm-up starts at the first query', async (t) => {
  const clock = new ManualClock();
  const s = await setup(t, 200, { clock, backgroundConcurrency: 1, maxWindowBytes: 8 * 4124 });
  // A warm-up of 10 ranges (8 frames each, gaps between them).
  const warm = s.fetcher.prefetch(s.version, Array.from({ length: 80 }, (_, i) => ref(s, 1 + Math.floor(i / 8) * 20 + (i % 8))), 0);
  await settle();
  t.equal(s.client.reads.length, 0, 'nothing sent before the first query or the warm-up delay');
  const release = s.client.hold();
  const lookup = s.fetcher.fetch(s.version, ref(s, 195)); // the first query's page
  await settle();
  t.same(firstPgnos(s), [195], 'the query\'s page went first');
  await clock.tick(); // the foreground is still busy: no background read
  t.same(firstPgnos(s), [195]);
  release();
  t.ok(bytesEqual(await lookup, s.data[194].data));
  await settle();
  const held = s.client.hold();
  await clock.tick(); // quiet now: one background range (backgroundConcurrency 1), held in flight
  t.same(firstPgnos(s), [195, 1], 'then the first warm-up range');
  const point = s.fetcher.fetch(s.version, ref(s, 170)); // a lookup while warm-up ranges wait
  await settle();
  t.same(firstPgnos(s).slice(-1), [170], 'the lookup\'s page is requested at once, before the 8 queued warm-up ranges');
  held();
  await point;
  await clock.until(warm);
  t.same(await warm, { pages: 80, failures: 0 });
  t.equal(s.client.reads.length, 12, 'every range read once');
});

t.test('a miss on a frame a queued warm-up range covers promotes that range instead of waiting behind the others', async (t) => {
  const clock = new ManualClock();
  const s = await setup(t, 200, { clock, backgroundConcurrency: 1, warmupDelayMs: 0 });
  const warm = s.fetcher.prefetch(s.version, [10, 50, 90, 130].map((p) => ref(s, p)), 0);
  await clock.tick(); // the warm-up delay
  const held = s.client.hold();
  await clock.tick(); // quiet: the first range goes (and is held in flight: the others wait behind it)
  t.same(firstPgnos(s), [10]);
  const page = s.fetcher.fetch(s.version, ref(s, 130)); // queued third in the background lane
  await settle();
  t.same(firstPgnos(s), [10, 130], 'promoted: sent at once from the foreground lane');
  held();
  t.ok(bytesEqual(await page, s.data[129].data));
  await clock.until(warm);
  t.same(await warm, { pages: 4, failures: 0 });
  t.same(firstPgnos(s), [10, 130, 50, 90], 'its background turn found it done: four reads for four frames');
});

t.test('once the foreground has been quiet, background reads go back to back until the next foreground read', async (t) => {
  const clock = new ManualClock();
  const s = await setup(t, 200, { clock, backgroundConcurrency: 1, warmupDelayMs: 0 });
  const warm = s.fetcher.prefetch(s.version, [10, 50, 90, 130, 150].map((p) => ref(s, p)), 0);
  await clock.tick(); // the warm-up delay
  const held = s.client.hold();
  await clock.tick(); // the quiet time: the first range goes
  t.same(firstPgnos(s), [10]);
  const lookup = s.fetcher.fetch(s.version, ref(s, 170)); // a query's read while the warm-up's is in flight
  await settle();
  t.same(firstPgnos(s), [10, 170]);
  held();
  t.ok(bytesEqual(await lookup, s.data[169].data));
  await settle();
  t.same(firstPgnos(s), [10, 170], 'after a foreground read, the next background read waits for a new quiet time');
  const held2 = s.client.hold();
  await clock.tick(); // the quiet time again: one range goes
  t.same(firstPgnos(s), [10, 170, 50]);
  held2();
  // Reads finish on the I/O pool: wait for them without moving the queue's clock (a read that
  // needed another quiet time would never be sent).
  for (let i = 0; i < 400 && s.client.reads.length < 6; i++) await new Promise((resolve) => setTimeout(resolve, 5));
  t.same(firstPgnos(s), [10, 170, 50, 90, 130, 150], 'the rest followed one another with no quiet time between them');
  t.same(await warm, { pages: 5, failures: 0 });
});

t.test('random misses read one frame each; a scan grows its window past 1 MiB with several ranges in flight', async (t) => {
  // The read-ahead of remote storage (a directory's is 4 MiB in 1 MiB windows).
  const s = await setup(t, 4000, { maxReadaheadBytes: 32 << 20 });
  for (const pgno of [2000, 17, 3500, 800, 2600]) await s.fetcher.fetch(s.version, ref(s, pgno));
  t.same(s.client.reads.map((r) => r.length), [4124, 4124, 4124, 4124, 4124], 'random lookups: one frame per read');

  s.client.reset();
  let inFlight = 0;
  let most = 0;
  const inner = s.client.inner;
  const counting = { readRange: (key: string, offset: number, length: number, into?: Uint8Array) => {
    most = Math.max(most, ++inFlight);
    return inner.readRange(key, offset, length, into).finally(() => inFlight--);
  } };
  Object.assign(s.client, { inner: { ...inner, readRange: counting.readRange, close: () => inner.close() } });
  for (let pgno = 1; pgno <= 4000; pgno++) {
    const cached = s.cache.get(ref(s, pgno));
    const page = cached ?? (await s.fetcher.fetch(s.version, ref(s, pgno)));
    if (!bytesEqual(page, s.data[pgno - 1].data)) t.fail(`page ${pgno}`);
  }
  const largest = Math.max(...s.client.reads.map((r) => r.length));
  t.ok(largest > 1024 * 1024, `the window grew past 1 MiB (largest read ${largest} bytes)`);
  t.ok(most >= 2, `${most} ranges in flight at once`);
  t.comment(`scan of ${(4000 * 4124 / 2 ** 20).toFixed(1)} MiB: ${s.client.reads.length} reads, at most ${most} in flight`);
});

t.test('read-ahead stops when the reader\'s last transaction ends: queued ranges are dropped, landed ones start no more', async (t) => {
  // 1 MiB windows (a directory's budget), one slot: read-ahead ranges queue behind each other.
  const s = await setup(t, 4000, { maxReadaheadBytes: 4 << 20, concurrency: 1 });
  const scanTo = async (last: number): Promise<void> => {
    for (let pgno = 1; pgno <= last; pgno++) {
      const page = s.cache.get(ref(s, pgno)) ?? (await s.fetcher.fetch(s.version, ref(s, pgno)));
      if (!bytesEqual(page, s.data[pgno - 1].data)) t.fail(`page ${pgno}`);
    }
  };
  await scanTo(600); // a range query's scan: it ends at page 600 of 4,000
  const atEnd = s.client.reads.length;
  s.fetcher.transactionsOpen(false); // its transaction ended
  await s.fetcher.queue.onIdle();
  await settle();
  const after = s.client.reads.length - atEnd;
  t.ok(after <= 1, `${after} read(s) after the transaction ended: the one at the storage then, no more`);
  const lastByte = Math.max(...s.client.reads.map((r) => r.offset + r.length));
  t.ok(lastByte < s.file.entries.at(1000)!.offset, 'the read-ahead stayed near page 600, far from the end of the file');
  t.ok(s.fetcher.dropped >= 1, `${s.fetcher.dropped} queued range(s) dropped unsent`);
  s.fetcher.transactionsOpen(true);
  await scanTo(4000); // the next transaction reads on: every page still correct
  t.pass('the next scan read every page');
});

t.test('what lands ahead of a scan stays within the read-ahead budget, not half the cache', async (t) => {
  // A 256 MiB cache and a 4 MiB budget (a directory's): the scan stops at page 600 of 4,000,
  // its transaction still open. Before, landed ranges kept topping the read-ahead up to half
  // the cache ahead (128 MiB): here to the end of the 16 MiB file.
  const s = await setup(t, 4000, { maxReadaheadBytes: 4 << 20 });
  for (let pgno = 1; pgno <= 600; pgno++) {
    const page = s.cache.get(ref(s, pgno)) ?? (await s.fetcher.fetch(s.version, ref(s, pgno)));
    if (!bytesEqual(page, s.data[pgno - 1].data)) t.fail(`page ${pgno}`);
  }
  await s.fetcher.queue.onIdle();
  await settle();
  await s.fetcher.queue.onIdle();
  const lastByte = Math.max(...s.client.reads.map((r) => r.offset + r.length));
  const lastPgno = s.file.entries.toArray().findLast((e) => e.offset < lastByte)!.pgno;
  // 4 MiB of 4 KiB pages is 1,024 pages ahead of the last miss (≤ 600), plus one window's extent.
  t.ok(lastPgno <= 600 + 1024 + 256, `read up to page ${lastPgno}: within the 4 MiB budget of page 600`);
  t.ok(lastPgno > 600 + 256, `and read ahead of the scan (to page ${lastPgno})`);
});

t.test('a scan that ends (misses elsewhere) has its queued read-ahead dropped before it is sent', async (t) => {
  const s = await setup(t, 400, { concurrency: 1 });
  const release = s.client.hold();
  // 1, 2, 3 (window 3…9), 10: the fourth sequential miss reads 10…24 and queues a read-ahead of 25…39.
  const scan = [1, 2, 3, 10].map((pgno) => s.fetcher.fetch(s.version, ref(s, pgno)));
  await settle();
  // One slot: the first read is at the storage; the rest (demand and read-ahead) wait. Two
  // misses elsewhere end the scan before the read-ahead's turn.
  const lookups = [300, 350].map((pgno) => s.fetcher.fetch(s.version, ref(s, pgno)));
  release();
  await Promise.all([...scan, ...lookups]);
  await settle();
  t.ok(s.fetcher.dropped >= 1, `${s.fetcher.dropped} read-ahead range(s) dropped unsent`);
  t.notOk(s.client.reads.some((r) => r.offset >= s.file.entries.at(24)!.offset && r.offset < s.file.entries.at(299)!.offset), 'frames 25… never reached the storage');
  t.equal(s.client.reads.length, 6, '1, 2, 3…9, 10…24, 300, 350');
});

/** Read pages `from`…`to` through the fetcher (the cache first), as SQLite would; each page checked. */
async function readPages(t: Test, s: Setup, from: number, to: number): Promise<void> {
  for (let pgno = from; pgno <= to; pgno++) {
    const page = s.cache.get(ref(s, pgno)) ?? (await s.fetcher.fetch(s.version, ref(s, pgno)));
    if (!bytesEqual(page, s.data[pgno - 1].data)) t.fail(`page ${pgno}`);
  }
}

t.test('frames decoded ahead of the checksum\'s position are appended when it gets there: the file is not read again', async (t) => {
  // The second half first, then the first: before, the second half's frames were decoded
  // while the checksum stood at frame 0 and were lost; the verification read them again.
  const clock = new ManualClock(); // no background read before the test says so
  const s = await setup(t, 400, { clock, maxReadaheadBytes: 0 }, true);
  s.fetcher.transactionsOpen(true);
  await readPages(t, s, 201, 400);
  await readPages(t, s, 1, 200);
  s.fetcher.transactionsOpen(false);
  await clock.until(s.fetcher.verifier.verified());
  const v = s.fetcher.verifier.stats();
  t.equal(v.filesVerified, 1, 'the file checksum matched');
  t.equal(v.framesCoalesced, 400, 'every frame was fed from the reads that served it');
  t.ok(v.verifyBytes < 8 * 1024, `${v.verifyBytes} bytes read to verify (the header and the tail at most), of ${s.file.info.size}`);
});

t.test('a damaged page fed out of order still fails the file checksum', async (t) => {
  const clock = new ManualClock();
  const s = await setup(t, 400, { clock, maxReadaheadBytes: 0 }, true);
  // Page 350's payload: a random page is stored as literals, so a flipped bit still decodes.
  await flipBit(s.path, s.file.entries.at(349)!.offset + 2000, 5);
  s.fetcher.transactionsOpen(true);
  for (let pgno = 201; pgno <= 400; pgno++) s.cache.get(ref(s, pgno)) ?? (await s.fetcher.fetch(s.version, ref(s, pgno)));
  await readPages(t, s, 1, 200);
  s.fetcher.transactionsOpen(false);
  const done = s.fetcher.verifier.verified().then(() => undefined, (e: unknown) => e);
  await clock.until(done);
  const err = await done;
  t.ok(isLtxvfsError(err, 'LTXVFS_ERR_CHECKSUM'), `verification failed: ${String(err)}`);
  t.match((err as Error).message, /file checksum mismatch/);
  t.equal(s.fetcher.verifier.stats().verifyBytes < 8 * 1024, true, 'with no frame read again');
});

t.test('a verification reads nothing at or past a scan in progress; it reads the rest once the scan\'s transaction ends', async (t) => {
  // The worker engine's scans pause between its requests, long enough for background reads
  // to start. A verification that read ahead of the scan stayed ahead of it to the end of
  // the file, and the scan read every frame a second time.
  const clock = new ManualClock();
  const s = await setup(t, 2000, { clock, maxReadaheadBytes: 1 << 20, scanWaitMs: 600_000 }, true);
  s.fetcher.transactionsOpen(true);
  await readPages(t, s, 1, 600); // a scan: read-ahead ranges land ahead of it
  for (let i = 0; i < 5; i++) await clock.tick(); // the foreground is quiet: background reads may go
  t.equal(s.fetcher.verifier.stats().verifyRequests, 0, 'the scan is in progress: no verification read');
  await readPages(t, s, 601, 1200);
  for (let i = 0; i < 5; i++) await clock.tick();
  t.equal(s.fetcher.verifier.stats().verifyRequests, 0, 'still none as it goes on');
  s.fetcher.transactionsOpen(false); // the scan stops at page 1,200 of 2,000
  await clock.until(s.fetcher.verifier.verified());
  const v = s.fetcher.verifier.stats();
  t.equal(v.filesVerified, 1);
  const scanned = s.client.reads.reduce((n, r) => n + r.length, 0) - v.verifyBytes;
  t.ok(v.verifyBytes + scanned <= s.file.info.size + 64 * 1024, `the scan read ${scanned} bytes and the verification ${v.verifyBytes}: the ${s.file.info.size}-byte file about once`);
});

t.test('a scan that stops moving inside an open transaction holds the verification back for scanWaitMs only', async (t) => {
  const clock = new ManualClock();
  const s = await setup(t, 2000, { clock, maxReadaheadBytes: 1 << 20, scanWaitMs: 20 }, true);
  s.fetcher.transactionsOpen(true);
  await readPages(t, s, 1, 600); // the scan stops here; its transaction stays open
  await clock.until(s.fetcher.verifier.verified()); // real time passes while the clock ticks
  const v = s.fetcher.verifier.stats();
  t.equal(v.filesVerified, 1, 'verified with the transaction still open');
  t.ok(v.verifyRequests > 0, `it read the rest itself (${v.verifyRequests} reads)`);
  t.throws(() => new Fetcher(s.client, s.cache, newReadCounters(), { scanWaitMs: 0 }), { code: 'LTXVFS_ERR_USAGE', message: /scanWaitMs must be a positive integer, got 0/ });
});

t.test('a warm-up range at or past a scan in progress waits for it: the scan\'s ranges take its frames, and no one-frame read is sent', async (t) => {
  // The worker engine's scans pause between its requests, long enough for the background lane
  // to find the foreground quiet. The interior-page warm-up then sent its one-frame ranges
  // ahead of the scan: a scan of the bench database over S3 made 170 requests, not 52.
  const clock = new ManualClock();
  const s = await setup(t, 2000, { clock, warmupDelayMs: 0, maxReadaheadBytes: 1 << 20, scanWaitMs: 600_000 });
  s.fetcher.transactionsOpen(true);
  await readPages(t, s, 1, 100); // a scan is under way
  // Beyond what the scan's read-ahead has in flight at page 100 (1 MiB: ~250 frames ahead).
  const interior = [700, 1100, 1500, 1900];
  const warm = s.fetcher.prefetch(s.version, interior.map((p) => ref(s, p)), 0);
  for (let i = 0; i < 5; i++) await clock.tick(); // the foreground is quiet between the scan's requests
  const oneFrame = (): number => s.client.reads.filter((r) => interior.some((p) => r.offset === s.file.entries.at(p - 1)!.offset && r.length === s.file.entries.at(p - 1)!.size)).length;
  t.equal(oneFrame(), 0, 'no warm-up range sent while the scan has not passed it');
  await readPages(t, s, 101, 2000);
  s.fetcher.transactionsOpen(false);
  await clock.until(warm);
  t.equal(oneFrame(), 0, 'none afterwards either: the scan read those frames');
  t.ok(s.fetcher.dropped >= interior.length, `${s.fetcher.dropped} ranges dropped unsent`);
  for (const p of interior) t.ok(s.cache.has(ref(s, p)), `page ${p} cached by the scan`);
  const bytes = s.client.reads.reduce((n, r) => n + r.length, 0);
  t.ok(bytes <= s.file.info.size, `${bytes} bytes read for a ${s.file.info.size}-byte file: no frame twice`);
});

t.test('a warm-up range a scan never reached is read once the scan\'s transaction ends, or after scanWaitMs', async (t) => {
  for (const how of ['transaction ends', 'scanWaitMs'] as const) {
    const clock = new ManualClock();
    const s = await setup(t, 2000, { clock, warmupDelayMs: 0, maxReadaheadBytes: 1 << 20, scanWaitMs: how === 'scanWaitMs' ? 20 : 600_000 });
    s.fetcher.transactionsOpen(true);
    await readPages(t, s, 1, 300); // a range query that stops at page 300
    const warm = s.fetcher.prefetch(s.version, [1500, 1900].map((p) => ref(s, p)), 0);
    await clock.tick();
    await clock.tick();
    if (how === 'transaction ends') {
      t.notOk(s.cache.has(ref(s, 1500)), 'waiting while the transaction is open');
      s.fetcher.transactionsOpen(false);
    }
    await clock.until(warm); // with scanWaitMs, real time passes while the clock ticks
    t.same(await warm, { pages: 2, failures: 0 }, how);
    t.ok(s.cache.has(ref(s, 1500)) && s.cache.has(ref(s, 1900)), `${how}: both pages cached`);
    t.ok(s.client.reads.some((r) => r.offset === s.file.entries.at(1499)!.offset), `${how}: page 1500 read by the warm-up`);
  }
});

t.test('a warm-up range waiting behind a scan gives its background slot to the next background read', async (t) => {
  const clock = new ManualClock();
  const s = await setup(t, 2000, { clock, warmupDelayMs: 0, backgroundConcurrency: 1, maxReadaheadBytes: 1 << 20, scanWaitMs: 600_000 });
  s.fetcher.transactionsOpen(true);
  await readPages(t, s, 1000, 1300); // a scan from page 1,000, its transaction open
  const ahead = s.fetcher.prefetch(s.version, [ref(s, 1900)], 0); // at or past the scan: waits
  for (let i = 0; i < 3; i++) await clock.tick();
  const behind = s.fetcher.prefetch(s.version, [ref(s, 500)], 0); // behind it: nothing to wait for
  // Its read finishes on the I/O pool, however many ticks that takes; were the one slot still
  // held by the waiting range, it would never be sent and this would not settle.
  await clock.until(behind);
  t.ok(s.cache.has(ref(s, 500)), 'the range behind the scan was read through the one background slot');
  t.same(await behind, { pages: 1, failures: 0 });
  t.notOk(s.cache.has(ref(s, 1900)), 'the one ahead still waits');
  s.fetcher.transactionsOpen(false);
  await clock.until(ahead);
  t.ok(s.cache.has(ref(s, 1900)), 'and is read once the transaction ends');
});
