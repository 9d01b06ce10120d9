import t, { type Test } from 'tap'
import { copyFile, cp, mkdtemp, open, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { basename, join } from 'node:path'
import { chinookQueries, makeOracleDatabase, oracleQueries, wholeTableQueries, type OracleQuery } from '../helpers/datagen.js'
import {
  copyDatabaseIntoLitestream,
  fileReplicaUrl,
  listLtxFiles,
  litestreamQuery,
  litestreamQueryMany,
  litestreamWrite,
  litestreamWriteMany,
  setLtxMtimesFromHeaders,
} from '../helpers/litestream.js'
import { CHINOOK_DB, LITESTREAM_FIXTURE_REPLICA } from '../helpers/paths.js'
import { sqliteExec, sqliteQueryMany } from '../helpers/sqlite-cli.js'

async function tempDir(t: Test): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'ltxvfs-harness-'))
  t.teardown(() => rm(dir, { recursive: true, force: true }))
  return dir
}

async function headerTimestampMs(path: string): Promise<number> {
  const fh = await open(path, 'r')
  try {
    const b = Buffer.alloc(8)
    await fh.read(b, 0, 8, 32)
    return Number(b.readBigInt64BE(0))
  } finally {
    await fh.close()
  }
}

// The five transactions and the expected states of fixtures/litestream-0.5.17/README.md.
const README_SQL = [
  'CREATE TABLE t (id INTEGER PRIMARY KEY, name TEXT NOT NULL);',
  "INSERT INTO t (name) VALUES ('alpha'), ('bravo'), ('charlie');",
  "WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c WHERE x < 300) INSERT INTO t (name) SELECT printf('row-%04d', x) FROM c;",
  "UPDATE t SET name = 'ALPHA' WHERE id = 1;",
  'DELETE FROM t WHERE id > 250;',
]
const STATE_SQL = 'SELECT count(*) AS n, sum(id) AS s, min(name) AS lo, max(name) AS hi FROM t'
const README_STATES = [
  { n: 0, s: null, lo: null, hi: null },
  { n: 3, s: 6, lo: 'alpha', hi: 'charlie' },
  { n: 303, s: 46056, lo: 'alpha', hi: 'row-0300' },
  { n: 303, s: 46056, lo: 'ALPHA', hi: 'row-0300' },
  { n: 250, s: 31375, lo: 'ALPHA', hi: 'row-0247' },
]

t.test('the README transactions, written by the real VFS one process each', async (t) => {
  const url = fileReplicaUrl(join(await tempDir(t), 'replica'))
  const results = await litestreamWriteMany(url, README_SQL)
  t.same(results.map((r) => r.txids), [1, 2, 3, 4, 5].map((k) => [k.toString(16).padStart(16, '0')]), 'one TXID per process')
  const files = await listLtxFiles(new URL(url).pathname)
  t.same(
    files.map((f) => `${f.level}/${f.name}`),
    [1, 2, 3, 4, 5].map((k) => `0/${k.toString(16).padStart(16, '0')}-${k.toString(16).padStart(16, '0')}.ltx`),
    'five L0 files named 1..5',
  )
  t.same(results.map((r) => r.files.map((f) => basename(f))), files.map((f) => [f.name]))

  const [state, ids, pragmas, txid] = await litestreamQueryMany(url, [
    STATE_SQL,
    'SELECT id, name FROM t WHERE id IN (1, 2, 3, 4, 250) ORDER BY id',
    'SELECT page_count, freelist_count, journal_mode FROM pragma_page_count, pragma_freelist_count, pragma_journal_mode',
    'SELECT litestream_txid() AS txid',
  ])
  t.same(state, [README_STATES[4]])
  t.same(ids, [
    { id: 1, name: 'ALPHA' },
    { id: 2, name: 'bravo' },
    { id: 3, name: 'charlie' },
    { id: 4, name: 'row-0001' },
    { id: 250, name: 'row-0247' },
  ])
  t.same(pragmas, [{ page_count: 4, freelist_count: 0, journal_mode: 'delete' }])
  t.same(txid, [{ txid: '0000000000000005' }])

  // Every earlier state through time travel: createdAt < the next file's timestamp.
  for (let k = 0; k < 4; k++) {
    const at = new Date(await headerTimestampMs(files[k + 1].path)).toISOString()
    const [rows, tx] = await litestreamQueryMany(url, [STATE_SQL, 'SELECT litestream_txid() AS txid'], { pre: [`PRAGMA litestream_time = '${at}'`] })
    t.same(rows, [README_STATES[k]], `state after TXID ${k + 1} (litestream_time = ${at})`)
    t.same(tx, [{ txid: (k + 1).toString(16).padStart(16, '0') }])
  }
})

t.test('the fixture replica reads as its README says (mtimes restored)', async (t) => {
  const dir = join(await tempDir(t), 'replica')
  await cp(LITESTREAM_FIXTURE_REPLICA, dir, { recursive: true })
  t.equal(await setLtxMtimesFromHeaders(dir), 5)
  const url = fileReplicaUrl(dir)
  const [latest, info] = await litestreamQueryMany(url, [STATE_SQL, 'SELECT litestream_txid() AS txid, litestream_time() AS time'])
  t.same(latest, [README_STATES[4]])
  t.same(info, [{ txid: '0000000000000005', time: '2026-11-21T09:51:56.305Z' }])
  const past = await litestreamQuery(url, 'SELECT count(*) AS n, litestream_txid() AS txid FROM t', { pre: ["PRAGMA litestream_time = '2026-11-21T09:51:52Z'"] })
  t.same(past, [{ n: 3, txid: '0000000000000002' }])
})

t.test('write and query failures are loud', async (t) => {
  const dir = await tempDir(t)
  const url = fileReplicaUrl(join(dir, 'replica'))
  await t.rejects(litestreamQuery(url, 'SELECT 1'), /has no LTX files/, 'an empty replica is refused, not waited on')
  await litestreamWrite(url, 'CREATE TABLE t (x); INSERT INTO t VALUES (1);')

  await t.rejects(litestreamWrite(url, 'BEGIN; INSERT INTO t VALUES (2); SELECT * FROM nope; COMMIT;'), /no such table: nope/)
  t.equal((await listLtxFiles(join(dir, 'replica'))).length, 1, 'a failed BEGIN…COMMIT uploads nothing')

  await t.rejects(litestreamWrite(url, 'INSERT INTO t VALUES (3); SELECT * FROM nope;'), /new LTX files \(uploaded before the failure/)
  t.same(await litestreamQuery(url, 'SELECT x FROM t ORDER BY x'), [{ x: 1 }, { x: 3 }], 'autocommitted statements before the error are kept')

  await t.rejects(litestreamWrite(url, 'UPDATE t SET x = 0 WHERE 0'), /no LTX file was uploaded/)
  t.same((await litestreamWrite(url, 'SELECT 1', { allowNoop: true })).txids, [])
  await t.rejects(litestreamQuery(url, 'SELECT * FROM nope'), /no such table: nope[\s\S]*litestream log/)

  await t.rejects(copyDatabaseIntoLitestream(CHINOOK_DB, url), /is not empty/)
  const big = join(dir, 'ps8192.db')
  await sqliteExec(big, 'PRAGMA page_size = 8192; CREATE TABLE a (x); INSERT INTO a VALUES (1);')
  await t.rejects(copyDatabaseIntoLitestream(big, fileReplicaUrl(join(dir, 'r2'))), /page size 8192/)
})

/** Runs `queries` natively on `dbPath` and through the VFS on `url`; every result must be equal. */
async function compareWithSource(t: Test, dbPath: string, url: string, queries: OracleQuery[]): Promise<void> {
  const sqls = queries.map((q) => q.sql)
  const [expected, actual] = await Promise.all([sqliteQueryMany(dbPath, sqls, { readonly: true }), litestreamQueryMany(url, sqls)])
  queries.forEach((q, k) => t.same(actual[k], expected[k], q.name))
}

t.test('Chinook copied into a replica by the real VFS reads back identically', async (t) => {
  const dir = await tempDir(t)
  const src = join(dir, 'chinook.db')
  await copyFile(CHINOOK_DB, src)
  const url = fileReplicaUrl(join(dir, 'replica'))
  const r = await copyDatabaseIntoLitestream(src, url)
  t.same(r.txids, ['0000000000000001'])
  t.equal(r.files.length, 1)
  await compareWithSource(t, src, url, [
    ...chinookQueries,
    ...(await wholeTableQueries(src)),
    { name: 'page_count', sql: 'PRAGMA page_count' },
  ])
  t.same(await litestreamQuery(url, 'PRAGMA integrity_check'), [{ integrity_check: 'ok' }])
})

t.test('a generated 22 MiB oracle database copied into a replica reads back identically', async (t) => {
  const dir = await tempDir(t)
  const db = await makeOracleDatabase(join(dir, 'oracle.db'), { approxBytes: 22 * 2 ** 20 })
  t.ok(db.bytes > 20 * 2 ** 20, `source is ${(db.bytes / 2 ** 20).toFixed(1)} MiB`)
  const url = fileReplicaUrl(join(dir, 'replica'))
  const r = await copyDatabaseIntoLitestream(db.path, url)
  t.same(r.txids, ['0000000000000001'])
  t.comment(`generate ${Math.round(db.durationMs)} ms, copy through the VFS ${Math.round(r.durationMs)} ms`)
  await compareWithSource(t, db.path, url, [
    ...oracleQueries,
    ...(await wholeTableQueries(db.path)),
    { name: 'page_count', sql: 'PRAGMA page_count' },
  ])
  t.same(await litestreamQuery(url, 'PRAGMA integrity_check'), [{ integrity_check: 'ok' }])
})
