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
 * pays nothing for the pool); else the least busy. A connection on which an
 * `iterate()` holds a statement open (and with it a read snapshot: SQLite runs every
 * statement of a connection in the read transaction an unfinished statement keeps open)
 * is taken only when every connection holds one.
 *
 * Each pooled connection has its own view of the shared reader and takes the newest
 * version at each read transaction, as the primary does; the primary's commits become
 * the reader's version before COMMIT returns, so a read made after a write has settled
 * sees it on any connection (read-your-writes; the Database also starts a pooled read
 * only after the writes made before it have settled: lib/sql/core.ts).
 */
import { closedError } from './errors.js';
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

/** One connection reads can run on, with its load. @internal */
export class Lane {
  readonly ops: EngineOps;
  readonly #hand: <T>(op: (ops: EngineOps) => Promise<T>) => Promise<T>;
  /** Calls handed over and not settled. */
  pending = 0;
  /** Iterations holding a statement open on it. */
  held = 0;

  /** `hand(op)` hands `op` to the connection (the primary's goes through its lock). */
  constructor(ops: EngineOps, hand: <T>(op: (ops: EngineOps) => Promise<T>) => Promise<T>) {
    this.ops = ops;
    this.#hand = hand;
  }

  /** Run `op` on this connection, counted while it runs. */
  run<T>(op: (ops: EngineOps) => Promise<T>): Promise<T> {
    return this.track(() => this.#hand(op));
  }

  /** Count `call` (already bound to this connection) as pending until it settles. */
  track<T>(call: () => Promise<T>): Promise<T> {
    this.pending++;
    let p: Promise<T>;
    try {
      p = call();
    } catch (err) {
      this.pending--;
      return Promise.reject(err);
    }
    return p.finally(() => {
      this.pending--;
    });
  }
}

/** A connection held by one iteration: its batches run there until `release()`. @internal */
export interface HeldLane {
  run<T>(op: (ops: EngineOps) => Promise<T>): Promise<T>;
  release(): void;
}

/** Load of a held lane in the choice: taken only when every lane holds an iteration. */
const HELD_WEIGHT = 1_000_000;

/** The read connections of one Database (module doc). @internal */
export class ReadPool {
  readonly #lanes: Lane[];
  readonly #size: number;
  readonly #open: () => Promise<PooledConnection>;
  readonly #connections: PooledConnection[] = [];
  #opening = 0;
  #openings: Promise<unknown>[] = [];
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
  }

  /** Run one read on the connection the module doc's rule picks. @throws LtxvfsError `LTXVFS_ERR_CLOSED`; the read's errors. */
  async read<T>(op: (ops: EngineOps) => Promise<T>): Promise<T> {
    const lane = await this.#choose();
    if (lane !== this.#lanes[0]) this.#pooledReads++;
    return lane.run(op);
  }

  /** Hold a connection for one iteration (module doc): release it when the iteration ends. */
  async hold(): Promise<HeldLane> {
    const lane = await this.#choose();
    if (lane !== this.#lanes[0]) this.#pooledReads++;
    lane.held++;
    let released = false;
    return {
      run: (op) => lane.run(op),
      release: () => {
        if (!released) lane.held--;
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

  /** Close every pooled connection (after the calls handed to it), including those still opening. Idempotent. */
  async close(): Promise<void> {
    this.#closed = true;
    await Promise.allSettled(this.#openings);
    await Promise.allSettled(this.#connections.map((c) => c.close()));
  }

  #choose(): Lane | Promise<Lane> {
    if (this.#closed) throw closedError();
    const idle = this.#lanes.find((l) => l.pending === 0 && l.held === 0);
    if (idle !== undefined) return idle;
    if (!this.#full && this.#lanes.length + this.#opening < this.#size) return this.#grow();
    let best = this.#lanes[0];
    let bestLoad = Infinity;
    for (const lane of this.#lanes) {
      // The primary last among equals: its writes and transactions come first there.
      const load = lane.pending + lane.held * HELD_WEIGHT + (lane === this.#lanes[0] ? 0.5 : 0);
      if (load < bestLoad) {
        best = lane;
        bestLoad = load;
      }
    }
    return best;
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
      this.#full = true;
      return this.#choose();
    } finally {
      this.#opening--;
    }
    this.#connections.push(connection);
    if (this.#closed) {
      await connection.close();
      throw closedError();
    }
    const lane = new Lane(connection.ops, (op) => op(connection.ops));
    this.#lanes.push(lane);
    return lane;
  }
}
