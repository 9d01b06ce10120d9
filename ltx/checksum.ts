/**
 * Page and database checksums (docs/formats.md §2.2, §2.3) and the lock page (§7.2).
 *
 * Every checksum carries {@link CHECKSUM_FLAG} so that 0 can mean "not tracked". A
 * database checksum is the XOR of its page checksums, so it can be updated per page
 * without rereading the database (superfly/ltx checksum.go, `ChecksumPages`, and
 * litestream's incremental use of it).
 */
import { Crc64 } from './crc64.js';
import { LtxvfsError } from './errors.js';

/** Bit 63, set on every page, database and file checksum (docs/formats.md §2.1). */
export const CHECKSUM_FLAG = 1n << 63n;

const U64_MAX = (1n << 64n) - 1n;

/**
 * A 64-bit checksum (page, database, pre-/post-apply or file checksum) as text: 16
 * lower-case hex digits, zero-padded (`%016x`, as Litestream and `ltx` print checksums;
 * the form of every checksum in ltxvfs's messages, disk-cache identities and hydration
 * state).
 * @throws LtxvfsError `LTXVFS_ERR_USAGE` unless `checksum` is a u64 (0…2^64−1).
 */
export function formatChecksum(checksum: bigint): string {
  if (checksum < 0n || checksum > U64_MAX) {
    throw new LtxvfsError('LTXVFS_ERR_USAGE', `bad checksum: ${checksum} is not a u64 (0…2^64-1)`);
  }
  return checksum.toString(16).padStart(16, '0');
}

/** SQLite's PENDING_BYTE: the lock page is the page that holds this byte offset (§7.2). */
const PENDING_BYTE = 0x40000000;

const pgnoBytes = new Uint8Array(4);
const pageCrc = new Crc64();

/**
 * Page checksum (docs/formats.md §2.2): `CHECKSUM_FLAG | CRC-64/GO-ISO(u32be(pgno) ‖ data)`,
 * `data` being the full uncompressed page. Returns a u64 bigint with bit 63 set.
 * @throws LtxvfsError `LTXVFS_ERR_USAGE` if `pgno` is not an integer in 1…2^32−1.
 */
export function pageChecksum(pgno: number, data: Uint8Array): bigint {
  if (!Number.isInteger(pgno) || pgno < 1 || pgno > 0xffffffff) {
    throw new LtxvfsError('LTXVFS_ERR_USAGE', `page checksum: pgno ${pgno} invalid (must be an integer in 1…4294967295)`);
  }
  pgnoBytes[0] = pgno >>> 24;
  pgnoBytes[1] = pgno >>> 16;
  pgnoBytes[2] = pgno >>> 8;
  pgnoBytes[3] = pgno;
  // Reuse one hasher: feeding the 4 pgno bytes then the page avoids concatenating them.
  pageCrc.state.fill(0xffffffff);
  return pageCrc.update(pgnoBytes).update(data).digest() | CHECKSUM_FLAG;
}

/**
 * Page number of SQLite's lock-byte page for `pageSize` (docs/formats.md §7.2):
 * `floor(0x40000000 / pageSize) + 1`, e.g. 262145 for 4096. That page never holds data,
 * is never stored in LTX files and is left out of database checksums.
 */
export function lockPgno(pageSize: number): number {
  return Math.floor(PENDING_BYTE / pageSize) + 1;
}

/**
 * XOR checksums together and set {@link CHECKSUM_FLAG} (docs/formats.md §2.3): the database
 * checksum of a set of page checksums, or an incremental update when `checksums`
 * includes a previous database checksum. Only the low 63 bits carry information, so a
 * flag bit present or absent in the inputs does not matter. With no input:
 * `CHECKSUM_FLAG` (the checksum of an empty database).
 */
export function combineChecksums(...checksums: bigint[]): bigint {
  let sum = 0n;
  for (const c of checksums) sum ^= c;
  return sum | CHECKSUM_FLAG;
}

/**
 * Database checksum (docs/formats.md §2.3): `CHECKSUM_FLAG | XOR pageChecksum(p, getPage(p))`
 * over p = 1…commit, skipping {@link lockPgno}. `commit` 0 gives `CHECKSUM_FLAG`.
 * `getPage(p)` must return page p, exactly `pageSize` bytes (the lock page is never
 * requested).
 * @throws LtxvfsError `LTXVFS_ERR_USAGE` if a page returned is not `pageSize` bytes.
 */
export function databaseChecksum(pageSize: number, commit: number, getPage: (pgno: number) => Uint8Array): bigint {
  const lock = lockPgno(pageSize);
  let sum = 0n;
  for (let pgno = 1; pgno <= commit; pgno++) {
    if (pgno === lock) continue;
    const page = getPage(pgno);
    if (page.length !== pageSize) {
      throw new LtxvfsError('LTXVFS_ERR_USAGE', `database checksum: page ${pgno} is ${page.length} bytes, expected ${pageSize}`);
    }
    sum ^= pageChecksum(pgno, page);
  }
  return sum | CHECKSUM_FLAG;
}

/** Input of {@link incrementalDatabaseChecksum}. */
export interface IncrementalChecksumInput {
  /** Database checksum before the change (the file's preApplyChecksum), bit 63 set. */
  preApplyChecksum: bigint;
  /** Page size in bytes. */
  pageSize: number;
  /** Database size in pages before the change. */
  oldCommit: number;
  /** Database size in pages after the change (the file's `commit`). */
  newCommit: number;
  /** The pages the change writes (new contents), each pgno ≤ newCommit. */
  pages: readonly { pgno: number; data: Uint8Array }[];
  /** Previous contents of page `pgno` (≤ oldCommit); called only for pages that change or disappear. */
  getOldPage: (pgno: number) => Uint8Array;
}

/**
 * Post-apply database checksum of a change, updated from the pre-apply checksum without
 * reading unchanged pages (docs/formats.md §2.3, "Incremental update"):
 * `post = FLAG | pre ^ Σ old(p) ^ Σ new(p) ^ Σ old(q)` for each written page p (its old
 * checksum only if p ≤ oldCommit) and each page q in (newCommit, oldCommit] that a
 * truncation drops. Pages in (oldCommit, newCommit] the change does not write read as
 * zeros after a restore, so their zero-page checksums are XORed in. The lock page never
 * counts. Equals {@link databaseChecksum} of the resulting database.
 * @throws LtxvfsError `LTXVFS_ERR_USAGE` for a pgno outside 1…newCommit.
 */
export function incrementalDatabaseChecksum(input: IncrementalChecksumInput): bigint {
  const { pageSize, oldCommit, newCommit, pages, getOldPage } = input;
  const lock = lockPgno(pageSize);
  let sum = input.preApplyChecksum;
  const written = new Set<number>();
  for (const { pgno, data } of pages) {
    if (pgno < 1 || pgno > newCommit) {
      throw new LtxvfsError('LTXVFS_ERR_USAGE', `incremental checksum: page ${pgno} outside 1…${newCommit}`);
    }
    if (pgno === lock) continue;
    written.add(pgno);
    if (pgno <= oldCommit) sum ^= pageChecksum(pgno, getOldPage(pgno));
    sum ^= pageChecksum(pgno, data);
  }
  for (let q = newCommit + 1; q <= oldCommit; q++) {
    if (q !== lock) sum ^= pageChecksum(q, getOldPage(q));
  }
  if (newCommit > oldCommit) {
    const zero = new Uint8Array(pageSize);
    for (let q = oldCommit + 1; q <= newCommit; q++) {
      if (q !== lock && !written.has(q)) sum ^= pageChecksum(q, zero);
    }
  }
  return sum | CHECKSUM_FLAG;
}
