/**
 * The worker engine's call lane (vfs/worker/call-lane.ts): the encoding, the lane word's
 * hand-offs (both ends driven from this thread, then across a real worker thread), mail
 * waking a listening worker, batches that do not fit, and the spin budget's back-off.
 */
import t from 'tap';
import { siblingModule, spawnWorker } from '../../lib/bridge/spawn-worker.js';
import {
  decodeFrom, encodeInto, jsonExact, LANE, LaneMain, LaneWorker, newLaneBuffer, SpinBudget,
} from '../../vfs/worker/call-lane.js';
import type { WorkerCall, WorkerResult } from '../../vfs/worker/protocol.js';

const call = (id: number, params: unknown[] = [id]): WorkerCall =>
  ({ type: 'call', id, method: 'get', sql: 'SELECT name FROM items WHERE id = ?', params }) as unknown as WorkerCall;

/** Both ends of one lane in this thread, without spinning (1 KiB areas), and its control words. */
function lanePair(): { buffer: SharedArrayBuffer; main: LaneMain; worker: LaneWorker; i32: Int32Array } {
  const buffer = newLaneBuffer(1024, 1024);
  return { buffer, main: new LaneMain(buffer, 1024, 0), worker: new LaneWorker(buffer, 1024, 0), i32: new Int32Array(buffer, 0, 16) };
}

t.test('jsonExact: only values JSON gives back unchanged', async (t) => {
  for (const v of ['x', '', 0, 1.5, -2, true, null, [1, 'a', null], { a: 1, b: [{ c: 'd' }] }, Object.create(null) as object]) {
    t.ok(jsonExact(v), JSON.stringify(v));
  }
  for (const v of [undefined, -0, NaN, Infinity, 1n, new Uint8Array(2), [new Uint8Array(1)], { a: undefined }, { d: new Date(0) }, () => 1]) {
    t.notOk(jsonExact(v), String(v));
  }
  let deep: unknown = 1;
  for (let i = 0; i < 12; i++) deep = [deep];
  t.notOk(jsonExact(deep), 'nesting deeper than 8 goes the v8 way');
});

t.test('encodeInto/decodeFrom: JSON or v8, exact values, -1 when it does not fit', async (t) => {
  const area = Buffer.from(new SharedArrayBuffer(4096));
  const values: unknown[] = [
    [{ type: 'result', id: 1, value: { name: 'héllo ✓', n: 3, x: null } }],
    [{ type: 'result', id: 2, value: { blob: new Uint8Array([1, 2, 3]), big: 2n ** 63n - 1n, neg0: -0, inf: -Infinity } }],
    [{ type: 'result', id: 3 }],
  ];
  for (const v of values) {
    const n = encodeInto(v, area);
    t.ok(n > 1);
    t.same(decodeFrom(area, n), v);
  }
  const blob = decodeFrom(area, encodeInto([new Uint8Array([9])], area)) as Uint8Array[];
  t.ok(blob[0] instanceof Uint8Array, 'a blob comes back as bytes');
  t.ok(Object.is((decodeFrom(area, encodeInto([-0], area)) as number[])[0], -0), '-0 keeps its sign');
  t.equal(encodeInto(['x'.repeat(5000)], area), -1, 'JSON too long');
  t.equal(encodeInto([new Uint8Array(5000)], area), -1, 'v8 bytes too long');
  t.equal(encodeInto('x', Buffer.alloc(0)), -1, 'no room for the tag');
  t.equal(encodeInto('x'.repeat(4093), area), 4096, 'JSON that fills the area exactly fits');
  // Multi-byte characters: the JSON fits in characters but not in bytes.
  t.equal(encodeInto(['é'.repeat(2100)], area), -1);
});

t.test('one thread plays both ends: post, listen, answer, collect', async (t) => {
  const buffer = newLaneBuffer(1024, 1024);
  const main = new LaneMain(buffer, 1024, 0);
  const worker = new LaneWorker(buffer, 1024, 0);
  t.notOk(main.tryPost([call(1)]), 'the worker is not listening yet: send a message instead');
  // The worker starts listening: lane LISTENING; a posted call is taken at once.
  const i32 = new Int32Array(buffer, 0, 16);
  Atomics.store(i32, 0, LANE.LISTENING);
  t.ok(main.tryPost([call(1), call(2)]));
  t.ok(main.busy);
  t.notOk(main.tryPost([call(3)]), 'one lane call at a time');
  const got = worker.listen();
  t.same(got, [call(1), call(2)]);
  const results: WorkerResult[] = [{ type: 'result', id: 1, value: { name: 'a' } }, { type: 'result', id: 2 }];
  t.ok(worker.answer(results));
  const outcome = main.collect();
  t.same(outcome, { kind: 'results', results });
  t.notOk(main.busy);
  // The worker answered and listens again: the next call goes on the lane.
  t.ok(main.tryPost([call(4)]));
  t.same(worker.listen(), [call(4)]);

  // Results too big for the result area: they go by message.
  t.notOk(worker.answer([{ type: 'result', id: 4, value: 'x'.repeat(2000) }]));
  t.same(main.collect(), { kind: 'by-message' });

  // A call too big for the call area is refused and the lane stays open.
  t.notOk(main.tryPost([call(5, ['y'.repeat(2000)])]));
  t.equal(Atomics.load(i32, 0), LANE.LISTENING);
});

t.test('mail: a message wakes a listening worker, and a worker that finds unread mail does not listen', async (t) => {
  const { main, worker, i32 } = lanePair();
  // Mail posted while the worker runs: its next listen goes back to the event loop.
  Atomics.store(i32, 0, LANE.RUNNING);
  main.noteMessage();
  t.equal(worker.listen(), undefined);
  t.equal(Atomics.load(i32, 0), LANE.AWAY);
  t.notOk(main.tryPost([call(1)]), 'no lane while the worker is away');
  worker.mailRead();
  // Mail posted while it listens: the lane goes AWAY and listen returns.
  Atomics.store(i32, 0, LANE.LISTENING);
  main.noteMessage();
  t.equal(Atomics.load(i32, 0), LANE.AWAY);
  t.equal(worker.listen(), undefined, 'from the event loop it listens again, then sees the mail');
  worker.mailRead();
  Atomics.store(i32, 0, LANE.LISTENING);
  t.ok(main.tryPost([call(2)]), 'all mail read: the lane is used');
  t.same(worker.listen(), [call(2)]);
  // open(): what the worker does before answering a message.
  t.ok(worker.answer([]));
  t.same(main.collect(), { kind: 'results', results: [] });
  main.noteMessage();
  t.notOk(worker.open(), 'unread mail: the lane stays closed');
  t.equal(Atomics.load(i32, 0), LANE.AWAY);
  worker.mailRead();
  t.ok(worker.open());
  t.equal(Atomics.load(i32, 0), LANE.LISTENING);
});

t.test('across threads: a worker blocked on the lane takes calls, results come back spun or through waitAsync', async (t) => {
  for (const spin of [50, 0]) {
    const buffer = newLaneBuffer(1024, 4096);
    const gate = new Int32Array(new SharedArrayBuffer(4));
    const w = spawnWorker(siblingModule(new URL('../helpers/x.ts', import.meta.url).href, 'lane-echo-worker'),
      { workerData: { buffer, callBytes: 1024, spin, gate: gate.buffer } });
    await new Promise<void>((resolve) => w.once('message', () => resolve()));
    // With a spin: on a clock that stands still it lasts until the answer, however slow the machine.
    const main = new LaneMain(buffer, 1024, spin > 0 ? new SpinBudget(spin, () => 0) : 0);
    let sync = 0;
    for (let i = 0; i < 200; i++) {
      while (!main.tryPost([call(i)])) await new Promise((r) => setTimeout(r, 1)); // until it listens
      let outcome = main.collect();
      if (!(outcome instanceof Promise)) sync++;
      outcome = await outcome;
      t.same(outcome, { kind: 'results', results: [{ type: 'result', id: i, value: { echo: [i] } }] }, `call ${i}, spin ${spin}`);
    }
    if (spin > 0) t.equal(sync, 200, 'with a spin that lasts, every result is taken while spinning');
    // A call the worker holds until the gate opens: the spin runs out (a clock that moves
    // 10 µs a read), and the event loop stays free while it waits.
    let reads = 0;
    const held = new LaneMain(buffer, 1024, new SpinBudget(spin, () => reads++ / 100));
    while (!held.tryPost([call(1000, ['gated'])])) await new Promise((r) => setTimeout(r, 1));
    let ticked = false;
    setImmediate(() => { ticked = true; });
    const slow = held.collect();
    t.ok(slow instanceof Promise, 'a call not answered within the spin is not waited for synchronously');
    t.equal(reads, spin > 0 ? spin / 10 + 1 : 0, `the spin lasted its budget on its clock (${reads} reads)`);
    await new Promise((resolve) => setImmediate(resolve));
    t.ok(ticked, 'the event loop turned while the call was held');
    Atomics.store(gate, 0, 1);
    Atomics.notify(gate, 0);
    t.same(await slow, { kind: 'results', results: [{ type: 'result', id: 1000, value: { echo: ['gated'] } }] });
    // A message wakes the blocked worker, which answers it from its event loop.
    main.noteMessage();
    w.postMessage('hello');
    t.same(await new Promise((resolve) => w.once('message', resolve)), { echo: 'hello' });
    while (!main.tryPost([{ type: 'call', id: 0, method: 'exec', sql: 'stop' } as unknown as WorkerCall])) await new Promise((r) => setTimeout(r, 1));
    await main.collect();
    await w.terminate();
  }
});

/** A clock for a {@link SpinBudget} that moves `stepMs` each time it is read, and counts its reads. */
function steppingClock(stepMs: number): { now: () => number; reads: number } {
  const clock = { reads: 0, now: (): number => clock.reads++ * stepMs };
  return clock;
}

t.test('SpinBudget: spins while spinning pays, backs off after four misses in a row', async (t) => {
  const i32 = new Int32Array(new SharedArrayBuffer(8));
  // 1/64 ms a read (exact in binary): a 200 µs spin that runs out reads the clock 14 times.
  const clock = steppingClock(1 / 64);
  const budget = new SpinBudget(200, clock.now);
  Atomics.store(i32, 0, 1);
  t.equal(budget.spinUntil(i32, 0, 0), 1, 'already changed: no spin');
  t.equal(clock.reads, 0, 'and no clock read');
  Atomics.store(i32, 0, 0);
  /** Clock reads during `n` waits that all miss (0: none of them spun). */
  const reads = (b: SpinBudget, c: { reads: number }, n: number): number => {
    const before = c.reads;
    for (let i = 0; i < n; i++) b.spinUntil(i32, 0, 0);
    return c.reads - before;
  };
  t.equal(reads(budget, clock, 1), 14, 'a spin that runs out lasts its budget');
  t.equal(reads(budget, clock, 3), 3 * 14, 'a few misses do not stop spinning');
  t.equal(reads(budget, clock, 16), 0, 'after the fourth miss in a row, the next 16 waits do not spin');
  t.equal(reads(budget, clock, 1), 14, 'then it tries again');
  t.equal(reads(budget, clock, 32), 0, 'and, missing again, backs off for twice as long');
  t.equal(reads(budget, clock, 1), 14, 'then tries again');
  // A spin that pays resets the count: three misses, a hit (the value changes during the
  // spin), three misses again — still spinning.
  const freshClock = steppingClock(1 / 64);
  const fresh = new SpinBudget(200, freshClock.now);
  reads(fresh, freshClock, 3);
  t.equal(fresh.spinUntil(i32, 0, 0, () => { Atomics.store(i32, 0, 1); return false; }), 1, 'a spin that pays');
  Atomics.store(i32, 0, 0);
  t.equal(reads(fresh, freshClock, 3), 3 * 14, 'the count of misses started again');
  t.equal(reads(fresh, freshClock, 1), 14, 'the fourth miss since the hit still spins');
  t.equal(reads(fresh, freshClock, 1), 0, 'and now it backs off');
  t.equal(new SpinBudget(0, clock.now).spinUntil(i32, 0, 0), 0, 'a zero budget never spins');

  const longClock = steppingClock(1 / 64);
  const long = new SpinBudget(200_000, longClock.now);
  t.equal(long.spinUntil(i32, 0, 0, () => true), 0);
  t.equal(longClock.reads, 1, 'a peer that needs this thread ends the spin at once (the clock read once, for the end)');
  let polls = 0;
  long.spinUntil(i32, 0, 0, () => ++polls > 3);
  t.equal(polls, 4, 'each spin polls the peer');
  t.equal(longClock.reads, 1 + 1 + 3, 'and reads the clock after each poll that lets it go on');
});

t.test('LaneMain: a wake-up with the result word unchanged is not an answer', async (t) => {
  const { main, worker, i32 } = lanePair();
  Atomics.store(i32, 0, LANE.LISTENING);
  // A first call answered, so the result area holds its results.
  t.ok(main.tryPost([call(1)]));
  worker.listen();
  worker.answer([{ type: 'result', id: 1, value: 'first' }]);
  t.same(await main.collect(), { kind: 'results', results: [{ type: 'result', id: 1, value: 'first' }] });
  // The second call: a notify with no answer behind it must not settle it with the first's results.
  t.ok(main.tryPost([call(2)]));
  const outcome = main.collect();
  t.ok(outcome instanceof Promise);
  let settled = false;
  void Promise.resolve(outcome).then(() => { settled = true; });
  t.equal(Atomics.notify(i32, 1), 1, 'a bare notify wakes the waiting collect');
  // The woken wait reads the word, finds no answer and waits again: a later notify finds
  // a waiter once more. Turns of the event loop, not time, bound the search.
  let waitingAgain = false;
  for (let turn = 0; turn < 10_000 && !waitingAgain; turn++) {
    await new Promise((resolve) => setImmediate(resolve));
    waitingAgain = Atomics.notify(i32, 1) === 1;
  }
  t.ok(waitingAgain, 'the collect waits again after the bare notify');
  t.notOk(settled, 'still waiting after a bare notify');
  t.same(worker.listen(), [call(2)]);
  worker.answer([{ type: 'result', id: 2, value: 'second' }]);
  t.same(await outcome, { kind: 'results', results: [{ type: 'result', id: 2, value: 'second' }] });
});

t.test('LaneMain: abandon ends an asynchronous wait for an answer that will not come', async (t) => {
  const { main, i32 } = lanePair();
  Atomics.store(i32, 0, LANE.LISTENING);
  t.ok(main.tryPost([call(1)]));
  const outcome = main.collect();
  t.ok(outcome instanceof Promise);
  main.abandon();
  t.same(await outcome, { kind: 'abandoned' }, 'settled at once, not after polling on');
  Atomics.store(i32, 0, LANE.LISTENING);
  t.notOk(main.tryPost([call(2)]), 'nothing more is posted');
});

t.test('LaneMain: a peer waiting on the page bridge ends the spin for a result', async (t) => {
  const buffer = newLaneBuffer(1024, 1024);
  let peerWaits = false;
  const clock = steppingClock(1 / 64);
  const main = new LaneMain(buffer, 1024, new SpinBudget(200_000, clock.now), () => peerWaits);
  Atomics.store(new Int32Array(buffer, 0, 16), 0, LANE.LISTENING);
  t.ok(main.tryPost([call(1)]));
  peerWaits = true;
  const outcome = main.collect();
  t.ok(outcome instanceof Promise, 'no result yet: waits asynchronously');
  t.equal(clock.reads, 1, 'without spinning its 200 ms (the clock read once, for the end)');
  const worker = new LaneWorker(buffer, 1024, 0);
  t.same(worker.listen(), [call(1)]);
  worker.answer([{ type: 'result', id: 1, value: 7 }]);
  t.same(await outcome, { kind: 'results', results: [{ type: 'result', id: 1, value: 7 }] });
});
