/**
 * The 16-byte LTX trailer (docs/formats.md §1.7) and its rules (§1.9, after superfly/ltx
 * ltx.go `Trailer.Validate`, which the Go decoder itself never calls).
 */
import { CHECKSUM_FLAG, formatChecksum } from './checksum.js';
import { LtxvfsError, type LtxvfsErrorCode } from './errors.js';
import { hasNoChecksum, type LtxHeader } from './header.js';

/** Size of the trailer in bytes: postApplyChecksum u64, fileChecksum u64. */
export const TRAILER_SIZE = 16;

/** A decoded trailer. Both values are u64 bigints. */
export interface LtxTrailer {
  /** Database checksum after applying the file (§2.3); 0 with NoChecksum. */
  postApplyChecksum: bigint;
  /** CRC of the logical file (§2.4), bit 63 set. */
  fileChecksum: bigint;
}

/**
 * Read the trailer at `buf[offset, offset + 16)`; `offset` defaults to the last 16
 * bytes. No rule is checked here (see {@link trailerProblem}).
 * @throws LtxvfsError `LTXVFS_ERR_CORRUPT` if fewer than 16 bytes are there (truncated).
 */
export function decodeTrailer(buf: Uint8Array, where: string, offset = buf.length - TRAILER_SIZE): LtxTrailer {
  if (offset < 0 || offset + TRAILER_SIZE > buf.length) {
    throw new LtxvfsError('LTXVFS_ERR_CORRUPT', `${where}: trailer truncated: ${buf.length} bytes available, need ${TRAILER_SIZE}`, {
      key: where,
    });
  }
  const view = new DataView(buf.buffer, buf.byteOffset + offset, TRAILER_SIZE);
  return { postApplyChecksum: view.getBigUint64(0), fileChecksum: view.getBigUint64(8) };
}

/** The 16 trailer bytes of `t`. Values are written as given (u64, big-endian). */
export function encodeTrailer(t: LtxTrailer): Uint8Array {
  const buf = new Uint8Array(TRAILER_SIZE);
  const view = new DataView(buf.buffer);
  view.setBigUint64(0, t.postApplyChecksum);
  view.setBigUint64(8, t.fileChecksum);
  return buf;
}

/**
 * The first trailer rule of docs/formats.md §1.9 that the post-apply checksum breaks for
 * `header`, or undefined: NoChecksum ⇒ 0; otherwise non-zero with bit 63 set; and with
 * checksums on, commit 0 ⇒ exactly `CHECKSUM_FLAG` (the checksum of an empty database).
 */
export function postApplyProblem(header: Pick<LtxHeader, 'flags' | 'commit'>, post: bigint): string | undefined {
  const hex = formatChecksum(post);
  if (hasNoChecksum(header)) {
    return post === 0n ? undefined : `post-apply checksum ${hex} invalid (not allowed with the NoChecksum flag)`;
  }
  if (post === 0n) return 'post-apply checksum 0 invalid (required when checksums are tracked)';
  if ((post & CHECKSUM_FLAG) === 0n) return `post-apply checksum ${hex} invalid (bit 63 must be set)`;
  if (header.commit === 0 && post !== CHECKSUM_FLAG) {
    return `post-apply checksum ${hex} invalid (commit 0 requires 8000000000000000, the empty database)`;
  }
  return undefined;
}

/**
 * Throw unless the trailer's post-apply checksum fits `header` and the file checksum has
 * bit 63 set (docs/formats.md §1.7, §1.9).
 * @throws LtxvfsError with `code` (default `LTXVFS_ERR_CORRUPT`), message
 *   `<where>: trailer: <problem>`.
 */
export function validateTrailer(
  header: Pick<LtxHeader, 'flags' | 'commit'>,
  trailer: LtxTrailer,
  where: string,
  code: LtxvfsErrorCode = 'LTXVFS_ERR_CORRUPT',
): void {
  let problem = postApplyProblem(header, trailer.postApplyChecksum);
  if (problem === undefined && (trailer.fileChecksum & CHECKSUM_FLAG) === 0n) {
    problem = `file checksum ${formatChecksum(trailer.fileChecksum)} invalid (bit 63 must be set)`;
  }
  if (problem !== undefined) throw new LtxvfsError(code, `${where}: trailer: ${problem}`, { key: where });
}
