/**
 * The errors a user acts on, the same on every engine (in process, worker, sql.js):
 * `code` is SQLite's name for an error SQLite returned, `ltxvfsCode` the ltxvfs reason
 * behind it, and the message ends with what to do. Real replicas in a directory, written
 * by `openDatabase` with the lease.
 */
import t, { type Test } from 'tap';
import { join } from 'node:path';
import { openDatabase } from '../../lib/api/open.js';
import { isLtxvfsError, type LtxvfsError } from '../../ltx/errors.js';
import { ENGINES, openEngine } from '../helpers/engines.js';

/** A replica in a new directory with table t (one row); the writer is closed (the lease released). */
async function replica(t: Test): Promise<string> {
  const dir = join(t.testdir(), 'replica');
  const writer = await openDatabase(dir, { create: true, autoLease: true, shared: false, pollIntervalMs: 0 });
  await writer.exec('CREATE TABLE t (x INTEGER); INSERT INTO t VALUES (1)');
  await writer.close();
  return dir;
}

for (const engine of ENGINES) {
  t.test(`${engine}: writing without the lease is SQLITE_READONLY with LTXVFS_ERR_READONLY, and says to take the lease`, async (t) => {
    const dir = await replica(t);
    const db = await openEngine(engine, dir, { pollIntervalMs: 0 });
    t.teardown(() => db.close());
    const err = await db.exec('INSERT INTO t VALUES (2)').catch((e: unknown) => e) as LtxvfsError;
    t.ok(isLtxvfsError(err, 'LTXVFS_ERR_READONLY'), `LTXVFS_ERR_READONLY, got ${String(err)}`);
    t.same([err.code, err.ltxvfsCode, err.sqliteCode], ['SQLITE_READONLY', 'LTXVFS_ERR_READONLY', 8]);
    t.match(err.message, /writing needs the replica's write lease: run PRAGMA litevfs_acquire_lease, or open with \{ autoLease: true \}/);
    t.ok(err.message.includes(dir), `names the replica: ${err.message}`);

    const syntax = await db.exec('SELEC 1').catch((e: unknown) => e) as LtxvfsError;
    t.same([syntax.code, syntax.ltxvfsCode, syntax.sqliteCode], ['SQLITE_ERROR', 'LTXVFS_ERR_SQLITE', 1], 'SQLite\'s own error: no reason behind it');
    t.same(await db.all('SELECT x FROM t'), [{ x: 1 }]);
  });

  t.test(`${engine}: a read-only open refuses the lease with LTXVFS_ERR_READONLY`, async (t) => {
    const dir = await replica(t);
    const db = await openEngine(engine, dir, { pollIntervalMs: 0, readOnly: true });
    t.teardown(() => db.close());
    const err = await db.all('PRAGMA litevfs_acquire_lease').catch((e: unknown) => e) as LtxvfsError;
    t.ok(isLtxvfsError(err, 'LTXVFS_ERR_READONLY'), `LTXVFS_ERR_READONLY at the top, got ${String(err)}`);
    t.match(err.code, /^SQLITE_/, `SQLite returned it: ${err.code}`);
  });
}
