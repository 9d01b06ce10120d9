import t from 'tap';
import { SQLITE_IOERR_SHORT_READ, SQLITE_OK } from '@journeyapps/wa-sqlite';
import { MemoryFile } from '../../vfs/core/memory-file.js';

t.test('an empty file reads as zeros with SQLITE_IOERR_SHORT_READ', async (t) => {
  const file = new MemoryFile();
  const dest = new Uint8Array(8).fill(0xff);
  t.equal(file.read(dest, 0), SQLITE_IOERR_SHORT_READ);
  t.same(dest, new Uint8Array(8));
  t.equal(file.size, 0);
});

t.test('writes grow the file; a gap reads as zeros', async (t) => {
  const file = new MemoryFile();
  file.write(new Uint8Array([1, 2, 3]), 0);
  file.write(new Uint8Array([9]), 10_000);
  t.equal(file.size, 10_001);
  const dest = new Uint8Array(6);
  t.equal(file.read(dest, 0), SQLITE_OK);
  t.same(dest, new Uint8Array([1, 2, 3, 0, 0, 0]));
  const tail = new Uint8Array(4).fill(0xff);
  t.equal(file.read(tail, 9_999), SQLITE_IOERR_SHORT_READ);
  t.same(tail, new Uint8Array([0, 9, 0, 0]));
});

t.test('overwrites keep the size; reads past the end zero-fill', async (t) => {
  const file = new MemoryFile();
  file.write(new Uint8Array(100).fill(7), 0);
  file.write(new Uint8Array([1, 1]), 50);
  t.equal(file.size, 100);
  const dest = new Uint8Array(4).fill(0xff);
  t.equal(file.read(dest, 200), SQLITE_IOERR_SHORT_READ);
  t.same(dest, new Uint8Array(4));
  const mid = new Uint8Array(3);
  t.equal(file.read(mid, 49), SQLITE_OK);
  t.same(mid, new Uint8Array([7, 1, 1]));
});

t.test('truncate shrinks (old bytes do not come back) and grows with zeros', async (t) => {
  const file = new MemoryFile();
  file.write(new Uint8Array(10).fill(5), 0);
  file.truncate(4);
  t.equal(file.size, 4);
  file.truncate(8);
  t.equal(file.size, 8);
  const dest = new Uint8Array(8);
  t.equal(file.read(dest, 0), SQLITE_OK);
  t.same(dest, new Uint8Array([5, 5, 5, 5, 0, 0, 0, 0]));
  file.truncate(8);
  t.equal(file.size, 8, 'same size is a no-op');
  file.truncate(0);
  t.equal(file.size, 0);
  file.truncate(3);
  const again = new Uint8Array(3).fill(1);
  t.equal(file.read(again, 0), SQLITE_OK);
  t.same(again, new Uint8Array(3));
});
