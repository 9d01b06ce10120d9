/**
 * vfs/sqljs/column-names.ts: statements of a `loadSqlJs` instance keep their decoded column
 * names, and answer exactly as sql.js's own `getAsObject` / `getColumnNames` do, also after
 * SQLite re-prepared them with other names.
 */
import t from 'tap';
import { createRequire } from 'node:module';
import { loadSqlJs } from '../../vfs/sqljs/index.js';
import { installColumnNameCache } from '../../vfs/sqljs/column-names.js';
import type { SqlJsStatic } from '../../vfs/sqljs/types.js';

const SQL = await loadSqlJs();
// sql.js's own functions, unpatched: the shared module copy (loadSqlJs patches only its private one).
const plain = await (createRequire(import.meta.url)('sql.js') as (c?: object) => Promise<SqlJsStatic>)();

t.test('the same rows as sql.js for duplicate, empty, non-ASCII and __proto__ names', async (t) => {
  const sql = `SELECT 1 AS a, 2 AS a, 3 AS "", 'x' AS "größe ✓", 4 AS "__proto__", 5 AS "0", NULL AS n`;
  const ours = new SQL.Database();
  const theirs = new plain.Database();
  const a = ours.prepare(sql);
  const b = theirs.prepare(sql);
  for (let i = 0; i < 3; i++) {
    t.strictSame(a.getAsObject(), b.getAsObject(), `row ${i}`);
    t.strictSame(a.getColumnNames(), b.getColumnNames());
  }
  const row = a.getAsObject();
  const reference = b.getAsObject();
  t.equal(Object.getPrototypeOf(row), Object.getPrototypeOf(reference), '__proto__ is an own property, not the prototype');
  t.same(Object.getOwnPropertyDescriptor(row, '__proto__'), Object.getOwnPropertyDescriptor(reference, '__proto__'));
  t.same(Object.keys(row), Object.keys(reference), 'keys in the same order');
  const names = a.getColumnNames();
  names[0] = 'changed';
  t.equal(a.getColumnNames()[0], 'a', 'a caller changing the returned array does not change the kept names');
  a.free();
  b.free();
  ours.close();
  theirs.close();
});

t.test('a statement re-prepared after a schema change answers with its new names', async (t) => {
  const db = new SQL.Database();
  db.run('CREATE TABLE t (alpha INTEGER, beta TEXT)');
  db.run(`INSERT INTO t VALUES (1, 'one')`);
  const stmt = db.prepare('SELECT * FROM t WHERE alpha = ?');
  t.strictSame(stmt.getAsObject([1]), { alpha: 1, beta: 'one' });
  db.run('ALTER TABLE t RENAME COLUMN beta TO gamma');
  t.strictSame(stmt.getAsObject([1]), { alpha: 1, gamma: 'one' }, 'renamed column');
  t.strictSame(stmt.getColumnNames(), ['alpha', 'gamma']);
  db.run('ALTER TABLE t ADD COLUMN delta TEXT');
  t.strictSame(stmt.getAsObject([1]), { alpha: 1, gamma: 'one', delta: null }, 'added column');
  const star = db.prepare('SELECT * FROM t');
  star.step();
  t.strictSame(star.getAsObject(), { alpha: 1, gamma: 'one', delta: null });
  db.run('ALTER TABLE t RENAME COLUMN alpha TO al');
  star.reset();
  star.step();
  t.strictSame(star.getAsObject(), { al: 1, gamma: 'one', delta: null }, 'a name of the same length, changed in place or not');
  star.free();
  stmt.free();
  db.close();
});

t.test('a statement not stepped, and a freed one, answer as in sql.js', async (t) => {
  const answers = [SQL, plain].map((S) => {
    const db = new S.Database();
    const stmt = db.prepare('SELECT 1 AS a');
    const before = stmt.getAsObject();
    stmt.free();
    const after = [stmt.getAsObject(), stmt.getColumnNames()];
    db.close();
    return [before, ...after];
  });
  t.strictSame(answers[0], answers[1]);
  t.strictSame(answers[0], [{ a: undefined }, {}, []]);
});

t.test('another sql.js build, whose statements hold no handle it can find, keeps its own functions', async (t) => {
  class Stmt {
    get(): unknown[] { return [1]; }
    getColumnNames(): string[] { return ['a']; }
    getAsObject(): Record<string, unknown> { return { a: 1 }; }
    free(): void {}
  }
  const own = Stmt.prototype.getAsObject;
  const fake = {
    Database: class { prepare(): object { return new Stmt(); } close(): void {} },
    _sqlite3_sql: () => 0, _sqlite3_column_count: () => 1, _sqlite3_column_name: () => 0, UTF8ToString: () => '',
  };
  t.equal(installColumnNameCache(fake, { buffer: new ArrayBuffer(16) }), false);
  t.equal(Stmt.prototype.getAsObject, own, 'not replaced');
});

t.test('names are decoded on a statement\'s first row, not again', async (t) => {
  const module = SQL as unknown as { UTF8ToString(ptr: number): string };
  const decode = module.UTF8ToString;
  let decoded = 0;
  module.UTF8ToString = (ptr: number): string => {
    decoded++;
    return decode(ptr);
  };
  t.teardown(() => {
    module.UTF8ToString = decode;
  });
  const db = new SQL.Database();
  const stmt = db.prepare('SELECT ? AS k, ? * 2 AS twice');
  t.strictSame(stmt.getAsObject([1, 1]), { k: 1, twice: 2 });
  t.equal(decoded, 2, 'two names decoded');
  const rows = Array.from({ length: 98 }, (_, j) => stmt.getAsObject([j + 2, j + 2]));
  t.strictSame(rows, Array.from({ length: 98 }, (_, j) => ({ k: j + 2, twice: 2 * (j + 2) })));
  t.equal(decoded, 2, 'none decoded again');
  stmt.free();
  db.close();
});
