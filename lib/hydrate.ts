/**
 * Hydration: a background task that restores the replica's database into a local SQLite
 * file, then serves reads from it and keeps it current (the Litestream VFS's
 * `LITESTREAM_HYDRATION_ENABLED` / `LITESTREAM_HYDRATION_PATH`, FORMATS.md §6.1).
 *
 * How the file is written: a *pass* brings the file from the state it holds (TXID `base`,
 * 0 for an empty file) to a version `target` of the reader: for every page whose frame in
 * `target` lies in an LTX file with maxTXID > base, that frame is read and written at
 * `(pgno − 1) × pageSize`; then the file is truncated to `target.commit` pages. Pages a file
 * not newer than `base` holds are unchanged since `base`, so this is exact; and it is
 * idempotent, so a pass that dies halfway can simply run again. The frames of one LTX
 * file are read with large coalesced range reads (up to `rangeBytes`, reading over
 * superseded frames between wanted ones when the gap is at most `maxGapBytes`), a few at
 * a time (`concurrency`), and checked like every page read (`decodeIndexedFrame`: pgno,
 * flags, sizes, LZ4 output length). The first pass (base 0) is the hydration proper and
 * yields the same bytes as `restoreDatabase`; LTX files that arrive meanwhile, or later,
 * become the next passes: they are applied in TXID order, as the issue asks.
 *
 * Resuming: `<path>.ltxvfs-hydration.json` (the *state*) records the TXID the file holds
 * consistently, the pass in progress (its target) and the byte ranges of LTX files
 * already read and written in it. It is replaced atomically (temporary file, fsync,
 * rename) at checkpoints — after an fdatasync of the database file, at most every
 * `checkpointIntervalMs` — so a range is recorded only once its pages are durable. A
 * restarted process skips the recorded ranges (their frames are still the current ones
 * for any later version) and writes the rest. The state also keeps each LTX file's
 * fileChecksum: if the replica's history was replaced (another checksum under a known
 * key, a TXID going back, another page size), hydration starts over.
 *
 * Serving reads: once a pass completed, the file holds version H. A read of page `pgno`
 * of a version V is served from the file (a synchronous `readSync`, no Asyncify unwind)
 * when V is at H's TXID or points at the same frame as H, and no pass in progress is
 * rewriting that page; otherwise (before the first completion, for pages a newer version
 * changed, for older pinned versions) the normal path serves it. A pass that fails
 * leaves the file unserved until a later pass completes.
 *
 * One process hydrates a path at a time: `<path>.ltxvfs-lock` holds the owner's pid (a
 * lock left by a dead process is taken over).
 */
import { createHash } from 'node:crypto';
import { EventEmitter } from 'node:events';
import { closeSync, existsSync, fdatasync, ftruncate, openSync, readSync, statSync, write, writev } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { LtxvfsError } from '../ltx/errors.js';
import { decodeIndexedFrame } from '../ltx/frame.js';
import type { ReplicaClient } from './storage/types.js';
import type { FrameRef, LtxFile, PageIndex } from './page-index.js';
import {
  addRange, covered, HYDRATION_LOCK_SUFFIX, HYDRATION_STATE_SUFFIX, readHydrationState, releaseHydrationLock, takeHydrationLock,
  writeHydrationState, type HydrationStateFile,
} from './hydrate-state.js';

const writevAsync = promisify(writev);
const writeAsync = promisify(write);
const fdatasyncAsync = promisify(fdatasync);
const ftruncateAsync = promisify(ftruncate);

export { HYDRATION_LOCK_SUFFIX, HYDRATION_STATE_SUFFIX } from './hydrate-state.js';

/** Options of hydration. */
export interface HydrateOptions {
  /** Range reads in flight at once. Default 4: with 8 MiB ranges, enough to fill a link to S3 without holding much memory (≈ concurrency × rangeBytes). */
  concurrency?: number;
  /** Largest range read, bytes. Default 8 MiB: per-request latency becomes negligible (10 ms at 1 GiB/s is 10 MiB), memory stays bounded. */
  rangeBytes?: number;
  /** Bytes of superseded frames a range may read over between two wanted frames instead of splitting. Default 1 MiB. */
  maxGapBytes?: number;
  /** Replace a file at the path that no hydration state describes (default false: `LTXVFS_ERR_USAGE`). */
  overwrite?: boolean;
  /** Least time between checkpoints (fdatasync of the file, then the state file), ms. Default 500. */
  checkpointIntervalMs?: number;
  /** After a failed pass, try again after this long, ms (a new version also triggers a try). Default 30 000; 0 = only on new versions. */
  retryMs?: number;
}

/** Where hydration is: `hydrating` until the first pass completes, then `ready` (also while catching up). */
export type HydrationState = 'hydrating' | 'ready' | 'failed' | 'closed';

/** Figures of a {@link Hydrator}. */
export interface HydrationStats {
  /** The database file. */
  path: string;
  state: HydrationState;
  /** Percent (0–100) of the first hydration done; 100 once it completed (also while later passes run). */
  progress: number;
  /** TXID the file holds consistently; 0 before the first pass completed. */
  txid: number;
  /** Pages the current (or last) pass writes in all, counting those an earlier process wrote. */
  pagesTotal: number;
  /** Pages of the current (or last) pass done, counting those an earlier process wrote. */
  pagesDone: number;
  /** Of those, pages the state file records as durable (what a restart would not write again). */
  pagesCheckpointed: number;
  /** Pages of the first pass this process found already written by an earlier one (resumed). */
  pagesResumed: number;
  /** Pages this process wrote (all passes). */
  pagesWritten: number;
  /** Bytes this process read from storage for hydration. */
  bytesRead: number;
  /** Storage range reads this process made for hydration. */
  readRequests: number;
  /** Passes completed by this process (the first hydration and each catch-up). */
  passes: number;
  /** The last failure, while `state` is `failed`. */
  error: unknown;
}

/** Events of a {@link Hydrator}. */
export interface HydratorEvents {
  /** A pass completed: the file holds `txid`. */
  ready: [txid: number];
  /** A checkpoint was written (progress is durable). */
  checkpoint: [stats: HydrationStats];
  /** A pass failed; it is tried again later (see `retryMs`). */
  failed: [error: unknown];
}

/** What a hydrator needs of its reader (lib/replica-reader.ts). */
export interface HydrationSource {
  readonly client: ReplicaClient;
  /** The newest version. */
  readonly current: PageIndex;
  on(event: 'version', listener: (version: PageIndex) => void): unknown;
  off(event: 'version', listener: (version: PageIndex) => void): unknown;
  /** A page already decoded in memory, if any (saves a read when catching up with files this process read or wrote). */
  peek?(ref: FrameRef): Uint8Array | undefined;
}

interface Range {
  file: LtxFile;
  fileId: string;
  entries: number[];
  start: number;
  end: number;
}

interface Pass {
  target: PageIndex;
  base: number;
  total: number;
  done: number;
  /** Pages recorded durable by the last checkpoint. */
  checkpointed: number;
  /** Ranges whose pages are written (not yet necessarily durable), by file id. */
  completed: Map<string, [number, number][]>;
}

interface Deferred {
  promise: Promise<number>;
  resolve: (txid: number) => void;
  reject: (err: unknown) => void;
}

function deferred(): Deferred {
  let resolve!: (txid: number) => void;
  let reject!: (err: unknown) => void;
  const promise = new Promise<number>((res, rej) => { resolve = res; reject = rej; });
  promise.catch(() => undefined);
  return { promise, resolve, reject };
}

function hex64(v: bigint): string {
  return v.toString(16).padStart(16, '0');
}

function fileIdOf(file: LtxFile): string {
  return `${file.info.key}@${hex64(file.trailer.fileChecksum)}`;
}

function sameFrame(a: FrameRef, b: FrameRef): boolean {
  return a.file === b.file && a.entry === b.entry;
}

/**
 * The hydration of one reader into one local file (see the module comment). Made by
 * {@link Hydrator.start}; the reader closes it.
 */
export class Hydrator extends EventEmitter<HydratorEvents> {
  /** The database file being hydrated. */
  readonly path: string;
  /** The state file beside it. */
  readonly statePath: string;
  readonly #lockPath: string;
  readonly #source: HydrationSource;
  readonly #concurrency: number;
  readonly #rangeBytes: number;
  readonly #maxGapBytes: number;
  readonly #checkpointMs: number;
  readonly #retryMs: number;
  readonly #onVersion = (): void => this.#kick();
  #fd: number;
  #pageSize: number;
  /** TXID the file holds consistently (0: none). */
  #txid: number;
  /** The version the file holds, when it may serve reads. */
  #index: PageIndex | undefined;
  #files: Record<string, string>;
  /** Ranges an earlier process completed in its unfinished pass, and that pass's target. */
  #resume: { target: number; done: Map<string, [number, number][]> } | undefined;
  #pass: Pass | undefined;
  #lastPass: { total: number; done: number; checkpointed: number } = { total: 0, done: 0, checkpointed: 0 };
  #state: HydrationState = 'hydrating';
  #error: unknown;
  #ever = false;
  #ready = deferred();
  #running: Promise<void> | undefined;
  #checkpointing: Promise<void> | undefined;
  #lastCheckpoint = 0;
  #retryTimer: NodeJS.Timeout | undefined;
  #closed = false;
  #stats = { pagesResumed: 0, pagesWritten: 0, bytesRead: 0, readRequests: 0, passes: 0 };

  private constructor(source: HydrationSource, path: string, fd: number, state: HydrationStateFile | undefined, options: HydrateOptions) {
    super();
    this.path = path;
    this.statePath = path + HYDRATION_STATE_SUFFIX;
    this.#lockPath = path + HYDRATION_LOCK_SUFFIX;
    this.#source = source;
    this.#concurrency = Math.max(1, options.concurrency ?? 4);
    this.#rangeBytes = Math.max(1, options.rangeBytes ?? 8 * 1024 * 1024);
    this.#maxGapBytes = Math.max(0, options.maxGapBytes ?? 1024 * 1024);
    this.#checkpointMs = options.checkpointIntervalMs ?? 500;
    this.#retryMs = options.retryMs ?? 30_000;
    this.#fd = fd;
    this.#pageSize = state?.pageSize ?? 0;
    this.#txid = state?.txid ?? 0;
    this.#files = state?.files ?? {};
    if (state?.target !== undefined) {
      this.#resume = { target: state.target, done: new Map(Object.entries(state.done).map(([k, v]) => [k, v.map(([s, e]) => [s, e] as [number, number])])) };
    }
    if (this.#txid > 0) {
      this.#ever = true;
      this.#state = 'ready';
    }
  }

  /**
   * Start hydrating `path` from `source` in the background (resuming what an earlier
   * process left, see the module comment). Returns at once; {@link whenReady} says when
   * the file is complete.
   * @throws LtxvfsError `LTXVFS_ERR_USAGE` when another live process hydrates `path`, when
   *   `path` exists but no hydration state describes it (unless `overwrite`), or it cannot be opened.
   */
  static start(source: HydrationSource, path: string, options: HydrateOptions = {}): Hydrator {
    const lockPath = path + HYDRATION_LOCK_SUFFIX;
    takeHydrationLock(lockPath, path);
    let fd: number;
    let state: HydrationStateFile | undefined;
    try {
      state = readHydrationState(path + HYDRATION_STATE_SUFFIX);
      const ours = state !== undefined;
      const exists = existsSync(path);
      // A hydration of another replica (or a state without its file) starts over.
      if (state !== undefined && (state.replica !== source.client.url || !exists)) state = undefined;
      if (!ours && exists && statSync(path).size > 0 && options.overwrite !== true) {
        throw new LtxvfsError('LTXVFS_ERR_USAGE',
          `${path} exists and is not a hydration of ${source.client.url} (no ${HYDRATION_STATE_SUFFIX} beside it): remove it or choose another path`, { key: path });
      }
      fd = openSync(path, state === undefined ? 'w+' : 'r+');
    } catch (err) {
      releaseHydrationLock(lockPath);
      if (err instanceof LtxvfsError) throw err;
      throw new LtxvfsError('LTXVFS_ERR_USAGE', `cannot hydrate into ${path}: ${(err as Error).message}`, { key: path, cause: err });
    }
    const h = new Hydrator(source, path, fd, state, options);
    // A file complete at the reader's TXID serves reads at once.
    const current = source.current;
    if (state !== undefined && state.target === undefined && state.txid === current.txid && state.pageSize === current.pageSize &&
      !h.#historyChanged(current) && statSafe(path) === current.commit * current.pageSize) {
      h.#index = current;
      h.#ready.resolve(current.txid);
    }
    source.on('version', h.#onVersion);
    h.#kick();
    return h;
  }

  /** Percent of the first hydration done (0–100, see {@link HydrationStats.progress}). */
  get progress(): number {
    if (this.#ever) return 100;
    const p = this.#pass ?? this.#lastPass;
    if (p.total === 0) return 0;
    return Math.min(99.9, Math.floor((1000 * p.done) / p.total) / 10);
  }

  /** TXID the file holds consistently (0 before the first pass completed). */
  get txid(): number {
    return this.#txid;
  }

  /**
   * Resolves with the TXID once the file is complete (at once if it already is); rejects
   * if the pass fails (`LTXVFS_ERR_STORAGE`, `LTXVFS_ERR_CORRUPT`, …) or the hydrator is
   * closed first (`LTXVFS_ERR_CLOSED`). After a failure, a later call waits for the retry.
   */
  whenReady(): Promise<number> {
    return this.#ready.promise;
  }

  /** Resolves once no pass is running and the file holds the reader's newest version (or a pass failed). */
  async settled(): Promise<void> {
    while (this.#running !== undefined) await this.#running;
  }

  /** Figures (a copy). */
  stats(): HydrationStats {
    const p = this.#pass ?? this.#lastPass;
    return {
      path: this.path,
      state: this.#state,
      progress: this.progress,
      txid: this.#txid,
      pagesTotal: p.total,
      pagesDone: p.done,
      pagesCheckpointed: p.checkpointed,
      ...this.#stats,
      error: this.#state === 'failed' ? this.#error : undefined,
    };
  }

  /**
   * The page `pgno` of `version` from the file, synchronously, when the file may serve it
   * (see the module comment); undefined otherwise. Never throws.
   * @param ref the frame `version` serves for `pgno`.
   */
  readPage(version: PageIndex, ref: FrameRef, pgno: number): Uint8Array | undefined {
    const held = this.#index;
    if (held === undefined) return undefined;
    const href = held.get(pgno);
    if (href === undefined || (version.txid !== held.txid && !sameFrame(href, ref))) return undefined;
    const pass = this.#pass;
    if (pass !== undefined) {
      const tref = pass.target.get(pgno);
      if (tref === undefined || !sameFrame(tref, href)) return undefined;
    }
    const pageSize = held.pageSize;
    const page = new Uint8Array(pageSize);
    try {
      if (readSync(this.#fd, page, 0, pageSize, (pgno - 1) * pageSize) !== pageSize) return undefined;
    } catch {
      return undefined;
    }
    return page;
  }

  /** Stop: finish the ranges being read, checkpoint, close the file, release the lock (idempotent). */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    clearTimeout(this.#retryTimer);
    this.#source.off('version', this.#onVersion);
    await this.settled();
    await this.#checkpointing;
    this.#state = 'closed';
    this.#index = undefined;
    this.#ready.reject(new LtxvfsError('LTXVFS_ERR_CLOSED', `hydration of ${this.path} was closed before it completed`, { key: this.path }));
    try {
      closeSync(this.#fd);
    } catch {
      // Already closed.
    }
    releaseHydrationLock(this.#lockPath);
  }

  #kick(): void {
    if (this.#closed || this.#running !== undefined) return;
    this.#running = this.#loop().finally(() => {
      this.#running = undefined;
    });
  }

  async #loop(): Promise<void> {
    try {
      for (;;) {
        if (this.#closed) return;
        const target = this.#source.current;
        const held = this.#index;
        if (held !== undefined && target.txid === held.txid && target.pageSize === held.pageSize) {
          // Same state (perhaps rebuilt from other files): match frames against the newer index.
          this.#index = target;
          return;
        }
        if (held !== undefined && target.txid < held.txid) return;
        await this.#runPass(target);
      }
    } catch (err) {
      if (this.#closed) return;
      this.#state = 'failed';
      this.#error = err;
      this.#ready.reject(err);
      this.#ready = deferred();
      if (this.listenerCount('failed') > 0) this.emit('failed', err);
      if (this.#retryMs > 0) {
        this.#retryTimer = setTimeout(() => this.#kick(), this.#retryMs);
        this.#retryTimer.unref();
      }
    }
  }

  /** True if `target` uses a key whose fileChecksum differs from one used before: the replica was replaced. */
  #historyChanged(target: PageIndex): boolean {
    for (const f of target.files) {
      const known = this.#files[f.info.key];
      if (known !== undefined && known !== hex64(f.trailer.fileChecksum)) return true;
    }
    return false;
  }

  async #runPass(target: PageIndex): Promise<void> {
    let base = this.#txid;
    let resume = this.#resume;
    this.#resume = undefined;
    const fresh = (this.#pageSize !== 0 && target.pageSize !== this.#pageSize) || target.txid < base ||
      (resume !== undefined && target.txid < resume.target) || this.#historyChanged(target);
    if (fresh) {
      base = 0;
      resume = undefined;
      this.#txid = 0;
      this.#files = {};
      this.#ever = false;
      await ftruncateAsync(this.#fd, 0);
    }
    this.#pageSize = target.pageSize;
    if (!this.#ever) this.#state = 'hydrating';
    const done = resume?.done ?? new Map<string, [number, number][]>();

    // The frames to write, per LTX file, in file order (pgno ascending is offset ascending).
    const byFile = new Map<LtxFile, number[]>();
    for (let pgno = 1; pgno <= target.commit; pgno++) {
      const ref = target.get(pgno);
      if (ref === undefined || ref.file.info.maxTXID <= base) continue;
      let list = byFile.get(ref.file);
      if (list === undefined) byFile.set(ref.file, (list = []));
      list.push(ref.entry);
    }
    const ranges: Range[] = [];
    let total = 0;
    let skipped = 0;
    const completed = new Map<string, [number, number][]>();
    for (const [file, list] of byFile) {
      const fileId = fileIdOf(file);
      const doneRanges = done.get(fileId);
      if (doneRanges !== undefined) completed.set(fileId, doneRanges.map(([s, e]) => [s, e]));
      let cur: Range | undefined;
      for (const n of list) {
        const e = file.entries[n];
        total++;
        if (covered(doneRanges, e.offset, e.offset + e.size)) {
          skipped++;
          continue;
        }
        if (cur !== undefined && e.offset - cur.end <= this.#maxGapBytes && e.offset + e.size - cur.start <= this.#rangeBytes) {
          cur.entries.push(n);
          cur.end = e.offset + e.size;
        } else {
          cur = { file, fileId, entries: [n], start: e.offset, end: e.offset + e.size };
          ranges.push(cur);
        }
      }
    }
    for (const f of target.files) this.#files[f.info.key] = hex64(f.trailer.fileChecksum);
    const pass: Pass = { target, base, total, done: skipped, checkpointed: skipped, completed };
    if (!this.#ever) this.#stats.pagesResumed += skipped;
    this.#pass = pass;
    try {
      // Record the pass before its first write: a restart then knows the file is in flux.
      await this.#writeState(pass);
      await this.#runRanges(pass, ranges);
      if (this.#closed) return;
      await this.#checkpointing;
      await ftruncateAsync(this.#fd, target.commit * target.pageSize);
      await fdatasyncAsync(this.#fd);
      this.#txid = target.txid;
      this.#files = {};
      for (const f of target.files) this.#files[f.info.key] = hex64(f.trailer.fileChecksum);
      await this.#writeState(undefined);
    } catch (err) {
      // Pages of the newer version may be half written: the file serves nothing until a pass completes.
      this.#index = undefined;
      throw err;
    } finally {
      this.#lastPass = { total: pass.total, done: pass.done, checkpointed: pass.checkpointed };
      if (this.#pass === pass) this.#pass = undefined;
    }
    this.#index = target;
    this.#ever = true;
    this.#state = 'ready';
    this.#error = undefined;
    this.#stats.passes++;
    this.#ready.resolve(target.txid);
    this.emit('ready', target.txid);
  }

  async #runRanges(pass: Pass, ranges: Range[]): Promise<void> {
    let next = 0;
    let failure: { err: unknown } | undefined;
    const worker = async (): Promise<void> => {
      while (failure === undefined && !this.#closed && next < ranges.length) {
        const range = ranges[next++];
        try {
          await this.#runRange(pass, range);
        } catch (err) {
          failure ??= { err };
        }
      }
    };
    await Promise.all(Array.from({ length: Math.min(this.#concurrency, ranges.length) }, worker));
    if (failure !== undefined) {
      // Keep what was written: the ranges done so far survive a restart.
      await this.#checkpointing;
      await this.#checkpoint().catch(() => undefined);
      throw failure.err;
    }
    if (this.#closed) {
      await this.#checkpointing;
      await this.#checkpoint().catch(() => undefined);
    }
  }

  async #runRange(pass: Pass, range: Range): Promise<void> {
    const { file } = range;
    const pageSize = pass.target.pageSize;
    const pages: { pgno: number; data: Uint8Array }[] = [];
    const peeked = range.entries.map((n) => this.#source.peek?.({ file, entry: n }));
    let bytes: Uint8Array | undefined;
    if (peeked.some((p) => p === undefined)) {
      bytes = await this.#source.client.readRange(file.info.key, range.start, range.end - range.start);
      this.#stats.readRequests++;
      this.#stats.bytesRead += bytes.byteLength;
    }
    for (let i = 0; i < range.entries.length; i++) {
      const e = file.entries[range.entries[i]];
      const data = peeked[i] ?? decodeIndexedFrame(bytes!.subarray(e.offset - range.start, e.offset - range.start + e.size), e.pgno, pageSize,
        `${file.info.key}: page ${e.pgno} at offset ${e.offset}`);
      pages.push({ pgno: e.pgno, data });
    }
    // Runs of consecutive pages are one positional write each.
    for (let i = 0; i < pages.length;) {
      let j = i + 1;
      while (j < pages.length && pages[j].pgno === pages[j - 1].pgno + 1 && j - i < 1024) j++;
      await writeAll(this.#fd, pages.slice(i, j).map((p) => p.data), (pages[i].pgno - 1) * pageSize);
      i = j;
    }
    this.#stats.pagesWritten += pages.length;
    pass.done += pages.length;
    let list = pass.completed.get(range.fileId);
    if (list === undefined) pass.completed.set(range.fileId, (list = []));
    addRange(list, range.start, range.end);
    if (Date.now() - this.#lastCheckpoint >= this.#checkpointMs && this.#checkpointing === undefined) {
      this.#checkpointing = this.#checkpoint().catch(() => undefined).finally(() => {
        this.#checkpointing = undefined;
      });
    }
  }

  /** Make the pages written so far durable, then record their ranges in the state. */
  async #checkpoint(): Promise<void> {
    const pass = this.#pass;
    if (pass === undefined) return;
    this.#lastCheckpoint = Date.now();
    const snapshot = new Map([...pass.completed].map(([k, v]) => [k, v.map(([s, e]) => [s, e] as [number, number])]));
    const done = pass.done;
    await fdatasyncAsync(this.#fd);
    await this.#writeState(pass, snapshot);
    pass.checkpointed = done;
    if (this.listenerCount('checkpoint') > 0) this.emit('checkpoint', this.stats());
  }

  async #writeState(pass: Pass | undefined, done: Map<string, [number, number][]> = pass?.completed ?? new Map()): Promise<void> {
    await writeHydrationState(this.statePath, {
      format: 'ltxvfs-hydration',
      version: 1,
      replica: this.#source.client.url,
      pageSize: this.#pageSize,
      txid: this.#txid,
      target: pass?.target.txid,
      files: this.#files,
      done: Object.fromEntries(done),
    });
  }
}

function statSafe(path: string): number {
  try {
    return statSync(path).size;
  } catch {
    return -1;
  }
}

/** Write all of `buffers` at `position` (writev, continuing after a short write). */
async function writeAll(fd: number, buffers: Uint8Array[], position: number): Promise<void> {
  const total = buffers.reduce((n, b) => n + b.byteLength, 0);
  const { bytesWritten } = await writevAsync(fd, buffers, position);
  if (bytesWritten === total) return;
  const rest = Buffer.concat(buffers).subarray(bytesWritten);
  let off = 0;
  while (off < rest.length) {
    const { bytesWritten: n } = await writeAsync(fd, rest, off, rest.length - off, position + bytesWritten + off);
    if (n === 0) throw new Error('write returned 0 bytes');
    off += n;
  }
}

/**
 * The hydration path the Litestream VFS's environment asks for (FORMATS.md §6.1):
 * `LITESTREAM_HYDRATION_ENABLED` true (Go `strconv.ParseBool`: 1, t, T, TRUE, true, True)
 * enables it; `LITESTREAM_HYDRATION_PATH` names the file, else a file in the OS temp
 * directory named after the replica URL (so a restart on the same machine resumes it).
 * @returns the path, or undefined when hydration is not enabled.
 */
export function hydrationPathFromEnv(env: NodeJS.ProcessEnv, replicaUrl: string | undefined): string | undefined {
  const enabled = env.LITESTREAM_HYDRATION_ENABLED;
  if (enabled === undefined || !['1', 't', 'T', 'TRUE', 'true', 'True'].includes(enabled)) return undefined;
  const path = env.LITESTREAM_HYDRATION_PATH;
  if (path !== undefined && path !== '') return path;
  const id = createHash('sha256').update(replicaUrl ?? env.LITESTREAM_REPLICA_URL ?? '').digest('hex').slice(0, 16);
  return join(tmpdir(), `ltxvfs-hydration-${id}.db`);
}

/**
 * The PRAGMAs `litestream_hydration_progress` (percent with one decimal, `0` when
 * hydration is off) and `litestream_hydration_file` (the path, empty when off), as the
 * Litestream VFS answers them (FORMATS.md §6.1). Other names: `undefined` (not handled).
 * @throws LtxvfsError `LTXVFS_ERR_USAGE` when one is set (both are read-only).
 */
export function hydrationPragma(hydrator: () => Hydrator | undefined): (name: string, value: string | null) => string | undefined {
  return (name, value) => {
    if (name !== 'litestream_hydration_progress' && name !== 'litestream_hydration_file') return undefined;
    if (value !== null) throw new LtxvfsError('LTXVFS_ERR_USAGE', `PRAGMA ${name} is read-only`);
    const h = hydrator();
    if (name === 'litestream_hydration_file') return h?.path ?? '';
    return h === undefined ? '0' : h.progress.toFixed(1);
  };
}
