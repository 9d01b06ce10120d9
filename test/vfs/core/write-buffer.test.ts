/**
 * WriteBuffer (vfs/core/write-buffer.ts): whole pages only, copies kept, the page size
 * from the first write, truncation, and the commit size and change counter the core's
 * commit points read from page 1.
 */
import t from 'tap';
import { WriteBuffer } from '../../../vfs/core/write-buffer.js';

t.test('WriteBuffer', async (t) => {
  const buffer = new WriteBuffer(0, 0);
  buffer.truncate(8192);
  t.equal(buffer.commit, 0, 'a truncation before the page size is known changes nothing');
  t.equal(buffer.changeCounter(), undefined, 'no page 1 written');
  t.equal(buffer.commitSize(), 0);
  const page = new Uint8Array(512);
  buffer.write(page, 1024);
  t.equal(buffer.pageSize, 512, 'the first write gives the page size');
  t.equal(buffer.commit, 3);
  t.throws(() => buffer.write(new Uint8Array(100), 0), { code: 'LTXVFS_ERR_UNSUPPORTED', message: 'write of 100 bytes at offset 0: only whole pages of 512 bytes are supported' });
  t.throws(() => buffer.write(new Uint8Array(512), 100), { code: 'LTXVFS_ERR_UNSUPPORTED', message: /at offset 100/ });
  page[0] = 9;
  t.equal(buffer.page(3)?.[0], 0, 'the buffer keeps a copy');
  t.equal(buffer.page(2), undefined);

  const page1 = new Uint8Array(512);
  const view = new DataView(page1.buffer);
  view.setUint32(24, 41);
  view.setUint32(92, 41);
  view.setUint32(28, 2);
  buffer.write(page1, 0);
  t.equal(buffer.changeCounter(), 41);
  t.equal(buffer.commitSize(), 2, 'a valid header size wins over the file size (SQLite truncates after its commit point)');
  view.setUint32(92, 40);
  buffer.write(page1, 0);
  t.equal(buffer.commitSize(), 3, 'not when 24–27 differ from 92–95');
  view.setUint32(92, 41);
  view.setUint32(28, 0);
  buffer.write(page1, 0);
  t.equal(buffer.commitSize(), 3, 'nor when the size is 0');
  buffer.truncate(1024);
  t.equal(buffer.commit, 2);
  t.equal(buffer.page(3), undefined, 'pages beyond a truncation are dropped');
});
