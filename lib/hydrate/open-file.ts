/**
 * Opening the file a hydrator writes (lib/hydrate/hydrator.ts): the lock first, then the
 * state beside the file decides whether it is resumed, started over or refused.
 */
import { existsSync, openSync, statSync } from 'node:fs';
import { LtxvfsError } from '../../ltx/errors.js';
import { HYDRATION_LOCK_SUFFIX, HYDRATION_STATE_SUFFIX, readHydrationState, releaseHydrationLock, takeHydrationLock, type HydrationStateFile } from './state.js';

/** The opened file: its descriptor, and the state to resume from (undefined: start over). */
export interface OpenedHydrationFile {
  fd: number;
  state: HydrationStateFile | undefined;
}

/**
 * Take the lock of `path` and open it for hydration from the replica `replicaUrl`: resumed
 * when its state names that replica and the file exists, started over (emptied) otherwise.
 * The lock is released again when this throws.
 * @throws LtxvfsError `LTXVFS_ERR_USAGE` when another live process hydrates `path`, when
 *   `path` exists and is not empty but no hydration state describes it (unless
 *   `overwrite`), or when it cannot be opened (naming the path and the reason).
 */
export function openHydrationFile(path: string, replicaUrl: string, overwrite: boolean): OpenedHydrationFile {
  const lockPath = path + HYDRATION_LOCK_SUFFIX;
  takeHydrationLock(lockPath, path);
  try {
    let state = readHydrationState(path + HYDRATION_STATE_SUFFIX);
    const ours = state !== undefined;
    const exists = existsSync(path);
    // A hydration of another replica (or a state without its file) starts over.
    if (state !== undefined && (state.replica !== replicaUrl || !exists)) state = undefined;
    if (!ours && exists && statSync(path).size > 0 && !overwrite) {
      throw new LtxvfsError('LTXVFS_ERR_USAGE',
        `${path} exists and is not a hydration of ${replicaUrl} (no ${HYDRATION_STATE_SUFFIX} beside it): remove it or choose another path`, { key: path });
    }
    return { fd: openSync(path, state === undefined ? 'w+' : 'r+'), state };
  } catch (err) {
    releaseHydrationLock(lockPath);
    if (err instanceof LtxvfsError) throw err;
    throw new LtxvfsError('LTXVFS_ERR_USAGE', `cannot hydrate into ${path}: ${(err as Error).message}`, { key: path, cause: err });
  }
}

/** The size of `path` in bytes, -1 if it cannot be read. Never throws. */
export function fileSizeOrMinusOne(path: string): number {
  try {
    return statSync(path).size;
  } catch {
    return -1;
  }
}
