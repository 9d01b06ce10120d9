/**
 * The files beside a hydrated database (lib/hydrate/): the state file that lets an
 * interrupted hydration resume, and the lock that keeps two processes from hydrating one
 * file; plus the byte-range bookkeeping the state holds.
 *
 * `<path>.ltxvfs-hydration.json` ({@link HydrationStateFile}) is replaced atomically: written
 * under a temporary name, fsynced, renamed. `<path>.ltxvfs-lock` holds the owner's pid; a
 * lock whose process is gone is taken over.
 */
import { closeSync, openSync, readFileSync, unlinkSync, writeSync } from 'node:fs';
import { open, rename, unlink, writeFile } from 'node:fs/promises';
import { LtxvfsError } from '../../ltx/errors.js';

/** Suffix of the state file beside the hydrated database. */
export const HYDRATION_STATE_SUFFIX = '.ltxvfs-hydration.json';
/** Suffix of the lock file beside the hydrated database. */
export const HYDRATION_LOCK_SUFFIX = '.ltxvfs-lock';

/** What the state file holds (JSON). */
export interface HydrationStateFile {
  format: 'ltxvfs-hydration';
  version: 1;
  /** The replica URL (as `ReplicaClient.url`): a state of another replica is not resumed. */
  replica: string;
  /** Page size in bytes (0 before the first pass). */
  pageSize: number;
  /** TXID the file holds consistently (0: none). */
  txid: number;
  /** TXID the pass in progress brings it to (absent: no pass in progress). */
  target?: number;
  /** fileChecksum (16 hex digits) by key of the LTX files passes have used: another checksum under a known key means a replaced history. */
  files: Record<string, string>;
  /** Byte ranges `[start, end)` read and written (and fsynced) in the pass in progress, by `<key>@<fileChecksum>`. */
  done: Record<string, [number, number][]>;
  /**
   * `<key>@<fileChecksum>` of the LTX files among `files` found to match their file checksum
   * (lib/read/verifier.ts; a pass feeds it the frames it decodes): a later process trusts
   * them instead of reading them again. Absent in states written before 2026-12-08.
   */
  verified?: string[];
}

/** The state at `statePath`, or undefined when it is missing or not a state file of this version. Never throws. */
export function readHydrationState(statePath: string): HydrationStateFile | undefined {
  try {
    const s = JSON.parse(readFileSync(statePath, 'utf8')) as HydrationStateFile;
    if (s.format !== 'ltxvfs-hydration' || s.version !== 1 || typeof s.txid !== 'number' || typeof s.pageSize !== 'number' ||
      typeof s.replica !== 'string' || typeof s.files !== 'object' || s.files === null || typeof s.done !== 'object' || s.done === null) {
      return undefined;
    }
    return s;
  } catch {
    return undefined;
  }
}

/**
 * Replace the state at `statePath` atomically and durably (temporary file, fsync, rename).
 * @throws the file system's error (the temporary file is removed).
 */
export async function writeHydrationState(statePath: string, state: HydrationStateFile): Promise<void> {
  const tmp = `${statePath}.tmp-${process.pid}`;
  try {
    await writeFile(tmp, `${JSON.stringify(state)}\n`);
    const fh = await open(tmp, 'r');
    try {
      await fh.sync();
    } finally {
      await fh.close();
    }
    await rename(tmp, statePath);
  } catch (err) {
    await unlink(tmp).catch(() => undefined);
    throw err;
  }
}

function pidAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/**
 * Take the lock `lockPath` for hydrating `path` (create-only file holding this pid); a
 * lock left by a process that no longer runs is taken over.
 * @throws LtxvfsError `LTXVFS_ERR_USAGE` naming the live process that holds it, or when the lock cannot be created.
 */
export function takeHydrationLock(lockPath: string, path: string): void {
  for (let attempt = 0; attempt < 3; attempt++) {
    try {
      const fd = openSync(lockPath, 'wx');
      writeSync(fd, `${process.pid}\n`);
      closeSync(fd);
      return;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') {
        throw new LtxvfsError('LTXVFS_ERR_USAGE', `cannot hydrate into ${path}: ${(err as Error).message}`, { key: path, cause: err });
      }
    }
    let owner = NaN;
    try {
      owner = Number.parseInt(readFileSync(lockPath, 'utf8'), 10);
    } catch {
      // Gone meanwhile, or unreadable: try again.
    }
    if (Number.isInteger(owner) && owner > 0 && pidAlive(owner)) {
      throw new LtxvfsError('LTXVFS_ERR_USAGE', `hydration file ${path} is in use by process ${owner} (lock ${lockPath})`, { key: path });
    }
    releaseHydrationLock(lockPath);
  }
  throw new LtxvfsError('LTXVFS_ERR_USAGE', `cannot take the hydration lock ${lockPath}`, { key: path });
}

/** Remove the lock file (missing is fine). */
export function releaseHydrationLock(lockPath: string): void {
  try {
    unlinkSync(lockPath);
  } catch {
    // Already gone (removed by hand, or taken over and released by another process).
  }
}

/** Merge `[start, end)` into the sorted disjoint `ranges` (in place). */
export function addRange(ranges: [number, number][], start: number, end: number): void {
  ranges.push([start, end]);
  ranges.sort((a, b) => a[0] - b[0]);
  let w = 0;
  for (let r = 1; r < ranges.length; r++) {
    if (ranges[r][0] <= ranges[w][1]) ranges[w][1] = Math.max(ranges[w][1], ranges[r][1]);
    else ranges[++w] = ranges[r];
  }
  ranges.length = w + 1;
}

/** True if one of `ranges` holds all of `[start, end)`. */
export function covered(ranges: readonly [number, number][] | undefined, start: number, end: number): boolean {
  if (ranges === undefined) return false;
  for (const [s, e] of ranges) if (s <= start && end <= e) return true;
  return false;
}
