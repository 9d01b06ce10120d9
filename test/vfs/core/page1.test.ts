import t from 'tap';
import { changeCounterForTxid, DB_HEADER_SIZE, patchPage1 } from '../../../vfs/core/page1.js';

function page1(pageSize = 4096): Uint8Array {
  const page = new Uint8Array(pageSize);
  page.set(new TextEncoder().encode('SQLite format 3\0'));
  page[16] = pageSize >> 8;
  page[18] = 2; // WAL mode
  page[19] = 2;
  const view = new DataView(page.buffer);
  view.setUint32(24, 0x6f84b238); // change counter of the source
  view.setUint32(28, 4);
  view.setUint32(40, 7); // schema cookie
  view.setUint32(92, 0x6f84b238);
  view.setUint32(96, 3040001);
  page[DB_HEADER_SIZE] = 0x0d; // first byte of the b-tree page header
  return page;
}

const version = { txid: 0x1_2345_6789, pageSize: 4096, commit: 42, timestamp: 0 };

t.test('patchPage1 sets rollback-journal mode, a TXID-derived change counter and commit', async (t) => {
  const src = page1();
  const out = patchPage1(src, version);
  const view = new DataView(out.buffer, out.byteOffset);
  t.equal(out[18], 1, 'write version 1');
  t.equal(out[19], 1, 'read version 1');
  t.equal(view.getUint32(24), 0x2345_6789, 'change counter = TXID mod 2^32');
  t.equal(view.getUint32(92), 0x2345_6789, 'version-valid-for = change counter');
  t.equal(view.getUint32(28), 42, 'in-header page count = commit');
  t.equal(view.getUint32(40), 7, 'schema cookie untouched');
  t.equal(view.getUint32(96), 3040001, 'SQLite version untouched');
  t.equal(out[DB_HEADER_SIZE], 0x0d, 'the rest of the page is copied');
  t.equal(out.length, 4096);
});

t.test('patchPage1 never modifies its input (a cached page)', async (t) => {
  const src = page1();
  const before = src.slice();
  const out = patchPage1(src, version);
  t.same(src, before);
  t.not(out.buffer, src.buffer);
});

t.test('patchPage1 works on a page that is a view into a larger buffer', async (t) => {
  const whole = new Uint8Array(3 * 4096);
  whole.set(page1(), 4096);
  const out = patchPage1(whole.subarray(4096, 8192), { ...version, txid: 5 });
  t.equal(out.length, 4096);
  t.equal(new DataView(out.buffer, out.byteOffset).getUint32(24), 5);
  t.equal(out[0], 'S'.charCodeAt(0));
});

t.test('the change counter changes with the TXID, and only with it', async (t) => {
  t.equal(changeCounterForTxid(1), 1);
  t.equal(changeCounterForTxid(0xffff_ffff), 0xffff_ffff);
  t.equal(changeCounterForTxid(0x1_0000_0000), 0);
  t.equal(changeCounterForTxid(Number.MAX_SAFE_INTEGER), 0xffff_ffff);
  t.not(changeCounterForTxid(41), changeCounterForTxid(42));
  t.equal(changeCounterForTxid(42), changeCounterForTxid(42));
});
