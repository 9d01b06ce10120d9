/**
 * The LTX codec (FORMATS.md §1–§3): header, page frames, page index, trailer, CRC-64,
 * page and database checksums, whole-file encoder and decoder. No I/O, no SQLite; the
 * only dependency is the LZ4 library behind ./lz4.ts. Published as `ltxvfs/ltx`.
 */
export { LtxvfsError, isLtxvfsError, type LtxvfsErrorCode, type LtxvfsErrorOptions } from './errors.js';
export { crc64, Crc64 } from './crc64.js';
export {
  CHECKSUM_FLAG,
  combineChecksums,
  databaseChecksum,
  formatChecksum,
  incrementalDatabaseChecksum,
  lockPgno,
  pageChecksum,
  type IncrementalChecksumInput,
} from './checksum.js';
export { appendUvarint, decodeUvarint, encodeUvarint, MAX_VARINT_LEN64, putUvarint, uvarintSize } from './varint.js';
export {
  decodeHeader,
  encodeHeader,
  hasNoChecksum,
  HEADER_FLAG_NO_CHECKSUM,
  HEADER_SIZE,
  headerProblem,
  isSnapshot,
  isValidPageSize,
  validateHeader,
  type LtxHeader,
} from './header.js';
export { decodeTrailer, encodeTrailer, postApplyProblem, TRAILER_SIZE, validateTrailer, type LtxTrailer } from './trailer.js';
export { compressBlock, compressFrame, decompressBlock, decompressBlockInto, decompressFrame, lz4BlockBound } from './lz4.js';
export {
  decodeIndexedFrame,
  decodeIndexedFrameInto,
  decodePageFrame,
  encodePageFrame,
  frameVariantOf,
  PAGE_FLAG_SIZE_PREFIX,
  PAGE_HEADER_SIZE,
  SIZE_PREFIX_SIZE,
  type DecodedPageFrame,
  type FrameVariant,
} from './frame.js';
export {
  checkPageIndexLayout,
  checkPagesAgainstHeader,
  encodePageIndex,
  INDEX_TAIL_SIZE,
  MIN_LTX_FILE_SIZE,
  PAGE_INDEX_SIZE_FIELD,
  parsePageIndexEntries,
  readPageIndexFromTail,
  type FoundPageIndex,
  type PageIndexEntry,
} from './page-index.js';
export { FILE_CHECKSUM_SIZE, FileChecksumBuilder } from './file-checksum.js';
export { computeFileChecksum, decodeLtxFile, verifyFileChecksum, type DecodedLtx, type LtxPage } from './decoder.js';
export { encodeLtxFile, type EncodeLtxInput } from './encoder.js';
export { formatLtxFilename, formatTXID, parseLtxFilename, parseTXID } from './filename.js';
