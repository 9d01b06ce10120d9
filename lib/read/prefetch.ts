/**
 * The prefetch window of one LTX file: how many bytes of following frames a miss may
 * read along with the frame it needs. Sequential misses (each just after the frames the
 * previous read covered — a table or index scan over pages stored in pgno order) double
 * the window up to a maximum; any other miss resets it, so random point lookups read
 * single frames (docs/architecture.md, performance principles: count round trips before bytes).
 */

/** Prefetch options (bytes). */
export interface PrefetchOptions {
  /** Window after a random miss: 0 = only the frame asked for. Default 0. */
  minWindowBytes?: number;
  /** Largest window a run of sequential misses grows to. Default 1 MiB: ~256 pages of 4 KiB in one read, past which larger reads stop paying for themselves on a local disk and S3 alike. */
  maxWindowBytes?: number;
}

/** Default largest prefetch window, bytes. */
export const DEFAULT_MAX_WINDOW_BYTES = 1024 * 1024;

/** Frames a miss may land past the previous read's end and still count as sequential. */
export const SEQUENTIAL_SLACK = 8;

/** First window of a sequential run, bytes (doubles from here). */
const FIRST_SEQUENTIAL_WINDOW = 32 * 1024;

/** Per-file sequential-access detector. */
export class PrefetchWindow {
  readonly #min: number;
  readonly #max: number;
  #window: number;
  /** Entry just after the last frame read, or -1. */
  #expected = -1;
  /** Sequential misses in a row. */
  #run = 0;
  /** The run one out-of-order miss interrupted (e.g. an interior page stored far ahead), resumable by the next miss. */
  #saved: { expected: number; run: number; window: number } | undefined;

  constructor(options: PrefetchOptions = {}) {
    this.#min = Math.max(0, options.minWindowBytes ?? 0);
    this.#max = Math.max(this.#min, options.maxWindowBytes ?? DEFAULT_MAX_WINDOW_BYTES);
    this.#window = this.#min;
  }

  /**
   * The byte budget for a miss on frame number `entry` of the file. A miss counts as
   * sequential when it lands at most {@link SEQUENTIAL_SLACK} frames past the end of the
   * previous read (frames SQLite already had cached in between, such as interior pages
   * stored among the leaves, do not break a scan). The window widens from the second
   * sequential miss in a row, so one neighbouring read (the schema at open, then a table
   * root) does not turn a point lookup into a prefetch.
   */
  next(entry: number): number {
    const near = (expected: number): boolean => expected >= 0 && entry >= expected && entry - expected <= SEQUENTIAL_SLACK;
    let sequential = near(this.#expected);
    if (!sequential && this.#saved !== undefined && near(this.#saved.expected)) {
      // The scan goes on after one miss elsewhere (SQLite read the next subtree's
      // interior page, stored far ahead): pick the run up where it was.
      ({ run: this.#run, window: this.#window } = this.#saved);
      sequential = true;
    }
    this.#saved = sequential || this.#run < 2 ? undefined : { expected: this.#expected, run: this.#run, window: this.#window };
    this.#run = sequential ? this.#run + 1 : 0;
    if (this.#run >= 2) {
      this.#window = Math.min(this.#max, Math.max(FIRST_SEQUENTIAL_WINDOW, this.#window * 2));
    } else {
      this.#window = this.#min;
    }
    return this.#window;
  }

  /** Record that the read covered frames up to `lastEntry`. */
  consumed(lastEntry: number): void {
    this.#expected = lastEntry + 1;
  }
}
