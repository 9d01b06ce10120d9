/**
 * Shared pieces of the ltx codec tests: fixture access (`fixtures/` in the
 * repo), the manifest, an error assertion, and a raw file builder that writes what the
 * encoder refuses to, for the decoder's bad-input tests.
 */
import { readFileSync } from 'node:fs';
import { isLtxvfsError, type LtxvfsErrorCode } from '../../ltx/errors.js';
import { computeFileChecksum } from '../../ltx/decoder.js';
import { encodePageFrame, type FrameVariant } from '../../ltx/frame.js';
import { HEADER_SIZE, type LtxHeader } from '../../ltx/header.js';
import { encodePageIndex, type PageIndexEntry } from '../../ltx/page-index.js';

export const FIXTURES = new URL('../../fixtures/litestream-0.5.17/', import.meta.url);

/** Bytes of a fixture file, by path relative to fixtures/litestream-0.5.17/. */
export function fixture(path: string): Uint8Array {
  return new Uint8Array(readFileSync(new URL(path, FIXTURES)));
}

export interface ManifestFile {
  path: string;
  size: number;
  header: {
    flags: number;
    pageSize: number;
    commit: number;
    minTXID: number;
    maxTXID: number;
    timestamp: number;
    preApplyChecksum: string;
    walOffset: number;
    walSize: number;
    walSalt1: number;
    walSalt2: number;
    nodeID: number;
  };
  pages: { pgno: number; flags: number; frameOffset: number; frameSize: number; compressedSize: number; pageChecksum: string }[];
  pageIndex: { offset: number; size: number; hex: string };
  trailer: { postApplyChecksum: string; fileChecksum: string };
  computed: { databaseChecksumBefore: string; databaseChecksumAfter: string };
}

export const manifest = JSON.parse(readFileSync(new URL('manifest.json', FIXTURES), 'utf8')) as { files: ManifestFile[] };

/** The five real files written by Litestream 0.5.17, in TXID order. */
export const realFiles = manifest.files;

/** File names of the five real files (and of their derived/checksummed twins). */
export const realNames = realFiles.map((f) => f.path.split('/').pop() as string);

/** TXID 1, the smallest real file (374 bytes, docs/formats.md §3.2). */
export const TXID1 = 'replica/ltx/0/0000000000000001-0000000000000001.ltx';
export const TXID1_NAME = '0000000000000001-0000000000000001.ltx';

export const hexBig = (s: string): bigint => BigInt(`0x${s}`);
export const toHex = (b: Uint8Array): string => Buffer.from(b).toString('hex');

/** The few tap assertions {@link throwsLtx} uses (rest tuples to fit tap's overloads). */
interface Asserts {
  ok(value: unknown, ...message: [string]): unknown;
  match(found: unknown, wanted: unknown, ...message: [] | [string]): unknown;
  fail(...message: [string]): unknown;
}

/**
 * Assert that `fn` throws an LtxvfsError with `code` whose message starts with `where`
 * (the file it is about) and matches every `reason` pattern.
 */
export function throwsLtx(t: Asserts, fn: () => unknown, code: LtxvfsErrorCode, where: string, ...reasons: RegExp[]): void {
  try {
    fn();
  } catch (err) {
    const message = err instanceof Error ? err.message : String(err);
    t.ok(isLtxvfsError(err, code), `${code} expected, got ${(err as { code?: string }).code}: ${message}`);
    t.ok(message.startsWith(`${where}:`), `message names ${where}: ${message}`);
    for (const r of reasons) t.match(message, r);
    return;
  }
  t.fail(`expected ${code}, nothing thrown`);
}

/** A copy of `buf` with `patch` applied, then the file checksum recomputed and stored. */
export function patched(buf: Uint8Array, patch: (b: Uint8Array, view: DataView) => void, reseal = true): Uint8Array {
  const out = buf.slice();
  patch(out, new DataView(out.buffer));
  if (reseal) resealFile(out);
  return out;
}

/** Store the computed file checksum in the last 8 bytes (in place). */
export function resealFile(buf: Uint8Array): void {
  new DataView(buf.buffer, buf.byteOffset).setBigUint64(buf.length - 8, computeFileChecksum(buf, 'reseal'));
}

/** Header bytes without validation, so rule-breaking headers can be written. */
export function rawHeader(h: LtxHeader): Uint8Array {
  const buf = new Uint8Array(HEADER_SIZE);
  const v = new DataView(buf.buffer);
  buf.set([0x4c, 0x54, 0x58, 0x31]);
  v.setUint32(4, h.flags);
  v.setUint32(8, h.pageSize);
  v.setUint32(12, h.commit);
  v.setBigUint64(16, BigInt(h.minTXID));
  v.setBigUint64(24, BigInt(h.maxTXID));
  v.setBigInt64(32, BigInt(h.timestamp));
  v.setBigUint64(40, h.preApplyChecksum);
  v.setBigUint64(48, BigInt(h.walOffset));
  v.setBigUint64(56, BigInt(h.walSize));
  v.setUint32(64, h.walSalt1);
  v.setUint32(68, h.walSalt2);
  v.setBigUint64(72, BigInt(h.nodeID));
  return buf;
}

/** A NoChecksum header for tests; override what matters. */
export function testHeader(over: Partial<LtxHeader> = {}): LtxHeader {
  return {
    flags: 2,
    pageSize: 4096,
    commit: 2,
    minTXID: 2,
    maxTXID: 2,
    timestamp: 1795254709256,
    preApplyChecksum: 0n,
    walOffset: 0,
    walSize: 0,
    walSalt1: 0,
    walSalt2: 0,
    nodeID: 0,
    ...over,
  };
}

/** A deterministic page whose bytes depend on `seed`. */
export function testPage(seed: number, pageSize = 4096): Uint8Array {
  const page = new Uint8Array(pageSize);
  const text = new TextEncoder().encode(`page ${seed} `.repeat(8));
  for (let i = 0; i < pageSize; i += 512) page.set(text.subarray(0, Math.min(text.length, pageSize - i)), i);
  page[0] = seed & 0xff;
  return page;
}

/**
 * An LTX file assembled without any rule check: header as given, frames in the given
 * order, terminator, index of those frames (or `index` if given), trailer with
 * `post` and a correct file checksum.
 */
export function rawLtx(
  header: LtxHeader,
  pages: { pgno: number; data: Uint8Array; variant?: FrameVariant }[],
  post = 0n,
  index?: PageIndexEntry[],
): Uint8Array {
  const parts: Uint8Array[] = [rawHeader(header)];
  const entries: PageIndexEntry[] = [];
  let offset = HEADER_SIZE;
  for (const p of pages) {
    const frame = encodePageFrame(p.pgno, p.data, p.variant ?? 'block');
    parts.push(frame);
    entries.push({ pgno: p.pgno, offset, size: frame.length });
    offset += frame.length;
  }
  parts.push(new Uint8Array(6), encodePageIndex(index ?? entries));
  const trailer = new Uint8Array(16);
  new DataView(trailer.buffer).setBigUint64(0, post);
  parts.push(trailer);
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let p = 0;
  for (const part of parts) {
    out.set(part, p);
    p += part.length;
  }
  resealFile(out);
  return out;
}

/** Incompressible deterministic bytes (xorshift32). */
export function randomBytes(n: number, seed = 1): Uint8Array {
  let s = seed >>> 0 || 1;
  return Uint8Array.from({ length: n }, () => {
    s ^= s << 13;
    s ^= s >>> 17;
    s ^= s << 5;
    return s & 0xff;
  });
}

/** Byte equality without tap's element-by-element diffing (slow on 64 KiB pages). */
export function bytesEqual(a: Uint8Array, b: Uint8Array): boolean {
  return Buffer.from(a.buffer, a.byteOffset, a.length).equals(Buffer.from(b.buffer, b.byteOffset, b.length));
}
