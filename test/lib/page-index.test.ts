import t, { type Test } from 'tap';
import { PageIndex, makeLtxFile, type LtxFile } from '../../lib/replica/page-index.js';
import { CHECKSUM_FLAG, databaseChecksum, formatChecksum, lockPgno } from '../../ltx/checksum.js';
import { isLtxvfsError } from '../../ltx/errors.js';
import { ltxFileFromSpec, testPage, type LtxSpec, type Page } from '../helpers/replica-builder.js';

/** Pages `from…to` of `pageSize` bytes, each filled from `seed + pgno`. */
function pages(from: number, to: number, seed = 0, pageSize = 512): Page[] {
  const out: Page[] = [];
  for (let pgno = from; pgno <= to; pgno++) out.push({ pgno, data: testPage(seed + pgno, pageSize) });
  return out;
}

/** A NoChecksum file (512-byte pages unless told). */
function file(minTXID: number, maxTXID: number, commit: number, ps: Page[], over: Partial<LtxSpec> = {}): LtxFile {
  return ltxFileFromSpec({ minTXID, maxTXID, pageSize: 512, commit, pages: ps, ...over });
}

/** The file and pgno page `pgno` resolves to in `v`, for comparisons. */
function where(v: PageIndex, pgno: number): string | undefined {
  const ref = v.get(pgno);
  return ref === undefined ? undefined : `${ref.file.info.key}#${ref.file.entries.at(ref.entry)!.pgno}`;
}

function throwsCode(t: Test, fn: () => unknown, code: string, key: string, reason: RegExp): void {
  try {
    fn();
    t.fail(`expected ${code}`);
  } catch (err) {
    t.ok(isLtxvfsError(err), 'an LtxvfsError');
    t.equal((err as { code: string }).code, code, (err as Error).message);
    t.equal((err as { key: string }).key, key, 'error key is the file');
    t.ok((err as Error).message.startsWith(`${key}: `), `message names the file: ${(err as Error).message}`);
    t.match((err as Error).message, reason);
  }
}

t.test('the empty index serves nothing', async (t) => {
  const v = PageIndex.empty();
  t.equal(v.txid, 0);
  t.equal(v.commit, 0);
  t.equal(v.pageSize, 0);
  t.equal(PageIndex.empty(4096).pageSize, 4096);
  t.equal(v.get(1), undefined);
  t.same(v.missingPages(), []);
  t.same(v.files, []);
});

t.test('a snapshot maps every page to its frame', async (t) => {
  const snap = file(1, 1, 10, pages(1, 10), { timestamp: 1234 });
  const v = PageIndex.empty().apply(snap);
  t.equal(v.txid, 1);
  t.equal(v.commit, 10);
  t.equal(v.pageSize, 512);
  t.equal(v.timestamp, 1234);
  t.equal(v.postApplyChecksum, 0n);
  t.equal(v.checksummed, false);
  t.same(v.files, [snap]);
  for (let pgno = 1; pgno <= 10; pgno++) {
    const ref = v.get(pgno)!;
    t.equal(ref.file, snap);
    t.equal(snap.entries.at(ref.entry)!.pgno, pgno);
  }
  t.equal(v.get(0), undefined, 'page 0');
  t.equal(v.get(11), undefined, 'beyond commit');
  t.same(v.missingPages(), []);
});

t.test('a later file replaces its pages and leaves the older version unchanged', async (t) => {
  const f1 = file(1, 1, 10, pages(1, 10));
  const f2 = file(2, 2, 12, [...pages(3, 4, 100), ...pages(11, 12, 100)]);
  const v1 = PageIndex.empty().apply(f1);
  const v2 = v1.apply(f2);
  t.equal(v2.txid, 2);
  t.equal(v2.commit, 12);
  t.same(v2.files, [f1, f2]);
  t.equal(where(v2, 1), `${f1.info.key}#1`);
  t.equal(where(v2, 3), `${f2.info.key}#3`);
  t.equal(where(v2, 4), `${f2.info.key}#4`);
  t.equal(where(v2, 11), `${f2.info.key}#11`);
  // v1 is as it was.
  t.equal(v1.commit, 10);
  t.equal(v1.txid, 1);
  t.equal(where(v1, 3), `${f1.info.key}#3`);
  t.equal(v1.get(11), undefined);
  t.same(v1.files, [f1]);
});

t.test('truncation drops pages beyond commit; growing again does not bring them back', async (t) => {
  const f1 = file(1, 1, 10, pages(1, 10));
  const f2 = file(2, 2, 5, pages(2, 2, 50)); // shrinks to 5 pages
  const f3 = file(3, 3, 8, pages(6, 7, 60)); // grows to 8, writes 6 and 7 only
  const v1 = PageIndex.empty().apply(f1);
  const v2 = v1.apply(f2);
  const v3 = v2.apply(f3);
  t.equal(v2.commit, 5);
  for (let pgno = 6; pgno <= 10; pgno++) t.equal(v2.get(pgno), undefined, `v2 page ${pgno} dropped`);
  t.equal(where(v3, 6), `${f3.info.key}#6`);
  t.equal(where(v3, 7), `${f3.info.key}#7`);
  t.equal(v3.get(8), undefined, 'page 8 of the first file is not served again after the truncation');
  t.same(v3.missingPages(), [8]);
  t.equal(where(v1, 8), `${f1.info.key}#8`, 'the version before the truncation still has it');
  t.same(v1.missingPages(), []);
});

t.test('versions spanning several chunks (256 pages each)', async (t) => {
  const f1 = file(1, 1, 9000, pages(1, 9000));
  const f2 = file(2, 2, 9000, pages(1, 1, 7));
  const v1 = PageIndex.empty().apply(f1);
  const v2 = v1.apply(f2);
  t.equal(where(v2, 1), `${f2.info.key}#1`);
  t.equal(where(v2, 4096), `${f1.info.key}#4096`);
  t.equal(where(v2, 4097), `${f1.info.key}#4097`);
  t.equal(where(v2, 9000), `${f1.info.key}#9000`);
  t.equal(where(v1, 1), `${f1.info.key}#1`, 'older version keeps its page 1');

  // Truncate into the second chunk: the third chunk goes, the second is cut.
  const v3 = v2.apply(file(3, 3, 5000, []));
  t.equal(where(v3, 5000), `${f1.info.key}#5000`);
  t.equal(v3.get(5001), undefined);
  t.equal(v3.get(8192), undefined);
  // Truncate exactly at a chunk boundary.
  const v4 = v3.apply(file(4, 4, 4096, []));
  t.equal(where(v4, 4096), `${f1.info.key}#4096`);
  t.equal(v4.get(4097), undefined);
  // Grow again across the boundary: only the pages written are there.
  const f5 = file(5, 5, 8193, pages(8193, 8193, 5));
  const v5 = v4.apply(f5);
  t.equal(where(v5, 8193), `${f5.info.key}#8193`);
  t.same(v5.missingPages(3), [4097, 4098, 4099]);
  t.equal(where(v2, 5001), `${f1.info.key}#5001`, 'v2 untouched by the truncations after it');
  t.same(v2.missingPages(), []);
});

t.test('growing into a new chunk without writing there keeps the pages below the old end', async (t) => {
  const f1 = file(1, 1, 4096, pages(1, 4096));
  const v1 = PageIndex.empty().apply(f1);
  // Commit grows to 5000 but the file writes only page 1: pages 2…4096 stay, 4097… are holes.
  const v2 = v1.apply(file(2, 2, 5000, pages(1, 1, 9)));
  t.equal(where(v2, 905), `${f1.info.key}#905`);
  t.equal(where(v2, 4096), `${f1.info.key}#4096`);
  t.same(v2.missingPages(2), [4097, 4098]);
});

t.test('isCurrent tells whether a frame is the one a version serves', async (t) => {
  const f1 = file(1, 1, 6, pages(1, 6));
  const f2 = file(2, 2, 4, pages(1, 1, 10));
  const v1 = PageIndex.empty().apply(f1);
  const v2 = v1.apply(f2);
  const old1 = v1.get(1)!;
  const new1 = v2.get(1)!;
  t.ok(v1.isCurrent(old1));
  t.notOk(v2.isCurrent(old1), 'replaced by the newer file');
  t.ok(v2.isCurrent(new1));
  t.notOk(v1.isCurrent(new1), 'a newer frame is not current in an older version');
  t.ok(v2.isCurrent(v1.get(2)!), 'an untouched frame is current in both');
  t.notOk(v2.isCurrent(v1.get(6)!), 'a frame beyond the new commit is not current');
  t.notOk(v1.isCurrent({ file: f1, entry: 99 }), 'an entry the file does not have');
});

t.test('a file of several TXIDs may overlap the version (compaction), but must reach past it', async (t) => {
  const v = PageIndex.empty().apply(file(1, 1, 3, pages(1, 3))).apply(file(2, 2, 3, pages(2, 2, 5))).apply(file(3, 3, 3, pages(3, 3, 5)));
  const l1 = ltxFileFromSpec({ level: 1, minTXID: 2, maxTXID: 4, pageSize: 512, commit: 3, pages: pages(1, 3, 40) });
  const v2 = v.apply(l1);
  t.equal(v2.txid, 4);
  t.equal(where(v2, 2), `${l1.info.key}#2`);
  throwsCode(t, () => v.apply(file(2, 3, 3, pages(1, 1))), 'LTXVFS_ERR_TXID_GAP', 'ltx/0/0000000000000002-0000000000000003.ltx',
    /TXIDs 2-3 do not continue from TXID 3/);
});

t.test('apply refuses files that do not continue the version', async (t) => {
  const v1 = PageIndex.empty().apply(file(1, 1, 2, pages(1, 2)));

  throwsCode(t, () => PageIndex.empty().apply(file(2, 2, 2, pages(1, 1))), 'LTXVFS_ERR_TXID_GAP',
    'ltx/0/0000000000000002-0000000000000002.ltx', /first file of a plan must start at TXID 1, starts at 2/);

  throwsCode(t, () => v1.apply(file(3, 3, 2, pages(1, 1))), 'LTXVFS_ERR_TXID_GAP',
    'ltx/0/0000000000000003-0000000000000003.ltx', /TXIDs 3-3 do not continue from TXID 1/);

  throwsCode(t, () => v1.apply(file(1, 1, 2, pages(1, 2))), 'LTXVFS_ERR_TXID_GAP',
    'ltx/0/0000000000000001-0000000000000001.ltx', /TXIDs 1-1 do not continue from TXID 1/);

  const big = ltxFileFromSpec({ minTXID: 2, maxTXID: 2, pageSize: 4096, commit: 2, pages: [{ pgno: 1, data: testPage(1, 4096) }] });
  throwsCode(t, () => v1.apply(big), 'LTXVFS_ERR_PAGE_SIZE', 'ltx/0/0000000000000002-0000000000000002.ltx',
    /page size 4096 does not match 512 of the files before it/);
});

t.test('the pre-apply checksum of a checksummed file must equal the post-apply checksum before it', async (t) => {
  const snapPages = pages(1, 3);
  const byPgno = new Map(snapPages.map((p) => [p.pgno, p.data]));
  const post1 = databaseChecksum(512, 3, (pgno) => byPgno.get(pgno)!);
  const snap = file(1, 1, 3, snapPages, { flags: 0, postApplyChecksum: post1 });
  const v1 = PageIndex.empty().apply(snap);
  t.equal(v1.checksummed, true);
  t.equal(v1.postApplyChecksum, post1);

  const next = pages(2, 2, 77);
  byPgno.set(2, next[0].data);
  const post2 = databaseChecksum(512, 3, (pgno) => byPgno.get(pgno)!);
  const good = file(2, 2, 3, next, { flags: 0, preApplyChecksum: post1, postApplyChecksum: post2 });
  const v2 = v1.apply(good);
  t.equal(v2.postApplyChecksum, post2);

  const wrongPre = CHECKSUM_FLAG | 0x1234n;
  const bad = file(2, 2, 3, next, { flags: 0, preApplyChecksum: wrongPre, postApplyChecksum: post2 });
  throwsCode(t, () => v1.apply(bad), 'LTXVFS_ERR_CHECKSUM', 'ltx/0/0000000000000002-0000000000000002.ltx',
    new RegExp(`pre-apply checksum ${formatChecksum(wrongPre)} does not match post-apply checksum ${formatChecksum(post1)} at TXID 1`));

  // No chain to check when either side carries no checksums, or the file overlaps the version.
  const plain = PageIndex.empty().apply(file(1, 1, 3, snapPages));
  t.equal(plain.apply(bad).txid, 2, 'checksummed file on a NoChecksum version');
  const noSum = v1.apply(file(2, 2, 3, next));
  t.equal(noSum.checksummed, false, 'NoChecksum file on a checksummed version');
  t.equal(noSum.postApplyChecksum, 0n);
  const overlapping = ltxFileFromSpec({
    level: 1, minTXID: 1, maxTXID: 2, pageSize: 512, commit: 3, pages: [...pages(1, 1), next[0], ...pages(3, 3)],
    flags: 0, postApplyChecksum: post2,
  });
  t.equal(v1.apply(overlapping).postApplyChecksum, post2, 'overlapping compaction: pre-apply not compared');
});

t.test('a page index holding the lock page or a page beyond commit is corrupt', async (t) => {
  const lock = lockPgno(512); // 2097153
  t.equal(lock, 2097153);
  const v1 = PageIndex.empty().apply(file(1, 1, 2, pages(1, 2)));
  // A real file that grows past the lock page, then an index with the lock page added.
  const real = file(2, 2, lock + 1, [...pages(1, 1, 3), ...pages(lock + 1, lock + 1, 3)]);
  const last = real.entries.at(1)!;
  const withLock = makeLtxFile(real.info, real.header, real.trailer, [real.entries.at(0)!, { ...last, pgno: lock }, last]);
  throwsCode(t, () => v1.apply(withLock), 'LTXVFS_ERR_CORRUPT', real.info.key, new RegExp(`page index holds page ${lock}, the lock page`));
  const beyond = makeLtxFile(real.info, real.header, real.trailer, [...real.entries, { ...last, pgno: lock + 2 }]);
  throwsCode(t, () => v1.apply(beyond), 'LTXVFS_ERR_CORRUPT', real.info.key,
    new RegExp(`page index holds page ${lock + 2}, beyond commit ${lock + 1}`));

  // The real file applies; every page but 1, 2 and the last is a hole, and the lock page is no hole.
  const v2 = v1.apply(real);
  t.same(v2.missingPages(3), [3, 4, 5]);
  const all = v2.missingPages(Infinity);
  t.equal(all.length, lock + 1 - 3 - 1, 'pages 3…lock-1 are missing, the lock page is not');
  t.equal(all[all.length - 1], lock - 1);
  t.equal(v2.get(lock), undefined);
});

t.test('every file gets its own id', async (t) => {
  const a = file(1, 1, 1, pages(1, 1));
  const b = file(1, 1, 1, pages(1, 1));
  t.not(a.id, b.id);
});

t.test('applyAll gives the version that applying the files one by one gives', async (t) => {
  // Across chunks: write, truncate into the second chunk, truncate at a boundary, grow past it again.
  const files = [
    file(1, 1, 9000, pages(1, 9000)),
    file(2, 2, 9000, pages(1, 1, 7)),
    file(3, 3, 5000, pages(4500, 4500, 3)),
    file(4, 4, 4096, []),
    file(5, 5, 8193, pages(8193, 8193, 5)),
    file(6, 6, 8193, pages(2, 3, 6)),
  ];
  const base = PageIndex.empty();
  let oneByOne = base;
  for (const f of files) oneByOne = oneByOne.apply(f);
  const all = base.applyAll(files);
  for (const k of ['pageSize', 'commit', 'txid', 'timestamp', 'postApplyChecksum', 'checksummed'] as const) t.equal(all[k], oneByOne[k], k);
  t.same(all.files.map((f) => f.info.key), oneByOne.files.map((f) => f.info.key));
  const differ: number[] = [];
  for (let pgno = 1; pgno <= 9001; pgno++) if (where(all, pgno) !== where(oneByOne, pgno)) differ.push(pgno);
  t.same(differ, [], 'every page resolves to the same frame');
  t.same(all.missingPages(5), [4097, 4098, 4099, 4100, 4101]);
  t.equal(base.applyAll([]), base, 'no files: the same version');

  // Applied onto an existing version, which stays as it was.
  const v1 = base.apply(files[0]);
  const v6 = v1.applyAll(files.slice(1));
  t.same([where(v6, 2), where(v6, 4500), where(v6, 5000)], [`${files[5].info.key}#2`, undefined, undefined]);
  t.equal(where(v1, 5000), `${files[0].info.key}#5000`, 'the base version is untouched');
  t.same(v1.missingPages(), []);
});

t.test('applyAll checks every file against the state before it', async (t) => {
  const v = PageIndex.empty();
  throwsCode(t, () => v.applyAll([file(1, 1, 3, pages(1, 3)), file(3, 3, 3, pages(1, 1))]), 'LTXVFS_ERR_TXID_GAP',
    'ltx/0/0000000000000003-0000000000000003.ltx', /TXIDs 3-3 do not continue from TXID 1/);
  throwsCode(t, () => v.applyAll([file(1, 1, 3, pages(1, 3)), file(2, 2, 3, pages(1, 1, 0, 1024), { pageSize: 1024 })]), 'LTXVFS_ERR_PAGE_SIZE',
    'ltx/0/0000000000000002-0000000000000002.ltx', /page size 1024 does not match 512/);
  // A valid file whose index is then given a page beyond its commit.
  const real = file(3, 3, 2, pages(2, 2));
  const beyond = makeLtxFile(real.info, real.header, real.trailer, [{ ...real.entries.at(0)!, pgno: 3 }]);
  throwsCode(t, () => v.applyAll([file(1, 1, 3, pages(1, 3)), file(2, 2, 3, pages(1, 1)), beyond]), 'LTXVFS_ERR_CORRUPT',
    'ltx/0/0000000000000003-0000000000000003.ltx', /page index holds page 3, beyond commit 2/);
});

t.test('a shrink then a growth inside one chunk, in one applyAll or file by file, serves no page from before the shrink', async (t) => {
  const f1 = file(1, 1, 300, pages(1, 300));
  const shrink = file(2, 2, 270, pages(1, 1, 2));
  const grow = file(3, 3, 290, pages(290, 290, 3));
  const stepwise = PageIndex.empty().apply(f1).apply(shrink).apply(grow);
  const together = PageIndex.empty().applyAll([f1, shrink, grow]);
  for (const [how, v] of [['file by file', stepwise], ['one applyAll', together]] as const) {
    t.equal(where(v, 270), `${f1.info.key}#270`, `${how}: below the shrink`);
    for (const pgno of [271, 280, 289]) t.equal(v.get(pgno), undefined, `${how}: page ${pgno} was cut by the shrink`);
    t.equal(where(v, 290), `${grow.info.key}#290`, `${how}: the page written after it`);
    t.same(v.missingPages(30), Array.from({ length: 19 }, (_, i) => 271 + i), `${how}: the holes`);
  }
  // Growing without a shrink before keeps everything below the old commit.
  const v = PageIndex.empty().apply(f1).apply(file(2, 2, 310, pages(310, 310, 4)));
  t.equal(where(v, 300), `${f1.info.key}#300`);
  t.same(v.missingPages(), [301, 302, 303, 304, 305, 306, 307, 308, 309]);
});

t.test('files: oldest first, shared with the versions before, and what a version applied since another', async (t) => {
  const f1 = file(1, 1, 4, pages(1, 4));
  const f2 = file(2, 2, 4, pages(2, 2, 1));
  const f3 = file(3, 3, 4, pages(3, 3, 2));
  const f4 = file(4, 4, 4, pages(4, 4, 3));
  const v1 = PageIndex.empty().apply(f1);
  const v2 = v1.apply(f2);
  const v4 = v2.applyAll([f3, f4]);
  t.same(v4.files, [f1, f2, f3, f4]);
  t.equal(v4.fileCount, 4);
  t.equal(v4.newestFile, f4);
  t.equal(PageIndex.empty().newestFile, undefined);
  t.same(v1.files, [f1], 'the older version keeps its list');
  t.same(v4.filesSince(v1), [f2, f3, f4]);
  t.same(v4.filesSince(v4), []);
  t.same(v4.filesSince(PageIndex.empty()), [f1, f2, f3, f4], 'everything since the empty index');
  t.equal(v1.filesSince(v4), undefined, 'a newer version is not before it');
  // A version built afresh from the same files shares no list with v1: not an extension of it.
  const rebuilt = PageIndex.empty().applyAll([f1, f2, f3]);
  t.equal(rebuilt.filesSince(v1), undefined);
  t.equal(v4.filesSince(rebuilt), undefined, 'same length before, other lineage');
  const branch = v2.apply(file(3, 3, 4, pages(1, 1, 5)));
  t.equal(branch.filesSince(v4), undefined, 'a sibling');
  t.same(branch.filesSince(v2)!.map((f) => f.info.maxTXID), [3]);
});
