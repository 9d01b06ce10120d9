/**
 * Reading one whole LTX file with bounded memory, for the tools that must see every byte of
 * it (restore, verify): a file up to `wholeFileBytes` is read whole and verified by the
 * loader (lib/replica/ltx-loader.ts); a larger one has its header and index loaded, then its
 * frames read in ranges of up to `rangeBytes`, one read ahead of the range being handled,
 * each frame fed to the file checksum (docs/formats.md §2.4) as the caller decodes it, and
 * the bytes after the last frame read last to finish the checksum.
 */
import { formatChecksum } from '../../ltx/checksum.js';
import { LtxvfsError } from '../../ltx/errors.js';
import { FILE_CHECKSUM_SIZE, FileChecksumBuilder } from '../../ltx/file-checksum.js';
import { decodeIndexedFrameInto } from '../../ltx/frame.js';
import { HEADER_SIZE } from '../../ltx/header.js';
import type { ReplicaClient, LtxFileInfo } from '../storage/types.js';
import type { LtxFile } from '../replica/page-index.js';
import { loadLtxFile } from '../replica/ltx-loader.js';
import type { ReadCounters } from '../replica/read-counters.js';
import { mergeRanges } from '../read/range-merge.js';
import type { FetchedRange, FrameObserver, ReceivePair } from '../hydrate/pass.js';

/** How {@link streamLtxFile} reads and where the pages go. */
export interface LtxStreamOptions {
  /** Files up to this many bytes are read whole. */
  wholeFileBytes: number;
  /** Largest range read of a larger file, bytes (a frame larger than this is read alone). */
  rangeBytes: number;
  /** The two receive buffers the range reads take in turn (lib/hydrate/pass.ts). */
  receive: ReceivePair;
  /** Storage reads, added to as each read returns. */
  counters: ReadCounters;
  /**
   * Handle one range: decode every frame of it (`fetched.bytes`, entries `fetched.range.entries`)
   * and pass each to `observer.observe` in order — or, for a file read whole, take its pages
   * (`fetched.peeked`, every entry, already verified; `observer` is then not to be called).
   * lib/hydrate/pass.ts `writeRange` does exactly this. Default: decode each frame into a
   * scratch page and nothing more (for a caller that only needs `page` and the checksum).
   */
  range?: (fetched: FetchedRange, observer: FrameObserver) => Promise<unknown>;
  /** Page `pgno` of the file, decompressed (every page, in file order; `page` may be reused after the call). */
  page?: (pgno: number, page: Uint8Array) => void;
  /** Called with the file once its header and index are loaded, before any range (it may throw to stop there). */
  loaded?: (file: LtxFile) => void;
  /** Called after each range of a file read in ranges is handled. */
  progress?: () => void;
}

/**
 * Read every byte of the LTX file `info` through `options.range` (see {@link LtxStreamOptions})
 * and verify its file checksum.
 * @returns the file (header, trailer, page index).
 * @throws LtxvfsError from loading the file (`LTXVFS_ERR_CORRUPT`, `LTXVFS_ERR_CHECKSUM` for a
 *   file read whole); whatever `options.loaded` throws; `LTXVFS_ERR_CORRUPT` for a frame that does not decode (from
 *   `options.range`); `LTXVFS_ERR_CHECKSUM` naming the key when the file checksum does not
 *   match; the storage client's errors.
 */
export async function streamLtxFile(client: ReplicaClient, info: LtxFileInfo, options: LtxStreamOptions): Promise<LtxFile> {
  const loaded = await loadLtxFile(client, info, options.counters, undefined, options.wholeFileBytes);
  const file = loaded.file;
  options.loaded?.(file);
  const entries = file.entries;
  const all = Array.from({ length: entries.length }, (_, n) => n);
  const range = options.range ?? decodeOnly(file.header.pageSize);
  if (loaded.pages !== undefined) {
    // Read whole and verified by the loader.
    await range({ range: { file, fileId: '', entries: all, start: 0, end: 0 }, peeked: loaded.pages }, { wants: () => false, observe: () => undefined });
    if (options.page !== undefined) for (let n = 0; n < all.length; n++) options.page(entries.pgnos[n], loaded.pages[n]);
    return file;
  }
  const key = file.info.key;
  const crc = new FileChecksumBuilder().header(loaded.head!);
  const observer: FrameObserver = {
    wants: () => false, // the ranges are back to back: no frame is read over
    observe: (_file, entry, frame, page) => {
      crc.frame(frame, page, key);
      options.page?.(entries.pgnos[entry], page);
    },
  };
  const read = async (start: number, end: number): Promise<Uint8Array> => {
    const bytes = await client.readRange(key, start, end - start, options.receive.next(end - start));
    options.counters.readRequests++;
    options.counters.bytesRead += bytes.byteLength;
    return bytes;
  };
  const ranges = mergeRanges(all, entries, { maxGapBytes: 0, maxRangeBytes: options.rangeBytes });
  let pending = ranges.length > 0 ? read(ranges[0].start, ranges[0].end) : undefined;
  for (let r = 0; r < ranges.length; r++) {
    const bytes = await pending!;
    pending = r + 1 < ranges.length ? read(ranges[r + 1].start, ranges[r + 1].end) : undefined;
    // Awaited in its turn: a failure while this range is handled must not surface as unhandled.
    pending?.catch(() => undefined);
    await range({ range: { file, fileId: '', ...ranges[r] }, bytes }, observer);
    options.progress?.();
  }
  // The terminator, the index and the trailer, up to the stored file checksum.
  const tailStart = entries.length === 0 ? HEADER_SIZE : entries.end(entries.length - 1);
  crc.tail(await read(tailStart, file.info.size - FILE_CHECKSUM_SIZE));
  const computed = crc.digest();
  if (computed !== file.trailer.fileChecksum) {
    throw new LtxvfsError('LTXVFS_ERR_CHECKSUM',
      `${key}: file checksum mismatch: stored ${formatChecksum(file.trailer.fileChecksum)}, computed ${formatChecksum(computed)}`, { key });
  }
  return file;
}

/** The default `range` of {@link streamLtxFile}: each frame decoded into one scratch page and handed to the observer. */
function decodeOnly(pageSize: number): (fetched: FetchedRange, observer: FrameObserver) => Promise<void> {
  const scratch = new Uint8Array(pageSize);
  return async ({ range, bytes }, observer) => {
    if (bytes === undefined) return; // read whole: decoded and verified by the loader
    const { file, entries, start } = range;
    const { pgnos, offsets, sizes } = file.entries;
    for (const n of entries) {
      const frame = bytes.subarray(offsets[n] - start, offsets[n] - start + sizes[n]);
      decodeIndexedFrameInto(frame, pgnos[n], scratch, `${file.info.key}: page ${pgnos[n]} at offset ${offsets[n]}`);
      observer.observe(file, n, frame, scratch);
    }
  };
}
