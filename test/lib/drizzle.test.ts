/**
 * `ltxvfs/drizzle` (issue 14 item 6) with the real `drizzle-orm` package, on the
 * in-process and the worker engine, over a replica made by makeReplica and written under
 * the lease: joins whose tables share column names (rows as arrays), the run/all/values/get
 * methods, transactions that commit (one LTX file) and roll back, savepoints, other
 * flows kept out of a transaction, batch(), and the usage errors. Drizzle wraps a failed
 * query's error in its DrizzleQueryError ("Failed query: …"), with ltxvfs's as `cause`.
 */
import t from 'tap';
import { count, eq, sql } from 'drizzle-orm';
import { integer, sqliteTable, text } from 'drizzle-orm/sqlite-core';
import { openDatabase } from '../../lib/api/open.js';
import { drizzle } from '../../lib/drizzle/index.js';
import { makeReplica } from '../../lib/testing/index.js';
import { openTeamsReplica } from '../helpers/teams-replica.js';
import type { Database } from '../../lib/sql/database.js';

const teams = sqliteTable('teams', { id: integer('id').primaryKey(), name: text('name').notNull() });
const players = sqliteTable('players', {
  id: integer('id').primaryKey(),
  name: text('name').notNull(),
  teamId: integer('team_id').notNull(),
  score: integer('score').notNull(),
});

for (const engine of ['asyncify', 'worker'] as const) {
  t.test(engine, async (t) => {
    const database = await openTeamsReplica(t, engine, 100);
    const db = drizzle(database);
    const txid = () => database.stats().txid;
    const teamNames = async () => (await db.select({ name: teams.name }).from(teams).orderBy(teams.id)).map((r) => r.name);

    t.test('joins keep columns that share a name apart; all, get, values, run', async (t) => {
      const rows = await db.select().from(players).innerJoin(teams, eq(players.teamId, teams.id)).where(sql`${players.id} <= 2`).orderBy(players.id);
      t.same(rows, [
        { players: { id: 1, name: 'p0001', teamId: 2, score: 1 }, teams: { id: 2, name: 'blue' } },
        { players: { id: 2, name: 'p0002', teamId: 1, score: 2 }, teams: { id: 1, name: 'red' } },
      ]);
      const partial = await db.select({ player: players.name, team: teams.name, playerId: players.id, teamId: teams.id })
        .from(players).leftJoin(teams, eq(players.teamId, teams.id)).where(eq(players.id, 3));
      t.same(partial, [{ player: 'p0003', team: 'blue', playerId: 3, teamId: 2 }]);
      t.same(await db.select().from(teams).where(eq(teams.id, 1)).get(), { id: 1, name: 'red' }, 'get');
      t.equal(await db.select().from(teams).where(eq(teams.id, 99)).get(), undefined, 'get of no row');
      t.same(await db.values(sql`SELECT 1 AS a, 2 AS a`), [[1, 2]], 'values keeps duplicate names');
      const before = txid();
      const result = await db.update(players).set({ score: 0 }).where(eq(players.teamId, 1)).run();
      t.match(result, { changes: 50 }, 'run reports changes');
      t.equal(txid(), before + 1, 'one LTX file');
    });

    t.test('a transaction commits as one LTX file; other flows stay out of it', async (t) => {
      const before = txid();
      let outside: Promise<string[]> | undefined;
      const returned = await db.transaction(async (tx) => {
        await tx.insert(teams).values({ name: 'in-tx' });
        outside = teamNames();
        t.ok((await tx.select().from(teams).where(eq(teams.name, 'in-tx'))).length === 1, 'the transaction sees its own write');
        await tx.update(players).set({ score: sql`${players.score} + 1` }).where(eq(players.teamId, 2));
        return 'done';
      }, { behavior: 'immediate' });
      t.equal(returned, 'done');
      t.ok((await outside!).includes('in-tx'), 'the other flow ran after the commit');
      t.equal(txid(), before + 1, 'one LTX file');
    });

    t.test('rollback: a throw, tx.rollback(), a failing statement', async (t) => {
      const before = txid();
      await t.rejects(db.transaction(async (tx) => {
        await tx.delete(players);
        throw new Error('roll back');
      }), /roll back/);
      await t.rejects(db.transaction(async (tx) => {
        await tx.delete(players);
        tx.rollback();
      }), { message: 'Rollback' }, "tx.rollback() throws Drizzle's TransactionRollbackError");
      await t.rejects(db.transaction(async (tx) => {
        await tx.insert(teams).values({ name: 'dup' });
        await tx.insert(teams).values({ id: 1, name: 'clash' });
      }), { cause: { code: 'SQLITE_CONSTRAINT_PRIMARYKEY' } });
      t.same(await db.select({ n: count() }).from(players), [{ n: 100 }]);
      t.notOk((await teamNames()).includes('dup'));
      t.equal(txid(), before, 'nothing shipped');
    });

    t.test('tx.transaction() is a savepoint', async (t) => {
      const before = txid();
      await db.transaction(async (tx) => {
        await tx.insert(teams).values({ name: 'outer' });
        await t.rejects(tx.transaction(async (sp) => {
          await sp.insert(teams).values({ name: 'inner-rolled-back' });
          throw new Error('inner');
        }), /inner/);
        await tx.transaction(async (sp) => {
          await sp.insert(teams).values({ name: 'inner-kept' });
          await sp.transaction(async (sp2) => sp2.insert(teams).values({ name: 'deeper' }));
        });
        await t.rejects(db.transaction(async () => undefined), { code: 'LTXVFS_ERR_USAGE', message: /use tx\.transaction\(\) for a savepoint/ });
      });
      const names = await teamNames();
      t.same(names.slice(-3), ['outer', 'inner-kept', 'deeper']);
      t.notOk(names.includes('inner-rolled-back'));
      t.equal(txid(), before + 1, 'one LTX file');
    });

    t.test('batch() is one transaction, all or nothing', async (t) => {
      const before = txid();
      const [inserted, selected] = await db.batch([
        db.insert(teams).values({ name: 'batch' }).returning({ id: teams.id }),
        db.select({ name: teams.name }).from(teams).where(eq(teams.name, 'batch')),
      ]);
      t.equal(inserted.length, 1);
      t.same(selected, [{ name: 'batch' }]);
      t.equal(txid(), before + 1);
      await t.rejects(db.batch([db.insert(teams).values({ name: 'batch-2' }), db.insert(teams).values({ id: 1, name: 'clash' })]),
        { code: 'SQLITE_CONSTRAINT_PRIMARYKEY' }, "batch errors are ltxvfs's own (Drizzle does not wrap them)");
      t.notOk((await teamNames()).includes('batch-2'));
    });
  });
}

t.test('usage errors', async (t) => {
  t.throws(() => drizzle({} as Database), { code: 'LTXVFS_ERR_USAGE', message: /must be a Database from openDatabase/ });
  const replica = await makeReplica({ transactions: ['CREATE TABLE teams (id INTEGER PRIMARY KEY, name TEXT NOT NULL)'] });
  t.teardown(() => replica.cleanup());
  const database = await openDatabase(replica.url, { pollIntervalMs: 0 });
  t.teardown(() => database.close());
  const db = drizzle(database);
  await t.rejects(db.transaction(async () => undefined, { behavior: 'exclusive' }), { message: /Failed query: begin exclusive/, cause: { code: 'LTXVFS_ERR_USAGE', message: /mode "exclusive"/ } });
  await t.rejects(db.insert(teams).values({ name: 'x' }), { cause: { code: 'SQLITE_READONLY' } }, 'a write without the lease');
  await t.rejects(db.run(sql`BEGIN`), { cause: { code: 'LTXVFS_ERR_USAGE', message: /db\.transaction/ } }, 'a bare BEGIN outside db.transaction() is refused');
  t.same(await db.select().from(teams), []);
});
