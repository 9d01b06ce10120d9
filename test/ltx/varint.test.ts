import t from 'tap';
import { appendUvarint, decodeUvarint, encodeUvarint, MAX_VARINT_LEN64, putUvarint, uvarintSize } from '../../ltx/varint.js';
import { throwsLtx, toHex } from './util.js';

const vectors: [number, string][] = [
  [0, '00'],
  [1, '01'],
  [127, '7f'],
  [128, '8001'],
  [300, 'ac02'],
  [16384, '808001'],
  [2 ** 32, '8080808010'],
  [Number.MAX_SAFE_INTEGER, 'ffffffffffffff0f'],
];

t.test('vectors of docs/formats.md §1.6, encoded and decoded', async (t) => {
  for (const [value, hex] of vectors) {
    t.equal(toHex(encodeUvarint(value)), hex, `encode ${value}`);
    t.equal(uvarintSize(value), hex.length / 2, `size of ${value}`);
    const bytes = Buffer.from(`aa${hex}bb`, 'hex');
    t.same(decodeUvarint(bytes, 1), [value, hex.length / 2], `decode ${value} at an offset`);
  }
});

t.test('appendUvarint and putUvarint write the same bytes', async (t) => {
  const list: number[] = [];
  for (const [value] of vectors) appendUvarint(list, value);
  t.equal(Buffer.from(list).toString('hex'), vectors.map(([, h]) => h).join(''));
  const buf = new Uint8Array(list.length);
  let p = 0;
  for (const [value] of vectors) p = putUvarint(buf, p, value);
  t.equal(p, list.length, 'returns the offset after');
  t.same(Array.from(buf), list);
});

t.test('decode follows Go: non-minimal forms are read', async (t) => {
  t.same(decodeUvarint(Uint8Array.from([0x80, 0x00]), 0), [0, 2]);
  t.same(decodeUvarint(Uint8Array.from([0xff, 0x80, 0x00]), 0), [127, 3]);
});

t.test('decode errors: truncated, 64-bit overflow, beyond 2^53-1', async (t) => {
  throwsLtx(t, () => decodeUvarint(Uint8Array.from([0x80, 0x80]), 0, 'f.ltx'), 'LTXVFS_ERR_CORRUPT', 'f.ltx', /varint at offset 0 truncated after 2 bytes/);
  throwsLtx(t, () => decodeUvarint(new Uint8Array(0), 0), 'LTXVFS_ERR_CORRUPT', 'uvarint', /truncated after 0 bytes/);
  throwsLtx(
    t,
    () => decodeUvarint(new Uint8Array(5).fill(0x80), 2, 'f.ltx: page index', 1000),
    'LTXVFS_ERR_CORRUPT',
    'f.ltx: page index',
    /offset 1002 truncated/,
  );
  const tenth = new Uint8Array(MAX_VARINT_LEN64).fill(0xff);
  tenth[9] = 0x02;
  throwsLtx(t, () => decodeUvarint(tenth, 0, 'f.ltx'), 'LTXVFS_ERR_CORRUPT', 'f.ltx', /overflows 64 bits/);
  const eleven = new Uint8Array(11).fill(0x80);
  throwsLtx(t, () => decodeUvarint(eleven, 0, 'f.ltx'), 'LTXVFS_ERR_CORRUPT', 'f.ltx', /overflows 64 bits/);
  // 2^63 - 1 is a valid u64 but not a safe JS number.
  const big = Uint8Array.from([0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x7f]);
  throwsLtx(t, () => decodeUvarint(big, 0, 'f.ltx'), 'LTXVFS_ERR_CORRUPT', 'f.ltx', /exceeds 2\^53-1/);
  const max = Uint8Array.from([0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01]);
  throwsLtx(t, () => decodeUvarint(max, 0, 'f.ltx'), 'LTXVFS_ERR_CORRUPT', 'f.ltx', /exceeds 2\^53-1/);
});

t.test('encode refuses negative, fractional and unsafe values', async (t) => {
  for (const v of [-1, 1.5, 2 ** 53, Number.NaN]) {
    throwsLtx(t, () => encodeUvarint(v), 'LTXVFS_ERR_USAGE', 'uvarint', /invalid/);
    throwsLtx(t, () => appendUvarint([], v), 'LTXVFS_ERR_USAGE', 'uvarint', /invalid/);
    throwsLtx(t, () => putUvarint(new Uint8Array(10), 0, v), 'LTXVFS_ERR_USAGE', 'uvarint', /invalid/);
  }
});
