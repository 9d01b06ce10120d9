/**
 * The LZ4 library's wasm module (lz4_flex inside `lz4-wasm-nodejs`, docs/lz4.md),
 * instantiated here rather than through the package's JavaScript glue, so that a block
 * can be decoded straight into a caller's buffer: the glue copies every result into a
 * new array, a 4 KiB ArrayBuffer per page that V8 frees only at a later collection.
 *
 * The calls follow the wasm-bindgen ABI the glue of lz4-wasm-nodejs 0.9 uses: arguments
 * are copied into memory from `__wbindgen_malloc` (the callee frees them), results come
 * back as four i32 at a return slot carved from the shadow stack (`ptr, len` of a vector
 * the caller frees with `__wbindgen_free`, then an error handle and an error flag), and
 * the module's one import, `__wbindgen_string_new`, turns an error message into a handle.
 * Used only by ./lz4.ts.
 *
 * The binary is read from the installed `lz4-wasm-nodejs`, or in an app's bundle
 * (./bundled.ts) taken from the copy the package build embedded (./lz4-wasm-embedded.ts,
 * docs/deploy.md). The package pins that version exactly, so both are the same bytes.
 */
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { decodeEmbedded, IN_BUNDLE } from './bundled.js';
import { EMBEDDED } from './lz4-wasm-embedded.js';

/** Minimal typing of the `WebAssembly` global (not in this project's TypeScript libs). */
interface WasmApi {
  Module: new (bytes: Uint8Array) => object;
  Instance: new (module: object, imports: object) => { exports: Record<string, unknown> };
}

/** The exports of `lz4_wasm_nodejs_bg.wasm`. */
interface Lz4Exports {
  memory: { buffer: ArrayBuffer };
  compress(retptr: number, ptr: number, len: number): void;
  decompress(retptr: number, ptr: number, len: number): void;
  __wbindgen_add_to_stack_pointer(delta: number): number;
  __wbindgen_malloc(size: number): number;
  __wbindgen_free(ptr: number, size: number): void;
}

const FUNCTIONS = ['compress', 'decompress', '__wbindgen_add_to_stack_pointer', '__wbindgen_malloc', '__wbindgen_free'] as const;

/** Handles given out by `__wbindgen_string_new` start here (wasm-bindgen reserves the low ones for constants). */
const HANDLE_BASE = 1024;

/** The library, ready to call. */
export interface Lz4Wasm {
  /**
   * Decode the raw LZ4 `block`, expected to give `size` bytes, into `dst` at `dstOffset`.
   * Returns the decoded length (the bytes are copied only when it equals `size`, the
   * only length lz4_flex gives back when told the size), or the library's error message
   * for a malformed block. Never throws for bad input.
   */
  decompressInto(block: Uint8Array, size: number, dst: Uint8Array, dstOffset: number): number | string;
  /** `input` as one raw LZ4 block, a new array. */
  compress(input: Uint8Array): Uint8Array;
}

/**
 * Instantiate the library's module (25 KB, compiled synchronously, as its glue does).
 * @throws Error when the module is missing or does not export what the glue of
 *   lz4-wasm-nodejs 0.9 calls (another version of the package).
 */
export function loadLz4Wasm(): Lz4Wasm {
  const WA = (globalThis as unknown as { WebAssembly: WasmApi }).WebAssembly;
  const specifier = 'lz4-wasm-nodejs/lz4_wasm_nodejs_bg.wasm';
  const embedded = IN_BUNDLE ? EMBEDDED : undefined;
  const path = embedded === undefined ? createRequire(import.meta.url).resolve(specifier) : `${specifier} (embedded)`;
  const strings = new Map<number, string>();
  let nextHandle = HANDLE_BASE;
  let w: Lz4Exports | undefined;
  let heap = new Uint8Array(0);
  let words = new DataView(heap.buffer);
  /** The current view of wasm memory: growth detaches the old buffer, so it is checked after every call. */
  const memory = (): Uint8Array => {
    const buffer = w!.memory.buffer;
    if (heap.buffer !== buffer) {
      heap = new Uint8Array(buffer);
      words = new DataView(buffer);
    }
    return heap;
  };
  const decoder = new TextDecoder();
  const imports = {
    __wbindgen_placeholder__: {
      __wbindgen_string_new: (ptr: number, len: number): number => {
        const handle = nextHandle++;
        strings.set(handle, decoder.decode(memory().subarray(ptr, ptr + len)));
        return handle;
      },
    },
  };
  const bytes = embedded === undefined ? readFileSync(path) : decodeEmbedded(embedded);
  const e = new WA.Instance(new WA.Module(bytes), imports).exports;
  const missing = FUNCTIONS.filter((name) => typeof e[name] !== 'function');
  if (missing.length > 0 || typeof e.memory !== 'object' || e.memory === null) {
    throw new Error(`${path}: not the lz4-wasm-nodejs 0.9 module ltxvfs calls (missing ${missing.join(', ') || 'memory'})`);
  }
  const x = (w = e as unknown as Lz4Exports);

  return {
    decompressInto(block, size, dst, dstOffset) {
      const retptr = x.__wbindgen_add_to_stack_pointer(-16);
      try {
        // lz4_flex's size-prepended format: the decoded size as a u32 LE, then the block.
        const n = block.length + 4;
        const ptr = x.__wbindgen_malloc(n);
        memory();
        words.setUint32(ptr, size, true);
        heap.set(block, ptr + 4);
        x.decompress(retptr, ptr, n);
        memory();
        if (words.getInt32(retptr + 12, true) !== 0) {
          const handle = words.getInt32(retptr + 8, true);
          const message = strings.get(handle) ?? 'unknown error';
          strings.delete(handle);
          return message;
        }
        const out = words.getInt32(retptr, true);
        const len = words.getInt32(retptr + 4, true);
        if (len === size) dst.set(heap.subarray(out, out + len), dstOffset);
        x.__wbindgen_free(out, len);
        return len;
      } finally {
        x.__wbindgen_add_to_stack_pointer(16);
      }
    },
    compress(input) {
      const retptr = x.__wbindgen_add_to_stack_pointer(-16);
      try {
        const ptr = x.__wbindgen_malloc(input.length);
        memory().set(input, ptr);
        x.compress(retptr, ptr, input.length);
        memory();
        const out = words.getInt32(retptr, true);
        const len = words.getInt32(retptr + 4, true);
        // The library prefixes the block with the input size (u32 LE): not part of the block.
        const block = heap.slice(out + 4, out + len);
        x.__wbindgen_free(out, len);
        return block;
      } finally {
        x.__wbindgen_add_to_stack_pointer(16);
      }
    },
  };
}
