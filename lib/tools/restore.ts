/**
 * Restore: write the plain SQLite database of a replica's newest state (docs/formats.md
 * §4.4 "Applying a plan"). Every byte of every file of the plan is read and every frame
 * decoded, so each file checksum is verified (§2.4); where the files carry database
 * checksums the result is checked against the last post-apply checksum (§2.3). The output
 * appears atomically: written beside the target under a temporary name, synced, then renamed.
 *
 * Memory stays bounded whatever the database's size: each file is read through
 * ./ltx-stream.ts (whole up to `wholeFileBytes`, else in ranges of up to `rangeBytes`, one
 * read ahead), its frames decoded a 1 MiB chunk at a time into a reused buffer and written
 * with one positional write per run of pages (lib/hydrate/pass.ts `writeRange`, as hydration
 * writes), each fed to the file checksum as it is decoded. Before (2026-12-08), each file
 * was read whole into memory and all its pages decoded at once, then written one `write`
 * per page: the bench's 261 MiB database took 2.41–2.77 s and 614 MB of memory to restore.
 */
import { open, rename, rm, stat } from 'node:fs/promises';
import { dirname, basename, join } from 'node:path';
import { formatChecksum } from '../../ltx/checksum.js';
import { LtxvfsError } from '../../ltx/errors.js';
import { formatTXID } from '../../ltx/filename.js';
import type { ReplicaClient, LtxFileInfo } from '../storage/types.js';
import { computePlan, listReplica, type PlanTarget } from '../replica/plan.js';
import { PageIndex } from '../replica/page-index.js';
import { DatabaseChecksumTracker } from '../replica/checksum-tracker.js';
import { DEFAULT_WHOLE_FILE_BYTES } from '../replica/ltx-loader.js';
import { newReadCounters } from '../replica/read-counters.js';
import { ReceivePair, WRITE_CHUNK_BYTES, writeRange } from '../hydrate/pass.js';
import { streamLtxFile } from './ltx-stream.js';

/** Default largest range read of a file read in ranges: 8 MiB, as hydration's. */
export const DEFAULT_RESTORE_RANGE_BYTES = 8 * 1024 * 1024;

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
  /** Called after each file is applied and each range written: files done, files in all, bytes read so far, bytes of all the files. */
  onProgress?: (done: number, total: number, bytesRead: number, bytesTotal: number) => void;
  /** Replace an existing output file. Default false. */
  overwrite?: boolean;
  /** Restore a past state: right after a TXID, or the newest before a time (docs/formats.md §4.4). Default the newest. */
  target?: PlanTarget;
  /** Files up to this many bytes are read whole; larger ones in ranges. Default 2 MiB (`DEFAULT_WHOLE_FILE_BYTES`). */
  wholeFileBytes?: number;
  /** Largest range read of a larger file, bytes (a single frame larger than this is read alone). Default {@link DEFAULT_RESTORE_RANGE_BYTES}. */
  rangeBytes?: number;
}

/**
 * Restore the newest state of the replica behind `client` into `outPath`.
 * @throws LtxvfsError `LTXVFS_ERR_USAGE` if `outPath` exists (without `overwrite`); every error of
 *   {@link computePlan} and of loading a file (lib/replica/ltx-loader.ts); `LTXVFS_ERR_CORRUPT`
 *   naming the key, page and offset of a frame that does not decode; `LTXVFS_ERR_CHECKSUM`
 *   naming the key of a file whose checksum does not match, or if the restored database's
 *   checksum differs from the last file's post-apply checksum; the storage client's errors.
 */
export async function restoreDatabase(client: ReplicaClient, outPath: string, options: RestoreOptions = {}): Promise<RestoreResult> {
  if (!options.overwrite && (await exists(outPath))) {
    throw new LtxvfsError('LTXVFS_ERR_USAGE', `output file already exists: ${outPath}`, { key: outPath });
  }
  const plan = computePlan(await listReplica(client, { useMetadata: options.target?.time !== undefined }), options.target, client.url);
  const tmpPath = join(dirname(outPath), `.${basename(outPath)}.tmp-${process.pid}`);
  const out = await open(tmpPath, 'w+');
  const counters = newReadCounters();
  const wholeFileBytes = options.wholeFileBytes ?? DEFAULT_WHOLE_FILE_BYTES;
  const rangeBytes = Math.max(1, options.rangeBytes ?? DEFAULT_RESTORE_RANGE_BYTES);
  const receive = new ReceivePair(rangeBytes);
  let version = PageIndex.empty();
  const bytesTotal = plan.reduce((n, f) => n + f.size, 0);
  try {
    const sums = new DatabaseChecksumTracker();
    let chunk = new Uint8Array(0);
    for (let i = 0; i < plan.length; i++) {
      const info = plan[i];
      const file = await streamLtxFile(client, info, {
        wholeFileBytes, rangeBytes, receive, counters,
        range: (fetched, observer) => {
          const pageSize = fetched.range.file.header.pageSize;
          if (chunk.length === 0 || chunk.length % pageSize !== 0) chunk = new Uint8Array(Math.max(1, Math.floor(WRITE_CHUNK_BYTES / pageSize)) * pageSize);
          return writeRange(out.fd, fetched, pageSize, chunk, observer);
        },
        // TXID continuity, page size and the checksum chain, before any page is written.
        loaded: (file) => { version = version.apply(file); },
        page: (pgno, page) => sums.page(pgno, page),
        progress: () => options.onProgress?.(i, plan.length, counters.bytesRead, bytesTotal),
      });
      await out.truncate(file.header.commit * file.header.pageSize);
      sums.truncate(file.header.commit);
      options.onProgress?.(i + 1, plan.length, counters.bytesRead, bytesTotal);
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
    return { txid: version.txid, pageSize: version.pageSize, commit: version.commit, files: plan, bytesRead: counters.bytesRead, checksum };
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
