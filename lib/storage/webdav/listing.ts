/**
 * Listing a WebDAV replica: the LTX files of one level from one PROPFIND depth 1 of
 * `<path>/ltx/<level>/` (as Litestream's webdav client does with gowebdav's `ReadDir`),
 * and the keys under a folder for `ReplicaClient.listKeys` (PROPFIND depth 1 per
 * collection, walked: many servers refuse depth infinity).
 *
 * `createdAt` is `getlastmodified`, the only time WebDAV keeps and the one Litestream
 * uses (`fi.ModTime()`): the server's time of the upload, in whole seconds (RFC 1123
 * dates). See index.ts for what that means for time travel.
 */
import { debuglog } from 'node:util';
import { LtxvfsError } from '../../../ltx/errors.js';
import { sortByTxidRange } from '../layout.js';
import { classifyLtxName, type StrayLog } from '../strays.js';
import type { LtxFileInfo } from '../types.js';
import type { DavEntry, WebdavTransport } from './transport.js';
import { statusOf } from './errors.js';

const debug = debuglog('ltxvfs');

/**
 * The members of the collection `dirKey`, or `undefined` when it does not exist (404).
 * @throws LtxvfsError `LTXVFS_ERR_STORAGE` (after retries), `LTXVFS_ERR_CLOSED`.
 */
export async function listCollection(io: WebdavTransport, dirKey: string): Promise<DavEntry[] | undefined> {
  return io.call('list', dirKey, async (dav, signal) => {
    try {
      return await dav.list(`${io.remote(dirKey)}/`, signal);
    } catch (err) {
      if (statusOf(err) === 404) return undefined;
      throw err;
    }
  });
}

/**
 * The LTX files of `dirKey` (`ltx/<level>`), sorted by (minTXID, maxTXID), with
 * `minTXID >= seek`; other names are skipped, LTX-shaped impossible ones go to `strays`.
 * `undefined` when the collection does not exist.
 * @throws LtxvfsError `LTXVFS_ERR_STORAGE` (also for an entry without a readable
 *   `getlastmodified`, naming it), `LTXVFS_ERR_CLOSED`.
 */
export async function listLevel(io: WebdavTransport, dirKey: string, level: number, seek: number, strays: StrayLog): Promise<LtxFileInfo[] | undefined> {
  const entries = await listCollection(io, dirKey);
  if (entries === undefined) return undefined;
  const files: LtxFileInfo[] = [];
  for (const entry of entries) {
    if (entry.type !== 'file') continue;
    const key = `${dirKey}/${entry.basename}`;
    const found = classifyLtxName(entry.basename);
    if (found.kind === 'stray' && strays.add({ key, reason: found.reason })) debug('webdav: stray entry %s: %s', io.where(key), found.reason);
    if (found.kind !== 'ltx' || found.minTXID < seek) continue;
    const createdAt = Date.parse(entry.lastmod);
    if (Number.isNaN(createdAt)) {
      throw new LtxvfsError('LTXVFS_ERR_STORAGE', `list ${io.where(dirKey)}: no readable getlastmodified for ${entry.basename} (${JSON.stringify(entry.lastmod)})`, { key });
    }
    files.push({ level, minTXID: found.minTXID, maxTXID: found.maxTXID, size: entry.size, createdAt, key });
  }
  sortByTxidRange(files);
  return files;
}

/**
 * Up to `limit` keys of files under the folder `prefix` (no trailing `/`), depth first;
 * a missing folder gives `[]`.
 * @throws LtxvfsError `LTXVFS_ERR_STORAGE`, `LTXVFS_ERR_CLOSED`.
 */
export async function listKeysUnder(io: WebdavTransport, prefix: string, limit: number): Promise<string[]> {
  const keys: string[] = [];
  const walk = async (dirKey: string): Promise<void> => {
    for (const entry of (await listCollection(io, dirKey)) ?? []) {
      if (keys.length >= limit) return;
      const key = `${dirKey}/${entry.basename}`;
      if (entry.type === 'directory') await walk(key);
      else keys.push(key);
    }
  };
  await walk(prefix);
  return keys;
}
