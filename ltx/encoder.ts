/**
 * LTX v3 encoder (docs/formats.md §1, §2.4), enforcing the encoder column of §1.9 like
 * superfly/ltx encoder.go, plus the snapshot rules the Go encoder leaves to readers, so
 * that whatever it writes the decoder accepts. Writes v3-block frames (ltx ≥ v0.5.2,
 * readable by Litestream ≥ 0.5.16) unless asked for v3-frame.
 */
import { CHECKSUM_FLAG, formatChecksum, lockPgno, pageChecksum } from './checksum.js';
import { Crc64 } from './crc64.js';
import { LtxvfsError } from './errors.js';
import type { LtxPage } from './decoder.js';
import { encodePageFrame, PAGE_FLAG_SIZE_PREFIX, PAGE_HEADER_SIZE, SIZE_PREFIX_SIZE, type FrameVariant } from './frame.js';
import { encodeHeader, hasNoChecksum, isSnapshot, validateHeader, type LtxHeader } from './header.js';
import { encodePageIndex, type PageIndexEntry } from './page-index.js';
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
 * its pages. Returns the file bytes (all in memory: {@link LtxStreamEncoder} writes a
 * large file piece by piece).
 * @throws LtxvfsError `LTXVFS_ERR_USAGE` for any rule the input breaks (message names
 *   the TXID range and the rule); `LTXVFS_ERR_CHECKSUM` if a snapshot's post-apply
 *   checksum differs from its pages' database checksum.
 */
export function encodeLtxFile(input: EncodeLtxInput): Uint8Array {
  const encoder = new LtxStreamEncoder(input.header, { variant: input.variant });
  const parts = [encoder.headerBytes, ...input.pages.map(({ pgno, data }) => encoder.page(pgno, data)), encoder.finish(input.postApplyChecksum)];
  const out = new Uint8Array(parts.reduce((n, part) => n + part.length, 0));
  let p = 0;
  for (const part of parts) {
    out.set(part, p);
    p += part.length;
  }
  return out;
}

/** Options of {@link LtxStreamEncoder}. */
export interface LtxStreamEncoderOptions {
  /** Frame layout, as {@link EncodeLtxInput.variant}. Default `'block'`. */
  variant?: FrameVariant | ((pgno: number) => FrameVariant);
}

/**
 * An LTX v3 file encoded piece by piece, so that a file larger than memory can be
 * written as it is produced (`ltxvfs import`): write {@link headerBytes}, then the bytes
 * each {@link page} call returns, in order, then the bytes of {@link finish}. Memory held
 * is the page index (about 8 bytes per page) and, for a checksummed snapshot, nothing
 * more: its database checksum is accumulated page by page. The rules and errors are
 * those of {@link encodeLtxFile}, each raised as soon as it can be known: page rules by
 * `page`, the snapshot's completeness and the trailer rules by `finish`.
 */
export class LtxStreamEncoder {
  /** The 100 header bytes (§1.2): the start of the file. */
  readonly headerBytes: Uint8Array;
  readonly #header: LtxHeader;
  readonly #where: string;
  readonly #variantOf: (pgno: number) => FrameVariant;
  readonly #crc: Crc64;
  readonly #entries: PageIndexEntry[] = [];
  readonly #lock: number;
  readonly #checksummedSnapshot: boolean;
  #offset: number;
  #prev = 0;
  /** The first page a snapshot skipped (no page may be missing), once known. */
  #missing: number | undefined;
  #sum = 0n;
  #finished = false;

  /** @throws LtxvfsError `LTXVFS_ERR_USAGE` for a header that breaks a rule of §1.9. */
  constructor(header: LtxHeader, options: LtxStreamEncoderOptions = {}) {
    this.#where = `encode TXID ${header.minTXID}-${header.maxTXID}`;
    validateHeader(header, this.#where);
    this.#header = { ...header };
    const { variant } = options;
    this.#variantOf = typeof variant === 'function' ? variant : () => variant ?? 'block';
    this.headerBytes = encodeHeader(header);
    this.#crc = new Crc64().update(this.headerBytes);
    this.#offset = this.headerBytes.length;
    this.#lock = lockPgno(header.pageSize);
    this.#checksummedSnapshot = isSnapshot(header) && !hasNoChecksum(header);
  }

  #fail(msg: string): never {
    throw new LtxvfsError('LTXVFS_ERR_USAGE', `${this.#where}: ${msg}`);
  }

  /**
   * The frame of the next page (§1.5), to be written right after the previous piece.
   * `data` is read during the call only.
   * @throws LtxvfsError `LTXVFS_ERR_USAGE`: pgno not an integer in 1…2^32−1, not above
   *   the previous page's, beyond commit or the lock page; `data` not page size bytes;
   *   called after {@link finish}.
   */
  page(pgno: number, data: Uint8Array): Uint8Array {
    const { pageSize, commit } = this.#header;
    if (this.#finished) this.#fail(`page ${pgno} after the end of the file`);
    if (!Number.isInteger(pgno) || pgno < 1 || pgno > 0xffffffff) this.#fail(`page ${pgno} invalid (must be an integer in 1…4294967295)`);
    if (pgno <= this.#prev) this.#fail(`page ${pgno} invalid (pages must ascend; the previous page is ${this.#prev})`);
    if (data.length !== pageSize) this.#fail(`page ${pgno} is ${data.length} bytes, expected the page size ${pageSize}`);
    if (pgno > commit) this.#fail(`page ${pgno} invalid (beyond commit ${commit})`);
    if (pgno === this.#lock) this.#fail(`page ${pgno} invalid (the lock page for page size ${pageSize} is never stored)`);
    const expected = this.#nextPgno(this.#prev);
    if (this.#missing === undefined && pgno !== expected) this.#missing = expected;
    this.#prev = pgno;
    if (this.#checksummedSnapshot) this.#sum ^= pageChecksum(pgno, data);
    const frame = encodePageFrame(pgno, data, this.#variantOf(pgno));
    const hasPrefix = ((frame[4] << 8) | frame[5]) === PAGE_FLAG_SIZE_PREFIX;
    this.#crc.update(frame, 0, PAGE_HEADER_SIZE + (hasPrefix ? SIZE_PREFIX_SIZE : 0)).update(data);
    this.#entries.push({ pgno, offset: this.#offset, size: frame.length });
    this.#offset += frame.length;
    return frame;
  }

  /** The page after `pgno` that a snapshot must hold (the lock page is skipped). */
  #nextPgno(pgno: number): number {
    return pgno + 1 === this.#lock ? pgno + 2 : pgno + 1;
  }

  /**
   * The end of the file: page block terminator, page index (§1.6) and trailer with the
   * file checksum (§2.4). Nothing may be added afterwards.
   * @throws LtxvfsError `LTXVFS_ERR_USAGE` for a snapshot missing a page, a post-apply
   *   checksum the header's flags and commit do not allow, or a second call;
   *   `LTXVFS_ERR_CHECKSUM` if a checksummed snapshot's post-apply checksum is not its pages'.
   */
  finish(postApplyChecksum: bigint): Uint8Array {
    const header = this.#header;
    const post = postApplyChecksum;
    if (this.#finished) this.#fail('finish() called twice');
    if (isSnapshot(header)) {
      const expected = header.commit - (header.commit >= this.#lock ? 1 : 0);
      if (this.#entries.length !== expected) {
        const missing = this.#missing ?? this.#nextPgno(this.#prev);
        this.#fail(`snapshot incomplete: page ${missing} missing (a snapshot holds all ${expected} pages 1…${header.commit} except the lock page)`);
      }
    }
    const postProblem = postApplyProblem(header, post);
    if (postProblem !== undefined) this.#fail(`trailer: ${postProblem}`);
    if (header.commit === 0 && post !== CHECKSUM_FLAG) {
      this.#fail(`trailer: post-apply checksum must be 8000000000000000 when commit is 0 (impossible with the NoChecksum flag)`);
    }
    if (this.#checksummedSnapshot) {
      const sum = this.#sum | CHECKSUM_FLAG;
      if (sum !== post) {
        throw new LtxvfsError(
          'LTXVFS_ERR_CHECKSUM',
          `${this.#where}: post-apply checksum ${formatChecksum(post)} is not the snapshot's database checksum ${formatChecksum(sum)}`,
        );
      }
    }
    this.#finished = true;
    const terminator = new Uint8Array(PAGE_HEADER_SIZE);
    const index = encodePageIndex(this.#entries);
    const trailer = encodeTrailer({ postApplyChecksum: post, fileChecksum: 0n });
    this.#crc.update(terminator).update(index).update(trailer, 0, 8);
    new DataView(trailer.buffer).setBigUint64(8, this.#crc.digest() | CHECKSUM_FLAG);
    const out = new Uint8Array(terminator.length + index.length + TRAILER_SIZE);
    out.set(index, terminator.length);
    out.set(trailer, terminator.length + index.length);
    return out;
  }
}
