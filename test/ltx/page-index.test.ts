import t from 'tap';
import { lockPgno } from '../../ltx/checksum.js';
import {
  checkPageIndexLayout,
  PageIndexTable,
  checkPagesAgainstHeader,
  encodePageIndex,
  INDEX_TAIL_SIZE,
  MIN_LTX_FILE_SIZE,
  PAGE_INDEX_SIZE_FIELD,
  parsePageIndexEntries,
  readPageIndexFromTail,
  type FoundPageIndex,
  type PageIndexEntry,
} from '../../ltx/page-index.js';
import { fixture, hexBig, patched, realFiles, realNames, throwsLtx, toHex, TXID1, TXID1_NAME } from './util.js';

const W = TXID1_NAME;
const entriesOf = (f: (typeof realFiles)[number]): PageIndexEntry[] =>
  f.pages.map((p) => ({ pgno: p.pgno, offset: p.frameOffset, size: p.frameSize }));

/** Run the §1.8 protocol: a tail of `tailSize` bytes, then the second read if asked. */
function locate(buf: Uint8Array, tailSize: number, where: string): { found: FoundPageIndex; reads: number } {
  const size = buf.length;
  const start = Math.max(0, size - tailSize);
  let found = readPageIndexFromTail(buf.subarray(start), start, size, where);
  let reads = 1;
  while ('needOffset' in found) {
    reads++;
    found = readPageIndexFromTail(buf.subarray(found.needOffset), found.needOffset, size, where);
  }
  return { found, reads };
}

t.test('constants', async (t) => {
  t.equal(PAGE_INDEX_SIZE_FIELD, 8);
  t.equal(INDEX_TAIL_SIZE, 24);
  t.equal(MIN_LTX_FILE_SIZE, 131);
});

t.test('encodePageIndex reproduces the index bytes of every real file (docs/formats.md §1.6)', async (t) => {
  const txid1 = encodePageIndex(entriesOf(realFiles[0]));
  t.equal(toHex(txid1), '0164b3010297023800' + '0000000000000009', 'TXID 1: {1,100,179} {2,279,56}, 0, size 9');
  realFiles.forEach((f) => {
    const bytes = encodePageIndex(entriesOf(f));
    t.equal(toHex(bytes.subarray(0, -8)), f.pageIndex.hex, f.path);
    t.equal(new DataView(bytes.buffer).getBigUint64(bytes.length - 8), BigInt(f.pageIndex.size), 'size field');
    t.same(fixture(f.path).subarray(f.pageIndex.offset, f.pageIndex.offset + f.pageIndex.size + 8), bytes, 'as stored');
  });
  t.equal(toHex(encodePageIndex([])), '00' + '0000000000000001', 'an empty index is a terminator of size 1');
  throwsLtx(t, () => encodePageIndex([{ pgno: -1, offset: 100, size: 10 }]), 'LTXVFS_ERR_USAGE', 'uvarint', /-1 invalid/);
});

t.test('readPageIndexFromTail finds the index of every real file (docs/formats.md §1.8)', async (t) => {
  realFiles.forEach((f, i) => {
    const buf = fixture(f.path);
    const expected = {
      entries: entriesOf(f),
      indexOffset: f.pageIndex.offset,
      trailer: { postApplyChecksum: hexBig(f.trailer.postApplyChecksum), fileChecksum: hexBig(f.trailer.fileChecksum) },
    };
    const whole = locate(buf, 32768, realNames[i]);
    t.same(whole.found, expected, `${realNames[i]}: Litestream's 32 KiB tail holds the whole file`);
    t.equal(whole.reads, 1);
    const small = locate(buf, 30, realNames[i]);
    t.same(small.found, expected, 'a 30-byte tail needs a second read');
    t.equal(small.reads, 2);
    t.same(locate(buf, 10, realNames[i]).found, expected, 'a tail shorter than 24 bytes asks for them first');
    t.equal(locate(buf, 10, realNames[i]).reads, 3);
    t.same(locate(buf, buf.length - f.pageIndex.offset + 0, realNames[i]).found, expected, 'a tail starting exactly at the index');
  });
});

t.test('readPageIndexFromTail: argument and size checks', async (t) => {
  const buf = fixture(TXID1);
  throwsLtx(t, () => readPageIndexFromTail(buf.subarray(10), 0, buf.length, W), 'LTXVFS_ERR_USAGE', W, /tail of 364 bytes at offset 0 does not end at the file size 374/);
  throwsLtx(t, () => readPageIndexFromTail(buf, -1, buf.length - 1, W), 'LTXVFS_ERR_USAGE', W, /does not end at the file size/);
  throwsLtx(t, () => readPageIndexFromTail(buf.subarray(0, 130), 0, 130, W), 'LTXVFS_ERR_CORRUPT', W, /truncated: file of 130 bytes is smaller than the smallest LTX v3 file \(131\)/);
});

/** TXID 1 with its index size field (u64 at 350) replaced. */
const withSizeField = (v: bigint) => patched(fixture(TXID1), (_, view) => view.setBigUint64(350, v), false);

t.test('readPageIndexFromTail refuses a bad size field', async (t) => {
  throwsLtx(t, () => locate(withSizeField(0n), 32768, W), 'LTXVFS_ERR_CORRUPT', W, /page index size field 0 invalid \(must be 1…244 for a 374-byte file\)/);
  throwsLtx(t, () => locate(withSizeField(245n), 32768, W), 'LTXVFS_ERR_CORRUPT', W, /page index size field 245 invalid/);
  throwsLtx(t, () => locate(withSizeField(1n << 63n), 32768, W), 'LTXVFS_ERR_CORRUPT', W, /page index size field 9223372036854775808 invalid/);
  // 13 bytes back starts mid-frame; the byte before the field is still the terminator.
  throwsLtx(t, () => locate(withSizeField(13n), 32768, W), 'LTXVFS_ERR_CORRUPT', W, /page index size field 13 invalid \(the entries and terminator take \d+ bytes\)|page index entry/);
  // 5 bytes back hold exactly entry {2, 279, 56} and the terminator, so the layout check speaks.
  throwsLtx(t, () => locate(withSizeField(5n), 32768, W), 'LTXVFS_ERR_CORRUPT', W, /page index entry 0 \(page 2\): offset 279 invalid/);
  // 3 bytes back read as {2, 56, 0} and the next pgno would be the size field itself.
  throwsLtx(t, () => locate(withSizeField(3n), 32768, W), 'LTXVFS_ERR_CORRUPT', W, /page index truncated: no 0 terminator before offset 350 \(the index starts at 347\)/);
  const noTerminator = patched(fixture(TXID1), (b) => (b[349] = 5), false);
  throwsLtx(t, () => locate(noTerminator, 32768, W), 'LTXVFS_ERR_CORRUPT', W, /page index size field 9 invalid \(the byte before it, at offset 349, is not the 0 terminator\)/);
});

/** A 24-byte-tail-located index from hand-written entries, after 100 + frames bytes of anything. */
function fileWithIndex(entries: PageIndexEntry[], framesEnd: number): Uint8Array {
  const index = encodePageIndex(entries);
  const buf = new Uint8Array(framesEnd + 6 + index.length + 16);
  buf.set(index, framesEnd + 6);
  return buf;
}

t.test('readPageIndexFromTail checks the entry layout', async (t) => {
  const cases: [string, PageIndexEntry[], number, RegExp][] = [
    ['pgno not ascending', [{ pgno: 2, offset: 100, size: 20 }, { pgno: 2, offset: 120, size: 20 }], 140, /entry 1 \(page 2\): pgno invalid \(not above the previous entry's 2\)/],
    ['descending', [{ pgno: 3, offset: 100, size: 20 }, { pgno: 1, offset: 120, size: 20 }], 140, /entry 1 \(page 1\): pgno invalid/],
    ['offset inside the header', [{ pgno: 1, offset: 50, size: 100 }], 150, /entry 0 \(page 1\): offset 50 invalid \(expected 100: frames are contiguous from byte 100\)/],
    ['overlap', [{ pgno: 1, offset: 100, size: 20 }, { pgno: 2, offset: 110, size: 30 }], 140, /entry 1 \(page 2\): offset 110 invalid \(expected 120/],
    ['gap', [{ pgno: 1, offset: 100, size: 20 }, { pgno: 2, offset: 130, size: 10 }], 140, /entry 1 \(page 2\): offset 130 invalid/],
    ['frame too small', [{ pgno: 1, offset: 100, size: 6 }], 106, /entry 0 \(page 1\): size 6 invalid \(a frame has at least 10 bytes\)/],
    ['frames end before the terminator', [{ pgno: 1, offset: 100, size: 20 }], 130, /page index at offset 136 does not follow the frames \(they end at 120, plus the 6-byte terminator\)/],
    ['frames run into the index', [{ pgno: 1, offset: 100, size: 40 }], 130, /does not follow the frames \(they end at 140/],
  ];
  for (const [name, entries, framesEnd, reason] of cases) {
    t.test(name, async (t) => {
      const buf = fileWithIndex(entries, framesEnd);
      throwsLtx(t, () => readPageIndexFromTail(buf, 0, buf.length, W), 'LTXVFS_ERR_CORRUPT', W, reason);
    });
  }
  const empty = fileWithIndex([], 100);
  const none = readPageIndexFromTail(empty, 0, empty.length, W);
  t.match(none, { indexOffset: 106 }, 'a file without pages');
  t.equal('entries' in none && none.entries.length, 0);
  t.doesNotThrow(() => checkPageIndexLayout(PageIndexTable.from([{ pgno: 9, offset: 100, size: 10 }]), 116, W));
});

t.test('parsePageIndexEntries reports varint problems with file offsets', async (t) => {
  const buf = Uint8Array.from([0, 0, 0x01, 0x64, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01, 0x00]);
  throwsLtx(t, () => parsePageIndexEntries(buf, 2, buf.length, W, 1000), 'LTXVFS_ERR_CORRUPT', `${W}: page index`, /varint at offset 1004 overflows 64 bits/);
  throwsLtx(t, () => parsePageIndexEntries(buf, 2, 6, W, 1000, 2000), 'LTXVFS_ERR_CORRUPT', W, /truncated: no 0 terminator before offset 1006 \(the index starts at 1002, the file is 2000 bytes\)/);
  const one = parsePageIndexEntries(Uint8Array.from([1, 100, 10, 0]), 0, 4, W);
  t.same({ entries: one.entries.toArray(), end: one.end }, { entries: [{ pgno: 1, offset: 100, size: 10 }], end: 4 });

  // With ten or more bytes after the varint (the inline path), the same errors and values.
  const pad = new Array<number>(12).fill(0);
  const tenth = Uint8Array.from([1, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x02, 10, ...pad]);
  throwsLtx(t, () => parsePageIndexEntries(tenth, 0, tenth.length, W, 1000), 'LTXVFS_ERR_CORRUPT', `${W}: page index`, /varint at offset 1001 overflows 64 bits/);
  const eleven = Uint8Array.from([1, ...new Array<number>(10).fill(0xff), 0x01, 10, ...pad]);
  throwsLtx(t, () => parsePageIndexEntries(eleven, 0, eleven.length, W, 1000), 'LTXVFS_ERR_CORRUPT', `${W}: page index`, /varint at offset 1001 overflows 64 bits/);
  // 2^53 (eight 0x80 bytes, then 0x10 = 16 × 2^49) exceeds the safe range; 2^53 − 1 is read exactly.
  const big = Uint8Array.from([1, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x10, 10, ...pad]);
  throwsLtx(t, () => parsePageIndexEntries(big, 0, big.length, W, 1000), 'LTXVFS_ERR_CORRUPT', `${W}: page index`, /varint at offset 1001 exceeds 2\^53-1/);
  const safe = Uint8Array.from([1, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x0f, 10, 0, ...pad]);
  t.same(parsePageIndexEntries(safe, 0, safe.length, W).entries.toArray(), [{ pgno: 1, offset: Number.MAX_SAFE_INTEGER, size: 10 }]);
  t.same(parsePageIndexEntries(Uint8Array.from([0x81, 0x01, 0xe4, 0x00, 10, 0, ...pad]), 0, 18, W).entries.toArray(), [{ pgno: 129, offset: 100, size: 10 }], 'two-byte varints, and a non-minimal one');
});

t.test('checkPagesAgainstHeader: pgno ≤ commit, no lock page, complete snapshots', async (t) => {
  const h = (commit: number, minTXID = 2, pageSize = 4096) => ({ commit, minTXID, pageSize });
  t.doesNotThrow(() => checkPagesAgainstHeader(h(4), [1, 3], W));
  t.doesNotThrow(() => checkPagesAgainstHeader(h(4, 1), [1, 2, 3, 4], W), 'complete snapshot');
  t.doesNotThrow(() => checkPagesAgainstHeader(h(0, 1), [], W), 'empty snapshot');
  throwsLtx(t, () => checkPagesAgainstHeader(h(4), [1, 5], W), 'LTXVFS_ERR_CORRUPT', W, /page 5 invalid \(beyond commit 4\)/);
  throwsLtx(t, () => checkPagesAgainstHeader(h(4), [5], W, 'LTXVFS_ERR_USAGE'), 'LTXVFS_ERR_USAGE', W, /beyond commit/);
  const lock = lockPgno(65536);
  throwsLtx(t, () => checkPagesAgainstHeader(h(lock + 1, 2, 65536), [lock], W), 'LTXVFS_ERR_CORRUPT', W, /page 16385 invalid \(the lock page for page size 65536 is never stored\)/);
  throwsLtx(t, () => checkPagesAgainstHeader(h(4, 1), [1, 2, 4], W), 'LTXVFS_ERR_CORRUPT', W, /snapshot incomplete: page 3 missing \(a snapshot holds all 4 pages 1…4 except the lock page\)/);
  throwsLtx(t, () => checkPagesAgainstHeader(h(4, 1), [1, 2, 3], W), 'LTXVFS_ERR_CORRUPT', W, /page 4 missing/);
  throwsLtx(t, () => checkPagesAgainstHeader(h(4, 1), [], W), 'LTXVFS_ERR_CORRUPT', W, /page 1 missing/);
  const all = Array.from({ length: lock + 1 }, (_, i) => i + 1).filter((p) => p !== lock);
  t.doesNotThrow(() => checkPagesAgainstHeader(h(lock + 1, 1, 65536), all, W), 'a snapshot skips the lock page');
  throwsLtx(t, () => checkPagesAgainstHeader(h(lock + 1, 1, 65536), all.slice(0, -1), W), 'LTXVFS_ERR_CORRUPT', W, /page 16386 missing \(a snapshot holds all 16385 pages/);
  throwsLtx(t, () => checkPagesAgainstHeader(h(lock + 1, 1, 65536), all.slice(0, lock - 1), W), 'LTXVFS_ERR_CORRUPT', W, /page 16386 missing/);
  const gapAfterLock = all.filter((p) => p !== lock + 1).concat([lock + 2]);
  t.same(gapAfterLock.slice(-2), [lock - 1, lock + 2]);
  throwsLtx(t, () => checkPagesAgainstHeader(h(lock + 2, 1, 65536), gapAfterLock, W), 'LTXVFS_ERR_CORRUPT', W, /page 16386 missing/);
});

t.test('parsePageIndexEntries: the fast path (room for three 7-byte varints) and the general one give the same entries', async (t) => {
  // Offsets of every varint length from 1 to 8 bytes (up to 2^53 − 1), pgnos and sizes up to
  // 2^32 − 1 (5 bytes), mixed within entries, then enough bytes after the terminator that
  // all but the last entries take the fast path.
  const values = [0, 1, 127, 128, 16_383, 16_384, 2 ** 21, 2 ** 28, 2 ** 32 - 1, 2 ** 35, 2 ** 42, 2 ** 49 - 1, 2 ** 49, 2 ** 52 + 3, Number.MAX_SAFE_INTEGER];
  const u32 = values.filter((v) => v <= 0xffff_ffff);
  const entries: PageIndexEntry[] = [];
  let seed = 3;
  const pick = (from: number[] = values): number => {
    seed = (seed * 1103515245 + 12345) & 0x7fffffff;
    return from[seed % from.length];
  };
  for (let i = 0; i < 300; i++) entries.push({ pgno: Math.max(1, pick(u32)), offset: pick(), size: pick(u32) });
  const index = encodePageIndex(entries);
  const varints = index.subarray(0, index.length - PAGE_INDEX_SIZE_FIELD);
  for (const pad of [0, 5, 21, 64]) {
    const buf = new Uint8Array(3 + varints.length + pad);
    buf.set(varints, 3);
    const parsed = parsePageIndexEntries(buf, 3, buf.length, W);
    t.same(parsed.entries.toArray(), entries, `${pad} bytes after the terminator`);
    t.equal(parsed.end, 3 + varints.length);
  }
  const pad = new Array<number>(64).fill(0);
  const big = Uint8Array.from([1, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x10, 10, ...pad]);
  throwsLtx(t, () => parsePageIndexEntries(big, 0, big.length, W, 1000), 'LTXVFS_ERR_CORRUPT', `${W}: page index`, /varint at offset 1001 exceeds 2\^53-1/);
  const eleven = Uint8Array.from([1, 100, 10, 2, ...new Array<number>(10).fill(0xff), 0x01, 10, ...pad]);
  throwsLtx(t, () => parsePageIndexEntries(eleven, 0, eleven.length, W, 1000), 'LTXVFS_ERR_CORRUPT', `${W}: page index`, /varint at offset 1004 overflows 64 bits/);
});

t.test('PageIndexTable: columns, objects, and entries that do not fit 32 bits', async (t) => {
  const entries = [{ pgno: 1, offset: 100, size: 20 }, { pgno: 7, offset: 120, size: 4106 }];
  const table = PageIndexTable.from(entries);
  t.equal(table.length, 2);
  t.same([...table.pgnos], [1, 7]);
  t.same([...table.offsets], [100, 120]);
  t.same([...table.sizes], [20, 4106]);
  t.same(table.at(1), entries[1]);
  t.equal(table.at(2), undefined, 'past the end');
  t.equal(table.end(1), 4226);
  t.same(table.toArray(), entries);
  t.same([...table], entries, 'iterable');
  t.same(encodePageIndex(table), encodePageIndex(entries), 'the same bytes from the table and from objects');
  throwsLtx(t, () => PageIndexTable.from([{ pgno: 2 ** 32, offset: 100, size: 10 }]), 'LTXVFS_ERR_USAGE', 'page index', /entry 0: pgno 4294967296 or size 10 does not fit 32 bits/);
  throwsLtx(t, () => new PageIndexTable(new Uint32Array(2), new Float64Array(1), new Uint32Array(2)), 'LTXVFS_ERR_USAGE', 'page index', /columns of 2, 1 and 2 entries differ/);
  // In a file: a pgno of 2^32 (five-byte varint 0x80 0x80 0x80 0x80 0x10) is no SQLite page.
  const pad = new Array<number>(32).fill(0);
  const wide = Uint8Array.from([1, 100, 10, 0x80, 0x80, 0x80, 0x80, 0x10, 110, 10, 0, ...pad]);
  throwsLtx(t, () => parsePageIndexEntries(wide, 0, wide.length, W), 'LTXVFS_ERR_CORRUPT', `${W}: page index`, /entry 1: pgno 4294967296 invalid \(more than 32 bits\)/);
  const wideSize = Uint8Array.from([1, 100, 0x80, 0x80, 0x80, 0x80, 0x10, 0]);
  throwsLtx(t, () => parsePageIndexEntries(wideSize, 0, wideSize.length, W), 'LTXVFS_ERR_CORRUPT', `${W}: page index`, /entry 0: size 4294967296 invalid/);
});
