/**
 * LZ4 for LTX pages (docs/formats.md §1.5): raw blocks (v3-block frames) and standard LZ4
 * frames (v3-frame frames). The only module that uses the LZ4 library.
 *
 * Library: lz4-wasm-nodejs (lz4_flex compiled to wasm), chosen in docs/lz4.md: it decodes
 * 1.5–3.5× faster than lz4js on 4 KiB pages and rejects malformed blocks (truncated
 * input, match offsets before the start, wrong output size) where lz4js silently returns
 * zero-filled garbage. Its module is called through ./lz4-wasm.ts rather than its glue,
 * so that pages can be decoded into buffers the caller owns (the page cache's slots, a
 * fetcher's scratch page) with no array allocated per page.
 *
 * The LZ4 frame structure is parsed here rather than by the library, because a v3-frame
 * page has no length prefix: only the frame's own layout says where the next page
 * header starts (docs/formats.md §1.5).
 */
import { LtxvfsError } from './errors.js';
import { loadLz4Wasm } from './lz4-wasm.js';
import { xxh32 } from './xxh32.js';

const lz4 = loadLz4Wasm();

/**
 * Worst-case LZ4 block size for `n` input bytes: `n + floor(n/255) + 16` (pierrec/lz4
 * `CompressBlockBound`, the buffer ltx compresses into; 4128 for 4 KiB). No valid block
 * of one page is longer.
 */
export function lz4BlockBound(n: number): number {
  return n + Math.floor(n / 255) + 16;
}

/**
 * Throw `LTXVFS_ERR_CORRUPT` with message `<where>: <msg>`, or `<where>: LZ4 frame at
 * offset N: <msg>` when `frameOffset` ≥ 0. A plain function rather than a per-call
 * closure: the decoders run once per page read.
 */
function corrupt(where: string, frameOffset: number, msg: string): never {
  const at = frameOffset < 0 ? where : `${where}: LZ4 frame at offset ${frameOffset}`;
  throw new LtxvfsError('LTXVFS_ERR_CORRUPT', `${at}: ${msg}`, { key: where });
}

/** Decode `src` (one raw block) to exactly `size` bytes at `dst[dstOffset]` via the library; errors as {@link corrupt}. */
function decodeBlock(src: Uint8Array, size: number, dst: Uint8Array, dstOffset: number, where: string, frameOffset: number): void {
  let result: number | string;
  try {
    result = lz4.decompressInto(src, size, dst, dstOffset);
  } catch (err) {
    // A trap inside the wasm (RuntimeError); lz4_flex reports malformed input as a message instead.
    result = String(err);
  }
  // lz4_flex says e.g. "the offset to copy is not contained in the decompressed buffer".
  if (typeof result === 'string') corrupt(where, frameOffset, `LZ4 block of ${src.length} bytes invalid (${result})`);
  // The library already refuses any other size; this keeps the guarantee local.
  if (result !== size) corrupt(where, frameOffset, `LZ4 block of ${src.length} bytes decodes to ${result} bytes, expected ${size}`);
}

/**
 * Decode one raw LZ4 block (the payload of a v3-block frame, docs/formats.md §1.5) to a new
 * array of exactly `pageSize` bytes. `where` prefixes error messages.
 * @throws LtxvfsError `LTXVFS_ERR_CORRUPT` if `src` is longer than the LZ4 bound of a
 *   page, is malformed, or does not decode to exactly `pageSize` bytes.
 */
export function decompressBlock(src: Uint8Array, pageSize: number, where: string): Uint8Array {
  const page = new Uint8Array(pageSize);
  decompressBlockInto(src, page, where);
  return page;
}

/**
 * Decode one raw LZ4 block into `dst`, which must be exactly one page long: the same
 * checks as {@link decompressBlock}, no allocation. On failure `dst` holds garbage.
 * @throws LtxvfsError `LTXVFS_ERR_CORRUPT` as {@link decompressBlock}.
 */
export function decompressBlockInto(src: Uint8Array, dst: Uint8Array, where: string): void {
  const pageSize = dst.length;
  if (src.length > lz4BlockBound(pageSize)) {
    corrupt(where, -1, `LZ4 block of ${src.length} bytes invalid (exceeds the LZ4 bound ${lz4BlockBound(pageSize)} of a ${pageSize}-byte page)`);
  }
  decodeBlock(src, pageSize, dst, 0, where, -1);
}

/**
 * Compress `page` as one raw LZ4 block (the v3-block payload). Incompressible input
 * becomes a literal-only block longer than the page, which the format allows (§1.5).
 * Returns a new array. Never throws.
 */
export function compressBlock(page: Uint8Array): Uint8Array {
  return lz4.compress(page);
}

const FRAME_MAGIC = 0x184d2204;
const FLG_VERSION_MASK = 0xc0;
const FLG_VERSION_01 = 0x40;
const FLG_BLOCK_INDEPENDENT = 0x20;
const FLG_BLOCK_CHECKSUM = 0x10;
const FLG_CONTENT_SIZE = 0x08;
const FLG_CONTENT_CHECKSUM = 0x04;
const FLG_RESERVED = 0x02;
const FLG_DICT_ID = 0x01;
const BD_RESERVED = 0x8f;
const BLOCK_UNCOMPRESSED = 0x80000000;
/** Block maximum size by BD bits 6–4; codes 0–3 are reserved. */
const BLOCK_MAX_SIZES: Record<number, number> = { 4: 0x10000, 5: 0x40000, 6: 0x100000, 7: 0x400000 };

const u32le = (b: Uint8Array, i: number): number => (b[i] | (b[i + 1] << 8) | (b[i + 2] << 16) | (b[i + 3] << 24)) >>> 0;

/**
 * Decode the standard LZ4 frame that starts at `src[offset]` (a v3-frame page, docs/formats.md
 * §1.5) into `dst` (exactly `pageSize` bytes; a new page when not given), and report
 * where the frame ends. Parses the
 * frame descriptor (FLG/BD; content size, which must equal pageSize; no dictionary),
 * checks the header checksum byte, reads blocks (`u32 LE` size, high bit = stored
 * uncompressed, optional block checksum) up to the zero EndMark, then verifies the
 * content checksum when FLG says there is one. Blocks other than the first must be
 * independent (pierrec/lz4 writes one independent 64 KB block per page).
 * Returns `{ data, end }`: the page (`dst` when given) and the offset just past the
 * frame. On failure `dst` holds garbage.
 * @throws LtxvfsError `LTXVFS_ERR_CORRUPT` on a bad magic, version, reserved bit, block
 *   size, header/block/content checksum, malformed block, output ≠ pageSize bytes, or a
 *   frame running past the end of `src` (truncated); `LTXVFS_ERR_UNSUPPORTED` for a
 *   dictionary id or linked (dependent) blocks.
 */
export function decompressFrame(
  src: Uint8Array,
  offset: number,
  pageSize: number,
  where: string,
  dst?: Uint8Array,
): { data: Uint8Array; end: number } {
  const fail = (msg: string): never => corrupt(where, offset, msg);
  const need = (p: number, n: number, what: string): void => {
    if (p + n > src.length) fail(`truncated: ${what} needs bytes up to ${p + n}, data ends at ${src.length}`);
  };
  need(offset, 7, 'frame header');
  if (u32le(src, offset) !== FRAME_MAGIC) fail(`magic 0x${u32le(src, offset).toString(16)} invalid (expected 0x184d2204)`);
  const flg = src[offset + 4];
  const bd = src[offset + 5];
  if ((flg & FLG_VERSION_MASK) !== FLG_VERSION_01) fail(`FLG 0x${flg.toString(16)} invalid (version must be 01)`);
  if ((flg & FLG_RESERVED) !== 0 || (bd & BD_RESERVED) !== 0) fail(`FLG/BD 0x${flg.toString(16)}/0x${bd.toString(16)} invalid (reserved bits set)`);
  const maxBlockSize = BLOCK_MAX_SIZES[(bd >>> 4) & 7] ?? fail(`BD 0x${bd.toString(16)} invalid (block size code ${(bd >>> 4) & 7})`);
  if ((flg & FLG_DICT_ID) !== 0) {
    throw new LtxvfsError('LTXVFS_ERR_UNSUPPORTED', `${where}: LZ4 frame at offset ${offset}: dictionary id not supported`, { key: where });
  }
  let p = offset + 6;
  if ((flg & FLG_CONTENT_SIZE) !== 0) {
    need(p, 9, 'content size');
    const lo = u32le(src, p);
    const hi = u32le(src, p + 4);
    if (hi !== 0 || lo !== pageSize) fail(`content size ${hi * 2 ** 32 + lo} invalid (expected the page size ${pageSize})`);
    p += 8;
  }
  const headerChecksum = (xxh32(src, offset + 4, p) >>> 8) & 0xff;
  if (src[p] !== headerChecksum) fail(`header checksum 0x${src[p].toString(16)} invalid (computed 0x${headerChecksum.toString(16)})`);
  p += 1;

  const blockChecksums = (flg & FLG_BLOCK_CHECKSUM) !== 0;
  if (dst !== undefined && dst.length !== pageSize) {
    throw new LtxvfsError('LTXVFS_ERR_USAGE', `${where}: LZ4 frame at offset ${offset}: output of ${dst.length} bytes for a ${pageSize}-byte page`, { key: where });
  }
  const data = dst ?? new Uint8Array(pageSize);
  let produced = 0;
  for (;;) {
    need(p, 4, 'block size');
    const word = u32le(src, p);
    p += 4;
    if (word === 0) break; // EndMark
    const n = word & ~BLOCK_UNCOMPRESSED;
    const stored = (word & BLOCK_UNCOMPRESSED) !== 0;
    if (n > maxBlockSize) fail(`block of ${n} bytes invalid (exceeds the frame's maximum ${maxBlockSize})`);
    // A full-sized block decodes to maxBlockSize bytes; the last one to what remains.
    const want = Math.min(maxBlockSize, pageSize - produced);
    if (stored ? n > pageSize - produced : want === 0) fail(`blocks decode to more than ${pageSize} bytes`);
    if (!stored && n > lz4BlockBound(want)) fail(`block of ${n} bytes invalid (exceeds the LZ4 bound ${lz4BlockBound(want)} of its ${want} bytes)`);
    need(p, n + (blockChecksums ? 4 : 0), `block of ${n} bytes`);
    if (blockChecksums && xxh32(src, p, p + n) !== u32le(src, p + n)) fail(`block checksum mismatch at offset ${p + n}`);
    if (stored) {
      data.set(src.subarray(p, p + n), produced);
      produced += n;
    } else {
      if (produced > 0 && (flg & FLG_BLOCK_INDEPENDENT) === 0) {
        throw new LtxvfsError('LTXVFS_ERR_UNSUPPORTED', `${where}: LZ4 frame at offset ${offset}: linked (dependent) blocks not supported`, {
          key: where,
        });
      }
      decodeBlock(src.subarray(p, p + n), want, data, produced, where, offset);
      produced += want;
    }
    p += n + (blockChecksums ? 4 : 0);
  }
  if (produced !== pageSize) fail(`decodes to ${produced} bytes, expected ${pageSize}`);
  if ((flg & FLG_CONTENT_CHECKSUM) !== 0) {
    need(p, 4, 'content checksum');
    if (xxh32(data) !== u32le(src, p)) fail(`content checksum mismatch at offset ${p}`);
    p += 4;
  }
  return { data, end: p };
}

/**
 * Encode `page` as one standard LZ4 frame the way pierrec/lz4 v4 does for ltx ≤ v0.5.1
 * (docs/formats.md §1.5): FLG 0x64 (version 01, independent blocks, content checksum), BD
 * 0x40 (64 KB blocks), one block — stored uncompressed (high bit) when compression does
 * not shrink it — the EndMark and the XXH32 content checksum. For writing v3-frame files
 * (tests, compatibility); pages must be ≤ 65536 bytes. Returns a new array.
 * @throws LtxvfsError `LTXVFS_ERR_USAGE` if `page` is longer than 65536 bytes.
 */
export function compressFrame(page: Uint8Array): Uint8Array {
  if (page.length > 0x10000) {
    throw new LtxvfsError('LTXVFS_ERR_USAGE', `LZ4 frame: page of ${page.length} bytes exceeds one 64 KB block`);
  }
  const block = compressBlock(page);
  const stored = block.length >= page.length;
  const payload = stored ? page : block;
  const out = new Uint8Array(7 + 4 + payload.length + 4 + 4);
  const view = new DataView(out.buffer);
  view.setUint32(0, FRAME_MAGIC, true);
  out[4] = FLG_VERSION_01 | FLG_BLOCK_INDEPENDENT | FLG_CONTENT_CHECKSUM;
  out[5] = 0x40;
  out[6] = (xxh32(out, 4, 6) >>> 8) & 0xff;
  view.setUint32(7, (payload.length | (stored ? BLOCK_UNCOMPRESSED : 0)) >>> 0, true);
  out.set(payload, 11);
  view.setUint32(11 + payload.length, 0, true);
  view.setUint32(15 + payload.length, xxh32(page), true);
  return out;
}
