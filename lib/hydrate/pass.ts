/**
 * The I/O of one range of a hydration pass (lib/hydrate/index.ts, "How the file is
 * written"): its frames read with one range read (or taken from pages the reader holds
 * decoded), checked like every page read, and written at `(pgno − 1) × pageSize` with one
 * positional write per run of consecutive pages.
 */
import { write, writev } from 'node:fs';
import { promisify } from 'node:util';
import { decodeIndexedFrame } from '../../ltx/frame.js';
import type { HydrationRange } from './plan.js';
import type { HydrationSource } from './types.js';

const writevAsync = promisify(writev);
const writeAsync = promisify(write);

/** A decoded page and its number. */
export interface HydrationPage {
  pgno: number;
  data: Uint8Array;
}

/** Counters of storage reads, added to as each read returns (before its frames are checked). */
export interface ReadCounters {
  bytesRead: number;
  readRequests: number;
}

/**
 * The pages of `range`: from `source.peek` when it has them all, else one range read of
 * `[range.start, range.end)` (counted in `counters`), each frame checked by
 * `decodeIndexedFrame` (pgno, flags, sizes, LZ4 output length).
 * @returns the pages in the range's order (ascending pgno within the file).
 * @throws the storage client's error, or LtxvfsError `LTXVFS_ERR_CORRUPT` naming the key,
 *   page and offset of a frame that does not decode.
 */
export async function readRangePages(source: HydrationSource, range: HydrationRange, pageSize: number, counters: ReadCounters): Promise<HydrationPage[]> {
  const { file } = range;
  const peeked = range.entries.map((n) => source.peek?.({ file, entry: n }));
  let bytes: Uint8Array | undefined;
  if (peeked.some((p) => p === undefined)) {
    bytes = await source.client.readRange(file.info.key, range.start, range.end - range.start);
    counters.readRequests++;
    counters.bytesRead += bytes.byteLength;
  }
  const pages: HydrationPage[] = [];
  for (let i = 0; i < range.entries.length; i++) {
    const e = file.entries[range.entries[i]];
    const data = peeked[i] ?? decodeIndexedFrame(bytes!.subarray(e.offset - range.start, e.offset - range.start + e.size), e.pgno, pageSize,
      `${file.info.key}: page ${e.pgno} at offset ${e.offset}`);
    pages.push({ pgno: e.pgno, data });
  }
  return pages;
}

/**
 * Write `pages` (ascending pgno) into the database file `fd` at `(pgno − 1) × pageSize`:
 * each run of consecutive pages (up to 1,024) is one positional write.
 * @throws the file system's error.
 */
export async function writePages(fd: number, pages: readonly HydrationPage[], pageSize: number): Promise<void> {
  for (let i = 0; i < pages.length;) {
    let j = i + 1;
    while (j < pages.length && pages[j].pgno === pages[j - 1].pgno + 1 && j - i < 1024) j++;
    await writeAll(fd, pages.slice(i, j).map((p) => p.data), (pages[i].pgno - 1) * pageSize);
    i = j;
  }
}

/** Write all of `buffers` at `position` (writev, continuing after a short write). */
async function writeAll(fd: number, buffers: Uint8Array[], position: number): Promise<void> {
  const total = buffers.reduce((n, b) => n + b.byteLength, 0);
  const { bytesWritten } = await writevAsync(fd, buffers, position);
  if (bytesWritten === total) return;
  const rest = Buffer.concat(buffers).subarray(bytesWritten);
  let off = 0;
  while (off < rest.length) {
    const { bytesWritten: n } = await writeAsync(fd, rest, off, rest.length - off, position + bytesWritten + off);
    if (n === 0) throw new Error('write returned 0 bytes');
    off += n;
  }
}
