/**
 * Which pages differ between two versions of a replica: what a thread-local page cache
 * keyed by page number must drop when its connection moves from one version to the next
 * (lib/bridge/protocol.ts). Over-reporting is always safe (a dropped page is read again);
 * under-reporting never happens.
 */
import { lockPgno } from '../../ltx/checksum.js';
import type { PageIndex } from '../replica/page-index.js';

/**
 * Past this many pages a version pair that is not one file chain apart is answered
 * `'all'` instead of compared page by page (about 10 ms of work on the fetch side).
 */
export const MAX_COMPARED_PAGES = 1 << 18;

/**
 * The pages whose contents may differ between `from` and `to`, ascending, or `'all'`.
 *
 * - Same version: none.
 * - `to` applies more files to `from` (the poller's and the writer's way forward): the
 *   pages of those files, plus the pages between the two sizes.
 * - `from` applies more files to `to` (time travel back along the same chain): the pages
 *   of the files `from` has beyond `to`, plus the pages between the two sizes.
 * - Otherwise (a rebuild from another plan, a different page size): frame by frame up to
 *   {@link MAX_COMPARED_PAGES}, else `'all'`.
 */
export function changedPages(from: PageIndex, to: PageIndex): number[] | 'all' {
  if (from === to) return [];
  if (from.pageSize !== to.pageSize || from.txid === 0 || to.txid === 0) return 'all';
  const forward = extends_(to, from);
  const backward = forward ? false : extends_(from, to);
  if (forward || backward) {
    const [older, newer] = forward ? [from, to] : [to, from];
    const changed = new Set<number>();
    for (const file of newer.files.slice(older.files.length)) {
      for (const entry of file.entries) changed.add(entry.pgno);
    }
    addSizeChange(changed, from, to);
    return [...changed].sort((a, b) => a - b);
  }
  const pages = Math.max(from.commit, to.commit);
  if (pages > MAX_COMPARED_PAGES) return 'all';
  const changed: number[] = [];
  for (let pgno = 1; pgno <= pages; pgno++) {
    const a = from.get(pgno);
    const b = to.get(pgno);
    if (a?.file !== b?.file || a?.entry !== b?.entry) changed.push(pgno);
  }
  return changed;
}

/** True when `longer.files` starts with every file of `shorter.files` (the same objects). */
function extends_(longer: PageIndex, shorter: PageIndex): boolean {
  const a = longer.files;
  const b = shorter.files;
  if (a.length < b.length) return false;
  for (let i = 0; i < b.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

/** Pages that exist in one version and not the other (the lock page never has contents). */
function addSizeChange(changed: Set<number>, from: PageIndex, to: PageIndex): void {
  const lo = Math.min(from.commit, to.commit);
  const hi = Math.max(from.commit, to.commit);
  const lock = lockPgno(from.pageSize);
  for (let pgno = lo + 1; pgno <= hi; pgno++) if (pgno !== lock) changed.add(pgno);
}
