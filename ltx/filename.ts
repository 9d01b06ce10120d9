/**
 * TXIDs as text and LTX file names (docs/formats.md §1.10).
 *
 * A TXID is a u64 on disk; ltxvfs holds it in a JS `number`, so TXIDs above
 * `Number.MAX_SAFE_INTEGER` (2^53 − 1) are refused rather than rounded. At one transaction
 * per microsecond that limit is 285 years away.
 */

import { LtxvfsError } from './errors.js';

const TXID_TEXT = /^[0-9a-fA-F]{16}$/;
const LTX_FILENAME = /^([0-9a-f]{16})-([0-9a-f]{16})\.ltx$/;

/**
 * A TXID as Litestream prints it: 16 lower-case hex digits (`%016x`, docs/formats.md §1.10).
 * `0` is allowed (the position of an empty database).
 * @throws LtxvfsError `LTXVFS_ERR_USAGE` unless `txid` is an integer in 0…2^53 − 1.
 */
export function formatTXID(txid: number): string {
  if (!Number.isSafeInteger(txid) || txid < 0) {
    throw new LtxvfsError('LTXVFS_ERR_USAGE', `bad TXID: ${String(txid)} is not an integer in 0…2^53-1`);
  }
  return txid.toString(16).padStart(16, '0');
}

/**
 * Parse a TXID written as exactly 16 hex digits (either case, as Litestream's
 * `ltx.ParseTXID` accepts; file names are lower case only, see {@link parseLtxFilename}).
 * `where` names the source (a file name, a PRAGMA, a CLI flag) in error messages.
 * @throws LtxvfsError `LTXVFS_ERR_USAGE` for anything but 16 hex digits;
 *   `LTXVFS_ERR_UNSUPPORTED` for a TXID above `Number.MAX_SAFE_INTEGER`.
 */
export function parseTXID(hex: string, where?: string): number {
  const at = where === undefined ? '' : ` in ${where}`;
  if (!TXID_TEXT.test(hex)) {
    throw new LtxvfsError('LTXVFS_ERR_USAGE', `bad TXID ${JSON.stringify(hex)}${at}: expected 16 hex digits`, {
      key: where,
    });
  }
  const value = BigInt(`0x${hex}`);
  if (value > BigInt(Number.MAX_SAFE_INTEGER)) {
    throw new LtxvfsError(
      'LTXVFS_ERR_UNSUPPORTED',
      `TXID ${hex.toLowerCase()}${at} is above 2^53-1, the largest TXID ltxvfs supports`,
      { key: where },
    );
  }
  return Number(value);
}

/**
 * The file name of an LTX file covering `minTXID…maxTXID`: `%016x-%016x.ltx`
 * (docs/formats.md §1.10), e.g. `0000000000000001-0000000000000003.ltx`.
 * @throws LtxvfsError `LTXVFS_ERR_USAGE` unless 1 ≤ minTXID ≤ maxTXID ≤ 2^53 − 1.
 */
export function formatLtxFilename(minTXID: number, maxTXID: number): string {
  const min = formatTXID(minTXID);
  const max = formatTXID(maxTXID);
  if (minTXID < 1 || minTXID > maxTXID) {
    throw new LtxvfsError('LTXVFS_ERR_USAGE', `bad LTX file range ${min}-${max}: need 1 <= minTXID <= maxTXID`);
  }
  return `${min}-${max}.ltx`;
}

/**
 * The TXID range of an LTX file name, or `undefined` when `name` is not one: only
 * `^[0-9a-f]{16}-[0-9a-f]{16}\.ltx$` with 1 ≤ min ≤ max counts (docs/formats.md §1.10; other
 * names in a level directory are ignored, so callers skip `undefined`).
 * @throws LtxvfsError `LTXVFS_ERR_UNSUPPORTED` for a well-formed name whose TXIDs exceed
 *   2^53 − 1 — such a file is real replica content and must not be skipped silently.
 */
export function parseLtxFilename(name: string): { minTXID: number; maxTXID: number } | undefined {
  const m = LTX_FILENAME.exec(name);
  if (m === null) return undefined;
  const minTXID = parseTXID(m[1], name);
  const maxTXID = parseTXID(m[2], name);
  if (minTXID < 1 || minTXID > maxTXID) return undefined;
  return { minTXID, maxTXID };
}
