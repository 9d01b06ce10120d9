/**
 * LZ4 block decode/encode speed of the two pure-JS/wasm candidates on 4 KiB SQLite
 * pages, plus CRC-64 throughput. Run: `npx tsx bench/lz4.ts`. Figures and the decision
 * are recorded in docs/lz4.md.
 *
 * Corpora (all 4096-byte pages):
 * - go:       the 14 blocks of the five fixture files, compressed by Go (pierrec/lz4 v4)
 * - chinook:  every page of the Chinook sample database, compressed by each encoder
 * - rows:     generated table-leaf pages of text rows
 * - random:   incompressible random bytes (literal-only blocks, N > pageSize)
 *
 * lz4-wasm-nodejs only exposes size-prepended blocks (`decompress(u32le size ‖ block)`),
 * so its decode cost includes writing that prefix and copying into a scratch buffer,
 * exactly what ltx/lz4.ts would do.
 */
import { readFileSync, readdirSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import * as lz4js from 'lz4js';
import * as wasm from 'lz4-wasm-nodejs';
import { crc64 } from '../ltx/crc64.js';
import { decodeIndexedFrame, encodePageFrame } from '../ltx/frame.js';
import { decompressFrame } from '../ltx/lz4.js';

const PAGE_SIZE = 4096;
const fixtures = new URL('../fixtures/', import.meta.url);

/** Go-written blocks of the real fixture files, walked by hand (v3-block frames). */
function goBlocks(): Uint8Array[] {
  const dir = new URL('litestream-0.5.17/replica/ltx/0/', fixtures);
  const blocks: Uint8Array[] = [];
  for (const name of readdirSync(fileURLToPath(dir)).sort()) {
    const buf = new Uint8Array(readFileSync(new URL(name, dir)));
    const view = new DataView(buf.buffer, buf.byteOffset, buf.byteLength);
    for (let off = 100; ; ) {
      const pgno = view.getUint32(off);
      if (pgno === 0) break;
      const size = view.getUint32(off + 6);
      blocks.push(buf.slice(off + 10, off + 10 + size));
      off += 10 + size;
    }
  }
  return blocks;
}

function chinookPages(): Uint8Array[] {
  const db = new Uint8Array(readFileSync(new URL('chinook/Chinook_Sqlite.sqlite', fixtures)));
  const pages: Uint8Array[] = [];
  for (let off = 0; off + PAGE_SIZE <= db.length; off += PAGE_SIZE) pages.push(db.slice(off, off + PAGE_SIZE));
  return pages;
}

/** Deterministic PRNG so runs are comparable. */
function xorshift(seed: number): () => number {
  let s = seed >>> 0 || 1;
  return () => {
    s ^= s << 13;
    s ^= s >>> 17;
    s ^= s << 5;
    return s >>> 0;
  };
}

/** A table-leaf-like page: cell pointers at the front, text rows packed at the end. */
function rowPages(count: number): Uint8Array[] {
  const rnd = xorshift(42);
  const words = ['alpha', 'bravo', 'charlie', 'delta', 'echo', 'foxtrot', 'golf', 'hotel', 'india', 'juliet'];
  const enc = new TextEncoder();
  const pages: Uint8Array[] = [];
  for (let p = 0; p < count; p++) {
    const page = new Uint8Array(PAGE_SIZE);
    page[0] = 0x0d;
    let end = PAGE_SIZE;
    let cells = 0;
    for (let id = p * 100; ; id++) {
      const text = `row-${id} ${words[rnd() % 10]} ${words[rnd() % 10]}@example.com ${rnd() % 100000}`;
      const cell = enc.encode(`\x00${String.fromCharCode(id & 0x7f)}\x03\x01\x17${text}`);
      if (end - cell.length < 8 + 2 * (cells + 1)) break;
      end -= cell.length;
      page.set(cell, end);
      page[8 + 2 * cells] = end >> 8;
      page[9 + 2 * cells] = end & 0xff;
      cells++;
    }
    page[3] = cells >> 8;
    page[4] = cells & 0xff;
    pages.push(page);
  }
  return pages;
}

function randomPages(count: number): Uint8Array[] {
  const rnd = xorshift(7);
  return Array.from({ length: count }, () => {
    const page = new Uint8Array(PAGE_SIZE);
    for (let i = 0; i < PAGE_SIZE; i++) page[i] = rnd() & 0xff;
    return page;
  });
}

// --- the candidates, used the way ltx/lz4.ts would use them ---

const hashTable = new Uint32Array(1 << 16);
const jsScratch = new Uint8Array(lz4js.compressBound(65536));

function lz4jsEncode(page: Uint8Array): Uint8Array {
  hashTable.fill(0);
  const n = lz4js.compressBlock(page, jsScratch, 0, page.length, hashTable);
  if (n > 0) return jsScratch.slice(0, n);
  // lz4js returns 0 when it found no match: emit a literal-only block.
  const out: number[] = [0xf0];
  let rest = page.length - 15;
  for (; rest >= 255; rest -= 255) out.push(255);
  out.push(rest);
  const block = new Uint8Array(out.length + page.length);
  block.set(out);
  block.set(page, out.length);
  return block;
}

function lz4jsDecode(block: Uint8Array): Uint8Array {
  const out = new Uint8Array(PAGE_SIZE);
  const n = lz4js.decompressBlock(block, out, 0, block.length, 0);
  if (n !== PAGE_SIZE) throw new Error(`lz4js decoded ${n} bytes`);
  return out;
}

function wasmEncode(page: Uint8Array): Uint8Array {
  return wasm.compress(page).subarray(4);
}

let wasmScratch = new Uint8Array(4 + 70000);
function wasmDecode(block: Uint8Array): Uint8Array {
  if (wasmScratch.length < block.length + 4) wasmScratch = new Uint8Array(block.length + 4);
  wasmScratch[0] = PAGE_SIZE & 0xff;
  wasmScratch[1] = (PAGE_SIZE >>> 8) & 0xff;
  wasmScratch[2] = (PAGE_SIZE >>> 16) & 0xff;
  wasmScratch[3] = PAGE_SIZE >>> 24;
  wasmScratch.set(block, 4);
  const out = wasm.decompress(wasmScratch.subarray(0, block.length + 4));
  if (out.length !== PAGE_SIZE) throw new Error(`lz4-wasm decoded ${out.length} bytes`);
  return out;
}

// --- harness ---

/**
 * Runs `fn` over `items` for a warm-up period (V8 tiers wasm and JS up lazily), then in
 * `rounds` timed rounds of ≥ `ms` each; returns the median round as MB/s of
 * `bytesPerItem` and µs per item. The median keeps a noisy neighbour from deciding.
 */
function measure<T>(items: T[], fn: (item: T) => unknown, bytesPerItem: (item: T) => number, ms = 150, rounds = 7) {
  const round = (limitMs: number) => {
    let n = 0;
    let bytes = 0;
    const start = process.hrtime.bigint();
    const limit = BigInt(limitMs) * 1_000_000n;
    let elapsed = 0n;
    while (elapsed < limit) {
      for (const it of items) {
        fn(it);
        bytes += bytesPerItem(it);
        n++;
      }
      elapsed = process.hrtime.bigint() - start;
    }
    const sec = Number(elapsed) / 1e9;
    return { mbps: bytes / 1e6 / sec, usPerItem: (sec * 1e6) / n };
  };
  round(300);
  const results = Array.from({ length: rounds }, () => round(ms)).sort((a, b) => a.mbps - b.mbps);
  return results[rounds >> 1];
}

function equal(a: Uint8Array, b: Uint8Array): boolean {
  return a.length === b.length && a.every((v, i) => v === b[i]);
}

function fmt(r: { mbps: number; usPerItem: number }): string {
  return `${r.mbps.toFixed(0).padStart(6)} MB/s ${r.usPerItem.toFixed(2).padStart(7)} µs/page`;
}

function main(): void {
  const go = goBlocks();
  const goPages = go.map(wasmDecode);
  // Correctness first: both decoders must agree byte for byte on Go's blocks, and the
  // TXID 5 pages (the last four blocks) must equal the expected database.
  const expected = new Uint8Array(readFileSync(new URL('litestream-0.5.17/expected/test-txid-0000000000000005.db', fixtures)));
  go.forEach((b, i) => {
    if (!equal(lz4jsDecode(b), goPages[i])) throw new Error(`decoders disagree on Go block ${i}`);
  });
  goPages.slice(-4).forEach((p, i) => {
    if (!equal(p, expected.subarray(i * PAGE_SIZE, (i + 1) * PAGE_SIZE))) throw new Error(`TXID 5 page ${i + 1} differs`);
  });
  console.log(`correctness: both decoders reproduce all ${go.length} Go blocks; TXID 5 pages equal the expected db`);

  const corpora: Record<string, Uint8Array[]> = {
    chinook: chinookPages(),
    rows: rowPages(64),
    random: randomPages(16),
  };
  const encoders = { lz4js: lz4jsEncode, 'lz4-wasm': wasmEncode } as const;
  const decoders = { lz4js: lz4jsDecode, 'lz4-wasm': wasmDecode } as const;

  // Cross-check: every encoder's blocks decode to the original with every decoder.
  for (const [cname, pages] of Object.entries(corpora)) {
    for (const [ename, enc] of Object.entries(encoders)) {
      for (const page of pages) {
        const block = enc(page);
        for (const [dname, dec] of Object.entries(decoders)) {
          if (!equal(dec(block), page)) throw new Error(`${cname}: ${ename} block fails ${dname}`);
        }
      }
    }
  }
  console.log('cross-check: blocks of each encoder decode exactly with each decoder\n');

  console.log('DECODE (MB/s of decompressed output, 4 KiB pages)');
  const decodeSets: [string, Uint8Array[]][] = [['go (fixture blocks)', go]];
  for (const [cname, pages] of Object.entries(corpora)) {
    for (const [ename, enc] of Object.entries(encoders)) decodeSets.push([`${cname} (${ename} blocks)`, pages.map(enc)]);
  }
  for (const [label, blocks] of decodeSets) {
    const ratio = blocks.reduce((s, b) => s + b.length, 0) / (blocks.length * PAGE_SIZE);
    for (const [dname, dec] of Object.entries(decoders)) {
      console.log(`  ${label.padEnd(26)} ratio ${ratio.toFixed(2)}  ${dname.padEnd(9)} ${fmt(measure(blocks, dec, () => PAGE_SIZE))}`);
    }
  }

  console.log('\nENCODE (MB/s of input)');
  for (const [cname, pages] of Object.entries(corpora)) {
    for (const [ename, enc] of Object.entries(encoders)) {
      const ratio = pages.reduce((s, p) => s + enc(p).length, 0) / (pages.length * PAGE_SIZE);
      console.log(`  ${cname.padEnd(8)} ${ename.padEnd(9)} ratio ${ratio.toFixed(2)} ${fmt(measure(pages, enc, () => PAGE_SIZE))}`);
    }
  }

  console.log('\nltx codec hot path (chinook pages, what a random page read costs)');
  const blockFrames = corpora.chinook.map((p, i) => encodePageFrame(i + 1, p, 'block'));
  const lz4Frames = corpora.chinook.map((p, i) => encodePageFrame(i + 1, p, 'frame'));
  const indexed = (frames: Uint8Array[]) => {
    let i = 0;
    return (f: Uint8Array) => decodeIndexedFrame(f, (i++ % frames.length) + 1, PAGE_SIZE, 'bench');
  };
  console.log(`  decodeIndexedFrame, v3-block ${fmt(measure(blockFrames, indexed(blockFrames), () => PAGE_SIZE))}`);
  console.log(`  decodeIndexedFrame, v3-frame ${fmt(measure(lz4Frames, indexed(lz4Frames), () => PAGE_SIZE))}`);
  console.log(`  decompressFrame alone        ${fmt(measure(lz4Frames, (f) => decompressFrame(f, 6, PAGE_SIZE, 'bench'), () => PAGE_SIZE))}`);

  console.log('\nCRC-64/GO-ISO (ltx/crc64.ts)');
  const page = corpora.chinook[10];
  const big = new Uint8Array(1 << 20).map((_, i) => (i * 131) & 0xff);
  console.log(`  4 KiB page ${fmt(measure([page], (p) => crc64(p), () => PAGE_SIZE))}`);
  console.log(`  1 MiB      ${fmt(measure([big], (p) => crc64(p), () => big.length))}`);
}

main();
