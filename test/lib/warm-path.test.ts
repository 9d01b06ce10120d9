/**
 * The warm path of the in-process engine (issue 15 item 2): a prepared lookup whose pages
 * SQLite has cached completes without suspending (vfs/asyncify/raw-calls.ts `stepNow`,
 * lib/sql/sqlite-ops.ts `stepNow`, lib/sql/statement.ts); one that must page in from the
 * replica suspends and answers later. These are the edges: a cold page inside a hot loop
 * (in a transaction, and outside one on the read pool), lookups made together while one
 * suspends, a cold page whose read fails (asynchronously and synchronously) in the middle
 * of a transaction that goes on, column values read from the raw exports, and the
 * flow → transaction map switched off between transactions and on again.
 */
import t from 'tap';
import { join } from 'node:path';
import { LtxvfsError } from '../../ltx/errors.js';
import { openDatabase } from '../../lib/api/open.js';
import type { DatabaseStats } from '../../lib/sql/database.js';
import { openAsyncifyDatabase } from '../../vfs/asyncify/database.js';
import { BytesSource, CHINOOK_PATH, chinookBytes } from '../helpers/bytes-source.js';
import { sqliteQuery } from '../helpers/sqlite-cli.js';

const ROWS = 15000;
const HOT = [1, 2, 3, 4, 5, 6, 7, 8];
const COLD = [3000, 6000, 9000, 12000];

interface Item {
  id: number;
  name: string;
  body: string;
}

/** 300 characters that do not compress (xorshift from `id`): the replica's file is then over 2 MiB, read range by range rather than whole at its first use. */
function bodyOf(id: number): string {
  let x = Math.imul(id, 2654435761) >>> 0;
  let s = '';
  for (let i = 0; i < 300; i++) {
    x = (x ^ (x << 13)) >>> 0;
    x ^= x >>> 17;
    x = (x ^ (x << 5)) >>> 0;
    s += String.fromCharCode(33 + (x % 90));
  }
  return s;
}

const item = (id: number): Item => ({ id, name: `item-${id}`, body: bodyOf(id) });

t.test('a replica on a directory: cold pages inside hot loops', async (t) => {
  const dir = join(t.testdir(), 'replica');
  const writer = await openDatabase(dir, { create: true, autoLease: true, pollIntervalMs: 0 });
  t.teardown(() => writer.close());
  await writer.exec('CREATE TABLE items (id INTEGER PRIMARY KEY, name TEXT NOT NULL, body TEXT NOT NULL)');
  await writer.transaction(async (tx) => {
    const insert = await tx.prepare('INSERT INTO items (id, name, body) VALUES (?, ?, ?)');
    for (let id = 1; id <= ROWS; id++) await insert.run([id, `item-${id}`, bodyOf(id)]);
  });

  const reader = await openDatabase(dir, { readOnly: true, pollIntervalMs: 0, shared: false });
  t.teardown(() => reader.close());

  t.test('in a transaction', async (t) => {
    const paged: number[] = [];
    await reader.transaction(async (tx) => {
      const byId = await tx.prepare<Item>('SELECT id, name, body FROM items WHERE id = ?');
      for (const cold of COLD) {
        for (const id of HOT) t.same(await byId.get([id]), item(id));
        const before = reader.stats().cacheMisses;
        t.same(await byId.get([cold]), item(cold), `cold row ${cold}`);
        paged.push(reader.stats().cacheMisses - before);
        for (const id of HOT) t.same(await byId.get([id]), item(id));
      }
      // Made together: the first pages in, the others queue behind it.
      const ids = [14999, 1, 7999, 2, 4999];
      t.same(await Promise.all(ids.map((id) => byId.get([id]))), ids.map(item), 'lookups made together while one pages in');
    });
    t.ok(paged.some((n) => n > 0), `pages came from the replica in the middle of the loop (misses per cold lookup: ${paged.join(', ')})`);
  });

  t.test('outside a transaction, on the read pool', async (t) => {
    const byId = await reader.prepare<Item>('SELECT id, name, body FROM items WHERE id = ?');
    const before = reader.stats().cacheMisses;
    for (const cold of [1500, 4500, 7500, 10500, 13500]) {
      for (const id of HOT) t.same(await byId.get([id]), item(id));
      t.same(await byId.get([cold]), item(cold), `cold row ${cold}`);
    }
    t.ok(reader.stats().cacheMisses > before, 'pages came from the replica in the middle of the loop');
    const ids = [14998, 3, 5998, 4];
    t.same(await Promise.all(ids.map((id) => byId.get([id]))), ids.map(item), 'lookups made together spread over the pool');
  });

  t.test('column names are read again once SQLite re-prepares the statement', async (t) => {
    await writer.exec('CREATE TABLE renamed (a INTEGER)');
    await writer.run('INSERT INTO renamed (a) VALUES (1)');
    const all = await writer.prepare('SELECT * FROM renamed');
    t.same(await all.get(), { a: 1 });
    t.same(await all.get(), { a: 1 });
    await writer.exec('ALTER TABLE renamed RENAME COLUMN a TO b');
    t.same(await all.get(), { b: 1 }, 'after a rename');
    await writer.exec('ALTER TABLE renamed ADD COLUMN c TEXT');
    t.same(await all.all(), [{ b: 1, c: null }], 'after a column is added');
    const result = await writer.query('SELECT * FROM renamed');
    result.columns.push('mine');
    t.same((await writer.query('SELECT * FROM renamed')).columns, ['b', 'c'], "query() hands out its own copy of the names");
  });

  t.test('the flow map is off between transactions and on again in the next', async (t) => {
    let late: Promise<unknown> | undefined;
    for (const round of [1, 2, 3]) {
      const id = ROWS + round;
      await t.rejects(writer.transaction(async () => {
        // A call on the Database (not on tx) from inside the callback joins the transaction.
        await writer.run('INSERT INTO items (id, name, body) VALUES (?, ?, ?)', [id, 'new', 'new']);
        late ??= new Promise((resolve) => setImmediate(resolve)).then(() => writer.get('SELECT count(*) AS n FROM items'));
        throw new Error(`roll back ${round}`);
      }), { message: `roll back ${round}` });
      t.equal(await writer.get('SELECT id FROM items WHERE id = ?', [id]), undefined, `round ${round}: the insert was rolled back with the transaction`);
    }
    t.same(await late, { n: ROWS }, 'a flow the transaction started, calling after it ended, runs outside it');
  });
});

function statsOf(source: BytesSource): () => DatabaseStats {
  return () => ({ pagesFetched: 0, bytesRead: 0, readRequests: 0, cacheHits: 0, cacheMisses: source.missCalls, cacheBytes: 0, txid: source.current.txid });
}

t.test('a cold page that fails between cached lookups; lookups made together while one suspends', async (t) => {
  const expected = new Map((await sqliteQuery(CHINOOK_PATH, 'SELECT TrackId, Name FROM Track WHERE TrackId IN (1, 2, 2500, 3000, 3400)'))
    .map((r) => [r.TrackId as number, { TrackId: r.TrackId, Name: r.Name }]));
  t.equal(expected.size, 5);
  const source = new BytesSource(chinookBytes());
  const db = await openAsyncifyDatabase(source, { statsProvider: statsOf(source) });
  t.teardown(() => db.close());
  const injected = new LtxvfsError('LTXVFS_ERR_STORAGE', 'connect ECONNREFUSED 127.0.0.1:9');
  const byId = await db.prepare('SELECT TrackId, Name FROM Track WHERE TrackId = ?');
  t.same(await byId.get([1]), expected.get(1));
  // (Inside a transaction SQLite would roll it back on the I/O error: https://sqlite.org/lang_transaction.html.)
  for (const [id, async] of [[3000, true], [2500, false]] as const) {
    source.failWith(injected, { async });
    const err = (await byId.get([id]).catch((e: unknown) => e)) as LtxvfsError;
    t.match(err, { code: 'SQLITE_IOERR_READ', ltxvfsCode: 'LTXVFS_ERR_STORAGE' }, `row ${id}: a ${async ? 'rejected' : 'thrown'} read fails the lookup`);
    t.equal(err.cause, injected, 'the storage error is the cause');
    source.failWith(undefined);
    t.same(await byId.get([1]), expected.get(1), 'the next lookup answers');
    t.same(await byId.get([id]), expected.get(id), `row ${id} once the reads succeed`);
  }
  await db.transaction(async (tx) => {
    const inTx = await tx.prepare('SELECT TrackId, Name FROM Track WHERE TrackId = ?');
    t.same(await inTx.get([2]), expected.get(2));
    source.miss = 'all';
    source.missDelayMs = 2;
    const misses = source.missCalls;
    t.same(await Promise.all([3400, 2, 1].map((id) => inTx.get([id]))), [3400, 2, 1].map((id) => expected.get(id)),
      'a suspended lookup and two queued behind it');
    t.ok(source.missCalls > misses, 'the first lookup suspended on a page read');
  });
});

t.test('column values read from the raw exports', async (t) => {
  const source = new BytesSource(chinookBytes());
  const db = await openAsyncifyDatabase(source, { statsProvider: statsOf(source) });
  t.teardown(() => db.close());
  const values = await db.prepare(`SELECT 'a' || char(0) || 'b' AS nul, '' AS empty, 'żółw 🐢' AS utf8, x'' AS noBytes,
    x'00ff10' AS bytes, 1.5 AS real, NULL AS none, -1 AS neg, 4294967296 AS wide, -4294967297 AS wideNeg,
    9007199254740991 AS maxSafe, -9007199254740991 AS minSafe`);
  t.same(await values.get(), {
    nul: 'a\0b', empty: '', utf8: 'żółw 🐢', noBytes: new Uint8Array(0), bytes: Uint8Array.from([0, 0xff, 0x10]), real: 1.5,
    none: null, neg: -1, wide: 4294967296, wideNeg: -4294967297, maxSafe: Number.MAX_SAFE_INTEGER, minSafe: -Number.MAX_SAFE_INTEGER,
  });
  t.same(values.columns(), ['nul', 'empty', 'utf8', 'noBytes', 'bytes', 'real', 'none', 'neg', 'wide', 'wideNeg', 'maxSafe', 'minSafe']);
  t.same(await values.raw().get(), [...Object.values((await values.raw(false).get()) as object)], 'raw rows have the same values');
  // The wasm memory grows (a new ArrayBuffer): text is read from the new one.
  t.same(await db.get('SELECT length(randomblob(134217728)) AS n'), { n: 134217728 });
  t.same(await values.raw(false).get(), await values.get(), 'after the memory grew');
  t.match(await values.get(), { utf8: 'żółw 🐢', nul: 'a\0b' });
  const named = await db.prepare('SELECT :a AS a, :b AS b');
  t.same(await named.get({ a: 1, b: Uint8Array.from([7]) }), { a: 1, b: Uint8Array.from([7]) });
  await t.rejects(named.get({ a: 2 }), { code: 'LTXVFS_ERR_USAGE', message: /no value for parameter :b/ });
  t.same(await named.get({ a: 3, b: null }), { a: 3, b: null }, 'each call binds every parameter afresh');
  const wide = (await db.prepare('SELECT 9223372036854775807 AS max, -9223372036854775808 AS min')).intMode('bigint');
  t.same(await wide.get(), { max: 2n ** 63n - 1n, min: -(2n ** 63n) });
});
