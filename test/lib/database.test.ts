/**
 * The Database API over a real connection (wa-sqlite Asyncify + LtxAsyncVFS + a
 * BytesSource). Expected rows come from sql.js reading the same bytes.
 */
import t from 'tap';
import initSqlJs, { type Database as SqlJsDatabase } from 'sql.js';
import * as SQLite from '@journeyapps/wa-sqlite';
import { LtxvfsError } from '../../ltx/errors.js';
import { Database, type DatabaseStats, type Params, type Row, type SqliteApi } from '../../lib/sql/database.js';
import { registerLtxVFS } from '../../vfs/asyncify/vfs.js';
import { loadAsyncifyModule, withEmptyBlobs } from '../../vfs/wasm/wa-sqlite.js';
import { BytesSource, chinookBytes, sqliteCliDatabase, type BytesSourceOptions } from '../helpers/bytes-source.js';

const SQLITE_OPEN_EXRESCODE = 0x0200_0000;

interface Stats extends DatabaseStats {
  label: string;
}

const stats: Stats = { pagesFetched: 1, bytesRead: 2, readRequests: 3, cacheHits: 4, cacheMisses: 5, cacheBytes: 6, txid: 7, label: 'x' };

interface OpenOptions {
  statementCacheSize?: number;
  /** Wrap the API the Database drives (spies). */
  wrap?: (api: SqliteApi) => SqliteApi;
  onClose?: () => void | Promise<void>;
  source?: BytesSourceOptions;
}

async function open(bytes: Uint8Array, options: OpenOptions = {}) {
  const { module, sqlite3 } = await loadAsyncifyModule();
  const vfs = registerLtxVFS(sqlite3, module);
  const source = new BytesSource(bytes, options.source);
  vfs.addDatabase('db', source);
  const handle = await sqlite3.open_v2('db', SQLite.SQLITE_OPEN_READONLY | SQLITE_OPEN_EXRESCODE, vfs.name);
  const api = withEmptyBlobs(sqlite3, module);
  const db = new Database<Stats>({
    sqlite3: options.wrap ? options.wrap(api) : api,
    db: handle,
    vfs,
    statsProvider: () => stats,
    onClose: options.onClose,
    statementCacheSize: options.statementCacheSize,
  });
  return { db, vfs, source, sqlite3 };
}

/** Counts prepares and finalizes of the API a Database drives. */
function counting(api: SqliteApi) {
  const counts = { prepares: 0, finalizes: 0 };
  const wrapped: SqliteApi = {
    ...api,
    statements(db, sql, options) {
      counts.prepares++;
      return api.statements(db, sql, options);
    },
    finalize(stmt) {
      counts.finalizes++;
      return api.finalize(stmt);
    },
  };
  return { counts, wrapped };
}

function sqljsRows(ref: SqlJsDatabase, sql: string, params?: Params): Row[] {
  const stmt = ref.prepare(sql);
  try {
    if (params !== undefined) stmt.bind(params as never);
    const rows: Row[] = [];
    while (stmt.step()) rows.push(stmt.getAsObject() as Row);
    return rows;
  } finally {
    stmt.free();
  }
}

async function rejection(promise: Promise<unknown>): Promise<LtxvfsError> {
  return promise.then(
    () => {
      throw new Error('expected a rejection');
    },
    (err: unknown) => err as LtxvfsError,
  );
}

const chinook = chinookBytes();
const SQL = await initSqlJs();

t.test('query results equal sql.js on the same bytes', async (t) => {
  const ref = new SQL.Database(chinook);
  const { db } = await open(chinook);
  const queries: Array<[string, Params?]> = [
    ['SELECT * FROM Artist ORDER BY ArtistId LIMIT 20'],
    [
      `SELECT ar.Name AS artist, count(*) AS tracks, round(sum(t.Milliseconds) / 60000.0, 2) AS minutes
       FROM Track t JOIN Album al ON al.AlbumId = t.AlbumId JOIN Artist ar ON ar.ArtistId = al.ArtistId
       GROUP BY ar.ArtistId HAVING tracks > 20 ORDER BY tracks DESC, artist`,
    ],
    [
      `SELECT c.Country, count(DISTINCT c.CustomerId) AS customers, sum(i.Total) AS revenue
       FROM Customer c LEFT JOIN Invoice i ON i.CustomerId = c.CustomerId
       GROUP BY c.Country ORDER BY revenue DESC, c.Country`,
    ],
    ['SELECT * FROM Track WHERE GenreId = ? AND UnitPrice > ? ORDER BY TrackId', [1, 0.5]],
    ['SELECT * FROM Invoice WHERE BillingCountry = :country ORDER BY InvoiceId', { ':country': 'Germany' }],
    [
      `WITH RECURSIVE chain(id, depth) AS (SELECT EmployeeId, 0 FROM Employee WHERE ReportsTo IS NULL
         UNION ALL SELECT e.EmployeeId, depth + 1 FROM Employee e JOIN chain ON e.ReportsTo = chain.id)
       SELECT * FROM chain ORDER BY depth, id`,
    ],
    ['SELECT name, type, tbl_name FROM sqlite_schema ORDER BY name'],
  ];
  for (const [sql, params] of queries) {
    const expected = sqljsRows(ref, sql, params);
    t.ok(expected.length > 0, `sql.js has rows for: ${sql.slice(0, 40)}`);
    t.same(await db.all(sql, params), expected, sql.slice(0, 60));
  }
  ref.close();
  await db.close();
});

t.test('rows with overflow pages and blobs equal sql.js', async (t) => {
  const bytes = sqliteCliDatabase(`CREATE TABLE docs(id INTEGER PRIMARY KEY, body TEXT, data BLOB);
    WITH RECURSIVE r(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM r WHERE i < 30)
    INSERT INTO docs SELECT i, printf('%.*c', 1000 * i, char(64 + i % 26)), randomblob(700 * i) FROM r;`);
  const ref = new SQL.Database(bytes);
  const { db } = await open(bytes);
  const sql = 'SELECT id, body, data, length(data) AS n FROM docs ORDER BY id';
  const rows = await db.all(sql);
  t.equal(rows.length, 30);
  t.same(rows, sqljsRows(ref, sql));
  t.type(rows[29].data, Uint8Array);
  t.equal((rows[29].body as string).length, 30_000);
  ref.close();
  await db.close();
});

t.test('positional and named parameters', async (t) => {
  const { db } = await open(chinook);
  t.same(await db.get('SELECT ? AS a, ? AS b', [1, 'two']), { a: 1, b: 'two' });
  t.same(await db.get('SELECT ?2 AS a, ?1 AS b', ['x', 'y']), { a: 'y', b: 'x' });
  t.same(await db.get('SELECT :a AS a, @b AS b, $c AS c', { a: 1, b: 2, c: 3 }), { a: 1, b: 2, c: 3 }, 'keys without prefix');
  t.same(await db.get('SELECT :a AS a, $a AS b', { ':a': 'colon', a: 'bare', $a: 'dollar' }), { a: 'colon', b: 'dollar' }, 'a prefixed key wins');
  t.same(await db.get('SELECT Name FROM Artist WHERE ArtistId = $id', { id: 1 }), { Name: 'AC/DC' });
  t.same(await db.get('SELECT 1 AS one'), { one: 1 });
  t.equal(await db.get('SELECT * FROM Artist WHERE ArtistId = ?', [-1]), undefined, 'no row: undefined');
  t.same(await db.all('SELECT * FROM Artist WHERE ArtistId = ?', [-1]), []);
  await db.close();
});

t.test('values: integers, bigint, floats, text, blobs, booleans, null', async (t) => {
  const { db } = await open(chinook);
  const big = 2n ** 62n + 5n;
  const row = await db.get(
    'SELECT ? AS i, typeof(?2) AS bigType, ?2 AS safe, ? AS f, ? AS s, ? AS b, ? AS e, ? AS yes, ? AS no, ? AS n',
    [42, 2 ** 40, 1.5, 'héllo ✓', new Uint8Array([0, 255, 7]), new Uint8Array(0), true, false, null],
  );
  t.same(row, {
    i: 42,
    bigType: 'integer',
    safe: 2 ** 40,
    f: 1.5,
    s: 'héllo ✓',
    b: new Uint8Array([0, 255, 7]),
    e: new Uint8Array(0),
    yes: 1,
    no: 0,
    n: null,
  });
  await t.rejects(db.get('SELECT ? AS big', [big]), { name: 'RangeError', message: /column "big": the integer 4611686018427387909 is above 2\^53−1/ },
    "intMode 'number' (the default): an integer beyond 2^53 is a RangeError naming the column");
  const bigints = (await db.prepare('SELECT typeof(?1) AS t, ?1 AS v')).safeIntegers();
  t.same(await bigints.get([big]), { t: 'integer', v: big }, 'bound as a 64-bit integer, read back whole');
  t.same(await bigints.get([-(2n ** 63n)]), { t: 'integer', v: -(2n ** 63n) });
  t.same(await db.get('SELECT typeof(?) AS t', [2 ** 60 + 0.5]), { t: 'real' });
  t.same(await db.get('SELECT typeof(?) AS t', [Number.NaN]), { t: 'null' }, 'NaN binds as a double SQLite stores as NULL');
  await db.close();
});

t.test('parameters that do not fit fail with LTXVFS_ERR_USAGE', async (t) => {
  const { db } = await open(chinook);
  const cases: Array<[string, Params | undefined, RegExp]> = [
    ['SELECT ?', undefined, /1 parameter\(s\) and none were given/],
    ['SELECT ?, ?', [1], /2 parameter\(s\), 1 were given/],
    ['SELECT ?', [1, 2], /1 parameter\(s\), 2 were given/],
    ['SELECT ?', { a: 1 }, /parameter 1 is positional: pass an array/],
    ['SELECT ?5', { a: 1 }, /parameter 1 is positional/],
    ['SELECT :a, :b', { a: 1 }, /no value for parameter :b/],
    ['SELECT ?', [2n ** 63n], /parameter \?1: 9223372036854775808 does not fit a 64-bit integer/],
    ['SELECT ?', [undefined as never], /cannot bind a value of type undefined/],
    ['SELECT ?', [new Date(0) as never], /cannot bind a value of type Date/],
    ['SELECT ?', [Object.create(null) as never], /cannot bind a value of type object/],
  ];
  for (const [i, [sql, params, message]] of cases.entries()) {
    await t.rejects(db.all(sql, params), { code: 'LTXVFS_ERR_USAGE', message }, `case ${i}: ${sql}`);
  }
  t.same(await db.get('SELECT ? AS ok', [1]), { ok: 1 }, 'the statement is still usable');
  await db.close();
});

t.test('run: changes and lastInsertRowid (TEMP tables are writable)', async (t) => {
  const { db } = await open(chinook);
  t.same(await db.run('CREATE TEMP TABLE notes(id INTEGER PRIMARY KEY, body TEXT)'), { changes: 0, lastInsertRowid: 0 });
  t.same(await db.run('INSERT INTO notes(body) VALUES (?), (?)', ['a', 'b']), { changes: 2, lastInsertRowid: 2 });
  t.same(await db.run('INSERT INTO notes(id, body) VALUES (?, ?)', [2n ** 60n, 'far']), { changes: 1, lastInsertRowid: 2n ** 60n });
  t.same(await db.run('UPDATE notes SET body = upper(body) WHERE id < 10'), { changes: 2, lastInsertRowid: 2n ** 60n });
  t.same(await db.all('SELECT body FROM notes ORDER BY id'), [{ body: 'A' }, { body: 'B' }, { body: 'far' }]);
  t.same(await db.run('SELECT * FROM notes'), { changes: 2, lastInsertRowid: 2n ** 60n }, 'rows of a SELECT are discarded');
  await db.close();
});

t.test('writes to the replica database fail with SQLITE_READONLY', async (t) => {
  const { db } = await open(chinook);
  for (const sql of ["INSERT INTO Artist(Name) VALUES ('x')", 'CREATE TABLE t(x)', 'DELETE FROM Track', 'DROP TABLE Genre']) {
    const err = await rejection(db.run(sql));
    t.match(err, { code: 'SQLITE_READONLY', sqliteCode: SQLite.SQLITE_READONLY, message: /attempt to write a readonly database/ }, sql);
    t.match(err.cause, { code: SQLite.SQLITE_READONLY }, "cause: SQLite's own error (no VFS error behind it)");
  }
  t.same(await db.get('SELECT count(*) AS n FROM Track'), { n: 3503 });
  await db.close();
});

t.test('exec runs several statements; all/get/run take exactly one', async (t) => {
  const { db } = await open(chinook);
  await db.exec(`CREATE TEMP TABLE a(x); INSERT INTO a VALUES (1);
    INSERT INTO a VALUES (2); -- a comment
    SELECT * FROM a;`);
  t.same(await db.all('SELECT x FROM a ORDER BY x'), [{ x: 1 }, { x: 2 }]);
  t.same(await db.all('SELECT x FROM a ORDER BY x;  -- trailing comment\n'), [{ x: 1 }, { x: 2 }], 'a trailing semicolon and comment are fine');
  await t.rejects(db.all('SELECT 1; SELECT 2'), { code: 'LTXVFS_ERR_USAGE', message: 'more than one SQL statement (use exec()): SELECT 1; SELECT 2' });
  await t.rejects(db.run('   -- only a comment'), { code: 'LTXVFS_ERR_USAGE', message: /no SQL statement in/ });
  await t.rejects(db.get(''), { code: 'LTXVFS_ERR_USAGE' });
  const err = await rejection(db.get('SELECT 1; SELEC 2'));
  t.match(err, { code: 'SQLITE_ERROR', sqliteCode: SQLite.SQLITE_ERROR, message: /syntax error.*: SELECT 1; SELEC 2/ });
  const execErr = await rejection(db.exec('INSERT INTO a VALUES (3); INSERT INTO nope VALUES (1); INSERT INTO a VALUES (4)'));
  t.match(execErr, { code: 'SQLITE_ERROR', ltxvfsCode: 'LTXVFS_ERR_SQLITE', message: /no such table: nope/ });
  t.same(await db.all('SELECT x FROM a ORDER BY x'), [{ x: 1 }, { x: 2 }, { x: 3 }], 'statements before the failing one ran');
  await db.close();
});

t.test('SQLite errors carry the SQL (shortened) and the code', async (t) => {
  const { db } = await open(chinook);
  const long = `SELECT ${'1 + '.repeat(60)}1 FROM no_such_table`;
  const err = await rejection(db.all(long));
  t.same([err.code, err.ltxvfsCode], ['SQLITE_ERROR', 'LTXVFS_ERR_SQLITE'], "SQLite's name; nothing of ltxvfs behind it");
  t.equal(err.sqliteCode, SQLite.SQLITE_ERROR);
  t.match(err.message, /^no such table: no_such_table: SELECT 1 \+ 1 \+ .*…$/);
  t.ok(err.message.length < 200);
  t.type(err, LtxvfsError);
  await db.close();
});

t.test('a storage error behind a failed statement is the cause; a stale one is not', async (t) => {
  const { db, vfs, source } = await open(chinook);
  await db.get('SELECT 1 FROM Track LIMIT 1');
  const injected = new LtxvfsError('LTXVFS_ERR_STORAGE', 'GET ltx/0/…: 503 after 5 attempts', { status: 503 });
  source.failWith(injected, { async: true });
  source.setBytes(chinook);
  const err = await rejection(db.all('SELECT * FROM Invoice'));
  t.match(err, { code: 'SQLITE_IOERR_READ', sqliteCode: SQLite.SQLITE_IOERR_READ });
  t.equal(err.cause, injected);
  source.failWith(undefined);

  // An error the VFS caught but SQLite got past must not be blamed for a later error.
  t.equal(vfs.jAccess('db', 0, new DataView(new ArrayBuffer(0))), SQLite.SQLITE_IOERR);
  t.type(vfs.lastError(), RangeError);
  const later = await rejection(db.all('SELEC'));
  t.match(later.cause, { code: SQLite.SQLITE_ERROR, message: /syntax error/ });
  await db.close();
});

t.test('prepared statements are cached by SQL text and reused', async (t) => {
  let spy!: ReturnType<typeof counting>;
  const { db } = await open(chinook, {
    statementCacheSize: 2,
    wrap: (api) => (spy = counting(api)).wrapped,
  });
  const q1 = 'SELECT Name FROM Artist WHERE ArtistId = ?';
  const q2 = 'SELECT Title FROM Album WHERE AlbumId = ?';
  const q3 = 'SELECT Name FROM Genre WHERE GenreId = ?';
  for (let i = 1; i <= 5; i++) await db.get(q1, [i]);
  t.equal(spy.counts.prepares, 1, 'five calls, one prepare');
  t.same(await db.get(q1, [1]), { Name: 'AC/DC' }, 'bindings of earlier calls do not leak');
  await db.get(q2, [1]);
  t.equal(spy.counts.prepares, 2);
  await db.get(q1, [2]);
  await db.get(q3, [1]);
  t.equal(spy.counts.prepares, 3);
  t.equal(spy.counts.finalizes, 1, 'the least recently used (q2) was evicted and finalized');
  await db.get(q1, [3]);
  t.equal(spy.counts.prepares, 3, 'q1 stayed cached');
  await db.get(q2, [1]);
  t.equal(spy.counts.prepares, 4, 'q2 was prepared again');
  await db.close();
  t.equal(spy.counts.finalizes, 4, 'close finalized the two cached statements');
});

t.test('a statement that failed is reset and reused', async (t) => {
  let spy!: ReturnType<typeof counting>;
  const { db } = await open(chinook, { wrap: (api) => (spy = counting(api)).wrapped });
  await db.exec('CREATE TEMP TABLE u(x UNIQUE)');
  const insert = 'INSERT INTO u VALUES (?)';
  await db.run(insert, [1]);
  await t.rejects(db.run(insert, [1]), { code: 'SQLITE_CONSTRAINT_UNIQUE', sqliteCode: SQLite.SQLITE_CONSTRAINT_UNIQUE });
  t.same(await db.run(insert, [2]), { changes: 1, lastInsertRowid: 2 });
  const prepared = spy.counts.prepares;
  await db.run(insert, [3]);
  t.equal(spy.counts.prepares, prepared);
  await db.close();
});

t.test('statementCacheSize 0 prepares and finalizes every call', async (t) => {
  let spy!: ReturnType<typeof counting>;
  const { db } = await open(chinook, { statementCacheSize: 0, wrap: (api) => (spy = counting(api)).wrapped });
  for (let i = 1; i <= 3; i++) await db.get('SELECT ? AS i', [i]);
  t.equal(spy.counts.prepares, 3);
  t.equal(spy.counts.finalizes, 3);
  await db.close();
});

t.test('calls made together run one at a time, in order', async (t) => {
  const ref = new SQL.Database(chinook);
  // Every page read is a miss: each call suspends SQLite, so overlapping calls would break Asyncify.
  const { db, source } = await open(chinook, { source: { miss: 'all', missDelayMs: 1 } });
  const sqls = [
    'SELECT count(*) AS n FROM Track',
    'SELECT * FROM Genre ORDER BY GenreId',
    'SELECT AlbumId, sum(Milliseconds) AS ms FROM Track GROUP BY AlbumId ORDER BY AlbumId',
    'SELECT * FROM Employee ORDER BY EmployeeId',
  ];
  const results = await Promise.all([...sqls, ...sqls].map((sql) => db.all(sql)));
  results.forEach((rows, i) => t.same(rows, sqljsRows(ref, sqls[i % sqls.length]), sqls[i % sqls.length]));
  t.ok(source.missCalls > 0);
  const order: number[] = [];
  await Promise.all([
    db.get('SELECT 1').then(() => order.push(1)),
    db.all('SELECT 1; SELECT 2').catch(() => order.push(2)),
    db.get('SELECT 3').then(() => order.push(3)),
  ]);
  t.same(order, [1, 2, 3], 'a failing call does not break the chain');
  ref.close();
  await db.close();
});

t.test('close is idempotent, waits for earlier calls, and calls onClose once', async (t) => {
  let closed = 0;
  const { db } = await open(chinook, { onClose: () => void closed++ });
  t.same(db.stats(), stats);
  t.equal(db.stats().label, 'x', 'the stats type flows through');
  const pending = db.get('SELECT count(*) AS n FROM Track');
  t.equal(db.closed, false);
  const first = db.close();
  t.equal(db.closed, true);
  const second = db.close();
  t.equal(first, second, 'the same promise');
  t.same(await pending, { n: 3503 }, 'a call made before close() completes');
  await first;
  t.equal(closed, 1);
  await db.close();
  t.equal(closed, 1);
  const calls: Array<() => Promise<unknown>> = [() => db.all('SELECT 1'), () => db.get('SELECT 1'), () => db.run('SELECT 1'), () => db.exec('SELECT 1')];
  for (const call of calls) {
    await t.rejects(call(), { code: 'LTXVFS_ERR_CLOSED', message: 'the database is closed' });
  }
  t.throws(() => db.stats(), { code: 'LTXVFS_ERR_CLOSED' });
});

t.test('a failing close still calls onClose and reports the SQLite error', async (t) => {
  let closed = 0;
  const { db } = await open(chinook, {
    onClose: () => void closed++,
    wrap: (api) => ({
      ...api,
      close: async () => {
        throw new SQLite.SQLiteError('unable to close due to unfinalized statements', SQLite.SQLITE_BUSY);
      },
    }),
  });
  await db.get('SELECT 1');
  const err = await rejection(db.close());
  t.match(err, { code: 'SQLITE_BUSY', sqliteCode: SQLite.SQLITE_BUSY, message: /unfinalized statements: close/ });
  t.equal(closed, 1);
});

t.test('errors that are not from SQLite pass through unchanged', async (t) => {
  const bug = new TypeError('a bug');
  const { db } = await open(chinook, {
    wrap: (api) => ({
      ...api,
      column_names: () => {
        throw bug;
      },
    }),
  });
  t.equal(await rejection(db.all('SELECT 1')), bug);
  await db.close();
});
