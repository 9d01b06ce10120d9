import t from 'tap';
import { DEFAULT_MAX_WINDOW_BYTES, PrefetchWindow } from '../../lib/prefetch.js';

/** Windows of `n` sequential misses, each read covering exactly the asked frame. */
function sequential(w: PrefetchWindow, n: number, from = 0): number[] {
  const out: number[] = [];
  for (let e = from; e < from + n; e++) {
    out.push(w.next(e));
    w.consumed(e);
  }
  return out;
}

t.test('a random miss reads only its frame; sequential misses double the window to 1 MiB', async (t) => {
  const w = new PrefetchWindow();
  t.same(sequential(w, 8), [0, 32768, 65536, 131072, 262144, 524288, 1048576, 1048576]);
  t.equal(DEFAULT_MAX_WINDOW_BYTES, 1048576);
});

t.test('a miss elsewhere resets the window', async (t) => {
  const w = new PrefetchWindow();
  sequential(w, 4);
  t.equal(w.next(100), 0, 'jump forward');
  w.consumed(100);
  t.equal(w.next(101), 32768, 'sequential again');
  w.consumed(110); // the read covered frames 101…110
  t.equal(w.next(111), 65536, 'the frame after what the read covered continues the run');
  w.consumed(111);
  t.equal(w.next(111), 0, 'the same frame again is not sequential');
  w.consumed(111);
  t.equal(w.next(5), 0, 'jump back');
});

t.test('minWindowBytes sets the random window and the floor of the sequential one', async (t) => {
  t.same(sequential(new PrefetchWindow({ minWindowBytes: 8192 }), 4), [8192, 32768, 65536, 131072]);
  t.same(sequential(new PrefetchWindow({ minWindowBytes: 100_000 }), 3), [100_000, 200_000, 400_000]);
  t.same(sequential(new PrefetchWindow({ minWindowBytes: -5 }), 2), [0, 32768], 'negative means 0');
});

t.test('maxWindowBytes caps the growth and is never below the minimum', async (t) => {
  t.same(sequential(new PrefetchWindow({ maxWindowBytes: 16384 }), 3), [0, 16384, 16384]);
  t.same(sequential(new PrefetchWindow({ maxWindowBytes: 100_000 }), 5), [0, 32768, 65536, 100_000, 100_000]);
  t.same(sequential(new PrefetchWindow({ minWindowBytes: 50_000, maxWindowBytes: 1000 }), 3), [50_000, 50_000, 50_000]);
});
