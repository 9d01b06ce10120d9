/**
 * LTX v3 encoder (FORMATS.md §1, §2.4), enforcing the encoder column of §1.9 like
 * superfly/ltx encoder.go, plus the snapshot rules the Go encoder leaves to readers, so
 * that whatever it writes the decoder accepts. Writes v3-block frames (ltx ≥ v0.5.2,
 * readable by Litestream ≥ 0.5.16) unless asked for v3-frame.
 */
import { CHECKSUM_FLAG, databaseChecksum, formatChecksum } from './checksum.js';
import { Crc64 } from './crc64.js';
import { LtxvfsError } from './errors.js';
import type { LtxPage } from './decoder.js';
import { encodePageFrame, PAGE_FLAG_SIZE_PREFIX, PAGE_HEADER_SIZE, SIZE_PREFIX_SIZE, type FrameVariant } from './frame.js';
import { encodeHeader, hasNoChecksum, isSnapshot, validateHeader, type LtxHeader } from './header.js';
import { checkPagesAgainstHeader, encodePageIndex, type PageIndexEntry } from './page-index.js';
import { encodeTrailer, postApplyProblem, TRAILER_SIZE } from './trailer.js';

/** Input of {@link encodeLtxFile}. */
export interface EncodeLtxInput {
  /** The header to write; must satisfy every header rule of §1.9. */
  header: LtxHeader;
  /** Pages in strictly ascending pgno, each exactly `header.pageSize` bytes. */
  pages: readonly LtxPage[];
  /** Database checksum after the file (§2.3): 0 with NoChecksum, else bit 63 set. */
  postApplyChecksum: bigint;
  /**
   * Frame layout (§1.5): `'block'` (default, what ltx ≥ v0.5.2 writes) or `'frame'`
   * (ltx v0.5.0–v0.5.1), or a function choosing per page (mixed files, for tests).
   */
  variant?: FrameVariant | ((pgno: number) => FrameVariant);
}

/**
 * Encode one LTX v3 file: header, page frames, terminator, page index (§1.6) and
 * trailer with the §2.4 file checksum. Enforces: the header rules; pages strictly
 * ascending, integer pgno ≥ 1, ≤ commit, never the lock page (§7.2), each pageSize
 * bytes; a snapshot (minTXID 1) holds every page 1…commit but the lock page; the
 * post-apply checksum is 0 with NoChecksum and has bit 63 otherwise; commit 0 requires
 * post-apply `8000000000000000` (so, as in superfly/ltx, a NoChecksum file cannot
 * delete the database); a snapshot with checksums has post-apply = database checksum of
 * its pages. Returns the file bytes.
 * @throws LtxvfsError `LTXVFS_ERR_USAGE` for any rule the input breaks (message names
 *   the TXID range and the rule); `LTXVFS_ERR_CHECKSUM` if a snapshot's post-apply
 *   checksum differs from its pages' database checksum.
 */
export function encodeLtxFile(input: EncodeLtxInput): Uint8Array {
  const { header, pages, postApplyChecksum: post } = input;
  const where = `encode TXID ${header.minTXID}-${header.maxTXID}`;
  const fail = (msg: string): never => {
    throw new LtxvfsError('LTXVFS_ERR_USAGE', `${where}: ${msg}`);
  };
  validateHeader(header, where);
  let prev = 0;
  for (const { pgno, data } of pages) {
    if (!Number.isInteger(pgno) || pgno < 1 || pgno > 0xffffffff) fail(`page ${pgno} invalid (must be an integer in 1…4294967295)`);
    if (pgno <= prev) fail(`page ${pgno} invalid (pages must ascend; the previous page is ${prev})`);
    if (data.length !== header.pageSize) fail(`page ${pgno} is ${data.length} bytes, expected the page size ${header.pageSize}`);
    prev = pgno;
  }
  checkPagesAgainstHeader(
    header,
    pages.map((p) => p.pgno),
    where,
    'LTXVFS_ERR_USAGE',
  );
  const postProblem = postApplyProblem(header, post);
  if (postProblem !== undefined) fail(`trailer: ${postProblem}`);
  if (header.commit === 0 && post !== CHECKSUM_FLAG) {
    fail(`trailer: post-apply checksum must be 8000000000000000 when commit is 0 (impossible with the NoChecksum flag)`);
  }
  if (isSnapshot(header) && !hasNoChecksum(header)) {
    const byPgno = new Map(pages.map((p) => [p.pgno, p.data]));
    const sum = databaseChecksum(header.pageSize, header.commit, (pgno) => byPgno.get(pgno) as Uint8Array);
    if (sum !== post) {
      throw new LtxvfsError(
        'LTXVFS_ERR_CHECKSUM',
        `${where}: post-apply checksum ${formatChecksum(post)} is not the snapshot's database checksum ${formatChecksum(sum)}`,
      );
    }
  }

  const headerBytes = encodeHeader(header);
  const crc = new Crc64().update(headerBytes);
  const variantOf = typeof input.variant === 'function' ? input.variant : () => (input.variant as FrameVariant | undefined) ?? 'block';
  const frames: Uint8Array[] = [];
  const entries: PageIndexEntry[] = [];
  let offset = headerBytes.length;
  for (const { pgno, data } of pages) {
    const frame = encodePageFrame(pgno, data, variantOf(pgno));
    const hasPrefix = ((frame[4] << 8) | frame[5]) === PAGE_FLAG_SIZE_PREFIX;
    crc.update(frame, 0, PAGE_HEADER_SIZE + (hasPrefix ? SIZE_PREFIX_SIZE : 0)).update(data);
    frames.push(frame);
    entries.push({ pgno, offset, size: frame.length });
    offset += frame.length;
  }
  const terminator = new Uint8Array(PAGE_HEADER_SIZE);
  const index = encodePageIndex(entries);
  const trailer = encodeTrailer({ postApplyChecksum: post, fileChecksum: 0n });
  crc.update(terminator).update(index).update(trailer, 0, 8);
  new DataView(trailer.buffer).setBigUint64(8, crc.digest() | CHECKSUM_FLAG);

  const out = new Uint8Array(offset + terminator.length + index.length + TRAILER_SIZE);
  out.set(headerBytes, 0);
  let p = headerBytes.length;
  for (const frame of frames) {
    out.set(frame, p);
    p += frame.length;
  }
  p += terminator.length; // already zero
  out.set(index, p);
  out.set(trailer, p + index.length);
  return out;
}
