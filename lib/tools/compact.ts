/**
 * Compaction and L0 retention, as Litestream's compactor does them (docs/formats.md §1.9, §4.2;
 * litestream compactor.go `Compact` and `EnforceL0Retention`, superfly/ltx compactor.go):
 *
 * 1. **Compact** the files of level N − 1 that start after the newest level-N file
 *    (`minTXID > max`) — the ones that continue the level-N chain — into one level-N file,
 *    exactly as ltx's `Compactor` merges: inputs contiguous; for each pgno the newest
 *    input's page; pages beyond the last input's commit dropped; commit, maxTXID,
 *    timestamp and post-apply checksum of the last input; minTXID and pre-apply checksum
 *    of the first; WAL fields and nodeID 0. Litestream compacts into checksum-free files
 *    (`0x2`); the output keeps database checksums only when every input carries them.
 * 2. **Snapshot**: a level-9 file `1-<max>` holding the whole database at that TXID
 *    (pages 1…commit but the lock page), merged the same way from the restore plan of that
 *    TXID (docs/formats.md §4.4). Checksum-free unless every file of the plan carries checksums;
 *    then its post-apply checksum is the database checksum, checked against the chain.
 * 3. **Retention** (level 1 only): delete the level-0 files already covered by level 1
 *    (`maxTXID ≤` the newest level-1 maxTXID) whose `createdAt` is at or before
 *    `now − retentionMs`, walking level 0 in TXID order and stopping at the first younger
 *    file; never the newest level-0 file. Litestream's rule, except that `retentionMs = 0`
 *    deletes at once (Litestream treats `l0-retention: 0` as "never"); `Infinity` never deletes.
 * 4. **Clean-up** (directory replicas): half-written temporary files that writers killed
 *    mid-write left behind, at least `tempFileMaxAgeMs` old (lib/write/temp-files.ts; younger ones
 *    may be a live writer's upload).
 *
 * Every input is read whole and decoded (structure and file checksum, docs/formats.md §1.9,
 * §2.4) before anything is written, so a damaged file stops the run with nothing written
 * or deleted. Outputs are written create-only with the header timestamp as file mtime /
 * `litestream-timestamp` metadata. Deletions happen only after both writes succeeded and
 * only if the restore plan without the deleted files still reaches the same TXID.
 *
 * Memory: the inputs, the snapshot and the encoded outputs are held in memory at once
 * (about three times the database size for the snapshot step).
 */
import { databaseChecksum, formatChecksum, lockPgno } from '../../ltx/checksum.js';
import { decodeLtxFile, type DecodedLtx, type LtxPage } from '../../ltx/decoder.js';
import { encodeLtxFile } from '../../ltx/encoder.js';
import { LtxvfsError } from '../../ltx/errors.js';
import { formatTXID } from '../../ltx/filename.js';
import { HEADER_FLAG_NO_CHECKSUM, hasNoChecksum, type LtxHeader } from '../../ltx/header.js';
import { computePlan, listReplica, SNAPSHOT_LEVEL } from '../replica/plan.js';
import type { LtxFileInfo, ReplicaClient } from '../storage/types.js';
import { DEFAULT_TEMP_FILE_MAX_AGE_MS, removeTempFiles } from '../write/temp-files.js';

/** Litestream's default `l0-retention`, ms (store.go `DefaultL0Retention`, 5 min). */
export const DEFAULT_L0_RETENTION_MS = 5 * 60_000;

/** Options of {@link compactReplica}. */
export interface CompactOptions {
  /** Destination level, 1…8; the inputs come from the level below. Default 1. */
  level?: number;
  /** Also write a level-9 snapshot of the compacted state when none exists yet. Default true. */
  snapshot?: boolean;
  /**
   * Delete level-0 files covered by level 1 once they are this old, ms (level-1
   * compaction only). 0 = at once, `Infinity` = never. Default 5 min (Litestream's).
   */
  retentionMs?: number;
  /** Clock for retention, ms since the Unix epoch. Default `Date.now`. */
  now?: () => number;
  /** When given, `lease.assertHeld()` runs before every write and delete (a writer compacting its own replica). */
  lease?: { assertHeld(): void };
  /** Parallel whole-file reads. Default 8. */
  readConcurrency?: number;
  /** Remove half-written temporary files at least this old, ms (lib/write/temp-files.ts). Default 1 hour; 0 = every one. */
  tempFileMaxAgeMs?: number;
}

/** One file {@link compactReplica} wrote. */
export interface CompactOutput {
  key: string;
  level: number;
  minTXID: number;
  maxTXID: number;
  /** Bytes. */
  size: number;
  /** Header timestamp, ms since the Unix epoch. */
  timestamp: number;
  /** Whether it carries database checksums (header flags 0) or not (`0x2`). */
  checksummed: boolean;
}

/** What {@link compactReplica} did. */
export interface CompactReport {
  /** The level-(N − 1) files merged, in TXID order (empty when there was nothing new). */
  merged: LtxFileInfo[];
  /** The level-N file written, if any. */
  compacted: CompactOutput | undefined;
  /** The level-9 snapshot written, if any. */
  snapshot: CompactOutput | undefined;
  /** Keys written, in order. */
  written: string[];
  /** Keys deleted by retention, in TXID order. */
  deleted: string[];
  /** Half-written temporary files removed (keys, sorted). */
  tempFilesRemoved: string[];
  /** The newest level-N maxTXID after the run (0 if level N is empty). */
  txid: number;
  /** Bytes read from storage. */
  bytesRead: number;
  /** Bytes written to storage. */
  bytesWritten: number;
}

/**
 * Compact level `level − 1` into `level`, write a snapshot, and apply L0 retention (see the
 * module doc for the rules). Needs no lease; with `options.lease` every write and delete
 * is preceded by `lease.assertHeld()`.
 * @throws LtxvfsError — nothing is written or deleted in these cases:
 *   `LTXVFS_ERR_TXID_GAP` (the inputs do not continue level N, or leave a hole, or retention
 *   would break the restore plan), `LTXVFS_ERR_CORRUPT` / `LTXVFS_ERR_CHECKSUM` naming the
 *   input that fails to decode or whose header disagrees with its name,
 *   `LTXVFS_ERR_CHECKSUM` (a broken database checksum chain), `LTXVFS_ERR_PAGE_SIZE`,
 *   `LTXVFS_ERR_OVERLAP` (from the listing), `LTXVFS_ERR_USAGE` (bad options);
 *   and, possibly after the compacted file was written: `LTXVFS_ERR_PRECONDITION` (an
 *   output key already exists: another compactor ran), `LTXVFS_ERR_LEASE_LOST`, storage errors.
 */
export async function compactReplica(client: ReplicaClient, options: CompactOptions = {}): Promise<CompactReport> {
  const { level = 1, snapshot = true, retentionMs = DEFAULT_L0_RETENTION_MS, now = Date.now, lease, readConcurrency = 8 } = options;
  const { tempFileMaxAgeMs = DEFAULT_TEMP_FILE_MAX_AGE_MS } = options;
  if (!Number.isInteger(level) || level < 1 || level >= SNAPSHOT_LEVEL) {
    throw new LtxvfsError('LTXVFS_ERR_USAGE', `bad compaction level ${String(level)}: need an integer in 1…8`);
  }
  if (typeof retentionMs !== 'number' || Number.isNaN(retentionMs) || retentionMs < 0) {
    throw new LtxvfsError('LTXVFS_ERR_USAGE', `bad retention ${String(retentionMs)}: need ms >= 0 (Infinity keeps every file)`);
  }
  if (!Number.isInteger(readConcurrency) || readConcurrency < 1) {
    throw new LtxvfsError('LTXVFS_ERR_USAGE', `bad readConcurrency ${String(readConcurrency)}: need an integer >= 1`);
  }
  if (typeof tempFileMaxAgeMs !== 'number' || Number.isNaN(tempFileMaxAgeMs) || tempFileMaxAgeMs < 0) {
    throw new LtxvfsError('LTXVFS_ERR_USAGE', `bad tempFileMaxAgeMs ${String(tempFileMaxAgeMs)}: need ms >= 0`);
  }

  const files = await listReplica(client);
  const src = files.filter((f) => f.level === level - 1);
  const dst = files.filter((f) => f.level === level);
  const dstMax = maxTXIDOf(dst);
  const inputs = src.filter((f) => f.minTXID > dstMax);
  checkChain(inputs, dst.length > 0 ? dstMax : undefined, level);

  const report: CompactReport = { merged: inputs, compacted: undefined, snapshot: undefined, written: [], deleted: [], tempFilesRemoved: [], txid: dstMax, bytesRead: 0, bytesWritten: 0 };
  const decoded = new Map<string, DecodedLtx>();
  const readAll = async (list: LtxFileInfo[]): Promise<DecodedLtx[]> => {
    const missing = list.filter((f) => !decoded.has(f.key));
    await mapLimit(missing, readConcurrency, async (info) => {
      const bytes = await client.readRange(info.key, 0, info.size);
      report.bytesRead += bytes.byteLength;
      decoded.set(info.key, decodeChecked(bytes, info));
    });
    return list.map((f) => decoded.get(f.key) as DecodedLtx);
  };

  // 1. The compacted file, in memory.
  let compacted: { info: LtxFileInfo; bytes: Uint8Array; out: CompactOutput } | undefined;
  if (inputs.length > 0) {
    const merged = mergeLtx(await readAll(inputs), inputs);
    const bytes = encodeLtxFile(merged);
    const { header } = merged;
    const info: LtxFileInfo = {
      level, minTXID: header.minTXID, maxTXID: header.maxTXID, size: bytes.byteLength, createdAt: header.timestamp,
      key: client.ltxKey(level, header.minTXID, header.maxTXID),
    };
    // Decoding our own output checks it, and gives the snapshot step its pages.
    decoded.set(info.key, decodeLtxFile(bytes, info.key));
    compacted = { info, bytes, out: outputOf(info, header) };
    report.txid = info.maxTXID;
  }

  // 2. The snapshot, in memory.
  let snap: { info: LtxFileInfo; bytes: Uint8Array; out: CompactOutput } | undefined;
  const snapshotMax = maxTXIDOf(files.filter((f) => f.level === SNAPSHOT_LEVEL));
  if (snapshot && report.txid > snapshotMax) {
    const listing = compacted === undefined ? files : [...files, compacted.info];
    const plan = computePlan(listing, { txid: report.txid }, client.url);
    const merged = mergeLtx(await readAll(plan), plan);
    const bytes = encodeLtxFile(merged);
    const info: LtxFileInfo = {
      level: SNAPSHOT_LEVEL, minTXID: 1, maxTXID: report.txid, size: bytes.byteLength, createdAt: merged.header.timestamp,
      key: client.ltxKey(SNAPSHOT_LEVEL, 1, report.txid),
    };
    snap = { info, bytes, out: outputOf(info, merged.header) };
  }

  // 3. Write: the compacted file first, so that a snapshot never exists without it.
  for (const w of [compacted, snap]) {
    if (w === undefined) continue;
    lease?.assertHeld();
    await client.write(w.info.key, w.bytes, { ifNoneMatch: true, timestamp: w.out.timestamp });
    report.written.push(w.info.key);
    report.bytesWritten += w.bytes.byteLength;
  }
  report.compacted = compacted?.out;
  report.snapshot = snap?.out;

  // 4. L0 retention.
  if (level === 1 && retentionMs !== Infinity) {
    const after = [...files, ...[compacted?.info, snap?.info].filter((f): f is LtxFileInfo => f !== undefined)];
    const doomed = l0Expired(after, now() - retentionMs);
    if (doomed.length > 0) {
      checkPlanSurvives(after, doomed, client.url);
      for (const f of doomed) {
        lease?.assertHeld();
        await client.delete(f.key);
        report.deleted.push(f.key);
      }
    }
  }

  // 5. Half-written temporary files.
  report.tempFilesRemoved = await removeTempFiles(client, tempFileMaxAgeMs, { now, beforeDelete: () => lease?.assertHeld() });
  return report;
}

/**
 * Merge decoded LTX files as superfly/ltx's `Compactor` does (docs/formats.md §1.9): `files`
 * are the inputs in TXID order, `infos` their listing entries (for messages). Output flags
 * `0x2` unless every input carries database checksums. A result starting at TXID 1 is a
 * snapshot: pages no input holds are zero-filled (what a restore produces there), and with
 * checksums its post-apply checksum must equal the database checksum of its pages.
 * @throws LtxvfsError `LTXVFS_ERR_PAGE_SIZE`, `LTXVFS_ERR_TXID_GAP` (not contiguous:
 *   `next.min ≤ prev.max + 1` and `next.max > prev.max`), `LTXVFS_ERR_CHECKSUM` (pre-apply of
 *   one input ≠ post-apply of the one before, or a snapshot whose pages do not give the last post-apply).
 */
export function mergeLtx(files: readonly DecodedLtx[], infos: readonly LtxFileInfo[]): { header: LtxHeader; pages: LtxPage[]; postApplyChecksum: bigint } {
  const first = files[0].header;
  const last = files[files.length - 1];
  const checksummed = files.every((f) => !hasNoChecksum(f.header));
  const pages = new Map<number, Uint8Array>();
  for (let i = 0; i < files.length; i++) {
    const { header, pages: filePages } = files[i];
    if (i > 0) {
      const prev = files[i - 1];
      if (header.pageSize !== prev.header.pageSize) {
        throw new LtxvfsError('LTXVFS_ERR_PAGE_SIZE', `${infos[i].key}: page size ${header.pageSize} differs from ${prev.header.pageSize} of ${infos[i - 1].key}`, { key: infos[i].key });
      }
      if (header.minTXID > prev.header.maxTXID + 1 || header.maxTXID <= prev.header.maxTXID) {
        throw new LtxvfsError('LTXVFS_ERR_TXID_GAP',
          `non-contiguous LTX files: ${infos[i - 1].key} (${range(prev.header)}) then ${infos[i].key} (${range(header)})`, { key: infos[i].key });
      }
      if (checksummed && header.minTXID === prev.header.maxTXID + 1 && header.preApplyChecksum !== prev.trailer.postApplyChecksum) {
        throw new LtxvfsError('LTXVFS_ERR_CHECKSUM',
          `${infos[i].key}: pre-apply checksum ${formatChecksum(header.preApplyChecksum)} does not match post-apply checksum ${formatChecksum(prev.trailer.postApplyChecksum)} of ${infos[i - 1].key}`,
          { key: infos[i].key });
      }
    }
    for (const p of filePages) pages.set(p.pgno, p.data);
  }
  const { commit, pageSize, maxTXID, timestamp } = last.header;
  const minTXID = first.minTXID;
  if (minTXID === 1) {
    const lock = lockPgno(pageSize);
    for (let pgno = 1; pgno <= commit; pgno++) if (pgno !== lock && !pages.has(pgno)) pages.set(pgno, new Uint8Array(pageSize));
  }
  const out: LtxPage[] = [...pages].filter(([pgno]) => pgno <= commit).sort((a, b) => a[0] - b[0]).map(([pgno, data]) => ({ pgno, data }));
  const postApplyChecksum = checksummed ? last.trailer.postApplyChecksum : 0n;
  if (checksummed && minTXID === 1) {
    const byPgno = new Map(out.map((p) => [p.pgno, p.data]));
    const sum = databaseChecksum(pageSize, commit, (pgno) => byPgno.get(pgno) as Uint8Array);
    if (sum !== postApplyChecksum) {
      const key = infos[infos.length - 1].key;
      throw new LtxvfsError('LTXVFS_ERR_CHECKSUM',
        `${key}: post-apply checksum ${formatChecksum(postApplyChecksum)} does not match the database checksum ${formatChecksum(sum)} of the state at TXID ${formatTXID(maxTXID)}`,
        { key });
    }
  }
  return {
    header: {
      flags: checksummed ? 0 : HEADER_FLAG_NO_CHECKSUM, pageSize, commit, minTXID, maxTXID, timestamp,
      preApplyChecksum: checksummed && minTXID > 1 ? first.preApplyChecksum : 0n,
      walOffset: 0, walSize: 0, walSalt1: 0, walSalt2: 0, nodeID: 0,
    },
    pages: out,
    postApplyChecksum,
  };
}

/** The level-0 files retention deletes (litestream compactor.go `EnforceL0Retention`), given the listing after the writes. */
function l0Expired(files: LtxFileInfo[], threshold: number): LtxFileInfo[] {
  const maxL1 = maxTXIDOf(files.filter((f) => f.level === 1));
  const l0 = files.filter((f) => f.level === 0);
  if (maxL1 === 0 || l0.length === 0) return [];
  const doomed: LtxFileInfo[] = [];
  for (const f of l0) {
    if (f.createdAt > threshold) return doomed;
    if (f.maxTXID <= maxL1) doomed.push(f);
  }
  if (doomed[doomed.length - 1] === l0[l0.length - 1]) doomed.pop();
  return doomed;
}

/** Refuse a deletion after which the newest restore plan no longer reaches the same TXID. */
function checkPlanSurvives(files: LtxFileInfo[], doomed: LtxFileInfo[], where: string): void {
  const before = computePlan(files, {}, where);
  const gone = new Set(doomed);
  let after: LtxFileInfo[] = [];
  let why = '';
  try {
    after = computePlan(files.filter((f) => !gone.has(f)), {}, where);
  } catch (err) {
    why = `: ${(err as Error).message}`;
  }
  const want = before[before.length - 1].maxTXID;
  const got = after.length === 0 ? 0 : after[after.length - 1].maxTXID;
  if (got !== want) {
    throw new LtxvfsError('LTXVFS_ERR_TXID_GAP',
      `retention would break the restore plan of ${where} (TXID ${formatTXID(want)} no longer reachable${why}); nothing deleted`,
      { key: doomed[0].key });
  }
}

/** Inputs must continue level N (`first.min = dstMax + 1` when level N has files) and one another. */
function checkChain(inputs: LtxFileInfo[], dstMax: number | undefined, level: number): void {
  if (inputs.length === 0) return;
  if (dstMax !== undefined && inputs[0].minTXID !== dstMax + 1) {
    throw new LtxvfsError('LTXVFS_ERR_TXID_GAP',
      `level-${level - 1} files do not continue level ${level}: it ends at TXID ${formatTXID(dstMax)}, the next level-${level - 1} file ${inputs[0].key} starts at ${formatTXID(inputs[0].minTXID)}`,
      { key: inputs[0].key });
  }
  for (let i = 1; i < inputs.length; i++) {
    if (inputs[i].minTXID !== inputs[i - 1].maxTXID + 1) {
      throw new LtxvfsError('LTXVFS_ERR_TXID_GAP',
        `TXID gap in level ${level - 1} after ${formatTXID(inputs[i - 1].maxTXID)}: next file ${inputs[i].key} starts at ${formatTXID(inputs[i].minTXID)}`,
        { key: inputs[i].key });
    }
  }
}

/** Decode a whole file (structure, file checksum) and check its header against its name. */
function decodeChecked(bytes: Uint8Array, info: LtxFileInfo): DecodedLtx {
  const d = decodeLtxFile(bytes, info.key);
  if (d.header.minTXID !== info.minTXID || d.header.maxTXID !== info.maxTXID) {
    throw new LtxvfsError('LTXVFS_ERR_CORRUPT',
      `${info.key}: header TXIDs ${range(d.header)} do not match the file name`, { key: info.key });
  }
  return d;
}

function outputOf(info: LtxFileInfo, header: LtxHeader): CompactOutput {
  return {
    key: info.key, level: info.level, minTXID: info.minTXID, maxTXID: info.maxTXID, size: info.size,
    timestamp: header.timestamp, checksummed: !hasNoChecksum(header),
  };
}

function maxTXIDOf(files: LtxFileInfo[]): number {
  return files.reduce((m, f) => Math.max(m, f.maxTXID), 0);
}

/** Run `fn` over `items` with at most `limit` at once; the first failure rejects (the others finish). */
async function mapLimit<T>(items: readonly T[], limit: number, fn: (item: T) => Promise<void>): Promise<void> {
  let next = 0;
  const worker = async (): Promise<void> => {
    try {
      while (next < items.length) await fn(items[next++]);
    } catch (err) {
      next = items.length; // the others stop at their next item
      throw err;
    }
  };
  const results = await Promise.allSettled(Array.from({ length: Math.min(limit, items.length) }, worker));
  const failed = results.find((r): r is PromiseRejectedResult => r.status === 'rejected');
  if (failed !== undefined) throw failed.reason;
}

function range(h: Pick<LtxHeader, 'minTXID' | 'maxTXID'>): string {
  return `${formatTXID(h.minTXID)}-${formatTXID(h.maxTXID)}`;
}
