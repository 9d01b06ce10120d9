/**
 * The fetcher's sequential scans (lib/read/fetcher.ts, issue 15 item 4): read-ahead kept in
 * flight as ranges land, the first page of each landed range held until the scan asks for
 * it (and background verification still completes past it), and frames a range read over
 * because they were cached — a scan's interior pages — kept fresh or decoded again rather
 * than evicted and read one request each. Real LTX files on a file:// replica, reads
 * counted by CountingClient; the scan reads as the reader does (cache first, then the fetcher).
 */
import t, { type Test } from 'tap';
import { Fetcher, newReadCounters, type FetcherOptions } from '../../lib/read/fetcher.js';
import { PageCache } from '../../lib/cache/index.js';
import { PageIndex, type LtxFile } from '../../lib/replica/page-index.js';
import { loadLtxFile, TAIL_BYTES } from '../../lib/replica/ltx-loader.js';
import { listReplica } from '../../lib/replica/plan.js';
import { bytesEqual, CountingClient, randomPage, writeLtx } from '../helpers/replica-builder.js';

interface Scan {
  client: CountingClient;
  file: LtxFile;
  version: PageIndex;
  cache: PageCache;
  fetcher: Fetcher;
  pages: Uint8Array[];
  /** Read pgno `from`…`to` as the reader does (yielding to timers every `pace` pages when given); how many went to the fetcher (misses). */
  scan(from: number, to: number, pace?: number): Promise<number>;
}

/** One LTX file of `count` random pages (incompressible: a frame is about a page). */
async function setup(t: Test, count: number, cacheBytes: number, options: FetcherOptions, trust = true): Promise<Scan> {
  const dir = t.testdir();
  const pages = Array.from({ length: count }, (_, i) => randomPage(i + 1));
  await writeLtx(dir, { minTXID: 1, maxTXID: 1, pageSize: 4096, commit: count, pages: pages.map((data, i) => ({ pgno: i + 1, data })) });
  const client = await CountingClient.open(dir);
  t.teardown(() => client.close());
  const [info] = await listReplica(client);
  const { file } = await loadLtxFile(client, info, newReadCounters(), undefined, TAIL_BYTES);
  client.reset();
  const cache = new PageCache(cacheBytes);
  const fetcher = new Fetcher(client, cache, newReadCounters(), { cacheSizeBytes: cacheBytes, ...options });
  if (trust) fetcher.verifier.trust(file);
  t.teardown(() => fetcher.verifier.close());
  const version = PageIndex.empty().apply(file);
  const scan = async (from: number, to: number, pace?: number): Promise<number> => {
    let misses = 0;
    for (let pgno = from; pgno <= to; pgno++) {
      if (pace !== undefined && pgno % pace === 0) await new Promise((resolve) => setTimeout(resolve, 1));
      const ref = version.get(pgno)!;
      let page = cache.get(ref);
      if (page === undefined) {
        misses++;
        page = await fetcher.fetch(version, ref);
      }
      if (!bytesEqual(page, pages[pgno - 1])) throw new Error(`page ${pgno} differs`);
    }
    return misses;
  };
  return { client, file, version, cache, fetcher, pages, scan };
}

t.test('a scan whose ranges land before it gets there keeps read-ahead in flight, each range read once', async (t) => {
  // 256 KiB windows (a quarter of the 1 MiB read-ahead, half the 2 MiB cache); every read
  // takes 2 ms and the scan waits a timer every 8 pages, so ranges land ahead of it.
  const s = await setup(t, 2000, 2 << 20, {});
  s.client.delayMs = 2;
  const misses = await s.scan(1, 2000, 8);
  const reads = [...s.client.reads].sort((a, b) => a.offset - b.offset);
  for (let i = 1; i < reads.length; i++) t.ok(reads[i].offset >= reads[i - 1].offset + reads[i - 1].length, `no byte read twice (read at ${reads[i].offset})`);
  const largest = Math.max(...reads.map((r) => r.length));
  t.ok(largest > 200 * 1024 && largest <= 256 * 1024, `windows grew to ${largest} bytes (a quarter of the read-ahead)`);
  t.ok(reads.length < 60, `${reads.length} reads for 2,000 pages`);
  // The scan misses about once a range: on the first page, held back from the cache so
  // that the fetcher learns where the scan is (its hits in the cache go unseen).
  t.ok(misses >= reads.length - 8 && misses <= reads.length + 8, `${misses} misses for ${reads.length} ranges`);
  t.equal(s.fetcher.queue.pending + s.fetcher.queue.size, 0, 'nothing left in flight at the end of the file');
});

t.test('background verification completes past the held first pages of landed ranges', async (t) => {
  const s = await setup(t, 1500, 64 << 20, { maxReadaheadBytes: 1 << 20, warmupDelayMs: 0, quietMs: 0 }, false);
  s.client.delayMs = 2;
  await s.scan(1, 1500);
  // The verifier had been waiting on frames in flight: a held page is landed, not in flight.
  await s.fetcher.verifier.verified();
  t.pass('the file verified');
});

t.test('frames cached when a scan\'s range was planned are kept fresh or decoded again, not read one by one', async (t) => {
  // 2 MiB cache (512 pages); pages 700, 900 and 1100 cached first (as the warm-up caches
  // interior pages), the least recently used when the scan fills the cache.
  const s = await setup(t, 1300, 2 << 20, {});
  s.client.delayMs = 2;
  const interior = [700, 900, 1100];
  const pre = await s.fetcher.prefetch(s.version, interior.map((p) => s.version.get(p)!), 0);
  t.equal(pre.pages, 3);
  s.client.reset();
  await s.scan(1, 1300);
  const single = s.client.reads.filter((r) => interior.some((p) => {
    const e = s.file.entries.at(s.version.get(p)!.entry)!;
    return r.offset === e.offset && r.length === e.size;
  }));
  t.same(single, [], 'no read of one of those frames on its own');
});
