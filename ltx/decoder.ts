/**
 * Whole-file LTX v3 decoder enforcing every decoder rule of docs/formats.md §1.9 — including
 * those superfly/ltx's decoder skips (LZ4 output length, index size field and entries,
 * trailer fields, pgno ≤ commit, lock page, snapshot completeness).
 *
 * Order of checks: structure first (header, frames, index, trailer position), since
 * nothing else can be read without it; then the file checksum (§2.4), so that a file
 * damaged in transit reports a checksum mismatch rather than whatever rule the damage
 * happens to break; then the semantic rules. Both v3 variants are read, also mixed per
 * frame. v1/v2 files are recognised and refused with LTXVFS_ERR_UNSUPPORTED.
 */
import { CHECKSUM_FLAG, databaseChecksum, formatChecksum } from './checksum.js';
import { Crc64 } from './crc64.js';
import { LtxvfsError } from './errors.js';
import { decodePageFrame, frameVariantOf, PAGE_HEADER_SIZE, SIZE_PREFIX_SIZE, type FrameVariant } from './frame.js';
import { decodeHeader, hasNoChecksum, HEADER_SIZE, isSnapshot, type LtxHeader } from './header.js';
import { checkPagesAgainstHeader, INDEX_TAIL_SIZE, PAGE_INDEX_SIZE_FIELD, parsePageIndexEntries, type PageIndexEntry } from './page-index.js';
import { decodeTrailer, TRAILER_SIZE, validateTrailer, type LtxTrailer } from './trailer.js';

/** A page of an LTX file: its number and decompressed contents (pageSize bytes). */
export interface LtxPage {
  pgno: number;
  data: Uint8Array;
}

/** Everything in one LTX file, validated. */
export interface DecodedLtx {
  header: LtxHeader;
  /** Pages in file order (ascending pgno), decompressed. */
  pages: LtxPage[];
  /** The page index as stored; equal to the frames found (pgno, offset, size). */
  index: PageIndexEntry[];
  trailer: LtxTrailer;
  /** Variant of the first frame ('block' for a file without pages). */
  variant: FrameVariant;
  /** True if frames of both variants occur in the file. */
  mixedVariants: boolean;
}

/** The structural walk of a file, before checksum and semantic rules. */
interface WalkedLtx {
  header: LtxHeader;
  pages: LtxPage[];
  /** Frames as found: pgno, offset, size. */
  frames: PageIndexEntry[];
  /** Variant of each frame, in order. */
  variants: FrameVariant[];
  index: PageIndexEntry[];
  trailer: LtxTrailer;
  /** `CHECKSUM_FLAG | CRC` of the logical file (§2.4). */
  computedChecksum: bigint;
}

/** Walk header, frames, index and trailer, computing the §2.4 checksum on the way. */
function walk(buf: Uint8Array, where: string): WalkedLtx {
  const fail = (msg: string): never => {
    throw new LtxvfsError('LTXVFS_ERR_CORRUPT', `${where}: ${msg}`, { key: where });
  };
  if (buf.length < HEADER_SIZE) fail(`truncated: file of ${buf.length} bytes is shorter than the ${HEADER_SIZE}-byte header`);
  const header = decodeHeader(buf, where);
  const crc = new Crc64().update(buf, 0, HEADER_SIZE);
  const pages: LtxPage[] = [];
  const frames: PageIndexEntry[] = [];
  const variants: FrameVariant[] = [];
  let off = HEADER_SIZE;
  for (;;) {
    let frame;
    try {
      frame = decodePageFrame(buf, off, header.pageSize, where);
    } catch (err) {
      const legacy = off === HEADER_SIZE ? legacyLayout(buf, header.pageSize) : undefined;
      if (legacy === undefined) throw err;
      throw new LtxvfsError('LTXVFS_ERR_UNSUPPORTED', `${where}: ${legacy} is not supported (docs/formats.md §1.2)`, { key: where, cause: err });
    }
    // §2.4: page header, size prefix if present, then the page itself, not the LZ4 bytes.
    crc.update(buf, off, off + PAGE_HEADER_SIZE + (frame.flags !== 0 ? SIZE_PREFIX_SIZE : 0));
    if (frame.pgno === 0) {
      off = frame.end;
      break;
    }
    crc.update(frame.data);
    pages.push({ pgno: frame.pgno, data: frame.data });
    frames.push({ pgno: frame.pgno, offset: off, size: frame.end - off });
    variants.push(frameVariantOf(frame.flags));
    off = frame.end;
  }

  const indexLimit = buf.length - INDEX_TAIL_SIZE;
  if (indexLimit <= off) {
    fail(`truncated: file of ${buf.length} bytes has no room for the page index and trailer after the page block ending at ${off}`);
  }
  const parsed = parsePageIndexEntries(buf, off, indexLimit, where, 0, buf.length);
  const index = parsed.entries.toArray();
  const end = parsed.end;
  const sizeField = new DataView(buf.buffer, buf.byteOffset + end, PAGE_INDEX_SIZE_FIELD).getBigUint64(0);
  if (sizeField !== BigInt(end - off)) {
    fail(`page index size field ${sizeField} invalid (the entries and terminator at offset ${off} take ${end - off} bytes)`);
  }
  const trailerOffset = end + PAGE_INDEX_SIZE_FIELD;
  const fileEnd = trailerOffset + TRAILER_SIZE;
  if (buf.length > fileEnd) {
    fail(`${buf.length - fileEnd} bytes after the trailer (the trailer ends at ${fileEnd}, the file is ${buf.length} bytes)`);
  }
  const trailer = decodeTrailer(buf, where, trailerOffset);
  crc.update(buf, off, trailerOffset + 8); // index, size field, post-apply checksum
  return { header, pages, frames, variants, index, trailer, computedChecksum: crc.digest() | CHECKSUM_FLAG };
}

/**
 * Describe the legacy layout `buf` is in, if its first frame reads as one (docs/formats.md
 * §1.2): v2 = `pgno u32` + LZ4 frame; v1 = `pgno u32` + raw page, repeated, then a
 * 4-byte zero terminator right before the trailer (no index).
 */
function legacyLayout(buf: Uint8Array, pageSize: number): string | undefined {
  const u32 = (i: number): number => ((buf[i] << 24) | (buf[i + 1] << 16) | (buf[i + 2] << 8) | buf[i + 3]) >>> 0;
  if (buf.length < HEADER_SIZE + 8 || u32(HEADER_SIZE) === 0) return undefined;
  if (u32(HEADER_SIZE + 4) === 0x04224d18) return 'legacy LTX v2 layout (4-byte page headers, LZ4 frames)';
  const terminator = buf.length - TRAILER_SIZE - 4;
  let p = HEADER_SIZE;
  while (p < terminator && u32(p) !== 0) p += 4 + pageSize;
  if (p === terminator && u32(p) === 0) {
    return 'legacy LTX v1 layout (4-byte page headers, uncompressed pages, no page index; ltx ≤ v0.3, Litestream v0.5.0-beta1)';
  }
  return undefined;
}

/**
 * Decode a whole LTX v3 file (either variant, also mixed) and enforce every rule of
 * docs/formats.md §1.9: header rules; page flags ⊆ 0x1 and pgno ≠ 0; each page decompresses
 * to exactly pageSize; the index size field equals the varint length and the index
 * entries equal the frames found; nothing after the trailer; the file checksum (§2.4);
 * pgno strictly ascending, ≤ commit, never the lock page (§7.2); a snapshot holds every
 * page 1…commit but the lock page; the post-apply checksum is 0 with NoChecksum,
 * otherwise has bit 63 (exactly `8000000000000000` when commit is 0) and, for a
 * snapshot, equals the database checksum of its pages (§2.3). `where` (the file name)
 * starts every error message and is the error's `key`.
 * @throws LtxvfsError `LTXVFS_ERR_CORRUPT` for a structural or rule violation, including
 *   truncation ("truncated: file of N bytes …"); `LTXVFS_ERR_CHECKSUM` for a file
 *   checksum mismatch or a snapshot whose post-apply checksum differs from its pages';
 *   `LTXVFS_ERR_UNSUPPORTED` for legacy v1/v2 files and LZ4 frame features not read.
 */
export function decodeLtxFile(buf: Uint8Array, where: string): DecodedLtx {
  const w = walk(buf, where);
  verifyComputed(w, where);
  const { header, pages, frames, index, trailer } = w;
  const fail = (msg: string): never => {
    throw new LtxvfsError('LTXVFS_ERR_CORRUPT', `${where}: ${msg}`, { key: where });
  };

  for (let i = 1; i < frames.length; i++) {
    if (frames[i].pgno <= frames[i - 1].pgno) {
      fail(`frame at offset ${frames[i].offset}: page ${frames[i].pgno} invalid (pages must ascend; the previous frame is page ${frames[i - 1].pgno})`);
    }
  }
  if (index.length !== frames.length) fail(`page index has ${index.length} entries, the page block ${frames.length} frames`);
  index.forEach((e, i) => {
    const f = frames[i];
    if (e.pgno !== f.pgno || e.offset !== f.offset || e.size !== f.size) {
      fail(
        `page index entry ${i} (page ${e.pgno}, offset ${e.offset}, size ${e.size}) does not match the frame found ` +
          `(page ${f.pgno}, offset ${f.offset}, size ${f.size})`,
      );
    }
  });
  checkPagesAgainstHeader(
    header,
    frames.map((f) => f.pgno),
    where,
  );
  validateTrailer(header, trailer, where);
  if (isSnapshot(header) && !hasNoChecksum(header)) {
    const byPgno = new Map(pages.map((p) => [p.pgno, p.data]));
    const sum = databaseChecksum(header.pageSize, header.commit, (pgno) => byPgno.get(pgno) as Uint8Array);
    if (sum !== trailer.postApplyChecksum) {
      throw new LtxvfsError(
        'LTXVFS_ERR_CHECKSUM',
        `${where}: trailer: post-apply checksum ${formatChecksum(trailer.postApplyChecksum)} does not match the snapshot's database checksum ${formatChecksum(sum)}`,
        { key: where },
      );
    }
  }
  return { header, pages, index, trailer, variant: w.variants[0] ?? 'block', mixedVariants: new Set(w.variants).size > 1 };
}

function verifyComputed(w: WalkedLtx, where: string): void {
  if (w.computedChecksum !== w.trailer.fileChecksum) {
    throw new LtxvfsError(
      'LTXVFS_ERR_CHECKSUM',
      `${where}: file checksum mismatch: stored ${formatChecksum(w.trailer.fileChecksum)}, computed ${formatChecksum(w.computedChecksum)}`,
      { key: where },
    );
  }
}

/**
 * The file checksum (§2.4) computed over `buf` — `CHECKSUM_FLAG | CRC` of header, page
 * headers and size prefixes with the decompressed pages, terminator, index and
 * post-apply checksum — whatever the stored one says. Only the structure is checked
 * (header, frames, index size, trailer position), not the semantic rules. For tools and
 * tests that rewrite a file and must re-seal it.
 * @throws LtxvfsError as the structural part of {@link decodeLtxFile}.
 */
export function computeFileChecksum(buf: Uint8Array, where: string): bigint {
  return walk(buf, where).computedChecksum;
}

/**
 * Verify the stored file checksum of `buf` against the computed one (docs/formats.md §2.4)
 * without enforcing the other rules; returns the checksum.
 * @throws LtxvfsError `LTXVFS_ERR_CHECKSUM` on a mismatch; otherwise as
 *   {@link computeFileChecksum}.
 */
export function verifyFileChecksum(buf: Uint8Array, where: string): bigint {
  const w = walk(buf, where);
  verifyComputed(w, where);
  return w.computedChecksum;
}
