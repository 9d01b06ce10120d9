/**
 * Keys and paths of a directory replica (client.ts): a key is a `/`-separated path
 * relative to the root and must stay strictly inside it (lexically: no absolute key, no
 * `..` that climbs out); LTX files live at `ltx/<level decimal>/<min>-<max>.ltx`
 * (docs/formats.md §4.1); `createdAt` is the mtime, read back to the millisecond Litestream
 * set; and the replica directory itself must exist and be a directory.
 */
import { promises as fs } from 'node:fs';
import * as path from 'node:path';
import { LtxvfsError } from '../../../ltx/errors.js';
import { errnoCode, reason } from './entries.js';

/**
 * The absolute path of `key` under `root`: `key` must be a relative `/`-path without NUL
 * that names something strictly inside the root after resolving `.` and `..`.
 * @throws LtxvfsError `LTXVFS_ERR_BAD_KEY` naming the key: empty or with NUL, escaping the
 *   root, or naming the root itself.
 */
export function resolveKey(root: string, key: string): string {
  if (typeof key !== 'string' || key === '' || key.includes('\0')) {
    throw new LtxvfsError('LTXVFS_ERR_BAD_KEY', `bad key ${JSON.stringify(key)}: empty or contains NUL`, { key });
  }
  const abs = path.resolve(root, key);
  const rel = path.relative(root, abs);
  if (path.isAbsolute(key) || rel === '..' || rel.startsWith(`..${path.sep}`) || path.isAbsolute(rel)) {
    throw new LtxvfsError('LTXVFS_ERR_BAD_KEY', `key escapes the replica root: ${key}`, { key });
  }
  if (rel === '') {
    throw new LtxvfsError('LTXVFS_ERR_BAD_KEY', `key names the replica root itself: ${key}`, { key });
  }
  return abs;
}

/**
 * mtime in ns → ms since the epoch, rounded down, but tolerating 1 µs below a whole
 * millisecond: `utimes` takes seconds as a double, which near 2026 resolves only ~240 ns,
 * so a timestamp written as 1795254709256 ms may read back as …255.99998 ms.
 * Litestream sets exact milliseconds, which this maps to themselves.
 */
export function mtimeToMs(mtimeNs: bigint): number {
  return Number((mtimeNs + 1000n) / 1_000_000n);
}

/**
 * `ltx/<level>` for a level that is an integer ≥ 0 (decimal, unpadded).
 * @throws LtxvfsError `LTXVFS_ERR_USAGE` for any other level.
 */
export function levelDir(level: number): string {
  if (!Number.isSafeInteger(level) || level < 0) {
    throw new LtxvfsError('LTXVFS_ERR_USAGE', `bad level ${String(level)}: need an integer >= 0`);
  }
  return `ltx/${level}`;
}

/**
 * Check that the replica directory `abs` exists and is a directory.
 * @throws LtxvfsError `LTXVFS_ERR_NOT_FOUND` (missing, or not a directory), `LTXVFS_ERR_STORAGE` (cannot be examined).
 */
export async function checkReplicaDirectory(abs: string): Promise<void> {
  let st;
  try {
    st = await fs.stat(abs);
  } catch (err) {
    const code = errnoCode(err);
    if (code === 'ENOENT' || code === 'ENOTDIR') {
      throw new LtxvfsError('LTXVFS_ERR_NOT_FOUND', `replica directory does not exist: ${abs}`, { key: abs, cause: err });
    }
    throw new LtxvfsError('LTXVFS_ERR_STORAGE', `cannot open replica directory ${abs}: ${reason(err)}`, {
      key: abs,
      cause: err,
    });
  }
  if (!st.isDirectory()) {
    throw new LtxvfsError('LTXVFS_ERR_NOT_FOUND', `replica path is not a directory: ${abs}`, { key: abs });
  }
}

