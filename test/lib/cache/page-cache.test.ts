import t from 'tap';
import { DEFAULT_CACHE_SIZE_BYTES, PageCache } from '../../../lib/cache/page-cache.js';
import type { FrameRef, LtxFile } from '../../../lib/replica/page-index.js';
import { decodeLtxFile } from '../../../ltx/decoder.js';
import { encodeLtx, ltxFileOf, testPage, type Page } from '../../helpers/replica-builder.js';

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
  t.same(cache.get(ref(file, 0)), pages[0]);
  t.same(cache.get(ref(file, 0)), pages[0]);
  t.equal(cache.get(ref(file, 1)), undefined);
  t.same(cache.stats(), { hits: 2, misses: 2, bytes: 4096, evictions: 0 });
});

t.test('the cache keeps a copy and hands out copies: no caller sees a slot change', async (t) => {
  const { file, pages } = realFile(3);
  const cache = new PageCache(2 * 4096);
  const mine = pages[0].slice();
  cache.set(ref(file, 0), mine);
  mine.fill(0xff);
  const got = cache.get(ref(file, 0))!;
  t.same(got, pages[0], 'changing the array given to set() changes nothing cached');
  t.not(got, cache.get(ref(file, 0)), 'every hit is a new array');
  got.fill(0);
  t.same(cache.get(ref(file, 0)), pages[0], 'nor does changing a page get() returned');
  // Evictions reuse slots: a page handed out earlier keeps its bytes.
  cache.set(ref(file, 1), pages[1]);
  const held = cache.get(ref(file, 1))!;
  cache.set(ref(file, 2), pages[2]);
  cache.set(ref(file, 0), pages[0]);
  t.notOk(cache.has(ref(file, 1)), 'page 2 was evicted and its slot reused');
  t.same(held, pages[1], 'the copy handed out before is unchanged');
});

t.test('a frame set twice is held once', async (t) => {
  const { file, pages } = realFile(1);
  const cache = new PageCache(1 << 20);
  cache.set(ref(file, 0), pages[0]);
  cache.set(ref(file, 0), new Uint8Array(4096));
  t.equal(cache.stats().bytes, 4096);
  t.same(cache.get(ref(file, 0)), pages[0], 'the first page stays (a frame never changes)');
});

t.test('frames are keyed by file and entry, not by page number', async (t) => {
  const a = realFile(2, 4096, 0);
  const b = realFile(2, 4096, 100);
  const cache = new PageCache(1 << 20);
  cache.set(ref(a.file, 0), a.pages[0]);
  t.equal(cache.get(ref(b.file, 0)), undefined, 'page 1 of another file is another frame');
  cache.set(ref(b.file, 0), b.pages[0]);
  t.same(cache.get(ref(a.file, 0)), a.pages[0]);
  t.same(cache.get(ref(b.file, 0)), b.pages[0]);
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
  t.equal(held, 16, 'holds its whole size: 64 KiB of 4 KiB pages');
  for (let i = 984; i < 1000; i++) t.ok(cache.has(ref(file, i)), `the 16 newest pages are kept (${i})`);
  t.notOk(cache.has(ref(file, 983)), 'older ones are gone');
  for (let i = 984; i < 1000; i++) t.same(cache.get(ref(file, i)), pages[i], `slot reuse kept every page intact (${i})`);
});

t.test('touch() makes a cached page the most recently used without counting a hit; false when absent', async (t) => {
  const { file, pages } = realFile(5);
  const cache = new PageCache(4 * 4096);
  for (let i = 0; i < 4; i++) cache.set(ref(file, i), pages[i]);
  t.ok(cache.touch(ref(file, 0)));
  t.notOk(cache.touch(ref(file, 4)), 'not cached');
  cache.set(ref(file, 4), pages[4]);
  t.ok(cache.has(ref(file, 0)), 'page 1 was touched: page 2 went instead');
  t.notOk(cache.has(ref(file, 1)));
  t.same(cache.stats(), { hits: 0, misses: 0, bytes: 4 * 4096, evictions: 1 });
});

t.test('least recently used goes first; has() does not count as a use', async (t) => {
  const { file, pages } = realFile(6);
  const cache = new PageCache(4 * 4096);
  for (let i = 0; i < 4; i++) cache.set(ref(file, i), pages[i]);
  cache.get(ref(file, 0));
  cache.has(ref(file, 1));
  cache.set(ref(file, 4), pages[4]);
  t.notOk(cache.has(ref(file, 1)), 'page 2: the least recently used');
  t.ok(cache.has(ref(file, 0)), 'page 1 was read since');
  cache.get(ref(file, 2));
  cache.set(ref(file, 5), pages[5]);
  t.notOk(cache.has(ref(file, 3)), 'then page 4');
  t.same([0, 2, 4, 5].map((i) => cache.has(ref(file, i))), [true, true, true, true]);
  t.same(cache.stats().evictions, 2);
});

t.test('pages of another size start the cache over with slots of that size', async (t) => {
  const small = realFile(4, 4096);
  const big = realFile(4, 8192, 50);
  const cache = new PageCache(4 * 8192);
  for (let i = 0; i < 4; i++) cache.set(ref(small.file, i), small.pages[i]);
  t.equal(cache.stats().bytes, 4 * 4096);
  cache.set(ref(big.file, 0), big.pages[0]);
  t.same(cache.stats(), { hits: 0, misses: 0, bytes: 8192, evictions: 4 }, 'the 4 KiB pages are dropped');
  for (let i = 1; i < 4; i++) cache.set(ref(big.file, i), big.pages[i]);
  t.equal(cache.stats().bytes, 4 * 8192, 'four 8 KiB pages fit');
  for (let i = 0; i < 4; i++) t.same(cache.get(ref(big.file, i)), big.pages[i]);
});

t.test('a cache larger than one slab spreads pages over slabs and keeps them apart', async (t) => {
  const { file, pages } = realFile(600);
  const cache = new PageCache(520 * 4096); // 256 pages a slab: two full slabs and one of 8
  for (let i = 0; i < 600; i++) cache.set(ref(file, i), pages[i]);
  t.equal(cache.stats().bytes, 520 * 4096);
  for (let i = 80; i < 600; i++) t.same(cache.get(ref(file, i)), pages[i], `page ${i + 1}`);
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
  const roomy = new PageCache(1 << 20);
  roomy.set(ref(file, 1), new Uint8Array(0));
  t.notOk(roomy.has(ref(file, 1)), 'nor is an empty page');
  roomy.set(ref(file, 1), pages[1]);
  t.same(roomy.get(ref(file, 1)), pages[1], 'which left the cache as it was');
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

t.test('a cache of one page keeps the last one', async (t) => {
  const { file, pages } = realFile(3);
  const cache = new PageCache(4096);
  for (let i = 0; i < 3; i++) {
    cache.set(ref(file, i), pages[i]);
    t.same(cache.get(ref(file, i)), pages[i]);
  }
  t.notOk(cache.has(ref(file, 1)));
  t.same(cache.stats(), { hits: 3, misses: 0, bytes: 4096, evictions: 2 });
});

t.test('copyTo copies a hit into the caller\'s buffer, counts it, and keeps it recent', async (t) => {
  const { file, pages } = realFile(4);
  const cache = new PageCache(3 * 4096);
  for (let i = 0; i < 3; i++) cache.set(ref(file, i), pages[i]);
  const dst = new Uint8Array(4096);
  t.ok(cache.copyTo(ref(file, 0), dst));
  t.same(dst, pages[0]);
  t.notOk(cache.copyTo(ref(file, 3), dst), 'a miss');
  t.same(dst, pages[0], 'a miss writes nothing');
  t.notOk(cache.copyTo(ref(file, 1), new Uint8Array(100)), 'a buffer of another size is not filled');
  t.same(cache.stats(), { hits: 1, misses: 0, bytes: 3 * 4096, evictions: 0 }, 'one hit; misses are counted by get()');
  cache.set(ref(file, 3), pages[3]);
  t.ok(cache.has(ref(file, 0)), 'the page copied out was used: page 2 went instead');
  t.notOk(cache.has(ref(file, 1)));
});

t.test('a file whose last page is evicted is forgotten; its pages can be cached again, by either file in turn', async (t) => {
  const a = realFile(3, 4096, 0);
  const b = realFile(3, 4096, 100);
  const cache = new PageCache(2 * 4096);
  cache.set(ref(a.file, 0), a.pages[0]);
  cache.set(ref(a.file, 1), a.pages[1]);
  cache.set(ref(b.file, 0), b.pages[0]); // evicts a:0
  cache.set(ref(b.file, 1), b.pages[1]); // evicts a:1, the last of a's pages
  t.notOk(cache.has(ref(a.file, 0)) || cache.has(ref(a.file, 1)), 'a is gone');
  cache.set(ref(a.file, 2), a.pages[2]); // evicts b:0
  t.same(cache.get(ref(a.file, 2)), a.pages[2], 'a page of the forgotten file is cached again');
  t.same(cache.get(ref(b.file, 1)), b.pages[1]);
  t.notOk(cache.has(ref(b.file, 0)));
  t.same(cache.stats(), { hits: 2, misses: 0, bytes: 2 * 4096, evictions: 3 });
});

t.test('a frame reference past the end of its file\'s page index is never cached', async (t) => {
  const { file, pages } = realFile(2);
  const cache = new PageCache(4 * 4096);
  cache.set(ref(file, 2), pages[0]);
  cache.set(ref(file, -1), pages[0]);
  t.notOk(cache.has(ref(file, 2)));
  t.notOk(cache.has(ref(file, -1)));
  t.equal(cache.stats().bytes, 0);
});
