/**
 * Read-only means read-only: `ltxvfs query` and time-travel views (`--at`, `PRAGMA
 * litestream_time = …`) refuse the lease PRAGMAs (lib/write/write-sink.ts, lib/connection/sql-surface.ts)
 * and writes instead of taking the lease or ignoring them; a time in the future is an error
 * naming the newest file's time (lib/replica/time.ts `checkTimeTarget`), not the newest state.
 * Real directory replicas (the Litestream fixture, header timestamps as mtimes), the CLI
 * through runCli, the library on both engines.
 */
import t, { type Test } from 'tap';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { isLtxvfsError } from '../../../ltx/errors.js';
import { openDatabase } from '../../../lib/api/open.js';
import { openFileReplica } from '../../../lib/storage/file/client.js';
import { formatTime } from '../../../lib/replica/time.js';
import { setLtxMtimesFromHeaders } from '../../helpers/litestream.js';
import { copyFixtureReplica } from '../../helpers/replica-builder.js';
import { cli } from '../../helpers/cli.js';

const NEWEST = 'ltx/0/0000000000000005-0000000000000005.ltx';

/** A copy of the fixture replica with Litestream's mtimes, and its newest file's time as printed. */
async function replica(t: Test): Promise<{ dir: string; newest: string }> {
  const dir = t.testdir({});
  await copyFixtureReplica(dir);
  await setLtxMtimesFromHeaders(dir);
  const client = await openFileReplica(dir);
  const files = await client.listLtxFiles(0);
  await client.close();
  return { dir, newest: formatTime(files.find((f) => f.key === NEWEST)!.createdAt) };
}

t.test('query refuses the lease PRAGMAs and writes: exit 1 with the reason, no lease taken', async (t) => {
  const { dir } = await replica(t);
  for (const pragma of ['litevfs_acquire_lease', 'litevfs_release_lease']) {
    const r = await cli(['query', dir, `PRAGMA ${pragma}`]);
    t.equal(r.code, 1, pragma);
    t.match(r.stderr, `PRAGMA ${pragma} refused: file://${dir} is open as a read-only connection, which never writes or takes the write lease`);
    t.equal(r.stdout, '');
    const at = await cli(['query', dir, `PRAGMA ${pragma}`, '--at', '3']);
    t.equal(at.code, 1);
    t.match(at.stderr, `PRAGMA ${pragma} refused`);
  }
  t.notOk(existsSync(join(dir, 'lock.json')), 'no lease taken');
  const write = await cli(['query', dir, "INSERT INTO t (name) VALUES ('no')"]);
  t.equal(write.code, 1);
  t.match(write.stderr, /readonly|read-only/);
  t.equal((await cli(['query', dir, 'SELECT count(*) AS n FROM t', '--json'])).stdout, '[{"n":250}]\n');
});

t.test('a writable connection travelling in time refuses the lease PRAGMAs until it returns to latest (both engines)', async (t) => {
  for (const engine of ['asyncify', 'worker'] as const) {
    const { dir } = await replica(t);
    const db = await openDatabase(dir, { engine, shared: false, pollIntervalMs: 0 });
    t.teardown(() => db.close());
    await db.exec("PRAGMA litestream_time = '2026-11-21T09:51:52Z'");
    t.same(await db.all('SELECT litestream_txid() AS txid'), [{ txid: '0000000000000002' }]);
    try {
      await db.exec('PRAGMA litevfs_acquire_lease');
      t.fail(`${engine}: acquired in a time-travel view`);
    } catch (err) {
      const e = err as Error & { cause?: unknown };
      const inner = isLtxvfsError(e, 'LTXVFS_ERR_READONLY') ? e : e.cause;
      t.ok(isLtxvfsError(inner, 'LTXVFS_ERR_READONLY'), `${engine}: READONLY behind ${e.message}`);
      t.match((inner as Error).message, /PRAGMA litevfs_acquire_lease refused: .* is open as a time-travel view, .*litestream_time = 'latest'/);
    }
    t.notOk(existsSync(join(dir, 'lock.json')), `${engine}: no lease taken`);
    await db.exec("PRAGMA litestream_time = 'latest'");
    await db.exec('PRAGMA litevfs_acquire_lease');
    t.ok(existsSync(join(dir, 'lock.json')), `${engine}: back at latest, the lease is taken`);
    await db.exec('PRAGMA litevfs_release_lease');
  }
});

t.test('a time in the future is an error naming the newest file and its time; a past time after it is the newest state', async (t) => {
  const { dir, newest } = await replica(t);
  for (const at of ['5 minutes from now', '2099-01-01T00:00:00Z', 'tomorrow']) {
    const r = await cli(['query', dir, 'SELECT 1', '--at', at]);
    t.equal(r.code, 2, at);
    t.match(r.stderr, /^ltxvfs query: time \S+ is in the future \(now \S+\): the replica has no state for it yet; /);
    t.match(r.stderr, `its newest LTX file, ${NEWEST}, was created at ${newest}`);
  }
  const restore = await cli(['restore', dir, join(dir, 'out.db'), '--at', '2099-01-01T00:00:00Z']);
  t.equal(restore.code, 2);
  t.match(restore.stderr, `time 2099-01-01T00:00:00Z is in the future`);
  t.notOk(existsSync(join(dir, 'out.db')));

  const past = await cli(['query', dir, 'SELECT litestream_txid() AS txid', '--json', '--at', '1 minute ago']);
  t.equal(past.code, 0, past.stderr);
  t.equal(past.stdout, '[{"txid":"0000000000000005"}]\n', 'after the newest file and not in the future: the newest state');

  const db = await openDatabase(dir, { shared: false, pollIntervalMs: 0 });
  t.teardown(() => db.close());
  try {
    await db.exec("PRAGMA litestream_time = '2099-01-01T00:00:00Z'");
    t.fail('travelled to 2099');
  } catch (err) {
    const e = err as Error & { cause?: unknown };
    const inner = isLtxvfsError(e, 'LTXVFS_ERR_USAGE') ? e : e.cause;
    t.ok(isLtxvfsError(inner, 'LTXVFS_ERR_USAGE'), e.message);
    t.match((inner as Error).message, `its newest LTX file, ${NEWEST}, was created at ${newest}`);
  }
  t.same(await db.all('SELECT litestream_txid() AS txid'), [{ txid: '0000000000000005' }], 'the view stays where it was');
});
