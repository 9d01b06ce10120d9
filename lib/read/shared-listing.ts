/**
 * One listing for every process polling a replica on this machine (issue 15 item 6,
 * "staying fresh for less"). Processes that open the same replica URL with the same
 * `cacheDir` share the listing of levels 0 and 1 a poll makes (lib/read/catch-up.ts):
 * the process that lists writes the result, with the time it was taken on its poller's
 * clock, to `<cacheDir>/listings/<sha-256 of the URL>.json` (a temporary file renamed into
 * place, so a reader sees a whole listing or the previous one); a poll reads that file
 * first and uses it when it is younger than the poll interval. When it is not, the poll
 * takes `<…>.lock` (created whole with `link`, so it fails when another process holds it),
 * lists, writes, and removes the lock; the processes that find the lock held wait for the
 * listing its holder writes (checking every {@link LOCK_CHECK_MS}, at most the interval or
 * {@link MAX_LOCK_WAIT_MS}, whichever is longer), and list themselves after that. A lock older than
 * {@link STALE_LOCK_INTERVALS} intervals on the poller's clock, or unreadable, is left
 * from a process that crashed and is broken. N processes then make about one process's
 * LIST requests. A poll that must see the replica as it is when asked (`fresh`: `sync()`,
 * `waitForTxid`, a writer's catch-up) lists storage whatever is shared, and shares the result.
 *
 * A listing is used only when it is no older than the view it would move: taken after the
 * reader's last listing (its own or a shared one), within one interval, not in the future,
 * for the same replica (the URL is stored and compared), by this format version, from a
 * level-0 position at or before the reader's, and holding the reader's newest applied
 * TXID where a poll's own listing must hold it. Anything else — a corrupt or truncated
 * file, another version's, a clock that went back, an older listing, an error of the
 * directory — falls back to listing storage, counted by reason in
 * {@link SharedListingStats.sharedListingRefusals}; it never fails a poll and never serves
 * an older view. The lock only saves requests: two processes listing at once (a lock
 * broken in a race, a holder slower than the wait) each use their own listing.
 */
import { createHash, randomBytes } from 'node:crypto';
import { link, mkdir, readdir, readFile, rename, stat, unlink, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { LtxFileInfo, ReplicaClient } from '../storage/types.js';

/** Version of the listing file's format; a file of another version is refused. */
export const SHARED_LISTING_VERSION = 1;

/** Subdirectory of `cacheDir` that holds the listings (outside the disk cache's `v1/`, which its eviction scans). */
export const LISTINGS_DIR = 'listings';

/** A lock older than this many poll intervals (poller's clock) is left from a crashed process. */
export const STALE_LOCK_INTERVALS = 5;

/**
 * A temporary file of the listings directory (`.tmp-…`: a listing or lock being written, a
 * lock being broken) whose modification time is older than this (wall clock, ms) was left
 * by a process that ended between writing and renaming it; the first write of each poller
 * removes such files. A live process renames or removes its own within milliseconds.
 */
export const STALE_TMP_MS = 10 * 60 * 1000;

/** Real ms between checks for the listing while another process holds the lock. */
export const LOCK_CHECK_MS = 10;

/** Real ms a poll waits at least for the lock holder's listing before listing itself (the interval when longer). */
export const MAX_LOCK_WAIT_MS = 1000;

/**
 * The listing file of the replica `url` in the cache directory `dir` (`<dir>/listings/`,
 * named by the URL's SHA-256, so two replicas never share one); the lock is beside it
 * with `.lock` for `.json`.
 */
export function sharedListingPath(dir: string, url: string): string {
  return join(dir, LISTINGS_DIR, `${createHash('sha256').update(url).digest('hex').slice(0, 32)}.json`);
}

/** Why a poll did not use the shared listing it found (or could not look). */
export type SharedListingRefusal =
  /** The file is not a listing (torn, truncated, edited, not JSON, a file info out of shape). */
  | 'corrupt'
  /** Written by another format version of ltxvfs. */
  | 'version'
  /** The file names another replica URL. */
  | 'replica'
  /** Taken in the future on this poller's clock (a clock that went back, or processes on different clocks). */
  | 'clock'
  /**
   * It does not hold the newest TXID the reader applied (it was taken before that file was
   * written, e.g. by this process's writer): an older view than the reader's.
   */
  | 'older'
  /** Lists level 0 from a later TXID than this reader needs. */
  | 'position'
  /** Another process held the lock longer than the wait. */
  | 'lock'
  /** The directory could not be read or written (the poll listed storage). */
  | 'io';

const REFUSALS: readonly SharedListingRefusal[] = ['corrupt', 'version', 'replica', 'clock', 'older', 'position', 'lock', 'io'];

/** Counters of the listings of one poller. */
export interface SharedListingStats {
  /** Polls that listed levels 0 and 1 from storage (two LIST requests on S3). */
  listingsTaken: number;
  /** Polls answered by a listing another process took and left in `cacheDir` (no request). */
  sharedListings: number;
  /** Polls that found a shared listing, or the lock, and listed storage anyway, by reason. */
  sharedListingRefusals: Record<SharedListingRefusal, number>;
}

/** The listing a poll works from. */
export interface LevelListing {
  /** Level 0 from the poll's position, then level 1. */
  files: LtxFileInfo[];
  /** When it was taken, ms on the poller's clock (its own clock, or another process's). */
  takenAt: number;
  /** Taken by another process (read from `cacheDir`). */
  shared: boolean;
}

/** What a poll asks of a listing. */
export interface ListingRequest {
  /** List level 0 from this TXID. */
  seekTXID: number;
  /** Poller-clock ms of the reader's last listing: only a listing taken later is used. */
  after: number;
  /** True when the listing holds what the reader already applied (catch-up's rule). */
  holdsApplied: (files: readonly LtxFileInfo[]) => boolean;
  /**
   * List storage whatever is shared (and share the result): for polls that must reflect
   * the replica as it is when they are asked for (`Database.sync()`, a writer's catch-up).
   */
  fresh?: boolean;
}

/**
 * Levels 0 (from `seekTXID`) and 1 of `client`: the two listings of a poll.
 * @throws the client's errors (`LTXVFS_ERR_STORAGE`, `LTXVFS_ERR_NOT_FOUND`).
 */
export async function listNewestLevels(client: ReplicaClient, seekTXID: number): Promise<LtxFileInfo[]> {
  const [l0, l1] = await Promise.all([client.listLtxFiles(0, { seekTXID }), client.listLtxFiles(1)]);
  return [...l0, ...l1];
}

/** The file's JSON shape. */
interface ListingFile {
  format: 'ltxvfs-listing';
  version: number;
  url: string;
  takenAt: number;
  seekTXID: number;
  files: LtxFileInfo[];
}

/** What one file read gave: a listing, nothing, or the reason it cannot be used. */
type ReadResult = { listing: ListingFile } | { refused: SharedListingRefusal } | { none: true };

/**
 * The listings of one poller: from storage, or shared through a directory when one is
 * given. Never throws for the directory: its problems are counted and storage is listed.
 */
export class PollListings {
  readonly #client: ReplicaClient;
  readonly #intervalMs: number;
  readonly #now: () => number;
  /** `<dir>/listings`, or undefined when listings are not shared. */
  readonly #dir: string | undefined;
  readonly #path: string;
  readonly #lockPath: string;
  readonly #token = `${process.pid}-${randomBytes(6).toString('hex')}`;
  #tmpSeq = 0;
  /** Set once this poller has removed the stale temporary files of the directory. */
  #swept = false;
  #taken = 0;
  #shared = 0;
  readonly #refusals = Object.fromEntries(REFUSALS.map((r) => [r, 0])) as Record<SharedListingRefusal, number>;

  /**
   * @param client the replica polled; its `url` keys the files (two URLs never share).
   * @param dir the `cacheDir` shared by processes, or undefined to list storage every poll.
   * @param intervalMs the poll interval: the age below which a shared listing is used.
   * @param now the poller's clock, ms.
   */
  constructor(client: ReplicaClient, dir: string | undefined, intervalMs: number, now: () => number) {
    this.#client = client;
    this.#intervalMs = intervalMs;
    this.#now = now;
    this.#dir = dir === undefined || intervalMs <= 0 ? undefined : join(dir, LISTINGS_DIR);
    this.#path = sharedListingPath(dir ?? '', client.url);
    this.#lockPath = this.#path.replace(/\.json$/, '.lock');
  }

  /** Counters (a copy). */
  stats(): SharedListingStats {
    return { listingsTaken: this.#taken, sharedListings: this.#shared, sharedListingRefusals: { ...this.#refusals } };
  }

  /**
   * The listing a poll works from: a shared one that `request` accepts, else one from storage
   * (written for the others when shared).
   * @throws the client's listing errors.
   */
  async list(request: ListingRequest): Promise<LevelListing> {
    if (this.#dir === undefined) return this.#listStorage(request.seekTXID);
    if (request.fresh === true) {
      const listing = await this.#listStorage(request.seekTXID);
      await this.#write(listing, request.seekTXID);
      return listing;
    }
    const found = await this.#usable(request);
    if (found !== undefined) return found;
    const lock = await this.#lock();
    if (lock === 'held') {
      const waited = await this.#waitForHolder(request);
      if (waited !== undefined) return waited;
    }
    try {
      // Another process may have listed, written and unlocked since the look above.
      const written = lock === 'taken' ? await this.#usable(request, false) : undefined;
      if (written !== undefined) return written;
      const listing = await this.#listStorage(request.seekTXID);
      await this.#write(listing, request.seekTXID);
      return listing;
    } finally {
      if (lock === 'taken') await this.#unlock();
    }
  }

  async #listStorage(seekTXID: number): Promise<LevelListing> {
    const takenAt = this.#now();
    const files = await listNewestLevels(this.#client, seekTXID);
    this.#taken++;
    return { files, takenAt, shared: false };
  }

  #refuse(reason: SharedListingRefusal): undefined {
    this.#refusals[reason]++;
    return undefined;
  }

  /**
   * The shared listing if it is there and fits `request`; when it is there and does not, the
   * reason is counted (if `count`).
   */
  async #usable(request: ListingRequest, count = true): Promise<LevelListing | undefined> {
    const refuse = (reason: SharedListingRefusal): undefined => (count ? this.#refuse(reason) : undefined);
    const read = await this.#read();
    if ('none' in read) return undefined;
    if ('refused' in read) return refuse(read.refused);
    const { listing } = read;
    const age = this.#now() - listing.takenAt;
    if (age < 0) return refuse('clock');
    // Expired, or the one this reader applied last: not a refusal, the poll lists.
    if (age >= this.#intervalMs || listing.takenAt <= request.after) return undefined;
    if (listing.seekTXID > request.seekTXID) return refuse('position');
    const files = listing.files.filter((f) => f.level === 1 || f.minTXID >= request.seekTXID);
    if (!request.holdsApplied(files)) return refuse('older');
    this.#shared++;
    return { files, takenAt: listing.takenAt, shared: true };
  }

  async #read(): Promise<ReadResult> {
    let text: string;
    try {
      text = await readFile(this.#path, 'utf8');
    } catch (err) {
      return (err as NodeJS.ErrnoException).code === 'ENOENT' ? { none: true } : { refused: 'io' };
    }
    let value: unknown;
    try {
      value = JSON.parse(text);
    } catch {
      return { refused: 'corrupt' };
    }
    return this.#check(value);
  }

  /** `value` as a listing of this replica, or why it is not one. */
  #check(value: unknown): ReadResult {
    if (typeof value !== 'object' || value === null) return { refused: 'corrupt' };
    const v = value as Partial<Record<keyof ListingFile, unknown>>;
    if (v.format !== 'ltxvfs-listing') return { refused: 'corrupt' };
    if (v.version !== SHARED_LISTING_VERSION) return { refused: 'version' };
    if (v.url !== this.#client.url) return { refused: 'replica' };
    if (!isCount(v.seekTXID) || typeof v.takenAt !== 'number' || !Number.isFinite(v.takenAt) || !Array.isArray(v.files)) return { refused: 'corrupt' };
    const files = v.files as unknown[];
    if (!files.every((f) => this.#isFileInfo(f))) return { refused: 'corrupt' };
    return { listing: { format: 'ltxvfs-listing', version: v.version, url: v.url, takenAt: v.takenAt, seekTXID: v.seekTXID, files: files as LtxFileInfo[] } };
  }

  /** A level 0 or 1 file info whose key is the one the client gives for its level and TXID range. */
  #isFileInfo(value: unknown): value is LtxFileInfo {
    if (typeof value !== 'object' || value === null) return false;
    const f = value as Partial<Record<keyof LtxFileInfo, unknown>>;
    if ((f.level !== 0 && f.level !== 1) || !isCount(f.minTXID) || !isCount(f.maxTXID) || f.minTXID < 1 || f.maxTXID < f.minTXID) return false;
    if (!isCount(f.size) || typeof f.createdAt !== 'number' || !Number.isFinite(f.createdAt) || typeof f.key !== 'string') return false;
    try {
      return f.key === this.#client.ltxKey(f.level, f.minTXID, f.maxTXID);
    } catch {
      return false;
    }
  }

  /** Take the lock: `taken`, `held` by another live process, or `failed` (the directory: list without it). */
  async #lock(): Promise<'taken' | 'held' | 'failed'> {
    const body = JSON.stringify({ token: this.#token, at: this.#now() });
    for (let attempt = 0; attempt < 2; attempt++) {
      const tmp = this.#tmpPath();
      try {
        await mkdir(this.#dir!, { recursive: true });
        await writeFile(tmp, body);
        // link() creates the lock whole, and fails if it exists.
        await link(tmp, this.#lockPath);
        return 'taken';
      } catch (err) {
        if ((err as NodeJS.ErrnoException).syscall !== 'link' || (err as NodeJS.ErrnoException).code !== 'EEXIST') {
          this.#refuse('io');
          return 'failed';
        }
      } finally {
        await unlink(tmp).catch(() => undefined);
      }
      if (!(await this.#breakIfStale())) return 'held';
    }
    return 'held';
  }

  /** Remove the lock if a crashed process left it (too old, unreadable); true if it is gone. */
  async #breakIfStale(): Promise<boolean> {
    const at = await this.#lockTime();
    if (at === null) return true;
    if (at !== undefined && at <= this.#now() && this.#now() - at <= STALE_LOCK_INTERVALS * this.#intervalMs) return false;
    // Renamed first, so that of two processes breaking it only one removes it.
    const aside = this.#tmpPath();
    try {
      await rename(this.#lockPath, aside);
      await unlink(aside);
    } catch {
      // Another process broke it first.
    }
    return true;
  }

  /** The lock's time on its holder's clock; undefined when unreadable; null when there is none. */
  async #lockTime(): Promise<number | undefined | null> {
    try {
      const lock = JSON.parse(await readFile(this.#lockPath, 'utf8')) as { at?: unknown };
      return typeof lock.at === 'number' && Number.isFinite(lock.at) ? lock.at : undefined;
    } catch (err) {
      return (err as NodeJS.ErrnoException).code === 'ENOENT' ? null : undefined;
    }
  }

  /**
   * Wait for the lock holder's listing; undefined when it did not fit (counted by
   * {@link #usable}) or did not come in time (counted as `lock`).
   */
  async #waitForHolder(request: ListingRequest): Promise<LevelListing | undefined> {
    const checks = Math.ceil(Math.max(this.#intervalMs, MAX_LOCK_WAIT_MS) / LOCK_CHECK_MS);
    for (let i = 0; i < checks; i++) {
      await new Promise((resolve) => setTimeout(resolve, LOCK_CHECK_MS));
      const held = await this.#lockTime();
      const found = await this.#usable(request);
      if (found !== undefined || held === null) return found;
    }
    return this.#refuse('lock');
  }

  async #unlock(): Promise<void> {
    try {
      const lock = JSON.parse(await readFile(this.#lockPath, 'utf8')) as { token?: unknown };
      if (lock.token === this.#token) await unlink(this.#lockPath);
    } catch {
      // Gone already (broken as stale by another process).
    }
  }

  /** Write `listing` for the others (temporary file, then rename); a failure is counted, never thrown. */
  async #write(listing: LevelListing, seekTXID: number): Promise<void> {
    const body: ListingFile = { format: 'ltxvfs-listing', version: SHARED_LISTING_VERSION, url: this.#client.url, takenAt: listing.takenAt, seekTXID, files: listing.files };
    const tmp = this.#tmpPath();
    try {
      await mkdir(this.#dir!, { recursive: true });
      await writeFile(tmp, JSON.stringify(body));
      await rename(tmp, this.#path);
    } catch {
      this.#refuse('io');
      await unlink(tmp).catch(() => undefined);
    }
    if (!this.#swept) {
      this.#swept = true;
      await this.#sweep();
    }
  }

  /** Remove the temporary files older than {@link STALE_TMP_MS} (crashed writers' leftovers); errors are ignored. */
  async #sweep(): Promise<void> {
    const names = await readdir(this.#dir!).catch(() => [] as string[]);
    const now = Date.now();
    for (const name of names) {
      if (!name.startsWith('.tmp-')) continue;
      const path = join(this.#dir!, name);
      const st = await stat(path).catch(() => undefined);
      if (st !== undefined && now - st.mtimeMs > STALE_TMP_MS) await unlink(path).catch(() => undefined);
    }
  }

  #tmpPath(): string {
    return join(this.#dir!, `.tmp-${this.#token}-${++this.#tmpSeq}`);
  }
}

/** A non-negative safe integer. */
function isCount(value: unknown): value is number {
  return typeof value === 'number' && Number.isSafeInteger(value) && value >= 0;
}
