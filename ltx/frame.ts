/**
 * LTX v3 page frames (docs/formats.md §1.5): a 6-byte page header `pgno u32, flags u16`,
 * then either (flags 0x1, v3-block, ltx ≥ v0.5.2) `size u32` + one raw LZ4 block, or
 * (flags 0, v3-frame, ltx v0.5.0–v0.5.1) one standard LZ4 frame with no length prefix.
 * Six zero bytes end the page block. Mirrors superfly/ltx `PageHeader` and the decoder's
 * `readPage`, with the output length check the Go decoder lacks (§1.9).
 */
import { LtxvfsError } from './errors.js';
import { compressBlock, compressFrame, decompressBlock, decompressBlockInto, decompressFrame } from './lz4.js';

/** Size of a page header: pgno u32 + flags u16. */
export const PAGE_HEADER_SIZE = 6;

/** Page flag: a u32 compressed size follows the header and the payload is a raw LZ4 block. */
export const PAGE_FLAG_SIZE_PREFIX = 1;

/** Bytes of the size prefix of a v3-block frame. */
export const SIZE_PREFIX_SIZE = 4;

/** How a page's LZ4 payload is stored: `'block'` (flags 0x1) or `'frame'` (flags 0). */
export type FrameVariant = 'block' | 'frame';

/** One decoded page frame. */
export interface DecodedPageFrame {
  /** Page number; 0 for the terminator that ends the page block. */
  pgno: number;
  /** Page flags: 1 (v3-block) or 0 (v3-frame, or the terminator). */
  flags: number;
  /** The decompressed page (pageSize bytes, a new array); empty for the terminator. */
  data: Uint8Array;
  /** Offset just past the frame in the buffer. */
  end: number;
}

const EMPTY = new Uint8Array(0);

const u32be = (b: Uint8Array, i: number): number => ((b[i] << 24) | (b[i + 1] << 16) | (b[i + 2] << 8) | b[i + 3]) >>> 0;

/** The frame variant a valid (non-terminator) page flags value stands for. */
export function frameVariantOf(flags: number): FrameVariant {
  return flags === PAGE_FLAG_SIZE_PREFIX ? 'block' : 'frame';
}

/**
 * Decode the page frame at `buf[offset]` while walking a whole file (docs/formats.md §1.5).
 * The terminator (pgno 0, flags 0) returns pgno 0 with empty data and `end` after its 6
 * bytes. Handles both v3 variants. `where` (the file name) prefixes error messages,
 * followed by `frame at offset N:`.
 * @throws LtxvfsError `LTXVFS_ERR_CORRUPT` if the header or payload runs past the end
 *   of `buf` (truncated), flags have bits other than 0x1, pgno is 0 with non-zero flags,
 *   or the payload is not a valid LZ4 block/frame of exactly `pageSize` bytes;
 *   `LTXVFS_ERR_UNSUPPORTED` for LZ4 frame features ltxvfs does not read (see
 *   {@link decompressFrame}).
 */
export function decodePageFrame(buf: Uint8Array, offset: number, pageSize: number, where: string): DecodedPageFrame {
  const at = `${where}: frame at offset ${offset}`;
  const fail = (msg: string): never => {
    throw new LtxvfsError('LTXVFS_ERR_CORRUPT', `${at}: ${msg}`, { key: where });
  };
  if (offset + PAGE_HEADER_SIZE > buf.length) {
    fail(`truncated: page header needs bytes up to ${offset + PAGE_HEADER_SIZE}, file ends at ${buf.length}`);
  }
  const pgno = u32be(buf, offset);
  const flags = (buf[offset + 4] << 8) | buf[offset + 5];
  const problem = pageHeaderProblem(pgno, flags);
  if (problem !== undefined) fail(problem);
  if (pgno === 0) return { pgno: 0, flags: 0, data: EMPTY, end: offset + PAGE_HEADER_SIZE };
  if (flags === 0) {
    const { data, end } = decompressFrame(buf, offset + PAGE_HEADER_SIZE, pageSize, at);
    return { pgno, flags, data, end };
  }
  const start = offset + PAGE_HEADER_SIZE + SIZE_PREFIX_SIZE;
  if (start > buf.length) fail(`truncated: size prefix needs bytes up to ${start}, file ends at ${buf.length}`);
  const size = u32be(buf, offset + PAGE_HEADER_SIZE);
  if (start + size > buf.length) fail(`truncated: LZ4 block of ${size} bytes needs bytes up to ${start + size}, file ends at ${buf.length}`);
  return { pgno, flags, data: decompressBlock(buf.subarray(start, start + size), pageSize, at), end: start + size };
}

/** Why a page header is invalid (flags outside 0x1, or pgno 0 with flags), or undefined. */
function pageHeaderProblem(pgno: number, flags: number): string | undefined {
  if ((flags & ~PAGE_FLAG_SIZE_PREFIX) !== 0) return `page flags 0x${flags.toString(16)} invalid (only 0x1 allowed)`;
  if (pgno === 0 && flags !== 0) return `page flags 0x${flags.toString(16)} invalid on the terminator (pgno 0 needs flags 0)`;
  return undefined;
}

/** Throw `LTXVFS_ERR_CORRUPT` with message `<where>: <msg>`, keyed by `where`. */
function corrupt(where: string, msg: string): never {
  throw new LtxvfsError('LTXVFS_ERR_CORRUPT', `${where}: ${msg}`, { key: where });
}

/**
 * Decode one frame fetched by a range read of exactly `[entry.offset, entry.offset +
 * entry.size)` of a page index entry (docs/formats.md §1.6, §1.8) — the hot path of random
 * page reads. Checks that the pgno equals `expectedPgno`, the flags are valid, and the
 * payload fills the frame exactly: `size prefix + 10 = frame.length` (v3-block) or the
 * LZ4 frame ends at `frame.length` (v3-frame); the output must be `pageSize` bytes.
 * Returns the page as a new array. `where` (e.g. `file.ltx: page 3 at offset 338`)
 * prefixes error messages.
 * @throws LtxvfsError `LTXVFS_ERR_CORRUPT` on any mismatch or malformed LZ4 data;
 *   `LTXVFS_ERR_UNSUPPORTED` as {@link decompressFrame}.
 */
export function decodeIndexedFrame(frame: Uint8Array, expectedPgno: number, pageSize: number, where: string): Uint8Array {
  const page = new Uint8Array(pageSize);
  decodeIndexedFrameInto(frame, expectedPgno, page, where);
  return page;
}

/**
 * {@link decodeIndexedFrame} into `dst`, whose length is the page size: no allocation
 * (the fetcher decodes every page of a range read into one scratch page). On failure
 * `dst` holds garbage.
 * @throws LtxvfsError as {@link decodeIndexedFrame}.
 */
export function decodeIndexedFrameInto(frame: Uint8Array, expectedPgno: number, dst: Uint8Array, where: string): void {
  // No closures here: this runs once per page read.
  if (frame.length < PAGE_HEADER_SIZE + SIZE_PREFIX_SIZE) {
    corrupt(where, `frame of ${frame.length} bytes too short (a page frame has at least ${PAGE_HEADER_SIZE + SIZE_PREFIX_SIZE})`);
  }
  const pgno = u32be(frame, 0);
  const flags = (frame[4] << 8) | frame[5];
  const problem = pageHeaderProblem(pgno, flags);
  if (problem !== undefined) corrupt(where, problem);
  if (pgno !== expectedPgno) corrupt(where, `frame holds page ${pgno}, the page index says ${expectedPgno}`);
  if (flags === 0) {
    const { end } = decompressFrame(frame, PAGE_HEADER_SIZE, dst.length, where, dst);
    if (end !== frame.length) corrupt(where, `LZ4 frame ends at byte ${end} of a ${frame.length}-byte index entry`);
    return;
  }
  const size = u32be(frame, PAGE_HEADER_SIZE);
  if (size + PAGE_HEADER_SIZE + SIZE_PREFIX_SIZE !== frame.length) {
    corrupt(where, `size prefix ${size} + 10 does not match the ${frame.length}-byte index entry`);
  }
  decompressBlockInto(frame.subarray(PAGE_HEADER_SIZE + SIZE_PREFIX_SIZE), dst, where);
}

/**
 * Encode one page frame (docs/formats.md §1.5): `pgno`, flags 0x1 + size + LZ4 block for
 * `'block'` (what ltx ≥ v0.5.2 writes), flags 0 + LZ4 frame for `'frame'`. Returns a
 * new array; its length is the frame size recorded in the page index. The caller checks
 * pgno and page length (see the encoder).
 */
export function encodePageFrame(pgno: number, page: Uint8Array, variant: FrameVariant = 'block'): Uint8Array {
  const payload = variant === 'block' ? compressBlock(page) : compressFrame(page);
  const prefix = variant === 'block' ? SIZE_PREFIX_SIZE : 0;
  const out = new Uint8Array(PAGE_HEADER_SIZE + prefix + payload.length);
  const view = new DataView(out.buffer);
  view.setUint32(0, pgno);
  view.setUint16(4, variant === 'block' ? PAGE_FLAG_SIZE_PREFIX : 0);
  if (prefix) view.setUint32(PAGE_HEADER_SIZE, payload.length);
  out.set(payload, PAGE_HEADER_SIZE + prefix);
  return out;
}
