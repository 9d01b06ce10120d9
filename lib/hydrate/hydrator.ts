/**
 * The hydrator: the background task of one reader and one local file (lib/hydrate/index.ts
 * says how the file is written, resumed and served). It runs passes in TXID order — each
 * planned by lib/hydrate/plan.ts, its ranges read and written by lib/hydrate/pass.ts a few
 * at a time — checkpoints progress into the state file (lib/hydrate/state.ts), and serves
 * reads from the file once a pass completed.
 *
 * One concept: the hydrator's life cycle (pass, checkpoint, serve, close) over one file
 * descriptor and one state; opening the file (open-file.ts), planning, writing, the state
 * file, the pass record (pass-record.ts), what other threads are told (publication.ts),
 * the configuration and the PRAGMAs are its neighbours in lib/hydrate/.
 */
import { EventEmitter } from 'node:events';
import { closeSync, fdatasync, ftruncate, readSync } from 'node:fs';
import { promisify } from 'node:util';
import { formatChecksum } from '../../ltx/checksum.js';
import { LtxvfsError } from '../../ltx/errors.js';
import type { FrameRef, PageIndex } from '../replica/page-index.js';
import { resolveHydrateOptions, type HydrateOptions, type ResolvedHydrateOptions } from './config.js';
import { fetchRange, ReceivePair, writeRange, WRITE_CHUNK_BYTES, type FetchedRange } from './pass.js';
import { fileIdOf, planPass, type HydrationRange } from './plan.js';
import { addRange, HYDRATION_LOCK_SUFFIX, HYDRATION_STATE_SUFFIX, releaseHydrationLock, writeHydrationState, type HydrationStateFile } from './state.js';
import { fileSizeOrMinusOne, openHydrationFile } from './open-file.js';
import { HydrationPublication } from './publication.js';
import { deferred, sameFrame, type Pass } from './pass-record.js';
import type { HydrationSource, HydrationState, HydrationStats, HydratorEvents } from './types.js';
import { SequentialPages } from './sequential-pages.js';

const fdatasyncAsync = promisify(fdatasync);
const ftruncateAsync = promisify(ftruncate);

/**
 * The hydration of one reader into one local file (see lib/hydrate/index.ts). Made by
 * {@link Hydrator.start}; the reader closes it.
 */
export class Hydrator extends EventEmitter<HydratorEvents> {
  /** The database file being hydrated. */
  readonly path: string;
  /** The state file beside it. */
  readonly statePath: string;
  /**
   * Which TXID the file holds, for other threads (lib/hydrate/publication.ts): the worker
   * engine reads pages of the file in place while it holds its connection's version.
   */
  readonly publication = new HydrationPublication();
  readonly #lockPath: string;
  readonly #source: HydrationSource;
  readonly #options: ResolvedHydrateOptions;
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
  /** Ids (`<key>@<fileChecksum>`) of LTX files known to match their checksum, as the state file records them. */
  #verified: Set<string>;
  /** The last state write: the next one starts after it (writes are never concurrent). */
  #lastWrite: Promise<void> = Promise.resolve();
  /** The state last handed to a write (what the file says once the writes settle). */
  #lastState: HydrationStateFile | undefined;
  /** Pages read ahead for a scan in this thread (`readPageInto`). */
  readonly #sequential = new SequentialPages();

  private constructor(source: HydrationSource, path: string, fd: number, state: HydrationStateFile | undefined, options: HydrateOptions) {
    super();
    this.path = path;
    this.statePath = path + HYDRATION_STATE_SUFFIX;
    this.#lockPath = path + HYDRATION_LOCK_SUFFIX;
    this.#source = source;
    this.#options = resolveHydrateOptions(options);
    this.#fd = fd;
    this.#pageSize = state?.pageSize ?? 0;
    this.#txid = state?.txid ?? 0;
    this.#files = state?.files ?? {};
    this.#verified = new Set(Array.isArray(state?.verified) ? state.verified : []);
    this.#lastState = state;
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
   * process left, see lib/hydrate/index.ts). Returns at once; {@link whenReady} says when
   * the file is complete.
   * @throws LtxvfsError `LTXVFS_ERR_USAGE` when another live process hydrates `path`, when
   *   `path` exists but no hydration state describes it (unless `overwrite`), or it cannot be opened.
   */
  static start(source: HydrationSource, path: string, options: HydrateOptions = {}): Hydrator {
    const { fd, state } = openHydrationFile(path, source.client.url, options.overwrite === true);
    const h = new Hydrator(source, path, fd, state, options);
    // Files an earlier process verified while hydrating from them are not read again to be verified.
    const verification = source.verification;
    if (verification !== undefined && h.#verified.size > 0) {
      for (const f of source.current.files) if (h.#verified.has(fileIdOf(f))) verification.trustVerified(f);
    }
    // A file complete at the reader's TXID serves reads at once.
    const current = source.current;
    if (state !== undefined && state.target === undefined && state.txid === current.txid && state.pageSize === current.pageSize &&
      !h.#historyChanged(current) && fileSizeOrMinusOne(path) === current.commit * current.pageSize) {
      h.#index = current;
      h.publication.publish(current.txid);
      h.#ready.resolve(current.txid);
      if (verification !== undefined) {
        // Its pages are served from now on, by this thread or in place by the worker engine's
        // (which the verification would not hear of): the files they come from are verified
        // now — at once when the state records them, else once, in the background.
        for (const f of current.files) verification.use(f);
        verification.verified().then(() => (h.#closed ? undefined : h.#recordVerified()), () => undefined);
      }
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
   * (see lib/hydrate/index.ts); undefined otherwise. Never throws.
   * @param ref the frame `version` serves for `pgno`.
   */
  readPage(version: PageIndex, ref: FrameRef, pgno: number): Uint8Array | undefined {
    const pageSize = this.#index?.pageSize ?? 0;
    const page = new Uint8Array(pageSize);
    return pageSize > 0 && this.readPageInto(version, ref, pgno, page) ? page : undefined;
  }

  /**
   * {@link readPage} into `dst` (exactly one page; SQLite's buffer in process), with no page
   * allocated: whether it did. On false `dst` may hold anything. Never throws.
   *
   * A fresh page per read doubled the cost of a random read on this machine (Node 20,
   * 200,000 reads of 4 KiB from a 260 MiB file in the page cache: 1.5–2.3 µs a `readSync`
   * into one buffer, 3.6–4.4 µs into a fresh one then copied), and its garbage was
   * collected at the lookups' expense. Sequential reads come 32 pages a `readSync`
   * (lib/hydrate/sequential-pages.ts), as on the worker engine.
   */
  readPageInto(version: PageIndex, ref: FrameRef, pgno: number, dst: Uint8Array): boolean {
    const held = this.#index;
    if (held === undefined || dst.length !== held.pageSize) return false;
    const href = held.get(pgno);
    if (href === undefined || (version.txid !== held.txid && !sameFrame(href, ref))) return false;
    const pass = this.#pass;
    if (pass !== undefined) {
      const tref = pass.target.get(pgno);
      if (tref === undefined || !sameFrame(tref, href)) return false;
    }
    // A buffer read in another state of the file (a pass started or ended since) is not served.
    return this.#sequential.read(pgno, dst, held.commit, pass ?? held, (buffer, first) => this.#readAt(buffer, first))
      || this.#readAt(dst, pgno);
  }

  /** Fill `dst` (whole pages) from the file's page `pgno` on: whether it was read in full. */
  #readAt(dst: Uint8Array, pgno: number): boolean {
    try {
      return readSync(this.#fd, dst, 0, dst.length, (pgno - 1) * this.#index!.pageSize) === dst.length;
    } catch {
      return false;
    }
  }

  /** Stop: finish the ranges being read, checkpoint, close the file, release the lock (idempotent). */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    clearTimeout(this.#retryTimer);
    this.#source.off('version', this.#onVersion);
    await this.settled();
    await this.#checkpointing;
    // Files verified since the last write (often: the verification of the last pass's files just ended).
    await this.#recordVerified();
    await this.#lastWrite;
    this.#state = 'closed';
    this.#index = undefined;
    this.publication.publish(0);
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
      if (this.#options.retryMs > 0) {
        this.#retryTimer = setTimeout(() => this.#kick(), this.#options.retryMs);
        this.#retryTimer.unref();
      }
    }
  }

  /** True if `target` uses a key whose fileChecksum differs from one used before: the replica was replaced. */
  #historyChanged(target: PageIndex): boolean {
    for (const f of target.files) {
      const known = this.#files[f.info.key];
      if (known !== undefined && known !== formatChecksum(f.trailer.fileChecksum)) return true;
    }
    return false;
  }

  /** One pass, with the file marked as being written (to other threads) from before its first write to after its last. */
  async #runPass(target: PageIndex): Promise<void> {
    this.publication.beginWrites();
    try {
      await this.#writePass(target);
    } finally {
      // A pass cut short by close() may have written pages of its target: the file serves nothing then.
      this.publication.endWrites(this.#closed ? 0 : this.#index?.txid ?? 0);
    }
  }

  async #writePass(target: PageIndex): Promise<void> {
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

    const { ranges, total, skipped, completed } = planPass(target, base, done,
      { maxGapBytes: this.#options.maxGapBytes, maxRangeBytes: this.#options.rangeBytes });
    for (const f of target.files) this.#files[f.info.key] = formatChecksum(f.trailer.fileChecksum);
    const pass: Pass = { target, base, total, done: skipped, checkpointed: skipped, completed };
    if (!this.#ever) this.#stats.pagesResumed += skipped;
    this.#pass = pass;
    // The files read from are verified from the frames the pass decodes, not read once more.
    const ranDone = deferred();
    const verification = this.#source.verification;
    if (verification !== undefined) {
      let last: HydrationRange['file'] | undefined;
      for (const r of ranges) if (r.file !== last) verification.feedFrom((last = r.file), ranDone.promise);
    }
    try {
      // Record the pass before its first write (a restart then knows the file is in flux);
      // the first range reads go out meanwhile.
      const recorded = this.#writeState(pass);
      recorded.catch(() => undefined);
      await this.#runRanges(pass, ranges, recorded).finally(() => ranDone.resolve(0));
      await recorded;
      if (this.#closed) return;
      await this.#checkpointing;
      await ftruncateAsync(this.#fd, target.commit * target.pageSize);
      await fdatasyncAsync(this.#fd);
      this.#txid = target.txid;
      this.#files = {};
      for (const f of target.files) this.#files[f.info.key] = formatChecksum(f.trailer.fileChecksum);
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
    // Once the files read from are verified (the pass fed them; what it did not decode is read
    // now), the state file says so, for the next process.
    verification?.verified().then(() => this.#closed ? undefined : this.#recordVerified(), () => undefined);
  }

  /**
   * Write the last state again with the files verified since it was written, if any: the
   * rest of it (the TXID held, the pass in progress and its ranges) exactly as it was, so a
   * pass that failed half-written stays recorded as in progress. Never rejects.
   */
  #recordVerified(): Promise<void> {
    const last = this.#lastState;
    if (last === undefined) return Promise.resolve();
    const ids = [...this.#verifiedIds(last.files)].sort();
    const before = last.verified ?? [];
    if (ids.length === before.length && ids.every((id, i) => id === before[i])) return Promise.resolve();
    return this.#write({ ...last, verified: ids }).catch(() => undefined);
  }

  /**
   * The ids of the files `files` names that are known verified: those recorded before and
   * those the reader's verification has verified since. Updates {@link #verified}.
   */
  #verifiedIds(files: Record<string, string>): Set<string> {
    const verification = this.#source.verification;
    const ids = new Set<string>();
    const named = new Set(Object.entries(files).map(([key, checksum]) => `${key}@${checksum}`));
    for (const id of this.#verified) if (named.has(id)) ids.add(id);
    if (verification !== undefined) {
      for (const f of this.#source.current.files) {
        const id = fileIdOf(f);
        if (named.has(id) && verification.isVerified(f)) ids.add(id);
      }
    }
    this.#verified = ids;
    return ids;
  }

  /** Read and write `ranges` with the pass's workers; no write before `recorded` (the state naming the pass) has settled. */
  async #runRanges(pass: Pass, ranges: HydrationRange[], recorded: Promise<void>): Promise<void> {
    let next = 0;
    let failure: { err: unknown } | undefined;
    const pageSize = pass.target.pageSize;
    // Each worker has its next range read in flight while it decodes and writes the last one,
    // with buffers of its own, reused (lib/hydrate/pass.ts, ReceivePair and the chunk).
    const worker = async (): Promise<void> => {
      const receive = new ReceivePair(this.#options.rangeBytes);
      const chunk = new Uint8Array(Math.max(1, Math.floor(WRITE_CHUNK_BYTES / pageSize)) * pageSize);
      // A frame read over (not written) is decoded here to be verified.
      const scratch = new Uint8Array(pageSize);
      const start = (): Promise<FetchedRange> | undefined => {
        if (failure !== undefined || this.#closed || next >= ranges.length) return undefined;
        const range = ranges[next++];
        const read = fetchRange(this.#source, range, this.#stats, receive.next(range.end - range.start));
        // Awaited in its turn: a failure meanwhile must not surface as unhandled.
        read.catch(() => undefined);
        return read;
      };
      let pending = start();
      while (pending !== undefined) {
        try {
          const fetched = await pending;
          pending = start();
          await recorded;
          await this.#writeFetched(pass, fetched, chunk, scratch);
        } catch (err) {
          failure ??= { err };
          // The range being read is not written; the close waits for it to settle.
          await pending?.catch(() => undefined);
          return;
        }
      }
    };
    await Promise.all(Array.from({ length: Math.min(this.#options.concurrency, ranges.length) }, worker));
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

  /** Write a fetched range's pages, count them, record the range done, and checkpoint when it is time. */
  async #writeFetched(pass: Pass, fetched: FetchedRange, chunk: Uint8Array, scratch: Uint8Array): Promise<void> {
    const range = fetched.range;
    const pages = await writeRange(this.#fd, fetched, pass.target.pageSize, chunk, this.#source.verification, scratch);
    this.#stats.pagesWritten += pages;
    pass.done += pages;
    let list = pass.completed.get(range.fileId);
    if (list === undefined) pass.completed.set(range.fileId, (list = []));
    addRange(list, range.start, range.end);
    if (Date.now() - this.#lastCheckpoint >= this.#options.checkpointIntervalMs && this.#checkpointing === undefined) {
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

  /** Write the state as it is now, after the writes before it (never two at once: they share a temporary file). */
  #writeState(pass: Pass | undefined, done: Map<string, [number, number][]> = pass?.completed ?? new Map()): Promise<void> {
    const state: HydrationStateFile = {
      format: 'ltxvfs-hydration',
      version: 1,
      replica: this.#source.client.url,
      pageSize: this.#pageSize,
      txid: this.#txid,
      target: pass?.target.txid,
      files: { ...this.#files },
      // Copies: the write may start later, and the pass goes on adding ranges to these lists.
      done: Object.fromEntries([...done].map(([k, v]) => [k, v.map(([a, b]) => [a, b] as [number, number])])),
      verified: [...this.#verifiedIds(this.#files)].sort(),
    };
    return this.#write(state);
  }

  /** Replace the state file with `state` once the writes before have settled. */
  #write(state: HydrationStateFile): Promise<void> {
    this.#lastState = state;
    const write = this.#lastWrite.then(() => writeHydrationState(this.statePath, state));
    this.#lastWrite = write.catch(() => undefined);
    return write;
  }
}
