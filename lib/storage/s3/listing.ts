/**
 * Listing an S3 replica: the LTX files of one level from ListObjectsV2 pages (docs/formats.md
 * §4.1 key layout; `start-after` skips to a TXID, continuation tokens page on), the
 * `litestream-timestamp` metadata read by HEAD requests when asked (Litestream's
 * restore does the same), and one page of plain keys for `ReplicaClient.listKeys`.
 */
import { debuglog } from 'node:util';
import { LtxvfsError } from '../../../ltx/errors.js';
import { formatTXID } from '../../../ltx/filename.js';
import { httpError } from './errors.js';
import { parseListObjectsV2, type ListPage } from './wire.js';
import { classifyLtxName, type StrayLog } from '../strays.js';
import type { LtxFileInfo } from '../types.js';
import type { S3Transport } from './transport.js';

const debug = debuglog('ltxvfs');

/**
 * The LTX files under `prefix` (one level), sorted by (minTXID, maxTXID), from pages of
 * `pageSize` keys; keys that are not LTX file names, or lie deeper, are skipped, and
 * LTX-shaped names that cannot be LTX files go to `strays`. `createdAt` is `LastModified`.
 * @throws LtxvfsError `LTXVFS_ERR_NOT_FOUND` (no such bucket); `LTXVFS_ERR_STORAGE` (an
 *   unreadable page, a key without LastModified, a truncated page without a token); `LTXVFS_ERR_CLOSED`.
 */
export async function listLevel(io: S3Transport, prefix: string, level: number, seek: number, pageSize: number, strays: StrayLog): Promise<LtxFileInfo[]> {
  const startAfter = seek === 0 ? undefined : `${prefix}${formatTXID(seek)}`;
  const files: LtxFileInfo[] = [];
  let token: string | undefined;
  do {
    const query: Record<string, string> = { 'list-type': '2', prefix, 'max-keys': String(pageSize) };
    if (token !== undefined) query['continuation-token'] = token;
    else if (startAfter !== undefined) query['start-after'] = startAfter;
    const page: ListPage = await io.call({ op: 'list', method: 'GET', key: undefined, query }, prefix, (res) => {
      if (res.status !== 200) throw httpError(io.config.bucket, 'list', prefix, res);
      try {
        return parseListObjectsV2(Buffer.from(res.body).toString('utf8'));
      } catch (err) {
        throw new LtxvfsError('LTXVFS_ERR_STORAGE', `list ${io.where(prefix)}: unreadable ListObjectsV2 response: ${(err as Error).message}`, {
          key: prefix,
          status: res.status,
          cause: err,
        });
      }
    });
    for (const obj of page.objects) {
      const name = obj.key.startsWith(prefix) ? obj.key.slice(prefix.length) : '/';
      if (name.includes('/')) continue;
      const found = classifyLtxName(name);
      if (found.kind === 'stray' && strays.add({ key: obj.key, reason: found.reason })) {
        debug('s3: stray object %s: %s', io.where(obj.key), found.reason);
      }
      if (found.kind !== 'ltx' || found.minTXID < seek) continue;
      const range = { minTXID: found.minTXID, maxTXID: found.maxTXID };
      if (Number.isNaN(obj.lastModified)) {
        throw new LtxvfsError('LTXVFS_ERR_STORAGE', `list ${io.where(prefix)}: no valid LastModified for ${obj.key}`, { key: obj.key });
      }
      files.push({ level, ...range, size: obj.size, createdAt: obj.lastModified, key: obj.key });
    }
    token = page.isTruncated ? page.nextContinuationToken : undefined;
    if (page.isTruncated && token === undefined) {
      throw new LtxvfsError('LTXVFS_ERR_STORAGE', `list ${io.where(prefix)}: truncated page without NextContinuationToken`, { key: prefix });
    }
  } while (token !== undefined);
  files.sort((a, b) => a.minTXID - b.minTXID || a.maxTXID - b.maxTXID);
  return files;
}

/**
 * One ListObjectsV2 page of at most `limit` (≤ 1000) keys under `folder`.
 * @throws LtxvfsError `LTXVFS_ERR_NOT_FOUND` (no such bucket), `LTXVFS_ERR_STORAGE`, `LTXVFS_ERR_CLOSED`.
 */
export async function listKeyPage(io: S3Transport, folder: string, limit: number): Promise<string[]> {
  const query = { 'list-type': '2', prefix: folder, 'max-keys': String(Math.min(limit, 1000)) };
  const page = await io.call({ op: 'list', method: 'GET', key: undefined, query }, folder, (res) => {
    if (res.status !== 200) throw httpError(io.config.bucket, 'list', folder, res);
    return parseListObjectsV2(Buffer.from(res.body).toString('utf8'));
  });
  return page.objects.map((o) => o.key).slice(0, limit);
}

/**
 * Replace each file's `createdAt` by `headTimestamp(key)`, `concurrency` requests at a
 * time. A file deleted since the listing (compaction, retention) keeps `LastModified`, as
 * Litestream does.
 * @throws what `headTimestamp` throws, but `LTXVFS_ERR_NOT_FOUND`.
 */
export async function applyMetadataTimestamps(files: LtxFileInfo[], concurrency: number, headTimestamp: (key: string) => Promise<number>): Promise<void> {
  let next = 0;
  const worker = async () => {
    while (next < files.length) {
      const file = files[next++];
      try {
        file.createdAt = await headTimestamp(file.key);
      } catch (err) {
        if ((err as LtxvfsError).code !== 'LTXVFS_ERR_NOT_FOUND') throw err;
      }
    }
  };
  await Promise.all(Array.from({ length: Math.min(concurrency, files.length) }, worker));
}
