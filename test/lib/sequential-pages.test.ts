import t from 'tap';
import { READ_AHEAD_PAGES, SequentialPages } from '../../lib/hydrate/sequential-pages.js';

const PAGE = 16;
/** Page `pgno` of a made-up file: every byte is pgno & 0xff. */
const fileFill = (calls: number[]) => (buffer: Uint8Array, first: number): boolean => {
  calls.push(first);
  for (let k = 0; k < buffer.length / PAGE; k++) buffer.fill((first + k) & 0xff, k * PAGE, (k + 1) * PAGE);
  return true;
};

t.test('from the third consecutive page on, one fill serves the next 32 pages', async (t) => {
  const seq = new SequentialPages();
  const calls: number[] = [];
  const dst = new Uint8Array(PAGE);
  const served: number[] = [];
  for (let pgno = 10; pgno < 10 + 2 + 2 * READ_AHEAD_PAGES; pgno++) {
    if (seq.read(pgno, dst, 1000, 'A', fileFill(calls))) {
      served.push(pgno);
      if (dst.some((b) => b !== (pgno & 0xff))) t.fail(`page ${pgno} bytes`);
    }
  }
  t.same(calls, [12, 12 + READ_AHEAD_PAGES], 'two fills for 64 pages, from the third page');
  t.equal(served.length, 2 * READ_AHEAD_PAGES, 'pages 10 and 11 were left to the caller');
});

t.test('random pages, a changed tag and the end of the file', async (t) => {
  const calls: number[] = [];
  const dst = new Uint8Array(PAGE);
  const random = new SequentialPages();
  for (const pgno of [5, 90, 7, 300, 6, 12]) t.notOk(random.read(pgno, dst, 1000, 'A', fileFill(calls)), `random page ${pgno}: the caller reads it`);
  t.same(calls, []);

  const seq = new SequentialPages();
  for (const pgno of [1, 2, 3, 4]) seq.read(pgno, dst, 1000, 'A', fileFill(calls));
  t.same(calls, [3]);
  t.ok(seq.read(5, dst, 1000, 'B', fileFill(calls)), 'another tag: read again');
  t.same(calls, [3, 5], 'the buffer of tag A is not served under tag B');

  const end = new SequentialPages();
  const tail: number[] = [];
  for (const pgno of [980, 981, 982]) t.notOk(end.read(pgno, dst, 1000, 'A', fileFill(tail)), `page ${pgno}: 32 pages would pass page 1000`);
  t.same(tail, []);
  const failing = new SequentialPages();
  for (const pgno of [1, 2]) failing.read(pgno, dst, 1000, 'A', fileFill(calls));
  t.notOk(failing.read(3, dst, 1000, 'A', () => false), 'a fill that fails: the caller reads the page');
  t.notOk(failing.read(4, dst, 1000, 'A', () => false), 'and nothing half-filled is served');
});
