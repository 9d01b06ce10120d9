/**
 * The 100-byte LTX header (docs/formats.md §1.3, §1.4) and its validation rules (§1.9), after
 * superfly/ltx ltx.go `Header.Validate` / `UnmarshalBinary`. All integers big-endian.
 *
 * u64 fields become JS numbers; a value above 2^53 − 1 cannot be represented and is
 * refused rather than rounded (TXIDs, WAL fields, timestamp). Only the checksum stays a
 * bigint. The 20 reserved bytes at offset 80 are written as zero and never checked,
 * like upstream.
 */
import { CHECKSUM_FLAG, formatChecksum } from './checksum.js';
import { LtxvfsError, type LtxvfsErrorCode } from './errors.js';

/** Size of the header in bytes. */
export const HEADER_SIZE = 100;

/** Header flag: database checksums are not tracked; pre- and post-apply are 0 (§1.4). */
export const HEADER_FLAG_NO_CHECKSUM = 2;

/** Header flag of the legacy v1 layout (whole page block LZ4-framed); invalid in v3 (§1.4). */
export const HEADER_FLAG_COMPRESS_LZ4 = 1;

/** ASCII `LTX1`, the magic of every generation (§1.1). */
const MAGIC = [0x4c, 0x54, 0x58, 0x31];

/** A decoded LTX header. Sizes in bytes, times in ms since the Unix epoch. */
export interface LtxHeader {
  /** Header flags; only {@link HEADER_FLAG_NO_CHECKSUM} is valid. */
  flags: number;
  /** Database page size in bytes: a power of two in 512…65536. */
  pageSize: number;
  /** Database size in pages after applying the file; 0 = deleted database. */
  commit: number;
  /** First TXID the file covers (≥ 1; 1 makes it a snapshot). */
  minTXID: number;
  /** Last TXID the file covers (≥ minTXID). */
  maxTXID: number;
  /** Creation time, ms since the Unix epoch (i64; no rule, may be 0). */
  timestamp: number;
  /** Database checksum before the file (§2.3); 0 for snapshots and with NoChecksum. */
  preApplyChecksum: bigint;
  /** Byte offset in the source WAL, 0 if not from a WAL. */
  walOffset: number;
  /** WAL bytes covered; 0 if walOffset is 0. */
  walSize: number;
  /** WAL header salt-1 (u32), 0 unless from a WAL. */
  walSalt1: number;
  /** WAL header salt-2 (u32), 0 unless from a WAL. */
  walSalt2: number;
  /** Id of the node that wrote the file, 0 = unset. */
  nodeID: number;
}

/** True if the file is a snapshot: `minTXID == 1` (§1.3). It must then hold every page. */
export function isSnapshot(h: Pick<LtxHeader, 'minTXID'>): boolean {
  return h.minTXID === 1;
}

/** True if the NoChecksum flag is set: pre- and post-apply checksums are 0 (§1.4). */
export function hasNoChecksum(h: Pick<LtxHeader, 'flags'>): boolean {
  return (h.flags & HEADER_FLAG_NO_CHECKSUM) !== 0;
}

/** True if `pageSize` is a power of two in 512…65536. */
export function isValidPageSize(pageSize: number): boolean {
  return Number.isInteger(pageSize) && pageSize >= 512 && pageSize <= 65536 && (pageSize & (pageSize - 1)) === 0;
}

const isU32 = (v: number): boolean => Number.isInteger(v) && v >= 0 && v <= 0xffffffff;
const isU63 = (v: number): boolean => Number.isSafeInteger(v) && v >= 0;

/**
 * The first header rule of docs/formats.md §1.9 that `h` breaks, as "field value invalid
 * (reason)", or undefined if it is valid. Also checks that every number fits its field,
 * which matters for headers built by callers.
 */
export function headerProblem(h: LtxHeader): string | undefined {
  if (!isU32(h.flags) || (h.flags & ~HEADER_FLAG_NO_CHECKSUM) !== 0) {
    return `flags 0x${hex(h.flags)} invalid (only 0x2 allowed)`;
  }
  if (!isValidPageSize(h.pageSize)) return `page size ${h.pageSize} invalid (must be a power of two in 512…65536)`;
  if (!isU32(h.commit)) return `commit ${h.commit} invalid (must be a u32)`;
  if (!isU63(h.minTXID) || h.minTXID === 0) return `minTXID ${h.minTXID} invalid (must be 1…2^53-1)`;
  if (!isU63(h.maxTXID) || h.maxTXID === 0) return `maxTXID ${h.maxTXID} invalid (must be 1…2^53-1)`;
  if (h.minTXID > h.maxTXID) return `TXID range ${h.minTXID}-${h.maxTXID} invalid (minTXID > maxTXID)`;
  if (!Number.isSafeInteger(h.timestamp)) return `timestamp ${h.timestamp} invalid (must be a safe integer)`;
  if (!isU63(h.walOffset)) return `walOffset ${h.walOffset} invalid (must be 0…2^53-1)`;
  if (!isU63(h.walSize)) return `walSize ${h.walSize} invalid (must be 0…2^53-1)`;
  if (!isU32(h.walSalt1) || !isU32(h.walSalt2)) return `WAL salts ${h.walSalt1}/${h.walSalt2} invalid (must be u32)`;
  if ((h.walSalt1 !== 0 || h.walSalt2 !== 0) && h.walOffset === 0) {
    return `walOffset 0 invalid (WAL salts are set, so walOffset is required)`;
  }
  if (h.walOffset === 0 && h.walSize !== 0) return `walSize ${h.walSize} invalid (walOffset is 0)`;
  if (!isU63(h.nodeID)) return `nodeID ${h.nodeID} invalid (must be 0…2^53-1)`;
  const pre = h.preApplyChecksum;
  if (typeof pre !== 'bigint' || pre < 0n || pre >= 1n << 64n) return `pre-apply checksum ${String(pre)} invalid (must be a u64 bigint)`;
  if (isSnapshot(h)) {
    if (pre !== 0n) return `pre-apply checksum ${formatChecksum(pre)} invalid (must be zero on snapshots)`;
  } else if (hasNoChecksum(h)) {
    if (pre !== 0n) return `pre-apply checksum ${formatChecksum(pre)} invalid (not allowed with the NoChecksum flag)`;
  } else if (pre === 0n) {
    return `pre-apply checksum 0 invalid (required on non-snapshot files with checksums)`;
  } else if ((pre & CHECKSUM_FLAG) === 0n) {
    return `pre-apply checksum ${formatChecksum(pre)} invalid (bit 63 must be set)`;
  }
  return undefined;
}

/**
 * Throw unless `h` satisfies every header rule of docs/formats.md §1.9.
 * @throws LtxvfsError with `code` (default `LTXVFS_ERR_USAGE`, for headers built by a
 *   caller), message `<where>: header: <problem>`.
 */
export function validateHeader(h: LtxHeader, where: string, code: LtxvfsErrorCode = 'LTXVFS_ERR_USAGE'): void {
  const problem = headerProblem(h);
  if (problem !== undefined) throw new LtxvfsError(code, `${where}: header: ${problem}`, { key: where });
}

/** A u32 (the flags field) as 8 hex digits. */
function hex(v: number): string {
  return (v >>> 0).toString(16).padStart(8, '0');
}

/**
 * Decode and validate the header in `buf[0, 100)` (docs/formats.md §1.3, rules of §1.9).
 * `where` (usually the file name) prefixes error messages.
 * @throws LtxvfsError `LTXVFS_ERR_CORRUPT` if `buf` is shorter than 100 bytes
 *   (truncated), the magic is not `LTX1`, a u64 field exceeds 2^53 − 1 (or an i64 is
 *   negative where it must not be), or any header rule fails;
 *   `LTXVFS_ERR_UNSUPPORTED` if flag 0x1 is set (the legacy v1 compressed layout) or
 *   the nodeID exceeds 2^53 − 1.
 */
export function decodeHeader(buf: Uint8Array, where: string): LtxHeader {
  const fail = (msg: string): never => {
    throw new LtxvfsError('LTXVFS_ERR_CORRUPT', `${where}: header: ${msg}`, { key: where });
  };
  if (buf.length < HEADER_SIZE) fail(`truncated: ${buf.length} bytes, need ${HEADER_SIZE}`);
  if (MAGIC.some((b, i) => buf[i] !== b)) {
    fail(`magic ${Array.from(buf.subarray(0, 4), (b) => b.toString(16).padStart(2, '0')).join('')} invalid (expected "LTX1")`);
  }
  const view = new DataView(buf.buffer, buf.byteOffset, HEADER_SIZE);
  const u64 = (offset: number, name: string): number => {
    const v = view.getBigUint64(offset);
    return v > BigInt(Number.MAX_SAFE_INTEGER) ? fail(`${name} ${v} exceeds 2^53-1`) : Number(v);
  };
  // A node id is an opaque u64 that LiteFS may draw at random, so one above 2^53 - 1 is
  // a valid file that this number-based API cannot represent, not a corrupt one.
  const nodeID = view.getBigUint64(72);
  if (nodeID > BigInt(Number.MAX_SAFE_INTEGER)) {
    throw new LtxvfsError('LTXVFS_ERR_UNSUPPORTED', `${where}: header: nodeID ${nodeID} exceeds 2^53-1, not supported`, { key: where });
  }
  const i64 = (offset: number, name: string): number => {
    const v = view.getBigInt64(offset);
    if (v > BigInt(Number.MAX_SAFE_INTEGER) || v < BigInt(Number.MIN_SAFE_INTEGER)) fail(`${name} ${v} outside ±2^53-1`);
    return Number(v);
  };
  const flags = view.getUint32(4);
  if ((flags & HEADER_FLAG_COMPRESS_LZ4) !== 0 && (flags & ~(HEADER_FLAG_COMPRESS_LZ4 | HEADER_FLAG_NO_CHECKSUM)) === 0) {
    throw new LtxvfsError(
      'LTXVFS_ERR_UNSUPPORTED',
      `${where}: header: flags 0x${hex(flags)}: flag 0x1 (CompressLZ4) belongs to the legacy LTX v1 layout, which is not supported (docs/formats.md §1.2)`,
      { key: where },
    );
  }
  const h: LtxHeader = {
    flags,
    pageSize: view.getUint32(8),
    commit: view.getUint32(12),
    minTXID: u64(16, 'minTXID'),
    maxTXID: u64(24, 'maxTXID'),
    timestamp: i64(32, 'timestamp'),
    preApplyChecksum: view.getBigUint64(40),
    walOffset: i64(48, 'walOffset'),
    walSize: i64(56, 'walSize'),
    walSalt1: view.getUint32(64),
    walSalt2: view.getUint32(68),
    nodeID: Number(nodeID),
  };
  validateHeader(h, where, 'LTXVFS_ERR_CORRUPT');
  return h;
}

/**
 * Encode `h` as the 100-byte header (reserved bytes zero).
 * @throws LtxvfsError `LTXVFS_ERR_USAGE` if `h` breaks a header rule of §1.9 (message
 *   prefixed `header:`), so an invalid header is never written.
 */
export function encodeHeader(h: LtxHeader): Uint8Array {
  validateHeader(h, 'encode');
  const buf = new Uint8Array(HEADER_SIZE);
  const view = new DataView(buf.buffer);
  buf.set(MAGIC, 0);
  view.setUint32(4, h.flags);
  view.setUint32(8, h.pageSize);
  view.setUint32(12, h.commit);
  view.setBigUint64(16, BigInt(h.minTXID));
  view.setBigUint64(24, BigInt(h.maxTXID));
  view.setBigInt64(32, BigInt(h.timestamp));
  view.setBigUint64(40, h.preApplyChecksum);
  view.setBigUint64(48, BigInt(h.walOffset));
  view.setBigUint64(56, BigInt(h.walSize));
  view.setUint32(64, h.walSalt1);
  view.setUint32(68, h.walSalt2);
  view.setBigUint64(72, BigInt(h.nodeID));
  return buf;
}
