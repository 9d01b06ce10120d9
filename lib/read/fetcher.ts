/**
 * Fetcher: turns page-cache misses into range reads of LTX frames (docs/architecture.md read path
 * 5). A miss reads the frame `[offset, offset + size)` the page index points at
 * (docs/formats.md §1.8) — coalesced with the following frames of the same file while the
 * access looks sequential (the prefetch window) — on a p-queue of bounded concurrency.
 * Every frame being read has an in-flight entry (sharing its range read's one promise),
 * so concurrent misses on the same frame cost one request. Frames are validated by
 * `decodeIndexedFrameInto` before they enter the cache; a failed read caches nothing
 * from the failing frame on.
 *
 * Scheduling (lib/read/fetch-queue.ts, issue 15): reads SQLite waits for go first; a
 * sequential scan keeps up to {@link MAX_READAHEAD_WINDOWS} windows read ahead of it in the
 * foreground lane (several ranges in flight, so it runs at the link's rate); warm-up and
 * prefetch ranges ({@link Fetcher.prefetch}) and verification wait in the background lane,
 * start only after the foreground has gone quiet, and the first background read of a reader
 * (warm-up or verification) waits for the first query's first read (or `warmupDelayMs`). A miss on a frame a queued background or
 * read-ahead range covers promotes that range; a read-ahead range whose scan ended, or a
 * background range once the reader closes, is dropped before it is sent.
 *
 * Memory (issue 14: `iterate()` over a table larger than the cache grew the process by 172 MiB
 * for a 63 MiB cache): receive buffers are bounded by bytes, not by count. A read-ahead
 * budget of `maxReadaheadBytes` (at most an eighth of the memory cache) caps the window
 * too — at half the budget, so that two windows fit in it — and the buffers the fetcher
 * holds, in flight and idle, stay within the budget plus one window
 * ({@link Fetcher.buffers}); a read that finds no room is received into a buffer of its
 * own size, freed with it. (Before, every large read took a buffer of the largest window,
 * 4 MiB, and up to {@link SPARE_READ_BUFFERS} of them stayed: 20 MiB for a 16 MiB cache.)
 * A scan allocates next to nothing per page: large reads are received into those buffers,
 * every frame is decoded into one scratch page and copied from there into the cache's
 * slot, and only a page somebody waits for gets an array of its own. (A response buffer
 * and a decoded array per page were garbage that V8 frees only at a later collection: up
 * to tens of MiB of resident set during a scan.)
 */
import { decodeIndexedFrameInto } from '../../ltx/frame.js';
import type { ReplicaClient } from '../storage/types.js';
import type { FrameRef, LtxFile, PageIndex } from '../replica/page-index.js';
import type { PageCache } from '../cache/index.js';
import { DEFAULT_MAX_WINDOW_BYTES, PrefetchWindow, type PrefetchOptions } from './prefetch.js';
import { POOLED_READ_BYTES, ReceiveBuffers, type BufferStats } from './receive-buffers.js';

export { POOLED_READ_BYTES, SPARE_READ_BUFFERS, type BufferStats } from './receive-buffers.js';
import { FetchQueue, type FetchQueueOptions, type QueuedRead, type ReadLane } from './fetch-queue.js';
import { FileVerifier, type VerifierOptions } from './verifier.js';
import { TieredPageCache } from '../cache/index.js';
import { DEFAULT_WHOLE_FILE_BYTES } from '../replica/ltx-loader.js';
import { mergeRanges } from './range-merge.js';
import type { ReadCounters } from './types.js';

export { newReadCounters, type ReadCounters } from './types.js';

/** Options of {@link Fetcher}. */
export interface FetcherOptions extends PrefetchOptions, VerifierOptions, FetchQueueOptions {
  /**
   * Bytes one sequential scan may have read ahead of the frame it is at (in flight or
   * landed, not yet reached). Default {@link DEFAULT_READAHEAD_BYTES}, and never more than
   * an eighth of `cacheSizeBytes` (read-ahead must not evict what it read before the scan gets there).
   */
  maxReadaheadBytes?: number;
  /** Bytes of the memory page cache (bounds the read-ahead). Default 64 MiB. */
  cacheSizeBytes?: number;
  /**
   * The first background read (the warm-up's, or the verification's of a page served at
   * open) waits for the first query's first page read, or this long without one, ms: the
   * fetch queue's `firstQueryDelayMs`. Default {@link DEFAULT_WARMUP_DELAY_MS}.
   */
  warmupDelayMs?: number;
  /**
   * LTX files up to this many bytes are read whole and verified against their file
   * checksum before any of their pages is served; larger ones are verified in the
   * background as they are used (lib/read/verifier.ts). Default 2 MiB ({@link DEFAULT_WHOLE_FILE_BYTES}).
   */
  wholeFileBytes?: number;
}

/** What a {@link Fetcher.prefetch} did. */
export interface PrefetchOutcome {
  /** Pages its reads brought into the cache. */
  pages: number;
  /** Its range reads that failed. */
  failures: number;
  /** The reader closed first: reads not sent yet were dropped, and nothing more should be asked. */
  cancelled?: boolean;
}

/** Default read-ahead budget of one scan: 16 MiB (four 4 MiB windows). */
export const DEFAULT_READAHEAD_BYTES = 16 * 1024 * 1024;

/** Default wait of the warm-up for a query to go first, ms. */
export const DEFAULT_WARMUP_DELAY_MS = 250;

/** One range read. */
interface RangeRead {
  /** Settles when the read is done: resolves once its pages are cached (and wanted ones in their `page`), rejects with its error. */
  readonly done: Promise<void>;
  /** Its place in the fetch queue (promoted when SQLite needs one of its frames). */
  queued: Pick<QueuedRead<unknown>, 'promote'> | undefined;
}

/** A frame being read by a range read (one small object a frame: the promise is the read's). */
interface InFlight {
  readonly read: RangeRead;
  /** A {@link Fetcher.fetch} caller waits for the page itself: it gets an array of its own. */
  wanted: boolean;
  page: Uint8Array | undefined;
}

function frameKey(ref: FrameRef): number {
  return ref.file.id * 0x1_0000_0000 + ref.entry;
}

/**
 * The page of an in-flight frame, once read; the read's error if it fails before this
 * frame was decoded (a corrupt frame later in the range fails only the frames from it on).
 */
function pageOf(f: InFlight): Promise<Uint8Array> {
  f.wanted = true;
  return f.read.done.then(
    () => f.page!,
    (err: unknown) => {
      if (f.page !== undefined) return f.page;
      throw err;
    },
  );
}

/** Reads frames from a replica into a {@link PageCache}. */
export class Fetcher {
  readonly #client: ReplicaClient;
  readonly #cache: PageCache;
  readonly #queue: FetchQueue;
  readonly #readaheadBytes: number;
  readonly #inFlight = new Map<number, InFlight>();
  readonly #windows = new WeakMap<LtxFile, PrefetchWindow>();
  readonly #prefetch: PrefetchOptions;
  /** The largest window and background range, bytes: `maxWindowBytes`, at most half the read-ahead budget. */
  readonly #windowCap: number;
  readonly #receive: ReceiveBuffers;
  /** Where frames are decoded before the cache copies them (one page, reused). */
  #scratch = new Uint8Array(0);
  /** Counters, updated in place. */
  readonly counters: ReadCounters;
  /** Speculative reads (read-ahead, background prefetch) dropped before they were sent. */
  dropped = 0;
  /** Verifies the files whose frames this fetcher reads (and the reader serves). */
  readonly verifier: FileVerifier;
  /** See {@link FetcherOptions.wholeFileBytes}. */
  readonly wholeFileBytes: number;

  /**
   * @param client the replica's storage.
   * @param cache where validated pages go.
   * @param counters storage counters to add to (shared with the file loader).
   */
  constructor(client: ReplicaClient, cache: PageCache, counters: ReadCounters, options: FetcherOptions = {}) {
    this.#client = client;
    this.#cache = cache;
    this.counters = counters;
    // Background reads wait for the first query as long as the warm-up does.
    this.#queue = new FetchQueue({ firstQueryDelayMs: options.warmupDelayMs ?? DEFAULT_WARMUP_DELAY_MS, ...options });
    const cacheBytes = options.cacheSizeBytes ?? 64 * 1024 * 1024;
    this.#readaheadBytes = Math.min(options.maxReadaheadBytes ?? DEFAULT_READAHEAD_BYTES, Math.floor(cacheBytes / 8));
    const maxWindow = options.maxWindowBytes ?? DEFAULT_MAX_WINDOW_BYTES;
    // Two windows fit the read-ahead budget (a scan keeps one ahead while it reads the other).
    this.#windowCap = this.#readaheadBytes > 0 ? Math.min(maxWindow, Math.max(POOLED_READ_BYTES, Math.floor(this.#readaheadBytes / 2))) : maxWindow;
    this.#prefetch = { ...options, maxWindowBytes: this.#windowCap };
    this.#receive = new ReceiveBuffers(this.#readaheadBytes + this.#windowCap, this.#windowCap);
    this.wholeFileBytes = options.wholeFileBytes ?? DEFAULT_WHOLE_FILE_BYTES;
    this.verifier = new FileVerifier(client, this.#queue, cache instanceof TieredPageCache ? cache.disk : undefined, options);
    this.verifier.inFlight = (file, entry) => this.#inFlight.get(file.id * 0x1_0000_0000 + entry)?.read.done;
  }

  /** Receive-buffer bytes held now and at most, and their budget (a copy). */
  get buffers(): BufferStats {
    return this.#receive.stats();
  }

  /** The fetch queue (its lanes and counts). */
  get queue(): FetchQueue {
    return this.#queue;
  }

  /**
   * The decompressed page of `ref`, read from storage (the caller has checked the cache).
   * `version` decides which neighbouring frames are worth prefetching: only frames it
   * still serves.
   * @throws LtxvfsError from the client (`LTXVFS_ERR_STORAGE`, `LTXVFS_ERR_NOT_FOUND`) or the
   *   frame decoder (`LTXVFS_ERR_CORRUPT`).
   */
  fetch(version: PageIndex, ref: FrameRef): Promise<Uint8Array> {
    const file = ref.file;
    let window = this.#windows.get(file);
    if (window === undefined) {
      window = new PrefetchWindow(this.#prefetch);
      this.#windows.set(file, window);
    }
    const pending = this.#inFlight.get(frameKey(ref));
    if (pending !== undefined) {
      // SQLite waits for it now: a queued read-ahead or background range goes first.
      pending.read.queued?.promote();
      if (window.ahead.length > 0 && window.scanning) {
        window.caughtUp();
        this.#readAhead(version, window, file, ref.entry);
      }
      return pageOf(pending);
    }
    const budget = window.next(ref.entry);
    const { run, scanned } = this.#frames(version, file, ref.entry, budget, true);
    window.consumed(scanned);
    const page = pageOf(this.#readFrames(version, file, run, 'demand')[0]);
    this.#readAhead(version, window, file, ref.entry);
    return page;
  }

  /**
   * The frames of one range from `start`: it, then the following contiguous frames while
   * they fit `budget` bytes. Of those, only frames current in `version` and not cached or in
   * flight are decoded (`run`); the others are read over (a cached interior page among the
   * leaves must not cut a scan's range short) and trailing ones are dropped. `scanned` is
   * the last frame the range covers. `asked`: `start` is a miss SQLite waits for (always read).
   */
  #frames(version: PageIndex, file: LtxFile, start: number, budget: number, asked: boolean): { run: number[]; scanned: number } {
    const entries = file.entries;
    const first = entries[start];
    // One probe for every frame looked at: a scan's misses look at up to ~1,000 frames each.
    const probe = { file, entry: start };
    const wanted = (n: number): boolean => {
      probe.entry = n;
      return version.isCurrent(probe) && !this.#cache.has(probe) && !this.#inFlight.has(frameKey(probe));
    };
    const run: number[] = [];
    let scanned = start;
    for (let n = start; n < entries.length; n++) {
      const e = entries[n];
      if (n > start && (e.offset !== entries[n - 1].offset + entries[n - 1].size || e.offset + e.size - first.offset > budget)) break;
      scanned = n;
      if ((asked && n === start) || wanted(n)) run.push(n);
    }
    return { run, scanned };
  }

  /**
   * Keep the scan on `file` at frame `at` supplied: forget read-ahead ranges it has passed,
   * and start ranges of the window's size after the frames read so far until as many are
   * ahead as the window wants (none for random access).
   */
  #readAhead(version: PageIndex, window: PrefetchWindow, file: LtxFile, at: number): void {
    while (window.ahead.length > 0 && window.ahead[0] <= at + 1) window.ahead.shift();
    const want = window.readaheadWindows(this.#readaheadBytes);
    while (window.ahead.length < want && window.expected >= 0 && window.expected < file.entries.length) {
      const { run, scanned } = this.#frames(version, file, window.expected, window.size, false);
      window.consumed(scanned);
      window.ahead.push(scanned + 1);
      if (run.length > 0) this.#readFrames(version, file, run, 'readahead', () => !window.scanning);
    }
  }

  /**
   * Read many frames in the background (e.g. the interior B-tree pages, lib/read/warmup.ts):
   * frames not cached, not in flight and current in `version`, grouped per file into range
   * reads (lib/read/range-merge.ts) that may span gaps of up to `maxGapBytes` between wanted
   * frames (read but not decoded) and at most the largest prefetch window each.
   * @returns when all reads settled: how many pages were read and how many reads failed, and
   *   whether the reader closed meanwhile (`cancelled`: then the caller asks for nothing more).
   */
  async prefetch(version: PageIndex, refs: readonly FrameRef[], maxGapBytes = 64 * 1024): Promise<PrefetchOutcome> {
    // The first query goes first: the warm-up starts at its first page read (or after a while without one).
    await this.#queue.firstQuery();
    if (this.verifier.closed) return { pages: 0, failures: 0, cancelled: true };
    const byFile = new Map<LtxFile, number[]>();
    for (const ref of refs) {
      if (!version.isCurrent(ref) || this.#cache.has(ref) || this.#inFlight.has(frameKey(ref))) continue;
      let list = byFile.get(ref.file);
      if (list === undefined) byFile.set(ref.file, (list = []));
      list.push(ref.entry);
    }
    const maxRange = this.#windowCap;
    const reads: Promise<number>[] = [];
    for (const [file, list] of byFile) {
      const sorted = [...new Set(list)].sort((a, b) => a - b);
      for (const r of mergeRanges(sorted, file.entries, { maxGapBytes, maxRangeBytes: maxRange })) {
        const frames = r.entries.length;
        reads.push(this.#readFrames(version, file, r.entries, 'background', () => this.verifier.closed)[0].read.done.then(() => frames, () => -frames));
      }
    }
    // Per read: +frames when it succeeded, −frames when it failed.
    const outcomes = await Promise.all(reads);
    return {
      pages: outcomes.reduce((n, k) => n + Math.max(k, 0), 0),
      failures: outcomes.reduce((n, k) => n - Math.min(k, 0), 0),
      ...(this.verifier.closed ? { cancelled: true } : {}),
    };
  }

  /**
   * Start one range read covering the frames `entries` (ascending entry numbers of
   * `file`), with an in-flight entry per frame, queued in `lane`. Bytes between them are
   * read, not decoded. `drop`, asked when the read's turn comes: true when the read no
   * longer matters (it is then not sent, unless SQLite waits for one of its frames).
   */
  #readFrames(version: PageIndex, file: LtxFile, entries: number[], lane: ReadLane, drop?: () => boolean): InFlight[] {
    let resolve!: () => void;
    let reject!: (err: unknown) => void;
    const read: RangeRead = { done: new Promise<void>((res, rej) => { resolve = res; reject = rej; }), queued: undefined };
    // Awaited only through the frames somebody asks for: a failure must not surface as unhandled.
    read.done.catch(() => undefined);
    const waiting: InFlight[] = [];
    for (const n of entries) {
      const f: InFlight = { read, wanted: false, page: undefined };
      waiting.push(f);
      this.#inFlight.set(file.id * 0x1_0000_0000 + n, f);
    }
    // After the frames are in flight: a verification starting now waits for them rather than reading them too.
    this.verifier.use(file);
    this.#read(version, file, entries, waiting, read, lane, drop).then(resolve, reject);
    return waiting;
  }

  /** Forget the in-flight entries of `entries` that are still these `waiting` ones. */
  #leave(file: LtxFile, entries: number[], waiting: InFlight[]): void {
    for (let i = 0; i < entries.length; i++) {
      const key = file.id * 0x1_0000_0000 + entries[i];
      if (this.#inFlight.get(key) === waiting[i]) this.#inFlight.delete(key);
    }
  }

  /** Read and decode the frames; rejects with the read's error once every frame has left `#inFlight`. */
  async #read(version: PageIndex, file: LtxFile, entries: number[], waiting: InFlight[], read: RangeRead, lane: ReadLane, drop: (() => boolean) | undefined): Promise<void> {
    const first = file.entries[entries[0]];
    const last = file.entries[entries[entries.length - 1]];
    const offset = first.offset;
    const length = last.offset + last.size - offset;
    const box: { buffer: Uint8Array | undefined } = { buffer: undefined };
    try {
      const queued = this.#queue.schedule(async () => {
        if (drop?.() === true && !waiting.some((f) => f.wanted)) {
          // Speculative and no longer wanted: never sent. Nobody can join it from now on.
          this.#leave(file, entries, waiting);
          return undefined;
        }
        box.buffer = this.#receive.take(length);
        return this.#client.readRange(file.info.key, offset, length, box.buffer);
      }, lane);
      read.queued = queued;
      const bytes = await queued.result;
      if (bytes === undefined) {
        this.dropped++;
        return;
      }
      this.counters.readRequests++;
      this.counters.bytesRead += bytes.byteLength;
      if (this.#scratch.length !== version.pageSize) this.#scratch = new Uint8Array(version.pageSize);
      const page = this.#scratch;
      for (let i = 0; i < entries.length; i++) {
        const e = file.entries[entries[i]];
        const frame = bytes.subarray(e.offset - offset, e.offset - offset + e.size);
        decodeIndexedFrameInto(frame, e.pgno, page, `${file.info.key}: page ${e.pgno} at offset ${e.offset}`);
        this.verifier.observe(file, entries[i], frame, page);
        this.counters.pagesFetched++;
        const ref: FrameRef = { file, entry: entries[i] };
        this.#cache.set(ref, page);
        this.#inFlight.delete(frameKey(ref));
        const f = waiting[i];
        if (f.wanted) f.page = page.slice();
      }
    } catch (err) {
      this.#leave(file, entries, waiting);
      throw err;
    } finally {
      // Every page was copied out of it (decoded) or the read failed: it can take the next read.
      if (box.buffer !== undefined) this.#receive.giveBack(box.buffer, !this.verifier.closed);
    }
  }
}
