/**
 * The fetcher's frames in flight (lib/read/fetcher.ts): one small entry a frame, sharing its
 * range read's promise, and the first pages of landed read-ahead ranges held out of the
 * cache until the scan asks for them (the miss that tells the fetcher where the scan is).
 */
import type { PageCache } from '../cache/index.js';
import type { FrameRef, LtxFile } from '../replica/page-index.js';
import type { QueuedRead } from './fetch-queue.js';
import { MAX_READAHEAD_WINDOWS } from './prefetch.js';

/** One range read. */
export interface RangeRead {
  /** Settles when the read is done: resolves once its pages are cached (and wanted ones in their `page`), rejects with its error. */
  readonly done: Promise<void>;
  /** Its place in the fetch queue (promoted when SQLite needs one of its frames) until it lands. */
  queued: Pick<QueuedRead<unknown>, 'promote' | 'started'> | undefined;
  /** A background read (warm-up, prefetch): its frames not sent yet may be taken over ({@link takeable}). */
  readonly background?: boolean;
}

/** A frame being read by a range read (one small object a frame: the promise is the read's). */
export interface InFlight {
  readonly read: RangeRead;
  /** A `Fetcher.fetch` caller waits for the page itself: it gets an array of its own. */
  wanted: boolean;
  page: Uint8Array | undefined;
  /** The landed first frame of a read-ahead range, kept out of the cache until the scan asks for it ({@link HeldPages}). */
  held?: boolean;
}

/** Most first pages of landed read-ahead ranges held out of the cache at once (the oldest goes into the cache). */
export const MAX_HELD_PAGES = 4 * MAX_READAHEAD_WINDOWS;

/**
 * The fetcher's in-flight entries by frame: per LTX file id, per entry of its page index.
 * Two maps with small-integer keys rather than one keyed by `id × 2^32 + entry`, which is
 * no small integer: V8 hashes such a key as a heap number on every lookup and allocates one
 * on every insertion, for each frame a scan reads (lib/cache/page-cache.ts measured the same).
 */
export class InFlightFrames {
  readonly #byFile = new Map<number, Map<number, InFlight>>();

  /** The entry of frame `entry` of `file`, if in flight. */
  get(file: LtxFile, entry: number): InFlight | undefined {
    return this.#byFile.get(file.id)?.get(entry);
  }

  /** Whether frame `entry` of `file` is in flight. */
  has(file: LtxFile, entry: number): boolean {
    return this.#byFile.get(file.id)?.has(entry) === true;
  }

  /** Whether frame `entry` of `file` is in flight in a read another read must not take over ({@link takeable}). */
  busy(file: LtxFile, entry: number): boolean {
    const f = this.get(file, entry);
    return f !== undefined && !takeable(f);
  }

  /** Put `f` in flight for frame `entry` of `file` (replacing any). */
  set(file: LtxFile, entry: number, f: InFlight): void {
    let frames = this.#byFile.get(file.id);
    if (frames === undefined) this.#byFile.set(file.id, (frames = new Map()));
    frames.set(entry, f);
  }

  /** Forget frame `entry` of `file` if its entry is `f`. */
  leave(file: LtxFile, entry: number, f: InFlight): void {
    const frames = this.#byFile.get(file.id);
    if (frames === undefined || frames.get(entry) !== f) return;
    frames.delete(entry);
    if (frames.size === 0) this.#byFile.delete(file.id);
  }
}

/**
 * Whether another read may take frame `f` over: it waits in a background read not sent yet,
 * and nobody waits for its page. A scan's range that reaches it reads it (replacing `f` in
 * the in-flight map), and the background read, when its turn comes, is dropped if every
 * frame of it was taken (lib/read/fetcher.ts `prefetch`). Before, a scan read over such a
 * frame without caching it, and SQLite's miss on it later was a one-frame request.
 */
export function takeable(f: InFlight): boolean {
  return f.read.background === true && f.read.queued?.started === false && !f.wanted && f.held !== true;
}

/**
 * The page of an in-flight frame, once read; the read's error if it fails before this
 * frame was decoded (a corrupt frame later in the range fails only the frames from it on).
 */
export function pageOf(f: InFlight): Promise<Uint8Array> {
  f.wanted = true;
  return f.read.done.then(
    () => f.page!,
    (err: unknown) => {
      if (f.page !== undefined) return f.page;
      throw err;
    },
  );
}

/**
 * First pages of landed read-ahead ranges, held out of the cache (in their in-flight entry,
 * a copy each) until the scan misses on them — at most {@link MAX_HELD_PAGES} (64 KiB of
 * 4 KiB pages); past that the oldest goes into the cache.
 */
export class HeldPages {
  readonly #cache: PageCache;
  readonly #inFlight: InFlightFrames;
  readonly #held: { ref: FrameRef; f: InFlight }[] = [];

  /** @param cache where a released page goes. @param inFlight the fetcher's in-flight entries. */
  constructor(cache: PageCache, inFlight: InFlightFrames) {
    this.#cache = cache;
    this.#inFlight = inFlight;
  }

  /** Keep `f`, the in-flight entry of `ref`, with a copy of `page` and out of the cache until {@link release}. */
  hold(ref: FrameRef, f: InFlight, page: Uint8Array): void {
    f.page = page.slice();
    f.held = true;
    this.#held.push({ ref, f });
    while (this.#held.length > MAX_HELD_PAGES) {
      const oldest = this.#held.shift()!;
      if (oldest.f.held === true) this.release(oldest.ref, oldest.f);
    }
  }

  /** A held page goes into the cache and its entry leaves the in-flight map. */
  release(ref: FrameRef, f: InFlight): void {
    f.held = false;
    this.#inFlight.leave(ref.file, ref.entry, f);
    this.#cache.set(ref, f.page!);
  }
}
