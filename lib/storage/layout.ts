/**
 * Litestream's key layout for every backend but s3 and oss (litestream.go `LTXLevelDir`,
 * `LTXFilePath`; docs/formats.md §4.1): `<path>/ltx/<level decimal>/<min %016x>-<max %016x>.ltx`,
 * `ltx/…` when the path is empty (the root of a container, bucket or collection), and
 * replica-level objects such as the lease's `lock.json` at `<path>/<name>`. S3's layout
 * (`<path>/<level %04x>/…`) is its own (s3/client.ts). Also the checks every client makes
 * of a level and a read range, and the order listings are returned in, so that the
 * backends share one statement of each.
 */
import { LtxvfsError } from '../../ltx/errors.js';
import { formatLtxFilename } from '../../ltx/filename.js';
import type { LtxFileInfo } from './types.js';

/** `<prefix>/<name>`, or `name` when `prefix` is `''` (the replica at the store's root). */
export function prefixedKey(prefix: string, name: string): string {
  return prefix === '' ? name : `${prefix}/${name}`;
}

/**
 * The folder of one level, with a trailing `/`: `<prefix>/ltx/<level>/`.
 * @throws LtxvfsError `LTXVFS_ERR_USAGE` "bad level <v>: need an integer >= 0".
 */
export function ltxLevelPrefix(prefix: string, level: number): string {
  if (!Number.isSafeInteger(level) || level < 0) throw new LtxvfsError('LTXVFS_ERR_USAGE', `bad level ${String(level)}: need an integer >= 0`);
  return prefixedKey(prefix, `ltx/${level}/`);
}

/**
 * The key of an LTX file: `<prefix>/ltx/<level>/<min>-<max>.ltx`.
 * @throws LtxvfsError `LTXVFS_ERR_USAGE` for a bad level or TXID range.
 */
export function ltxFileKey(prefix: string, level: number, minTXID: number, maxTXID: number): string {
  return `${ltxLevelPrefix(prefix, level)}${formatLtxFilename(minTXID, maxTXID)}`;
}

/**
 * Check the range of a `readRange` call: whole numbers ≥ 0.
 * @throws LtxvfsError `LTXVFS_ERR_USAGE` "read <key>: bad range offset <o> length <n>".
 */
export function checkReadRange(key: string, offset: number, length: number): void {
  if (!Number.isSafeInteger(offset) || offset < 0 || !Number.isSafeInteger(length) || length < 0) {
    throw new LtxvfsError('LTXVFS_ERR_USAGE', `read ${key}: bad range offset ${String(offset)} length ${String(length)}`, { key });
  }
}

/** Sort LTX files in place the way listings return them, by (minTXID, maxTXID). @returns `files`. */
export function sortByTxidRange(files: LtxFileInfo[]): LtxFileInfo[] {
  return files.sort((a, b) => a.minTXID - b.minTXID || a.maxTXID - b.maxTXID);
}
