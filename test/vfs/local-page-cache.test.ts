/**
 * LocalPageCache (vfs/bridge/local-page-cache.ts): the SQLite thread's cache in front of the
 * page bridge, bounded in bytes with two generations.
 */
import t from 'tap';
import { LocalPageCache } from '../../vfs/bridge/local-page-cache.js';

const page = (n: number, size = 1024): Uint8Array => new Uint8Array(size).fill(n & 0xff);

t.test('hits, misses, delete and clear', async (t) => {
  const cache = new LocalPageCache(1 << 20);
  t.equal(cache.get(1), undefined);
  cache.set(1, page(1));
  cache.set(2, page(2));
  t.same(cache.get(1), page(1));
  t.equal(cache.size, 2);
  t.equal(cache.bytes, 2048);
  cache.set(1, page(9));
  t.same(cache.get(1), page(9), 'a page set again replaces the old one');
  t.equal(cache.bytes, 2048);
  cache.delete(2);
  t.equal(cache.get(2), undefined);
  cache.delete(42);
  cache.clear();
  t.equal(cache.size, 0);
  t.equal(cache.bytes, 0);
  t.same([cache.hits, cache.misses], [2, 2]);
});

t.test('bounded: never more than the budget, at least half of it of the most recent pages', async (t) => {
  const cache = new LocalPageCache(16 * 1024);
  for (let n = 1; n <= 100; n++) {
    cache.set(n, page(n));
    t.ok(cache.bytes <= 16 * 1024 || t.fail(`${cache.bytes} bytes after ${n} pages`));
  }
  for (let n = 93; n <= 100; n++) t.same(cache.get(n), page(n), `recent page ${n} kept`);
  t.equal(cache.get(1), undefined, 'old pages dropped');
});

t.test('a hit in the old generation keeps the page through the next turnover', async (t) => {
  const cache = new LocalPageCache(8 * 1024); // generations of 4 pages
  for (let n = 1; n <= 4; n++) cache.set(n, page(n)); // 1–4 become the old generation
  t.same(cache.get(2), page(2), 'moved back to the young generation');
  for (let n = 5; n <= 7; n++) cache.set(n, page(n)); // young: 2, 5, 6, 7 → old
  t.same(cache.get(2), page(2));
  t.equal(cache.get(1), undefined, 'the untouched page of the first generation is gone');
  t.equal(cache.get(3), undefined);
});

t.test('a zero budget caches nothing', async (t) => {
  const cache = new LocalPageCache(0);
  cache.set(1, page(1));
  t.equal(cache.get(1), undefined);
  t.equal(cache.bytes, 0);
});
