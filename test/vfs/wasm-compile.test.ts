/**
 * SQLite's wasm builds are compiled once per process and shared by every connection, and
 * the event loop is held while a compile or an instantiation is pending
 * (vfs/wasm/loop-hold.ts: otherwise Node blocks on V8's background tasks and the first
 * query's reads wait for the TurboFan tier-up).
 */
import { readFile } from 'node:fs/promises';
import t, { type Test } from 'tap';
import { holdEventLoop } from '../../vfs/wasm/loop-hold.js';
import { loadSyncModule } from '../../vfs/wasm/wa-sqlite-sync.js';

type AsyncifyLoader = typeof import('../../vfs/wasm/wa-sqlite.js');
type SyncWasmLoader = typeof import('../../vfs/wasm/wa-sqlite-sync-wasm.js');

/** Ref'd timers of this process (`setInterval`/`setTimeout` handles keeping the loop alive). */
const timers = (): number => process.getActiveResourcesInfo().filter((r) => r === 'Timeout').length;

/** A fresh copy of `module` (nothing compiled yet) whose reads of the wasm binary are counted. */
async function freshLoader<M>(t: Test, module: string): Promise<{ loader: M; reads: () => number }> {
  let reads = 0;
  const loader = await t.mockImport<M>(module, {
    'node:fs/promises': {
      readFile: async (path: string) => {
        reads++;
        return readFile(path);
      },
    },
  });
  return { loader, reads: () => reads };
}

t.test('connections opened together share one compile of the Asyncify build', async (t) => {
  const { loader, reads } = await freshLoader<AsyncifyLoader>(t, '../../vfs/wasm/wa-sqlite.js');
  // Three at once, as the read pool opens connections while the primary's compile runs.
  const [a, b, c] = await Promise.all([loader.loadAsyncifyModule(), loader.loadAsyncifyModule(), loader.loadAsyncifyModule()]);
  t.equal(reads(), 1, 'the binary is read once');
  t.equal(a.wasmModule, b.wasmModule, 'one WebAssembly.Module');
  t.equal(b.wasmModule, c.wasmModule);
  t.equal(await loader.compileAsyncifyModule(), a.wasmModule, 'a later compile request gets the same module');
  t.not(a.module, b.module, 'each connection has its own instance');
  t.not(a.module.HEAPU8.buffer, c.module.HEAPU8.buffer, 'and its own memory');
  const db = await b.sqlite3.open_v2(':memory:');
  const rows: unknown[] = [];
  await b.sqlite3.exec(db, 'SELECT 6 * 7', (row) => rows.push(row[0]));
  t.same(rows, [42]);
  await b.sqlite3.close(db);
});

t.test('the event loop is held while the Asyncify build compiles and instantiates, and released after', async (t) => {
  const { loader } = await freshLoader<AsyncifyLoader>(t, '../../vfs/wasm/wa-sqlite.js');
  const before = timers();
  const compiling = loader.compileAsyncifyModule();
  t.equal(timers(), before + 1, 'a ref\'d timer while the compile is pending');
  await compiling;
  t.equal(timers(), before, 'released when the compile is done');
  // What the loop holds just after the instantiation started (a microtask runs before its task settles it).
  const wasm = (globalThis as unknown as { WebAssembly: { instantiate: (...args: unknown[]) => Promise<unknown> } }).WebAssembly;
  const instantiate = wasm.instantiate;
  let during = -1;
  wasm.instantiate = (...args: unknown[]) => {
    const instantiating = instantiate.apply(wasm, args);
    queueMicrotask(() => (during = timers()));
    return instantiating;
  };
  try {
    await loader.loadAsyncifyModule();
  } finally {
    wasm.instantiate = instantiate;
  }
  t.equal(during, before + 1, 'held while the instance is made');
  t.equal(timers(), before, 'released when it is made');
});

t.test('the worker build is compiled once and the loop held meanwhile', async (t) => {
  const { loader, reads } = await freshLoader<SyncWasmLoader>(t, '../../vfs/wasm/wa-sqlite-sync-wasm.js');
  const before = timers();
  const [a, b] = [loader.compileSyncModule(), loader.compileSyncModule()];
  t.equal(timers(), before + 1, 'a ref\'d timer while compiling');
  const [ma, mb] = await Promise.all([a, b]);
  t.equal(reads(), 1, 'the binary is read once');
  t.equal(ma, mb, 'one WebAssembly.Module');
  t.equal(timers(), before, 'released after');
  const [x, y] = await Promise.all([loadSyncModule(ma), loadSyncModule(ma)]);
  t.not(x.module, y.module, 'an instance each from the one module');
  t.match(y.sqlite3.libversion(), /^3\.\d+\.\d+$/);
});

t.test('holdEventLoop releases the loop when the promise rejects, and passes the rejection on', async (t) => {
  const before = timers();
  let reject!: (err: Error) => void;
  const held = holdEventLoop(new Promise<never>((_, r) => (reject = r)));
  t.equal(timers(), before + 1);
  reject(new Error('compile failed'));
  await t.rejects(held, { message: 'compile failed' });
  t.equal(timers(), before);
});

t.test('a failed compile releases the loop and is not cached', async (t) => {
  let calls = 0;
  const loader = await t.mockImport<AsyncifyLoader>('../../vfs/wasm/wa-sqlite.js', {
    'node:fs/promises': {
      readFile: async () => {
        calls++;
        return new Uint8Array([0, 0x61, 0x73, 0x6d, 9, 9, 9, 9]); // a wasm magic with a bad version
      },
    },
  });
  const before = timers();
  await t.rejects(loader.compileAsyncifyModule());
  t.equal(timers(), before, 'no timer left behind');
  await t.rejects(loader.loadAsyncifyModule());
  t.equal(calls, 2, 'the next load read and compiled again');
});
