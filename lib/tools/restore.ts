/**
 * Restore: write the plain SQLite database of a replica's newest state (docs/formats.md
 * §4.4 "Applying a plan"). Every byte of every file of the plan is read and every frame
 * decoded, so each file checksum is verified (§2.4); where the files carry database
 * checksums the result is checked against the last post-apply checksum (§2.3). The output
 * appears atomically: written beside the target under a temporary name, synced, then renamed.
 *
 * Memory stays bounded whatever the database's size: a file up to `wholeFileBytes` is read
 * whole (lib/replica/ltx-loader.ts, verified there), a larger one in ranges of up to
 * `rangeBytes` read one ahead of the one being written, its frames decoded a 1 MiB chunk at a
 * time into a reused buffer and written with one positional write per run of pages
 * (lib/hydrate/pass.ts `writeRange`, as hydration writes), and fed to its file checksum in
 * file order. Before (2026-12-08), each file was read whole into memory and all its pages
 * decoded at once, then written one `write` per page: the bench's 261 MiB database took
 * 2.41–2.77 s and 614 MB of memory to restore.
 */
import { open, rename, rm, stat } from 'node:fs/promises';
import { dirname, basename, join } from 'node:path';
import { formatChecksum } from '../../ltx/checksum.js';
import { LtxvfsError } from '../../ltx/errors.js';
import { FILE_CHECKSUM_SIZE, FileChecksumBuilder } from '../../ltx/file-checksum.js';
import { formatTXID } from '../../ltx/filename.js';
import { HEADER_SIZE } from '../../ltx/header.js';
import type { ReplicaClient, LtxFileInfo } from '../storage/types.js';
import { computePlan, listReplica, type PlanTarget } from '../replica/plan.js';
import { PageIndex, type LtxFile } from '../replica/page-index.js';
import { DatabaseChecksumTracker } from '../replica/checksum-tracker.js';
import { DEFAULT_WHOLE_FILE_BYTES, loadLtxFile } from '../replica/ltx-loader.js';
import { newReadCounters } from '../replica/read-counters.js';
import { mergeRanges } from '../read/range-merge.js';
import { ReceivePair, WRITE_CHUNK_BYTES, writeRange, type FrameObserver } from '../hydrate/pass.js';

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
      const loaded = await loadLtxFile(client, info, counters, undefined, wholeFileBytes);
      const file = loaded.file;
      version = version.apply(file);
      const pageSize = file.header.pageSize;
      if (chunk.length === 0 || chunk.length % pageSize !== 0) chunk = new Uint8Array(Math.max(1, Math.floor(WRITE_CHUNK_BYTES / pageSize)) * pageSize);
      const all = Array.from({ length: file.entries.length }, (_, n) => n);
      if (loaded.pages !== undefined) {
        // Read whole and verified by the loader.
        await writeRange(out.fd, { range: { file, fileId: '', entries: all, start: 0, end: 0 }, peeked: loaded.pages }, pageSize, chunk);
        for (let n = 0; n < all.length; n++) sums.page(file.entries.pgnos[n], loaded.pages[n]);
      } else {
        await streamFile(client, out.fd, file, loaded.head!, all, { rangeBytes, chunk, receive, sums, counters, progress: () => options.onProgress?.(i, plan.length, counters.bytesRead, bytesTotal) });
      }
      await out.truncate(file.header.commit * pageSize);
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

/** What {@link streamFile} works with. */
interface StreamContext {
  rangeBytes: number;
  chunk: Uint8Array;
  receive: ReceivePair;
  sums: DatabaseChecksumTracker;
  counters: { bytesRead: number; readRequests: number };
  /** Called after each range is written. */
  progress: () => void;
}

/**
 * Write the pages of `file` (larger than the whole-file bound: its header and index loaded,
 * `head` its first bytes) into `fd`, reading its frames in ranges one ahead of the one
 * being written, and verify its file checksum from the frames as they are decoded, then
 * from the bytes after the last frame.
 * @throws LtxvfsError `LTXVFS_ERR_CORRUPT` for a frame that does not decode,
 *   `LTXVFS_ERR_CHECKSUM` naming the key when the file checksum does not match; storage errors.
 */
async function streamFile(client: ReplicaClient, fd: number, file: LtxFile, head: Uint8Array, all: number[], ctx: StreamContext): Promise<void> {
  const key = file.info.key;
  const entries = file.entries;
  const crc = new FileChecksumBuilder().header(head);
  const observer: FrameObserver = {
    wants: () => false, // the ranges are back to back: no frame is read over
    observe: (_file, entry, frame, page) => {
      crc.frame(frame, page, key);
      ctx.sums.page(entries.pgnos[entry], page);
    },
  };
  const read = async (start: number, end: number): Promise<Uint8Array> => {
    const bytes = await client.readRange(key, start, end - start, ctx.receive.next(end - start));
    ctx.counters.readRequests++;
    ctx.counters.bytesRead += bytes.byteLength;
    return bytes;
  };
  const ranges = mergeRanges(all, entries, { maxGapBytes: 0, maxRangeBytes: ctx.rangeBytes });
  let pending = ranges.length > 0 ? read(ranges[0].start, ranges[0].end) : undefined;
  for (let r = 0; r < ranges.length; r++) {
    const bytes = await pending!;
    pending = r + 1 < ranges.length ? read(ranges[r + 1].start, ranges[r + 1].end) : undefined;
    // Awaited in its turn: a failure while this range is written must not surface as unhandled.
    pending?.catch(() => undefined);
    await writeRange(fd, { range: { file, fileId: '', ...ranges[r] }, bytes }, file.header.pageSize, ctx.chunk, observer);
    ctx.progress();
  }
  // The terminator, the index and the trailer up to the stored file checksum.
  const tailStart = entries.length === 0 ? HEADER_SIZE : entries.end(entries.length - 1);
  const tailEnd = file.info.size - FILE_CHECKSUM_SIZE;
  crc.tail(await read(tailStart, tailEnd));
  const computed = crc.digest();
  if (computed !== file.trailer.fileChecksum) {
    throw new LtxvfsError('LTXVFS_ERR_CHECKSUM',
      `${key}: file checksum mismatch: stored ${formatChecksum(file.trailer.fileChecksum)}, computed ${formatChecksum(computed)}`, { key });
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
