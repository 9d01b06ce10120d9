/**
 * The LTX codec (docs/formats.md §1–§3), published as `ltxvfs/ltx`: header, page frames, page
 * index, trailer, CRC-64, page and database checksums, file names, whole-file encoder and
 * decoder. No I/O, no SQLite; the only dependency is the LZ4 library behind ./lz4.ts.
 *
 * The public surface is the codec's types and its encode / decode / verify functions
 * (test/lib/index.test.ts lists it). The rule checks the decoder applies piecewise
 * (`headerProblem`, `postApplyProblem`, page-index layout checks), varint and LZ4
 * buffer-level helpers (`putUvarint`, `decompressBlockInto`, `lz4BlockBound`), the incremental file-checksum builder and the frame-variant probe
 * are internal: import their modules inside this repository.
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
export { decodeUvarint, encodeUvarint } from './varint.js';
export { decodeHeader, encodeHeader, hasNoChecksum, HEADER_FLAG_NO_CHECKSUM, HEADER_SIZE, isSnapshot, validateHeader, type LtxHeader } from './header.js';
export { decodeTrailer, encodeTrailer, TRAILER_SIZE, validateTrailer, type LtxTrailer } from './trailer.js';
export { compressBlock, compressFrame, decompressBlock, decompressFrame } from './lz4.js';
export {
  decodeIndexedFrame,
  decodePageFrame,
  encodePageFrame,
  PAGE_FLAG_SIZE_PREFIX,
  PAGE_HEADER_SIZE,
  type DecodedPageFrame,
  type FrameVariant,
} from './frame.js';
export {
  encodePageIndex,
  INDEX_TAIL_SIZE,
  parsePageIndexEntries,
  readPageIndexFromTail,
  type FoundPageIndex,
  PageIndexTable,
  type PageIndexEntry,
} from './page-index.js';
export { computeFileChecksum, decodeLtxFile, verifyFileChecksum, type DecodedLtx, type LtxPage } from './decoder.js';
export { encodeLtxFile, type EncodeLtxInput } from './encoder.js';
export { formatLtxFilename, formatTXID, parseLtxFilename, parseTXID } from './filename.js';
