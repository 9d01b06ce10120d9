/**
 * Restore: write the plain SQLite database of a replica's newest state (docs/formats.md
 * §4.4 "Applying a plan"). Every file of the plan is read whole and decoded, so its file
 * checksum is verified (§2.4); where the files carry database checksums the result is
 * checked against the last post-apply checksum (§2.3). The output appears atomically:
 * written beside the target under a temporary name, synced, then renamed.
 */
import { open, rename, rm, stat } from 'node:fs/promises';
import { dirname, basename, join } from 'node:path';
import { formatChecksum } from '../../ltx/checksum.js';
import { decodeLtxFile } from '../../ltx/decoder.js';
import { LtxvfsError } from '../../ltx/errors.js';
import { formatTXID } from '../../ltx/filename.js';
import type { ReplicaClient, LtxFileInfo } from '../storage/types.js';
import { computePlan, listReplica, type PlanTarget } from '../replica/plan.js';
import { makeLtxFile, PageIndex } from '../replica/page-index.js';
import { DatabaseChecksumTracker } from '../replica/checksum-tracker.js';

/** What {@link restoreDatabase} wrote. */
export interface RestoreResult {
  /** TXID of the restored state. */
  txid: number;
  /** Page size in bytes. */
  pageSize: number;
  /** Database size in pages. */
  commit: number;
  /** The LTX files applied, in order. */
  files: LtxFileInfo[];
  /** Bytes read from storage. */
  bytesRead: number;
  /** The database checksum, when the files carry checksums and it was verified. */
  checksum: bigint | undefined;
}

/** Options of {@link restoreDatabase}. */
export interface RestoreOptions {
  /** Called after each file is applied: files done, files in all, bytes read so far, bytes of all the files. */
  onProgress?: (done: number, total: number, bytesRead: number, bytesTotal: number) => void;
  /** Replace an existing output file. Default false. */
  overwrite?: boolean;
  /** Restore a past state: right after a TXID, or the newest before a time (docs/formats.md §4.4). Default the newest. */
  target?: PlanTarget;
}

/**
 * Restore the newest state of the replica behind `client` into `outPath`.
 * @throws LtxvfsError `LTXVFS_ERR_USAGE` if `outPath` exists (without `overwrite`); every error of
 *   {@link computePlan} and {@link decodeLtxFile}; `LTXVFS_ERR_CHECKSUM` if the restored
 *   database's checksum differs from the last file's post-apply checksum.
 */
export async function restoreDatabase(client: ReplicaClient, outPath: string, options: RestoreOptions = {}): Promise<RestoreResult> {
  if (!options.overwrite && (await exists(outPath))) {
    throw new LtxvfsError('LTXVFS_ERR_USAGE', `output file already exists: ${outPath}`, { key: outPath });
  }
  const plan = computePlan(await listReplica(client, { useMetadata: options.target?.time !== undefined }), options.target, client.url);
  const tmpPath = join(dirname(outPath), `.${basename(outPath)}.tmp-${process.pid}`);
  const out = await open(tmpPath, 'w+');
  let version = PageIndex.empty();
  let bytesRead = 0;
  const bytesTotal = plan.reduce((n, f) => n + f.size, 0);
  try {
    // Read ahead one file while the previous one is applied.
    // The plan is never empty: computePlan throws on an empty replica.
    let next: Promise<Uint8Array> | undefined = client.readRange(plan[0].key, 0, plan[0].size);
    const sums = new DatabaseChecksumTracker();
    for (let i = 0; i < plan.length; i++) {
      const info = plan[i];
      const bytes = await next!;
      next = i + 1 < plan.length ? client.readRange(plan[i + 1].key, 0, plan[i + 1].size) : undefined;
      next?.catch(() => undefined);
      bytesRead += bytes.byteLength;
      const decoded = decodeLtxFile(bytes, info.key);
      version = version.apply(makeLtxFile(info, decoded.header, decoded.trailer, decoded.index));
      const pageSize = decoded.header.pageSize;
      for (const page of decoded.pages) {
        await out.write(page.data, 0, pageSize, (page.pgno - 1) * pageSize);
      }
      await out.truncate(decoded.header.commit * pageSize);
      sums.apply(decoded.pages, decoded.header.commit);
      options.onProgress?.(i + 1, plan.length, bytesRead, bytesTotal);
    }
    let checksum: bigint | undefined;
    if (version.checksummed) {
      checksum = sums.value();
      if (checksum !== version.postApplyChecksum) {
        const key = plan[plan.length - 1].key;
        throw new LtxvfsError('LTXVFS_ERR_CHECKSUM',
          `${key}: restored database checksum ${formatChecksum(checksum)} does not match post-apply checksum ${formatChecksum(version.postApplyChecksum)} at TXID ${formatTXID(version.txid)}`,
          { key });
      }
    }
    await out.sync();
    await out.close();
    await rename(tmpPath, outPath);
    return { txid: version.txid, pageSize: version.pageSize, commit: version.commit, files: plan, bytesRead, checksum };
  } catch (err) {
    await out.close().catch(() => undefined);
    await rm(tmpPath, { force: true });
    throw err;
  }
}

async function exists(path: string): Promise<boolean> {
  try {
    await stat(path);
    return true;
  } catch {
    return false;
  }
}
