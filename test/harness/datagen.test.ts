import t from 'tap'
import { createHash } from 'node:crypto'
import { mkdtemp, readFile, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { Prng, makeOracleDatabase, oracleQueries, wholeTableQueries } from '../helpers/datagen.js'
import { sqliteQuery, sqliteQueryMany } from '../helpers/sqlite-cli.js'

const sha256 = async (p: string): Promise<string> => createHash('sha256').update(await readFile(p)).digest('hex')

t.test('Prng is deterministic per seed', async (t) => {
  const a = new Prng(42)
  const b = new Prng(42)
  const c = new Prng(43)
  const xs = Array.from({ length: 8 }, () => a.nextU32())
  t.same(Array.from({ length: 8 }, () => b.nextU32()), xs)
  t.not(JSON.stringify(Array.from({ length: 8 }, () => c.nextU32())), JSON.stringify(xs))
  t.ok(xs.every((x) => Number.isInteger(x) && x >= 0 && x < 2 ** 32))
})

t.test('makeOracleDatabase: deterministic, sized, with the promised shapes', async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'ltxvfs-harness-'))
  t.teardown(() => rm(dir, { recursive: true, force: true }))
  const a = await makeOracleDatabase(join(dir, 'a.db'), { approxBytes: 4 * 2 ** 20 })
  const b = await makeOracleDatabase(join(dir, 'b.db'), { approxBytes: 4 * 2 ** 20 })
  const c = await makeOracleDatabase(join(dir, 'c.db'), { approxBytes: 4 * 2 ** 20, seed: 2 })
  t.equal(await sha256(a.path), await sha256(b.path), 'same seed and size give the same bytes')
  t.not(await sha256(a.path), await sha256(c.path), 'another seed gives other data')
  t.ok(a.bytes > 3.6 * 2 ** 20 && a.bytes < 4.4 * 2 ** 20, `size ${a.bytes} within ±10 % of 4 MiB`)
  t.equal(a.pageSize, 4096)
  t.equal(a.bytes, a.pageCount * 4096)

  const [header] = await sqliteQuery(a.path, 'PRAGMA journal_mode', { readonly: true })
  t.same(header, { journal_mode: 'delete' })
  const [shape] = await sqliteQuery(
    a.path,
    `SELECT (SELECT count(*) FROM dbstat WHERE pagetype = 'overflow') AS overflow_pages,
            (SELECT count(*) FROM pragma_table_list WHERE wr = 1) AS without_rowid_tables,
            (SELECT count(*) FROM sqlite_schema WHERE type = 'index' AND sql IS NOT NULL) AS indexes,
            (SELECT count(*) FROM orders o JOIN users u ON u.id = o.user_id) = (SELECT count(*) FROM orders) AS fk_ok,
            (SELECT count(*) FROM orders WHERE discount IS NULL) > 0 AS has_nulls,
            (SELECT typeof(amount) FROM orders LIMIT 1) AS real_type,
            (SELECT min(length(payload)) FROM documents) >= 1000 AS blobs_kib`,
    { readonly: true },
  )
  t.ok(Number(shape.overflow_pages) > 300, `overflow pages: ${shape.overflow_pages}`)
  t.equal(shape.without_rowid_tables, 1)
  t.equal(shape.indexes, 6)
  t.equal(shape.fk_ok, 1)
  t.equal(shape.has_nulls, 1)
  t.equal(shape.real_type, 'real')
  t.equal(shape.blobs_kib, 1)
})

t.test('oracleQueries run, return rows, and are ordered', async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'ltxvfs-harness-'))
  t.teardown(() => rm(dir, { recursive: true, force: true }))
  const db = await makeOracleDatabase(join(dir, 'small.db'), { approxBytes: 2 ** 20 })
  t.ok(oracleQueries.length >= 15)
  t.equal(new Set(oracleQueries.map((q) => q.name)).size, oracleQueries.length, 'names are unique')
  const results = await sqliteQueryMany(db.path, oracleQueries.map((q) => q.sql), { readonly: true })
  oracleQueries.forEach((q, k) => {
    t.ok(results[k].length > 0, `${q.name}: returns rows even at 1 MiB`)
    t.ok(/ORDER BY/i.test(q.sql) || results[k].length === 1, `${q.name}: fully ordered or a single row`)
  })
  const whole = await wholeTableQueries(db.path)
  t.same(whole.map((q) => q.name), ['all rows of documents', 'all rows of orders', 'all rows of products', 'all rows of users'])
  t.match(whole.find((q) => q.name === 'all rows of products')!.sql, /ORDER BY "sku"$/)
  const [docs] = await sqliteQueryMany(db.path, [whole[0].sql + ' LIMIT 2'], { readonly: true })
  t.match(String(docs[0].payload), /^X'[0-9A-F]{2000,}'$/, 'blobs come back as X\'…\' text')
})
