/**
 * The call lane of the worker engine: a `SharedArrayBuffer` through which a lone Database
 * call and its result cross between the main thread (vfs/worker/database.ts) and the
 * SQLite worker (vfs/worker/main.ts) without `postMessage`.
 *
 * Why: a `postMessage` round trip costs ~25–50 µs here (each way a libuv wake-up of the
 * other thread's event loop), three times a warm point lookup inside SQLite. A thread
 * that is spinning on a shared word sees a store within a microsecond. So after each
 * batch the worker *listens* on the lane — spinning for `spinMicros`, then blocking in
 * `Atomics.wait` — instead of returning to its event loop, and the main thread, having
 * posted a call, spins up to `spinMicros` for the result before it falls back to
 * `Atomics.waitAsync` (which resolves through its event loop, so a long query never
 * blocks it). A measured lone round trip: ~2 µs spinning against ~25 µs via
 * `Atomics.waitAsync` and ~50 µs via `postMessage` (docs/engines.md).
 *
 * Messages still carry everything else (calls made while others are pending, results
 * too large for the lane). To keep calls in order the main thread uses the lane only
 * when no call is pending, and a message always wakes a listening worker: the main
 * thread counts messages in `MAIL` and swaps `LISTENING → AWAY` (a value change, so a
 * worker about to block sees it); a worker that finds more mail than it read goes back
 * to its event loop instead of listening.
 *
 * ## The lane word
 *
 * `AWAY` (worker in its event loop) `→ LISTENING` (worker) `→ CLAIMED` (main, by
 * compare-and-swap: it now owns the call area) `→ POSTED` (main, call written)
 * `→ RUNNING` (worker) `→ LISTENING` (worker, just before it publishes the result, so
 * the next call finds the lane open) … A listening worker that gives up (mail) swaps
 * `LISTENING → AWAY`; if that swap fails, a call was claimed and it takes it.
 * The result word: `NONE → READY` (result in the result area) or `BY_MESSAGE` (it did not
 * fit and comes as a message); the main thread sets `NONE` when it posts the next call.
 *
 * Encoding: JSON when every value survives it exactly (strings, finite numbers other
 * than -0, booleans, null, plain arrays and objects), else `v8.serialize` (blobs,
 * BigInts, …); one tag byte says which.
 */
import { deserialize, serialize } from 'node:v8';
import type { WorkerCall, WorkerResult } from './protocol.js';

/** Int32 control words. */
const W = { LANE: 0, RESULT: 1, CALL_LEN: 2, RESULT_LEN: 3, MAIL: 4 } as const;

/** Values of the lane word. */
export const LANE = { AWAY: 0, LISTENING: 1, CLAIMED: 2, POSTED: 3, RUNNING: 4 } as const;

/** Values of the result word. */
const RESULT = { NONE: 0, READY: 1, BY_MESSAGE: 2 } as const;

const CONTROL_BYTES = 64;
const TAG_JSON = 0x4a; // 'J'
const TAG_V8 = 0x56; // 'V'

/** Default bytes of the call area (SQL and parameters of one batch): 64 KiB. */
export const DEFAULT_CALL_BYTES = 64 * 1024;
/** Default bytes of the result area (rows of one batch): 1 MiB. */
export const DEFAULT_RESULT_BYTES = 1024 * 1024;
/**
 * Default spin before blocking, µs, on both sides: 50. Long enough to catch the next
 * call of a caller issuing lookups back to back and the result of a warm lookup
 * (~5–15 µs in the worker); short enough that a long query costs the main thread at
 * most this much spinning per call.
 */
export const DEFAULT_SPIN_MICROS = 50;

/** The default clock of a spin: `performance.now()`, ms. */
const performanceNow = (): number => performance.now();

/** Longest asynchronous wait before the main thread reads the result word again, ms. */
const WAIT_RECHECK_MS = 100;

/** A new lane buffer: control words, call area, result area. */
export function newLaneBuffer(callBytes = DEFAULT_CALL_BYTES, resultBytes = DEFAULT_RESULT_BYTES): SharedArrayBuffer {
  return new SharedArrayBuffer(CONTROL_BYTES + callBytes + resultBytes);
}

/** True when JSON carries `value` exactly (so JSON.parse(JSON.stringify(v)) deep-equals v, with the same types). */
export function jsonExact(value: unknown, depth = 0): boolean {
  switch (typeof value) {
    case 'string':
    case 'boolean':
      return true;
    case 'number':
      return Number.isFinite(value) && !Object.is(value, -0);
    case 'object': {
      if (value === null) return true;
      if (depth > 8) return false;
      if (Array.isArray(value)) {
        for (const v of value) if (!jsonExact(v, depth + 1)) return false;
        return true;
      }
      const proto = Object.getPrototypeOf(value) as unknown;
      if (proto !== Object.prototype && proto !== null) return false;
      for (const k in value) if (!jsonExact((value as Record<string, unknown>)[k], depth + 1)) return false;
      return true;
    }
    default:
      return false;
  }
}

/**
 * Write `value` into `area` (tag byte, then JSON or v8 bytes). Returns the bytes written,
 * or -1 when it does not fit. `area` is a Buffer over the lane, so JSON is written by
 * Node's native UTF-8 encoder without an intermediate array.
 */
export function encodeInto(value: unknown, area: Buffer): number {
  if (area.length < 1) return -1;
  if (jsonExact(value)) {
    const json = JSON.stringify(value);
    const written = area.write(json, 1, 'utf8');
    // An area (nearly) full may mean a cut string — write stops at the last whole
    // character that fits, up to 3 bytes short of the end: measure only then.
    if (written > area.length - 5 && Buffer.byteLength(json) !== written) return -1;
    area[0] = TAG_JSON;
    return written + 1;
  }
  const bytes = serialize(value);
  if (bytes.length + 1 > area.length) return -1;
  area[0] = TAG_V8;
  area.set(bytes, 1);
  return bytes.length + 1;
}

/** Read what {@link encodeInto} wrote (`length` bytes of `area`). */
export function decodeFrom(area: Buffer, length: number): unknown {
  if (area[0] === TAG_JSON) return JSON.parse(area.toString('utf8', 1, length)) as unknown;
  // v8.deserialize needs its own bytes: the lane area is reused by the next call.
  return deserialize(Buffer.from(area.subarray(1, length)));
}

/**
 * How long to spin before blocking, adapted to how spinning has been paying. A spin that
 * runs out now and then (a GC pause, a page fetched) is normal; four in a row mean the
 * peer is slow — a long query, an idle caller, or a machine whose cores are busy, where
 * a spinning thread takes the core its peer needs — and the next `backoff` waits block
 * at once (16, doubling while the spins tried in between keep running out, up to 4,096).
 * One spin that pays resets it. (Backing off after every single miss was measured to
 * cost more than it saves: 21–23 µs a warm lookup against 13–15 µs.)
 *
 * A spin is measured on the clock `now` (ms): `performance.now()` unless a test injects
 * one — a clock that moves a fixed step per read makes a spin a fixed number of
 * iterations, and one that stands still makes it last until the word changes.
 */
export class SpinBudget {
  readonly #micros: number;
  readonly #now: () => number;
  #skip = 0;
  #backoff = 16;
  /** Spins in a row that ran out. */
  #misses = 0;

  /**
   * @param micros µs of one spin on `now`'s clock (0: never spin).
   * @param now the clock, ms (default `performance.now()`).
   */
  constructor(micros: number, now: () => number = performanceNow) {
    this.#micros = micros;
    this.#now = now;
  }

  /**
   * Spin until `i32[index]` differs from `differsFrom`, the budget runs out, or `stop`
   * says the peer needs this thread; returns the value last read.
   */
  spinUntil(i32: Int32Array, index: number, differsFrom: number, stop?: () => boolean): number {
    let v = Atomics.load(i32, index);
    if (v !== differsFrom || this.#micros <= 0) return v;
    if (this.#skip > 0) {
      this.#skip--;
      return v;
    }
    const now = this.#now;
    const end = now() + this.#micros / 1000;
    let stopped = false;
    do v = Atomics.load(i32, index);
    while (v === differsFrom && !(stopped = stop?.() === true) && now() < end);
    if (v !== differsFrom) {
      this.#misses = 0;
      this.#backoff = 16;
    } else if (!stopped && ++this.#misses >= 4) {
      this.#skip = this.#backoff;
      this.#backoff = Math.min(this.#backoff * 2, 4096);
    }
    return v;
  }
}

function spinBudget(spin: number | SpinBudget): SpinBudget {
  return typeof spin === 'number' ? new SpinBudget(spin) : spin;
}

/** How the main thread gets the result of a call it posted on the lane. */
export type LaneOutcome =
  | { kind: 'results'; results: WorkerResult[] }
  | { kind: 'by-message' }
  /** The lane was abandoned ({@link LaneMain.abandon}) before an answer came. */
  | { kind: 'abandoned' };

/**
 * The main thread's end of the lane.
 *
 * `tryPost` claims the lane and writes a batch when the worker is listening and the batch
 * fits; `collect` then gives the results, synchronously when they arrive within the spin
 * and otherwise through `Atomics.waitAsync`. `noteMessage` must be called for every call
 * message posted to the worker, before posting it.
 */
export class LaneMain {
  readonly #i32: Int32Array;
  readonly #calls: Buffer;
  readonly #results: Buffer;
  readonly #spin: SpinBudget;
  readonly #peerNeedsUs: (() => boolean) | undefined;
  #busy = false;
  #abandoned = false;

  /**
   * @param spin µs to spin for a result before waiting asynchronously (0: never spin), or
   *   the {@link SpinBudget} to spin with (a test's, on its own clock).
   * @param peerNeedsUs true when the worker waits for this thread (a page-bridge request
   *   posted: it can only be answered from the event loop), which ends a spin at once.
   */
  constructor(buffer: SharedArrayBuffer, callBytes = DEFAULT_CALL_BYTES, spin: number | SpinBudget = DEFAULT_SPIN_MICROS, peerNeedsUs?: () => boolean) {
    this.#i32 = new Int32Array(buffer, 0, CONTROL_BYTES / 4);
    this.#calls = Buffer.from(buffer, CONTROL_BYTES, callBytes);
    this.#results = Buffer.from(buffer, CONTROL_BYTES + callBytes);
    this.#spin = spinBudget(spin);
    this.#peerNeedsUs = peerNeedsUs;
  }

  /** A lane call is posted and its result not yet collected. */
  get busy(): boolean {
    return this.#busy;
  }

  /**
   * Post `calls` on the lane. False (nothing posted) when a lane call is outstanding, the
   * worker is not listening, or the batch does not fit in the call area: send a message.
   */
  tryPost(calls: readonly WorkerCall[]): boolean {
    if (this.#busy) return false;
    const i32 = this.#i32;
    if (Atomics.compareExchange(i32, W.LANE, LANE.LISTENING, LANE.CLAIMED) !== LANE.LISTENING) return false;
    const length = encodeInto(calls, this.#calls);
    if (length < 0) {
      // Too big: hand the lane back to the listening worker untouched.
      Atomics.store(i32, W.LANE, LANE.LISTENING);
      return false;
    }
    Atomics.store(i32, W.CALL_LEN, length);
    Atomics.store(i32, W.RESULT, RESULT.NONE);
    Atomics.store(i32, W.LANE, LANE.POSTED);
    Atomics.notify(i32, W.LANE);
    this.#busy = true;
    return true;
  }

  /**
   * The outcome of the posted call: returned directly when the worker answers within the
   * spin, else a promise settled by `Atomics.waitAsync` (the event loop stays free).
   */
  collect(): LaneOutcome | Promise<LaneOutcome> {
    const state = this.#spin.spinUntil(this.#i32, W.RESULT, RESULT.NONE, this.#peerNeedsUs);
    if (state !== RESULT.NONE) return this.#take(state);
    return this.#wait();
  }

  /**
   * Wait for the result word to leave `NONE` without blocking this thread. The word is
   * read again after every wake-up: `Atomics.waitAsync` has been seen here to settle
   * with the word unchanged (under the CPU profiler), and taking that as an answer would
   * hand the previous call's results to this one. Each wait also ends after
   * {@link WAIT_RECHECK_MS}, so a lost wake-up costs at most that long.
   */
  async #wait(): Promise<LaneOutcome> {
    for (;;) {
      if (this.#abandoned) return { kind: 'abandoned' };
      const state = Atomics.load(this.#i32, W.RESULT);
      if (state !== RESULT.NONE) return this.#take(state);
      const wait = Atomics.waitAsync(this.#i32, W.RESULT, RESULT.NONE, WAIT_RECHECK_MS);
      if (wait.async) await wait.value;
    }
  }

  /**
   * Stop waiting for an answer that will not come (the worker is gone or closed): an
   * asynchronous wait ends with `abandoned` at its next wake-up, and nothing more is
   * posted. Idempotent.
   */
  abandon(): void {
    this.#abandoned = true;
    this.#busy = true;
    Atomics.notify(this.#i32, W.RESULT);
  }

  /** Record a call message about to be posted, and wake a listening worker to read it. */
  noteMessage(): void {
    Atomics.add(this.#i32, W.MAIL, 1);
    if (Atomics.compareExchange(this.#i32, W.LANE, LANE.LISTENING, LANE.AWAY) === LANE.LISTENING) {
      Atomics.notify(this.#i32, W.LANE);
    }
  }

  #take(state: number): LaneOutcome {
    this.#busy = false;
    if (state === RESULT.BY_MESSAGE) return { kind: 'by-message' };
    const results = decodeFrom(this.#results, Atomics.load(this.#i32, W.RESULT_LEN)) as WorkerResult[];
    return { kind: 'results', results };
  }
}

/**
 * The worker's end of the lane: `listen` after each batch, `answer` with its results.
 */
export class LaneWorker {
  readonly #i32: Int32Array;
  readonly #calls: Buffer;
  readonly #results: Buffer;
  readonly #spin: SpinBudget;
  /** Call messages read by the worker's event loop. */
  #mailRead = 0;

  /** @param spin µs to spin for the next call before blocking (0: block at once), or the {@link SpinBudget} to spin with. */
  constructor(buffer: SharedArrayBuffer, callBytes = DEFAULT_CALL_BYTES, spin: number | SpinBudget = DEFAULT_SPIN_MICROS) {
    this.#i32 = new Int32Array(buffer, 0, CONTROL_BYTES / 4);
    this.#calls = Buffer.from(buffer, CONTROL_BYTES, callBytes);
    this.#results = Buffer.from(buffer, CONTROL_BYTES + callBytes);
    this.#spin = spinBudget(spin);
  }

  /** Count a call message the event loop delivered. */
  mailRead(): void {
    this.#mailRead++;
  }

  /**
   * Open the lane to calls (from the event loop: before answering a message, so that the
   * caller's next call finds it open). False, and the lane stays `AWAY`, while a message
   * is unread: the event loop must deliver it first.
   */
  open(): boolean {
    const i32 = this.#i32;
    const lane = Atomics.load(i32, W.LANE);
    if (lane === LANE.AWAY || lane === LANE.RUNNING) Atomics.store(i32, W.LANE, LANE.LISTENING);
    // Mail posted before LISTENING was visible would never wake us: look after. (The
    // swap cannot fail here: the main thread posts on the lane only when no call is
    // pending, so never while a call message is unread; if it did, `listen` takes the call.)
    return !(Atomics.load(i32, W.MAIL) !== this.#mailRead
      && Atomics.compareExchange(i32, W.LANE, LANE.LISTENING, LANE.AWAY) === LANE.LISTENING);
  }

  /**
   * Wait on the lane for the next batch (spin, then block). Returns it, or undefined when
   * a message is waiting for the event loop (then the lane is `AWAY`).
   */
  listen(): WorkerCall[] | undefined {
    const i32 = this.#i32;
    if (!this.open()) return undefined;
    for (;;) {
      let state = this.#spin.spinUntil(i32, W.LANE, LANE.LISTENING);
      if (state === LANE.LISTENING) {
        Atomics.wait(i32, W.LANE, LANE.LISTENING);
        state = Atomics.load(i32, W.LANE);
      }
      if (state === LANE.POSTED) {
        Atomics.store(i32, W.LANE, LANE.RUNNING);
        return decodeFrom(this.#calls, Atomics.load(i32, W.CALL_LEN)) as WorkerCall[];
      }
      if (state === LANE.AWAY) return undefined;
      // CLAIMED: the main thread is writing the call; LISTENING: a spurious wake-up.
    }
  }

  /**
   * Write the results of the batch `listen` returned; false when they did not fit (send
   * them as a message). The lane is `LISTENING` again *before* the result is visible, so
   * a caller that answers a result with its next call finds the lane open.
   */
  answer(results: readonly WorkerResult[]): boolean {
    const i32 = this.#i32;
    const length = encodeInto(results, this.#results);
    Atomics.store(i32, W.LANE, LANE.LISTENING);
    if (length < 0) {
      Atomics.store(i32, W.RESULT, RESULT.BY_MESSAGE);
      Atomics.notify(i32, W.RESULT);
      return false;
    }
    Atomics.store(i32, W.RESULT_LEN, length);
    Atomics.store(i32, W.RESULT, RESULT.READY);
    Atomics.notify(i32, W.RESULT);
    return true;
  }
}
