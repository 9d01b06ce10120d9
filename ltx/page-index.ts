/**
 * The LTX page index (docs/formats.md §1.6) and how to find it from the end of a file with
 * range reads (§1.8): uvarint triples (pgno, absolute frame offset, frame size), a 0
 * terminator, then a u64 with the byte length of the varints including the terminator.
 * After superfly/ltx encoder.go `encodePageIndex` and decoder.go `DecodePageIndex`,
 * whose reader ignores the size field; here it must match (§1.9).
 */
import { lockPgno } from './checksum.js';
import { LtxvfsError, type LtxvfsErrorCode } from './errors.js';
import { PAGE_HEADER_SIZE, SIZE_PREFIX_SIZE } from './frame.js';
import { HEADER_SIZE, isSnapshot, type LtxHeader } from './header.js';
import { decodeTrailer, TRAILER_SIZE, type LtxTrailer } from './trailer.js';
import { decodeUvarint, MAX_VARINT_LEN64, putUvarint, uvarintSize } from './varint.js';

/** Where one page's frame lies in its LTX file. */
export interface PageIndexEntry {
  /** Page number (≥ 1). */
  pgno: number;
  /** Absolute byte offset of the frame (its page header) from the start of the file. */
  offset: number;
  /** Frame size in bytes: page header (6) + size prefix (4, v3-block) + LZ4 payload. */
  size: number;
}

/** Bytes of the u64 that follows the index varints and holds their length. */
export const PAGE_INDEX_SIZE_FIELD = 8;

/** Bytes at the end of every v3 file after the index varints: size field + trailer. */
export const INDEX_TAIL_SIZE = PAGE_INDEX_SIZE_FIELD + TRAILER_SIZE;

/**
 * Smallest v3 file: header, terminator, an empty index (one 0 byte), size field, trailer.
 */
export const MIN_LTX_FILE_SIZE = HEADER_SIZE + PAGE_HEADER_SIZE + 1 + INDEX_TAIL_SIZE;

/** Smallest frame: page header plus a size prefix (v3-block) or an LZ4 magic (v3-frame). */
const MIN_FRAME_SIZE = PAGE_HEADER_SIZE + SIZE_PREFIX_SIZE;

/**
 * Encode the page index for `entries` (docs/formats.md §1.6): minimal uvarints per entry, a
 * 0 terminator, then the u64 big-endian length of the varints including the terminator.
 * Entries are written in the order given (the encoder passes them ascending).
 * @throws LtxvfsError `LTXVFS_ERR_USAGE` if a value is not a non-negative safe integer.
 */
export function encodePageIndex(entries: PageIndexTable | readonly PageIndexEntry[]): Uint8Array {
  const t = entries instanceof PageIndexTable ? entries : undefined;
  const a = entries instanceof PageIndexTable ? undefined : entries;
  const pgno = (i: number): number => t?.pgnos[i] ?? a![i].pgno;
  const offset = (i: number): number => t?.offsets[i] ?? a![i].offset;
  const size = (i: number): number => t?.sizes[i] ?? a![i].size;
  let varintBytes = 1;
  for (let i = 0; i < entries.length; i++) varintBytes += uvarintSize(pgno(i)) + uvarintSize(offset(i)) + uvarintSize(size(i));
  const out = new Uint8Array(varintBytes + PAGE_INDEX_SIZE_FIELD);
  let p = 0;
  for (let i = 0; i < entries.length; i++) {
    p = putUvarint(out, p, pgno(i));
    p = putUvarint(out, p, offset(i));
    p = putUvarint(out, p, size(i));
  }
  out[p++] = 0;
  new DataView(out.buffer).setBigUint64(p, BigInt(varintBytes));
  return out;
}

/**
 * A parsed page index, column by column: entry `i` (ascending pgno, so ascending offset)
 * is page `pgnos[i]`, whose frame is `sizes[i]` bytes at absolute file offset
 * `offsets[i]`. A snapshot's index has one entry per page of the database; typed arrays
 * hold them in 16 bytes each, where an object per entry took ~50 and, at the open of a
 * 67,000-page snapshot in a fresh process, 17–27 ms to parse against 6–9 ms (docs/bench.md,
 * "Twelfth run"). Immutable by convention: nothing writes the arrays after the parse.
 */
export class PageIndexTable {
  /** Number of entries. */
  readonly length: number;
  /** Page numbers (≥ 1), one per entry. */
  readonly pgnos: Uint32Array;
  /** Absolute byte offsets of the frames (their page headers) from the start of the file. */
  readonly offsets: Float64Array;
  /** Frame sizes in bytes: page header (6) + size prefix (4, v3-block) + LZ4 payload. */
  readonly sizes: Uint32Array;

  /** The columns must have the same length; see {@link PageIndexTable.from} for objects. */
  constructor(pgnos: Uint32Array, offsets: Float64Array, sizes: Uint32Array) {
    if (offsets.length !== pgnos.length || sizes.length !== pgnos.length) {
      throw new LtxvfsError('LTXVFS_ERR_USAGE', `page index: columns of ${pgnos.length}, ${offsets.length} and ${sizes.length} entries differ in length`);
    }
    this.length = pgnos.length;
    this.pgnos = pgnos;
    this.offsets = offsets;
    this.sizes = sizes;
  }

  /**
   * The table of `entries` (any order; the checks are the caller's).
   * @throws LtxvfsError `LTXVFS_ERR_USAGE` if a pgno or size does not fit 32 bits.
   */
  static from(entries: readonly PageIndexEntry[]): PageIndexTable {
    const t = new PageIndexTable(new Uint32Array(entries.length), new Float64Array(entries.length), new Uint32Array(entries.length));
    for (let i = 0; i < entries.length; i++) {
      const { pgno, offset, size } = entries[i];
      if (!(pgno >= 0 && pgno <= 0xffff_ffff) || !(size >= 0 && size <= 0xffff_ffff)) {
        throw new LtxvfsError('LTXVFS_ERR_USAGE', `page index: entry ${i}: pgno ${pgno} or size ${size} does not fit 32 bits`);
      }
      t.pgnos[i] = pgno;
      t.offsets[i] = offset;
      t.sizes[i] = size;
    }
    return t;
  }

  /** Entry `i` as an object (undefined past the end). */
  at(i: number): PageIndexEntry | undefined {
    return i >= 0 && i < this.length ? { pgno: this.pgnos[i], offset: this.offsets[i], size: this.sizes[i] } : undefined;
  }

  /** Byte offset just past entry `i`'s frame. */
  end(i: number): number {
    return this.offsets[i] + this.sizes[i];
  }

  /** Every entry as an object, in order. */
  toArray(): PageIndexEntry[] {
    const out: PageIndexEntry[] = new Array<PageIndexEntry>(this.length);
    for (let i = 0; i < this.length; i++) out[i] = { pgno: this.pgnos[i], offset: this.offsets[i], size: this.sizes[i] };
    return out;
  }

  *[Symbol.iterator](): IterableIterator<PageIndexEntry> {
    for (let i = 0; i < this.length; i++) yield { pgno: this.pgnos[i], offset: this.offsets[i], size: this.sizes[i] };
  }
}

/** Growable columns for the parse: doubled when full, trimmed at the end. */
class TableBuilder {
  n = 0;
  pgnos: Uint32Array;
  offsets: Float64Array;
  sizes: Uint32Array;

  constructor(capacity: number) {
    this.pgnos = new Uint32Array(capacity);
    this.offsets = new Float64Array(capacity);
    this.sizes = new Uint32Array(capacity);
  }

  push(pgno: number, offset: number, size: number, at: string): void {
    if (pgno > 0xffff_ffff || size > 0xffff_ffff) {
      // Beyond SQLite's largest page number (2^32 - 2) or any frame of a 64 KiB page.
      throw new LtxvfsError('LTXVFS_ERR_CORRUPT', `${at}: entry ${this.n}: ${pgno > 0xffff_ffff ? `pgno ${pgno}` : `size ${size}`} invalid (more than 32 bits)`, { key: at });
    }
    if (this.n === this.pgnos.length) {
      const grow = <T extends Uint32Array | Float64Array>(a: T, b: T): T => (b.set(a), b);
      const cap = this.n * 2;
      this.pgnos = grow(this.pgnos, new Uint32Array(cap));
      this.offsets = grow(this.offsets, new Float64Array(cap));
      this.sizes = grow(this.sizes, new Uint32Array(cap));
    }
    this.pgnos[this.n] = pgno;
    this.offsets[this.n] = offset;
    this.sizes[this.n++] = size;
  }

  table(): PageIndexTable {
    const n = this.n;
    return n === this.pgnos.length
      ? new PageIndexTable(this.pgnos, this.offsets, this.sizes)
      : new PageIndexTable(this.pgnos.slice(0, n), this.offsets.slice(0, n), this.sizes.slice(0, n));
  }
}

/**
 * Parse index entries from `buf[start]` up to the 0 terminator, never reading at or past
 * `limit`. `baseOffset` is the file offset of `buf[0]` and `fileSize` the file's length,
 * both only for messages. Returns the entries
 * and the position just past the terminator. Structure only; see {@link checkPageIndexLayout}.
 * @throws LtxvfsError `LTXVFS_ERR_CORRUPT` if a varint is malformed, a pgno or size needs
 *   more than 32 bits, or "page index truncated" if `limit` comes before the terminator.
 */
export function parsePageIndexEntries(
  buf: Uint8Array,
  start: number,
  limit: number,
  where: string,
  baseOffset = 0,
  fileSize?: number,
): { entries: PageIndexTable; end: number } {
  const view = limit < buf.length ? buf.subarray(0, limit) : buf;
  const at = `${where}: page index`;
  let p = start;
  const n = view.length;
  // Where the longest varint fits before the limit, decode inline: no truncation is possible
  // there, and no [value, length] pair is made per varint. A 1 GiB database's index has
  // ~800,000 varints; the general path below (decodeUvarint) took 28 ms for 200,000 of them
  // in a fresh process, most of the open of a 200 MiB snapshot on a directory. Any invalid
  // varint is handed to decodeUvarint, which throws its usual error.
  const read = (): number => {
    if (p + MAX_VARINT_LEN64 > n) return readNearLimit();
    const at0 = p;
    let b = view[p++];
    if (b < 0x80) return b;
    let value = b & 0x7f;
    let scale = 0x80;
    for (let i = 1; i < MAX_VARINT_LEN64; i++) {
      b = view[p++];
      if (b < 0x80) {
        value += b * scale;
        if ((i === MAX_VARINT_LEN64 - 1 && b > 1) || value > Number.MAX_SAFE_INTEGER) break;
        return value;
      }
      value += (b & 0x7f) * scale;
      scale *= 0x80;
    }
    return decodeUvarint(view, at0, at, baseOffset)[0]; // throws: overflows 64 bits or exceeds 2^53-1
  };
  const readNearLimit = (): number => {
    // A varint cut by the limit has only continuation bytes up to it.
    let q = p;
    while (q < view.length && q - p < MAX_VARINT_LEN64 && view[q] >= 0x80) q++;
    if (q >= view.length) {
      throw new LtxvfsError(
        'LTXVFS_ERR_CORRUPT',
        `${at} truncated: no 0 terminator before offset ${baseOffset + view.length} (the index starts at ${baseOffset + start}` +
          (fileSize === undefined ? ')' : `, the file is ${fileSize} bytes)`),
        { key: where },
      );
    }
    const [value, length] = decodeUvarint(view, p, at, baseOffset);
    p += length;
    return value;
  };
  // An entry takes at least 3 bytes; most take 7–10 (pgno, offset and size of a 4 KiB page).
  const entries = new TableBuilder(Math.max(1, Math.ceil((n - start) / 8)));
  // Fast path, the loop itself with no call per varint: an entry of three varints of at most
  // 7 bytes each (values below 2^49) that ends before the limit. Anything else (longer
  // varints, the last entries before the limit) goes through read() above. At open, in a
  // fresh process, it cut the parse of a 52,275-entry snapshot index from 15 to 9 ms.
  const fastEnd = n - 3 * FAST_VARINT_LEN;
  for (;;) {
    if (p <= fastEnd) {
      const at0 = p;
      let b = view[p++];
      let pgno = b & 0x7f;
      for (let scale = 0x80, i = 1; b >= 0x80 && i < FAST_VARINT_LEN; i++, scale *= 0x80) pgno += ((b = view[p++]) & 0x7f) * scale;
      if (b < 0x80) {
        if (pgno === 0) return { entries: entries.table(), end: p };
        b = view[p++];
        let offset = b & 0x7f;
        for (let scale = 0x80, i = 1; b >= 0x80 && i < FAST_VARINT_LEN; i++, scale *= 0x80) offset += ((b = view[p++]) & 0x7f) * scale;
        if (b < 0x80) {
          b = view[p++];
          let size = b & 0x7f;
          for (let scale = 0x80, i = 1; b >= 0x80 && i < FAST_VARINT_LEN; i++, scale *= 0x80) size += ((b = view[p++]) & 0x7f) * scale;
          if (b < 0x80) {
            entries.push(pgno, offset, size, at);
            continue;
          }
        }
      }
      p = at0; // a varint longer than FAST_VARINT_LEN: this entry the general way
    }
    const pgno = read();
    if (pgno === 0) return { entries: entries.table(), end: p };
    const offset = read();
    entries.push(pgno, offset, read(), at);
  }
}

/** Longest varint the fast path of {@link parsePageIndexEntries} decodes: 7 bytes, values below 2^49. */
const FAST_VARINT_LEN = 7;

/**
 * Check the layout the index describes (docs/formats.md §1.6, §1.9): pgno strictly ascending
 * (so never 0 twice or out of order), each frame at least 10 bytes, and frames back to
 * back from byte 100 up to the 6-byte terminator right before `indexOffset` — which is
 * how every encoder lays them out, and what makes a range read of one entry exactly one
 * frame. Implies offsets ≥ 100, ascending, non-overlapping, and
 * offset + size ≤ indexOffset − 6.
 * @throws LtxvfsError `LTXVFS_ERR_CORRUPT` naming the first bad entry.
 */
export function checkPageIndexLayout(entries: PageIndexTable, indexOffset: number, where: string): void {
  let expectedOffset = HEADER_SIZE;
  let prevPgno = 0;
  const { pgnos, offsets, sizes } = entries;
  const fail = (i: number, msg: string): never => {
    throw new LtxvfsError('LTXVFS_ERR_CORRUPT', `${where}: page index entry ${i} (page ${pgnos[i]}): ${msg}`, { key: where });
  };
  // A plain loop, no closure per entry: a snapshot's index has one entry per page.
  for (let i = 0; i < entries.length; i++) {
    const pgno = pgnos[i];
    const offset = offsets[i];
    const size = sizes[i];
    if (pgno <= prevPgno) fail(i, `pgno invalid (not above the previous entry's ${prevPgno})`);
    if (offset !== expectedOffset) {
      fail(i, `offset ${offset} invalid (expected ${expectedOffset}: frames are contiguous from byte ${HEADER_SIZE})`);
    }
    if (size < MIN_FRAME_SIZE) fail(i, `size ${size} invalid (a frame has at least ${MIN_FRAME_SIZE} bytes)`);
    prevPgno = pgno;
    expectedOffset = offset + size;
  }
  if (expectedOffset + PAGE_HEADER_SIZE !== indexOffset) {
    throw new LtxvfsError(
      'LTXVFS_ERR_CORRUPT',
      `${where}: page index at offset ${indexOffset} does not follow the frames (they end at ${expectedOffset}, plus the ${PAGE_HEADER_SIZE}-byte terminator)`,
      { key: where },
    );
  }
}

/**
 * Check page numbers against the header (docs/formats.md §1.5, §1.9): every pgno ≤ commit,
 * none is the lock page (§7.2), and a snapshot holds every page 1…commit except the lock
 * page. `pgnos` must already be strictly ascending (see {@link checkPageIndexLayout}).
 * Useful on an index read from the tail, where no frame has been seen yet.
 * @throws LtxvfsError with `code` (default `LTXVFS_ERR_CORRUPT`) naming the first
 *   offending page.
 */
export function checkPagesAgainstHeader(
  header: Pick<LtxHeader, 'pageSize' | 'commit' | 'minTXID'>,
  pgnos: ArrayLike<number>,
  where: string,
  code: LtxvfsErrorCode = 'LTXVFS_ERR_CORRUPT',
): void {
  const fail = (msg: string): never => {
    throw new LtxvfsError(code, `${where}: ${msg}`, { key: where });
  };
  const lock = lockPgno(header.pageSize);
  for (let i = 0; i < pgnos.length; i++) {
    const pgno = pgnos[i];
    if (pgno > header.commit) fail(`page ${pgno} invalid (beyond commit ${header.commit})`);
    if (pgno === lock) fail(`page ${pgno} invalid (the lock page for page size ${header.pageSize} is never stored)`);
  }
  if (isSnapshot(header)) {
    const expected = header.commit - (header.commit >= lock ? 1 : 0);
    if (pgnos.length !== expected) {
      // Ascending, ≤ commit and lock-free, so the first gap is where pgno ≠ its rank.
      let missing = 1;
      for (let i = 0; i < pgnos.length; i++) {
        const pgno = pgnos[i];
        if (missing === lock) missing++;
        if (pgno !== missing) break;
        missing++;
      }
      if (missing === lock) missing++;
      fail(`snapshot incomplete: page ${missing} missing (a snapshot holds all ${expected} pages 1…${header.commit} except the lock page)`);
    }
  }
}

/** Found index of {@link readPageIndexFromTail}. */
export interface FoundPageIndex {
  /** Entries in ascending pgno, offsets absolute in the file. */
  entries: PageIndexTable;
  /** The trailer (last 16 bytes of the file). */
  trailer: LtxTrailer;
  /** File offset of the first index varint (right after the page block terminator). */
  indexOffset: number;
}

/**
 * Locate and parse the page index from the end of a file (docs/formats.md §1.8). `tail`
 * holds bytes `[tailOffset, fileSize)` (a whole file: tailOffset 0). Reads the u64 index
 * size 24 bytes from the end; if the index starts before `tailOffset`, returns
 * `{ needOffset }` and the caller reads `[needOffset, fileSize)` and calls again.
 * Otherwise returns the entries, the trailer and the index offset, after checking: the
 * size field is plausible and equals the varint length (terminator last), and the entry
 * layout per {@link checkPageIndexLayout}. Does not check pgno against the header; see
 * {@link checkPagesAgainstHeader}.
 * @throws LtxvfsError `LTXVFS_ERR_USAGE` if `tail.length !== fileSize - tailOffset`;
 *   `LTXVFS_ERR_CORRUPT` if the file is too small to be v3, or any check fails.
 */
export function readPageIndexFromTail(
  tail: Uint8Array,
  tailOffset: number,
  fileSize: number,
  where: string,
): FoundPageIndex | { needOffset: number } {
  if (tailOffset < 0 || tailOffset + tail.length !== fileSize) {
    throw new LtxvfsError(
      'LTXVFS_ERR_USAGE',
      `${where}: page index: tail of ${tail.length} bytes at offset ${tailOffset} does not end at the file size ${fileSize}`,
      { key: where },
    );
  }
  const fail = (msg: string): never => {
    throw new LtxvfsError('LTXVFS_ERR_CORRUPT', `${where}: ${msg}`, { key: where });
  };
  if (fileSize < MIN_LTX_FILE_SIZE) fail(`truncated: file of ${fileSize} bytes is smaller than the smallest LTX v3 file (${MIN_LTX_FILE_SIZE})`);
  if (tail.length < INDEX_TAIL_SIZE) return { needOffset: fileSize - INDEX_TAIL_SIZE };
  const sizeFieldPos = tail.length - INDEX_TAIL_SIZE;
  const sizeField = new DataView(tail.buffer, tail.byteOffset + sizeFieldPos, PAGE_INDEX_SIZE_FIELD).getBigUint64(0);
  const maxSize = fileSize - INDEX_TAIL_SIZE - HEADER_SIZE - PAGE_HEADER_SIZE;
  if (sizeField < 1n || sizeField > BigInt(maxSize)) {
    fail(`page index size field ${sizeField} invalid (must be 1…${maxSize} for a ${fileSize}-byte file)`);
  }
  const indexOffset = fileSize - INDEX_TAIL_SIZE - Number(sizeField);
  if (indexOffset < tailOffset) return { needOffset: indexOffset };
  if (tail[sizeFieldPos - 1] !== 0) {
    fail(`page index size field ${sizeField} invalid (the byte before it, at offset ${fileSize - INDEX_TAIL_SIZE - 1}, is not the 0 terminator)`);
  }
  const { entries, end } = parsePageIndexEntries(tail, indexOffset - tailOffset, sizeFieldPos, where, tailOffset);
  if (end !== sizeFieldPos) {
    fail(`page index size field ${sizeField} invalid (the entries and terminator take ${end - (indexOffset - tailOffset)} bytes)`);
  }
  checkPageIndexLayout(entries, indexOffset, where);
  return { entries, trailer: decodeTrailer(tail, where), indexOffset };
}
