/** A tiny replica for tests that care about the transport, not the data: one table made by the sqlite3 CLI, imported as one snapshot. */
import { spawnSync } from 'node:child_process';
import * as os from 'node:os';
import { join } from 'node:path';
import { promises as fs } from 'node:fs';
import { importDatabase } from '../../lib/tools/import.js';
import { openReplicaClient } from '../../lib/storage/url.js';
import { requireSqlite3, SQLITE3_BIN } from './paths.js';

/**
 * Make a replica at `url` holding `CREATE TABLE t(n)` with the rows `values` (one snapshot, LTX timestamp fixed).
 * @throws Error when the sqlite3 CLI is missing or fails; what `importDatabase` throws.
 */
export async function makeSmallReplica(url: string, env: NodeJS.ProcessEnv, values: number[]): Promise<void> {
  requireSqlite3();
  const dir = await fs.mkdtemp(join(os.tmpdir(), 'ltxvfs-small-'));
  try {
    const db = join(dir, 'small.db');
    const sql = `PRAGMA journal_mode=DELETE; CREATE TABLE t(n); INSERT INTO t VALUES ${values.map((v) => `(${v})`).join(',')};`;
    const made = spawnSync(SQLITE3_BIN, [db, sql]);
    if (made.status !== 0) throw new Error(`sqlite3: ${String(made.stderr)}`);
    const client = await openReplicaClient(url, { env });
    try {
      await importDatabase(db, client, { timestamp: 1795254709256 });
    } finally {
      await client.close();
    }
  } finally {
    await fs.rm(dir, { recursive: true, force: true });
  }
}
