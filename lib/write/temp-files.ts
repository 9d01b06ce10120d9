/**
 * Half-written files a directory replica can be left with. The directory client writes
 * every object to `<key>.tmp-<random hex>` beside it, fsyncs it, then links or renames it
 * into place (lib/storage/file/client.ts `write`); a writer killed in between (`kill -9`, power
 * loss) leaves the temporary file behind, as large as the transaction. Nothing reads them
 * (listings skip names that are not LTX file names), so they only cost disk space.
 *
 * A temporary file may also be another live writer's upload in progress, so only files at
 * least `maxAgeMs` old are removed (default 1 hour; a write takes seconds). Age is judged
 * by the later of the file's ctime and mtime: the client sets the mtime of a temporary file
 * to the LTX header timestamp, which may be old (a compaction's output), but that change
 * itself moves the ctime to now, and nobody can set a ctime back.
 *
 * Object storage has no such files (a PUT is atomic); clients that declare no
 * `capabilities.tempFileRoot` give none.
 */
import { promises as fs } from 'node:fs';
import * as path from 'node:path';
import { LtxvfsError } from '../../ltx/errors.js';
import type { ReplicaClient } from '../storage/types.js';

/** Remove temporary files this old by default, ms (1 hour). */
export const DEFAULT_TEMP_FILE_MAX_AGE_MS = 3_600_000;

/** The suffix the directory client gives a temporary file: `.tmp-` and random hex. */
const TEMP_NAME = /\.tmp-[0-9a-f]+$/;

/** One leftover temporary file. */
export interface TempFileInfo {
  /** Its key, relative to the replica root (`ltx/0/0000000000000005-0000000000000005.ltx.tmp-9f3a…`). */
  key: string;
  /** Bytes. */
  size: number;
  /** ms since its last change (the later of ctime and mtime); 0 for a change in the future. */
  ageMs: number;
}

/** Options of {@link listTempFiles} and {@link removeTempFiles}. */
export interface TempFileOptions {
  /** Clock, ms since the Unix epoch. Default `Date.now`. */
  now?: () => number;
  /** Called before each removal; throwing stops the run (a compactor's `lease.assertHeld()`). */
  beforeDelete?: (key: string) => void;
}

/**
 * The temporary files of a directory replica: regular files named `*.tmp-<hex>` in the
 * replica root and in `ltx/<level>/`, sorted by key.
 * @returns `[]` for a client that declares no `capabilities.tempFileRoot` (object storage).
 * @throws LtxvfsError `LTXVFS_ERR_STORAGE` naming the directory that cannot be read.
 */
export async function listTempFiles(client: ReplicaClient, options: TempFileOptions = {}): Promise<TempFileInfo[]> {
  const root = client.capabilities.tempFileRoot;
  if (root === undefined) return [];
  const now = (options.now ?? Date.now)();
  const dirs = [''];
  for (const name of await readDir(root, 'ltx')) if (/^\d+$/.test(name)) dirs.push(`ltx/${name}`);
  const found: TempFileInfo[] = [];
  for (const dir of dirs) {
    for (const name of await readDir(root, dir)) {
      if (!TEMP_NAME.test(name)) continue;
      const key = dir === '' ? name : `${dir}/${name}`;
      const st = await fs.lstat(path.join(root, key)).catch(() => undefined); // gone meanwhile: a writer finished
      if (st === undefined || !st.isFile()) continue;
      found.push({ key, size: st.size, ageMs: Math.max(0, now - Math.max(st.ctimeMs, st.mtimeMs)) });
    }
  }
  return found.sort((a, b) => (a.key < b.key ? -1 : a.key > b.key ? 1 : 0));
}

/**
 * Remove the temporary files (see {@link listTempFiles}) at least `maxAgeMs` old, through
 * the client's `delete`.
 * @param maxAgeMs age bound, ms: 0 removes every one (only safe when no other writer runs).
 * @returns the keys removed, sorted.
 * @throws LtxvfsError `LTXVFS_ERR_USAGE` for a bound that is not a number ≥ 0;
 *   `LTXVFS_ERR_STORAGE` naming the directory or file that cannot be read or removed.
 */
export async function removeTempFiles(client: ReplicaClient, maxAgeMs: number = DEFAULT_TEMP_FILE_MAX_AGE_MS, options: TempFileOptions = {}): Promise<string[]> {
  if (typeof maxAgeMs !== 'number' || Number.isNaN(maxAgeMs) || maxAgeMs < 0) {
    throw new LtxvfsError('LTXVFS_ERR_USAGE', `bad temp file age bound ${String(maxAgeMs)}: need ms >= 0`);
  }
  const removed: string[] = [];
  for (const f of await listTempFiles(client, options)) {
    if (f.ageMs < maxAgeMs) continue;
    options.beforeDelete?.(f.key);
    await client.delete(f.key);
    removed.push(f.key);
  }
  return removed;
}

/** Names in `root/dir`; a missing directory has none. */
async function readDir(root: string, dir: string): Promise<string[]> {
  const where = dir === '' ? root : path.join(root, dir);
  try {
    return await fs.readdir(where);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'ENOENT' || code === 'ENOTDIR') return [];
    throw new LtxvfsError('LTXVFS_ERR_STORAGE', `list temporary files in ${where}: ${(err as Error).message}`, { key: where, cause: err });
  }
}
