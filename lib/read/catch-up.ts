/**
 * One poll's listing and catch-up (docs/architecture.md "Freshness", docs/formats.md §4.6):
 * list level 0 from the current TXID and level 1 (where Litestream's compactions land
 * first), chain the files that continue the current version — checked by TXID and, where
 * files carry database checksums, by pre-apply checksum in `PageIndex.apply` — and apply
 * them in TXID order. When files exist beyond a hole (L0 files compacted away before they
 * were seen) the version is rebuilt from the restore plan.
 *
 * The replica may not step back under a reader (issue 12): the same two listings show
 * whether the newest file the reader applied, when it is at level 0 or 1, is still
 * covered — by itself, or by a compaction's file whose TXID range holds the reader's
 * TXID. When neither listing covers it, one listing of every level confirms (a compaction
 * may have moved it higher between the two listings); if no file at any level covers the
 * TXID, the reader is poisoned: every later transaction fails with `LTXVFS_ERR_NOT_FOUND`
 * naming the vanished file, instead of serving an older replica as current. A newest file
 * at level 2–9 (a reader opened on a snapshot with nothing newer) is not in the listings
 * a poll makes, so it is not checked here: a read of a page of it fails with
 * `LTXVFS_ERR_NOT_FOUND` naming it when it is gone.
 */
import { isLtxvfsError, LtxvfsError } from '../../ltx/errors.js';
import { formatTXID } from '../../ltx/filename.js';
import type { LtxFileInfo } from '../storage/types.js';
import type { LtxFile, PageIndex } from '../replica/page-index.js';
import { listReplica } from '../replica/plan.js';
import type { PollTarget } from './poll-target.js';
import { listNewestLevels } from './shared-listing.js';

/** What one catch-up did. */
export interface CatchUp {
  /** The version it reached (the current one when nothing was new, or the reader was poisoned). */
  version: PageIndex;
  /** LTX files applied (the plan's length after a rebuild). */
  applied: number;
  /** Whether the version was rebuilt from the plan (a hole was crossed). */
  rebuilt: boolean;
  /** A hole no plan bridges: files beyond the version that cannot be applied yet. */
  gap: LtxvfsError | undefined;
}

/**
 * Where a catch-up gets levels 0 (from `seekTXID`) and 1: storage, or a listing shared by
 * processes (lib/read/shared-listing.ts) when `holdsApplied` accepts it.
 */
export type ListNewest = (seekTXID: number, holdsApplied: (files: readonly LtxFileInfo[]) => boolean) => Promise<LtxFileInfo[]>;

/**
 * List the replica's newest files (through `list`, by default storage) and build the
 * version that continues `target.current` (not made current: the caller decides). Poisons
 * the target when the newest file it applied vanished from every level.
 * @throws storage errors of the listings and loads; LtxvfsError from applying files.
 */
export async function catchUp(target: PollTarget, list: ListNewest = (seekTXID) => listNewestLevels(target.client, seekTXID)): Promise<CatchUp> {
  const before = target.current;
  const none: CatchUp = { version: before, applied: 0, rebuilt: false, gap: undefined };
  // A reader that served a damaged or vanished file serves nothing more: no need to list.
  if (target.integrityFailure !== undefined) return none;
  const newest = newestFile(before);
  // From the current TXID (not the next): the newest applied file must still be listed.
  const seekTXID = newest?.info.level === 0 ? Math.min(newest.info.minTXID, before.txid) : before.txid;
  const holdsApplied = (files: readonly LtxFileInfo[]): boolean => newest === undefined || newest.info.level > 1 || files.some((f) => covers(f, before.txid));
  const listed = await list(seekTXID, holdsApplied);
  if (newest !== undefined && !holdsApplied(listed)) {
    const gone = await vanished(target, newest, before.txid);
    if (gone !== undefined) {
      target.poison(gone);
      return none;
    }
  }
  const { chain, beyond } = continuation(before.txid, listed);
  const result: CatchUp = { ...none };
  if (chain.length > 0) {
    result.version = await target.extend(before, chain);
    result.applied = chain.length;
  }
  if (beyond) {
    // Files after a hole: the ones in between were compacted away before this poll saw them.
    // A hole no plan bridges keeps what the chain applied: the reader is behind, not failing.
    const fresh = await target.rebuild().catch((err: unknown) => {
      if (!isLtxvfsError(err, 'LTXVFS_ERR_TXID_GAP')) throw err;
      result.gap = err;
      return undefined;
    });
    if (fresh !== undefined && fresh.txid > result.version.txid) {
      result.version = fresh;
      result.rebuilt = true;
      result.applied = fresh.fileCount;
    }
  }
  return result;
}

/**
 * The error for `newest` (the newest file applied, at TXID `txid`) if no file at any
 * level covers `txid` any more: one listing of every level, made only when the poll's
 * own listings did not show a file covering it.
 */
async function vanished(target: PollTarget, newest: LtxFile, txid: number): Promise<LtxvfsError | undefined> {
  const url = target.client.url;
  const all = await listReplica(target.client);
  if (all.some((f) => covers(f, txid))) return undefined;
  const key = newest.info.key;
  return new LtxvfsError('LTXVFS_ERR_NOT_FOUND',
    `${key}: the newest LTX file this reader applied is gone from ${url}, and no file at any level covers TXID ${formatTXID(txid)} any more: ` +
      'the replica went back under the reader, which serves nothing more (open it again to read the replica as it is now)',
    { key });
}

/** The last-applied file of `version` that reaches its TXID (the newest applied), if any. */
function newestFile(version: PageIndex): LtxFile | undefined {
  if (version.txid === 0) return undefined;
  // applyAll takes the TXID of the file it applied last.
  return version.newestFile;
}

/** Whether `f`'s TXID range holds `txid`. */
function covers(f: LtxFileInfo, txid: number): boolean {
  return f.minTXID <= txid && txid <= f.maxTXID;
}

/**
 * The files that continue a version at `txid`, in order (docs/formats.md §4.4 step 2: at each
 * step the file with min ≤ cur + 1 < max + 1 reaching furthest, then starting earliest,
 * then from the higher level), and whether files remain beyond a hole.
 */
export function continuation(txid: number, files: LtxFileInfo[]): { chain: LtxFileInfo[]; beyond: boolean } {
  const chain: LtxFileInfo[] = [];
  let cur = txid;
  for (;;) {
    let best: LtxFileInfo | undefined;
    for (const f of files) {
      if (f.minTXID > cur + 1 || f.maxTXID <= cur) continue;
      if (best === undefined || f.maxTXID > best.maxTXID || (f.maxTXID === best.maxTXID && (f.minTXID < best.minTXID || (f.minTXID === best.minTXID && f.level > best.level)))) best = f;
    }
    if (best === undefined) break;
    chain.push(best);
    cur = best.maxTXID;
  }
  return { chain, beyond: files.some((f) => f.maxTXID > cur) };
}
