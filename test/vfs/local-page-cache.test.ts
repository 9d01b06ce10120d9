/**
 * LocalPageCache (vfs/bridge/local-page-cache.ts): the SQLite thread's cache in front of the
 * page bridge, an exact LRU bounded in bytes.
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

t.test('bounded: never more than the budget, and every page of the budget kept', async (t) => {
  const cache = new LocalPageCache(16 * 1024);
  for (let n = 1; n <= 100; n++) {
    cache.set(n, page(n));
    t.ok(cache.bytes <= 16 * 1024 || t.fail(`${cache.bytes} bytes after ${n} pages`));
  }
  t.equal(cache.size, 16, 'a full budget of pages');
  for (let n = 85; n <= 100; n++) t.same(cache.get(n), page(n), `recent page ${n} kept`);
  t.equal(cache.get(84), undefined, 'older pages dropped');
  t.equal(cache.get(1), undefined);
});

t.test('least recently used first: a hit keeps a page, the untouched ones go', async (t) => {
  const cache = new LocalPageCache(4 * 1024);
  for (let n = 1; n <= 4; n++) cache.set(n, page(n));
  t.same(cache.get(1), page(1), 'page 1 is now the most recently used');
  cache.set(5, page(5));
  t.equal(cache.get(2), undefined, 'page 2, the least recently used, made room');
  t.same(cache.get(1), page(1));
  cache.set(6, page(6));
  t.equal(cache.get(3), undefined);
  t.same([4, 5, 1, 6].map((n) => cache.get(n)?.[0]), [4, 5, 1, 6]);
});

t.test('a working set larger than half the budget stays whole over repeated rounds', async (t) => {
  // The two-generation scheme this cache replaced missed ~20% of such a set every round.
  const cache = new LocalPageCache(64 * 1024);
  const set = Array.from({ length: 40 }, (_, i) => i + 1);
  for (const n of set) cache.set(n, page(n));
  const misses = cache.misses;
  for (let round = 0; round < 5; round++) {
    for (const n of set) if (cache.get(n) === undefined) cache.set(n, page(n));
  }
  t.equal(cache.misses - misses, 0, 'no misses once the set is in');
});

t.test('a page larger than the budget is not kept, and evicts nothing', async (t) => {
  const cache = new LocalPageCache(2048);
  cache.set(1, page(1));
  cache.set(2, page(2, 4096));
  t.equal(cache.get(2), undefined);
  t.same(cache.get(1), page(1));
  cache.set(1, page(7, 4096));
  t.equal(cache.get(1), undefined, 'a page too large to keep still drops the stale one it replaces');
});

t.test('a zero budget caches nothing', async (t) => {
  const cache = new LocalPageCache(0);
  cache.set(1, page(1));
  t.equal(cache.get(1), undefined);
  t.equal(cache.bytes, 0);
});

t.test('many pages set, read, deleted and set again in every order stay consistent with a model', async (t) => {
  const budget = 32 * 1024;
  const cache = new LocalPageCache(budget);
  const model: number[] = []; // most recent last
  let seed = 1;
  const rnd = (n: number): number => {
    seed = (seed * 1103515245 + 12345) & 0x7fffffff;
    return seed % n;
  };
  let mismatches = 0;
  for (let i = 0; i < 5000; i++) {
    const pgno = 1 + rnd(60);
    const op = rnd(3);
    const at = model.indexOf(pgno);
    if (op === 0) {
      const got = cache.get(pgno);
      if ((got !== undefined) !== (at >= 0) || (got !== undefined && got[0] !== (pgno & 0xff))) mismatches++;
      if (at >= 0) model.push(...model.splice(at, 1));
    } else if (op === 1) {
      cache.set(pgno, page(pgno));
      if (at >= 0) model.splice(at, 1);
      model.push(pgno);
      while (model.length * 1024 > budget) model.shift();
    } else {
      cache.delete(pgno);
      if (at >= 0) model.splice(at, 1);
    }
    if (cache.size !== model.length || cache.bytes !== model.length * 1024) mismatches++;
  }
  t.equal(mismatches, 0, 'the cache answers as an exact LRU of 32 pages');
});
