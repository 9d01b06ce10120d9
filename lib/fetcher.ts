/**
 * Fetcher: turns page-cache misses into range reads of LTX frames (DESIGN.md read path
 * 5). A miss reads the frame `[offset, offset + size)` the page index points at
 * (FORMATS.md §1.8) — coalesced with the following frames of the same file while the
 * access looks sequential (the prefetch window) — on a p-queue of bounded concurrency.
 * Every frame being read has one shared in-flight promise, so concurrent misses on the
 * same frame cost one request. Frames are validated by `decodeIndexedFrame` before they
 * enter the cache; a failed read caches nothing.
 */
import PQueue from 'p-queue';
import { decodeIndexedFrame } from '../ltx/frame.js';
import type { ReplicaClient } from './storage/types.js';
import type { FrameRef, LtxFile, PageIndex } from './page-index.js';
import type { PageCache } from './page-cache.js';
import { DEFAULT_MAX_WINDOW_BYTES, PrefetchWindow, type PrefetchOptions } from './prefetch.js';

/** Options of {@link Fetcher}. */
export interface FetcherOptions extends PrefetchOptions {
  /** Range reads in flight at once. Default 8: enough to hide object-store latency, few enough for one keep-alive pool. */
  concurrency?: number;
}

/** Storage counters shared by the fetcher and the file loader. */
export interface ReadCounters {
  /** Pages decoded from storage (a page read twice counts twice). */
  pagesFetched: number;
  /** Bytes received from storage. */
  bytesRead: number;
  /** Storage read requests (range reads and whole-object reads). */
  readRequests: number;
}

/** Creates zeroed {@link ReadCounters}. */
export function newReadCounters(): ReadCounters {
  return { pagesFetched: 0, bytesRead: 0, readRequests: 0 };
}

/** A page promise waiting on a range read. */
interface InFlight {
  promise: Promise<Uint8Array>;
  resolve: (page: Uint8Array) => void;
  reject: (err: unknown) => void;
}

function frameKey(ref: FrameRef): number {
  return ref.file.id * 0x1_0000_0000 + ref.entry;
}

/** Reads frames from a replica into a {@link PageCache}. */
export class Fetcher {
  readonly #client: ReplicaClient;
  readonly #cache: PageCache;
  readonly #queue: PQueue;
  readonly #inFlight = new Map<number, InFlight>();
  readonly #windows = new WeakMap<LtxFile, PrefetchWindow>();
  readonly #prefetch: PrefetchOptions;
  /** Counters, updated in place. */
  readonly counters: ReadCounters;

  /**
   * @param client the replica's storage.
   * @param cache where validated pages go.
   * @param counters storage counters to add to (shared with the file loader).
   */
  constructor(client: ReplicaClient, cache: PageCache, counters: ReadCounters, options: FetcherOptions = {}) {
    this.#client = client;
    this.#cache = cache;
    this.counters = counters;
    this.#queue = new PQueue({ concurrency: options.concurrency ?? 8 });
    this.#prefetch = options;
  }

  /** The shared queue, so whole-file reads at open obey the same concurrency bound. */
  get queue(): PQueue {
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
    const pending = this.#inFlight.get(frameKey(ref));
    if (pending !== undefined) return pending.promise;

    const file = ref.file;
    let window = this.#windows.get(file);
    if (window === undefined) {
      window = new PrefetchWindow(this.#prefetch);
      this.#windows.set(file, window);
    }
    const budget = window.next(ref.entry);

    // The frames of one range: the asked frame, then the following contiguous frames
    // while they fit the window. Of those, only frames current in this version and not
    // cached or in flight are decoded; the others are read over (a cached interior page
    // among the leaves must not cut a scan's range short) and trailing ones are dropped.
    const entries = file.entries;
    const first = entries[ref.entry];
    const run: number[] = [ref.entry];
    let scanned = ref.entry;
    for (let n = ref.entry + 1; n < entries.length; n++) {
      const e = entries[n];
      if (e.offset !== entries[n - 1].offset + entries[n - 1].size || e.offset + e.size - first.offset > budget) break;
      scanned = n;
      const nextRef: FrameRef = { file, entry: n };
      if (version.isCurrent(nextRef) && !this.#cache.has(nextRef) && !this.#inFlight.has(frameKey(nextRef))) run.push(n);
    }
    window.consumed(scanned);
    return this.#readFrames(version, file, run)[0].promise;
  }

  /**
   * Read many frames in the background (e.g. the interior B-tree pages, lib/warmup.ts):
   * frames not cached, not in flight and current in `version`, grouped per file into range
   * reads that may span gaps of up to `maxGapBytes` between wanted frames (read but not
   * decoded) and at most the largest prefetch window each.
   * @returns when all reads settled: how many pages were read and how many reads failed.
   */
  async prefetch(version: PageIndex, refs: readonly FrameRef[], maxGapBytes = 64 * 1024): Promise<{ pages: number; failures: number }> {
    const byFile = new Map<LtxFile, number[]>();
    for (const ref of refs) {
      if (!version.isCurrent(ref) || this.#cache.has(ref) || this.#inFlight.has(frameKey(ref))) continue;
      let list = byFile.get(ref.file);
      if (list === undefined) byFile.set(ref.file, (list = []));
      list.push(ref.entry);
    }
    const maxRange = Math.max(this.#prefetch.maxWindowBytes ?? DEFAULT_MAX_WINDOW_BYTES, 1);
    const reads: Promise<Uint8Array>[] = [];
    for (const [file, list] of byFile) {
      const sorted = [...new Set(list)].sort((a, b) => a - b);
      let group: number[] = [];
      const flush = (): void => {
        if (group.length > 0) for (const f of this.#readFrames(version, file, group)) reads.push(f.promise);
        group = [];
      };
      for (const n of sorted) {
        const e = file.entries[n];
        if (group.length > 0) {
          const first = file.entries[group[0]];
          const prev = file.entries[group[group.length - 1]];
          if (e.offset - (prev.offset + prev.size) > maxGapBytes || e.offset + e.size - first.offset > maxRange) flush();
        }
        group.push(n);
      }
      flush();
    }
    const settled = await Promise.allSettled(reads);
    return { pages: settled.filter((r) => r.status === 'fulfilled').length, failures: settled.filter((r) => r.status === 'rejected').length };
  }

  /**
   * Start one range read covering the frames `entries` (ascending entry numbers of
   * `file`), with an in-flight promise per frame. Bytes between them are read, not decoded.
   */
  #readFrames(version: PageIndex, file: LtxFile, entries: number[]): InFlight[] {
    const waiting: InFlight[] = [];
    for (const n of entries) {
      let resolve!: (page: Uint8Array) => void;
      let reject!: (err: unknown) => void;
      const promise = new Promise<Uint8Array>((res, rej) => { resolve = res; reject = rej; });
      const f: InFlight = { promise, resolve, reject };
      waiting.push(f);
      this.#inFlight.set(file.id * 0x1_0000_0000 + n, f);
    }
    // The caller awaits at most one of these; keep the others' rejections from surfacing as unhandled.
    for (const f of waiting) f.promise.catch(() => undefined);
    void this.#read(version, file, entries, waiting);
    return waiting;
  }

  async #read(version: PageIndex, file: LtxFile, entries: number[], waiting: InFlight[]): Promise<void> {
    const first = file.entries[entries[0]];
    const last = file.entries[entries[entries.length - 1]];
    const offset = first.offset;
    try {
      const bytes = await this.#queue.add(() => this.#client.readRange(file.info.key, offset, last.offset + last.size - offset));
      this.counters.readRequests++;
      this.counters.bytesRead += bytes.byteLength;
      for (let i = 0; i < entries.length; i++) {
        const e = file.entries[entries[i]];
        const frame = bytes.subarray(e.offset - offset, e.offset - offset + e.size);
        const page = decodeIndexedFrame(frame, e.pgno, version.pageSize, `${file.info.key}: page ${e.pgno} at offset ${e.offset}`);
        this.counters.pagesFetched++;
        const ref: FrameRef = { file, entry: entries[i] };
        this.#cache.set(ref, page);
        this.#inFlight.delete(frameKey(ref));
        waiting[i].resolve(page);
      }
    } catch (err) {
      for (let i = 0; i < entries.length; i++) {
        const key = file.id * 0x1_0000_0000 + entries[i];
        if (this.#inFlight.get(key) === waiting[i]) this.#inFlight.delete(key);
        waiting[i].reject(err);
      }
    }
  }
}
