/**
 * What a disk cache entry is (lib/cache/disk-cache.ts has the overview): its identity,
 * where it lives, and its bytes. No I/O here.
 *
 * Identities (strings stored in the entry itself, see the overview for why each field):
 * - a page: `ltxvfs page`, the file's {@link fileIdentity}, frame offset, size and pgno;
 * - an LTX file's header, page index and trailer: `ltxvfs ltx file`, replica URL, key,
 *   size and the listing's createdAt;
 * - "this file matched its file checksum": `ltxvfs verified ltx file` and the
 *   {@link fileIdentity}.
 *
 * Layout: `<dir>/v1/pages/<2 hex>/<30 hex>` and `<dir>/v1/files/…` (the first 128 bits
 * of SHA-256 of the identity), `<dir>/v1/tmp/` for entries being written,
 * `<dir>/v1/scan.json` for the last eviction scan. An entry file is
 *
 *     0   4  magic            'LVP1' (page) / 'LVF1' (LTX file) / 'LVV1' (verified file)
 *     4   2  identity length  K (u16, big-endian like LTX)
 *     6   2  reserved         0
 *     8   4  pgno             page entries; 0 for file entries
 *     12  4  payload length   N
 *     16  8  checksum         page: LTX page checksum of pgno + data (docs/formats.md §2.2);
 *                             file, verified: CRC-64/GO-ISO of the payload with bit 63 set
 *     24  K  identity         UTF-8
 *     24+K N payload          page bytes / header ‖ trailer ‖ page index (§1.3, §1.7, §1.6) /
 *                             the file checksum (u64)
 *
 * A reader checks magic, the exact length, the whole identity (not only the hash in the
 * name), pgno and the checksum ({@link entryProblem}, {@link checkedPayload}).
 */
import { createHash } from 'node:crypto';
import { join } from 'node:path';
import { CHECKSUM_FLAG, formatChecksum } from '../../ltx/checksum.js';
import { crc64 } from '../../ltx/crc64.js';
import { decodeHeader, encodeHeader, HEADER_SIZE } from '../../ltx/header.js';
import { checkPageIndexLayout, encodePageIndex, parsePageIndexEntries, type PageIndexEntry } from '../../ltx/page-index.js';
import { decodeTrailer, encodeTrailer, TRAILER_SIZE } from '../../ltx/trailer.js';
import { PAGE_HEADER_SIZE } from '../../ltx/frame.js';
import type { LtxFileInfo } from '../storage/types.js';
import { makeLtxFile, type LtxFile } from '../replica/page-index.js';

/** The format's directory under the cache directory (a new format gets a new one). */
export const FORMAT_DIR = 'v1';
/** Bytes before the identity. */
export const ENTRY_HEADER_SIZE = 24;
export const PAGE_MAGIC = 0x4c565031; // 'LVP1'
export const FILE_MAGIC = 0x4c564631; // 'LVF1'
export const VERIFIED_MAGIC = 0x4c565631; // 'LVV1'
/** The identity length is a u16. */
export const MAX_IDENTITY_BYTES = 0xffff;

/** The folders entries live in, under `<dir>/v1`. */
export type EntryKind = 'pages' | 'files';

/** An entry's identity (UTF-8), the hash its file is named by, and the file's path. */
export interface EntryName {
  identity: Uint8Array;
  hash: string;
  path: string;
}

/** The name of the entry of kind `kind` with identity `identity`, under `root` (`<dir>/v1`). */
export function entryName(root: string, kind: EntryKind, identity: string): EntryName {
  const hash = createHash('sha256').update(identity).digest('hex').slice(0, 32);
  return { identity: Buffer.from(identity, 'utf8'), hash, path: join(root, kind, hash.slice(0, 2), hash.slice(2)) };
}

/** The contents of an LTX file as entries name it: replica URL, key, size and stored file checksum. */
export function fileIdentity(replicaUrl: string, file: LtxFile): string {
  return `${replicaUrl}\n${file.info.key}\n${file.info.size}\n${formatChecksum(file.trailer.fileChecksum)}`;
}

/** Identity of the page of frame `e` of the file whose {@link fileIdentity} is `fileId`. */
export function pageIdentity(fileId: string, e: PageIndexEntry): string {
  return `ltxvfs page\n${fileId}\n${e.offset}\n${e.size}\n${e.pgno}`;
}

/** Identity of the header, page index and trailer of the listed LTX file `info`. */
export function ltxFileIdentity(replicaUrl: string, info: LtxFileInfo): string {
  return `ltxvfs ltx file\n${replicaUrl}\n${info.key}\n${info.size}\n${info.createdAt}`;
}

/** Identity of the record that the file whose {@link fileIdentity} is `fileId` matched its file checksum. */
export function verifiedIdentity(fileId: string): string {
  return `ltxvfs verified ltx file\n${fileId}`;
}

/** The u64 at `offset` of `buf`, big-endian. */
export function readU64(buf: Uint8Array, offset: number): bigint {
  return new DataView(buf.buffer, buf.byteOffset + offset, 8).getBigUint64(0);
}

/** The checksum of a file or verified entry: CRC-64/GO-ISO of the payload with bit 63 set. */
export function payloadChecksum(payload: Uint8Array): bigint {
  return crc64(payload) | CHECKSUM_FLAG;
}

/** The bytes of an entry file (see the module comment). */
export function encodeEntry(magic: number, identity: Uint8Array, pgno: number, payload: Uint8Array, checksum: bigint): Uint8Array {
  const out = new Uint8Array(ENTRY_HEADER_SIZE + identity.length + payload.length);
  const view = new DataView(out.buffer);
  view.setUint32(0, magic);
  view.setUint16(4, identity.length);
  view.setUint32(8, pgno);
  view.setUint32(12, payload.length);
  view.setBigUint64(16, checksum);
  out.set(identity, ENTRY_HEADER_SIZE);
  out.set(payload, ENTRY_HEADER_SIZE + identity.length);
  return out;
}

/** Why `buf` is not the entry expected (magic, identity, pgno, exact length), or undefined. The checksum is checked by the caller. */
export function entryProblem(buf: Uint8Array, magic: number, identity: Uint8Array, pgno: number, payloadLength: number | undefined): string | undefined {
  if (buf.length < ENTRY_HEADER_SIZE) return `truncated: ${buf.length} bytes`;
  const view = new DataView(buf.buffer, buf.byteOffset, ENTRY_HEADER_SIZE);
  if (view.getUint32(0) !== magic) return 'bad magic';
  if (view.getUint16(4) !== identity.length) return 'identity differs';
  if (view.getUint32(8) !== pgno) return `holds page ${view.getUint32(8)}, expected ${pgno}`;
  const n = view.getUint32(12);
  if (payloadLength !== undefined && n !== payloadLength) return `payload of ${n} bytes, expected ${payloadLength}`;
  if (buf.length !== ENTRY_HEADER_SIZE + identity.length + n) return `length ${buf.length}, expected ${ENTRY_HEADER_SIZE + identity.length + n}`;
  const stored = buf.subarray(ENTRY_HEADER_SIZE, ENTRY_HEADER_SIZE + identity.length);
  for (let i = 0; i < identity.length; i++) if (stored[i] !== identity[i]) return 'identity differs';
  return undefined;
}

/**
 * The payload of the file or verified entry `buf` when it is the entry expected
 * ({@link entryProblem}, pgno 0) and its {@link payloadChecksum} matches; else why not.
 */
export function checkedPayload(buf: Uint8Array, magic: number, identity: Uint8Array, payloadLength: number | undefined): Uint8Array | string {
  const bad = entryProblem(buf, magic, identity, 0, payloadLength);
  if (bad !== undefined) return bad;
  const payload = buf.subarray(ENTRY_HEADER_SIZE + identity.length);
  return payloadChecksum(payload) === readU64(buf, 16) ? payload : 'checksum mismatch';
}

/** The payload of a file entry: header ‖ trailer ‖ page index of `file`. @throws LtxvfsError from the header encoder (e.g. a legacy generation). */
export function encodeFilePayload(file: LtxFile): Uint8Array {
  const header = encodeHeader(file.header);
  const index = encodePageIndex(file.entries);
  const out = new Uint8Array(HEADER_SIZE + TRAILER_SIZE + index.length);
  out.set(header, 0);
  out.set(encodeTrailer(file.trailer), HEADER_SIZE);
  out.set(index, HEADER_SIZE + TRAILER_SIZE);
  return out;
}

/**
 * The LtxFile a file entry's payload describes, checked as the loader checks what it reads.
 * @throws Error (or LtxvfsError from the codec) saying what does not fit the listing `info`.
 */
export function decodeFilePayload(info: LtxFileInfo, payload: Uint8Array): LtxFile {
  const key = info.key;
  const header = decodeHeader(payload, key);
  if (header.minTXID !== info.minTXID || header.maxTXID !== info.maxTXID) throw new Error('header TXIDs differ from the listing');
  const trailer = decodeTrailer(payload, key, HEADER_SIZE);
  const { entries, end } = parsePageIndexEntries(payload, HEADER_SIZE + TRAILER_SIZE, payload.length, key);
  if (end + 8 !== payload.length) throw new Error('page index length differs');
  const indexOffset = (entries.length === 0 ? HEADER_SIZE : entries.end(entries.length - 1)) + PAGE_HEADER_SIZE;
  checkPageIndexLayout(entries, indexOffset, key);
  if (indexOffset + 8 + TRAILER_SIZE > info.size) throw new Error('page index does not fit the file size');
  return makeLtxFile(info, header, trailer, entries);
}
