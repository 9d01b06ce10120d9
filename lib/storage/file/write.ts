/**
 * Writes to a directory replica (client.ts `write`, `delete`): atomic replacement through a
 * temporary file in the same directory (`<name>.tmp-<hex>`, fsynced, its mtime set before
 * it becomes visible), create-only by `link`, if-match by comparing content-hash ETags,
 * and the directory fsynced after the rename where the platform allows it.
 */
import { randomBytes } from 'node:crypto';
import { promises as fs } from 'node:fs';
import type { FileHandle } from 'node:fs/promises';
import * as path from 'node:path';
import { LtxvfsError } from '../../../ltx/errors.js';
import { errnoCode, reason } from './entries.js';
import type { WriteOptions } from '../types.js';
import { etagOf } from '../etag.js';

/**
 * Write `data` to `abs` (the key `key`) as `FileReplicaClient.write` documents.
 * @returns the new ETag.
 * @throws LtxvfsError `LTXVFS_ERR_PRECONDITION`, `LTXVFS_ERR_STORAGE`, `LTXVFS_ERR_USAGE` (both conditions, bad timestamp).
 */
export async function writeAtomically(abs: string, key: string, data: Uint8Array, options: WriteOptions): Promise<{ etag: string }> {
  const { ifNoneMatch = false, ifMatch, timestamp } = options;
  if (ifNoneMatch && ifMatch !== undefined) {
    throw new LtxvfsError('LTXVFS_ERR_USAGE', `write ${key}: ifNoneMatch and ifMatch cannot both be given`, { key });
  }
  if (timestamp !== undefined && !Number.isFinite(timestamp)) {
    throw new LtxvfsError('LTXVFS_ERR_USAGE', `write ${key}: bad timestamp ${String(timestamp)}`, { key });
  }
  const dir = path.dirname(abs);
  const tmp = `${abs}.tmp-${randomBytes(6).toString('hex')}`;
  let tmpExists = false;
  try {
    await fs.mkdir(dir, { recursive: true });
    const fh = await fs.open(tmp, 'wx');
    tmpExists = true;
    try {
      await fh.writeFile(data);
      await fh.sync();
    } finally {
      await fh.close();
    }
    if (timestamp !== undefined) await fs.utimes(tmp, timestamp / 1000, timestamp / 1000);
    if (ifNoneMatch) {
      try {
        await fs.link(tmp, abs);
      } catch (err) {
        if (errnoCode(err) === 'EEXIST') {
          throw new LtxvfsError('LTXVFS_ERR_PRECONDITION', `precondition failed for ${key}: object already exists (create-only write)`, {
            key,
            cause: err,
          });
        }
        throw err;
      }
    } else {
      if (ifMatch !== undefined) await checkEtag(abs, key, ifMatch);
      await fs.rename(tmp, abs);
      tmpExists = false;
    }
  } catch (err) {
    if (err instanceof LtxvfsError) throw err;
    throw new LtxvfsError('LTXVFS_ERR_STORAGE', `write ${key}: ${reason(err)}`, { key, cause: err });
  } finally {
    if (tmpExists) await fs.rm(tmp, { force: true }).catch(() => undefined);
  }
  await syncDirectory(dir);
  return { etag: etagOf(data) };
}

/**
 * Compare the ETag of the object at `abs` with `expected`.
 * @throws LtxvfsError `LTXVFS_ERR_PRECONDITION` when it is missing or differs; errno errors of the read.
 */
export async function checkEtag(abs: string, key: string, expected: string): Promise<void> {
  let current: Uint8Array;
  try {
    current = await fs.readFile(abs);
  } catch (err) {
    if (errnoCode(err) === 'ENOENT') {
      throw new LtxvfsError('LTXVFS_ERR_PRECONDITION', `precondition failed for ${key}: object does not exist (if-match ${expected})`, {
        key,
        cause: err,
      });
    }
    throw err;
  }
  const etag = etagOf(current);
  if (etag !== expected) {
    throw new LtxvfsError('LTXVFS_ERR_PRECONDITION', `precondition failed for ${key}: etag is ${etag}, not ${expected}`, {
      key,
    });
  }
}

/** fsync a directory so a rename in it is durable; not every platform allows it (Windows), so failures are ignored. */
async function syncDirectory(dir: string): Promise<void> {
  let fh: FileHandle | undefined;
  try {
    fh = await fs.open(dir, 'r');
    await fh.sync();
  } catch {
    // Durability of the directory entry is best effort.
  } finally {
    await fh?.close().catch(() => undefined);
  }
}
