/**
 * CRC-64/GO-ISO, the CRC behind every LTX checksum (docs/formats.md §2.1): Go's
 * `crc64.MakeTable(crc64.ISO)` — reflected polynomial 0xD800000000000000, init and
 * xorout all ones. Check value of "123456789" = 0xB90956C775A41001.
 *
 * It runs over every page on restore, verify, hydration and write, and over every byte a
 * scan reads (verification), so inputs of 64 bytes and more go to a WebAssembly module of
 * this project (ltx/crc64-wasm-module.ts, assembled by scripts/crc64-wasm.mjs, which says
 * how it works): slicing-by-16 with 64-bit integers, 1.7–2.7 GB/s on 4 KiB pages with
 * the copy into its memory, where slicing-by-8 in JavaScript on two 32-bit halves (this
 * module until 2026-12-08) made 0.9–1.1 GB/s on the same machine. Shorter inputs (a frame's
 * page header, a page number) go byte by byte here. bigint appears only at the API edge.
 *
 * Why not a library: none on npm offers this polynomial faster. hash-wasm 4.13's
 * `createCRC64('d800000000000000')` (WebAssembly) gives the same check value at 416 MiB/s
 * on 4,102-byte updates (Node 20, 2026-12-07); the others are pure JavaScript for
 * CRC-64/ECMA-182 only.
 */
import { CRC64_INPUT, CRC64_MEMORY_BYTES, CRC64_STATE, CRC64_TABLES, CRC64_WASM_BASE64 } from './crc64-wasm-module.js';

/** Sixteen 256-entry tables, low and high 32-bit halves: T_k[i] at index k*256 + i. */
const TLO = new Uint32Array(16 * 256);
const THI = new Uint32Array(16 * 256);

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
  for (let k = 1; k < 16; k++) {
    for (let i = 0; i < 256; i++) {
      const plo = TLO[(k - 1) * 256 + i];
      const phi = THI[(k - 1) * 256 + i];
      const idx = plo & 0xff;
      TLO[k * 256 + i] = (((plo >>> 8) | (phi << 24)) ^ TLO[idx]) >>> 0;
      THI[k * 256 + i] = ((phi >>> 8) ^ THI[idx]) >>> 0;
    }
  }
})();

/** Inputs shorter than this go byte by byte in JavaScript: a call into the module costs more. */
const WASM_MIN_BYTES = 64;

/** Minimal typing of the `WebAssembly` global (not in this project's TypeScript libs). */
interface WasmApi {
  Module: new (bytes: Uint8Array) => object;
  Instance: new (module: object, imports: object) => { exports: Record<string, unknown> };
}

/** The module, instantiated with its tables filled: `update` advances the state in its memory over its input. */
const wasm = ((): { heap: Uint8Array; words: DataView; update: (state: number, p: number, end: number) => void } => {
  const WA = (globalThis as unknown as { WebAssembly: WasmApi }).WebAssembly;
  const e = new WA.Instance(new WA.Module(Buffer.from(CRC64_WASM_BASE64, 'base64')), {}).exports as {
    memory: { buffer: ArrayBuffer };
    update: (state: number, p: number, end: number) => void;
  };
  const heap = new Uint8Array(e.memory.buffer);
  if (heap.length !== CRC64_MEMORY_BYTES) throw new Error(`ltx/crc64-wasm-module.ts: memory of ${heap.length} bytes, expected ${CRC64_MEMORY_BYTES}`);
  const words = new DataView(e.memory.buffer);
  // The module reads u64 little-endian whatever the host's byte order.
  for (let i = 0; i < 16 * 256; i++) {
    words.setUint32(CRC64_TABLES + i * 8, TLO[i], true);
    words.setUint32(CRC64_TABLES + i * 8 + 4, THI[i], true);
  }
  return { heap, words, update: e.update };
})();

/** Input bytes the module takes per call: the rest of its memory. */
const WASM_INPUT_BYTES = CRC64_MEMORY_BYTES - CRC64_INPUT;

/**
 * Advance a raw (already inverted) CRC state over `data[start, end)`. `state` is
 * `[lo, hi]`, updated in place. Internal building block of {@link crc64} and
 * {@link Crc64}; exported for the checksum module, which feeds a page number and a page
 * without concatenating them.
 *
 * From 64 bytes on, the bytes are copied into the module's memory (up to 98,240 at a time)
 * and the module advances the state there. Never throws.
 */
export function crc64UpdateState(state: Uint32Array, data: Uint8Array, start = 0, end = data.length): void {
  let lo = state[0];
  let hi = state[1];
  if (end - start < WASM_MIN_BYTES) {
    for (let i = start; i < end; i++) {
      const idx = (lo ^ data[i]) & 0xff;
      lo = ((lo >>> 8) | (hi << 24)) ^ TLO[idx];
      hi = (hi >>> 8) ^ THI[idx];
    }
    state[0] = lo;
    state[1] = hi;
    return;
  }
  const { heap, words, update } = wasm;
  words.setUint32(CRC64_STATE, lo, true);
  words.setUint32(CRC64_STATE + 4, hi, true);
  for (let at = start; at < end; at += WASM_INPUT_BYTES) {
    const n = Math.min(WASM_INPUT_BYTES, end - at);
    heap.set(data.subarray(at, at + n), CRC64_INPUT);
    update(CRC64_STATE, CRC64_INPUT, CRC64_INPUT + n);
  }
  state[0] = words.getUint32(CRC64_STATE, true);
  state[1] = words.getUint32(CRC64_STATE + 4, true);
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
