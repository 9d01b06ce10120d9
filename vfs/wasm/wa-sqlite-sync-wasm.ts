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
import { compileOnce } from './loop-hold.js';

/** A `WebAssembly.Module`, opaque here. */
export type WasmModule = object;

/** The path of the non-Asyncify build's wasm binary inside the installed package. */
export function syncWasmPath(): string {
  return createRequire(import.meta.url).resolve('@journeyapps/wa-sqlite/dist/wa-sqlite.wasm');
}

/** The binary: read from the installed package, or in an app's bundle the embedded copy (as in ./wa-sqlite.ts). */
async function syncWasmBytes(): Promise<Uint8Array> {
  const embedded = IN_BUNDLE ? (await import('./wa-sqlite-sync-embedded.js')).EMBEDDED : undefined;
  return embedded === undefined ? readFile(syncWasmPath()) : decodeEmbedded(embedded);
}

/**
 * The compiled non-Asyncify build, compiled once per thread, in the background with the
 * event loop held until it is done (./loop-hold.ts: a pending compile alone would let
 * Node block on V8's background tasks). `openDatabase` calls it first thing for the
 * worker engine, so the compile overlaps the replica's listing. A failed compile (a
 * broken install) is not cached.
 * @throws Error (rejects) when the binary cannot be read or compiled.
 */
export const compileSyncModule: () => Promise<WasmModule> = compileOnce(syncWasmBytes);
