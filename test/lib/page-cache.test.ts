import t from 'tap';
import { DEFAULT_CACHE_SIZE_BYTES, PageCache } from '../../lib/page-cache.js';
import type { FrameRef, LtxFile } from '../../lib/page-index.js';
import { decodeLtxFile } from '../../ltx/decoder.js';
import { encodeLtx, ltxFileOf, testPage, type Page } from '../helpers/replica-builder.js';

/** A real LTX file of `count` pages and its decoded pages, for frame refs. */
function realFile(count: number, pageSize = 4096, seed = 0): { file: LtxFile; pages: Uint8Array[] } {
  const ps: Page[] = [];
  for (let pgno = 1; pgno <= count; pgno++) ps.push({ pgno, data: testPage(seed + pgno, pageSize) });
  const bytes = encodeLtx({ minTXID: 1, maxTXID: 1, pageSize, commit: count, pages: ps });
  return { file: ltxFileOf(bytes), pages: decodeLtxFile(bytes, 'test').pages.map((p) => p.data) };
}

const ref = (file: LtxFile, entry: number): FrameRef => ({ file, entry });

t.test('a miss, then a hit once the frame is set; has() counts nothing', async (t) => {
  const { file, pages } = realFile(4);
  const cache = new PageCache(1 << 20);
  t.equal(cache.get(ref(file, 0)), undefined);
  t.notOk(cache.has(ref(file, 0)));
  cache.set(ref(file, 0), pages[0]);
  t.ok(cache.has(ref(file, 0)));
  t.equal(cache.get(ref(file, 0)), pages[0]);
  t.equal(cache.get(ref(file, 0)), pages[0]);
  t.equal(cache.get(ref(file, 1)), undefined);
  t.same(cache.stats(), { hits: 2, misses: 2, bytes: 4096, evictions: 0 });
});

t.test('a frame set twice is held once', async (t) => {
  const { file, pages } = realFile(1);
  const cache = new PageCache(1 << 20);
  cache.set(ref(file, 0), pages[0]);
  cache.set(ref(file, 0), new Uint8Array(4096));
  t.equal(cache.stats().bytes, 4096);
  t.equal(cache.get(ref(file, 0)), pages[0], 'the first page stays (a frame never changes)');
});

t.test('frames are keyed by file and entry, not by page number', async (t) => {
  const a = realFile(2, 4096, 0);
  const b = realFile(2, 4096, 100);
  const cache = new PageCache(1 << 20);
  cache.set(ref(a.file, 0), a.pages[0]);
  t.equal(cache.get(ref(b.file, 0)), undefined, 'page 1 of another file is another frame');
  cache.set(ref(b.file, 0), b.pages[0]);
  t.equal(cache.get(ref(a.file, 0)), a.pages[0]);
  t.equal(cache.get(ref(b.file, 0)), b.pages[0]);
});

t.test('never holds more than maxBytes of pages, however many are inserted', async (t) => {
  const { file, pages } = realFile(1000);
  const maxBytes = 64 * 1024;
  const cache = new PageCache(maxBytes);
  let worst = 0;
  for (let i = 0; i < pages.length; i++) {
    cache.set(ref(file, i), pages[i]);
    worst = Math.max(worst, cache.stats().bytes);
  }
  t.ok(worst <= maxBytes, `at most ${maxBytes} bytes held (worst ${worst})`);
  let held = 0;
  for (let i = 0; i < pages.length; i++) if (cache.has(ref(file, i))) held++;
  const s = cache.stats();
  t.equal(s.bytes, held * 4096, 'the byte count is exact');
  t.equal(s.evictions, pages.length - held);
  t.ok(held >= 8, `keeps a useful number of pages (${held})`);
  t.ok(cache.has(ref(file, 999)), 'the newest page is kept');
  t.notOk(cache.has(ref(file, 0)), 'the oldest is gone');
});

t.test('recently read pages survive eviction', async (t) => {
  const { file, pages } = realFile(200);
  const cache = new PageCache(16 * 4096);
  cache.set(ref(file, 0), pages[0]);
  for (let i = 1; i < pages.length; i++) {
    cache.set(ref(file, i), pages[i]);
    t.ok(cache.get(ref(file, 0)), `page 1 still cached after ${i} more`);
  }
});

t.test('the byte bound holds for pages larger than the page-size hint', async (t) => {
  const { file, pages } = realFile(40, 65536);
  const maxBytes = 256 * 1024;
  const cache = new PageCache(maxBytes); // hint: 4096-byte pages
  let worst = 0;
  for (let i = 0; i < pages.length; i++) {
    cache.set(ref(file, i), pages[i]);
    worst = Math.max(worst, cache.stats().bytes);
  }
  t.ok(worst <= maxBytes, `at most ${maxBytes} bytes of 64 KiB pages held (worst ${worst})`);
  t.ok(cache.stats().bytes > 0, 'still caches');
  t.ok(cache.has(ref(file, 39)));
});

t.test('a page larger than the whole cache is not kept', async (t) => {
  const { file, pages } = realFile(3);
  const cache = new PageCache(1000);
  cache.set(ref(file, 0), pages[0]);
  t.equal(cache.stats().bytes, 0);
  t.equal(cache.get(ref(file, 0)), undefined);
});

t.test('cacheSize 0 caches nothing and counts misses', async (t) => {
  const { file, pages } = realFile(3);
  const cache = new PageCache(0);
  for (let i = 0; i < 3; i++) cache.set(ref(file, i), pages[i]);
  for (let i = 0; i < 3; i++) t.equal(cache.get(ref(file, i)), undefined);
  t.same(cache.stats(), { hits: 0, misses: 3, bytes: 0, evictions: 0 });
});

t.test('clear() drops everything', async (t) => {
  const { file, pages } = realFile(3);
  const cache = new PageCache(1 << 20);
  for (let i = 0; i < 3; i++) cache.set(ref(file, i), pages[i]);
  t.equal(cache.stats().bytes, 3 * 4096);
  cache.clear();
  t.equal(cache.stats().bytes, 0);
  t.notOk(cache.has(ref(file, 1)));
  cache.set(ref(file, 1), pages[1]);
  t.equal(cache.stats().bytes, 4096, 'counts again from zero');
});

t.test('the size must be a non-negative finite number of bytes', async (t) => {
  for (const bad of [-1, Number.NaN, Number.POSITIVE_INFINITY]) {
    t.throws(() => new PageCache(bad), { name: 'RangeError', message: `cache size must be a non-negative number of bytes, got ${bad}` });
  }
  t.equal(DEFAULT_CACHE_SIZE_BYTES, 64 * 1024 * 1024);
});
