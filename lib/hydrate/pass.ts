/**
 * The I/O of one range of a hydration pass (lib/hydrate/index.ts, "How the file is
 * written"): its frames read with one range read into a buffer the caller reuses (or taken
 * from pages the reader holds decoded), then checked like every page read, decoded a chunk
 * at a time into another reused buffer, and written at `(pgno − 1) × pageSize` with one
 * positional write per run of consecutive pages in a chunk. The two steps are apart so that
 * a worker has its next range read in flight while it decodes and writes the last one.
 */
import { write } from 'node:fs';
import { promisify } from 'node:util';
import { decodeIndexedFrameInto } from '../../ltx/frame.js';
import type { HydrationRange } from './plan.js';
import type { HydrationSource, HydrationVerification } from './types.js';

const writeAsync = promisify(write);

/** What {@link writeRange} feeds the frames it decodes to: the reader's verification (lib/read/verifier.ts), or restore's file checksum. */
export type FrameObserver = Pick<HydrationVerification, 'wants' | 'observe'>;

/** Counters of storage reads, added to as each read returns (before its frames are checked). */
export interface ReadCounters {
  bytesRead: number;
  readRequests: number;
}

/** Pages decoded at a time before they are written: 1 MiB of 4 KiB pages. */
export const WRITE_CHUNK_BYTES = 1024 * 1024;

/**
 * The two receive buffers of one worker of a pass, taken in turn: its next range read lands
 * in one while it decodes and writes from the other. A buffer is `rangeBytes` once a range
 * of at least half that came (a catch-up's small ranges get buffers of their size); with
 * the chunk of decoded pages, a pass of `concurrency` workers holds at most
 * `concurrency × (2 × rangeBytes + WRITE_CHUNK_BYTES)` bytes (68 MiB by default), unless a
 * single frame is larger than a range.
 */
export class ReceivePair {
  readonly #rangeBytes: number;
  readonly #buffers: (Uint8Array | undefined)[] = [undefined, undefined];
  #turn = 0;

  /** @param rangeBytes the largest range read of the pass (bytes). */
  constructor(rangeBytes: number) {
    this.#rangeBytes = rangeBytes;
  }

  /** The next buffer in turn, at least `length` bytes. */
  next(length: number): Uint8Array {
    const slot = this.#turn;
    this.#turn ^= 1;
    const held = this.#buffers[slot];
    if (held !== undefined && held.length >= length) return held;
    const size = length >= this.#rangeBytes / 2 ? Math.max(length, this.#rangeBytes) : length;
    return (this.#buffers[slot] = new Uint8Array(size));
  }
}

/** A range whose frames have arrived: the range read's bytes, or the pages the reader held. */
export interface FetchedRange {
  range: HydrationRange;
  /** The bytes `[range.start, range.end)`, when they were read. */
  bytes?: Uint8Array;
  /** Every page of the range, in order, when `source.peek` had them all. */
  peeked?: Uint8Array[];
}

/**
 * The frames of `range`: from `source.peek` when it holds every page, else one range read
 * of `[range.start, range.end)` into `receive` (when large enough), counted in `counters`.
 * @throws the storage client's error.
 */
export async function fetchRange(source: HydrationSource, range: HydrationRange, counters: ReadCounters, receive: Uint8Array | undefined): Promise<FetchedRange> {
  const { file } = range;
  const peeked: Uint8Array[] = [];
  for (const n of range.entries) {
    const page = source.peek?.({ file, entry: n });
    if (page === undefined) break;
    peeked.push(page);
  }
  if (peeked.length === range.entries.length) return { range, peeked };
  const bytes = await source.client.readRange(file.info.key, range.start, range.end - range.start, receive);
  counters.readRequests++;
  counters.bytesRead += bytes.byteLength;
  return { range, bytes };
}

/**
 * Write the pages of a fetched range into the database file `fd` at `(pgno − 1) × pageSize`:
 * each frame checked by `decodeIndexedFrameInto` (pgno, flags, sizes, LZ4 output length) and
 * decoded into `chunk` (a whole number of pages, reused: no page is allocated on its own — a
 * pass of 50,000 pages was 200 MiB of garbage), each run of consecutive pages in it one
 * positional write.
 *
 * With `verification`, every frame of the range's bytes is fed to it in file order as it is
 * decoded: the written ones, and those the range reads over (superseded frames between
 * two wanted ones) when the verification still wants them, decoded into `scratch` (one page).
 * @returns the number of pages written.
 * @throws LtxvfsError `LTXVFS_ERR_CORRUPT` naming the key, page and offset of a frame that
 *   does not decode (pages before it may have been written; the range is not recorded
 *   done); the file system's error.
 */
export async function writeRange(fd: number, fetched: FetchedRange, pageSize: number, chunk: Uint8Array, verification?: FrameObserver, scratch?: Uint8Array): Promise<number> {
  const { range, bytes, peeked } = fetched;
  const { file, entries } = range;
  const { pgnos, offsets, sizes } = file.entries;
  const key = file.info.key;
  // Frame `n` of the range's bytes.
  const frameAt = (n: number): Uint8Array => bytes!.subarray(offsets[n] - range.start, offsets[n] - range.start + sizes[n]);
  const perChunk = Math.max(1, Math.floor(chunk.length / pageSize));
  for (let i = 0; i < entries.length; i += perChunk) {
    const count = Math.min(perChunk, entries.length - i);
    for (let k = 0; k < count; k++) {
      const n = entries[i + k];
      const dst = chunk.subarray(k * pageSize, (k + 1) * pageSize);
      if (peeked !== undefined) dst.set(peeked[i + k]);
      else decodeIndexedFrameInto(frameAt(n), pgnos[n], dst, `${key}: page ${pgnos[n]} at offset ${offsets[n]}`);
    }
    // Runs of consecutive pgnos: one write each, all sent at once.
    const writes: Promise<void>[] = [];
    for (let a = 0; a < count;) {
      let b = a + 1;
      while (b < count && pgnos[entries[i + b]] === pgnos[entries[i + b - 1]] + 1) b++;
      writes.push(writeAll(fd, chunk.subarray(a * pageSize, b * pageSize), (pgnos[entries[i + a]] - 1) * pageSize));
      a = b;
    }
    try {
      // While the file system writes them (libuv's pool), the checksum takes the chunk's frames.
      if (verification !== undefined && peeked === undefined) feedChunk(verification, fetched, frameAt, i, count, chunk, pageSize, scratch);
    } finally {
      await Promise.allSettled(writes);
    }
    await Promise.all(writes);
  }
  return entries.length;
}

/**
 * Feed `verification` the frames of `entries[i, i + count)` of a fetched range, decoded in
 * `chunk`, in file order: before each, the frames the range read over since the last
 * wanted one, decoded into `scratch` when the verification wants them. A read-over frame
 * that does not decode is left out (the verification reads it itself, and fails the file).
 */
function feedChunk(verification: FrameObserver, fetched: FetchedRange, frameAt: (n: number) => Uint8Array, i: number, count: number, chunk: Uint8Array, pageSize: number, scratch: Uint8Array | undefined): void {
  const { file, entries } = fetched.range;
  const { pgnos, offsets } = file.entries;
  for (let k = 0; k < count; k++) {
    const n = entries[i + k];
    for (let m = i + k === 0 ? n : entries[i + k - 1] + 1; m < n; m++) {
      if (scratch === undefined || !verification.wants(file, m)) continue;
      const over = frameAt(m);
      try {
        decodeIndexedFrameInto(over, pgnos[m], scratch, `${file.info.key}: page ${pgnos[m]} at offset ${offsets[m]}`);
      } catch {
        continue;
      }
      verification.observe(file, m, over, scratch);
    }
    verification.observe(file, n, frameAt(n), chunk.subarray(k * pageSize, (k + 1) * pageSize));
  }
}

/** Write all of `data` at `position` (continuing after a short write). */
async function writeAll(fd: number, data: Uint8Array, position: number): Promise<void> {
  let off = 0;
  while (off < data.length) {
    const { bytesWritten } = await writeAsync(fd, data, off, data.length - off, position + off);
    if (bytesWritten === 0) throw new Error('write returned 0 bytes');
    off += bytesWritten;
  }
}
