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
 * sequential scan keeps up to {@link MAX_READAHEAD_WINDOWS} windows read ahead of it in flight
 * in the foreground lane (issue 15 item 4, "scans at the link's rate": over S3 with 10 ms a
 * request, ranged GETs reach the link's rate only with about 32 MiB in flight in ranges of
 * 4–8 MiB; 1 MiB × 8 gets half of it). The read-ahead is topped up both on the scan's
 * misses and as each range lands, so a scan reading landed pages from the cache (no miss
 * the fetcher sees) still has ranges in flight; what it has read ahead of its last miss
 * stays within the read-ahead budget (at most half the cache), decoded, so that read-ahead
 * never evicts what it brought before the scan gets there (the pages the scan passes meanwhile are refreshed by its
 * hits, and are evicted after the landed ones). The first frame of each landed read-ahead range
 * is held out of the cache (lib/read/fetcher-inflight.ts) until the scan asks for it:
 * that miss, served at once, tells the fetcher where the scan is. A range read covers
 * frames that were cached when it was planned (interior pages among the leaves): they are
 * touched as it is planned and as it lands, or decoded from it if evicted meanwhile (the
 * warm-up's interior pages, the least recently used, were evicted by the scan's own
 * read-ahead, then read one request each: 0.6 s of a 3 s scan of 200 MiB). Warm-up and
 * prefetch ranges ({@link Fetcher.prefetch}) and verification wait in the background lane,
 * start only after the foreground has gone quiet, and the first background read of a reader
 * (warm-up or verification) waits for the first query's first read (or `warmupDelayMs`). A miss on a frame a queued background or
 * read-ahead range covers promotes that range; a read-ahead range whose scan ended, or a
 * background range once the reader closes, is dropped before it is sent. A background range
 * at or past a scan in progress on its file waits for the scan, whose own ranges take its
 * frames over as they reach them (it is then dropped: `#behindScan`).
 *
 * Memory (issue 14: `iterate()` over a table larger than the cache grew the process by 172 MiB
 * for a 63 MiB cache): receive buffers are bounded by bytes, not by count. A read-ahead
 * budget of `maxReadaheadBytes` (default 32 MiB, 4 MiB over a directory, at most half the memory cache) caps the
 * window too — at a quarter of the budget (8 MiB by default), so that four windows fit in
 * it — and the buffers the fetcher holds, in flight and idle, stay within the budget plus
 * one window ({@link Fetcher.buffers}: 40 MiB with the default 64 MiB cache, 5/8 of a
 * smaller cache); a read that finds no room is received into a buffer of its own size,
 * freed with it. (Before, every large read took a buffer of the largest window, 4 MiB, and
 * up to {@link SPARE_READ_BUFFERS} of them stayed: 20 MiB for a 16 MiB cache.) Once the
 * reader has no transaction open, the idle ones but one are let go ({@link Fetcher.transactionsOpen}):
 * a scan's 40 MiB no longer stays for the reader's life.
 * A scan allocates next to nothing per page: large reads are received into those buffers,
 * every frame is decoded into one scratch page and copied from there into the cache's
 * slot, and only a page somebody waits for gets an array of its own. (A response buffer
 * and a decoded array per page were garbage that V8 frees only at a later collection: up
 * to tens of MiB of resident set during a scan.)
 */
import { decodeIndexedFrameInto } from '../../ltx/frame.js';
import type { PageIndexTable } from '../../ltx/page-index.js';
import type { ReplicaClient } from '../storage/types.js';
import type { FrameRef, LtxFile, PageIndex } from '../replica/page-index.js';
import type { PageCache } from '../cache/index.js';
import { MAX_READAHEAD_WINDOWS, PrefetchWindow, type PrefetchOptions } from './prefetch.js';
import { DEFAULT_READAHEAD_BYTES, DEFAULT_SCAN_WINDOW_BYTES, LOCAL_READAHEAD_BYTES, DEFAULT_WARMUP_DELAY_MS, type FetcherOptions, type PrefetchOutcome } from './fetcher-options.js';
import { POOLED_READ_BYTES, ReceiveBuffers, type BufferStats } from './receive-buffers.js';

export { POOLED_READ_BYTES, SPARE_READ_BUFFERS, type BufferStats } from './receive-buffers.js';
import { FetchQueue, type ReadLane } from './fetch-queue.js';
import { HeldPages, InFlightFrames, pageOf, takeable, type InFlight, type RangeRead } from './fetcher-inflight.js';
import { DEFAULT_SCAN_WAIT_MS, FileVerifier } from './verifier.js';
import { TieredPageCache } from '../cache/index.js';
import { DEFAULT_WHOLE_FILE_BYTES } from '../replica/ltx-loader.js';
import { mergeRanges } from './range-merge.js';
import type { ReadCounters } from './types.js';

export { newReadCounters, type ReadCounters } from './types.js';
export { DEFAULT_READAHEAD_BYTES, DEFAULT_SCAN_WINDOW_BYTES, DEFAULT_WARMUP_DELAY_MS, LOCAL_READAHEAD_BYTES, type FetcherOptions, type PrefetchOutcome } from './fetcher-options.js';

/** Reads frames from a replica into a {@link PageCache}. */
export class Fetcher {
  readonly #client: ReplicaClient;
  readonly #cache: PageCache;
  readonly #queue: FetchQueue;
  readonly #readaheadBytes: number;
  readonly #inFlight = new InFlightFrames();
  readonly #windows = new WeakMap<LtxFile, PrefetchWindow>();
  /** Per scan (prefetch window): the frame of its last miss and its read-ahead ranges in flight. */
  readonly #scans = new WeakMap<PrefetchWindow, { at: number; inFlight: number; ended: number }>();
  /** Wakes a verification waiting for the scan of a file to move on (see `verifier.scanAt`). */
  readonly #scanWaiters = new Map<LtxFile, () => void>();
  /** Times the reader's last open transaction ended: read-ahead started before the last one is over. */
  #transactionsEnded = 0;
  /** First pages of landed read-ahead ranges held out of the cache. */
  readonly #held: HeldPages;
  /**
   * Decoded bytes a scan's read-ahead may run ahead of its last miss: the read-ahead budget
   * (itself at most half the memory cache). Pages landed further ahead hide no round trip:
   * the budget in flight does that. They only cost reads a range query that stops early
   * never uses, and evict cached pages. The bound used to be half the cache whatever the
   * budget (32 MiB by default, the same as the remote budget). Over a directory (4 MiB
   * budget), a 1,000-key range query on the worker engine, whose bridge round trips let
   * read-ahead run far ahead of SQLite, read 5.1–17.0 MiB then; now it reads 3.6–3.8 MiB.
   * In process it read 2.7–3.5 MiB either way (bench/.work harness, 256 MiB bench database,
   * 2026-12-07). Full scans took the same time.
   */
  readonly #aheadPageBytes: number;
  readonly #prefetch: PrefetchOptions;
  /** The largest window and background range, bytes: `maxWindowBytes`, at most a quarter of the read-ahead budget. */
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
  /** How long a background range waits for a scan that does not move on (`scanWaitMs`), ms. */
  readonly #scanWaitMs: number;

  /**
   * @param client the replica's storage.
   * @param cache where validated pages go.
   * @param counters storage counters to add to (shared with the file loader).
   */
  constructor(client: ReplicaClient, cache: PageCache, counters: ReadCounters, options: FetcherOptions = {}) {
    this.#client = client;
    this.#cache = cache;
    this.#held = new HeldPages(cache, this.#inFlight);
    this.counters = counters;
    // Background reads wait for the first query as long as the warm-up does.
    this.#queue = new FetchQueue({ firstQueryDelayMs: options.warmupDelayMs ?? DEFAULT_WARMUP_DELAY_MS, ...options });
    const cacheBytes = options.cacheSizeBytes ?? 64 * 1024 * 1024;
    const readahead = options.maxReadaheadBytes ?? (client.capabilities.latency === 'local' ? LOCAL_READAHEAD_BYTES : DEFAULT_READAHEAD_BYTES);
    this.#readaheadBytes = Math.min(readahead, Math.floor(cacheBytes / 2));
    this.#aheadPageBytes = this.#readaheadBytes;
    const maxWindow = options.maxWindowBytes ?? DEFAULT_SCAN_WINDOW_BYTES;
    this.#windowCap = this.#readaheadBytes > 0 ? Math.min(maxWindow, Math.max(POOLED_READ_BYTES, Math.floor(this.#readaheadBytes / MAX_READAHEAD_WINDOWS))) : maxWindow;
    this.#prefetch = { ...options, maxWindowBytes: this.#windowCap };
    this.#receive = new ReceiveBuffers(this.#readaheadBytes + this.#windowCap, this.#windowCap);
    this.wholeFileBytes = options.wholeFileBytes ?? DEFAULT_WHOLE_FILE_BYTES;
    this.#scanWaitMs = options.scanWaitMs ?? DEFAULT_SCAN_WAIT_MS;
    this.verifier = new FileVerifier(client, this.#queue, cache instanceof TieredPageCache ? cache.disk : undefined, options);
    this.verifier.inFlight = (file, entry) => {
      // A held first page has landed: its read will not feed the checksum again.
      const f = this.#inFlight.get(file, entry);
      return f === undefined || f.held === true ? undefined : f.read.done;
    };
    this.verifier.scanAt = (file) => this.#scanAt(file);
    this.verifier.scanMoved = (file) => this.#nextScanMove(file);
  }

  /** The frame of the last miss of a scan of `file` in progress (while the transaction it read for is open), if any. */
  #scanAt(file: LtxFile): number | undefined {
    const window = this.#windows.get(file);
    const scan = window === undefined || !window.scanning ? undefined : this.#scans.get(window);
    return scan === undefined || scan.ended !== this.#transactionsEnded ? undefined : scan.at;
  }

  /** Resolves when a scan of `file` moves on, the reader's last transaction ends, or the fetcher closes. */
  #nextScanMove(file: LtxFile): Promise<void> {
    if (this.verifier.closed) return Promise.resolve();
    return new Promise<void>((resolve) => {
      const before = this.#scanWaiters.get(file);
      this.#scanWaiters.set(file, () => {
        before?.();
        resolve();
      });
    });
  }

  /** Stop background reads: the verification's, and background ranges waiting for a scan (they are then dropped). */
  async close(): Promise<void> {
    const closing = this.verifier.close();
    for (const wake of this.#scanWaiters.values()) wake();
    this.#scanWaiters.clear();
    await closing;
  }

  /** Receive-buffer bytes held now and at most, and their budget (a copy). */
  get buffers(): BufferStats {
    return this.#receive.stats();
  }

  /**
   * Whether the reader has a transaction open (lib/read/replica-reader.ts). When the last
   * one ends, read-ahead stops: its ranges not sent yet are dropped and the ones that land
   * start no more, and the idle receive buffers but one are let go
   * (lib/read/receive-buffers.ts `trim`). After a 20,000-row range query over a directory
   * replica, 23 reads of up to 1 MiB used to follow the row; now only the 4 in flight land
   * (over S3, ranges in flight are not aborted). While a transaction is open, a scan's
   * buffers are kept for its next reads.
   */
  transactionsOpen(open: boolean): void {
    if (open) {
      this.#receive.keepSpares();
      return;
    }
    this.#receive.trim();
    // Read-ahead is for the scan of a transaction: none is left to use it.
    this.#transactionsEnded++;
    for (const wake of this.#scanWaiters.values()) wake();
    this.#scanWaiters.clear();
  }

  /** A scan of `file` moved on (a miss, a landed range): a verification waiting for it looks again. */
  #scanMoved(file: LtxFile): void {
    const wake = this.#scanWaiters.get(file);
    if (wake === undefined) return;
    this.#scanWaiters.delete(file);
    wake();
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
    this.#scanMoved(file);
    const pending = this.#inFlight.get(file, ref.entry);
    // The scan reached a landed read-ahead range (its first page was held back so that this
    // miss tells where the scan is: its hits in the cache are not seen here).
    if (pending?.held === true) this.#held.release(ref, pending);
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
   * flight are decoded (`run`; a frame waiting in a background read not sent yet is taken
   * over, lib/read/fetcher-inflight.ts `takeable`); the others are read over (a cached interior page among the
   * leaves must not cut a scan's range short) and trailing ones are dropped. `scanned` is
   * the last frame the range covers. `asked`: `start` is a miss SQLite waits for (always read).
   */
  #frames(version: PageIndex, file: LtxFile, start: number, budget: number, asked: boolean): { run: number[]; scanned: number } {
    const entries = file.entries;
    // One probe for every frame looked at: a scan's misses look at up to ~1,000 frames each.
    const probe = { file, entry: start };
    const wanted = (n: number): boolean => {
      probe.entry = n;
      // A cached frame in the range is touched: it stays as fresh as the frames read around it.
      return version.isCurrent(probe) && !this.#cache.touch(probe) && !this.#inFlight.busy(file, n);
    };
    const run: number[] = [];
    const scanned = rangeEnd(entries, start, budget);
    for (let n = start; n <= scanned; n++) if ((asked && n === start) || wanted(n)) run.push(n);
    return { run, scanned };
  }

  /**
   * Keep the scan on `file` supplied: forget read-ahead ranges it has passed (`at`, the frame
   * of its last miss; −1 when called as a read-ahead range lands), and start ranges of the
   * window's size after the frames read so far while fewer than the window wants are in
   * flight (none for random access) and the frames ahead of the scan's last miss stay
   * within the read-ahead budget (decoded; {@link #aheadPageBytes}). Called on misses and as read-ahead ranges land, so a
   * scan that reads landed pages from the cache, missing nothing, still has ranges in flight.
   */
  #readAhead(version: PageIndex, window: PrefetchWindow, file: LtxFile, at: number): void {
    let scan = this.#scans.get(window);
    if (scan === undefined) this.#scans.set(window, (scan = { at, inFlight: 0, ended: this.#transactionsEnded }));
    scan.ended = this.#transactionsEnded;
    if (at >= 0) {
      scan.at = at;
      while (window.ahead.length > 0 && window.ahead[0] <= at + 1) window.ahead.shift();
    }
    const want = window.readaheadWindows(this.#readaheadBytes);
    const ended = this.#transactionsEnded;
    const over = (): boolean => !window.scanning || ended !== this.#transactionsEnded;
    const maxFrames = Math.floor(this.#aheadPageBytes / version.pageSize);
    const s = scan;
    while (s.inFlight < want && window.expected >= 0 && window.expected < file.entries.length) {
      // Landed pages the scan has not reached are older in the cache than those it passed
      // since (its hits refresh them): at most half the cache ahead, the rest behind. Checked
      // on the range's extent before its frames are looked at: a scan at that bound comes
      // here at every miss and landed range, and probing a whole window to drop it was most
      // of the cache and in-flight lookups of a scan over S3.
      if (rangeEnd(file.entries, window.expected, window.size) - s.at > maxFrames) break;
      const { run, scanned } = this.#frames(version, file, window.expected, window.size, false);
      window.consumed(scanned);
      window.ahead.push(scanned + 1);
      if (run.length === 0) continue;
      s.inFlight++;
      const landed = (): void => {
        s.inFlight--;
        this.#scanMoved(file);
        if (!over() && !this.verifier.closed) this.#readAhead(version, window, file, -1);
      };
      this.#readFrames(version, file, run, 'readahead', over)[0].read.done.then(landed, landed);
    }
  }

  /**
   * Read many frames in the background (e.g. the interior B-tree pages, lib/read/warmup.ts):
   * frames not cached, not in flight and current in `version`, grouped per file into range
   * reads (lib/read/range-merge.ts) that may span gaps of up to `maxGapBytes` between wanted
   * frames (read but not decoded) and at most the largest prefetch window each.
   * @returns when all reads settled: how many pages were read and how many pages were in reads that failed, and
   *   whether the reader closed meanwhile (`cancelled`: then the caller asks for nothing more).
   */
  async prefetch(version: PageIndex, refs: readonly FrameRef[], maxGapBytes = 64 * 1024): Promise<PrefetchOutcome> {
    // The first query goes first: the warm-up starts at its first page read (or after a while without one).
    await this.#queue.firstQuery();
    if (this.verifier.closed) return { pages: 0, failures: 0, cancelled: true };
    const byFile = new Map<LtxFile, number[]>();
    for (const ref of refs) {
      if (!version.isCurrent(ref) || this.#cache.has(ref) || this.#inFlight.has(ref.file, ref.entry)) continue;
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
        let waiting: InFlight[] = [];
        // Every frame of it was taken over by a scan's range (lib/read/fetcher-inflight.ts `takeable`).
        const taken = (): boolean => waiting.every((f, i) => this.#inFlight.get(file, r.entries[i]) !== f);
        waiting = this.#readFrames(version, file, r.entries, 'background', () => this.verifier.closed || taken(), this.#behindScan(file, r.entries, taken));
        reads.push(waiting[0].read.done.then(() => this.#takers(file, r.entries, waiting)).then(() => frames, () => -frames));
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
   * The `defer` of a background range over `entries` of `file` (lib/read/fetch-queue.ts):
   * while a scan of the file in progress has not passed the range, the range waits for the
   * scan to move on. The scan's own ranges take its frames over as they reach them, so the
   * range is then dropped; what the scan did not reach (it ended, or stopped) is read after
   * its transaction ends, or after `scanWaitMs` without a move. Before, on the worker engine
   * (whose scan pauses between bridge requests, so the background lane finds the foreground
   * quiet) the interior-page warm-up sent its one-frame ranges ahead of the scan: a scan of
   * the 256 MiB bench database over S3 made 170 requests, against 52 in process.
   */
  #behindScan(file: LtxFile, entries: readonly number[], taken: () => boolean): () => Promise<void> | undefined {
    let stalled = false;
    let timer: ReturnType<typeof setTimeout> | undefined;
    let stall: Promise<void> | undefined;
    return () => {
      const at = stalled ? undefined : this.#scanAt(file);
      if (at === undefined || entries[entries.length - 1] < at || taken() || this.verifier.closed) {
        clearTimeout(timer);
        return undefined;
      }
      stall ??= new Promise<void>((resolve) => {
        timer = setTimeout(() => {
          stalled = true;
          resolve();
        }, this.#scanWaitMs);
        timer.unref?.();
      });
      return Promise.race([this.#nextScanMove(file), stall]);
    };
  }

  /**
   * Settles once the reads that took frames of a background range over (`waiting`, its
   * in-flight entries for `entries` of `file`) have settled: the range's caller then finds
   * their pages cached.
   */
  async #takers(file: LtxFile, entries: readonly number[], waiting: readonly InFlight[]): Promise<void> {
    const reads = new Set<Promise<void>>();
    for (let i = 0; i < entries.length; i++) {
      const f = this.#inFlight.get(file, entries[i]);
      if (f !== undefined && f !== waiting[i]) reads.add(f.read.done.catch(() => undefined));
    }
    await Promise.all(reads);
  }

  /**
   * Start one range read covering the frames `entries` (ascending entry numbers of
   * `file`), with an in-flight entry per frame, queued in `lane`. Bytes between them are
   * read, not decoded. `drop`, asked when the read's turn comes: true when the read no
   * longer matters (it is then not sent, unless SQLite waits for one of its frames).
   * `defer`: see {@link FetchQueue.schedule} (background lane).
   */
  #readFrames(version: PageIndex, file: LtxFile, entries: number[], lane: ReadLane, drop?: () => boolean, defer?: () => Promise<void> | undefined): InFlight[] {
    let resolve!: () => void;
    let reject!: (err: unknown) => void;
    const read: RangeRead = { done: new Promise<void>((res, rej) => { resolve = res; reject = rej; }), queued: undefined, background: lane === 'background' };
    // Awaited only through the frames somebody asks for: a failure must not surface as unhandled.
    read.done.catch(() => undefined);
    const waiting: InFlight[] = [];
    for (const n of entries) {
      const f: InFlight = { read, wanted: false, page: undefined };
      waiting.push(f);
      this.#inFlight.set(file, n, f);
    }
    // After the frames are in flight: a verification starting now waits for them rather than reading them too.
    this.verifier.use(file);
    this.#read(version, file, entries, waiting, read, lane, drop, defer).then(resolve, reject);
    return waiting;
  }

  /** Forget the in-flight entries of `entries` that are still these `waiting` ones. */
  #leave(file: LtxFile, entries: number[], waiting: InFlight[]): void {
    for (let i = 0; i < entries.length; i++) this.#inFlight.leave(file, entries[i], waiting[i]);
  }

  /**
   * A frame a range read covers but was not planned to decode (cached then, or not current in
   * `version`). With `refresh`, it is touched in the cache, or decoded from the range's
   * `bytes` (at `offset`) into the cache if it is current, evicted since and not in flight.
   * Whatever the cache holds, it is decoded and fed to the file's verification when that is
   * a frame the checksum still needs (lib/read/verifier.ts `wants`). Before, a cached frame
   * inside a scan's range (an interior page read before the scan) was never fed, and the
   * verification read the file again from there.
   */
  #readOver(version: PageIndex, file: LtxFile, entry: number, bytes: Uint8Array, offset: number, page: Uint8Array, refresh: boolean): void {
    const ref: FrameRef = { file, entry };
    const f = this.#inFlight.get(file, entry);
    const cache = refresh && !this.#cache.touch(ref) && version.isCurrent(ref) && (f === undefined || takeable(f));
    if (!cache && !this.verifier.wants(file, entry)) return;
    const { pgnos, offsets, sizes } = file.entries;
    const at = offsets[entry] - offset;
    const frame = bytes.subarray(at, at + sizes[entry]);
    decodeIndexedFrameInto(frame, pgnos[entry], page, `${file.info.key}: page ${pgnos[entry]} at offset ${offsets[entry]}`);
    this.verifier.observe(file, entry, frame, page);
    if (!cache) return;
    // A frame waiting in a background read not sent yet is taken over: that read may then be dropped.
    if (f !== undefined) this.#inFlight.leave(file, entry, f);
    this.counters.pagesFetched++;
    this.#cache.set(ref, page);
  }

  /** Read and decode the frames; rejects with the read's error once every frame has left `#inFlight`. */
  async #read(version: PageIndex, file: LtxFile, entries: number[], waiting: InFlight[], read: RangeRead, lane: ReadLane, drop: (() => boolean) | undefined, defer: (() => Promise<void> | undefined) | undefined): Promise<void> {
    const { pgnos, offsets, sizes } = file.entries;
    const offset = offsets[entries[0]];
    const length = file.entries.end(entries[entries.length - 1]) - offset;
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
      }, lane, undefined, defer);
      read.queued = queued;
      const bytes = await queued.result;
      // Its result is the range's bytes, a view of a receive buffer: the in-flight entries
      // (held pages among them) keep `read` after this, and must not keep the buffer alive.
      read.queued = undefined;
      if (bytes === undefined) {
        this.dropped++;
        return;
      }
      this.counters.readRequests++;
      this.counters.bytesRead += bytes.byteLength;
      if (this.#scratch.length !== version.pageSize) this.#scratch = new Uint8Array(version.pageSize);
      const page = this.#scratch;
      for (let i = 0; i < entries.length; i++) {
        const n = entries[i];
        const at = offsets[n] - offset;
        const frame = bytes.subarray(at, at + sizes[n]);
        decodeIndexedFrameInto(frame, pgnos[n], page, `${file.info.key}: page ${pgnos[n]} at offset ${offsets[n]}`);
        this.verifier.observe(file, entries[i], frame, page);
        this.counters.pagesFetched++;
        const ref: FrameRef = { file, entry: entries[i] };
        const f = waiting[i];
        if (i === 0 && lane === 'readahead' && !f.wanted) this.#held.hold(ref, f, page);
        else {
          this.#cache.set(ref, page);
          this.#inFlight.leave(file, entries[i], f);
          if (f.wanted) f.page = page.slice();
        }
        // A scan's range reads over frames that were cached when it was planned (its interior
        // pages): kept as fresh as the pages around them, or decoded again if evicted since;
        // fed to the file's verification when it needs them.
        for (let n = entries[i] + 1; i + 1 < entries.length && n < entries[i + 1]; n++) this.#readOver(version, file, n, bytes, offset, page, lane !== 'background');
      }
    } catch (err) {
      this.#leave(file, entries, waiting);
      throw err;
    } finally {
      // Every page was copied out of it (decoded) or the read failed: it can take the next read.
      if (box.buffer !== undefined) this.#receive.giveBack(box.buffer, !this.verifier.closed);
      box.buffer = undefined;
    }
  }
}

/**
 * The last entry of the range from `start`: it, then the following frames while they are
 * contiguous in the file and the range stays within `budget` bytes.
 */
function rangeEnd(entries: PageIndexTable, start: number, budget: number): number {
  const { offsets, sizes } = entries;
  const from = offsets[start];
  let n = start;
  while (n + 1 < entries.length) {
    const next = offsets[n + 1];
    if (next !== offsets[n] + sizes[n] || next + sizes[n + 1] - from > budget) break;
    n++;
  }
  return n;
}
