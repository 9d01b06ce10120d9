import { existsSync } from 'node:fs';
import t from 'tap';
import * as SQLite from '@journeyapps/wa-sqlite';
import { asyncifyWasmPath, loadAsyncifyModule, withEmptyBlobs } from '../../vfs/wasm/wa-sqlite.js';

t.test('loadAsyncifyModule gives a fresh module per call over one compiled binary', async (t) => {
  t.ok(existsSync(asyncifyWasmPath()), 'the wasm binary is found in the installed package');
  const a = await loadAsyncifyModule();
  const b = await loadAsyncifyModule();
  t.not(a.module, b.module);
  t.not(a.module.HEAPU8.buffer, b.module.HEAPU8.buffer, 'separate memories');
  t.match(a.sqlite3.libversion(), /^3\.\d+\.\d+$/);
  const db = await a.sqlite3.open_v2(':memory:');
  const rows: unknown[] = [];
  await a.sqlite3.exec(db, 'SELECT 1 + 1', (row) => rows.push(row[0]));
  t.same(rows, [2]);
  await a.sqlite3.close(db);
});

t.test('Asyncify does not suspend when the async result is a synchronous thenable', async (t) => {
  const { module } = await loadAsyncifyModule();
  t.type(module.handleAsync, 'function');
  // handleSleep unwinds only if wakeUp was not called before then() returned; called
  // from plain JS (outside wasm) an unwind would throw, so a plain return value proves
  // there was none.
  const value = module.handleAsync!(() => ({ then: (resolve: (v: number) => void) => resolve(42) }) as PromiseLike<number>);
  t.equal(value, 42);
});

t.test('withEmptyBlobs binds an empty Uint8Array as an empty BLOB, not NULL', async (t) => {
  const { module, sqlite3 } = await loadAsyncifyModule();
  const api = withEmptyBlobs(sqlite3, module);
  const db = await sqlite3.open_v2(':memory:');
  for await (const stmt of sqlite3.statements(db, 'SELECT typeof(?1), length(?1), typeof(?2), ?2')) {
    t.throws(() => api.bind_blob(stmt, 9, new Uint8Array(0)), { code: SQLite.SQLITE_RANGE }, 'a bad index still fails');
    api.bind_blob(stmt, 1, new Uint8Array(0));
    api.bind_blob(stmt, 2, new Uint8Array([7, 8]));
    t.equal(await sqlite3.step(stmt), SQLite.SQLITE_ROW);
    t.same(sqlite3.row(stmt), ['blob', 0, 'blob', new Uint8Array([7, 8])]);
  }
  await sqlite3.close(db);
});

t.test('a binary that does not compile rejects, and the next load tries again', async (t) => {
  let calls = 0;
  const { loadAsyncifyModule: load } = await t.mockImport<typeof import('../../vfs/wasm/wa-sqlite.js')>('../../vfs/wasm/wa-sqlite.js', {
    'node:fs/promises': {
      readFile: async () => {
        calls++;
        return new Uint8Array([1, 2, 3]);
      },
    },
  });
  await t.rejects(load());
  await t.rejects(load());
  t.equal(calls, 2, 'the failed compile was not cached');
});

t.test('a binary that does not instantiate rejects instead of hanging', async (t) => {
  // (module (import "x" "y" (func))): compiles, but Emscripten provides no import "x".
  const wasm = new Uint8Array([0, 0x61, 0x73, 0x6d, 1, 0, 0, 0, 1, 4, 1, 0x60, 0, 0, 2, 7, 1, 1, 0x78, 1, 0x79, 0, 0]);
  const { loadAsyncifyModule: load } = await t.mockImport<typeof import('../../vfs/wasm/wa-sqlite.js')>('../../vfs/wasm/wa-sqlite.js', {
    'node:fs/promises': { readFile: async () => wasm },
  });
  await t.rejects(load());
});
