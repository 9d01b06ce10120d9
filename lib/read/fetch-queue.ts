/**
 * The fetch queue: where every range read of the read path waits for its turn, in two
 * lanes (issue 15 item 1, "foreground before background").
 *
 * - **Foreground** (a p-queue of `concurrency` slots): reads SQLite is waiting for
 *   (`demand`, priority {@link DEMAND_PRIORITY}) and a sequential scan's read-ahead
 *   (`readahead`, {@link READAHEAD_PRIORITY}, sent right away while slots are free, but a
 *   demand read queued behind it goes first).
 * - **Background** (a second p-queue of `backgroundConcurrency` slots, its own priorities:
 *   warm-up and prefetch 0, verification −1): a background read is sent only once the
 *   foreground lane has had nothing waiting or running for `quietMs` (a B-tree descent
 *   leaves the lane empty for a moment between its reads; a background read sent into
 *   that gap would hold the link while the next page SQLite needs waits; once waited out, the
 *   quiet holds until the next foreground read, so the reads after it go back to back). Background reads
 *   never take a foreground slot, so a demand read never waits for one to finish. Until
 *   the first query has read a page (or `firstQueryDelayMs` has passed since the first
 *   background read was queued), none is sent: a reader just opened keeps the link for
 *   its first query (the background verification a page served at open starts went out
 *   whenever the caller took more than the quiet time to send that query).
 *
 * p-queue gives the priorities and `setPriority` (a read-ahead SQLite catches up with is
 * raised to demand); moving a queued background read to the foreground (SQLite needs a
 * frame a warm-up range covers) is {@link QueuedRead.promote}: the read runs from the
 * foreground lane and its background entry, when its turn comes, finds it started and
 * does nothing. A read that no longer matters decides so itself when it starts (its task
 * returns without reading).
 */
import PQueue from 'p-queue';

/** Priority of a read SQLite waits for. */
export const DEMAND_PRIORITY = 2;
/** Priority of a sequential scan's read-ahead. */
export const READAHEAD_PRIORITY = 1;
/** Priority of warm-up and prefetch reads (background lane). */
export const WARMUP_PRIORITY = 0;
/** Priority of background verification reads (background lane). */
export const VERIFY_PRIORITY = -1;

/** Default background reads in flight at once: 2, so they never hold most of a connection pool. */
export const DEFAULT_BACKGROUND_CONCURRENCY = 2;

/**
 * Default quiet time before a background read is sent, ms. 20 ms covers the gap between a
 * B-tree descent's reads (SQLite working on a page, or the request crossing threads on the
 * worker engine) at the cost of starting background work 20 ms after the foreground goes quiet.
 */
export const DEFAULT_QUIET_MS = 20;

/** Time as the fetch queue sees it: injectable so tests decide when time passes. */
export interface FetchClock {
  /** Resolves after `ms` milliseconds. */
  sleep(ms: number): Promise<void>;
}

/** The real clock. */
export const SYSTEM_CLOCK: FetchClock = {
  sleep: (ms) => new Promise((resolve) => setTimeout(resolve, ms)),
};

/** Options of {@link FetchQueue}. */
export interface FetchQueueOptions {
  /** Foreground range reads in flight at once. Default 8: enough to hide object-store latency, few enough for one keep-alive pool. */
  concurrency?: number;
  /** Background reads (warm-up, prefetch, verification) in flight at once. Default {@link DEFAULT_BACKGROUND_CONCURRENCY}. */
  backgroundConcurrency?: number;
  /** How long the foreground must be quiet before a background read is sent, ms. Default {@link DEFAULT_QUIET_MS}. */
  quietMs?: number;
  /** The clock the quiet time is measured with. Default {@link SYSTEM_CLOCK}. */
  clock?: FetchClock;
  /**
   * How long background reads wait for the first query's first demand read, from the first
   * background read queued, ms (unless a demand read came before it). Default
   * {@link DEFAULT_FIRST_QUERY_DELAY_MS}.
   */
  firstQueryDelayMs?: number;
}

/** Default wait of background reads for the first query, ms. */
export const DEFAULT_FIRST_QUERY_DELAY_MS = 250;

/** Which lane and priority a read queues with. */
export type ReadLane = 'demand' | 'readahead' | 'background';

/** A read handed to the queue. */
export interface QueuedRead<T> {
  /** Settles with the task's outcome. */
  readonly result: Promise<T>;
  /** Whether the task has started (was sent). */
  readonly started: boolean;
  /** SQLite waits for this read now: run it next in the foreground lane if it has not started. */
  promote(): void;
}

/** The two-lane fetch queue (see the module comment). */
export class FetchQueue {
  readonly #fg: PQueue;
  readonly #bg: PQueue;
  readonly #quietMs: number;
  readonly #clock: FetchClock;
  #ids = 0;
  /** Called at the next demand read (a query's first page read after the warm-up asked to start). */
  #demandWaiters: (() => void)[] = [];
  /** Foreground reads queued so far. */
  #fgQueued = 0;
  /** `#fgQueued` when the foreground was last found quiet (−1: never): quiet holds until the next one. */
  #quietAt = -1;
  /** Whether a demand read has been queued yet. */
  #demanded = false;
  readonly #firstQueryDelayMs: number;
  /** What background reads wait for first: the first query (see the module comment). */
  #firstQuery: Promise<void> | undefined;

  constructor(options: FetchQueueOptions = {}) {
    this.#fg = new PQueue({ concurrency: options.concurrency ?? 8 });
    this.#bg = new PQueue({ concurrency: options.backgroundConcurrency ?? DEFAULT_BACKGROUND_CONCURRENCY });
    this.#quietMs = options.quietMs ?? DEFAULT_QUIET_MS;
    this.#clock = options.clock ?? SYSTEM_CLOCK;
    this.#firstQueryDelayMs = options.firstQueryDelayMs ?? DEFAULT_FIRST_QUERY_DELAY_MS;
  }

  /** Foreground slots. */
  get concurrency(): number {
    return this.#fg.concurrency;
  }

  /** Foreground reads waiting (p-queue's `size`). */
  get size(): number {
    return this.#fg.size;
  }

  /** Foreground reads running (p-queue's `pending`). */
  get pending(): number {
    return this.#fg.pending;
  }

  /** Background reads waiting or running. */
  get backgroundBacklog(): number {
    return this.#bg.size + this.#bg.pending;
  }

  /** Settles when the foreground lane has nothing waiting or running. */
  onIdle(): Promise<void> {
    return this.#fg.onIdle();
  }

  /** The clock (so background work elsewhere waits on the same time). */
  get clock(): FetchClock {
    return this.#clock;
  }

  /**
   * Queue `task` in `lane` (background reads at `priority`, default {@link WARMUP_PRIORITY}).
   * `defer` (background lane only), asked when the read's turn comes: a promise to wait for
   * before it queues again (its slot goes to the next background read meanwhile: a warm-up
   * range waiting behind a scan must not hold up the verification of other files), or
   * undefined to go on. A read promoted while it waits runs in the foreground at once.
   * @returns the read: its result, and a way to promote it while it waits.
   */
  schedule<T>(task: () => Promise<T>, lane: ReadLane, priority = WARMUP_PRIORITY, defer?: () => Promise<void> | undefined): QueuedRead<T> {
    let started = false;
    let resolve!: (value: T) => void;
    let reject!: (err: unknown) => void;
    const result = new Promise<T>((res, rej) => { resolve = res; reject = rej; });
    const run = async (): Promise<void> => {
      if (started) return;
      started = true;
      // A task that throws before returning its promise rejects its read like one that rejects.
      await Promise.resolve().then(task).then(resolve, reject);
    };
    const id = String(++this.#ids);
    let promote: () => void;
    if (lane === 'background') {
      const firstQuery = this.firstQuery();
      const enqueue = (): void => {
        void this.#bg.add(async () => {
          await firstQuery;
          await this.#quiet();
          // Deferred: its slot goes to the next background read, and it queues again after the wait
          // (promoted meanwhile, it runs in the foreground and this finds it started).
          const wait = started ? undefined : defer?.();
          if (wait === undefined) await run();
          else void wait.then(enqueue);
        }, { priority });
      };
      enqueue();
      promote = () => {
        if (started) return;
        this.#fgQueued++;
        void this.#fg.add(run, { priority: DEMAND_PRIORITY });
      };
    } else {
      if (lane === 'demand') {
        this.#demanded = true;
        for (const wake of this.#demandWaiters.splice(0)) wake();
      }
      this.#fgQueued++;
      void this.#fg.add(run, { priority: lane === 'demand' ? DEMAND_PRIORITY : READAHEAD_PRIORITY, id });
      promote = () => {
        if (!started && lane === 'readahead') this.#fg.setPriority(id, DEMAND_PRIORITY);
      };
    }
    return { result, get started() { return started; }, promote };
  }

  /** For {@link FileVerifier}'s reads: `task` in the background lane at `priority`. */
  add<T>(task: () => Promise<T>, options: { priority: number }): Promise<T> {
    return this.schedule(task, 'background', options.priority).result;
  }

  /**
   * What background reads wait for before their turn: resolves at the first query's first
   * demand read, or `firstQueryDelayMs` after the first call (at once if a demand read was
   * queued before it). The same promise for every caller.
   */
  firstQuery(): Promise<void> {
    return (this.#firstQuery ??= this.#demanded ? Promise.resolve() : this.nextDemand(this.#firstQueryDelayMs));
  }

  /**
   * Resolves at the next demand read (a query's page SQLite waits for), or after
   * `timeoutMs` without one: warm-up starts behind the first query, not before it.
   */
  nextDemand(timeoutMs: number): Promise<void> {
    return Promise.race([new Promise<void>((resolve) => this.#demandWaiters.push(resolve)), this.#clock.sleep(timeoutMs)]);
  }

  /**
   * Resolves once the foreground lane has had nothing waiting or running for the quiet time.
   * Once that has been waited out, it holds until the next foreground read is queued: the
   * background reads after it go without a quiet time each. Over S3 at 10 ms a request, the
   * warm-up of a 256 MiB database (176–181 reads of ~3.6 KB) took 3.5 s with a quiet time
   * before every read (two slots, each sleeping 20 ms before a 14 ms read), 1.6 s without.
   */
  async #quiet(): Promise<void> {
    for (;;) {
      while (this.#fg.size > 0 || this.#fg.pending > 0) await this.#fg.onIdle();
      if (this.#quietAt === this.#fgQueued) return;
      await this.#clock.sleep(this.#quietMs);
      if (this.#fg.size === 0 && this.#fg.pending === 0) {
        this.#quietAt = this.#fgQueued;
        return;
      }
    }
  }
}
