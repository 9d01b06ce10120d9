/**
 * Verify: check a whole replica without writing anything. Every LTX file of every level
 * is read and decoded with bounded memory (./ltx-stream.ts: whole up to 2 MiB, else in 8 MiB
 * ranges; before 2026-12-08 every file of every level was held decoded until the end, 612 MB
 * for the bench's 261 MiB database) — structure rules of docs/formats.md §1.9 and the file
 * checksum of §2.4 — its header TXIDs are compared with its name, the restore plan must be contiguous
 * (§4.4), and where files carry database checksums the chain is followed: each file's
 * pre-apply checksum equals the state before it, each post-apply checksum equals the
 * database checksum computed from the pages (§2.3, §2.5). Half-written temporary files a
 * killed writer left (lib/write/temp-files.ts) are listed, not counted as problems: no reader
 * sees them.
 */
import { formatChecksum } from '../../ltx/checksum.js';
import { HEADER_FLAG_NO_CHECKSUM } from '../../ltx/header.js';
import { isLtxvfsError } from '../../ltx/errors.js';
import type { ReplicaClient, LtxFileInfo } from '../storage/types.js';
import { computePlan, listReplica, MAX_LEVEL } from '../replica/plan.js';
import { PageIndex, type LtxFile } from '../replica/page-index.js';
import { DEFAULT_WHOLE_FILE_BYTES } from '../replica/ltx-loader.js';
import { newReadCounters } from '../replica/read-counters.js';
import { DatabaseChecksumTracker } from '../replica/checksum-tracker.js';
import { listTempFiles, type TempFileInfo } from '../write/temp-files.js';
import { ReceivePair } from '../hydrate/pass.js';
import { streamLtxFile } from './ltx-stream.js';

/** Largest range read of a file above the whole-file bound: 8 MiB, as restore's and hydration's. */
const VERIFY_RANGE_BYTES = 8 * 1024 * 1024;

/** The outcome of {@link verifyReplica}. */
export interface VerifyReport {
  /** Files read, all levels. */
  filesChecked: number;
  /** Bytes read. */
  bytesRead: number;
  /** The plan of the newest state (empty if it could not be computed). */
  plan: LtxFileInfo[];
  /** TXID of the newest state (0 if no plan). */
  txid: number;
  /** Whether the plan's files carry database checksums (and the chain was checked). */
  checksummed: boolean;
  /** One line per problem, each naming the file and the reason; empty when the replica is sound. */
  problems: string[];
  /** Leftover temporary files (directory replicas), sorted by key. */
  tempFiles: TempFileInfo[];
}

/** Options of {@link verifyReplica}. */
export interface VerifyOptions {
  /** Called after each file: files done, files in all. */
  onProgress?: (done: number, total: number) => void;
  /** Clock for the temporary files' ages, ms. Default `Date.now`. */
  now?: () => number;
}

/**
 * Verify every file of the replica behind `client`.
 * @returns a report; problems are collected, not thrown.
 * @throws LtxvfsError only when the replica (or a directory replica's folders, for temporary
 *   files) cannot be listed (`LTXVFS_ERR_NOT_FOUND`, storage errors).
 */
export async function verifyReplica(client: ReplicaClient, options: VerifyOptions = {}): Promise<VerifyReport> {
  const problems: string[] = [];
  let files: LtxFileInfo[];
  try {
    files = await listReplica(client);
  } catch (err) {
    // Overlapping files or a misnamed snapshot are findings about the replica, not a
    // failure to read it: report them and check every file anyway.
    if (!isLtxvfsError(err, 'LTXVFS_ERR_OVERLAP') && !isLtxvfsError(err, 'LTXVFS_ERR_CORRUPT')) throw err;
    problems.push(message(err));
    files = (await Promise.all(Array.from({ length: MAX_LEVEL + 1 }, (_, level) => client.listLtxFiles(level)))).flat();
  }
  let plan: LtxFileInfo[] = [];
  try {
    plan = computePlan(files, undefined, client.url);
  } catch (err) {
    if (!problems.includes(message(err))) problems.push(message(err));
  }

  // Every file is read through ./ltx-stream.ts (bounded memory: whole up to 2 MiB, else in
  // ranges), its frames decoded and fed to its file checksum. The plan's files go first,
  // in plan order, so that the chain is followed as they are read:
  // structural continuity through PageIndex.apply (which also checks the pre-apply chain),
  // and post-apply checksums from per-page checksums kept incrementally. A file that fails
  // ends the chain (its problem is reported); the files after it are still checked.
  const counters = newReadCounters();
  const receive = new ReceivePair(VERIFY_RANGE_BYTES);
  let checked = 0;
  const read = async (info: LtxFileInfo, chain?: { loaded: (file: LtxFile) => void; page: (pgno: number, page: Uint8Array) => void }): Promise<LtxFile | undefined> => {
    try {
      return await streamLtxFile(client, info, {
        wholeFileBytes: DEFAULT_WHOLE_FILE_BYTES, rangeBytes: VERIFY_RANGE_BYTES, receive, counters, ...chain,
      });
    } catch (err) {
      problems.push(message(err));
      return undefined;
    } finally {
      options.onProgress?.(++checked, files.length);
    }
  };
  let version = PageIndex.empty();
  const sums = new DatabaseChecksumTracker();
  let following = true;
  for (const info of plan) {
    const file = await read(info, {
      loaded: (f) => {
        if (!following) return;
        try {
          version = version.apply(f);
        } catch (err) {
          problems.push(message(err));
          following = false;
        }
      },
      page: (pgno, page) => {
        if (following) sums.page(pgno, page);
      },
    });
    if (file === undefined) following = false;
    if (!following || file === undefined) continue;
    sums.truncate(file.header.commit);
    if ((file.header.flags & HEADER_FLAG_NO_CHECKSUM) === 0) {
      const sum = sums.value();
      if (sum !== file.trailer.postApplyChecksum) {
        problems.push(`${info.key}: post-apply checksum ${formatChecksum(file.trailer.postApplyChecksum)} does not match the database checksum ${formatChecksum(sum)} computed from the pages`);
      }
    }
  }
  const planned = new Set(plan.map((f) => f.key));
  for (const info of files) if (!planned.has(info.key)) await read(info);
  const bytesRead = counters.bytesRead;
  const tempFiles = await listTempFiles(client, { now: options.now });
  return { filesChecked: files.length, bytesRead, plan, txid: version.txid, checksummed: version.checksummed, problems, tempFiles };
}

function message(err: unknown): string {
  // Everything thrown on these paths is an Error (LtxvfsError or a Node I/O error).
  return (err as Error).message;
}
