/**
 * FileVerifier: every LTX file whose pages a reader serves is checked against its file
 * checksum (docs/formats.md §2.4). Page frames carry no checksum of their own, so a bit flipped
 * inside a compressed page that still decodes would otherwise be served as data.
 *
 * - Files up to `wholeFileBytes` are read whole at load time and verified before any of
 *   their pages is served (lib/replica/ltx-loader.ts); they are trusted at once.
 * - Larger files are verified in the background from their first use (the first page
 *   served from them): the file is read in ranges of `verifyRangeBytes` in the fetch
 *   queue's background lane (lib/read/fetch-queue.ts: sent only once the foreground has
 *   been quiet, at the lowest priority), at most `verifyConcurrency` files
 *   at a time, every frame decoded and fed to a {@link FileChecksumBuilder}. Frames the
 *   fetcher decodes are fed too (a sequential scan verifies as it reads): at the
 *   verifier's position directly, ahead of it into runs checksummed apart and appended
 *   once the position reaches them (a CRC combine, ltx/crc64.ts), up to
 *   {@link MAX_RUNS_AHEAD} runs per file. A verification read covers only frames nobody
 *   fed, never reaches past the position of a scan of the file in progress (the scan feeds
 *   those frames; a scan that stands still for `scanWaitMs` no longer counts), and is
 *   planned again if frames were fed while it waited for its turn.
 *   Before, any frame decoded out of order was lost to the checksum, and a verification
 *   that ran ahead of a paused scan stayed ahead of it: after a full scan of the bench
 *   database's 199 MB snapshot on a directory, verification read 212 MB more in process and
 *   189 MB more on the worker engine; now 4.6 and 5.2 MB, the frames of the index no query
 *   read, and the tail (bench/.work harness, 2026-12-07).
 * - A verified file stays verified: in memory for the reader's life, and in the disk tier
 *   (`cacheDir`) by key, size and stored file checksum.
 * - A mismatch (or a frame that does not decode) poisons the reader: every later
 *   transaction fails with `LTXVFS_ERR_CHECKSUM` naming the file, `onFailure` is called
 *   (the reader emits `corrupt`: results returned before it are suspect) and
 *   `corruptFiles` counts it. A storage error during verification is not corruption: the
 *   file stays unverified (the next use retries) and {@link FileVerifier.verified} rejects.
 *
 * Cost: one read of the frames of every large file used that no query read, in ranges (a
 * 200 MiB file nobody scanned, at the default 4 MiB ranges, is 50 requests); see
 * docs/usage.md, "Verification".
 */
import PQueue from 'p-queue';
import { formatChecksum } from '../../ltx/checksum.js';
import { isLtxvfsError, LtxvfsError } from '../../ltx/errors.js';
import { FILE_CHECKSUM_SIZE, FileChecksumBuilder } from '../../ltx/file-checksum.js';
import { decodeIndexedFrameInto } from '../../ltx/frame.js';
import { HEADER_SIZE } from '../../ltx/header.js';
import type { ReplicaClient } from '../storage/types.js';
import type { LtxFile } from '../replica/page-index.js';
import type { DiskCache } from '../cache/index.js';
import { VERIFY_PRIORITY } from './fetch-queue.js';
import { headerOf, wasVerifiedWhole } from '../replica/file-checks.js';

export { markVerifiedWhole } from '../replica/file-checks.js';
export { explainFailure, integrityError, isSuspectSqliteError, type IntegritySource } from './integrity.js';

/** Default range size of background verification reads: 4 MiB (50 requests for a 200 MiB file). */
export const DEFAULT_VERIFY_RANGE_BYTES = 4 * 1024 * 1024;

/** Frames decoded and checksummed between two yields to the event loop (~128 KiB of 4 KiB pages, well under 1 ms). */
const FRAMES_PER_SLICE = 32;

/**
 * Most runs of frames fed ahead of a file's checksum position that are kept (a run is a few
 * dozen bytes). Random lookups make one per frame; past this, their frames are read again
 * by the verification, as before runs.
 */
export const MAX_RUNS_AHEAD = 4096;

/** Default number of files verified at once in the background. */
export const DEFAULT_VERIFY_CONCURRENCY = 2;

/** Options of {@link FileVerifier}. */
export interface VerifierOptions {
  /** Bytes per background verification read. Default {@link DEFAULT_VERIFY_RANGE_BYTES}. */
  verifyRangeBytes?: number;
  /** Files verified in the background at once. Default {@link DEFAULT_VERIFY_CONCURRENCY}. */
  verifyConcurrency?: number;
  /**
   * Longest a verification, or a warm-up range (lib/read/fetcher.ts), waits for a scan of
   * its file that does not move on, ms (real time). Past it, that read goes on without
   * regard to scans. Default {@link DEFAULT_SCAN_WAIT_MS}.
   */
  scanWaitMs?: number;
}

/**
 * Default of `scanWaitMs`: 5 s. A scan moves on at every miss and every landed range,
 * milliseconds apart. One that has not moved for this long has stopped inside a transaction
 * still open (a range query in a long `db.transaction`, or another connection keeping one
 * open), and must not hold the file's verification back.
 */
export const DEFAULT_SCAN_WAIT_MS = 5000;

/** Counters of a {@link FileVerifier}. */
export interface VerificationStats {
  /** Files found to match their file checksum (read whole, in the background, or known from the disk tier). */
  filesVerified: number;
  /** Files being verified in the background now (queued or reading). */
  filesPending: number;
  /** Files that failed verification (checksum mismatch or undecodable frame); > 0 means results may have been wrong. */
  corruptFiles: number;
  /** Range reads made by background verification. */
  verifyRequests: number;
  /** Bytes received by background verification. */
  verifyBytes: number;
  /** Frames fed from the fetcher's own reads (no verification read needed for them). */
  framesCoalesced: number;
}

/** How background reads are scheduled: the fetch queue's background lane (lib/read/fetch-queue.ts), or any runner in tests. */
export interface ReadScheduler {
  add<T>(task: () => Promise<T>, options: { priority: number }): Promise<T>;
}

/** One file being verified. */
interface Job {
  readonly file: LtxFile;
  readonly id: string;
  readonly crc: FileChecksumBuilder;
  /** Next frame (entry) to feed; -1 while the header has not been fed. */
  next: number;
  done: Promise<void>;
  /** A scan of the file stood still for `scanWaitMs`: this verification no longer waits for scans. */
  scanStalled: boolean;
  /** Runs of frames fed ahead of {@link next}, by first entry, and by the entry after the last. */
  readonly runs: Map<number, Run>;
  readonly runEnds: Map<number, Run>;
  /** Frames in a run (1 byte per entry of the file; allocated at the first run). */
  fed: Uint8Array | undefined;
  /** A hydration pass feeding this file's frames ({@link FileVerifier.feedFrom}): nothing is read before it settles. */
  until: Promise<unknown> | undefined;
}

/** Frames `[start, end)` of a file, checksummed apart from the frames before them. */
interface Run {
  start: number;
  end: number;
  readonly crc: FileChecksumBuilder;
}

type State = Job | 'verified';

export { rememberHeader } from '../replica/file-checks.js';

/** Identity of a file's contents: key, size and stored file checksum. */
function idOf(file: LtxFile): string {
  return `${file.info.key}\n${file.info.size}\n${formatChecksum(file.trailer.fileChecksum)}`;
}

/** Verifies the LTX files a reader serves pages from (see the module comment). */
export class FileVerifier {
  readonly #client: ReplicaClient;
  readonly #reads: ReadScheduler;
  readonly #disk: DiskCache | undefined;
  readonly #rangeBytes: number;
  readonly #scanWaitMs: number;
  readonly #files = new PQueue();
  readonly #byFile = new WeakMap<LtxFile, State>();
  readonly #byId = new Map<string, State>();
  readonly #running = new Set<Job>();
  #failure: LtxvfsError | undefined;
  #closed = false;
  /** Rejects (LTXVFS_ERR_CLOSED) at {@link close}: every wait of a job races it, so a close never waits for a read in flight. */
  readonly #closing: Promise<never>;
  #cancel!: (err: LtxvfsError) => void;
  #scratch = new Uint8Array(0);
  readonly #stats: VerificationStats = { filesVerified: 0, filesPending: 0, corruptFiles: 0, verifyRequests: 0, verifyBytes: 0, framesCoalesced: 0 };
  /** Called once, with the first integrity failure (the reader emits `corrupt`). */
  onFailure: ((error: LtxvfsError) => void) | undefined;
  /**
   * The fetcher's read in flight that will decode frame `entry` of `file`, if any: the
   * verification waits for it (and is fed its frames) instead of reading the same bytes.
   */
  inFlight: ((file: LtxFile, entry: number) => Promise<unknown> | undefined) | undefined;
  /**
   * Where a sequential scan of `file` is now (the entry of its last miss), while one runs
   * in an open transaction; undefined when none does. The verification reads nothing at or
   * past that entry: the scan feeds those frames (lib/read/fetcher.ts).
   */
  scanAt: ((file: LtxFile) => number | undefined) | undefined;
  /** Resolves when the scan of `file` moves on (a miss, a landed range) or the last transaction ends. */
  scanMoved: ((file: LtxFile) => Promise<void>) | undefined;

  /**
   * @param client the replica's storage.
   * @param reads where verification reads queue (the fetch queue's background lane, at {@link VERIFY_PRIORITY}).
   * @param disk the disk tier, whose "verified" entries outlive the process.
   * @throws LtxvfsError `LTXVFS_ERR_USAGE` for a range size or concurrency that is not a positive integer.
   */
  constructor(client: ReplicaClient, reads: ReadScheduler, disk: DiskCache | undefined, options: VerifierOptions = {}) {
    this.#client = client;
    this.#reads = reads;
    this.#disk = disk;
    this.#rangeBytes = positive('verifyRangeBytes', options.verifyRangeBytes ?? DEFAULT_VERIFY_RANGE_BYTES);
    this.#files.concurrency = positive('verifyConcurrency', options.verifyConcurrency ?? DEFAULT_VERIFY_CONCURRENCY);
    this.#scanWaitMs = positive('scanWaitMs', options.scanWaitMs ?? DEFAULT_SCAN_WAIT_MS);
    this.#closing = new Promise<never>((_, reject) => (this.#cancel = reject));
    this.#closing.catch(() => undefined);
  }

  /** The first integrity failure, if any: the reader serves nothing after it. */
  get failure(): LtxvfsError | undefined {
    return this.#failure;
  }

  /** @throws LtxvfsError the integrity failure (`LTXVFS_ERR_CHECKSUM` naming the file), if there was one. */
  check(): void {
    if (this.#failure !== undefined) throw this.#failure;
  }

  /**
   * Fail the reader for good with `error` (an integrity failure, or the newest file
   * gone): {@link check} throws it from now on; `onFailure` hears of the first one.
   */
  poison(error: LtxvfsError): void {
    if (this.#failure !== undefined) return;
    this.#failure = error;
    this.onFailure?.(error);
  }

  /** Counters (a copy). */
  stats(): VerificationStats {
    return { ...this.#stats, filesPending: this.#running.size };
  }

  /** Whether `file` is known to match its checksum (read whole, verified, or so recorded in the disk tier). */
  isVerified(file: LtxFile): boolean {
    return this.#state(file) === 'verified';
  }

  /**
   * `file` (a page index from the disk tier) if its pages may be range-read: it is larger
   * than `wholeFileBytes` (verified in the background as it is used) or already verified;
   * else undefined, so the loader reads it whole and verifies it before serving a page.
   */
  usableIndex(file: LtxFile | undefined, wholeFileBytes: number): LtxFile | undefined {
    if (file === undefined || file.info.size > wholeFileBytes || this.isVerified(file)) return file;
    return undefined;
  }

  /** Trust `file` without reading it (a file this process wrote and uploaded). */
  trust(file: LtxFile): void {
    this.#settle(file, idOf(file));
  }

  /**
   * Take `file` as verified because an earlier process found it to match its checksum and
   * recorded so (a hydration's state file, lib/hydrate/state.ts): counted in `filesVerified`,
   * as the disk tier's records are. No effect on a file verified, being verified, or failed.
   */
  trustVerified(file: LtxFile): void {
    if (this.#state(file) !== undefined || this.#closed || this.#failure !== undefined) return;
    this.#stats.filesVerified++;
    this.#settle(file, idOf(file));
  }

  /**
   * A page of `file` is about to be served: start verifying it if nobody has. Cheap when known.
   * @returns true when this call started the verification (it then accepts the frames of its
   *   first entries through {@link observe}); false when it runs, ended, or the reader closed.
   */
  use(file: LtxFile): boolean {
    return this.#start(file) !== undefined;
  }

  /**
   * A hydration pass (lib/hydrate/) is about to decode frames of `file`: verify the file
   * from the frames the pass feeds through {@link observe} instead of reading it once more.
   * The verification starts now if nobody's has (as {@link use}), and reads nothing until
   * `until` (the pass) settles; then it reads only the bytes nobody fed — the header and the
   * index when they were not remembered, frames the pass did not decode. Before, the first
   * page served from a hydrated file started a verification that read the whole file again:
   * a process that found its hydration complete downloaded the 212 MB snapshot of the bench
   * database at every start (2026-12-08).
   * @returns false when the file is verified already (nothing to feed) or the reader closed.
   */
  feedFrom(file: LtxFile, until: Promise<unknown>): boolean {
    const s = this.#byFile.get(file);
    if (s === undefined) return this.#start(file, until) !== undefined;
    if (s === 'verified' || this.#closed) return false;
    // Running already (a query used the file first): its next read waits for the pass.
    s.until = s.until === undefined ? until : Promise.allSettled([s.until, until]);
    return true;
  }

  /**
   * Start verifying `file` (see {@link use}), after `until` when given (see {@link feedFrom}:
   * the job takes no place among the files verified at once while it waits): its job, or
   * undefined when it runs, ended, is known, or the reader closed.
   */
  #start(file: LtxFile, until?: Promise<unknown>): Job | undefined {
    if (this.#byFile.has(file) || this.#closed) return undefined;
    if (this.#state(file) !== undefined) return undefined;
    const id = idOf(file);
    const job: Job = { file, id, crc: new FileChecksumBuilder(), next: -1, done: Promise.resolve(), scanStalled: false, runs: new Map(), runEnds: new Map(), fed: undefined, until: undefined };
    const header = headerOf(file);
    if (header !== undefined) {
      job.crc.header(header);
      job.next = 0;
    }
    this.#byFile.set(file, job);
    this.#byId.set(id, job);
    this.#running.add(job);
    const queued = (): Promise<void> => this.#files.add(() => this.#run(job));
    job.done = (until === undefined ? queued() : this.#unlessClosed(until.then(noop, noop)).then(queued)).then(
      () => {
        this.#running.delete(job);
        this.#stats.filesVerified++;
        this.#settle(file, id);
        this.#disk?.putVerified(file);
      },
      (err: unknown) => {
        this.#running.delete(job);
        this.#byFile.delete(file);
        this.#byId.delete(id);
        if (this.#closed) throw new LtxvfsError('LTXVFS_ERR_CLOSED', `${file.info.key}: verification cancelled: the reader closed`, { key: file.info.key, cause: err });
        if (isLtxvfsError(err, 'LTXVFS_ERR_CORRUPT') || isLtxvfsError(err, 'LTXVFS_ERR_CHECKSUM') || isLtxvfsError(err, 'LTXVFS_ERR_UNSUPPORTED')) {
          this.#stats.corruptFiles++;
          const error = isLtxvfsError(err, 'LTXVFS_ERR_CHECKSUM')
            ? err
            : new LtxvfsError('LTXVFS_ERR_CHECKSUM', `${file.info.key}: failed verification: ${(err as Error).message}`, { key: file.info.key, cause: err });
          this.poison(error);
          throw error;
        }
        throw err;
      },
    );
    // Awaited through verified(); a failure must not surface as unhandled.
    job.done.catch(() => undefined);
    return job;
  }

  /**
   * A frame the fetcher decoded (`frame` = its stored bytes, `page` = decompressed): fed
   * to the file's checksum when it is the next frame the verification needs, or kept in a
   * run ahead of it (see the module comment) when it lies further on and was not fed yet.
   */
  observe(file: LtxFile, entry: number, frame: Uint8Array, page: Uint8Array): void {
    const s = this.#byFile.get(file);
    if (s === undefined || s === 'verified' || entry < s.next) return;
    if (entry === s.next) {
      this.#feed(s, frame, page);
      this.#stats.framesCoalesced++;
      return;
    }
    const fed = (s.fed ??= new Uint8Array(file.entries.length));
    if (fed[entry] === 1) return;
    let run = s.runEnds.get(entry);
    if (run !== undefined) {
      s.runEnds.delete(entry);
    } else {
      if (s.runs.size >= MAX_RUNS_AHEAD) return;
      run = { start: entry, end: entry, crc: new FileChecksumBuilder() };
      s.runs.set(entry, run);
    }
    run.crc.frame(frame, page, file.info.key);
    run.end = entry + 1;
    fed[entry] = 1;
    this.#stats.framesCoalesced++;
    const next = s.runs.get(run.end);
    if (next !== undefined) {
      // Two runs meet: one.
      run.crc.append(next.crc);
      s.runs.delete(next.start);
      run.end = next.end;
    }
    s.runEnds.set(run.end, run);
  }

  /** Feed the frame at `job.next`, then the runs fed ahead that now follow on. */
  #feed(job: Job, frame: Uint8Array, page: Uint8Array): void {
    job.crc.frame(frame, page, job.file.info.key);
    job.next++;
    this.#catchUp(job);
  }

  /** Append the run that starts at `job.next`, if any, and those after it. */
  #catchUp(job: Job): void {
    for (let run = job.runs.get(job.next); run !== undefined; run = job.runs.get(job.next)) {
      job.crc.append(run.crc);
      job.runs.delete(run.start);
      job.runEnds.delete(run.end);
      job.next = run.end;
    }
  }

  /** Whether a running verification of `file` still needs frame `entry` ({@link observe} would take it). */
  wants(file: LtxFile, entry: number): boolean {
    const s = this.#byFile.get(file);
    if (s === undefined || s === 'verified' || entry < s.next) return false;
    return entry === s.next || (s.fed?.[entry] !== 1 && (s.runEnds.has(entry) || s.runs.size < MAX_RUNS_AHEAD));
  }

  /**
   * Resolves once every file used so far (and any used meanwhile) is verified.
   * @throws LtxvfsError the integrity failure (`LTXVFS_ERR_CHECKSUM` naming the file); a
   *   storage error that stopped a verification; `LTXVFS_ERR_CLOSED` if the reader closed first.
   */
  async verified(): Promise<void> {
    for (;;) {
      this.check();
      if (this.#running.size === 0) return;
      await Promise.all([...this.#running].map((j) => j.done));
    }
  }

  /** Whether {@link close} was called (background reads for this reader are no longer wanted). */
  get closed(): boolean {
    return this.#closed;
  }

  /**
   * Cancel background verification: queued files stop before reading, and running ones at
   * once — a read in flight is abandoned, not awaited (the storage client's close aborts
   * it), so a close never waits on storage (a close right after a fresh process's first
   * query waited for a 4 MiB verification read that S3 had not answered).
   */
  async close(): Promise<void> {
    this.#closed = true;
    this.#cancel(new LtxvfsError('LTXVFS_ERR_CLOSED', 'verification cancelled: the reader closed'));
    await Promise.allSettled([...this.#running].map((j) => j.done));
  }

  /** `promise`, unless the verifier closes first (then LTXVFS_ERR_CLOSED; `promise` is left to settle unobserved). */
  #unlessClosed<T>(promise: Promise<T>): Promise<T> {
    promise.catch(() => undefined);
    return Promise.race([promise, this.#closing]);
  }

  #state(file: LtxFile): State | undefined {
    const known = this.#byFile.get(file);
    if (known !== undefined) return known;
    if (wasVerifiedWhole(file)) {
      this.#stats.filesVerified++;
      this.#settle(file, idOf(file));
      this.#disk?.putVerified(file);
      return 'verified';
    }
    const id = idOf(file);
    const byId = this.#byId.get(id);
    if (byId !== undefined) {
      this.#byFile.set(file, byId);
      return byId;
    }
    if (this.#disk?.isVerified(file) === true) {
      this.#stats.filesVerified++;
      this.#settle(file, id);
      return 'verified';
    }
    return undefined;
  }

  #settle(file: LtxFile, id: string): void {
    this.#byFile.set(file, 'verified');
    this.#byId.set(id, 'verified');
  }

  /** Read the rest of the file in ranges, feeding the checksum; compare it with the trailer's. */
  async #run(job: Job): Promise<void> {
    const { file } = job;
    const key = file.info.key;
    const entries = file.entries;
    const { pgnos, offsets } = entries;
    const tailStart = entries.length === 0 ? HEADER_SIZE : entries.end(entries.length - 1);
    const tailEnd = file.info.size - FILE_CHECKSUM_SIZE;
    if (this.#scratch.length !== file.header.pageSize) this.#scratch = new Uint8Array(file.header.pageSize);
    for (;;) {
      if (this.#closed) throw new LtxvfsError('LTXVFS_ERR_CLOSED', `${key}: verification cancelled`, { key });
      const feeding = job.until;
      if (feeding !== undefined) {
        // A hydration pass feeds the frames it decodes: read only what is left after it.
        await this.#unlessClosed(feeding.then(() => undefined, () => undefined));
        if (job.until === feeding) job.until = undefined;
        continue;
      }
      const ahead = job.next >= 0 && job.next < entries.length ? this.inFlight?.(file, job.next) : undefined;
      if (ahead !== undefined) {
        // The fetcher is reading the next frame: it feeds it (observe); go on after that read.
        await this.#unlessClosed(ahead.catch(() => undefined));
        continue;
      }
      // A scan of the file in progress feeds the frames from its position on: reading them
      // here too would read them twice (a verification that got ahead of a paused scan stayed
      // ahead of it to the end of the file). Wait for it to move on, or to end.
      const scanAt = !job.scanStalled && job.next >= 0 && job.next < entries.length ? this.scanAt?.(file) : undefined;
      if (scanAt !== undefined && job.next >= scanAt && this.scanMoved !== undefined) {
        let timer: ReturnType<typeof setTimeout> | undefined;
        const stalled = new Promise<boolean>((resolve) => {
          timer = setTimeout(() => resolve(true), this.#scanWaitMs);
          timer.unref?.();
        });
        job.scanStalled = await this.#unlessClosed(Promise.race([this.scanMoved(file).then(() => false), stalled])).finally(() => clearTimeout(timer));
        continue;
      }
      const stop = scanAt ?? entries.length;
      const pos = job.next < 0 ? 0 : job.next < entries.length ? offsets[job.next] : tailStart;
      let end = job.next < 0 ? HEADER_SIZE : pos;
      let n = Math.max(job.next, 0);
      // Up to the range size, stopping before a frame the fetcher is reading anyway or fed
      // already, and before the scan's position.
      while (n < entries.length && (end === pos || (n < stop && entries.end(n) - pos <= this.#rangeBytes && job.fed?.[n] !== 1 && this.inFlight?.(file, n) === undefined))) {
        end = entries.end(n);
        n++;
      }
      if (n === entries.length && (end === pos || tailEnd - pos <= this.#rangeBytes)) end = tailEnd;
      if (this.#closed) throw new LtxvfsError('LTXVFS_ERR_CLOSED', `${key}: verification cancelled`, { key });
      const planned = job.next;
      const bytes = await this.#unlessClosed(this.#reads.add(async () => {
        // Its turn may come after the reader closed: then it is not sent.
        if (this.#closed) throw new LtxvfsError('LTXVFS_ERR_CLOSED', `${key}: verification cancelled`, { key });
        // Or after the fetcher fed the frames it was for (it waited for a quiet foreground,
        // and the foreground was a scan of this file): then it is planned again.
        if (job.next !== planned) return undefined;
        return this.#client.readRange(key, pos, end - pos);
      }, { priority: VERIFY_PRIORITY }));
      if (bytes === undefined) continue;
      this.#stats.verifyRequests++;
      this.#stats.verifyBytes += bytes.byteLength;
      if (job.next < 0) {
        job.crc.header(bytes);
        job.next = 0;
        this.#catchUp(job);
      }
      // The fetcher may have fed frames meanwhile: go on from where the checksum is.
      for (let sinceYield = 0; job.next < entries.length && entries.end(job.next) <= end; sinceYield++) {
        if (sinceYield === FRAMES_PER_SLICE) {
          // Foreground before background: decoding a 4 MiB range is tens of ms of CPU on
          // the thread that serves SQLite's page reads (a cold lookup's three reads waited
          // behind it: 1.4 → 67 ms in the bench). Yield to the event loop between slices.
          sinceYield = 0;
          await new Promise<void>((resolve) => setImmediate(resolve));
          if (this.#closed) throw new LtxvfsError('LTXVFS_ERR_CLOSED', `${key}: verification cancelled`, { key });
          continue; // the fetcher may have fed frames while this one waited
        }
        const n = job.next;
        const frame = bytes.subarray(offsets[n] - pos, entries.end(n) - pos);
        decodeIndexedFrameInto(frame, pgnos[n], this.#scratch, `${key}: page ${pgnos[n]} at offset ${offsets[n]}`);
        this.#feed(job, frame, this.#scratch);
      }
      if (job.next === entries.length && end === tailEnd) {
        job.crc.tail(bytes, tailStart - pos, tailEnd - pos);
        const computed = job.crc.digest();
        if (computed !== file.trailer.fileChecksum) {
          throw new LtxvfsError('LTXVFS_ERR_CHECKSUM',
            `${key}: file checksum mismatch: stored ${formatChecksum(file.trailer.fileChecksum)}, computed ${formatChecksum(computed)}`, { key });
        }
        return;
      }
    }
  }
}

function noop(): void {}

function positive(name: string, value: number): number {
  if (!Number.isSafeInteger(value) || value <= 0) throw new LtxvfsError('LTXVFS_ERR_USAGE', `${name} must be a positive integer, got ${value}`);
  return value;
}
