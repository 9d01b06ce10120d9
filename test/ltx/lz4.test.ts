import t from 'tap';
import * as lz4js from 'lz4js';
import { compressBlock, compressFrame, decompressBlock, decompressBlockInto, decompressFrame, lz4BlockBound } from '../../ltx/lz4.js';
import { xxh32 } from '../../ltx/xxh32.js';
import { bytesEqual, fixture, randomBytes, realFiles, testPage, throwsLtx, toHex } from './util.js';

const W = 'f.ltx: frame at offset 100';
const page = testPage(3);
const randomPage = randomBytes(4096, 9);

t.test('decodes the Go-written blocks of every real file; TXID 5 equals the expected database', async (t) => {
  const expected = fixture('expected/test-txid-0000000000000005.db');
  for (const f of realFiles) {
    const buf = fixture(f.path);
    for (const p of f.pages) {
      const start = p.frameOffset + 10;
      const block = buf.subarray(start, start + p.compressedSize);
      const data = decompressBlock(block, 4096, f.path);
      t.equal(data.length, 4096);
      // lz4js as an independent decoder of the same bytes.
      const ref = new Uint8Array(4096);
      t.equal(lz4js.decompressBlock(block, ref, 0, block.length, 0), 4096);
      t.ok(bytesEqual(data, ref), `${f.path} page ${p.pgno}`);
      if (f.header.maxTXID === 5) t.ok(bytesEqual(data, expected.subarray((p.pgno - 1) * 4096, p.pgno * 4096)), `TXID 5 page ${p.pgno} is the expected page`);
    }
  }
});

t.test('compressBlock round trip; incompressible pages become longer literal blocks', async (t) => {
  for (const p of [page, new Uint8Array(4096), randomPage, testPage(9, 512), testPage(9, 65536)]) {
    const block = compressBlock(p);
    t.ok(block.length <= lz4BlockBound(p.length), 'within the bound');
    t.ok(bytesEqual(decompressBlock(block, p.length, 'rt'), p), `${p.length}-byte page round trip`);
    const ref = new Uint8Array(p.length);
    t.equal(lz4js.decompressBlock(block, ref, 0, block.length, 0), p.length, 'lz4js decodes it too');
    t.ok(bytesEqual(ref, p));
  }
  t.ok(compressBlock(randomPage).length > 4096, 'random page: N > pageSize (docs/formats.md §1.5)');
  t.equal(lz4BlockBound(4096), 4128);
  t.equal(lz4BlockBound(65536), 65809);
});

t.test('decompressBlock errors name the frame and the reason', async (t) => {
  const block = compressBlock(page);
  throwsLtx(t, () => decompressBlock(block.subarray(0, block.length - 3), 4096, W), 'LTXVFS_ERR_CORRUPT', W, /LZ4 block of \d+ bytes invalid/);
  // Literal 'A' then a match reaching 16 bytes before the start of the output.
  const badOffset = Uint8Array.from([0x1f, 0x41, 0x10, 0x00, 0xff, 0x10]);
  throwsLtx(t, () => decompressBlock(badOffset, 4096, W), 'LTXVFS_ERR_CORRUPT', W, /LZ4 block of 6 bytes invalid \(.*offset/);
  const small = compressBlock(page.subarray(0, 100));
  throwsLtx(t, () => decompressBlock(small, 4096, W), 'LTXVFS_ERR_CORRUPT', W, /LZ4 block of \d+ bytes invalid \(.*100.*4096/);
  throwsLtx(t, () => decompressBlock(compressBlock(testPage(1, 8192)), 4096, W), 'LTXVFS_ERR_CORRUPT', W, /invalid/);
  throwsLtx(t, () => decompressBlock(new Uint8Array(0), 4096, W), 'LTXVFS_ERR_CORRUPT', W, /LZ4 block of 0 bytes invalid/);
  throwsLtx(t, () => decompressBlock(new Uint8Array(4129), 4096, W), 'LTXVFS_ERR_CORRUPT', W, /exceeds the LZ4 bound 4128 of a 4096-byte page/);
  // A block longer than the scratch buffer grows it instead of failing.
  const big = compressBlock(randomBytes(65536, 5));
  t.ok(big.length > 65536 + 4);
  t.equal(decompressBlock(big, 65536, 'big').length, 65536);
});

t.test('compressFrame writes what pierrec/lz4 writes: FLG 0x64, BD 0x40, content checksum', async (t) => {
  const f = compressFrame(page);
  t.equal(toHex(f.subarray(0, 7)), '04224d186440a7', 'magic, FLG, BD, header checksum');
  const { data, end } = decompressFrame(f, 0, 4096, 'rt');
  t.ok(bytesEqual(data, page));
  t.equal(end, f.length);
  t.ok(bytesEqual(lz4js.decompress(f), page), 'lz4js reads it');
  const stored = compressFrame(randomPage);
  t.equal(stored.length, 7 + 4 + 4096 + 4 + 4, 'incompressible page stored uncompressed');
  t.equal(stored[10] & 0x80, 0x80, 'high bit of the block size');
  t.ok(bytesEqual(decompressFrame(stored, 0, 4096, 'rt').data, randomPage));
  t.ok(bytesEqual(decompressFrame(compressFrame(testPage(4, 65536)), 0, 65536, 'rt').data, testPage(4, 65536)), '64 KiB page');
  throwsLtx(t, () => compressFrame(new Uint8Array(65537)), 'LTXVFS_ERR_USAGE', 'LZ4 frame', /exceeds one 64 KB block/);
});

t.test('decompressFrame reads frames of other encoders and reports the end offset', async (t) => {
  const jf = lz4js.compress(page); // BD 0x70 (4 MB blocks), no content checksum
  const buf = new Uint8Array(jf.length + 20);
  buf.set(jf, 10);
  const { data, end } = decompressFrame(buf, 10, 4096, 'lz4js');
  t.ok(bytesEqual(data, page));
  t.equal(end, 10 + jf.length, 'the next page header starts right after');
});

interface FrameSpec {
  flg?: number;
  bd?: number;
  contentSize?: bigint;
  dictId?: number;
  hc?: number;
  blocks?: { data: Uint8Array; stored?: boolean; checksum?: number }[];
  endMark?: boolean;
  contentChecksum?: number;
}

/** An LZ4 frame assembled by hand so each field can be made wrong. */
function lz4Frame(spec: FrameSpec): Uint8Array {
  let flg = spec.flg ?? 0x64;
  if (spec.contentSize !== undefined) flg |= 0x08;
  if (spec.dictId !== undefined) flg |= 0x01;
  const out: number[] = [0x04, 0x22, 0x4d, 0x18, flg, spec.bd ?? 0x40];
  const le = (v: number, n: number) => {
    for (let i = 0; i < n; i++) out.push(Number((BigInt(v) >> BigInt(8 * i)) & 0xffn));
  };
  if (spec.contentSize !== undefined) for (let i = 0n; i < 8n; i++) out.push(Number((spec.contentSize >> (8n * i)) & 0xffn));
  if (spec.dictId !== undefined) le(spec.dictId, 4);
  out.push(spec.hc ?? (xxh32(Uint8Array.from(out), 4) >>> 8) & 0xff);
  for (const b of spec.blocks ?? [{ data: compressBlock(page) }]) {
    le((b.data.length | (b.stored ? 0x80000000 : 0)) >>> 0, 4);
    out.push(...b.data);
    if ((flg & 0x10) !== 0) le(b.checksum ?? xxh32(b.data), 4);
  }
  if (spec.endMark !== false) le(0, 4);
  if ((flg & 0x04) !== 0) le(spec.contentChecksum ?? xxh32(page), 4);
  return Uint8Array.from(out);
}

t.test('decompressFrame handles the optional fields: content size, block checksums, several blocks', async (t) => {
  const withSize = lz4Frame({ contentSize: 4096n });
  t.ok(bytesEqual(decompressFrame(withSize, 0, 4096, 'cs').data, page), 'content size');
  const blockSums = lz4Frame({ flg: 0x74 });
  t.ok(bytesEqual(decompressFrame(blockSums, 0, 4096, 'bs').data, page), 'block checksums');
  const halves = lz4Frame({
    blocks: [{ data: page.subarray(0, 1000), stored: true }, { data: compressBlock(page.subarray(1000)) }],
  });
  // The last compressed block decodes to what remains of the page: 3096 bytes.
  t.ok(bytesEqual(decompressFrame(halves, 0, 4096, 'halves').data, page), 'stored block, then a compressed last block');
  const storedThenStored = lz4Frame({
    blocks: [
      { data: page.subarray(0, 1000), stored: true },
      { data: page.subarray(1000), stored: true },
    ],
  });
  t.ok(bytesEqual(decompressFrame(storedThenStored, 0, 4096, 'ss').data, page), 'two stored blocks');
  const sixteenK = testPage(5, 16384);
  const multi = lz4Frame({
    bd: 0x40,
    blocks: [{ data: compressBlock(sixteenK) }],
    contentChecksum: xxh32(sixteenK),
  });
  t.ok(bytesEqual(decompressFrame(multi, 0, 16384, 'm').data, sixteenK));
  const noChecksum = lz4Frame({ flg: 0x60 });
  t.equal(decompressFrame(noChecksum, 0, 4096, 'n').end, noChecksum.length, 'no content checksum');
});

t.test('decompressFrame rejects every malformed field, naming the frame offset and the reason', async (t) => {
  const cases: [string, Uint8Array, RegExp][] = [
    ['magic', Uint8Array.from([0x05, 0x22, 0x4d, 0x18, 0x64, 0x40, 0xa7]), /magic 0x184d2205 invalid/],
    ['version', lz4Frame({ flg: 0xa4 }), /FLG 0xa4 invalid \(version must be 01\)/],
    ['FLG reserved bit', lz4Frame({ flg: 0x66 }), /reserved bits set/],
    ['BD reserved bit', lz4Frame({ bd: 0x41 }), /reserved bits set/],
    ['BD block size code', lz4Frame({ bd: 0x30 }), /BD 0x30 invalid \(block size code 3\)/],
    ['header checksum', lz4Frame({ hc: 0 }), /header checksum 0x0 invalid \(computed 0xa7\)/],
    ['content size', lz4Frame({ contentSize: 8192n }), /content size 8192 invalid \(expected the page size 4096\)/],
    ['content size above 2^32', lz4Frame({ contentSize: (1n << 32n) + 4096n }), /content size 4294971392 invalid/],
    ['block checksum', lz4Frame({ flg: 0x74, blocks: [{ data: compressBlock(page), checksum: 1 }] }), /block checksum mismatch/],
    ['content checksum', lz4Frame({ contentChecksum: 1 }), /content checksum mismatch/],
    ['block over the maximum', lz4Frame({ blocks: [{ data: new Uint8Array(0x10001), stored: true }] }), /block of 65537 bytes invalid \(exceeds the frame's maximum 65536\)/],
    ['stored block beyond the page', lz4Frame({ blocks: [{ data: new Uint8Array(4097), stored: true }] }), /blocks decode to more than 4096 bytes/],
    [
      'extra block after a full page',
      lz4Frame({ blocks: [{ data: compressBlock(page) }, { data: compressBlock(page) }] }),
      /blocks decode to more than 4096 bytes/,
    ],
    ['short output', lz4Frame({ blocks: [{ data: page.subarray(0, 100), stored: true }] }), /decodes to 100 bytes, expected 4096/],
    ['no blocks', lz4Frame({ blocks: [] }), /decodes to 0 bytes, expected 4096/],
    ['malformed block', lz4Frame({ blocks: [{ data: Uint8Array.from([0x1f, 0x41, 0x10, 0x00, 0xff, 0x10]) }] }), /LZ4 block of 6 bytes invalid/],
  ];
  for (const [name, frame, reason] of cases) {
    t.test(name, async (t) => throwsLtx(t, () => decompressFrame(frame, 0, 4096, 'f.ltx: frame at offset 100'), 'LTXVFS_ERR_CORRUPT', 'f.ltx: frame at offset 100', /LZ4 frame at offset 0/, reason));
  }
});

t.test('decompressFrame: truncation anywhere is reported as truncated', async (t) => {
  const full = lz4Frame({ contentSize: 4096n, flg: 0x74 });
  for (const cut of [0, 3, 6, 10, 14, 15, 20, full.length - 9, full.length - 5, full.length - 1]) {
    throwsLtx(t, () => decompressFrame(full.subarray(0, cut), 0, 4096, 'f.ltx'), 'LTXVFS_ERR_CORRUPT', 'f.ltx', /truncated: .* data ends at \d+/);
  }
  const noEnd = lz4Frame({ endMark: false, flg: 0x60 });
  throwsLtx(t, () => decompressFrame(noEnd, 0, 4096, 'f.ltx'), 'LTXVFS_ERR_CORRUPT', 'f.ltx', /truncated: block size needs/);
});

t.test('decompressFrame: dictionaries and linked blocks are unsupported', async (t) => {
  throwsLtx(t, () => decompressFrame(lz4Frame({ dictId: 7 }), 0, 4096, 'f.ltx'), 'LTXVFS_ERR_UNSUPPORTED', 'f.ltx', /dictionary id not supported/);
  const linked = lz4Frame({
    flg: 0x44, // blocks depend on earlier ones
    blocks: [{ data: page.subarray(0, 2048), stored: true }, { data: compressBlock(page.subarray(2048)) }],
  });
  throwsLtx(t, () => decompressFrame(linked, 0, 4096, 'f.ltx'), 'LTXVFS_ERR_UNSUPPORTED', 'f.ltx', /linked \(dependent\) blocks not supported/);
  const firstLinked = lz4Frame({ flg: 0x44 });
  t.ok(bytesEqual(decompressFrame(firstLinked, 0, 4096, 'f').data, page), 'a single linked block has nothing to link to');
});

t.test('decompressFrame: a compressed block longer than the LZ4 bound of its output', async (t) => {
  const padded = new Uint8Array(5000);
  padded.set(compressBlock(page));
  throwsLtx(
    t,
    () => decompressFrame(lz4Frame({ blocks: [{ data: padded }] }), 0, 4096, 'f.ltx'),
    'LTXVFS_ERR_CORRUPT',
    'f.ltx',
    /block of 5000 bytes invalid \(exceeds the LZ4 bound 4128 of its 4096 bytes\)/,
  );
});

t.test('decompressBlock grows its scratch buffer for pages beyond 64 KiB', async (t) => {
  const huge = randomBytes(131072, 3);
  t.ok(bytesEqual(decompressBlock(compressBlock(huge), huge.length, 'huge'), huge));
});

t.test('a library answer of the wrong length is refused even if the library did not complain', async (t) => {
  const { decompressBlock: withFake } = await t.mockImport<typeof import('../../ltx/lz4.js')>('../../ltx/lz4.js', {
    '../../ltx/lz4-wasm.js': { loadLz4Wasm: () => ({ compress: () => new Uint8Array(4), decompressInto: () => 10 }) },
  });
  throwsLtx(t, () => withFake(Uint8Array.from([0x10, 0x41]), 4096, 'f.ltx'), 'LTXVFS_ERR_CORRUPT', 'f.ltx', /LZ4 block of 2 bytes decodes to 10 bytes, expected 4096/);
});

t.test('a trap inside the wasm is a corrupt block, not a crash', async (t) => {
  const { decompressBlock: withFake } = await t.mockImport<typeof import('../../ltx/lz4.js')>('../../ltx/lz4.js', {
    '../../ltx/lz4-wasm.js': {
      loadLz4Wasm: () => ({
        compress: () => new Uint8Array(4),
        decompressInto: () => {
          throw new Error('RuntimeError: unreachable');
        },
      }),
    },
  });
  throwsLtx(t, () => withFake(Uint8Array.from([0x10, 0x41]), 4096, 'f.ltx'), 'LTXVFS_ERR_CORRUPT', 'f.ltx', /LZ4 block of 2 bytes invalid \(Error: RuntimeError: unreachable\)/);
});

t.test('decompressBlockInto decodes into the caller\'s view and nowhere else', async (t) => {
  const slab = new Uint8Array(3 * 4096).fill(0xee);
  const slot = slab.subarray(4096, 8192);
  decompressBlockInto(compressBlock(page), slot, 'into');
  t.ok(bytesEqual(slot, page), 'the page is in the slot');
  t.ok(slab.subarray(0, 4096).every((b) => b === 0xee) && slab.subarray(8192).every((b) => b === 0xee), 'the bytes around it are untouched');
  // The same checks as decompressBlock: wrong size, malformed input, the LZ4 bound.
  throwsLtx(t, () => decompressBlockInto(compressBlock(page), new Uint8Array(2048), W), 'LTXVFS_ERR_CORRUPT', W, /invalid/);
  throwsLtx(t, () => decompressBlockInto(Uint8Array.from([0x1f, 0x41, 0x10, 0x00, 0xff, 0x10]), new Uint8Array(4096), W), 'LTXVFS_ERR_CORRUPT', W, /offset/);
  throwsLtx(t, () => decompressBlockInto(new Uint8Array(4129), new Uint8Array(4096), W), 'LTXVFS_ERR_CORRUPT', W, /exceeds the LZ4 bound 4128/);
  // After errors the library still decodes (its error strings and buffers were released).
  for (let i = 0; i < 100; i++) t.throws(() => decompressBlock(new Uint8Array(10), 4096, W));
  t.ok(bytesEqual(decompressBlock(compressBlock(randomPage), 4096, 'after'), randomPage));
});

t.test('decompressFrame into a given page; a page of the wrong size is a usage error', async (t) => {
  const dst = new Uint8Array(4096);
  const f = compressFrame(page);
  const { data, end } = decompressFrame(f, 0, 4096, 'rt', dst);
  t.equal(data, dst, 'the given page is returned');
  t.ok(bytesEqual(dst, page));
  t.equal(end, f.length);
  const stored = compressFrame(randomPage);
  t.ok(bytesEqual(decompressFrame(stored, 0, 4096, 'rt', dst).data, randomPage), 'a stored block lands in it too');
  throwsLtx(t, () => decompressFrame(f, 0, 4096, 'f.ltx', new Uint8Array(100)), 'LTXVFS_ERR_USAGE', 'f.ltx', /output of 100 bytes for a 4096-byte page/);
});

t.test('the library module must export what ltxvfs calls', async (t) => {
  // An empty but valid wasm module in place of lz4-wasm-nodejs's.
  const { loadLz4Wasm } = await t.mockImport<typeof import('../../ltx/lz4-wasm.js')>('../../ltx/lz4-wasm.js', {
    'node:fs': { readFileSync: () => Uint8Array.from([0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00]) },
  });
  t.throws(() => loadLz4Wasm(), /not the lz4-wasm-nodejs 0\.9 module ltxvfs calls \(missing compress, decompress, __wbindgen_add_to_stack_pointer, __wbindgen_malloc, __wbindgen_free\)/);
});
