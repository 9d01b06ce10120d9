import t from 'tap'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { requireSqlite3 } from '../helpers/paths.js'
import { blobSafeColumn, parseJsonRows, sqliteExec, sqliteQuery, sqliteQueryMany, terminate } from '../helpers/sqlite-cli.js'

t.test('requireSqlite3 reports the CLI version', async (t) => {
  t.match(requireSqlite3(), /^3\.\d+\.\d+ /)
})

t.test('parseJsonRows reads what the CLI JSON mode prints', async (t) => {
  t.same(parseJsonRows(''), [])
  t.same(parseJsonRows('[{"a":1,"b":"x"},\n{"a":2,"b":null}]\n'), [
    { a: 1, b: 'x' },
    { a: 2, b: null },
  ])
  t.same(parseJsonRows('[{"a":1}]\n[{"b":2},\n{"b":3}]\n'), [{ a: 1 }, { b: 2 }, { b: 3 }], 'several statements concatenate')
  const [row] = parseJsonRows('[{"big":9223372036854775807,"neg":-9223372036854775808,"safe":9007199254740991,"r":0.10000000000000000555,"inf":1e999,"ninf":-1e999,"s":"a\\"b\\nc\\u0001é"}]')
  t.equal(row.big, 9223372036854775807n)
  t.equal(row.neg, -9223372036854775808n)
  t.equal(row.safe, 9007199254740991)
  t.equal(row.r, 0.1)
  t.equal(row.inf, Infinity)
  t.equal(row.ninf, -Infinity)
  t.equal(row.s, 'a"b\nc\u0001é')
  t.throws(() => parseJsonRows('[{"x":1,"x":2}]'), /two columns named "x"/)
  t.throws(() => parseJsonRows('hello'), /unexpected sqlite3 JSON output/)
})

t.test('terminate ends the last statement without breaking comments or dot-commands', async (t) => {
  t.equal(terminate('SELECT 1'), 'SELECT 1\n;\n')
  t.equal(terminate('SELECT 1;  \n'), 'SELECT 1;\n')
  t.equal(terminate('SELECT 1 -- why'), 'SELECT 1 -- why\n;\n')
  t.equal(terminate('SELECT 1;\n.tables'), 'SELECT 1;\n.tables\n')
})

t.test('sqliteQuery and sqliteExec on a local file', async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'ltxvfs-harness-'))
  t.teardown(() => rm(dir, { recursive: true, force: true }))
  const db = join(dir, 'a.db')
  await sqliteExec(db, "CREATE TABLE t (id INTEGER PRIMARY KEY, v REAL, s TEXT, b BLOB); INSERT INTO t VALUES (1, 1.5, 'one', X'00FF'), (2, NULL, 'two', NULL), (9007199254740993, -0.25, '', X'')")
  t.same(await sqliteQuery(db, 'SELECT * FROM t WHERE 0'), [], 'zero rows is [] (the CLI prints nothing)')
  t.same(await sqliteQuery(db, `SELECT id, v, s, ${blobSafeColumn('b')} FROM t ORDER BY id`), [
    { id: 1, v: 1.5, s: 'one', b: "X'00FF'" },
    { id: 2, v: null, s: 'two', b: null },
    { id: 9007199254740993n, v: -0.25, s: '', b: "X''" },
  ])
  t.same(await sqliteQuery(db, 'SELECT hex(b) AS h FROM t WHERE id = 1', { readonly: true }), [{ h: '00FF' }])
  const many = await sqliteQueryMany(db, ['SELECT count(*) AS n FROM t', 'SELECT 1 AS x WHERE 0', 'SELECT s FROM t ORDER BY id'])
  t.same(many, [[{ n: 3 }], [], [{ s: 'one' }, { s: 'two' }, { s: '' }]], 'an empty result between others keeps its place')
  await t.rejects(sqliteQuery(db, 'SELECT * FROM nope'), /no such table: nope/)
  await t.rejects(sqliteExec(db, "INSERT INTO t (id) VALUES (5); INSERT INTO t (id) VALUES (1); INSERT INTO t (id) VALUES (6)"), /UNIQUE constraint failed/)
  t.same(await sqliteQuery(db, 'SELECT id FROM t WHERE id > 4 AND id < 100 ORDER BY id'), [{ id: 5 }], '-bail stops at the first error')
  await t.rejects(sqliteExec(db, 'INSERT INTO t (id) VALUES (7)', { readonly: true }), /readonly/)
  await t.rejects(
    sqliteQuery(db, 'WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c) SELECT count(*) FROM c', { timeoutMs: 300 }),
    /timed out/,
  )
})
