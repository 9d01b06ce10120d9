/**
 * `openDatabase` starts compiling SQLite's wasm before it lists the replica, so that the
 * compile (on V8's threads) overlaps the listing's round trips (issue 15 item 1,
 * docs/engines.md "The first query of a process"). The compile and the reader are the
 * real ones; the test only records the order in which `openDatabase` asks for them.
 */
import t, { type Test } from 'tap';
import * as connect from '../../lib/connection/connect.js';
import * as asyncifyWasm from '../../vfs/wasm/wa-sqlite.js';
import * as syncWasm from '../../vfs/wasm/wa-sqlite-sync-wasm.js';
import * as workerDatabase from '../../vfs/worker/database.js';
import { copyFixtureReplica } from '../helpers/replica-builder.js';

/** `openDatabase` whose compile requests and replica connections (the listing) are recorded in `order`. */
async function recordingOpen(t: Test, order: string[]): Promise<typeof import('../../lib/api/open.js')['openDatabase']> {
  const { openDatabase } = await t.mockImport<typeof import('../../lib/api/open.js')>('../../lib/api/open.js', {
    '../../vfs/wasm/wa-sqlite.js': {
      ...asyncifyWasm,
      compileAsyncifyModule: () => {
        order.push('compile asyncify');
        return asyncifyWasm.compileAsyncifyModule();
      },
    },
    '../../vfs/wasm/wa-sqlite-sync-wasm.js': {
      ...syncWasm,
      compileSyncModule: () => {
        order.push('compile sync');
        return syncWasm.compileSyncModule();
      },
    },
    // Where each engine's open joins the replica's reader (its listing).
    '../../lib/connection/connect.js': {
      ...connect,
      connectReplica: (...args: Parameters<typeof connect.connectReplica>) => {
        order.push('list replica');
        return connect.connectReplica(...args);
      },
    },
    '../../vfs/worker/database.js': {
      ...workerDatabase,
      openWorkerEngine: (...args: Parameters<typeof workerDatabase.openWorkerEngine>) => {
        order.push('list replica');
        return workerDatabase.openWorkerEngine(...args);
      },
    },
  });
  return openDatabase;
}

for (const engine of ['asyncify', 'worker'] as const) {
  t.test(`openDatabase (${engine}) asks for the compile before it lists the replica`, async (t) => {
    const dir = await copyFixtureReplica(t.testdir());
    const order: string[] = [];
    const openDatabase = await recordingOpen(t, order);
    const db = await openDatabase(dir, { engine, readConnections: 1 });
    try {
      t.same(await db.get('SELECT count(*) AS n FROM t WHERE id <= 3'), { n: 3 }, 'the database opened and answers');
    } finally {
      await db.close();
    }
    const compile = engine === 'worker' ? 'compile sync' : 'compile asyncify';
    t.equal(order[0], compile, `first: ${order.join(', ')}`);
    t.ok(order.indexOf('list replica') > 0, 'the listing after');
  });
}

t.test('a replica that does not exist still fails with its own error while the compile runs', async (t) => {
  const order: string[] = [];
  const openDatabase = await recordingOpen(t, order);
  await t.rejects(openDatabase(`${t.testdir()}/missing`), { code: 'LTXVFS_ERR_NOT_FOUND' });
  t.same(order, ['compile asyncify', 'list replica']);
});
