import t from 'tap';
import {
  CHECKSUM_FLAG,
  combineChecksums,
  databaseChecksum,
  formatChecksum,
  incrementalDatabaseChecksum,
  lockPgno,
  pageChecksum,
} from '../../ltx/checksum.js';
import { decodeLtxFile } from '../../ltx/decoder.js';
import { fixture, hexBig, realFiles, testPage, throwsLtx } from './util.js';

const zero4k = new Uint8Array(4096);

t.test('CHECKSUM_FLAG is bit 63', async (t) => {
  t.equal(CHECKSUM_FLAG, 0x8000000000000000n);
});

t.test('formatChecksum: 16 lower-case hex digits, zero-padded; anything but a u64 is refused', async (t) => {
  t.equal(formatChecksum(0xd9328f592d9e733dn), 'd9328f592d9e733d');
  t.equal(formatChecksum(CHECKSUM_FLAG), '8000000000000000');
  t.equal(formatChecksum(0x42n), '0000000000000042', 'padded: a checksum without bit 63 (a bad one being reported)');
  t.equal(formatChecksum(0n), '0000000000000000');
  t.equal(formatChecksum((1n << 64n) - 1n), 'ffffffffffffffff');
  throwsLtx(t, () => formatChecksum(-1n), 'LTXVFS_ERR_USAGE', 'bad checksum', /-1 is not a u64/);
  throwsLtx(t, () => formatChecksum(1n << 64n), 'LTXVFS_ERR_USAGE', 'bad checksum', /18446744073709551616 is not a u64/);
});

t.test('page checksum vectors (docs/formats.md §2.2)', async (t) => {
  t.equal(pageChecksum(1, zero4k), 0xd9328f592d9e733dn, 'page 1, 4096 zero bytes');
  t.equal(pageChecksum(2, zero4k), 0xf7901e47304ca33fn, 'page 2, 4096 zero bytes');
  t.equal(pageChecksum(0xffffffff, new Uint8Array(0)) & CHECKSUM_FLAG, CHECKSUM_FLAG, 'flag always set');
});

t.test('page checksums of the real files match the manifest', async (t) => {
  for (const f of realFiles) {
    const d = decodeLtxFile(fixture(f.path), f.path);
    d.pages.forEach((p, i) => t.equal(pageChecksum(p.pgno, p.data), hexBig(f.pages[i].pageChecksum), `${f.path} page ${p.pgno}`));
  }
});

t.test('pageChecksum rejects a pgno outside 1…2^32-1', async (t) => {
  for (const pgno of [0, -1, 1.5, 2 ** 32]) {
    throwsLtx(t, () => pageChecksum(pgno, zero4k), 'LTXVFS_ERR_USAGE', 'page checksum', /pgno/);
  }
});

t.test('lock page per page size (docs/formats.md §7.2)', async (t) => {
  const table: [number, number][] = [
    [512, 2097153],
    [1024, 1048577],
    [2048, 524289],
    [4096, 262145],
    [8192, 131073],
    [16384, 65537],
    [32768, 32769],
    [65536, 16385],
  ];
  for (const [size, pgno] of table) t.equal(lockPgno(size), pgno, `page size ${size}`);
});

t.test('database checksum vectors (docs/formats.md §2.3)', async (t) => {
  t.equal(databaseChecksum(4096, 2, () => zero4k), 0xaea2911e1dd2d002n, 'two zero pages');
  t.equal(databaseChecksum(4096, 0, () => zero4k), CHECKSUM_FLAG, 'commit 0 = empty database');
  const db = fixture('litestream-testdata/database');
  t.equal(db.length, 40960);
  const sum = databaseChecksum(4096, 10, (pgno) => db.subarray((pgno - 1) * 4096, pgno * 4096));
  t.equal(sum, 0xfe3831a381c602b9n, "the v1 fixture's database equals its stored post-apply checksum");
  const expected = fixture('expected/test-txid-0000000000000005.db');
  const after5 = databaseChecksum(4096, 4, (pgno) => expected.subarray((pgno - 1) * 4096, pgno * 4096));
  t.equal(after5, hexBig(realFiles[4].computed.databaseChecksumAfter), 'expected TXID 5 database');
});

t.test('database checksum skips the lock page', async (t) => {
  // 64 KiB pages put the lock page at 16385: 1 GiB of CRC, about a second.
  const pageSize = 65536;
  const lock = lockPgno(pageSize);
  const page = new Uint8Array(pageSize);
  const asked: number[] = [];
  databaseChecksum(pageSize, lock + 1, (pgno) => {
    asked.push(pgno);
    return page;
  });
  t.equal(asked.length, lock, 'every page but one');
  t.notOk(asked.includes(lock), 'never the lock page');
  t.equal(asked.at(-1), lock + 1, 'the page after it');
});

t.test('database checksum rejects a page of the wrong size', async (t) => {
  throwsLtx(t, () => databaseChecksum(4096, 2, () => new Uint8Array(10)), 'LTXVFS_ERR_USAGE', 'database checksum', /page 1 is 10 bytes/);
});

t.test('combineChecksums XORs and sets the flag', async (t) => {
  const a = pageChecksum(1, zero4k);
  const b = pageChecksum(2, zero4k);
  t.equal(combineChecksums(a, b), 0xaea2911e1dd2d002n);
  t.equal(combineChecksums(), CHECKSUM_FLAG, 'nothing = empty database');
  t.equal(combineChecksums(combineChecksums(a, b), b), a, 'XOR out a page again');
});

t.test('incremental post-apply checksum equals full recomputation on the fixture chain', async (t) => {
  const db = new Map<number, Uint8Array>();
  let commit = 0;
  let pre = 0n;
  for (const f of realFiles) {
    const d = decodeLtxFile(fixture(f.path), f.path);
    const post = incrementalDatabaseChecksum({
      preApplyChecksum: pre,
      pageSize: 4096,
      oldCommit: commit,
      newCommit: d.header.commit,
      pages: d.pages,
      getOldPage: (pgno) => db.get(pgno) as Uint8Array,
    });
    t.equal(post, hexBig(f.computed.databaseChecksumAfter), `after TXID ${d.header.maxTXID}`);
    for (const p of d.pages) db.set(p.pgno, p.data);
    commit = d.header.commit;
    pre = post;
  }
});

t.test('incremental checksum: truncation, growth with holes, lock page', async (t) => {
  const pages = [1, 2, 3, 4, 5].map((n) => testPage(n));
  const full = (n: number, get: (p: number) => Uint8Array) => databaseChecksum(4096, n, get);
  const start = full(5, (p) => pages[p - 1]);

  const shrunk = incrementalDatabaseChecksum({
    preApplyChecksum: start,
    pageSize: 4096,
    oldCommit: 5,
    newCommit: 3,
    pages: [{ pgno: 2, data: testPage(20) }],
    getOldPage: (p) => pages[p - 1],
  });
  t.equal(shrunk, full(3, (p) => (p === 2 ? testPage(20) : pages[p - 1])), 'truncation drops pages 4 and 5');

  const deleted = incrementalDatabaseChecksum({
    preApplyChecksum: start,
    pageSize: 4096,
    oldCommit: 5,
    newCommit: 0,
    pages: [],
    getOldPage: (p) => pages[p - 1],
  });
  t.equal(deleted, CHECKSUM_FLAG, 'deleting everything gives the empty checksum');

  const grown = incrementalDatabaseChecksum({
    preApplyChecksum: start,
    pageSize: 4096,
    oldCommit: 5,
    newCommit: 8,
    pages: [{ pgno: 8, data: testPage(8) }],
    getOldPage: (p) => pages[p - 1],
  });
  t.equal(grown, full(8, (p) => (p <= 5 ? pages[p - 1] : p === 8 ? testPage(8) : zero4k)), 'unwritten pages 6, 7 count as zeros');

  const lock = lockPgno(4096);
  const acrossLock = incrementalDatabaseChecksum({
    preApplyChecksum: 0x8000000000000abcn,
    pageSize: 4096,
    oldCommit: lock - 1,
    newCommit: lock + 1,
    pages: [
      { pgno: lock, data: testPage(1) },
      { pgno: lock + 1, data: testPage(2) },
    ],
    getOldPage: () => t.fail('no old page needed') as never,
  });
  t.equal(acrossLock, combineChecksums(0x8000000000000abcn, pageChecksum(lock + 1, testPage(2))), 'the lock page never counts');

  throwsLtx(
    t,
    () =>
      incrementalDatabaseChecksum({
        preApplyChecksum: start,
        pageSize: 4096,
        oldCommit: 5,
        newCommit: 5,
        pages: [{ pgno: 6, data: testPage(6) }],
        getOldPage: (p) => pages[p - 1],
      }),
    'LTXVFS_ERR_USAGE',
    'incremental checksum',
    /page 6 outside 1…5/,
  );
});
