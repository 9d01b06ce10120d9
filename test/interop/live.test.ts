/**
 * Live: the REAL Litestream VFS writes (separate sqlite3 processes, write mode) while
 * ltxvfs reads the same file:// replica with its default poll interval (1 s). The bound
 * is counted in polls, not milliseconds, so a slow machine cannot fail it: once the LTX
 * file holding a row is in the replica, the poll after the one then running applies it,
 * so no query that starts after a second poll began may miss the row. (Polls run one at
 * a time, `polls` in the stats counts each as it starts.) Observed visibility lags in ms
 * are printed (p50/p99) with t.comment, as figures, not asserted.
 *
 * Two writers:
 * - one sqlite3 process per transaction (docs/formats.md §5.1, the safe way): the LTX file is
 *   uploaded when the process closes, so the row is in the replica once it exited;
 * - one long-lived process with LITESTREAM_SYNC_INTERVAL=100ms inserting into an existing
 *   table: the row is in the replica once an LTX file appears that was not there after its
 *   commit (a sync never runs during a write transaction, so that file was written after
 *   it). Reliable here only when the inserts fit in free pages made beforehand: a growing
 *   database makes 0.5.17's long-lived writer fail with "database disk image is malformed"
 *   (seen after ~40 inserts; docs/formats.md §5.1).
 */
import t, { type Test } from 'tap';
import { promises as fs } from 'node:fs';
import { join } from 'node:path';
import { openDatabase } from '../../lib/api/open.js';
import type { Database } from '../../lib/sql/database.js';
import type { DatabaseReplicaStats } from '../../lib/api/open.js';
import { requireLitestreamVfs, requireSqlite3 } from '../helpers/paths.js';
import { fileReplicaUrl, listLtxFiles, litestreamWrite, logErrors } from '../helpers/litestream.js';
import { LitestreamSession } from '../helpers/litestream-session.js';
import { percentile, waitFor } from '../helpers/polling.js';

requireSqlite3();
requireLitestreamVfs();

const POLL_MS = 1000;

/** One query of a watcher: the reader's poll count when it began, and the highest id it saw. */
interface Look {
  polls: number;
  lastId: number;
}

/**
 * Watches a connection for new rows of `t` (ids ascend with commit order): every query it
 * made ({@link Look}), and the first time each id was seen (ms, performance.now(), for the
 * printed figures only).
 */
function watchRows(db: Database<DatabaseReplicaStats>): { seen: Map<number, number>; looks: Look[]; stop: () => Promise<void> } {
  const seen = new Map<number, number>();
  const looks: Look[] = [];
  let running = true;
  let last = 0;
  const loop = (async () => {
    while (running) {
      const polls = db.stats().polls;
      const rows = await db.all('SELECT id FROM t WHERE id > ? ORDER BY id', [last]);
      const now = performance.now();
      for (const { id } of rows) {
        seen.set(id as number, now);
        last = id as number;
      }
      looks.push({ polls, lastId: last });
      await new Promise((resolve) => setTimeout(resolve, 5));
    }
  })();
  return { seen, looks, stop: async () => { running = false; await loop; } };
}

/**
 * Fail for each row that a query missed although it began after the second poll started
 * since the row was in the replica (`inReplica`: id → the poll count then); print the
 * observed lags (ms) as figures.
 */
function report(t: Test, what: string, inReplica: Map<number, number>, looks: readonly Look[], lags: number[]): void {
  t.comment(`${what}: ${lags.length} rows, visibility lag p50 ${percentile(lags, 50).toFixed(0)} ms, ` +
    `p99 ${percentile(lags, 99).toFixed(0)} ms, max ${Math.max(...lags).toFixed(0)} ms`);
  for (const [id, polls] of inReplica) {
    const miss = looks.find((l) => l.polls >= polls + 2 && l.lastId < id);
    if (miss !== undefined) t.fail(`row ${id}: in the replica at poll ${polls}, still missing from a query begun at poll ${miss.polls}`);
  }
  t.pass(`all ${inReplica.size} rows visible by the second poll after their LTX file was in the replica`);
}

t.test('one Litestream process per transaction while ltxvfs polls every second', async (t) => {
  const dir = join(t.testdir(), 'replica');
  await fs.mkdir(dir);
  const url = fileReplicaUrl(dir);
  await litestreamWrite(url, 'CREATE TABLE t (id INTEGER PRIMARY KEY, v TEXT NOT NULL)');
  const db = await openDatabase(url, { pollIntervalMs: POLL_MS });
  t.teardown(() => db.close());
  const watcher = watchRows(db);
  const started = new Map<number, number>();
  const uploaded = new Map<number, number>();
  const inReplica = new Map<number, number>();
  const N = 20;
  for (let i = 1; i <= N; i++) {
    started.set(i, performance.now());
    await litestreamWrite(url, `INSERT INTO t (id, v) VALUES (${i}, 'row ${i}')`);
    inReplica.set(i, db.stats().polls);
    uploaded.set(i, performance.now());
    await new Promise((resolve) => setTimeout(resolve, (i * 137) % 300)); // spread commits over the poll phase
  }
  await waitFor('every row to be visible', () => watcher.seen.size === N, 30_000);
  await watcher.stop();
  t.same((await db.all('SELECT count(*) AS n, max(id) AS m FROM t'))[0], { n: N, m: N });
  t.equal((await listLtxFiles(dir)).length, N + 1, 'one LTX file per process');
  t.equal(db.stats().txid, N + 1);
  const fromStart = [...started].map(([i, at]) => watcher.seen.get(i)! - at);
  const fromUpload = [...uploaded].map(([i, at]) => watcher.seen.get(i)! - at);
  t.comment(`process per transaction, from process start: lag p50 ${percentile(fromStart, 50).toFixed(0)} ms, p99 ${percentile(fromStart, 99).toFixed(0)} ms`);
  report(t, 'process per transaction, from upload (process exit)', inReplica, watcher.looks, fromUpload);
  t.same(db.stats().pollFailures, 0);
});

t.test('one long-lived Litestream process (sync every 100 ms) inserting into an existing table', async (t) => {
  const dir = join(t.testdir(), 'replica');
  await fs.mkdir(dir);
  const url = fileReplicaUrl(dir);
  // The table, and ~800 KiB of free pages for the inserts to land in (see the module comment).
  await litestreamWrite(url, `CREATE TABLE t (id INTEGER PRIMARY KEY, v TEXT NOT NULL);
    CREATE TABLE pad (x BLOB);
    INSERT INTO pad SELECT zeroblob(3000) FROM (WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c WHERE x < 200) SELECT x FROM c);
    DELETE FROM pad;`);
  const db = await openDatabase(url, { pollIntervalMs: POLL_MS });
  t.teardown(() => db.close());
  const watcher = watchRows(db);
  const writer = await LitestreamSession.start(url, '100ms');
  const committed = new Map<number, number>();
  const inReplica = new Map<number, number>();
  const N = 40;
  try {
    for (let i = 1; i <= N; i++) {
      // Listed before the insert: the writer syncs every 100 ms, so the insert's LTX file may
      // already be there by the time a listing after the commit is taken.
      const before = new Set((await listLtxFiles(dir)).map((f) => f.name));
      await writer.run(`INSERT INTO t (id, v) VALUES (${i}, printf('row %d %s', ${i}, hex(randomblob(40))));`);
      committed.set(i, performance.now());
      await waitFor(`an LTX file written after insert ${i}`, async () => (await listLtxFiles(dir)).some((f) => !before.has(f.name)), 30_000, 2);
      inReplica.set(i, db.stats().polls);
      await new Promise((resolve) => setTimeout(resolve, 150 + ((i * 89) % 200)));
    }
    await waitFor('every row to be visible', () => watcher.seen.size === N, 30_000);
  } finally {
    await watcher.stop();
    const end = await writer.close();
    t.equal(end.code, 0, `the writer exited cleanly${end.stderr ? `: ${end.stderr}` : ''}`);
    t.same(logErrors(end.log), [], 'no errors in the Litestream log');
  }
  t.same((await db.all('SELECT count(*) AS n, max(id) AS m FROM t'))[0], { n: N, m: N });
  const files = await listLtxFiles(dir);
  t.comment(`long-lived writer: ${N} inserts became ${files.length - 1} LTX files`);
  const lags = [...committed].map(([i, at]) => watcher.seen.get(i)! - at);
  report(t, 'long-lived writer, sync 100 ms, from commit', inReplica, watcher.looks, lags);
  t.same(await db.all('PRAGMA integrity_check'), [{ integrity_check: 'ok' }]);
});
