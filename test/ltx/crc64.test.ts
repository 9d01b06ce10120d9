import t from 'tap';
import { execFileSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { Crc64, crc64, crc64Combine, crc64StateValue, crc64UpdateState } from '../../ltx/crc64.js';

/** The spec's definition (docs/formats.md §2.1) with bigint per byte: slow, obviously right. */
function referenceCrc(data: Uint8Array, crc = 0n): bigint {
  const MASK = (1n << 64n) - 1n;
  const table = Array.from({ length: 256 }, (_, i) => {
    let c = BigInt(i);
    for (let k = 0; k < 8; k++) c = c & 1n ? (c >> 1n) ^ 0xd800000000000000n : c >> 1n;
    return c;
  });
  let c = ~crc & MASK;
  for (const b of data) c = table[Number((c ^ BigInt(b)) & 0xffn)] ^ (c >> 8n);
  return ~c & MASK;
}

function pseudoRandom(n: number, seed: number): Uint8Array {
  let s = seed;
  return Uint8Array.from({ length: n }, () => {
    s = (Math.imul(s, 1103515245) + 12345) >>> 0;
    return s >>> 24;
  });
}

t.test('catalogue vectors of CRC-64/GO-ISO (docs/formats.md §2.1)', async (t) => {
  t.equal(crc64(new TextEncoder().encode('123456789')), 0xb90956c775a41001n, 'check value');
  t.equal(crc64(new Uint8Array(0)), 0n, 'empty input');
  const page = new Uint8Array(4100);
  page[3] = 1; // u32be(1) ‖ 4096 zero bytes
  t.equal(crc64(page), 0x59328f592d9e733dn, 'CRC(00000001 ‖ 4096 × 00), §2.2');
});

t.test('the WebAssembly slicing-by-16 and the bytewise path equal the definition at every length and alignment', async (t) => {
  const data = pseudoRandom(300, 7);
  for (let start = 0; start < 9; start++) {
    // Below 64 bytes byte by byte in JavaScript; from 64 on in the module, 16 bytes a step and the rest byte by byte.
    for (const end of [start, start + 1, start + 7, start + 8, start + 9, start + 63, start + 64, start + 65, start + 79, start + 80, start + 81, start + 203, 300]) {
      const part = data.subarray(start, end);
      t.equal(crc64(part), referenceCrc(part), `bytes ${start}…${end}`);
    }
  }
  const big = pseudoRandom(300_000, 3);
  t.equal(crc64(big), referenceCrc(big), '300 000 random bytes: more than the module takes at once (98,240)');
  t.equal(crc64(big.subarray(0, 98_240)), referenceCrc(big.subarray(0, 98_240)), 'exactly what it takes at once');
  t.equal(crc64(big.subarray(0, 98_241)), referenceCrc(big.subarray(0, 98_241)), 'one byte more');
  for (let start = 0; start < 9; start++) {
    const state = new Uint32Array([0xffffffff, 0xffffffff]);
    crc64UpdateState(state, big, start, start + 4124);
    t.equal(crc64StateValue(state), referenceCrc(big.subarray(start, start + 4124)), `a frame's bytes at offset ${start} of a larger buffer`);
  }
  const ones = new Uint8Array(64).fill(0xff);
  t.equal(crc64(ones), referenceCrc(ones), 'all-ones bytes (sign bits of every lane)');
});

t.test('streaming: passing the previous CRC continues it', async (t) => {
  const data = pseudoRandom(1000, 11);
  const whole = crc64(data);
  for (const split of [0, 1, 5, 8, 333, 999, 1000]) {
    t.equal(crc64(data.subarray(split), crc64(data.subarray(0, split))), whole, `split at ${split}`);
  }
  t.equal(referenceCrc(data.subarray(500), crc64(data.subarray(0, 500))), whole, 'reference agrees on continuation');
});

t.test('Crc64 class: chunked updates, ranges, digest without reset', async (t) => {
  const data = pseudoRandom(5000, 5);
  const h = new Crc64();
  t.equal(h.digest(), 0n, 'fresh digest is the empty CRC');
  for (let i = 0; i < data.length; i += 777) h.update(data.subarray(i, i + 777));
  t.equal(h.digest(), crc64(data), 'chunks');
  t.equal(h.digest(), crc64(data), 'digest twice, same value');
  t.equal(new Crc64().update(data, 10, 4000).digest(), crc64(data.subarray(10, 4000)), 'start/end range');
  t.equal(new Crc64().update(data, 0, 2500).update(data, 2500).digest(), crc64(data), 'range then rest');
});

t.test('raw state helpers round-trip through complement form', async (t) => {
  const state = new Uint32Array([0xffffffff, 0xffffffff]);
  crc64UpdateState(state, new TextEncoder().encode('123456789'));
  t.equal(crc64StateValue(state), 0xb90956c775a41001n);
});

t.test('crc64Combine: the CRC of A‖B from the CRCs of A and B and the length of B', async (t) => {
  const data = pseudoRandom(70_000, 7);
  for (const [cut, end] of [[0, 0], [0, 1], [1, 1], [5, 9], [4096, 8206], [1, 70_000], [69_999, 70_000], [12_345, 67_891]]) {
    const a = data.subarray(0, cut);
    const b = data.subarray(cut, end);
    t.equal(crc64Combine(crc64(a), crc64(b), b.length), referenceCrc(data.subarray(0, end)), `A = ${cut} bytes, B = ${end - cut} bytes`);
  }
  // Appending to a running CRC, in pieces fed out of order.
  const whole = new Crc64().update(data, 0, 1000);
  const later = new Crc64().update(data, 1000, 30_000);
  t.equal(whole.append(later.digest(), 29_000).digest(), crc64(data.subarray(0, 30_000)), 'Crc64.append');
  t.throws(() => crc64Combine(1n, 2n, -1), RangeError, 'a negative length');
});

t.test('the committed module is what scripts/crc64-wasm.mjs assembles from its text (wabt)', async (t) => {
  const script = fileURLToPath(new URL('../../scripts/crc64-wasm.mjs', import.meta.url));
  t.doesNotThrow(() => execFileSync(process.execPath, [script, '--check'], { stdio: 'pipe' }), 'node scripts/crc64-wasm.mjs --check');
});
