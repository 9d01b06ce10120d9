import t from 'tap';
import { DEFAULT_MAX_WINDOW_BYTES, PrefetchWindow, SEQUENTIAL_SLACK } from '../../lib/read/prefetch.js';

/** Windows of `n` sequential misses, each read covering exactly the asked frame. */
function sequential(w: PrefetchWindow, n: number, from = 0): number[] {
  const out: number[] = [];
  for (let e = from; e < from + n; e++) {
    out.push(w.next(e));
    w.consumed(e);
  }
  return out;
}

t.test('a random miss reads only its frame; from the second sequential miss in a row the window doubles past 1 MiB to 4 MiB', async (t) => {
  const w = new PrefetchWindow();
  t.same(sequential(w, 11), [0, 0, 32768, 65536, 131072, 262144, 524288, 1048576, 2097152, 4194304, 4194304]);
  t.equal(DEFAULT_MAX_WINDOW_BYTES, 4 * 1048576);
});

t.test('read-ahead: none before the third sequential miss, then 1, 2, 4 windows within the byte budget', async (t) => {
  const w = new PrefetchWindow();
  const ahead: number[] = [];
  for (let e = 0; e < 7; e++) {
    w.next(e);
    w.consumed(e);
    ahead.push(w.readaheadWindows(1 << 30));
  }
  t.same(ahead, [0, 0, 0, 1, 2, 4, 4]);
  t.equal(w.readaheadWindows(w.size * 2), 2, 'the budget holds two windows');
  t.equal(w.readaheadWindows(1), 1, 'at least one once a scan is under way');
  t.equal(w.readaheadWindows(0), 0, 'a zero budget turns it off');
  t.ok(w.scanning);
  w.next(500);
  w.consumed(500);
  t.ok(w.scanning, 'one miss elsewhere: the scan may resume');
  w.next(900);
  t.notOk(w.scanning, 'two: the scan is over (its queued read-ahead is dropped)');
  t.equal(w.readaheadWindows(1 << 30), 0);
});

t.test('a run starts only on consecutive frames: a miss a few frames on is not yet evidence of a scan', async (t) => {
  const w = new PrefetchWindow();
  w.next(0);
  w.consumed(0);
  t.equal(w.next(3), 0, 'two frames skipped: random');
  w.consumed(3);
  t.equal(w.next(4), 0, 'consecutive: one sequential miss');
  w.consumed(4);
  t.equal(w.next(5), 32768, 'two in a row: the window opens');
});

t.test('one neighbouring miss (schema page, then a table root) does not widen the window', async (t) => {
  const w = new PrefetchWindow();
  t.equal(w.next(0), 0);
  w.consumed(0);
  t.equal(w.next(1), 0, 'a single sequential miss reads only its frame');
  w.consumed(1);
  t.equal(w.next(40), 0, 'then a lookup elsewhere');
});

t.test('a miss a few frames past the last read stays sequential; further away or backwards resets', async (t) => {
  const w = new PrefetchWindow();
  sequential(w, 4);
  w.consumed(10); // the read covered frames …10
  t.equal(w.next(11 + SEQUENTIAL_SLACK), 131072, 'frames 11… were cached: still a scan');
  w.consumed(11 + SEQUENTIAL_SLACK);
  t.equal(w.next(12 + 2 * SEQUENTIAL_SLACK + 1), 0, 'beyond the slack: random');
  w.consumed(100);
  t.equal(w.next(101), 0, 'first sequential miss after a reset');
  w.consumed(101);
  t.equal(w.next(102), 32768, 'second in a row widens');
  w.consumed(102);
  t.equal(w.next(102), 0, 'the same frame again is not sequential');
  w.consumed(102);
  t.equal(w.next(5), 0, 'jump back');
});

t.test('minWindowBytes sets the random window and the floor of the sequential one', async (t) => {
  t.same(sequential(new PrefetchWindow({ minWindowBytes: 8192 }), 5), [8192, 8192, 32768, 65536, 131072]);
  t.same(sequential(new PrefetchWindow({ minWindowBytes: 100_000 }), 4), [100_000, 100_000, 200_000, 400_000]);
  t.same(sequential(new PrefetchWindow({ minWindowBytes: -5 }), 3), [0, 0, 32768], 'negative means 0');
});

t.test('maxWindowBytes caps the growth and is never below the minimum', async (t) => {
  t.same(sequential(new PrefetchWindow({ maxWindowBytes: 16384 }), 4), [0, 0, 16384, 16384]);
  t.same(sequential(new PrefetchWindow({ maxWindowBytes: 100_000 }), 6), [0, 0, 32768, 65536, 100_000, 100_000]);
  t.same(sequential(new PrefetchWindow({ minWindowBytes: 50_000, maxWindowBytes: 1000 }), 3), [50_000, 50_000, 50_000]);
});

t.test('one miss far away (an interior page stored ahead) does not end a scan: the next miss resumes the run', async (t) => {
  const w = new PrefetchWindow();
  const windows = sequential(w, 5); // …, 131072 at the fifth miss
  t.equal(windows[4], 131072);
  w.consumed(40); // that read covered frames …40
  t.equal(w.next(200), 0, 'the interior page: read alone');
  w.consumed(200);
  t.equal(w.next(41), 262144, 'back at the leaves: the window keeps doubling');
  w.consumed(41);
  t.equal(w.next(500), 0);
  w.consumed(500);
  t.equal(w.next(900), 0, 'two misses elsewhere in a row: the run is over');
  w.consumed(900);
  t.equal(w.next(42), 0, 'and cannot be resumed any more');
});

t.test('a random miss before any run leaves nothing to resume', async (t) => {
  const w = new PrefetchWindow();
  t.equal(w.next(10), 0);
  w.consumed(10);
  t.equal(w.next(300), 0);
  w.consumed(300);
  t.equal(w.next(11), 0, 'a single earlier miss is not a run');
});
