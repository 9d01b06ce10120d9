/**
 * Loading wa-sqlite's Asyncify build in Node, typed.
 *
 * The wasm binary (read from the installed package, or embedded in an app's bundle: see
 * `asyncifyWasmBytes`) is compiled once per process
 * (`WebAssembly.Module` is immutable and shareable); every call of
 * {@link loadAsyncifyModule} instantiates a fresh Emscripten module from it, because an
 * Asyncify module can run only one suspending call at a time and ltxvfs serializes calls
 * per `Database`, so each `Database` gets its own module. No network and no
 * `locateFile`: the binary is handed to Emscripten through its `instantiateWasm` hook.
 *
 * wa-sqlite ships its API types as global declarations (`SQLiteAPI`, `SQLiteVFS`) and
 * types its module factory as returning `any`; {@link WaSqliteModule} names the few
 * members of the Emscripten module ltxvfs uses, so nothing exported here is `any`.
 */
/// <reference types="@journeyapps/wa-sqlite" />
import { readFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import * as SQLite from '@journeyapps/wa-sqlite';
import SQLiteESMFactory from '@journeyapps/wa-sqlite/dist/wa-sqlite-async.mjs';
import { decodeEmbedded, IN_BUNDLE } from '../../ltx/bundled.js';
import { compileOnce, holdEventLoop } from './loop-hold.js';
import type { WaSqliteModule } from './wa-sqlite-types.js';

export type { WaSqliteModule } from './wa-sqlite-types.js';

/**
 * `sqlite3` with `bind_blob` fixed for empty arrays: wa-sqlite's binds a zero-length
 * `Uint8Array` as NULL (`sqlite3_malloc(0)` is NULL); this binds a zero-length BLOB.
 */
export function withEmptyBlobs(sqlite3: SQLiteAPI, module: WaSqliteModule): SQLiteAPI {
  return {
    ...sqlite3,
    bind_blob(stmt: number, i: number, value: Uint8Array | number[]): number {
      if (value.length > 0) return sqlite3.bind_blob(stmt, i, value);
      const rc = module._sqlite3_bind_zeroblob(stmt, i, 0);
      if (rc !== SQLite.SQLITE_OK) throw new SQLite.SQLiteError('bind_blob', rc);
      return rc;
    },
  };
}

/** A fresh Emscripten module of the Asyncify build and the wa-sqlite API over it. */
export interface AsyncifyModule {
  /** The Emscripten module (pass it to `LtxAsyncVFS` / `registerLtxVFS`). */
  readonly module: WaSqliteModule;
  /** wa-sqlite's JavaScript API over `module`. */
  readonly sqlite3: SQLiteAPI;
  /** The compiled binary it was instantiated from: the same for every module of this process ({@link compileAsyncifyModule}). */
  readonly wasmModule: WasmModule;
}

/** A compiled `WebAssembly.Module` / an instance, opaque here. */
export type WasmModule = object;
type WasmInstance = object;

/** The function of the `WebAssembly` global used here (not in the ES lib typings). */
interface WasmApi {
  instantiate(module: WasmModule, imports: object): Promise<WasmInstance>;
}
const wasm = (globalThis as unknown as { WebAssembly: WasmApi }).WebAssembly;

/** Emscripten's `instantiateWasm` hook: instantiate, then hand over (instance, module). */
type InstantiateWasm = (imports: object, receive: (instance: WasmInstance, module: WasmModule) => void) => object;

const moduleFactory = SQLiteESMFactory as (config: { instantiateWasm: InstantiateWasm }) => Promise<unknown>;

/** The path of the Asyncify build's wasm binary inside the installed package. */
export function asyncifyWasmPath(): string {
  return createRequire(import.meta.url).resolve('@journeyapps/wa-sqlite/dist/wa-sqlite-async.wasm');
}

/**
 * The Asyncify build's binary: read from the installed package, or in an app's bundle
 * (ltx/bundled.ts) the copy the package build embedded (docs/deploy.md). The package
 * pins wa-sqlite's version exactly, so that copy is the binary the bundled JavaScript
 * glue was built with.
 */
async function asyncifyWasmBytes(): Promise<Uint8Array> {
  const embedded = IN_BUNDLE ? (await import('./wa-sqlite-async-embedded.js')).EMBEDDED : undefined;
  return embedded === undefined ? readFile(asyncifyWasmPath()) : decodeEmbedded(embedded);
}

/**
 * The compiled Asyncify build: compiled on the first call, in the background (V8's
 * compile threads), with the event loop held until it is done (./loop-hold.ts); later
 * calls share it. `openDatabase` calls it first thing, so the compile overlaps the
 * replica's listing. A failed compile (a broken install) is not cached: the next call
 * tries again.
 * @returns the `WebAssembly.Module` every connection of this process instantiates.
 * @throws Error (rejects) when the binary cannot be read or compiled.
 */
export const compileAsyncifyModule: () => Promise<WasmModule> = compileOnce(asyncifyWasmBytes);

/**
 * A fresh instance of wa-sqlite's Asyncify build with its API.
 * @throws Error when the wasm binary cannot be read, compiled or instantiated.
 */
export async function loadAsyncifyModule(): Promise<AsyncifyModule> {
  const wasmModule = await compileAsyncifyModule();
  let rejectInstantiation!: (err: unknown) => void;
  // Emscripten waits forever if `instantiateWasm` never calls back; a failed
  // instantiation must reject the load instead.
  const failed = new Promise<never>((_, reject) => {
    rejectInstantiation = reject;
  });
  const instantiateWasm: InstantiateWasm = (imports, receive) => {
    holdEventLoop(wasm.instantiate(wasmModule, imports)).then(
      (instance) => receive(instance, wasmModule),
      rejectInstantiation,
    );
    return {};
  };
  const module = (await Promise.race([moduleFactory({ instantiateWasm }), failed])) as WaSqliteModule;
  return { module, sqlite3: SQLite.Factory(module), wasmModule };
}
