/**
 * Verify: check a whole replica without writing anything. Every LTX file of every level
 * is read whole and decoded (structure rules of docs/formats.md §1.9 and the file checksum of
 * §2.4), its header TXIDs are compared with its name, the restore plan must be contiguous
 * (§4.4), and where files carry database checksums the chain is followed: each file's
 * pre-apply checksum equals the state before it, each post-apply checksum equals the
 * database checksum computed from the pages (§2.3, §2.5). Half-written temporary files a
 * killed writer left (lib/write/temp-files.ts) are listed, not counted as problems: no reader
 * sees them.
 */
import { formatChecksum } from '../../ltx/checksum.js';
import { decodeLtxFile, type DecodedLtx } from '../../ltx/decoder.js';
import { HEADER_FLAG_NO_CHECKSUM } from '../../ltx/header.js';
import { formatTXID } from '../../ltx/filename.js';
import { isLtxvfsError } from '../../ltx/errors.js';
import type { ReplicaClient, LtxFileInfo } from '../storage/types.js';
import { computePlan, listReplica, MAX_LEVEL } from '../replica/plan.js';
import { makeLtxFile, PageIndex } from '../replica/page-index.js';
import { DatabaseChecksumTracker } from '../replica/checksum-tracker.js';
import { listTempFiles, type TempFileInfo } from '../write/temp-files.js';

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
  const decoded = new Map<string, DecodedLtx>();
  let bytesRead = 0;
  for (let i = 0; i < files.length; i++) {
    const info = files[i];
    try {
      const bytes = await client.readRange(info.key, 0, info.size);
      bytesRead += bytes.byteLength;
      const d = decodeLtxFile(bytes, info.key);
      if (d.header.minTXID !== info.minTXID || d.header.maxTXID !== info.maxTXID) {
        problems.push(`${info.key}: header TXIDs ${formatTXID(d.header.minTXID)}-${formatTXID(d.header.maxTXID)} do not match the file name`);
      } else {
        decoded.set(info.key, d);
      }
    } catch (err) {
      problems.push(message(err));
    }
    options.onProgress?.(i + 1, files.length);
  }

  let plan: LtxFileInfo[] = [];
  try {
    plan = computePlan(files, undefined, client.url);
  } catch (err) {
    if (!problems.includes(message(err))) problems.push(message(err));
  }

  // Follow the plan: structural continuity through PageIndex.apply (which also checks the
  // pre-apply chain), and post-apply checksums from per-page checksums kept incrementally.
  let version = PageIndex.empty();
  const sums = new DatabaseChecksumTracker();
  for (const info of plan) {
    const d = decoded.get(info.key);
    if (d === undefined) break; // already reported
    try {
      version = version.apply(makeLtxFile(info, d.header, d.trailer, d.index));
    } catch (err) {
      problems.push(message(err));
      break;
    }
    sums.apply(d.pages, d.header.commit);
    if ((d.header.flags & HEADER_FLAG_NO_CHECKSUM) === 0) {
      const sum = sums.value();
      if (sum !== d.trailer.postApplyChecksum) {
        problems.push(`${info.key}: post-apply checksum ${formatChecksum(d.trailer.postApplyChecksum)} does not match the database checksum ${formatChecksum(sum)} computed from the pages`);
      }
    }
  }
  const tempFiles = await listTempFiles(client, { now: options.now });
  return { filesChecked: files.length, bytesRead, plan, txid: version.txid, checksummed: version.checksummed, problems, tempFiles };
}

function message(err: unknown): string {
  // Everything thrown on these paths is an Error (LtxvfsError or a Node I/O error).
  return (err as Error).message;
}
