/**
 * Reads what the page index needs of one LTX file: its header and its page index
 * (docs/formats.md §1.8). A file no larger than the whole-file bound (default
 * {@link DEFAULT_WHOLE_FILE_BYTES}) comes back whole in one request, is decoded
 * completely and verified against its file checksum (§2.4) before any of its pages is
 * served, and its pages are handed back so they need no second read. A larger file costs
 * two parallel range reads, one round trip (issue 15 item 3): the head ({@link HEAD_BYTES},
 * the header and the first frames — in a snapshot page 1, which SQLite reads first of
 * all), and a tail sized from the file's size in the listing ({@link tailBytesFor}) so
 * that it holds the page index; only an index larger than that estimate costs a third
 * read, of the part of the index the tail missed. The frames wholly inside the head are
 * decoded and checked, and handed back like a whole file's pages. The file is verified in
 * the background as it is used (lib/read/verifier.ts).
 */
import { decodeHeader, HEADER_SIZE, type LtxHeader } from '../../ltx/header.js';
import { readPageIndexFromTail, type FoundPageIndex, type PageIndexTable } from '../../ltx/page-index.js';
import { decodeIndexedFrame } from '../../ltx/frame.js';
import { decodeLtxFile } from '../../ltx/decoder.js';
import { LtxvfsError } from '../../ltx/errors.js';
import { formatTXID } from '../../ltx/filename.js';
import type { LtxFileInfo, ReplicaClient } from '../storage/types.js';
import { makeLtxFile, type LtxFile } from './page-index.js';
import type { ReadCounters } from './read-counters.js';
import { markVerifiedWhole, rememberHeader } from './file-checks.js';

/** Fewest bytes read from the end of a file to find its page index; Litestream reads this much (docs/formats.md §1.8). */
export const TAIL_BYTES = 32 * 1024;

/**
 * Bytes read from the start of a file read in ranges: 16 KiB, the header and the first
 * frames (page 1 of a snapshot, and the pages after it up to 16 KiB, with 4 KiB pages).
 * The same request would carry 100 bytes; 16 KiB more costs nothing a client waits for,
 * and saves the first query its first round trip.
 */
export const HEAD_BYTES = 16 * 1024;

/**
 * Bytes of file per byte of tail read ({@link tailBytesFor}): 256. A page index entry
 * takes about 8 bytes (three varints) and a 4 KiB page about 1–4 KiB once compressed, so
 * the index of a snapshot is about 1/350 of the file (measured: a 35 MB table of orders,
 * a 24 MB snapshot, 68 KB of index, 1/358); 1/256 holds it with room, at a cost in bytes
 * far below one more round trip. Only pages that compress to almost nothing (an index
 * over 1/256 of the file) need the third read.
 */
export const TAIL_FRACTION = 256;

/**
 * Bytes to read from the end of a file of `size` bytes to hold its page index in one
 * read: `size / {@link TAIL_FRACTION}`, at least {@link TAIL_BYTES}, at most the file.
 */
export function tailBytesFor(size: number): number {
  return Math.min(size, Math.max(TAIL_BYTES, Math.ceil(size / TAIL_FRACTION)));
}

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
  /**
   * Of a file read in ranges, the pages whose frames lay in the head read, by index entry
   * (the file is not verified yet: serving them is a use, lib/read/verifier.ts).
   */
  headPages?: Map<number, Uint8Array>;
  /** The head read itself (file bytes from offset 0), when `headPages` is set: their frames, for the verifier. */
  head?: Uint8Array;
}

/**
 * Load the header and page index of `info`.
 * @param run wraps each storage request (e.g. a p-queue's `add`) to bound concurrency.
 * @param wholeFileBytes files up to this size (at least {@link TAIL_BYTES}) are read whole and verified.
 * @param tailBytes bytes read from the end of a larger file for its page index; default
 *   {@link tailBytesFor} its size (tests pass {@link TAIL_BYTES} to see a third read).
 * @param headBytes bytes read from the start of a larger file: the header and the frames
 *   that fit, handed back decoded; default {@link HEAD_BYTES} (`HEADER_SIZE`: the header only).
 * @throws LtxvfsError `LTXVFS_ERR_CORRUPT` / `LTXVFS_ERR_CHECKSUM` naming the key for a
 *   malformed file or one whose header TXIDs differ from its name; storage errors as the client throws them.
 */
export async function loadLtxFile(
  client: ReplicaClient,
  info: LtxFileInfo,
  counters: ReadCounters,
  run: <T>(task: () => Promise<T>) => Promise<T> = (task) => task(),
  wholeFileBytes = DEFAULT_WHOLE_FILE_BYTES,
  tailBytes = tailBytesFor(info.size),
  headBytes = HEAD_BYTES,
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
  const tailOffset = info.size - tailBytes;
  const [head, tail] = await Promise.all([read(0, Math.max(HEADER_SIZE, Math.min(headBytes, tailOffset))), read(tailOffset, tailBytes)]);
  const headerBytes = head.subarray(0, HEADER_SIZE);
  const header = decodeHeader(headerBytes, key);
  checkName(info, header);
  let found = readPageIndexFromTail(tail, tailOffset, info.size, key);
  if ('needOffset' in found) {
    // needOffset is where the index starts (validated to lie after the header): read what
    // the tail missed, so the two hold all of it and cannot ask again.
    const more = await read(found.needOffset, tailOffset - found.needOffset);
    const whole = new Uint8Array(info.size - found.needOffset);
    whole.set(more);
    whole.set(tail, more.byteLength);
    found = readPageIndexFromTail(whole, found.needOffset, info.size, key) as FoundPageIndex;
  }
  const file = makeLtxFile(info, header, found.trailer, found.entries);
  rememberHeader(file, headerBytes);
  const pages = framesIn(head, found.entries, header.pageSize, key);
  counters.pagesFetched += pages.size;
  return { file, pages: undefined, headPages: pages, head };
}

/**
 * The pages whose frames lie wholly inside `head` (the file's first bytes), decoded and
 * checked, by index entry.
 * @throws LtxvfsError `LTXVFS_ERR_CORRUPT` naming `key` for a bad frame.
 */
function framesIn(head: Uint8Array, entries: PageIndexTable, pageSize: number, key: string): Map<number, Uint8Array> {
  const pages = new Map<number, Uint8Array>();
  // Frames lie in ascending offset (checkPageIndexLayout): the first past the head ends the walk.
  for (let n = 0; n < entries.length && entries.end(n) <= head.byteLength; n++) {
    const offset = entries.offsets[n];
    pages.set(n, decodeIndexedFrame(head.subarray(offset, entries.end(n)), entries.pgnos[n], pageSize, key));
  }
  return pages;
}

function checkName(info: LtxFileInfo, header: LtxHeader): void {
  if (header.minTXID !== info.minTXID || header.maxTXID !== info.maxTXID) {
    throw new LtxvfsError('LTXVFS_ERR_CORRUPT',
      `${info.key}: header TXIDs ${formatTXID(header.minTXID)}-${formatTXID(header.maxTXID)} do not match the file name`, { key: info.key });
  }
}
