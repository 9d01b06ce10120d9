import t from 'tap';
import {
  decodeIndexedFrame,
  decodeIndexedFrameInto,
  decodePageFrame,
  encodePageFrame,
  frameVariantOf,
  PAGE_FLAG_SIZE_PREFIX,
  PAGE_HEADER_SIZE,
  SIZE_PREFIX_SIZE,
} from '../../ltx/frame.js';
import { fixture, realFiles, realNames, testPage, throwsLtx, toHex, TXID1, TXID1_NAME } from './util.js';

const W = TXID1_NAME;
const page = testPage(7);

t.test('constants', async (t) => {
  t.equal(PAGE_HEADER_SIZE, 6);
  t.equal(PAGE_FLAG_SIZE_PREFIX, 1);
  t.equal(SIZE_PREFIX_SIZE, 4);
  t.equal(frameVariantOf(1), 'block');
  t.equal(frameVariantOf(0), 'frame');
});

t.test('walks the frames of every real file as listed in the manifest', async (t) => {
  const expected = fixture('expected/test-txid-0000000000000005.db');
  realFiles.forEach((f, i) => {
    const buf = fixture(f.path);
    let off = 100;
    for (const p of f.pages) {
      t.equal(off, p.frameOffset);
      const fr = decodePageFrame(buf, off, 4096, realNames[i]);
      t.match(fr, { pgno: p.pgno, flags: p.flags, end: p.frameOffset + p.frameSize }, `${realNames[i]} page ${p.pgno}`);
      t.equal(fr.data.length, 4096);
      if (i === 4) t.same(fr.data, expected.subarray((p.pgno - 1) * 4096, p.pgno * 4096));
      off = fr.end;
    }
    const end = decodePageFrame(buf, off, 4096, realNames[i]);
    t.same(end, { pgno: 0, flags: 0, data: new Uint8Array(0), end: off + 6 }, 'terminator');
    t.equal(end.end, f.pageIndex.offset, 'the index follows the terminator');
  });
});

t.test('TXID 1 byte walk: frame headers (docs/formats.md §3.2)', async (t) => {
  const buf = fixture(TXID1);
  t.equal(toHex(buf.subarray(100, 116)), '000000010001000000a9f61253514c69', 'pgno 1, flags 1, size 169, block starts f6 12 53 51 4c 69');
  t.equal(toHex(buf.subarray(279, 289)), '000000020001' + '0000002e', 'pgno 2, size 46');
  t.equal(toHex(buf.subarray(335, 341)), '000000000000', 'terminator');
});

t.test('decodePageFrame errors name the file, the frame offset and the reason', async (t) => {
  const buf = fixture(TXID1);
  const flags4 = buf.slice();
  flags4[284] = 0x04; // low byte of page 2's flags
  throwsLtx(t, () => decodePageFrame(flags4, 279, 4096, W), 'LTXVFS_ERR_CORRUPT', W, /^[^:]+: frame at offset 279: page flags 0x4 invalid \(only 0x1 allowed\)$/);
  const zeroPgno = buf.slice();
  zeroPgno.set([0, 0, 0, 0, 0, 1], 335);
  throwsLtx(t, () => decodePageFrame(zeroPgno, 335, 4096, W), 'LTXVFS_ERR_CORRUPT', W, /frame at offset 335: page flags 0x1 invalid on the terminator \(pgno 0 needs flags 0\)/);
  throwsLtx(t, () => decodePageFrame(buf.subarray(0, 104), 100, 4096, W), 'LTXVFS_ERR_CORRUPT', W, /frame at offset 100: truncated: page header needs bytes up to 106, file ends at 104/);
  throwsLtx(t, () => decodePageFrame(buf.subarray(0, 108), 100, 4096, W), 'LTXVFS_ERR_CORRUPT', W, /truncated: size prefix needs bytes up to 110, file ends at 108/);
  throwsLtx(t, () => decodePageFrame(buf.subarray(0, 200), 100, 4096, W), 'LTXVFS_ERR_CORRUPT', W, /truncated: LZ4 block of 169 bytes needs bytes up to 279, file ends at 200/);
  throwsLtx(t, () => decodePageFrame(buf, 100, 8192, W), 'LTXVFS_ERR_CORRUPT', W, /frame at offset 100: LZ4 block of 169 bytes invalid \(.*4096.*8192/);
});

t.test('encodePageFrame: both variants decode back, on their own and walked', async (t) => {
  const block = encodePageFrame(5, page);
  t.equal(toHex(block.subarray(0, 6)), '000000050001', 'v3-block header');
  t.equal(new DataView(block.buffer).getUint32(6), block.length - 10, 'size prefix');
  const frame = encodePageFrame(6, page, 'frame');
  t.equal(toHex(frame.subarray(0, 10)), '00000006000004224d18', 'v3-frame header, then the LZ4 magic');
  for (const [fr, pgno, flags] of [
    [block, 5, 1],
    [frame, 6, 0],
  ] as const) {
    t.same(decodeIndexedFrame(fr, pgno, 4096, 'x'), page);
    const walked = decodePageFrame(fr, 0, 4096, 'x');
    t.match(walked, { pgno, flags, end: fr.length });
    t.same(walked.data, page);
  }
});

t.test('decodeIndexedFrame on every index entry of every real file', async (t) => {
  realFiles.forEach((f, i) => {
    const buf = fixture(f.path);
    for (const p of f.pages) {
      const data = decodeIndexedFrame(buf.subarray(p.frameOffset, p.frameOffset + p.frameSize), p.pgno, 4096, `${realNames[i]}: page ${p.pgno}`);
      t.equal(data.length, 4096);
    }
  });
});

t.test('decodeIndexedFrame refuses a range that is not exactly the frame it should be', async (t) => {
  const buf = fixture(TXID1);
  const w = `${W}: page 2 at offset 279`;
  const frame2 = buf.slice(279, 335);
  throwsLtx(t, () => decodeIndexedFrame(frame2, 3, 4096, w), 'LTXVFS_ERR_CORRUPT', w, /frame holds page 2, the page index says 3/);
  throwsLtx(t, () => decodeIndexedFrame(buf.slice(279, 336), 2, 4096, w), 'LTXVFS_ERR_CORRUPT', w, /size prefix 46 \+ 10 does not match the 57-byte index entry/);
  throwsLtx(t, () => decodeIndexedFrame(frame2.subarray(0, 50), 2, 4096, w), 'LTXVFS_ERR_CORRUPT', w, /size prefix 46 \+ 10 does not match the 50-byte index entry/);
  throwsLtx(t, () => decodeIndexedFrame(frame2.subarray(0, 9), 2, 4096, w), 'LTXVFS_ERR_CORRUPT', w, /frame of 9 bytes too short/);
  const flags2 = frame2.slice();
  flags2[5] = 2;
  throwsLtx(t, () => decodeIndexedFrame(flags2, 2, 4096, w), 'LTXVFS_ERR_CORRUPT', w, /page flags 0x2 invalid \(only 0x1 allowed\)/);
  throwsLtx(t, () => decodeIndexedFrame(new Uint8Array(10), 2, 4096, w), 'LTXVFS_ERR_CORRUPT', w, /frame holds page 0, the page index says 2/);
  // Flipping the first LZ4 token turns literals into a match before the output start.
  // (Flips inside literals decode silently to wrong bytes: only the file checksum, or a
  // v3-frame's content checksum, can catch those.)
  const flipped = frame2.slice();
  flipped[10] ^= 0xff;
  throwsLtx(t, () => decodeIndexedFrame(flipped, 2, 4096, w), 'LTXVFS_ERR_CORRUPT', w, /LZ4 block of 46 bytes invalid \(the offset to copy/);
  const flippedLiteral = frame2.slice();
  flippedLiteral[12] ^= 0xff;
  t.notSame(decodeIndexedFrame(flippedLiteral, 2, 4096, w), decodeIndexedFrame(frame2, 2, 4096, w), 'a literal flip decodes, wrongly');
  throwsLtx(t, () => decodeIndexedFrame(frame2, 2, 512, w), 'LTXVFS_ERR_CORRUPT', w, /LZ4 block of 46 bytes invalid/);

  const framed = encodePageFrame(2, page, 'frame');
  const longer = new Uint8Array(framed.length + 1);
  longer.set(framed);
  throwsLtx(t, () => decodeIndexedFrame(longer, 2, 4096, w), 'LTXVFS_ERR_CORRUPT', w, new RegExp(`LZ4 frame ends at byte ${framed.length} of a ${longer.length}-byte index entry`));
  throwsLtx(t, () => decodeIndexedFrame(framed.subarray(0, framed.length - 1), 2, 4096, w), 'LTXVFS_ERR_CORRUPT', w, /truncated/);
});

t.test('decodeIndexedFrameInto decodes both variants into the given page, with the same checks', async (t) => {
  const slab = new Uint8Array(3 * 4096);
  const slot = slab.subarray(4096, 8192);
  for (const variant of ['block', 'frame'] as const) {
    slab.fill(0xee);
    decodeIndexedFrameInto(encodePageFrame(5, page, variant), 5, slot, 'into');
    t.same(slot, page, `${variant}: the page is in the slot`);
    t.ok(slab.subarray(0, 4096).every((b) => b === 0xee) && slab.subarray(8192).every((b) => b === 0xee), `${variant}: nothing else written`);
    throwsLtx(t, () => decodeIndexedFrameInto(encodePageFrame(5, page, variant), 6, slot, W), 'LTXVFS_ERR_CORRUPT', W, /frame holds page 5, the page index says 6/);
  }
  // Every real frame decodes into one reused page as it does into new ones.
  const scratch = new Uint8Array(4096);
  realFiles.forEach((f, i) => {
    const buf = fixture(f.path);
    for (const p of f.pages) {
      const frame = buf.subarray(p.frameOffset, p.frameOffset + p.frameSize);
      decodeIndexedFrameInto(frame, p.pgno, scratch, realNames[i]);
      t.same(scratch, decodeIndexedFrame(frame, p.pgno, 4096, realNames[i]));
    }
  });
});
