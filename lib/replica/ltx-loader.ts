/**
 * Reads what the page index needs of one LTX file: its header and its page index
 * (docs/formats.md §1.8). A file no larger than the whole-file bound (default
 * {@link DEFAULT_WHOLE_FILE_BYTES}) comes back whole in one request, is decoded
 * completely and verified against its file checksum (§2.4) before any of its pages is
 * served, and its pages are handed back so they need no second read. A larger file costs
 * two parallel range reads (header, tail), and a third only when its index is larger
 * than the tail; it is verified in the background as it is used (lib/read/verifier.ts).
 */
import { decodeHeader, HEADER_SIZE, type LtxHeader } from '../../ltx/header.js';
import { readPageIndexFromTail, type FoundPageIndex } from '../../ltx/page-index.js';
import { decodeLtxFile } from '../../ltx/decoder.js';
import { LtxvfsError } from '../../ltx/errors.js';
import { formatTXID } from '../../ltx/filename.js';
import type { LtxFileInfo, ReplicaClient } from '../storage/types.js';
import { makeLtxFile, type LtxFile } from './page-index.js';
import type { ReadCounters } from '../read/types.js';
import { markVerifiedWhole, rememberHeader } from '../read/verifier.js';

/** Bytes read from the end of a file to find its page index; Litestream uses the same (docs/formats.md §1.8). */
export const TAIL_BYTES = 32 * 1024;

/**
 * Files up to this size are read whole and verified at load: 2 MiB. Measured (docs/usage.md,
 * "Verification"): reading, decoding and checking a 2 MiB file costs ~10 ms of CPU and one
 * request; most L0 files (one transaction) and compacted L1 files of a busy database are
 * far smaller, so only snapshots and large levels take the background path.
 */
export const DEFAULT_WHOLE_FILE_BYTES = 2 * 1024 * 1024;

/** A loaded LTX file, with its decompressed pages (in index order) when it was read whole. */
export interface LoadedLtxFile {
  file: LtxFile;
  pages: Uint8Array[] | undefined;
}

/**
 * Load the header and page index of `info`.
 * @param run wraps each storage request (e.g. a p-queue's `add`) to bound concurrency.
 * @param wholeFileBytes files up to this size (at least {@link TAIL_BYTES}) are read whole and verified.
 * @throws LtxvfsError `LTXVFS_ERR_CORRUPT` / `LTXVFS_ERR_CHECKSUM` naming the key for a
 *   malformed file or one whose header TXIDs differ from its name; storage errors as the client throws them.
 */
export async function loadLtxFile(
  client: ReplicaClient,
  info: LtxFileInfo,
  counters: ReadCounters,
  run: <T>(task: () => Promise<T>) => Promise<T> = (task) => task(),
  wholeFileBytes = DEFAULT_WHOLE_FILE_BYTES,
): Promise<LoadedLtxFile> {
  const key = info.key;
  const read = async (offset: number, length: number): Promise<Uint8Array> => {
    const bytes = await run(() => client.readRange(key, offset, length));
    counters.readRequests++;
    counters.bytesRead += bytes.byteLength;
    return bytes;
  };
  if (info.size <= Math.max(wholeFileBytes, TAIL_BYTES)) {
    const bytes = await read(0, info.size);
    const decoded = decodeLtxFile(bytes, key);
    checkName(info, decoded.header);
    counters.pagesFetched += decoded.pages.length;
    const file = makeLtxFile(info, decoded.header, decoded.trailer, decoded.index);
    markVerifiedWhole(file);
    return { file, pages: decoded.pages.map((p) => p.data) };
  }
  const tailOffset = info.size - TAIL_BYTES;
  const [headerBytes, tail] = await Promise.all([read(0, HEADER_SIZE), read(tailOffset, TAIL_BYTES)]);
  const header = decodeHeader(headerBytes, key);
  checkName(info, header);
  let found = readPageIndexFromTail(tail, tailOffset, info.size, key);
  if ('needOffset' in found) {
    // needOffset is where the index starts (validated to lie after the header), so the
    // second read holds all of it and cannot ask again.
    const more = await read(found.needOffset, info.size - found.needOffset);
    found = readPageIndexFromTail(more, found.needOffset, info.size, key) as FoundPageIndex;
  }
  const file = makeLtxFile(info, header, found.trailer, found.entries);
  rememberHeader(file, headerBytes);
  return { file, pages: undefined };
}

function checkName(info: LtxFileInfo, header: LtxHeader): void {
  if (header.minTXID !== info.minTXID || header.maxTXID !== info.maxTXID) {
    throw new LtxvfsError('LTXVFS_ERR_CORRUPT',
      `${info.key}: header TXIDs ${formatTXID(header.minTXID)}-${formatTXID(header.maxTXID)} do not match the file name`, { key: info.key });
  }
}
