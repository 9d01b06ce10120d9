/**
 * The read pool's rules (lib/sql/read-pool.ts, lib/sql/core.ts, lib/api/read-pool.ts) on a
 * real replica directory under the write lease, on both engines: reads after a write see
 * it on every connection (read-your-writes), also a read made in the same tick as the
 * write; prepared statements run on many connections at once; reads beside an open
 * iteration (whose connection keeps a read snapshot) see a later write; connection state (a TEMP
 * table) keeps reads on the primary; `at` reaches pooled connections; close ends
 * everything; bad `readConnections` values are usage errors. Which SQL is a read:
 * lib/sql/read-routing.ts, checked last.
 */
import t from 'tap';
import { join } from 'node:path';
import { openDatabase } from '../../lib/api/open.js';
import { changesConnectionState, isPooledRead } from '../../lib/sql/read-routing.js';

const FLOWS = 6;
const count = 'SELECT count(*) AS n FROM items';

for (const engine of ['asyncify', 'worker'] as const) {
  t.test(`${engine}: read-your-writes on every connection, prepared statements, a held iteration`, async (t) => {
    const dir = join(t.testdir(), 'replica');
    const db = await openDatabase(dir, { engine, create: true, autoLease: true, pollIntervalMs: 0, readConnections: 3 });
    t.teardown(() => db.close());
    await db.exec('CREATE TABLE items (id INTEGER PRIMARY KEY, name TEXT NOT NULL)');
    await db.run("INSERT INTO items (name) VALUES ('first')");
    const reads = (): Promise<number[]> => Promise.all(Array.from({ length: FLOWS }, () => db.get<{ n: number }>(count).then((r) => r!.n)));
    t.same(await reads(), Array(FLOWS).fill(1));
    t.equal(db.stats().readConnections, 3, 'concurrent reads opened the pool');

    const byId = await db.prepare<{ name: string }>('SELECT name FROM items WHERE id = ?');
    for (let i = 2; i <= 10; i++) {
      const before = db.stats().pooledReads;
      await db.run('INSERT INTO items (name) VALUES (?)', [`item ${i}`]);
      t.same(await reads(), Array(FLOWS).fill(i), `after insert ${i}: every read sees it`);
      const names = await Promise.all(Array.from({ length: FLOWS }, () => byId.get([i])));
      t.same(names, Array(FLOWS).fill({ name: `item ${i}` }), 'and so does a prepared statement from every flow');
      t.ok(db.stats().pooledReads > before, 'some of them on pooled connections');
    }
    // Not awaited: the read is made after the write in call order, and waits for it.
    const write = db.run("INSERT INTO items (name) VALUES ('same tick')");
    const [n] = await reads();
    await write;
    t.equal(n, 11, 'a read made in the same tick as a write sees it');

    // An iteration holds its connection's snapshot open; other reads go elsewhere and see new rows.
    const scan = await db.prepare<{ id: number }>('SELECT id FROM items ORDER BY id');
    const rows = scan.iterate(undefined, { batchSize: 1 });
    t.same((await rows.next()).value, { id: 1 }, 'iteration started');
    await db.run("INSERT INTO items (name) VALUES ('while iterating')");
    t.same(await reads(), Array(FLOWS).fill(12), 'reads beside an open iteration see the write');
    const seen = [1];
    for await (const row of rows) seen.push(row.id);
    t.same(seen.slice(0, 11), Array.from({ length: 11 }, (_, i) => i + 1), 'the iteration ran to its end');
    await scan.finalize();
    await byId.finalize();
    await t.rejects(byId.get([1]), { code: 'LTXVFS_ERR_USAGE' }, 'finalized on every connection');
  });

  t.test(`${engine}: TEMP tables keep reads on the primary; at reaches pooled connections; close`, async (t) => {
    const dir = join(t.testdir(), 'replica');
    const db = await openDatabase(dir, { engine, create: true, autoLease: true, pollIntervalMs: 0, readConnections: 3 });
    await db.exec('CREATE TABLE items (id INTEGER PRIMARY KEY, name TEXT NOT NULL)');
    await db.run("INSERT INTO items (name) VALUES ('a')");
    const pastTxid = db.stats().txid;
    await db.run("INSERT INTO items (name) VALUES ('b')");

    const past = await openDatabase(dir, { engine, at: String(pastTxid), pollIntervalMs: 0, readConnections: 3, shared: false });
    t.teardown(() => past.close());
    const pastCounts = await Promise.all(Array.from({ length: FLOWS }, () => past.get<{ n: number }>(count).then((r) => r!.n)));
    t.same(pastCounts, Array(FLOWS).fill(1), `every connection of a database opened at TXID ${pastTxid} reads it`);
    t.ok(past.stats().pooledReads > 0, 'pooled connections answered');

    await db.exec('CREATE TEMP TABLE scratch (x); INSERT INTO scratch VALUES (7)');
    const pooled = db.stats().pooledReads;
    const scratch = await Promise.all(Array.from({ length: FLOWS }, () => db.get('SELECT x FROM scratch')));
    t.same(scratch, Array(FLOWS).fill({ x: 7 }), 'the TEMP table is seen by every read');
    t.equal(db.stats().pooledReads, pooled, 'all of them on the primary');

    const pending = Array.from({ length: FLOWS }, () => db.get(count));
    await db.close();
    t.same((await Promise.all(pending)).length, FLOWS, 'reads made before close() complete');
    await t.rejects(db.get(count), { code: 'LTXVFS_ERR_CLOSED' });
    t.throws(() => db.stats(), { code: 'LTXVFS_ERR_CLOSED' });
  });
}

t.test('readConnections: an integer from 1 to 64, else a usage error naming the value', async (t) => {
  const dir = join(t.testdir(), 'replica');
  for (const bad of [0, 1.5, 65, '2', -1]) {
    await t.rejects(openDatabase(dir, { readConnections: bad as number, create: true }), {
      code: 'LTXVFS_ERR_USAGE',
      message: new RegExp(`readConnections ${JSON.stringify(bad).replace('.', '\\.')} is not an integer from 1 to 64`),
    }, `readConnections ${JSON.stringify(bad)}`);
  }
});

t.test('which SQL is a pooled read, and which leaves state on the primary', async (t) => {
  for (const sql of ['SELECT 1', ' values (1)', 'WITH a AS (SELECT 1) SELECT replace(x, 1, 2) FROM a', "SELECT 'INSERT' AS w", 'select * from "update"']) {
    t.ok(isPooledRead(sql), `read: ${sql}`);
  }
  for (const sql of ['INSERT INTO t VALUES (1)', 'WITH a AS (SELECT 1) INSERT INTO t SELECT * FROM a', 'WITH a AS (SELECT 1) DELETE FROM t',
    'PRAGMA table_info(t)', 'EXPLAIN SELECT 1', 'SELECT 1; SELECT 2', "SELECT 'unterminated", 'CREATE TABLE t (x)']) {
    t.notOk(isPooledRead(sql), `not a pooled read: ${sql}`);
  }
  for (const sql of ["PRAGMA litestream_time = '5 minutes ago'", 'PRAGMA main.cache_size=10', 'PRAGMA litestream_time(\'latest\')',
    "ATTACH 'x.db' AS x", 'DETACH x', 'CREATE TEMP TABLE s (x)', 'create temporary view v as select 1', 'SELECT 1; CREATE TEMP TABLE s (x)']) {
    t.ok(changesConnectionState(sql), `state: ${sql}`);
  }
  for (const sql of ['PRAGMA table_info(t)', 'PRAGMA litestream_txid', 'PRAGMA litevfs_acquire_lease', 'CREATE TABLE t (x)', 'INSERT INTO t VALUES (1)', "SELECT '='"]) {
    t.notOk(changesConnectionState(sql), `no state: ${sql}`);
  }
});
