/**
 * The database the query-builder tests (test/lib/kysely.test.ts, test/lib/drizzle.test.ts)
 * run on: `teams` and `players`, two tables that both have `id` and `name`, in a replica
 * made by makeReplica and opened under the lease on the given engine.
 */
import type { Test } from 'tap';
import { openDatabase } from '../../lib/api/open.js';
import { makeReplica } from '../../lib/testing/index.js';
import type { Database } from '../../lib/sql/database.js';

/** A new replica with teams red (1) and blue (2) and `players` p0001… (team 1 + i % 2, score i), opened with autoLease; closed and removed at teardown. */
export async function openTeamsReplica(t: Test, engine: 'asyncify' | 'worker', players: number): Promise<Database> {
  const replica = await makeReplica({
    transactions: [`CREATE TABLE teams (id INTEGER PRIMARY KEY, name TEXT NOT NULL);
      CREATE TABLE players (id INTEGER PRIMARY KEY, name TEXT NOT NULL, team_id INTEGER NOT NULL, score INTEGER NOT NULL);
      INSERT INTO teams (name) VALUES ('red'), ('blue');
      WITH RECURSIVE c(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM c WHERE i < ${players})
      INSERT INTO players (name, team_id, score) SELECT printf('p%04d', i), 1 + i % 2, i FROM c;`],
  });
  t.teardown(() => replica.cleanup());
  const database = await openDatabase(replica.url, { engine, autoLease: true, pollIntervalMs: 0 });
  t.teardown(() => database.close());
  return database;
}
