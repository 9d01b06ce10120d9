/**
 * The fault every networked backend must survive through `openDatabase` (issue 16): a
 * server stopped in the middle of a query gives a clean `LTXVFS_ERR_STORAGE` naming the
 * key, and reads recover when it is back. The replica is one snapshot of ~2.4 MiB of
 * incompressible rows (more than the 2 MiB a file is read and checked whole below), opened
 * with a 1 MiB page cache, so the pages of the last row are not in memory before they are
 * asked for. How long the failure takes is the client's own deadline and retry budget
 * (the tests pass short ones); no assertion here bounds a duration.
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Test } from 'tap';
import { importDatabase } from '../../lib/index.js';
import type { ReplicaClient } from '../../lib/storage/types.js';
import { SQLITE3_BIN } from './paths.js';
import { waitFor } from './polling.js';

/** Rows of table `t(id INTEGER PRIMARY KEY, v BLOB)`, each with 1000 random bytes. */
export const WIDE_ROWS = 2300;

/** A page cache smaller than the replica, for `openDatabase(…, { cacheSizeBytes })`. */
export const SMALL_CACHE_BYTES = 2 ** 20;

/**
 * Build the wide database with the sqlite3 CLI and import it through `client` as one
 * snapshot (TXID 1, header time `timestamp`).
 * @throws Error when sqlite3 fails; what `importDatabase` throws.
 */
export async function importWideReplica(client: ReplicaClient, timestamp = 1795254709256): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), 'ltxvfs-wide-'));
  try {
    const db = join(dir, 'wide.db');
    const made = spawnSync(SQLITE3_BIN, [db, `PRAGMA journal_mode=DELETE; CREATE TABLE t (id INTEGER PRIMARY KEY, v BLOB);
      WITH RECURSIVE c(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM c WHERE i < ${WIDE_ROWS}) INSERT INTO t SELECT i, randomblob(1000) FROM c;`]);
    if (made.status !== 0) throw new Error(`sqlite3: ${String(made.stderr)}`);
    await importDatabase(db, client, { timestamp });
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/** How a test stops and starts the server a replica lives on. */
export interface Outage {
  stop(): unknown;
  start(): unknown;
}

/**
 * `open()` until it succeeds (at most 30 s): the database these tests open has the short
 * deadlines the outage is meant to meet, which the healthy server may also miss on a loaded
 * machine (seen: an open's LIST with no answer within 1000 ms and no retry).
 */
export async function openBeforeOutage<T extends object>(open: () => Promise<T>): Promise<T> {
  return (await waitFor('the open before the outage', () => open().catch(() => undefined), 30_000, 50))!;
}

/** The part of a `Database` the check uses. */
interface Queryable {
  all(sql: string): Promise<object[]>;
}

/**
 * With `db` open on the wide replica: row 1 is read; the server stops; a query of rows 1
 * and {@link WIDE_ROWS} fails with `LTXVFS_ERR_STORAGE` (as `ltxvfsCode`, behind SQLite's
 * I/O error) whose message matches `key`; the server starts again and the same query
 * returns both rows. The server is started again even when a check throws.
 */
export async function queryAcrossOutage(t: Test, db: Queryable, outage: Outage, key: RegExp): Promise<void> {
  const sql = `SELECT id, length(v) AS n FROM t WHERE id IN (1, ${WIDE_ROWS}) ORDER BY id`;
  // Before the stop the server is healthy, but the short deadlines these tests set for the
  // outage may be missed by a loaded machine: the read is awaited, not its speed.
  const first = await waitFor('row 1 before the stop', () => db.all('SELECT id, length(v) AS n FROM t WHERE id = 1').catch(() => undefined), 20_000, 50);
  t.same(first, [{ id: 1, n: 1000 }], 'row 1 before the stop');
  await outage.stop();
  let started = false;
  try {
    const stoppedAt = performance.now();
    const failure = await db.all(sql).then(() => undefined, (err: unknown) => err);
    t.comment(`the query failed ${Math.round(performance.now() - stoppedAt)} ms after the stop`);
    t.match(failure, { ltxvfsCode: 'LTXVFS_ERR_STORAGE', message: key }, 'a clean storage error naming the key');
    await outage.start();
    started = true;
  } finally {
    if (!started) await outage.start();
  }
  const rows = await waitFor('the query after the restart', () => db.all(sql).catch(() => undefined), 20_000, 50);
  t.same(rows, [{ id: 1, n: 1000 }, { id: WIDE_ROWS, n: 1000 }], 'reads recover: a page not read before the stop');
}
