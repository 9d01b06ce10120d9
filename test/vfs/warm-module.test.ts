/**
 * vfs/wasm/warm-module.ts: the instance a first connection opens on is made and run once
 * over an in-memory database beforehand; a failing warm-up leaves the instance usable and
 * its database closed. (What the warm-up saves, V8's lazy compiles, is measured in
 * docs/engines.md, never asserted here.)
 */
import t from 'tap';
import * as asyncifyWasm from '../../vfs/wasm/wa-sqlite.js';
import { loadWarmAsyncifyModule, WARM_UP_SQL } from '../../vfs/wasm/warm-module.js';

t.test('the warm instance ran the warm-up over :memory:, closed it, and serves a new database', async (t) => {
  const { sqlite3 } = await loadWarmAsyncifyModule();
  t.match(WARM_UP_SQL, /PRAGMA cache_size/, 'the warm-up runs what an open runs');
  const db = await sqlite3.open_v2(':memory:');
  const rows: unknown[][] = [];
  await sqlite3.exec(db, 'CREATE TABLE x (a); INSERT INTO x VALUES (41); SELECT a + 1 FROM x', (row) => { rows.push(row); });
  t.same(rows, [[42]]);
  await sqlite3.close(db);
});

t.test('a failing warm-up is not the open\'s error: the instance comes back, its database closed', async (t) => {
  const closed: number[] = [];
  const { loadWarmAsyncifyModule: load } = await t.mockImport<typeof import('../../vfs/wasm/warm-module.js')>('../../vfs/wasm/warm-module.js', {
    '../../vfs/wasm/wa-sqlite.js': {
      ...asyncifyWasm,
      loadAsyncifyModule: async () => {
        const loaded = await asyncifyWasm.loadAsyncifyModule();
        const sqlite3: SQLiteAPI = {
          ...loaded.sqlite3,
          exec: async () => { throw new Error('warm-up failed'); },
          close: async (db: number) => { closed.push(db); return loaded.sqlite3.close(db); },
        };
        return { ...loaded, sqlite3 };
      },
    },
  });
  const loaded = await load();
  t.equal(closed.length, 1, 'the in-memory database was closed');
  const db = await loaded.sqlite3.open_v2(':memory:');
  t.ok(db > 0, 'the instance still opens databases');
  await loaded.sqlite3.close(db);
});
