/**
 * changedPages (lib/bridge/version-diff.ts): what a thread-local page cache keyed by page
 * number must drop between two versions. Checked against the pages themselves: every
 * page whose frame differs is reported (never fewer), and along a file chain nothing
 * more than the files' pages and the size change.
 */
import t from 'tap';
import { PageIndex } from '../../lib/replica/page-index.js';
import { changedPages, MAX_COMPARED_PAGES } from '../../lib/bridge/version-diff.js';
import { compactSpecs, ltxFileFromSpec, testPage, type LtxSpec } from '../helpers/replica-builder.js';

const PS = 4096;
const page = (pgno: number, gen = 0) => ({ pgno, data: testPage(pgno * 100 + gen, PS) });
const spec = (min: number, max: number, commit: number, pgnos: number[], gen = 0): LtxSpec => ({
  minTXID: min, maxTXID: max, pageSize: PS, commit, pages: pgnos.map((p) => page(p, gen)),
});

const snapshot = spec(1, 1, 10, [1, 2, 3, 4, 5, 6, 7, 8, 9, 10]);
const tx2 = spec(2, 2, 12, [1, 3, 11, 12], 2); // grows to 12
const tx3 = spec(3, 3, 8, [1, 5], 3); // shrinks to 8
const files = [snapshot, tx2, tx3].map(ltxFileFromSpec);
const v1 = PageIndex.empty().apply(files[0]);
const v2 = v1.apply(files[1]);
const v3 = v2.apply(files[2]);

/** Pages whose frames differ, by brute force. */
function byFrames(a: PageIndex, b: PageIndex): number[] {
  const out: number[] = [];
  for (let p = 1; p <= Math.max(a.commit, b.commit); p++) {
    const x = a.get(p);
    const y = b.get(p);
    if (x?.file !== y?.file || x?.entry !== y?.entry) out.push(p);
  }
  return out;
}

t.test('the same version: nothing', async (t) => {
  t.same(changedPages(v2, v2), []);
});

t.test('forward along the chain: the pages of the files applied, and the growth', async (t) => {
  t.same(changedPages(v1, v2), [1, 3, 11, 12]);
  t.same(changedPages(v2, v3), [1, 5, 9, 10, 11, 12], 'a shrink drops the pages beyond the new size');
  t.same(changedPages(v1, v3), [1, 3, 5, 9, 10, 11, 12]);
  for (const [a, b] of [[v1, v2], [v2, v3], [v1, v3]] as const) {
    const reported = new Set(changedPages(a, b) as number[]);
    t.ok(byFrames(a, b).every((p) => reported.has(p)), 'every page whose frame differs is reported');
  }
});

t.test('backward along the chain (time travel): the same pages', async (t) => {
  t.same(changedPages(v2, v1), [1, 3, 11, 12]);
  t.same(changedPages(v3, v1), [1, 3, 5, 9, 10, 11, 12]);
});

t.test('a rebuild from other files is compared frame by frame', async (t) => {
  const compacted = ltxFileFromSpec(compactSpecs([snapshot, tx2], 1));
  const rebuilt = PageIndex.empty().apply(compacted);
  t.equal(rebuilt.txid, v2.txid);
  t.same(changedPages(v2, rebuilt), byFrames(v2, rebuilt));
  t.same(changedPages(v2, rebuilt), Array.from({ length: 12 }, (_, i) => i + 1), 'every page lives in another file now');
  const onward = rebuilt.apply(files[2]);
  t.same(changedPages(rebuilt, onward), [1, 5, 9, 10, 11, 12], 'and the chain goes on from it');
});

t.test('all: another page size, an empty version, or too many pages to compare', async (t) => {
  const other = PageIndex.empty().apply(ltxFileFromSpec({ ...spec(1, 1, 2, []), pageSize: 1024, pages: [1, 2].map((p) => ({ pgno: p, data: testPage(p, 1024) })) }));
  t.equal(changedPages(v1, other), 'all');
  t.equal(changedPages(PageIndex.empty(), v1), 'all');
  const big = MAX_COMPARED_PAGES + 10;
  const a = v1.apply(ltxFileFromSpec(spec(2, 2, big, [1])));
  const b = v1.apply(ltxFileFromSpec(spec(2, 2, big, [1], 7)));
  t.equal(changedPages(a, b), 'all');
});
