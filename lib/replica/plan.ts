/**
 * The layout of a Litestream v0.5 replica above the storage: levels, the listing of all
 * of them, and the restore plan — the chain of LTX files that yields the newest state,
 * or the state at a TXID or a time (docs/formats.md §4.2–§4.4). No SQLite and no page data:
 * plans are computed from listings (file names, sizes, creation times) only.
 */

import { LtxvfsError } from '../../ltx/errors.js';
import { formatChecksum } from '../../ltx/checksum.js';
import { formatTXID } from '../../ltx/filename.js';
import { checkTimeTarget } from './time.js';
import type { LtxFileInfo, ReplicaClient } from '../storage/types.js';

/** Highest level of a Litestream v0.5 replica (docs/formats.md §4.2). */
export const MAX_LEVEL = 9;
/** The level of snapshots: full databases, always `minTXID = 1` (docs/formats.md §4.2). */
export const SNAPSHOT_LEVEL = 9;

/** The state a plan is computed for: a TXID **or** a time, not both; neither = the newest state. */
export interface PlanTarget {
  /** The state right after this TXID: every file of the plan has `maxTXID ≤ txid`, the last one exactly `txid`. */
  txid?: number;
  /** The newest state reachable from files created strictly before this time, ms since the Unix epoch. */
  time?: number;
}

/**
 * List every level (0…{@link MAX_LEVEL}) in parallel and return the files of level 0,
 * then 1, … 9, each level sorted by (minTXID, maxTXID). An empty replica gives `[]`.
 * Checks what the plan relies on:
 * - within each level 0…8, files do not overlap (`next.minTXID ≤ prev.maxTXID`);
 * - every level-9 file is a snapshot (`minTXID = 1`). Snapshots overlap by nature.
 * @throws LtxvfsError `LTXVFS_ERR_OVERLAP` naming both keys; `LTXVFS_ERR_CORRUPT` naming a
 *   level-9 file that does not start at TXID 1; `LTXVFS_ERR_UNSUPPORTED` for a replica with
 *   no LTX files that holds a Litestream ≤ 0.3 `generations/` tree (see {@link checkOldLayout});
 *   anything `client.listLtxFiles` throws (`LTXVFS_ERR_NOT_FOUND` for a missing replica,
 *   `LTXVFS_ERR_STORAGE`).
 */
export async function listReplica(client: ReplicaClient, options: { useMetadata?: boolean } = {}): Promise<LtxFileInfo[]> {
  const levels = await Promise.all(Array.from({ length: MAX_LEVEL + 1 }, (_, level) => client.listLtxFiles(level, options)));
  const files = levels.flatMap((files, level) => checkLevel(level, files));
  if (files.length === 0) await checkOldLayout(client);
  return files;
}

/** Where Litestream ≤ 0.3 keeps a replica: `generations/<id>/snapshots/*.snapshot.lz4` and `generations/<id>/wal/*.wal.lz4`. */
export const OLD_LAYOUT_FOLDER = 'generations/';

/**
 * Fail on a Litestream ≤ 0.3 replica: one whose root holds a `generations/` folder
 * (`generations/<16 hex id>/snapshots/<index>.snapshot.lz4`, `…/wal/<index>-<offset>.wal.lz4`,
 * the layout Litestream used before v0.5's LTX levels). ltxvfs cannot read it (its
 * snapshots and WAL segments are LZ4-compressed SQLite pages and WAL frames, not LTX), so
 * the error says how to move on. Probes with `client.listKeys` (one listing); a client
 * without it is not probed. {@link listReplica} calls this when it finds no LTX files.
 * @throws LtxvfsError `LTXVFS_ERR_UNSUPPORTED` naming the replica, the layout, a key found,
 *   the version ltxvfs reads and the way to move on; listing errors of the client.
 */
export async function checkOldLayout(client: ReplicaClient): Promise<void> {
  const keys = (await client.listKeys?.(OLD_LAYOUT_FOLDER, 10)) ?? [];
  if (keys.length === 0) return;
  const found = keys.find((k) => /\/(snapshots|wal)\/[^/]+\.lz4$/.test(k)) ?? keys[0];
  throw new LtxvfsError(
    'LTXVFS_ERR_UNSUPPORTED',
    `${client.url}: this is a Litestream 0.3 (or older) replica — the generations/ layout ` +
      `(generations/<id>/snapshots/*.snapshot.lz4, generations/<id>/wal/*.wal.lz4; found ${found}) — ` +
      'and ltxvfs reads Litestream v0.5 LTX replicas only. To move on: ' +
      `restore it with Litestream 0.3 (litestream restore -o app.db ${client.url}), then replicate app.db with Litestream 0.5 ` +
      'to a new replica, or make one from it with ltxvfs import app.db <new-url>',
    { key: found },
  );
}

/**
 * The restore plan (docs/formats.md §4.4): the files to apply, in order, to build the state
 * asked for from an empty database.
 *
 * 1. Snapshot: the level-9 file with the largest `maxTXID` among those with
 *    `maxTXID ≤ target.txid` / `createdAt < target.time`; `cur` = its maxTXID, else 0.
 * 2. Repeatedly, among files of levels 0…8 with `minTXID ≤ cur + 1`, `maxTXID > cur` (and
 *    the same target filters), append the best — larger maxTXID, then smaller minTXID,
 *    then higher level, then earlier createdAt — and set `cur` to its maxTXID; stop when
 *    none qualifies or `cur` reaches `target.txid`.
 * 3. A newest-state plan (no target) fails if any file is left that starts after `cur + 1`.
 *
 * The plan always starts at TXID 1 (Litestream restores by compacting the plan, which
 * needs that). Overlapping inputs are handled (the overlap check is {@link listReplica}'s);
 * files of levels above 9 are ignored. Runs in O(n log n).
 *
 * @param files a listing, e.g. from {@link listReplica} (any order).
 * @param where the replica URL (or another name) for messages.
 * @throws LtxvfsError
 *   `LTXVFS_ERR_EMPTY_REPLICA` — "replica has no LTX files: <where>", or "transaction not
 *   available: …" when the target cannot be reached (nothing old enough, or the replica
 *   stops before the target TXID);
 *   `LTXVFS_ERR_TXID_GAP` — no file starts at TXID 1, or (newest state) a file starts after
 *   the chain ends: "TXID gap after <cur>: next file <key> starts at <min> (replica <where>)";
 *   `LTXVFS_ERR_CORRUPT` — a level-9 file that does not start at TXID 1;
 *   `LTXVFS_ERR_USAGE` — both `txid` and `time`, a bad value, or a time in the future
 *   (lib/replica/time.ts `checkTimeTarget`, naming the newest file's time).
 */
export function computePlan(files: LtxFileInfo[], target: PlanTarget = {}, where = 'replica'): LtxFileInfo[] {
  const { txid, time } = target;
  if (txid !== undefined && time !== undefined) {
    throw new LtxvfsError('LTXVFS_ERR_USAGE', 'restore target: give a TXID or a time, not both');
  }
  if (txid !== undefined && (!Number.isSafeInteger(txid) || txid < 1)) {
    throw new LtxvfsError('LTXVFS_ERR_USAGE', `restore target: bad TXID ${String(txid)}, need an integer >= 1`);
  }
  if (time !== undefined && !Number.isFinite(time)) {
    throw new LtxvfsError('LTXVFS_ERR_USAGE', `restore target: bad time ${String(time)}, need ms since the epoch`);
  }
  if (files.length === 0) {
    throw new LtxvfsError('LTXVFS_ERR_EMPTY_REPLICA', `replica has no LTX files: ${where}`, { key: where });
  }
  if (time !== undefined) checkTimeTarget(time, files);
  for (const f of files) if (f.level === SNAPSHOT_LEVEL) checkSnapshot(f);

  const eligible = files.filter(
    (f) =>
      f.level >= 0 &&
      f.level <= MAX_LEVEL &&
      (txid === undefined || f.maxTXID <= txid) &&
      (time === undefined || f.createdAt < time),
  );

  // 1. The newest eligible snapshot.
  const plan: LtxFileInfo[] = [];
  let snapshot: LtxFileInfo | undefined;
  for (const f of eligible) {
    if (f.level === SNAPSHOT_LEVEL && (snapshot === undefined || f.maxTXID >= snapshot.maxTXID)) snapshot = f;
  }
  if (snapshot !== undefined) plan.push(snapshot);
  let cur = snapshot?.maxTXID ?? 0;

  // 2. Per level, files sorted by minTXID; the candidates for `cur` are a prefix that only
  //    grows as `cur` does, so a running best of that prefix is the level's candidate.
  const groups = new Map<number, LevelCursor>();
  for (const f of eligible) {
    if (f.level === SNAPSHOT_LEVEL) continue;
    let g = groups.get(f.level);
    if (g === undefined) groups.set(f.level, (g = { files: [], next: 0, best: undefined }));
    g.files.push(f);
  }
  for (const g of groups.values()) g.files.sort((a, b) => a.minTXID - b.minTXID);

  while (txid === undefined || cur < txid) {
    let chosen: LtxFileInfo | undefined;
    for (const g of groups.values()) {
      while (g.next < g.files.length && g.files[g.next].minTXID <= cur + 1) {
        const f = g.files[g.next++];
        if (g.best === undefined || better(f, g.best)) g.best = f;
      }
      if (g.best !== undefined && g.best.maxTXID > cur && (chosen === undefined || better(g.best, chosen))) chosen = g.best;
    }
    if (chosen === undefined) break;
    plan.push(chosen);
    cur = chosen.maxTXID;
  }

  if (plan.length === 0) {
    if (eligible.length > 0) {
      // Every eligible file would qualify at cur = 0 unless it starts after TXID 1.
      const first = earliest(eligible);
      throw new LtxvfsError(
        'LTXVFS_ERR_TXID_GAP',
        `TXID gap: no LTX file starts at TXID 1 (a restorable plan must): first file ${first.key} starts at ${formatTXID(first.minTXID)} (replica ${where})`,
        { key: first.key },
      );
    }
    throw notAvailable(target, cur, where);
  }
  if (txid === undefined && time === undefined) {
    const after = eligible.filter((f) => f.minTXID > cur + 1);
    if (after.length > 0) {
      const next = earliest(after);
      throw new LtxvfsError(
        'LTXVFS_ERR_TXID_GAP',
        `TXID gap after ${formatTXID(cur)}: next file ${next.key} starts at ${formatTXID(next.minTXID)} (replica ${where})`,
        { key: next.key },
      );
    }
  }
  if (txid !== undefined && cur < txid) throw notAvailable(target, cur, where);
  return plan;
}

/**
 * A position as Litestream prints it: `<TXID>/<checksum>`, both 16 hex digits
 * (docs/formats.md §2.5), e.g. `0000000000000005/0000000000000000` for a checksum-free replica.
 * @throws LtxvfsError `LTXVFS_ERR_USAGE` for a TXID outside 0…2^53 − 1 or a checksum outside u64.
 */
export function formatPosition(txid: number, postApplyChecksum = 0n): string {
  if (postApplyChecksum < 0n || postApplyChecksum > 0xffffffffffffffffn) {
    throw new LtxvfsError('LTXVFS_ERR_USAGE', `bad checksum ${postApplyChecksum.toString()}: not a u64`);
  }
  return `${formatTXID(txid)}/${formatChecksum(postApplyChecksum)}`;
}

/**
 * One line about a listed file for messages and `ls`, e.g.
 * `ltx/1/0000000000000001-0000000000000003.ltx (level 1, TXID 0000000000000001-0000000000000003, 3146 bytes, 2026-11-21T09:51:52.792Z)`.
 */
export function describeFile(info: LtxFileInfo): string {
  const created = Number.isFinite(info.createdAt) ? new Date(info.createdAt).toISOString() : 'unknown time';
  return `${info.key} (level ${info.level}, TXID ${formatTXID(info.minTXID)}-${formatTXID(info.maxTXID)}, ${info.size} bytes, ${created})`;
}

interface LevelCursor {
  /** Eligible files of one level, sorted by minTXID. */
  files: LtxFileInfo[];
  /** Index of the first file not yet taken into `best`. */
  next: number;
  /** Best of `files[0 … next)`. */
  best: LtxFileInfo | undefined;
}

/** The docs/formats.md §4.4 preference: larger maxTXID, smaller minTXID, higher level, earlier createdAt. */
function better(a: LtxFileInfo, b: LtxFileInfo): boolean {
  if (a.maxTXID !== b.maxTXID) return a.maxTXID > b.maxTXID;
  if (a.minTXID !== b.minTXID) return a.minTXID < b.minTXID;
  if (a.level !== b.level) return a.level > b.level;
  return a.createdAt < b.createdAt;
}

/** The file with the smallest minTXID (then the lowest level, for a stable message). */
function earliest(files: LtxFileInfo[]): LtxFileInfo {
  return files.reduce((a, b) => (b.minTXID < a.minTXID || (b.minTXID === a.minTXID && b.level < a.level) ? b : a));
}

function notAvailable(target: PlanTarget, cur: number, where: string): LtxvfsError {
  if (target.txid !== undefined) {
    const reach = cur === 0 ? 'no state at or before it' : `the newest state at or before it is ${formatTXID(cur)}`;
    return new LtxvfsError(
      'LTXVFS_ERR_EMPTY_REPLICA',
      `transaction not available: TXID ${formatTXID(target.txid)} (${reach}) in ${where}`,
      { key: where },
    );
  }
  return new LtxvfsError(
    'LTXVFS_ERR_EMPTY_REPLICA',
    `transaction not available: no LTX file created before ${new Date(target.time as number).toISOString()} in ${where}`,
    { key: where },
  );
}

function checkSnapshot(f: LtxFileInfo): void {
  if (f.minTXID !== 1) {
    throw new LtxvfsError(
      'LTXVFS_ERR_CORRUPT',
      `snapshot does not start at TXID 1: ${f.key} starts at ${formatTXID(f.minTXID)}`,
      { key: f.key },
    );
  }
}

/** Sort one level's listing and check it (see {@link listReplica}). */
function checkLevel(level: number, listed: LtxFileInfo[]): LtxFileInfo[] {
  const files = [...listed].sort((a, b) => a.minTXID - b.minTXID || a.maxTXID - b.maxTXID);
  if (level === SNAPSHOT_LEVEL) {
    files.forEach(checkSnapshot);
    return files;
  }
  for (let i = 1; i < files.length; i++) {
    const prev = files[i - 1];
    const next = files[i];
    if (next.minTXID <= prev.maxTXID) {
      throw new LtxvfsError(
        'LTXVFS_ERR_OVERLAP',
        `overlapping LTX files in level ${level}: ${prev.key} and ${next.key}`,
        { key: next.key },
      );
    }
  }
  return files;
}
