/**
 * Stray names in a replica level (issue 12 item 5): names that look like LTX files
 * (`<16 hex>-<16 hex>.ltx`) but cannot be one. They are left out of listings and reported
 * by the clients' `strays()`, so one impossible name does not make a whole replica
 * unreadable, and nobody is left guessing why a file was not used.
 */

import { isLtxvfsError } from '../../ltx/errors.js';
import { parseLtxFilename } from '../../ltx/filename.js';
import type { StrayEntry } from './types.js';

/** `<16 hex>-<16 hex>.ltx` in either case: the shape of an LTX file name (docs/formats.md §1.10). */
const LTX_SHAPE = /^[0-9a-f]{16}-[0-9a-f]{16}\.ltx$/i;

/** What a name in a level directory is. */
export type LtxNameKind =
  | { kind: 'ltx'; minTXID: number; maxTXID: number }
  | { kind: 'stray'; reason: string }
  | { kind: 'other' };

/**
 * Classify a name found in a level directory: an LTX file name with its TXID range; a
 * stray (LTX-shaped but impossible: upper-case hex, TXID 0, min > max, a TXID above
 * 2^53 − 1) with the reason; or another name (temporary files, `lock.json`), ignored.
 */
export function classifyLtxName(name: string): LtxNameKind {
  if (!LTX_SHAPE.test(name)) return { kind: 'other' };
  let range: { minTXID: number; maxTXID: number } | undefined;
  try {
    range = parseLtxFilename(name);
  } catch (err) {
    if (isLtxvfsError(err)) return { kind: 'stray', reason: err.message };
    throw err;
  }
  if (range !== undefined) return { kind: 'ltx', ...range };
  if (name !== name.toLowerCase()) return { kind: 'stray', reason: 'upper-case hex in an LTX file name (Litestream writes lower case)' };
  return { kind: 'stray', reason: 'impossible TXID range (need 1 <= minTXID <= maxTXID)' };
}

/** The distinct strays a client has seen, at most {@link StrayLog.LIMIT} (the newest kept). */
export class StrayLog {
  /** Most entries kept. */
  static readonly LIMIT = 100;
  private readonly entries = new Map<string, string>();

  /** Record `entry`. @returns true when the key was not known yet (for a one-time log line). */
  add(entry: StrayEntry): boolean {
    const known = this.entries.has(entry.key);
    this.entries.delete(entry.key);
    this.entries.set(entry.key, entry.reason);
    if (this.entries.size > StrayLog.LIMIT) this.entries.delete(this.entries.keys().next().value as string);
    return !known;
  }

  /** The entries, oldest first. */
  list(): StrayEntry[] {
    return [...this.entries].map(([key, reason]) => ({ key, reason }));
  }
}
