import t from 'tap';
import { createRequire } from 'node:module';
import { xxh32 } from '../../ltx/xxh32.js';
import { randomBytes } from './util.js';

// lz4js ships its own XXH32 (CommonJS, untyped): an independent implementation to compare with.
const ref = createRequire(import.meta.url)('lz4js/xxh32.js') as { hash(seed: number, b: Uint8Array, i: number, n: number): number };

t.test('published vectors', async (t) => {
  t.equal(xxh32(new Uint8Array(0)), 0x02cc5d05, 'empty');
  t.equal(xxh32(new TextEncoder().encode('abc')), 0x32d153ff, '"abc"');
  t.equal(xxh32(Uint8Array.from([0x64, 0x40])), 0x95c0a77c, 'FLG/BD of pierrec frames');
  t.equal((xxh32(Uint8Array.from([0x64, 0x40])) >>> 8) & 0xff, 0xa7, 'their header checksum byte is 0xa7');
});

t.test('equals the lz4js implementation for every length 0…200, several seeds, and ranges', async (t) => {
  const data = randomBytes(300, 17);
  for (let n = 0; n <= 200; n++) {
    for (const seed of [0, 1, 0x9e3779b1]) {
      if (xxh32(data, 0, n, seed) !== ref.hash(seed, data, 0, n) >>> 0) t.fail(`length ${n} seed ${seed}`);
    }
  }
  t.equal(xxh32(data, 13, 250), ref.hash(0, data, 13, 237) >>> 0, 'start/end range');
  t.pass('all lengths agree');
});
