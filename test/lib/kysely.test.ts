/**
 * `ltxvfs/kysely` (issue 14 item 6) with the real `kysely` package, on the in-process and
 * the worker engine, over a replica made by makeReplica and written under the lease:
 * joins whose tables share column names, writes with numAffectedRows/insertId,
 * transactions that commit (one LTX file) and roll back, other flows kept out of a
 * Kysely transaction, controlled transactions, stream(), and the usage errors.
 */
import t from 'tap';
import { Kysely, sql, type Generated } from 'kysely';
import { openDatabase } from '../../lib/api/open.js';
import { LtxvfsDialect } from '../../lib/kysely/index.js';
import { makeReplica } from '../../lib/testing/index.js';
import { openTeamsReplica } from '../helpers/teams-replica.js';
import type { Database } from '../../lib/sql/database.js';

interface DB {
  teams: { id: Generated<number>; name: string };
  players: { id: Generated<number>; name: string; team_id: number; score: number };
}

for (const engine of ['asyncify', 'worker'] as const) {
  t.test(engine, async (t) => {
    const database = await openTeamsReplica(t, engine, 1000);
    const db = new Kysely<DB>({ dialect: new LtxvfsDialect({ database }) });
    const txid = () => database.stats().txid;

    t.test('a join whose tables share id and name, under aliases', async (t) => {
      const rows = await db.selectFrom('players as p')
        .innerJoin('teams as t', 't.id', 'p.team_id')
        .select(['p.id as playerId', 'p.name as player', 't.id as teamId', 't.name as team'])
        .where('p.id', '<=', 3).orderBy('p.id').execute();
      t.same(rows, [
        { playerId: 1, player: 'p0001', teamId: 2, team: 'blue' },
        { playerId: 2, player: 'p0002', teamId: 1, team: 'red' },
        { playerId: 3, player: 'p0003', teamId: 2, team: 'blue' },
      ]);
    });

    t.test('writes report numAffectedRows and insertId; returning() gives rows', async (t) => {
      const before = txid();
      const inserted = await db.insertInto('teams').values({ name: 'green' }).executeTakeFirstOrThrow();
      t.equal(inserted.insertId, 3n);
      t.equal(inserted.numInsertedOrUpdatedRows, 1n);
      const updated = await db.updateTable('players').set({ score: 0 }).where('team_id', '=', 3).executeTakeFirstOrThrow();
      t.equal(updated.numUpdatedRows, 0n);
      const back = await db.insertInto('players').values({ name: 'new', team_id: 3, score: 7 }).returning(['id', 'name']).executeTakeFirstOrThrow();
      t.same(back, { id: 1001, name: 'new' });
      const deleted = await db.deleteFrom('players').where('id', '=', 1001).executeTakeFirstOrThrow();
      t.equal(deleted.numDeletedRows, 1n);
      t.equal(txid(), before + 3, 'each write that changed rows is one LTX file (the UPDATE of no rows ships none)');
    });

    t.test('a transaction commits as one LTX file; other flows read the committed state beside it', async (t) => {
      const before = txid();
      await db.transaction().execute(async (trx) => {
        await trx.insertInto('teams').values({ name: 'in-tx' }).execute();
        // Another flow's read runs beside the transaction on a pooled read connection
        // (readConnections, default 2+): it completes while the transaction is still open,
        // and sees the last committed state, never the uncommitted row.
        const outside = await db.selectFrom('teams').select('name').where('name', '=', 'in-tx').execute();
        t.same(outside, [], 'the other flow does not see the uncommitted row');
        const seen = await trx.selectFrom('teams').select('name').where('name', '=', 'in-tx').execute();
        t.same(seen, [{ name: 'in-tx' }], 'the transaction sees its own write');
        await trx.updateTable('players').set({ score: sql`score + 1` }).where('team_id', '=', 1).execute();
      });
      t.same(await db.selectFrom('teams').select('name').where('name', '=', 'in-tx').execute(), [{ name: 'in-tx' }], 'after the commit, every flow sees it');
      t.equal(txid(), before + 1, 'one LTX file');
    });

    t.test('a throw rolls back; the connection goes on', async (t) => {
      const before = txid();
      await t.rejects(db.transaction().execute(async (trx) => {
        await trx.deleteFrom('players').execute();
        t.equal((await trx.selectFrom('players').select((eb) => eb.fn.countAll<number>().as('n')).executeTakeFirstOrThrow()).n, 0);
        throw new Error('roll back');
      }), /roll back/);
      t.equal((await db.selectFrom('players').select((eb) => eb.fn.countAll<number>().as('n')).executeTakeFirstOrThrow()).n, 1000);
      t.equal(txid(), before, 'nothing shipped');
      const failing = db.transaction().execute(async (trx) => {
        await trx.insertInto('teams').values({ name: 'dup' }).execute();
        await sql`INSERT INTO teams (id, name) VALUES (1, 'clash')`.execute(trx);
      });
      await t.rejects(failing, { code: 'SQLITE_CONSTRAINT_PRIMARYKEY' }, "SQLite's error reaches the caller");
      t.same(await db.selectFrom('teams').select('name').where('name', '=', 'dup').execute(), [], 'and the transaction was rolled back');
    });

    t.test('controlled transactions: commit() and rollback()', async (t) => {
      const trx = await db.startTransaction().execute();
      await trx.insertInto('teams').values({ name: 'controlled' }).execute();
      await trx.commit().execute();
      const trx2 = await db.startTransaction().execute();
      await trx2.deleteFrom('teams').where('name', '=', 'controlled').execute();
      await trx2.rollback().execute();
      t.same(await db.selectFrom('teams').select('name').where('name', '=', 'controlled').execute(), [{ name: 'controlled' }]);
      const trx3 = await db.startTransaction().execute();
      await t.rejects(trx3.savepoint('sp').execute(), /savepoint/i, 'savepoints are not supported, said by Kysely');
      await trx3.rollback().execute();
    });

    t.test('stream() in batches, also inside a transaction', async (t) => {
      let n = 0;
      for await (const row of db.selectFrom('players').select(['id', 'score']).orderBy('id').stream(64)) {
        n++;
        if (row.id !== n) t.fail(`row ${n} has id ${row.id}`);
        if (n === 100) t.same(await db.selectFrom('teams').select('id').where('id', '=', 1).execute(), [{ id: 1 }], 'other calls run between batches');
      }
      t.equal(n, 1000);
      let early = 0;
      for await (const _ of db.selectFrom('players').select('id').stream(10)) if (++early === 15) break;
      t.equal(early, 15, 'leaving the loop early ends the stream');
      const inTx = await db.transaction().execute(async (trx) => {
        await trx.insertInto('teams').values({ name: 'streamed' }).execute();
        const names: string[] = [];
        for await (const row of trx.selectFrom('teams').select('name').orderBy('id').stream(2)) names.push(row.name);
        return names;
      });
      t.ok(inTx.includes('streamed'), 'the stream read the transaction’s own write');
      await t.rejects(async () => {
        for await (const _ of db.getExecutor().stream(sql`DELETE FROM teams WHERE 0`.compile(db), 10)) t.fail('no rows');
      }, { code: 'LTXVFS_ERR_USAGE', message: /returns no rows: DELETE FROM teams/ });
    });
  });
}

t.test('usage errors name the option', async (t) => {
  t.throws(() => new LtxvfsDialect({} as { database: Database }), { code: 'LTXVFS_ERR_USAGE', message: /pass \{ database \}/ });
  const replica = await makeReplica({ transactions: ['CREATE TABLE teams (id INTEGER PRIMARY KEY, name TEXT NOT NULL)'] });
  t.teardown(() => replica.cleanup());
  const database = await openDatabase(replica.url, { pollIntervalMs: 0 });
  t.teardown(() => database.close());
  t.throws(() => new LtxvfsDialect({ database, transactionMode: 'exclusive' as never }), { code: 'LTXVFS_ERR_USAGE', message: /transactionMode "exclusive"/ });
  const db = new Kysely<DB>({ dialect: new LtxvfsDialect({ database: async () => database, transactionMode: 'immediate' }) });
  t.same(await db.selectFrom('teams').selectAll().execute(), [], 'a function giving the database is called at the first query');
  await t.rejects(db.transaction().setIsolationLevel('serializable').execute(async () => undefined),
    { code: 'LTXVFS_ERR_USAGE', message: /no isolation levels or access modes \(got \{"isolationLevel":"serializable"\}\)/ });
  await t.rejects(db.transaction().execute(async () => undefined), { code: 'SQLITE_READONLY' },
    "immediate mode without the lease fails at BEGIN with SQLite's error");
  await db.destroy();
  t.same(await database.all('SELECT count(*) AS n FROM teams'), [{ n: 0 }], 'destroy() leaves the Database open');
});
