/**
 * The prefetch window of one LTX file: how many bytes of following frames a miss may
 * read along with the frame it needs, and how many windows a scan reads ahead. Sequential
 * misses (each just after the frames the previous read covered — a table or index scan
 * over pages stored in pgno order) double the window up to a maximum; any other miss
 * resets it, so random point lookups read single frames (docs/architecture.md, performance
 * principles: count round trips before bytes). A run starts only on evidence: two misses on
 * consecutive frames; the slack for frames SQLite had cached in between applies once a run
 * is under way. From the third sequential miss a scan also keeps whole windows in flight
 * ahead of it (issue 15 item 4: scans at the link's rate), 1, 2, then 4 of them, bounded
 * by a byte budget the fetcher gives.
 */

/** Prefetch options (bytes). */
export interface PrefetchOptions {
  /** Window after a random miss: 0 = only the frame asked for. Default 0. */
  minWindowBytes?: number;
  /**
   * Largest window a run of sequential misses grows to. Default 4 MiB: ~1,000 pages of 4 KiB
   * in one read; with read-ahead keeping several in flight, a scan over S3 is bound by the
   * link, not by round trips (1 MiB windows one at a time were: issue 15).
   */
  maxWindowBytes?: number;
}

/** Default largest prefetch window, bytes. */
export const DEFAULT_MAX_WINDOW_BYTES = 4 * 1024 * 1024;

/** Most windows a scan keeps read ahead of the frame it is at. */
export const MAX_READAHEAD_WINDOWS = 4;

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
  /** Entries just past each read-ahead range not yet passed by the scan (ascending). */
  readonly ahead: number[] = [];

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
    // Evidence of a sequence: the frame right after the last read; an established run allows the slack.
    const near = (expected: number, run: number): boolean =>
      expected >= 0 && entry >= expected && entry - expected <= (run >= 2 ? SEQUENTIAL_SLACK : 0);
    let sequential = near(this.#expected, this.#run);
    if (!sequential && this.#saved !== undefined && near(this.#saved.expected, this.#saved.run)) {
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

  /**
   * The scan reached a range read ahead for it (a miss on a frame in flight there): more
   * evidence of the sequence, so the window grows as on a sequential miss.
   */
  caughtUp(): void {
    if (this.#run < 2) return;
    this.#run++;
    this.#window = Math.min(this.#max, Math.max(FIRST_SEQUENTIAL_WINDOW, this.#window * 2));
  }

  /** Record that the read covered frames up to `lastEntry`. */
  consumed(lastEntry: number): void {
    this.#expected = lastEntry + 1;
  }

  /** The entry just after the frames read so far (where read-ahead goes on), or -1. */
  get expected(): number {
    return this.#expected;
  }

  /** The window of the last miss, bytes. */
  get size(): number {
    return this.#window;
  }

  /** Whether a scan is under way here (a run, or one interrupted and resumable): read-ahead still matters. */
  get scanning(): boolean {
    return this.#run >= 2 || this.#saved !== undefined;
  }

  /**
   * How many windows to keep read ahead now: none before the third sequential miss in a
   * row, then 1, 2, 4 ({@link MAX_READAHEAD_WINDOWS}), at most `budgetBytes` of windows
   * (at least one once a run is under way).
   */
  readaheadWindows(budgetBytes: number): number {
    if (this.#run < 3 || this.#window <= 0 || budgetBytes <= 0) return 0;
    const ramp = Math.min(MAX_READAHEAD_WINDOWS, 2 ** (this.#run - 3));
    return Math.max(1, Math.min(ramp, Math.floor(budgetBytes / this.#window)));
  }
}
