import t from 'tap';
import { CHECKSUM_FLAG, databaseChecksum, incrementalDatabaseChecksum, lockPgno } from '../../ltx/checksum.js';
import { decodeLtxFile } from '../../ltx/decoder.js';
import { encodeLtxFile, LtxStreamEncoder } from '../../ltx/encoder.js';
import { HEADER_SIZE } from '../../ltx/header.js';
import * as ltx from '../../ltx/index.js';
import { readPageIndexFromTail } from '../../ltx/page-index.js';
import { fixture, randomBytes, realFiles, realNames, testHeader, testPage, throwsLtx } from './util.js';

const pages = (...pgnos: number[]) => pgnos.map((pgno) => ({ pgno, data: testPage(pgno) }));

t.test('round trip, both variants: header, pages, index and trailer survive', async (t) => {
  for (const variant of ['block', 'frame'] as const) {
    const header = testHeader({ commit: 5, minTXID: 7, maxTXID: 9, walOffset: 32, walSize: 4096, walSalt1: 1, walSalt2: 2, nodeID: 3 });
    const input = [...pages(1, 3), { pgno: 5, data: randomBytes(4096, 5) }];
    const buf = encodeLtxFile({ header, pages: input, postApplyChecksum: 0n, variant });
    const d = decodeLtxFile(buf, variant);
    t.same(d.header, header, `${variant}: header`);
    t.same(d.pages, input, 'pages');
    t.equal(d.variant, variant);
    t.equal(d.mixedVariants, false);
    const tail = readPageIndexFromTail(buf, 0, buf.length, variant);
    t.same('entries' in tail && tail.entries.toArray(), d.index, 'the tail reader finds the same index');
    t.equal(d.index[0].offset, HEADER_SIZE, 'first frame right after the header');
  }
});

t.test('block is the default; a function chooses per page', async (t) => {
  const header = testHeader({ commit: 4 });
  const d = decodeLtxFile(encodeLtxFile({ header, pages: pages(1, 2), postApplyChecksum: 0n }), 'default');
  t.equal(d.variant, 'block');
  const mixed = encodeLtxFile({ header, pages: pages(1, 2, 3, 4), postApplyChecksum: 0n, variant: (pgno) => (pgno % 2 ? 'frame' : 'block') });
  const m = decodeLtxFile(mixed, 'mixed');
  t.equal(m.variant, 'frame');
  t.equal(m.mixedVariants, true);
  t.same(m.pages, pages(1, 2, 3, 4));
});

t.test('output is deterministic', async (t) => {
  const input = { header: testHeader({ commit: 3 }), pages: pages(1, 2, 3), postApplyChecksum: 0n };
  t.same(encodeLtxFile(input), encodeLtxFile(input));
});

t.test('re-encoding every real and derived file from its pages gives a valid file with the same content', async (t) => {
  for (const dir of ['replica/', 'derived/checksummed/']) {
    realFiles.forEach((f, i) => {
      const path = f.path.replace('replica/', dir);
      const orig = decodeLtxFile(fixture(path), path);
      for (const variant of ['block', 'frame'] as const) {
        const again = encodeLtxFile({ header: orig.header, pages: orig.pages, postApplyChecksum: orig.trailer.postApplyChecksum, variant });
        const d = decodeLtxFile(again, `${realNames[i]} re-encoded`);
        t.same(d.header, orig.header, `${path} (${variant}) header`);
        t.same(d.pages, orig.pages, 'pages');
        t.equal(d.trailer.postApplyChecksum, orig.trailer.postApplyChecksum);
        t.same(again.subarray(0, HEADER_SIZE), fixture(path).subarray(0, HEADER_SIZE), 'header bytes identical');
      }
    });
  }
});

t.test('a checksummed chain written with the incremental helper decodes and chains', async (t) => {
  const db = new Map<number, Uint8Array>();
  let commit = 0;
  let post = 0n;
  const txs: [number, number[]][] = [
    [3, [1, 2, 3]],
    [5, [2, 5]],
    [2, [1]],
  ];
  txs.forEach(([newCommit, pgnos], i) => {
    const txPages = pgnos.map((pgno) => ({ pgno, data: testPage(pgno * 10 + i) }));
    const next = incrementalDatabaseChecksum({
      preApplyChecksum: post,
      pageSize: 4096,
      oldCommit: commit,
      newCommit,
      pages: txPages,
      getOldPage: (pgno) => db.get(pgno) ?? new Uint8Array(4096),
    });
    const header = testHeader({ flags: 0, commit: newCommit, minTXID: i + 1, maxTXID: i + 1, preApplyChecksum: i === 0 ? 0n : post });
    const d = decodeLtxFile(encodeLtxFile({ header, pages: txPages, postApplyChecksum: next }), `tx${i + 1}`);
    for (const p of d.pages) db.set(p.pgno, p.data);
    commit = newCommit;
    const full = databaseChecksum(4096, commit, (pgno) => db.get(pgno) ?? new Uint8Array(4096));
    t.equal(next, full, `TXID ${i + 1}: incremental = full recomputation`);
    t.equal(d.header.preApplyChecksum, i === 0 ? 0n : post, 'pre-apply = previous post-apply');
    post = next;
  });
});

t.test('encoder rules (docs/formats.md §1.9, encoder column) throw LTXVFS_ERR_USAGE', async (t) => {
  const W = 'encode TXID 2-2';
  const lock = lockPgno(65536);
  const cases: [string, Parameters<typeof encodeLtxFile>[0], RegExp][] = [
    ['invalid header', { header: testHeader({ pageSize: 1000 }), pages: [], postApplyChecksum: 0n }, /header: page size 1000 invalid/],
    ['pgno 0', { header: testHeader(), pages: [{ pgno: 0, data: testPage(0) }], postApplyChecksum: 0n }, /page 0 invalid \(must be an integer in 1…4294967295\)/],
    ['fractional pgno', { header: testHeader(), pages: [{ pgno: 1.5, data: testPage(1) }], postApplyChecksum: 0n }, /page 1.5 invalid/],
    ['not ascending', { header: testHeader(), pages: pages(2, 1), postApplyChecksum: 0n }, /page 1 invalid \(pages must ascend; the previous page is 2\)/],
    ['duplicate', { header: testHeader(), pages: pages(1, 1), postApplyChecksum: 0n }, /page 1 invalid \(pages must ascend/],
    ['wrong page size', { header: testHeader(), pages: [{ pgno: 1, data: new Uint8Array(100) }], postApplyChecksum: 0n }, /page 1 is 100 bytes, expected the page size 4096/],
    ['beyond commit', { header: testHeader({ commit: 2 }), pages: pages(3), postApplyChecksum: 0n }, /page 3 invalid \(beyond commit 2\)/],
    [
      'lock page',
      { header: testHeader({ pageSize: 65536, commit: lock }), pages: [{ pgno: lock, data: new Uint8Array(65536) }], postApplyChecksum: 0n },
      /page 16385 invalid \(the lock page/,
    ],
    ['incomplete snapshot', { header: testHeader({ minTXID: 1, maxTXID: 2, commit: 3 }), pages: pages(1, 3), postApplyChecksum: 0n }, /snapshot incomplete: page 2 missing/],
    ['NoChecksum with post-apply', { header: testHeader(), pages: pages(1), postApplyChecksum: CHECKSUM_FLAG | 1n }, /trailer: post-apply checksum 8000000000000001 invalid \(not allowed with the NoChecksum flag\)/],
    [
      'checksums without post-apply',
      { header: testHeader({ flags: 0, preApplyChecksum: CHECKSUM_FLAG | 1n }), pages: pages(1), postApplyChecksum: 0n },
      /post-apply checksum 0 invalid \(required when checksums are tracked\)/,
    ],
    [
      'post-apply without bit 63',
      { header: testHeader({ flags: 0, preApplyChecksum: CHECKSUM_FLAG | 1n }), pages: pages(1), postApplyChecksum: 7n },
      /bit 63 must be set/,
    ],
    [
      'commit 0, checksums, post-apply not empty',
      { header: testHeader({ flags: 0, commit: 0, preApplyChecksum: CHECKSUM_FLAG | 1n }), pages: [], postApplyChecksum: CHECKSUM_FLAG | 7n },
      /commit 0 requires 8000000000000000/,
    ],
    [
      'commit 0 with NoChecksum (as in superfly/ltx)',
      { header: testHeader({ commit: 0 }), pages: [], postApplyChecksum: 0n },
      /post-apply checksum must be 8000000000000000 when commit is 0 \(impossible with the NoChecksum flag\)/,
    ],
  ];
  for (const [name, input, reason] of cases) {
    const where = name === 'incomplete snapshot' ? 'encode TXID 1-2' : W;
    t.test(name, async (t) => throwsLtx(t, () => encodeLtxFile(input), 'LTXVFS_ERR_USAGE', where, reason));
  }
});

t.test('a checksummed snapshot must carry the checksum of its pages', async (t) => {
  const header = testHeader({ flags: 0, minTXID: 1, maxTXID: 1, commit: 2 });
  const data = pages(1, 2);
  const sum = databaseChecksum(4096, 2, (pgno) => data[pgno - 1].data);
  t.ok(decodeLtxFile(encodeLtxFile({ header, pages: data, postApplyChecksum: sum }), 'ok'));
  throwsLtx(
    t,
    () => encodeLtxFile({ header, pages: data, postApplyChecksum: sum ^ 1n }),
    'LTXVFS_ERR_CHECKSUM',
    'encode TXID 1-1',
    /post-apply checksum [0-9a-f]{16} is not the snapshot's database checksum [0-9a-f]{16}/,
  );
  const empty = testHeader({ flags: 0, minTXID: 1, maxTXID: 1, commit: 0 });
  t.equal(decodeLtxFile(encodeLtxFile({ header: empty, pages: [], postApplyChecksum: CHECKSUM_FLAG }), 'e').pages.length, 0, 'empty snapshot');
});

t.test('the stream encoder writes the bytes encodeLtxFile writes, piece by piece', async (t) => {
  const lock = lockPgno(65536);
  const pgnos = [...Array.from({ length: lock + 1 }, (_, i) => i + 1)].filter((p) => p !== lock);
  const header = testHeader({ flags: 0, pageSize: 65536, minTXID: 1, maxTXID: 1, commit: lock + 1 });
  const zero = new Uint8Array(65536);
  const data = pgnos.map((pgno) => ({ pgno, data: pgno === 1 || pgno === lock + 1 ? testPage(pgno, 65536) : zero }));
  const sum = databaseChecksum(65536, lock + 1, (pgno) => data[pgno < lock ? pgno - 1 : pgno - 2].data);
  const enc = new LtxStreamEncoder(header);
  const parts = [enc.headerBytes, ...data.map((p) => enc.page(p.pgno, p.data)), enc.finish(sum)];
  t.same(Buffer.concat(parts), Buffer.from(encodeLtxFile({ header, pages: data, postApplyChecksum: sum })), 'same bytes, across the lock page');
  t.equal(decodeLtxFile(Buffer.concat(parts), 'stream').pages.length, lock);
  throwsLtx(t, () => enc.page(lock + 2, zero), 'LTXVFS_ERR_USAGE', 'encode TXID 1-1', /page 16387 after the end of the file/);
  throwsLtx(t, () => enc.finish(sum), 'LTXVFS_ERR_USAGE', 'encode TXID 1-1', /finish\(\) called twice/);
});

t.test('the stream encoder finds a snapshot missing its last pages at finish', async (t) => {
  const enc = new LtxStreamEncoder(testHeader({ minTXID: 1, maxTXID: 1, commit: 4 }), { variant: 'frame' });
  enc.page(1, testPage(1));
  enc.page(2, testPage(2));
  throwsLtx(t, () => enc.finish(0n), 'LTXVFS_ERR_USAGE', 'encode TXID 1-1', /snapshot incomplete: page 3 missing \(a snapshot holds all 4 pages 1…4/);
});

t.test('the public index re-exports the codec', async (t) => {
  for (const name of [
    'crc64',
    'Crc64',
    'CHECKSUM_FLAG',
    'pageChecksum',
    'databaseChecksum',
    'lockPgno',
    'decodeUvarint',
    'encodeUvarint',
    'decodeHeader',
    'encodeHeader',
    'HEADER_SIZE',
    'TRAILER_SIZE',
    'decompressBlock',
    'decompressFrame',
    'decodePageFrame',
    'decodeIndexedFrame',
    'readPageIndexFromTail',
    'encodePageIndex',
    'decodeLtxFile',
    'encodeLtxFile',
    'LtxvfsError',
    'formatLtxFilename',
  ]) {
    t.ok(name in ltx, name);
  }
});
