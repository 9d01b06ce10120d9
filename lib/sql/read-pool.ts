/**
 * The read pool of a Database (issue 14 item 1, "reads run concurrently on a small pool
 * of read connections"): reads made outside a transaction run on any of up to
 * `readConnections` connections over the replica's one shared reader — the primary
 * connection (the one that writes and holds the lease) and read-only connections opened
 * beside it in the same engine — so a long scan on one connection does not hold up point
 * lookups on the others. Which calls are reads: lib/sql/read-routing.ts.
 *
 * Choosing a connection ({@link ReadPool.read}): the first idle one, the primary first
 * (serial use never opens another); when none is idle and fewer than `readConnections`
 * are open, a new read-only connection (opened on demand, so an idle or serial service
 * pays nothing for the pool); else the read waits in call order for the first connection
 * to become idle — never queued behind a long call on a busy one. A connection on which
 * an `iterate()` holds a statement open (and with it a read snapshot: SQLite runs every
 * statement of a connection in the read transaction an unfinished statement keeps open)
 * is not idle until the iteration ends; only when every connection holds one does a read
 * join the least busy (it may then see that iteration's snapshot).
 *
 * Each pooled connection has its own view of the shared reader and takes the newest
 * version at each read transaction, as the primary does; the primary's commits become
 * the reader's version before COMMIT returns, so a read made after a write has settled
 * sees it on any connection (read-your-writes; the Database also starts a pooled read
 * only after the writes made before it have settled: lib/sql/core.ts).
 */
import { closedError } from './errors.js';
import type { Now } from './now.js';
import type { EngineOps } from './statement.js';

/** A read-only connection a pool opens: its operations (run in call order by its engine) and its close. @internal */
export interface PooledConnection {
  readonly ops: EngineOps;
  /** Close the connection after the calls handed to it (idempotent). */
  close(): Promise<void>;
}

/** What `stats()` adds for a database opened with a read pool. */
export interface ReadPoolStats {
  /** Connections reads run on now: the primary and the pooled ones opened so far (≤ `readConnections`). */
  readConnections: number;
  /** Reads (calls and iterations) that ran on a pooled connection rather than the primary. */
  pooledReads: number;
}

/** Hands `op` to a connection: `op`'s answer itself when handed over at once, else a Promise of it. */
type Hand = <T>(op: (ops: EngineOps) => Now<T>) => Now<T>;

/** One connection reads can run on, with its load. @internal */
export class Lane {
  readonly ops: EngineOps;
  readonly #hand: Hand;
  /** Calls handed over (or reserved) and not settled. */
  pending = 0;
  /** Iterations holding a statement open on it. */
  held = 0;
  /** Called when it has nothing pending and holds no iteration. */
  onIdle: ((lane: Lane) => void) | undefined;
  /** Called after every call or iteration it ran has settled. */
  onRelease: (() => void) | undefined;

  /** `hand(op)` hands `op` to the connection (the primary's goes through its lock). */
  constructor(ops: EngineOps, hand: Hand) {
    this.ops = ops;
    this.#hand = hand;
  }

  get idle(): boolean {
    return this.pending === 0 && this.held === 0;
  }

  /** Run `op` on this connection, counted while it runs. */
  run<T>(op: (ops: EngineOps) => Promise<T>): Promise<T> {
    return this.track(() => this.#hand(op) as Promise<T>);
  }

  /** Count `call` (bound to this connection) as pending until it settles. */
  track<T>(call: () => Promise<T>): Promise<T> {
    this.pending++;
    return this.settle(call);
  }

  /** Run `op` here on a reservation made by the pool (`pending` already counts it); `op`'s answer itself when it had one at once. */
  runReserved<T>(op: (ops: EngineOps) => Promise<T>): Promise<T>;
  runReserved<T>(op: (ops: EngineOps) => Now<T>): Now<T>;
  runReserved<T>(op: (ops: EngineOps) => Now<T>): Now<T> {
    return this.settle(() => this.#hand(op));
  }

  /** Run `call`, then give back the one pending count it holds (at once when `call` answered at once). */
  settle<T>(call: () => Promise<T>): Promise<T>;
  settle<T>(call: () => Now<T>): Now<T>;
  settle<T>(call: () => Now<T>): Now<T> {
    let p: Now<T>;
    try {
      p = call();
    } catch (err) {
      p = Promise.reject(err);
    }
    if (p instanceof Promise) return p.finally(() => this.release());
    this.release();
    return p;
  }

  /** Give back one pending count (or, with `held`, one held iteration). */
  release(held = false): void {
    if (held) this.held--;
    else this.pending--;
    if (this.idle) this.onIdle?.(this);
    this.onRelease?.();
  }
}

/** A connection held by one iteration: its batches run there until `release()`. @internal */
export interface HeldLane {
  run<T>(op: (ops: EngineOps) => Promise<T>): Promise<T>;
  release(): void;
}

/** A read waiting for a connection to become idle. */
interface Waiter {
  resolve(lane: Lane): void;
  reject(err: unknown): void;
}

/** The read connections of one Database (module doc). @internal */
export class ReadPool {
  readonly #lanes: Lane[];
  readonly #size: number;
  readonly #open: () => Promise<PooledConnection>;
  readonly #connections: PooledConnection[] = [];
  /** Connections being opened. */
  #opening = 0;
  readonly #openings: Promise<unknown>[] = [];
  /** Reads waiting for a connection, in call order. */
  readonly #queue: Waiter[] = [];
  /** `close()` waiting for the reads made before it. */
  readonly #released: (() => void)[] = [];
  /** Set when opening a pooled connection failed: the pool stays at the connections it has. */
  #full = false;
  #closed = false;
  #pooledReads = 0;

  /**
   * @param primary the primary connection's lane.
   * @param size connections reads may use, the primary included (≥ 2 for a pool to exist).
   * @param open opens one more read-only connection in the primary's engine over the same reader.
   */
  constructor(primary: Lane, size: number, open: () => Promise<PooledConnection>) {
    this.#lanes = [primary];
    this.#size = size;
    this.#open = open;
    primary.onIdle = (lane) => this.#handOver(lane);
    primary.onRelease = () => this.#notifyReleased();
  }

  /** Run one read on the connection the module doc's rule picks. @throws LtxvfsError `LTXVFS_ERR_CLOSED`; the read's errors. */
  read<T>(op: (ops: EngineOps) => Promise<T>): Promise<T>;
  /** As `read`, for an `op` that may answer at once: on an idle connection its answer comes back as it is. */
  read<T>(op: (ops: EngineOps) => Now<T>): Now<T>;
  read<T>(op: (ops: EngineOps) => Now<T>): Now<T> {
    // Chosen and reserved in this tick: reads made together spread over the connections.
    const lane = this.#reserve();
    return lane instanceof Lane ? this.#counted(lane).runReserved(op) : lane.then((l) => this.#counted(l).runReserved(op));
  }

  /** Hold a connection for one iteration (module doc): release it when the iteration ends. */
  async hold(): Promise<HeldLane> {
    const reserved = this.#reserve();
    const lane = this.#counted(reserved instanceof Lane ? reserved : await reserved);
    // The reservation becomes the hold (not idle in between).
    lane.held++;
    lane.release();
    let released = false;
    return {
      run: (op) => lane.run(op),
      release: () => {
        if (!released) lane.release(true);
        released = true;
      },
    };
  }

  /** The lane whose connection is `ops`, if any. */
  laneOf(ops: EngineOps): Lane | undefined {
    return this.#lanes.find((l) => l.ops === ops);
  }

  stats(): ReadPoolStats {
    return { readConnections: this.#lanes.length, pooledReads: this.#pooledReads };
  }

  /**
   * Close every pooled connection, including those still opening, once the reads made
   * before have run (those waiting for a connection too); later reads fail with
   * `LTXVFS_ERR_CLOSED`. Idempotent.
   */
  async close(): Promise<void> {
    this.#closed = true;
    await Promise.allSettled(this.#openings);
    const busy = (): boolean => this.#queue.length > 0 || this.#lanes.some((l) => l !== this.#lanes[0] && l.pending > 0);
    while (busy()) await new Promise<void>((resolve) => this.#released.push(resolve));
    await Promise.allSettled(this.#connections.map((c) => c.close()));
  }

  #notifyReleased(): void {
    for (const resolve of this.#released.splice(0)) resolve();
  }

  #counted(lane: Lane): Lane {
    if (lane !== this.#lanes[0]) this.#pooledReads++;
    return lane;
  }

  /**
   * A lane for one read, its `pending` already counting it: an idle one; else a new
   * connection while fewer than `size` are open; else the first to become idle — unless
   * every lane holds an iteration (none may ever become idle): then the least busy.
   */
  #reserve(): Lane | Promise<Lane> {
    if (this.#closed) return Promise.reject(closedError());
    const idle = this.#lanes.find((l) => l.idle);
    if (idle !== undefined) {
      idle.pending++;
      return idle;
    }
    if (!this.#full && this.#lanes.length + this.#opening < this.#size) return this.#grow();
    if (this.#opening > 0 || this.#lanes.some((l) => l.held === 0)) {
      return new Promise<Lane>((resolve, reject) => this.#queue.push({ resolve, reject }));
    }
    let best = this.#lanes[0];
    for (const lane of this.#lanes) if (lane.pending < best.pending) best = lane;
    best.pending++;
    return best;
  }

  /** `lane` became idle: the longest-waiting read takes it. */
  #handOver(lane: Lane): void {
    const waiter = this.#queue.shift();
    if (waiter === undefined) return;
    lane.pending++;
    waiter.resolve(lane);
  }

  async #grow(): Promise<Lane> {
    this.#opening++;
    const opening = this.#open();
    this.#openings.push(opening);
    let connection: PooledConnection;
    try {
      connection = await opening;
    } catch {
      // No more connections (memory, a worker that cannot start): serve from those open.
      this.#opening--;
      this.#full = true;
      return this.#reserve();
    }
    this.#opening--;
    this.#connections.push(connection);
    if (this.#closed) {
      await connection.close();
      throw closedError();
    }
    const lane = new Lane(connection.ops, (op) => op(connection.ops));
    lane.onIdle = (l) => this.#handOver(l);
    lane.onRelease = () => this.#notifyReleased();
    this.#lanes.push(lane);
    lane.pending++;
    return lane;
  }
}
