import t from 'tap';
import { CHECKSUM_FLAG, databaseChecksum, lockPgno, pageChecksum } from '../../ltx/checksum.js';
import { Crc64 } from '../../ltx/crc64.js';
import { computeFileChecksum, decodeLtxFile, verifyFileChecksum } from '../../ltx/decoder.js';
import { encodeLtxFile } from '../../ltx/encoder.js';
import { isLtxvfsError } from '../../ltx/errors.js';
import { compressFrame } from '../../ltx/lz4.js';
import { fixture, hexBig, patched, rawHeader, rawLtx, realFiles, realNames, testHeader, testPage, throwsLtx, TXID1, TXID1_NAME } from './util.js';

const W = TXID1_NAME;
const derivedPath = (i: number) => realFiles[i].path.replace('replica/', 'derived/checksummed/');

t.test('the five real files: frames, index, checksums (docs/formats.md §3.1)', async (t) => {
  const db = new Map<number, Uint8Array>();
  realFiles.forEach((f, i) => {
    const buf = fixture(f.path);
    t.equal(buf.length, f.size);
    const d = decodeLtxFile(buf, realNames[i]);
    t.match(d.header, { flags: 2, pageSize: 4096, commit: f.header.commit, minTXID: i + 1, maxTXID: i + 1, timestamp: f.header.timestamp });
    t.same(
      d.pages.map((p) => p.pgno),
      f.pages.map((p) => p.pgno),
      `${realNames[i]} pages`,
    );
    t.same(
      d.index,
      f.pages.map((p) => ({ pgno: p.pgno, offset: p.frameOffset, size: p.frameSize })),
      'index entries = frames of the manifest',
    );
    d.pages.forEach((p, k) => t.equal(pageChecksum(p.pgno, p.data), hexBig(f.pages[k].pageChecksum), `page ${p.pgno} checksum`));
    t.same(d.trailer, { postApplyChecksum: 0n, fileChecksum: hexBig(f.trailer.fileChecksum) });
    t.equal(verifyFileChecksum(buf, realNames[i]), hexBig(f.trailer.fileChecksum), 'stored file checksum verifies');
    t.equal(computeFileChecksum(buf, realNames[i]), hexBig(f.trailer.fileChecksum));
    t.equal(d.variant, 'block');
    t.equal(d.mixedVariants, false);
    // Apply in order, then the database checksum of the state (§2.3).
    for (const p of d.pages) db.set(p.pgno, p.data);
    for (const pgno of [...db.keys()]) if (pgno > d.header.commit) db.delete(pgno);
    const after = databaseChecksum(4096, d.header.commit, (pgno) => db.get(pgno) as Uint8Array);
    t.equal(after, hexBig(f.computed.databaseChecksumAfter), `database checksum after TXID ${i + 1}`);
  });
  const expected = fixture('expected/test-txid-0000000000000005.db');
  for (let pgno = 1; pgno <= 4; pgno++) t.same(db.get(pgno), expected.subarray((pgno - 1) * 4096, pgno * 4096), `state page ${pgno} = expected db`);
});

t.test('derived/checksummed: pre/post chain and file checksums (fixtures README)', async (t) => {
  const fileChecksums = ['c8b2fb3bdb2ab4a6', 'dc31e508a9ea2854', '95aa05b8b97bd3ce', 'ee36c22a6ef07366', 'f1caf860880be0fd'];
  let prevPost = 0n;
  realFiles.forEach((f, i) => {
    const buf = fixture(derivedPath(i));
    const d = decodeLtxFile(buf, derivedPath(i)); // snapshot TXID 1: post-apply checked against its pages
    t.equal(d.header.flags, 0);
    t.equal(d.header.preApplyChecksum, prevPost, `TXID ${i + 1} pre-apply = previous post-apply`);
    t.equal(d.trailer.postApplyChecksum, hexBig(f.computed.databaseChecksumAfter), 'post-apply = computed database checksum');
    t.equal(d.trailer.fileChecksum, hexBig(fileChecksums[i]));
    t.same(
      d.pages.map((p) => p.data),
      decodeLtxFile(fixture(f.path), f.path).pages.map((p) => p.data),
      'same pages as the original',
    );
    prevPost = d.trailer.postApplyChecksum;
  });
});

t.test('the legacy v1 fixture is refused clearly (docs/formats.md §1.2, §3.3)', async (t) => {
  const path = 'litestream-testdata/000000000000000d-000000000000000d.ltx';
  const buf = fixture(path);
  t.equal(buf.length, 100 + 3 * (4 + 4096) + 4 + 16);
  throwsLtx(t, () => decodeLtxFile(buf, path), 'LTXVFS_ERR_UNSUPPORTED', path, /legacy LTX v1 layout \(4-byte page headers, uncompressed pages, no page index/, /not supported/);
  try {
    decodeLtxFile(buf, path);
  } catch (err) {
    t.ok(isLtxvfsError(err) && isLtxvfsError(err.cause, 'LTXVFS_ERR_CORRUPT'), 'the v3 reading error is kept as cause');
  }
  // Its checksums, recomputed by the v1 rules of §2.4 with this CRC: pages 1, 7, 8.
  const crc = new Crc64().update(buf, 0, buf.length - 8);
  t.equal(crc.digest() | CHECKSUM_FLAG, 0x9496a29358326fb5n, 'v1 file checksum');
  const db = fixture('litestream-testdata/database');
  [1, 7, 8].forEach((pgno, k) => {
    const at = 100 + k * 4100;
    t.equal(new DataView(buf.buffer).getUint32(at), pgno);
    t.same(buf.subarray(at + 4, at + 4100), db.subarray((pgno - 1) * 4096, pgno * 4096), `v1 page ${pgno} = database page`);
  });
  t.equal(new DataView(buf.buffer).getBigUint64(buf.length - 16), 0xfe3831a381c602b9n, 'post-apply = database checksum');
});

t.test('a legacy v2 file (4-byte page headers + LZ4 frames) is refused clearly', async (t) => {
  const frame = compressFrame(testPage(1));
  const buf = new Uint8Array(100 + 4 + frame.length + 4 + 30);
  buf.set(rawHeader(testHeader()));
  new DataView(buf.buffer).setUint32(100, 1);
  buf.set(frame, 104);
  throwsLtx(t, () => decodeLtxFile(buf, 'v2.ltx'), 'LTXVFS_ERR_UNSUPPORTED', 'v2.ltx', /legacy LTX v2 layout \(4-byte page headers, LZ4 frames\)/);
});

t.test('truncated files: every cut says truncated and gives the byte count', async (t) => {
  const buf = fixture(TXID1);
  for (const cut of [0, 50, 99, 100, 105, 109, 120, 278, 300, 334, 340, 345, 360, 366, 373]) {
    t.test(`cut at ${cut}`, async (t) => {
      throwsLtx(t, () => decodeLtxFile(buf.subarray(0, cut), W), 'LTXVFS_ERR_CORRUPT', W, /truncated/, new RegExp(`\\b${cut}\\b`));
    });
  }
});

t.test('bit flips: payload → checksum mismatch; header → the broken rule', async (t) => {
  const buf = fixture(TXID1);
  // Byte 113 is the 'Q' of "SQLite format 3", a literal: the block still decodes.
  const payload = patched(buf, (b) => (b[113] ^= 0x01), false);
  throwsLtx(t, () => decodeLtxFile(payload, W), 'LTXVFS_ERR_CHECKSUM', W, /file checksum mismatch: stored daae18d5b6be1923, computed [0-9a-f]{16}/);
  throwsLtx(t, () => verifyFileChecksum(payload, W), 'LTXVFS_ERR_CHECKSUM', W, /file checksum mismatch/);
  const timestamp = patched(buf, (b) => (b[39] ^= 0x01), false);
  throwsLtx(t, () => decodeLtxFile(timestamp, W), 'LTXVFS_ERR_CHECKSUM', W, /file checksum mismatch/);
  const stored = patched(buf, (b) => (b[373] ^= 0x01), false);
  throwsLtx(t, () => decodeLtxFile(stored, W), 'LTXVFS_ERR_CHECKSUM', W, /stored daae18d5b6be1922/);
  const index = patched(buf, (b) => (b[343] ^= 0x01), false); // offset varint of page 1: 0xb3 → 0xb2
  throwsLtx(t, () => decodeLtxFile(index, W), 'LTXVFS_ERR_CHECKSUM', W, /file checksum mismatch/);
  const cases: [string, number, number, RegExp][] = [
    ['magic', 0, 0x01, /header: magic 4d545831 invalid/],
    ['flags', 7, 0x04, /header: flags 0x00000006 invalid \(only 0x2 allowed\)/],
    ['page size', 10, 0x01, /header: page size 4352 invalid/],
    ['commit', 15, 0x02, /page 2 invalid \(beyond commit 0\)|file checksum/],
    ['minTXID', 23, 0x01, /minTXID 0 invalid/],
  ];
  for (const [name, at, bit, reason] of cases) {
    const flipped = patched(buf, (b) => (b[at] ^= bit), false);
    t.test(name, async (t) => {
      try {
        decodeLtxFile(flipped, W);
        t.fail('accepted');
      } catch (err) {
        t.ok(isLtxvfsError(err, 'LTXVFS_ERR_CORRUPT') || isLtxvfsError(err, 'LTXVFS_ERR_CHECKSUM'), String(err));
        t.match((err as Error).message, new RegExp(`^${W}: `));
        t.match((err as Error).message, reason);
      }
    });
  }
});

t.test('bad frames, index and trailer placement', async (t) => {
  const buf = fixture(TXID1);
  const flags = patched(buf, (b) => (b[284] = 0x04), false);
  t.throws(() => decodeLtxFile(flags, W), { code: 'LTXVFS_ERR_CORRUPT', key: W, message: `${W}: frame at offset 279: page flags 0x4 invalid (only 0x1 allowed)` }, 'exact message and key');
  const firstFlags = patched(buf, (b) => (b[105] = 0x03), false);
  throwsLtx(t, () => decodeLtxFile(firstFlags, W), 'LTXVFS_ERR_CORRUPT', W, /frame at offset 100: page flags 0x3 invalid/);
  const terminator = patched(buf, (b) => (b[340] = 0x01), false);
  throwsLtx(t, () => decodeLtxFile(terminator, W), 'LTXVFS_ERR_CORRUPT', W, /frame at offset 335: page flags 0x1 invalid on the terminator \(pgno 0 needs flags 0\)/);
  const sizeField = patched(buf, (_, v) => v.setBigUint64(350, 10n), false);
  throwsLtx(t, () => decodeLtxFile(sizeField, W), 'LTXVFS_ERR_CORRUPT', W, /page index size field 10 invalid \(the entries and terminator at offset 341 take 9 bytes\)/);
  const extra = new Uint8Array(buf.length + 3);
  extra.set(buf);
  throwsLtx(t, () => decodeLtxFile(extra, W), 'LTXVFS_ERR_CORRUPT', W, /3 bytes after the trailer \(the trailer ends at 374, the file is 377 bytes\)/);
  const pageSize = patched(buf, (_, v) => v.setUint32(8, 8192), false);
  throwsLtx(t, () => decodeLtxFile(pageSize, W), 'LTXVFS_ERR_CORRUPT', W, /frame at offset 100: LZ4 block of 169 bytes invalid \(.*actual 4096, expected 8192/);
  const smaller = patched(buf, (_, v) => v.setUint32(8, 2048), false);
  throwsLtx(t, () => decodeLtxFile(smaller, W), 'LTXVFS_ERR_CORRUPT', W, /frame at offset 100: LZ4 block of 169 bytes invalid/);
});

t.test('semantic rules, in files whose checksum is right', async (t) => {
  const p = (pgno: number, pageSize = 4096) => ({ pgno, data: testPage(pgno, pageSize) });
  const cases: [string, () => Uint8Array, RegExp][] = [
    ['pages not ascending', () => rawLtx(testHeader({ commit: 3 }), [p(2), p(1)]), /frame at offset \d+: page 1 invalid \(pages must ascend; the previous frame is page 2\)/],
    ['duplicate page', () => rawLtx(testHeader({ commit: 3 }), [p(2), p(2)]), /page 2 invalid \(pages must ascend/],
    ['page beyond commit', () => rawLtx(testHeader({ commit: 4 }), [p(1), p(5)]), /page 5 invalid \(beyond commit 4\)/],
    [
      'lock page present',
      () => rawLtx(testHeader({ pageSize: 65536, commit: lockPgno(65536) + 1 }), [p(lockPgno(65536), 65536)]),
      /page 16385 invalid \(the lock page for page size 65536 is never stored\)/,
    ],
    ['incomplete snapshot', () => rawLtx(testHeader({ minTXID: 1, commit: 3 }), [p(1), p(3)]), /snapshot incomplete: page 2 missing/],
    ['empty snapshot of 2 pages', () => rawLtx(testHeader({ minTXID: 1, commit: 2 }), []), /snapshot incomplete: page 1 missing/],
    [
      'index entry does not match its frame',
      () => rawLtx(testHeader(), [p(1), p(2)], 0n, [{ pgno: 1, offset: 100, size: 11 }, { pgno: 2, offset: 111, size: 10 }]),
      /page index entry 0 \(page 1, offset 100, size 11\) does not match the frame found \(page 1, offset 100, size \d+\)/,
    ],
    [
      'index entry with another pgno',
      () => {
        const good = rawLtx(testHeader(), [p(1), p(2)]);
        const d = decodeLtxFile(good, 'good');
        return rawLtx(testHeader(), [p(1), p(2)], 0n, [d.index[0], { ...d.index[1], pgno: 3 }]);
      },
      /page index entry 1 \(page 3, offset \d+, size \d+\) does not match the frame found \(page 2/,
    ],
    ['index misses a frame', () => rawLtx(testHeader(), [p(1), p(2)], 0n, [{ pgno: 1, offset: 100, size: 50 }]), /page index has 1 entries, the page block 2 frames/],
    [
      'NoChecksum with a post-apply checksum',
      () => patched(fixture(TXID1), (_, v) => v.setBigUint64(358, 0x8000000000000001n)),
      /trailer: post-apply checksum 8000000000000001 invalid \(not allowed with the NoChecksum flag\)/,
    ],
    [
      'checksums on, post-apply without bit 63',
      () => patched(fixture(derivedPath(1)), (_, v) => v.setBigUint64(v.byteLength - 16, 0x1234n)),
      /trailer: post-apply checksum 0000000000001234 invalid \(bit 63 must be set\)/,
    ],
    [
      'checksums on, commit 0, post-apply not the empty checksum',
      () => rawLtx(testHeader({ flags: 0, commit: 0, preApplyChecksum: CHECKSUM_FLAG | 5n }), [], CHECKSUM_FLAG | 1n),
      /commit 0 requires 8000000000000000/,
    ],
  ];
  for (const [name, make, reason] of cases) {
    t.test(name, async (t) => throwsLtx(t, () => decodeLtxFile(make(), 'bad.ltx'), 'LTXVFS_ERR_CORRUPT', 'bad.ltx', reason));
  }
  t.test('a checksummed snapshot whose post-apply is not its pages', async (t) => {
    const bad = patched(fixture(derivedPath(0)), (_, v) => v.setBigUint64(v.byteLength - 16, 0x8000000000000001n));
    throwsLtx(t, () => decodeLtxFile(bad, 'd1.ltx'), 'LTXVFS_ERR_CHECKSUM', 'd1.ltx', /trailer: post-apply checksum 8000000000000001 does not match the snapshot's database checksum ee274f1357b234e2/);
  });
});

t.test('what the rules allow: empty files, a NoChecksum deletion, both variants mixed', async (t) => {
  const deletion = rawLtx(testHeader({ commit: 0 }), []);
  t.match(decodeLtxFile(deletion, 'del'), { pages: [], index: [], variant: 'block', header: { commit: 0 } }, 'NoChecksum commit 0 decodes (Go cannot encode it)');
  const empty = rawLtx(testHeader({ flags: 0, commit: 0, preApplyChecksum: CHECKSUM_FLAG | 5n }), [], CHECKSUM_FLAG);
  t.equal(decodeLtxFile(empty, 'e').trailer.postApplyChecksum, CHECKSUM_FLAG);
  const mixed = rawLtx(testHeader({ commit: 3 }), [
    { pgno: 1, data: testPage(1), variant: 'frame' },
    { pgno: 2, data: testPage(2), variant: 'block' },
    { pgno: 3, data: testPage(3), variant: 'frame' },
  ]);
  const d = decodeLtxFile(mixed, 'mixed');
  t.equal(d.variant, 'frame');
  t.equal(d.mixedVariants, true);
  t.same(
    d.pages.map((p) => p.data),
    [1, 2, 3].map((n) => testPage(n)),
  );
  const lock = lockPgno(65536);
  const aroundLock = rawLtx(testHeader({ pageSize: 65536, commit: lock + 1 }), [
    { pgno: lock - 1, data: testPage(1, 65536) },
    { pgno: lock + 1, data: testPage(2, 65536) },
  ]);
  t.same(
    decodeLtxFile(aroundLock, 'lock').pages.map((p) => p.pgno),
    [lock - 1, lock + 1],
  );
});

t.test('computeFileChecksum ignores the stored value; v3-frame files checksum the same logical stream', async (t) => {
  const buf = fixture(TXID1);
  const wrong = patched(buf, (_, v) => v.setBigUint64(366, 1n), false);
  t.equal(computeFileChecksum(wrong, W), 0xdaae18d5b6be1923n);
  const d = decodeLtxFile(buf, W);
  const asFrames = encodeLtxFile({ header: d.header, pages: d.pages, postApplyChecksum: 0n, variant: 'frame' });
  const back = decodeLtxFile(asFrames, 'frames');
  t.equal(back.variant, 'frame');
  t.same(
    back.pages.map((p) => p.data),
    d.pages.map((p) => p.data),
  );
  t.equal(verifyFileChecksum(asFrames, 'frames'), back.trailer.fileChecksum);
});

