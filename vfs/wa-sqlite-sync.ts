/**
 * Loading wa-sqlite's non-Asyncify build (`dist/wa-sqlite.mjs`) in Node: the engine of
 * the worker engine (vfs/worker-main.ts). Same API and VFS interface as the Asyncify
 * build (vfs/wa-sqlite.ts), without Asyncify's instrumentation, which costs 1.4× to 4×
 * on every query; its VFS methods must answer synchronously, so page misses block the
 * thread on the page bridge (vfs/bridge-client.ts).
 *
 * The wasm binary is read from the installed package and compiled once per thread;
 * each call instantiates a fresh module from it.
 */
/// <reference types="@journeyapps/wa-sqlite" />
import { readFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import * as SQLite from '@journeyapps/wa-sqlite';
import SQLiteESMFactory from '@journeyapps/wa-sqlite/dist/wa-sqlite.mjs';
import type { WaSqliteModule } from './wa-sqlite.js';

/** A WebAssembly module / instance, opaque here. */
type WasmModule = object;
type WasmInstance = object;

interface WasmApi {
  compile(bytes: Uint8Array): Promise<WasmModule>;
  instantiate(module: WasmModule, imports: object): Promise<WasmInstance>;
}
const wasm = (globalThis as unknown as { WebAssembly: WasmApi }).WebAssembly;

type InstantiateWasm = (imports: object, receive: (instance: WasmInstance, module: WasmModule) => void) => object;
const moduleFactory = SQLiteESMFactory as (config: { instantiateWasm: InstantiateWasm }) => Promise<unknown>;

/** The path of the non-Asyncify build's wasm binary inside the installed package. */
export function syncWasmPath(): string {
  return createRequire(import.meta.url).resolve('@journeyapps/wa-sqlite/dist/wa-sqlite.wasm');
}

let compiled: Promise<WasmModule> | undefined;

/** A fresh instance of wa-sqlite's non-Asyncify build and its API. @throws Error when the wasm cannot be loaded. */
export async function loadSyncModule(): Promise<{ module: WaSqliteModule; sqlite3: SQLiteAPI }> {
  compiled ??= readFile(syncWasmPath()).then((bytes) => wasm.compile(bytes));
  compiled.catch(() => {
    compiled = undefined;
  });
  const wasmModule = await compiled;
  let reject!: (err: unknown) => void;
  const failed = new Promise<never>((_, r) => {
    reject = r;
  });
  const instantiateWasm: InstantiateWasm = (imports, receive) => {
    wasm.instantiate(wasmModule, imports).then((instance) => receive(instance, wasmModule), reject);
    return {};
  };
  const module = (await Promise.race([moduleFactory({ instantiateWasm }), failed])) as WaSqliteModule;
  return { module, sqlite3: SQLite.Factory(module) };
}
