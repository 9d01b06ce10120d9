/**
 * Loading wa-sqlite's non-Asyncify build (`dist/wa-sqlite.mjs`) in Node: the engine of
 * the worker engine (vfs/worker/main.ts). Same API and VFS interface as the Asyncify
 * build (vfs/wasm/wa-sqlite.ts), without Asyncify's instrumentation, which costs 1.4× to 4×
 * on every query; its VFS methods must answer synchronously, so page misses block the
 * thread on the page bridge (vfs/bridge/client.ts).
 *
 * Each call instantiates a fresh module from the compiled binary
 * (vfs/wasm/wa-sqlite-sync-wasm.ts), which the worker engine compiles in the main thread.
 */
/// <reference types="@journeyapps/wa-sqlite" />
import * as SQLite from '@journeyapps/wa-sqlite';
import SQLiteESMFactory from '@journeyapps/wa-sqlite/dist/wa-sqlite.mjs';
import type { WaSqliteModule } from './wa-sqlite.js';
import { compileSyncModule } from './wa-sqlite-sync-wasm.js';
import { holdEventLoop } from './loop-hold.js';

/** A WebAssembly module / instance, opaque here. */
type WasmModule = object;
type WasmInstance = object;

interface WasmApi {
  instantiate(module: WasmModule, imports: object): Promise<WasmInstance>;
}
const wasm = (globalThis as unknown as { WebAssembly: WasmApi }).WebAssembly;

type InstantiateWasm = (imports: object, receive: (instance: WasmInstance, module: WasmModule) => void) => object;
const moduleFactory = SQLiteESMFactory as (config: { instantiateWasm: InstantiateWasm }) => Promise<unknown>;


/**
 * A fresh instance of wa-sqlite's non-Asyncify build and its API, from `compiledModule`
 * (see {@link compileSyncModule}) or compiled here.
 * @throws Error when the wasm cannot be loaded.
 */
export async function loadSyncModule(compiledModule?: WasmModule): Promise<{ module: WaSqliteModule; sqlite3: SQLiteAPI }> {
  const wasmModule = compiledModule ?? (await compileSyncModule());
  let reject!: (err: unknown) => void;
  const failed = new Promise<never>((_, r) => {
    reject = r;
  });
  const instantiateWasm: InstantiateWasm = (imports, receive) => {
    holdEventLoop(wasm.instantiate(wasmModule, imports)).then((instance) => receive(instance, wasmModule), reject);
    return {};
  };
  const module = (await Promise.race([moduleFactory({ instantiateWasm }), failed])) as WaSqliteModule;
  return { module, sqlite3: SQLite.Factory(module) };
}
