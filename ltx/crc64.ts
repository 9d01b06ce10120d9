/**
 * CRC-64/GO-ISO, the CRC behind every LTX checksum (docs/formats.md §2.1): Go's
 * `crc64.MakeTable(crc64.ISO)` — reflected polynomial 0xD800000000000000, init and
 * xorout all ones. Check value of "123456789" = 0xB90956C775A41001.
 *
 * It runs over every page on restore, verify and write, so the 64-bit state is kept as
 * two uint32 halves and the input is consumed 8 bytes per step (slicing-by-8, the same
 * scheme Go's hash/crc64 uses for long inputs), loaded as two 32-bit words. bigint appears
 * only at the API edge.
 *
 * Why not a library: none on npm offers this polynomial faster. hash-wasm 4.13's
 * `createCRC64('d800000000000000')` (WebAssembly) gives the same check value at 416 MiB/s
 * on 4,102-byte updates, where this reaches 880–1,010 MiB/s (Node 20, 2026-12-07); the
 * others are pure JavaScript for CRC-64/ECMA-182 only.
 */

/** Eight 256-entry tables, low and high 32-bit halves: T_k[i] at index k*256 + i. */
const TLO = new Uint32Array(8 * 256);
const THI = new Uint32Array(8 * 256);

(function buildTables(): void {
  const POLY_HI = 0xd8000000; // the reflected ISO polynomial has no bits in its low half
  for (let i = 0; i < 256; i++) {
    let lo = i;
    let hi = 0;
    for (let bit = 0; bit < 8; bit++) {
      const carry = lo & 1;
      lo = ((lo >>> 1) | (hi << 31)) >>> 0;
      hi = hi >>> 1;
      if (carry) hi = (hi ^ POLY_HI) >>> 0;
    }
    TLO[i] = lo;
    THI[i] = hi;
  }
  // T_k[i] = T_0[T_{k-1}[i] & 0xff] ^ (T_{k-1}[i] >> 8): one more zero byte through the CRC.
  for (let k = 1; k < 8; k++) {
    for (let i = 0; i < 256; i++) {
      const plo = TLO[(k - 1) * 256 + i];
      const phi = THI[(k - 1) * 256 + i];
      const idx = plo & 0xff;
      TLO[k * 256 + i] = (((plo >>> 8) | (phi << 24)) ^ TLO[idx]) >>> 0;
      THI[k * 256 + i] = ((phi >>> 8) ^ THI[idx]) >>> 0;
    }
  }
})();

/** Whether this host stores integers little-endian (every platform Node runs on today). */
const LITTLE_ENDIAN = new Uint8Array(new Uint32Array([1]).buffer)[0] === 1;

/** Inputs shorter than this go byte by byte: a word view is not worth allocating. */
const WORD_VIEW_MIN_BYTES = 64;

/**
 * Advance a raw (already inverted) CRC state over `data[start, end)`. `state` is
 * `[lo, hi]`, updated in place. Internal building block of {@link crc64} and
 * {@link Crc64}; exported for the checksum module, which feeds a page number and a page
 * without concatenating them.
 *
 * Past the first bytes up to a 4-byte boundary, each 8-byte step loads two 32-bit words
 * through an `Int32Array` view of the same memory, not eight bytes: 947–1,014 MiB/s
 * against 688–771 MiB/s on 4,124-byte frames at every alignment, the two alternating in
 * one process (Node 20, 2 shared cores, 2026-12-07); a version that chose word or byte
 * loads at each step reached only 729–818 MiB/s. Verification
 * checksums every byte a scan reads on the main thread, where a worker-engine scan waits
 * for it: its full scan of the bench's 256 MiB database over a directory took 2.53–2.63 s,
 * then 2.18–2.49 s.
 */
export function crc64UpdateState(state: Uint32Array, data: Uint8Array, start = 0, end = data.length): void {
  let lo = state[0];
  let hi = state[1];
  let i = start;
  if (end - start >= WORD_VIEW_MIN_BYTES) {
    // Word loads start at a 4-byte boundary of the underlying memory.
    for (; ((data.byteOffset + i) & 3) !== 0; i++) {
      const idx = (lo ^ data[i]) & 0xff;
      lo = ((lo >>> 8) | (hi << 24)) ^ TLO[idx];
      hi = (hi >>> 8) ^ THI[idx];
    }
    const steps = (end - i) >>> 3;
    const words = littleEndianWords(data, i, steps * 2);
    for (let w = 0; w < words.length; w += 2) {
      const a = lo ^ words[w];
      const b = hi ^ words[w + 1];
      const i7 = 1792 + (a & 0xff);
      const i6 = 1536 + ((a >>> 8) & 0xff);
      const i5 = 1280 + ((a >>> 16) & 0xff);
      const i4 = 1024 + (a >>> 24);
      const i3 = 768 + (b & 0xff);
      const i2 = 512 + ((b >>> 8) & 0xff);
      const i1 = 256 + ((b >>> 16) & 0xff);
      const i0 = b >>> 24;
      lo = TLO[i7] ^ TLO[i6] ^ TLO[i5] ^ TLO[i4] ^ TLO[i3] ^ TLO[i2] ^ TLO[i1] ^ TLO[i0];
      hi = THI[i7] ^ THI[i6] ^ THI[i5] ^ THI[i4] ^ THI[i3] ^ THI[i2] ^ THI[i1] ^ THI[i0];
    }
    i += steps * 8;
  }
  for (; i < end; i++) {
    const idx = (lo ^ data[i]) & 0xff;
    lo = ((lo >>> 8) | (hi << 24)) ^ TLO[idx];
    hi = (hi >>> 8) ^ THI[idx];
  }
  state[0] = lo;
  state[1] = hi;
}

/**
 * `count` little-endian 32-bit words of `data` from byte `at` (a 4-byte boundary of its
 * memory): a view of the same memory on little-endian hosts, a converted copy on others.
 * `hostLittleEndian` is the host's byte order (a parameter so tests reach both branches).
 * @throws RangeError when `at` is not on a 4-byte boundary of the memory or the words run past it.
 */
export function littleEndianWords(data: Uint8Array, at: number, count: number, hostLittleEndian = LITTLE_ENDIAN): Int32Array {
  if (hostLittleEndian) return new Int32Array(data.buffer, data.byteOffset + at, count);
  const words = new Int32Array(count);
  const view = new DataView(data.buffer, data.byteOffset + at, count * 4);
  for (let k = 0; k < count; k++) words[k] = view.getInt32(k * 4, true);
  return words;
}

/** Set `state` to the raw form of a finished CRC value (`~crc`, split into halves). */
function loadState(state: Uint32Array, crc: bigint): void {
  state[0] = ~Number(crc & 0xffffffffn);
  state[1] = ~Number((crc >> 32n) & 0xffffffffn);
}

/** The finished CRC value of a raw state (`~state` as a u64 bigint). */
export function crc64StateValue(state: Uint32Array): bigint {
  return (BigInt(~state[1] >>> 0) << 32n) | BigInt(~state[0] >>> 0);
}

const scratchState = new Uint32Array(2);

/**
 * CRC-64/GO-ISO of `data` (docs/formats.md §2.1), as a u64 bigint.
 *
 * Streaming: pass the previous result as `crc` to continue over more bytes, like Go's
 * `crc64.Update(crc, table, p)`; `crc64(b, crc64(a)) === crc64(a ‖ b)`. The default 0n
 * starts a new CRC (the empty input's CRC is 0n). Never throws.
 */
export function crc64(data: Uint8Array, crc = 0n): bigint {
  loadState(scratchState, crc);
  crc64UpdateState(scratchState, data);
  return crc64StateValue(scratchState);
}

/**
 * Incremental CRC-64/GO-ISO (docs/formats.md §2.1) without bigint work per update.
 * `new Crc64().update(a).update(b).digest() === crc64(a ‖ b)`. `digest()` does not
 * reset the state; more updates may follow. Never throws.
 */
/** The reflected ISO polynomial as a bigint (x^0 is the top bit in this bit order). */
const POLY = 0xd800000000000000n;
const X0 = 1n << 63n;

/** `a · b mod P` over GF(2), in the reflected bit order of the CRC (zlib crc32.c `multmodp`). */
function multModP(a: bigint, b: bigint): bigint {
  let p = 0n;
  for (let m = X0; m !== 0n; m >>= 1n) {
    if ((a & m) !== 0n) p ^= b;
    b = (b & 1n) !== 0n ? (b >> 1n) ^ POLY : b >> 1n;
  }
  return p;
}

/** x^(2^k) mod P for k = 0…63: the squarings {@link crc64Combine} multiplies together. */
const X2N: bigint[] = [];
for (let k = 0, p = X0 >> 1n; k < 64; k++, p = multModP(p, p)) X2N.push(p);

/**
 * The CRC of `A‖B` from `crc(A)`, `crc(B)` and the length of B in bytes, without the bytes:
 * `crc(A) · x^(8·len) mod P ⊕ crc(B)` (the init and xorout of both cancel out). The method is
 * zlib's `crc32_combine` (Mark Adler, crc32.c: `x2nmodp`, `multmodp`) on the 64-bit
 * polynomial. It lets frames read out of file order be checksummed as they arrive
 * (lib/read/verifier.ts). About 64 bigint steps per set bit of `len`.
 * @throws RangeError if `len` is not a non-negative safe integer.
 */
export function crc64Combine(crcA: bigint, crcB: bigint, len: number): bigint {
  if (!Number.isSafeInteger(len) || len < 0) throw new RangeError(`crc64Combine: length ${len} is not a non-negative integer`);
  let xn = X0; // x^0
  // x^(8·len) = product of x^(2^k) over the set bits of 8·len = len << 3.
  for (let n = len, k = 3; n > 0; n = Math.floor(n / 2), k++) if (n % 2 === 1) xn = multModP(X2N[k], xn);
  return multModP(xn, crcA) ^ crcB;
}

export class Crc64 {
  /** Raw state `[lo, hi]`, i.e. the bitwise complement of the current CRC value. */
  readonly state = new Uint32Array([0xffffffff, 0xffffffff]);

  /** Feed `data[start, end)` (default: all of it). Returns `this` for chaining. */
  update(data: Uint8Array, start = 0, end = data.length): this {
    crc64UpdateState(this.state, data, start, end);
    return this;
  }

  /** The CRC of everything fed so far, as a u64 bigint. */
  digest(): bigint {
    return crc64StateValue(this.state);
  }

  /**
   * Append bytes fed elsewhere: `crc` is their CRC (another `Crc64`'s {@link digest}) and
   * `len` their length in bytes ({@link crc64Combine}). Returns `this`.
   */
  append(crc: bigint, len: number): this {
    loadState(this.state, crc64Combine(this.digest(), crc, len));
    return this;
  }
}
