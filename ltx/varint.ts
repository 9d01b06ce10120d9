/**
 * Unsigned LEB128 varints exactly as Go's `binary.AppendUvarint` / `binary.Uvarint`
 * (docs/formats.md §1.6): 7 data bits per byte, least significant group first, high bit =
 * continuation, at most 10 bytes for a u64. Written minimally; read like Go, which also
 * accepts non-minimal forms. Values are JS numbers, so anything above 2^53 − 1 is refused.
 */
import { LtxvfsError } from './errors.js';

/** Longest varint of a u64 (Go's `binary.MaxVarintLen64`). */
export const MAX_VARINT_LEN64 = 10;

function checkEncodable(value: number): void {
  if (!Number.isSafeInteger(value) || value < 0) {
    throw new LtxvfsError('LTXVFS_ERR_USAGE', `uvarint: value ${value} invalid (must be a safe non-negative integer)`);
  }
}

/**
 * Number of bytes {@link encodeUvarint} writes for `value` (1…8 for safe integers).
 * @throws LtxvfsError `LTXVFS_ERR_USAGE` if `value` is not a non-negative safe integer.
 */
export function uvarintSize(value: number): number {
  checkEncodable(value);
  let n = 1;
  for (let v = value; v >= 0x80; v = Math.floor(v / 0x80)) n++;
  return n;
}

/**
 * Write `value` as a minimal uvarint into `buf` at `offset`; returns the offset after
 * it. The caller sizes `buf` (see {@link uvarintSize}).
 * @throws LtxvfsError `LTXVFS_ERR_USAGE` if `value` is not a non-negative safe integer.
 */
export function putUvarint(buf: Uint8Array, offset: number, value: number): number {
  checkEncodable(value);
  let v = value;
  // Division rather than `>>> 7`: values may exceed 32 bits.
  while (v >= 0x80) {
    buf[offset++] = (v % 0x80) | 0x80;
    v = Math.floor(v / 0x80);
  }
  buf[offset++] = v;
  return offset;
}

/**
 * Append `value` as a minimal uvarint to the byte list `dst` (like Go's
 * `binary.AppendUvarint`). Vectors: 0→`00`, 127→`7f`, 128→`80 01`, 300→`ac 02`.
 * @throws LtxvfsError `LTXVFS_ERR_USAGE` if `value` is not a non-negative safe integer.
 */
export function appendUvarint(dst: number[], value: number): void {
  checkEncodable(value);
  let v = value;
  while (v >= 0x80) {
    dst.push((v % 0x80) | 0x80);
    v = Math.floor(v / 0x80);
  }
  dst.push(v);
}

/**
 * `value` as a minimal uvarint in a new array of 1…8 bytes.
 * @throws LtxvfsError `LTXVFS_ERR_USAGE` if `value` is not a non-negative safe integer.
 */
export function encodeUvarint(value: number): Uint8Array {
  const out = new Uint8Array(uvarintSize(value));
  putUvarint(out, 0, value);
  return out;
}

/**
 * Read one uvarint from `buf` at `offset` following Go's `binary.Uvarint`. Returns
 * `[value, bytesRead]`. `where` prefixes error messages (e.g. the file name);
 * `baseOffset` is added to offsets in messages when `buf` is a slice of a larger file.
 * @throws LtxvfsError `LTXVFS_ERR_CORRUPT` if the buffer ends inside the varint
 *   (truncated), it overflows 64 bits (an 11th byte, or a 10th byte > 1), or the value
 *   exceeds `Number.MAX_SAFE_INTEGER`.
 */
export function decodeUvarint(
  buf: Uint8Array,
  offset: number,
  where = 'uvarint',
  baseOffset = 0,
): [value: number, bytesRead: number] {
  let value = 0;
  let scale = 1;
  for (let i = 0; i < MAX_VARINT_LEN64; i++) {
    if (offset + i >= buf.length) {
      throw new LtxvfsError('LTXVFS_ERR_CORRUPT', `${where}: varint at offset ${baseOffset + offset} truncated after ${i} bytes`);
    }
    const b = buf[offset + i];
    if (b < 0x80) {
      if (i === MAX_VARINT_LEN64 - 1 && b > 1) break;
      value += b * scale;
      if (value > Number.MAX_SAFE_INTEGER) {
        throw new LtxvfsError('LTXVFS_ERR_CORRUPT', `${where}: varint at offset ${baseOffset + offset} exceeds 2^53-1`);
      }
      return [value, i + 1];
    }
    value += (b & 0x7f) * scale;
    scale *= 0x80;
  }
  throw new LtxvfsError('LTXVFS_ERR_CORRUPT', `${where}: varint at offset ${baseOffset + offset} overflows 64 bits`);
}
