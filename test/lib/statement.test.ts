/**
 * The Database API a Node service writes against (issue 14 items 1, 2, 7), on the
 * in-process and the worker engine, over a replica written under the lease: prepared
 * statements (get/all/run/iterate/raw/pluck/columns/finalize), batch(), transaction()
 * with savepoints, the refusal of a bare BEGIN, and `await using`.
 */
import t from 'tap';
import { join } from 'node:path';
import { openDatabase } from '../../lib/api/open.js';
import type { WorkerDatabase } from '../../vfs/worker/database.js';

for (const engine of ['asyncify', 'worker'] as const) {
  t.test(engine, async (t) => {
    const dir = join(t.testdir(), 'replica');
    const db = await openDatabase(dir, { engine, create: true, autoLease: true, pollIntervalMs: 0 });
    t.teardown(() => db.close());
    await db.exec(`CREATE TABLE items (id INTEGER PRIMARY KEY, name TEXT NOT NULL, qty INTEGER);
      WITH RECURSIVE c(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM c WHERE i < 1000)
      INSERT INTO items (name, qty) SELECT printf('item-%04d', i), i % 7 FROM c;`);

    t.test('prepare: get, all, run, columns, raw, pluck', async (t) => {
      const byId = await db.prepare<{ id: number; name: string }>('SELECT id, name FROM items WHERE id = ?');
      t.same(byId.columns(), ['id', 'name']);
      t.same(await byId.get([3]), { id: 3, name: 'item-0003' });
      t.equal(await byId.get([5000]), undefined);
      t.same(await Promise.all([byId.get([1]), byId.get([2])]), [{ id: 1, name: 'item-0001' }, { id: 2, name: 'item-0002' }],
        'one statement used by two flows at once');
      const dup = await db.prepare('SELECT 1 AS a, 2 AS a');
      t.same(await dup.all(), [{ a: 2 }], 'as objects a duplicate name keeps the last value');
      t.same(await dup.raw().all(), [[1, 2]], 'raw(): arrays keep both');
      const names = (await db.prepare('SELECT name FROM items WHERE id <= ? ORDER BY id')).pluck();
      t.same(await names.all([3]), ['item-0001', 'item-0002', 'item-0003']);
      const insert = await db.prepare('INSERT INTO items (name, qty) VALUES (:name, :qty)');
      t.same(await insert.run({ name: 'new', qty: 1 }), { changes: 1, lastInsertRowid: 1001 });
      t.same(insert.columns(), [], 'no result columns');
      await insert.finalize();
      await insert.finalize();
      await t.rejects(insert.run({ name: 'x', qty: 1 }), { code: 'LTXVFS_ERR_USAGE', message: /finalized/ });
      await t.rejects(db.prepare('SELECT 1; SELECT 2'), { code: 'LTXVFS_ERR_USAGE', message: /more than one SQL statement/ });
      await t.rejects(db.prepare('BEGIN'), { code: 'LTXVFS_ERR_USAGE', message: /db\.transaction\(/ });
      t.throws(() => byId.intMode('float' as never), { code: 'LTXVFS_ERR_USAGE', message: /intMode "float"/ });
    });

    t.test('iterate: batches, break resets, busy while iterating', async (t) => {
      const all = await db.prepare<{ id: number }>('SELECT id FROM items WHERE id <= 1000 ORDER BY id');
      let n = 0;
      for await (const row of all.iterate(undefined, { batchSize: 64 })) {
        n++;
        if (row.id !== n) t.fail(`row ${n} has id ${row.id}`);
        if (n === 100) {
          await t.rejects(all.get(), { code: 'LTXVFS_ERR_USAGE', message: /busy in an iterate/ });
          // Other calls on the connection run between batches.
          t.same(await db.get('SELECT count(*) AS c FROM items WHERE id <= 1000'), { c: 1000 });
        }
        if (n === 150) break;
      }
      t.equal(n, 150);
      t.same(await all.get(), { id: 1 }, 'after break the statement is reset and free');
      let total = 0;
      for await (const _ of all.iterate()) total++;
      t.equal(total, 1000);
      if (engine === 'worker') {
        // Backpressure: rows cross from the worker only as the loop asks for them.
        const worker = db as unknown as WorkerDatabase;
        const before = await worker.counters();
        let seen = 0;
        for await (const _ of all.iterate(undefined, { batchSize: 10 })) if (++seen === 15) break;
        const after = await worker.counters();
        const calls = after.laneBatches + after.messageBatches - before.laneBatches - before.messageBatches;
        // Two batches of 10, the reset at break, and the counters call itself.
        t.equal(calls, 4, `15 of 1000 rows took ${calls} crossings: two batches, not the whole result`);
      }
      const it = all.iterate(undefined, { batchSize: 0 });
      await t.rejects(it.next(), { code: 'LTXVFS_ERR_USAGE', message: /batchSize 0/ });
      await all.finalize();
    });

    t.test('transaction: commit, rollback, savepoints, calls inside run inside', async (t) => {
      const result = await db.transaction(async (tx) => {
        await tx.run("INSERT INTO items (name) VALUES ('in-tx')");
        t.same(await db.get("SELECT count(*) AS c FROM items WHERE name = 'in-tx'"), { c: 1 }, 'db.* inside the callback runs in it');
        await tx.transaction(async (sp) => {
          t.equal(sp.depth, 1);
          await sp.run("INSERT INTO items (name) VALUES ('savepoint')");
          throw new Error('undo');
        }).catch(() => undefined);
        return 'done';
      }, { mode: 'immediate' });
      t.equal(result, 'done');
      t.same(await db.all("SELECT name FROM items WHERE name IN ('in-tx', 'savepoint')"), [{ name: 'in-tx' }]);
      const own = new Error('mine');
      let escaped: { run(sql: string): Promise<unknown> } | undefined;
      await t.rejects(db.transaction(async (tx) => {
        escaped = tx;
        await tx.run("INSERT INTO items (name) VALUES ('rolled back')");
        throw own;
      }), own, 'rethrows the callback\'s error');
      t.same(await db.get("SELECT count(*) AS c FROM items WHERE name = 'rolled back'"), { c: 0 });
      await t.rejects(escaped!.run('SELECT 1'), { code: 'LTXVFS_ERR_USAGE', message: /the transaction has ended/ });
      await t.rejects(db.transaction(async (tx) => tx.exec('COMMIT')), { code: 'LTXVFS_ERR_USAGE', message: /tx\.transaction/ });
      await t.rejects(db.transaction(async () => undefined, { mode: 'exclusive' as never }), { code: 'LTXVFS_ERR_USAGE', message: /mode "exclusive"/ });
      await t.rejects(db.transaction('BEGIN' as never), { code: 'LTXVFS_ERR_USAGE', message: /must be a function/ });
    });

    t.test('a bare BEGIN is refused and points to transaction(); a whole BEGIN … COMMIT script runs', async (t) => {
      for (const call of [() => db.exec('BEGIN'), () => db.run('BEGIN IMMEDIATE'), () => db.exec("BEGIN; INSERT INTO items (name) VALUES ('x')"),
        () => db.exec('SAVEPOINT a'), () => db.all('COMMIT')] as (() => Promise<unknown>)[]) {
        await t.rejects(call(), { code: 'LTXVFS_ERR_USAGE', message: /db\.transaction\(async \(tx\)/ });
      }
      t.same(await db.get("SELECT count(*) AS c FROM items WHERE name = 'x'"), { c: 0 }, 'nothing of a refused script ran');
      await db.exec("BEGIN; INSERT INTO items (name) VALUES ('script'); COMMIT");
      await db.exec("SAVEPOINT s; INSERT INTO items (name) VALUES ('script'); RELEASE s");
      t.same(await db.get("SELECT count(*) AS c FROM items WHERE name = 'script'"), { c: 2 });
      await t.rejects(db.exec("BEGIN; INSERT INTO items (name) VALUES ('half'); INSERT INTO nope VALUES (1); COMMIT"), /no such table: nope/);
      t.same(await db.get("SELECT count(*) AS c FROM items WHERE name = 'half'"), { c: 0 }, 'a script failing inside its transaction is rolled back');
      t.same(await db.get("SELECT count(*) AS c FROM items WHERE name = 'script'"), { c: 2 });
    });

    t.test('batch: one transaction, all or nothing', async (t) => {
      const results = await db.batch([
        { sql: 'INSERT INTO items (name, qty) VALUES (?, ?)', params: ['b1', 1] },
        { sql: "UPDATE items SET qty = 9 WHERE name = 'b1'" },
      ]);
      t.same(results.map((r) => r.changes), [1, 1]);
      await t.rejects(db.batch([{ sql: "INSERT INTO items (name) VALUES ('b2')" }, { sql: 'INSERT INTO nope VALUES (1)' }]), /no such table: nope/);
      t.same(await db.all("SELECT name, qty FROM items WHERE name IN ('b1', 'b2')"), [{ name: 'b1', qty: 9 }]);
      await t.rejects(db.batch([{ sql: 'BEGIN' }]), { code: 'LTXVFS_ERR_USAGE' });
      await t.rejects(db.batch('SELECT 1' as never), { code: 'LTXVFS_ERR_USAGE', message: /array/ });
    });
  });
}

t.test('a bad intMode at open fails before anything is opened, naming the value', async (t) => {
  const dir = join(t.testdir(), 'replica');
  for (const engine of ['asyncify', 'worker'] as const) {
    await t.rejects(openDatabase(dir, { engine, create: true, intMode: 'float' as never }),
      { code: 'LTXVFS_ERR_USAGE', message: /open: intMode "float" is not 'number', 'bigint' or 'string'/ }, engine);
  }
});

t.test('await using closes the database', async (t) => {
  const dir = join(t.testdir(), 'replica');
  let outer;
  {
    await using db = await openDatabase(dir, { create: true, autoLease: true, pollIntervalMs: 0 });
    outer = db;
    await db.exec('CREATE TABLE t (x)');
    t.equal(db.closed, false);
  }
  t.equal(outer.closed, true);
});
