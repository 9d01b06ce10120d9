/**
 * The compiled binary of wa-sqlite's non-Asyncify build, apart from its JavaScript glue
 * (vfs/wasm/wa-sqlite-sync.ts) so that the main thread can compile it without loading the
 * engine: the worker engine compiles it once per process and hands the module to each
 * worker (a `WebAssembly.Module` crosses threads with its machine code). A worker that
 * compiled its own spent ~100 ms of its first query finishing that compilation.
 */
import { readFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { decodeEmbedded, IN_BUNDLE } from '../../ltx/bundled.js';

/** A `WebAssembly.Module`, opaque here. */
export type WasmModule = object;

const wasm = (globalThis as unknown as { WebAssembly: { compile(bytes: Uint8Array): Promise<WasmModule> } }).WebAssembly;

/** The path of the non-Asyncify build's wasm binary inside the installed package. */
export function syncWasmPath(): string {
  return createRequire(import.meta.url).resolve('@journeyapps/wa-sqlite/dist/wa-sqlite.wasm');
}

let compiled: Promise<WasmModule> | undefined;

/** The binary: read from the installed package, or in an app's bundle the embedded copy (as in ./wa-sqlite.ts). */
async function syncWasmBytes(): Promise<Uint8Array> {
  const embedded = IN_BUNDLE ? (await import('./wa-sqlite-sync-embedded.js')).EMBEDDED : undefined;
  return embedded === undefined ? readFile(syncWasmPath()) : decodeEmbedded(embedded);
}

/** The compiled non-Asyncify build, compiled once per thread. @throws Error when the binary cannot be read or compiled. */
export function compileSyncModule(): Promise<WasmModule> {
  compiled ??= syncWasmBytes().then((bytes) => wasm.compile(bytes));
  // A failed compile (a broken install) is not cached.
  compiled.catch(() => {
    compiled = undefined;
  });
  return compiled;
}
