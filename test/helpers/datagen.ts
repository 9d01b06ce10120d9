/**
 * Deterministic test data: an "oracle" database of known shape (several tables, indexes,
 * REAL and NULL values, overflow pages, a WITHOUT ROWID table) built by the native sqlite3
 * CLI, and the queries to compare engines with.
 *
 * Determinism: nothing uses Math.random, random() or randomblob(). A seeded PRNG
 * (splitmix32) makes a word list, a 64 KiB text pool, a 64 KiB byte pool and the
 * constants of the hash expressions; all rows are then made inside sqlite3 by recursive
 * CTEs from those, so the SQL sent to the CLI stays about 300 KiB whatever the size.
 * Same seed and size ⇒ same rows (and, with the same sqlite3 build, the same file bytes).
 *
 * Bytes per MiB of `approxBytes`: ~55 % documents (text bodies of 1.5–6 KiB and blob payloads
 * of 1–9 KiB: overflow pages), ~30 % orders (+3 indexes), ~12 % users (+3 indexes), the
 * rest products (WITHOUT ROWID). The file lands within about ±10 % of `approxBytes` (sizes ≥ 4 MiB).
 */
import { rm, stat } from 'node:fs/promises'
import { blobSafeColumn, quoteIdent, sqliteExec, sqliteQuery } from './sqlite-cli.js'

/** A small, fast, seeded PRNG (splitmix32). Same seed ⇒ same sequence. */
export class Prng {
  private state: number
  constructor(seed: number) {
    this.state = seed >>> 0
  }
  /** Next unsigned 32-bit integer. */
  nextU32(): number {
    this.state = (this.state + 0x9e3779b9) >>> 0
    let z = this.state
    z = Math.imul(z ^ (z >>> 16), 0x85ebca6b) >>> 0
    z = Math.imul(z ^ (z >>> 13), 0xc2b2ae35) >>> 0
    return (z ^ (z >>> 16)) >>> 0
  }
  /** Uniform float in [0, 1). */
  next(): number {
    return this.nextU32() / 2 ** 32
  }
  /** Uniform integer in [0, n). */
  int(n: number): number {
    return Math.floor(this.next() * n)
  }
  /** `n` pseudo-random bytes. */
  bytes(n: number): Buffer {
    const b = Buffer.alloc(n)
    for (let i = 0; i < n; i += 4) {
      const v = this.nextU32()
      for (let k = 0; k < 4 && i + k < n; k++) b[i + k] = (v >>> (8 * k)) & 0xff
    }
    return b
  }
}

export interface OracleDatabaseOptions {
  /** Target file size in bytes (≥ 1 MiB). Default 4 MiB. */
  approxBytes?: number
  /** PRNG seed. Default 1. */
  seed?: number
}

/** Row counts chosen for a size (what `makeOracleDatabase` creates). */
export interface OracleDatabaseShape {
  users: number
  orders: number
  documents: number
  products: number
}

/** What `makeOracleDatabase` made. */
export interface OracleDatabaseInfo extends OracleDatabaseShape {
  path: string
  bytes: number
  pageSize: number
  pageCount: number
  durationMs: number
}

const P = 2147483647 // 2^31 − 1, prime: the modulus of the hash expressions
const WORDS = 512
const TEXT_POOL_CHARS = 65536
const BLOB_POOL_BYTES = 65536
const COUNTRIES = ['AR', 'AT', 'BE', 'BR', 'CH', 'CZ', 'DE', 'ES', 'FI', 'FR', 'GB', 'IT', 'JP', 'KR', 'NL', 'NO', 'PL', 'SE', 'US']
const STATUSES = ['cancelled', 'new', 'paid', 'refunded', 'shipped']

/** Row counts for a target size (see the module comment for the split). */
export function oracleShape(approxBytes: number): OracleDatabaseShape {
  // Calibrated on sqlite3 3.40.1: the per-MiB counts below give the target size ±5 %.
  const mib = (approxBytes / 2 ** 20) * 0.875
  return {
    users: Math.max(600, Math.round(mib * 640)),
    orders: Math.max(2000, Math.round(mib * 2200)),
    documents: Math.max(60, Math.round(mib * 92)),
    products: Math.max(500, Math.min(20000, Math.round(mib * 100))),
  }
}

/**
 * The SQL script that creates and fills the oracle tables in the current main database:
 * schema, rows, indexes. Uses TEMP tables (run with `PRAGMA temp_store = MEMORY` where the
 * default VFS must not be touched) and has no BEGIN/COMMIT of its own.
 */
export function oracleDatabaseSql(opts: OracleDatabaseOptions = {}): string {
  const approxBytes = opts.approxBytes ?? 4 * 2 ** 20
  if (!(approxBytes >= 2 ** 20)) throw new Error(`approxBytes must be at least 1 MiB, got ${approxBytes}`)
  const prng = new Prng(opts.seed ?? 1)
  const shape = oracleShape(approxBytes)

  // Hash constants: each h(k, x) is a two-round affine hash modulo P of a row number x < 2^32.
  const consts = Array.from({ length: 24 }, () => [1 + prng.int(P - 1), prng.int(P), 1 + prng.int(P - 1), prng.int(P)])
  const h = (k: number, x = 'x'): string => {
    const [a1, b1, a2, b2] = consts[k]
    return `(((((${x}) * ${a1} + ${b1}) % ${P}) * ${a2} + ${b2}) % ${P})`
  }

  const letters = 'etaoinshrdlcumwfgypbvkjxqz'
  const words: string[] = []
  const seen = new Set<string>()
  while (words.length < WORDS) {
    const len = 2 + prng.int(8)
    let w = ''
    // Skewed towards frequent letters, so text compresses like text.
    for (let i = 0; i < len; i++) w += letters[Math.floor(letters.length * prng.next() ** 2)]
    if (!seen.has(w)) {
      seen.add(w)
      words.push(w)
    }
  }
  let text = ''
  while (text.length < TEXT_POOL_CHARS) {
    text += words[prng.int(WORDS)]
    text += prng.int(12) === 0 ? '.\n' : ' '
  }
  text = text.slice(0, TEXT_POOL_CHARS)
  const blob = prng.bytes(BLOB_POOL_BYTES)

  const word = (k: number): string => `(SELECT w FROM temp.words WHERE i = ${h(k)} % ${WORDS})`
  const countries = COUNTRIES.join('')
  const statusCase = STATUSES.map((s, i) => `WHEN ${i} THEN '${s}'`).join(' ')
  const seq = (n: number): string => `WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c WHERE x < ${n})`

  return `
CREATE TEMP TABLE words (i INTEGER PRIMARY KEY, w TEXT NOT NULL);
INSERT INTO temp.words VALUES ${words.map((w, i) => `(${i}, '${w}')`).join(',')};
CREATE TEMP TABLE pool (txt TEXT NOT NULL, bin BLOB NOT NULL);
INSERT INTO temp.pool VALUES ('${text}', X'${blob.toString('hex')}');

CREATE TABLE users (
  id INTEGER PRIMARY KEY,
  name TEXT NOT NULL,
  email TEXT NOT NULL UNIQUE,
  country TEXT NOT NULL,
  score REAL,
  created_at INTEGER NOT NULL,
  note TEXT
);
CREATE TABLE products (
  sku TEXT PRIMARY KEY,
  title TEXT NOT NULL,
  price REAL NOT NULL,
  stock INTEGER
) WITHOUT ROWID;
CREATE TABLE orders (
  id INTEGER PRIMARY KEY,
  user_id INTEGER NOT NULL REFERENCES users (id),
  sku TEXT NOT NULL REFERENCES products (sku),
  qty INTEGER NOT NULL,
  amount_cents INTEGER NOT NULL,
  amount REAL NOT NULL,
  status TEXT NOT NULL,
  discount REAL,
  placed_at INTEGER NOT NULL
);
CREATE TABLE documents (
  id INTEGER PRIMARY KEY,
  user_id INTEGER NOT NULL REFERENCES users (id),
  title TEXT NOT NULL,
  body TEXT NOT NULL,
  payload BLOB
);

${seq(shape.users)}
INSERT INTO users (id, name, email, country, score, created_at, note)
SELECT x,
  ${word(0)} || ' ' || ${word(1)},
  printf('user%07d@%s.example', x, ${word(2)}),
  substr('${countries}', 1 + 2 * (${h(3)} % ${COUNTRIES.length}), 2),
  CASE WHEN ${h(4)} % 17 = 0 THEN NULL ELSE (${h(5)} % 1000000) / 100.0 END,
  1500000000 + ${h(6)} % 200000000,
  CASE WHEN ${h(7)} % 3 = 0 THEN NULL ELSE substr((SELECT txt FROM temp.pool), 1 + ${h(8)} % 60000, 10 + ${h(9)} % 190) END
FROM c;

${seq(shape.products)}
INSERT INTO products (sku, title, price, stock)
SELECT printf('SKU-%05d', x),
  ${word(10)} || ' ' || ${word(11)} || ' ' || ${word(12)},
  (${h(13)} % 50000) / 100.0 + 0.99,
  CASE WHEN ${h(14)} % 7 = 0 THEN NULL ELSE ${h(15)} % 1000 END
FROM c;

${seq(shape.orders)}
INSERT INTO orders (id, user_id, sku, qty, amount_cents, amount, status, discount, placed_at)
SELECT x, 1 + ${h(16)} % ${shape.users}, printf('SKU-%05d', 1 + ${h(17)} % ${shape.products}), 1 + ${h(18)} % 9,
  100 + ${h(19)} % 99900, (100 + ${h(19)} % 99900) / 100.0,
  CASE ${h(20)} % ${STATUSES.length} ${statusCase} END,
  CASE WHEN ${h(21)} % 10 < 3 THEN NULL ELSE (${h(21)} % 50) / 100.0 END,
  1600000000 + x * 37
FROM c;

${seq(shape.documents)}
INSERT INTO documents (id, user_id, title, body, payload)
SELECT x, 1 + ${h(22)} % ${shape.users},
  printf('doc %d: %s', x, ${word(23)}),
  substr((SELECT txt FROM temp.pool), 1 + ${h(0)} % ${TEXT_POOL_CHARS - 6000}, 1500 + ${h(1)} % 4500),
  CASE WHEN x % 11 = 0 THEN NULL ELSE substr((SELECT bin FROM temp.pool), 1 + ${h(2)} % ${BLOB_POOL_BYTES - 9000}, 1000 + ${h(3)} % 8000) END
FROM c;

CREATE INDEX users_country ON users (country);
CREATE INDEX users_name ON users (name);
CREATE INDEX orders_user_id ON orders (user_id);
CREATE INDEX orders_status_amount ON orders (status, amount_cents);
CREATE INDEX orders_sku ON orders (sku);
CREATE INDEX documents_user_id ON documents (user_id);
DROP TABLE temp.words;
DROP TABLE temp.pool;
`
}

/**
 * Creates (replacing) the native SQLite database `path` with the oracle tables, page size
 * 4096, rollback journal (journal_mode DELETE). About 1–2 s per 100 MiB here.
 *
 * Tables: `users` (INTEGER PK, TEXT, REAL with NULLs, unique email, indexes on country and
 * name), `products` (WITHOUT ROWID, TEXT PK), `orders` (FKs to users and products, REAL and
 * NULL discount, indexes on user_id, (status, amount_cents), sku), `documents` (TEXT body and
 * BLOB payload of several KiB: overflow pages; index on user_id).
 */
export async function makeOracleDatabase(path: string, opts: OracleDatabaseOptions = {}): Promise<OracleDatabaseInfo> {
  const started = performance.now()
  const approxBytes = opts.approxBytes ?? 4 * 2 ** 20
  await rm(path, { force: true })
  await rm(path + '-journal', { force: true })
  const sql = `PRAGMA page_size = 4096;
PRAGMA journal_mode = OFF;
PRAGMA synchronous = OFF;
PRAGMA temp_store = MEMORY;
PRAGMA cache_size = -65536;
BEGIN;
${oracleDatabaseSql(opts)}
COMMIT;
PRAGMA journal_mode = DELETE;
`
  await sqliteExec(path, sql, { timeoutMs: 600_000 })
  const [pragmas] = await sqliteQuery(path, 'SELECT page_size AS pageSize, page_count AS pageCount FROM pragma_page_size, pragma_page_count', { readonly: true })
  return {
    path,
    ...oracleShape(approxBytes),
    bytes: (await stat(path)).size,
    pageSize: Number(pragmas.pageSize),
    pageCount: Number(pragmas.pageCount),
    durationMs: performance.now() - started,
  }
}

/** A named query whose result is fully ordered, so any two correct engines agree row for row. */
export interface OracleQuery {
  name: string
  sql: string
}

/**
 * Queries over the oracle database (any size ≥ 1 MiB, any seed). Every result is fully
 * ORDERed; BLOBs only appear as hex()/length(); aggregates over REAL columns are avoided
 * (their rounding would depend on scan order) — sums use the INTEGER `amount_cents`.
 */
export const oracleQueries: readonly OracleQuery[] = [
  { name: 'count(*) of every table', sql: 'SELECT (SELECT count(*) FROM users) AS users, (SELECT count(*) FROM orders) AS orders, (SELECT count(*) FROM documents) AS documents, (SELECT count(*) FROM products) AS products' },
  { name: 'schema', sql: "SELECT type, name, tbl_name, sql FROM sqlite_schema ORDER BY type, name" },
  { name: 'user point lookup by PK', sql: 'SELECT * FROM users WHERE id IN (1, 2, 17, 499, (SELECT max(id) FROM users)) ORDER BY id' },
  { name: 'user point lookup by unique index (email)', sql: "SELECT id, name, email FROM users WHERE email = (SELECT email FROM users WHERE id = 321)" },
  { name: 'users by secondary index (country)', sql: "SELECT id, name, country, score FROM users WHERE country = 'NO' ORDER BY id LIMIT 40" },
  { name: 'users by secondary index range (name prefix)', sql: "SELECT name, id FROM users WHERE name >= 'e' AND name < 'f' ORDER BY name, id LIMIT 50" },
  { name: 'orders PK range', sql: 'SELECT * FROM orders WHERE id BETWEEN 1000 AND 1060 ORDER BY id' },
  { name: 'orders of one user (index on user_id)', sql: 'SELECT id, sku, qty, amount, status, discount FROM orders WHERE user_id = 77 ORDER BY id' },
  { name: 'join users-orders with GROUP BY', sql: 'SELECT u.id, u.name, count(o.id) AS n, sum(o.qty) AS qty, sum(o.amount_cents) AS cents FROM users u JOIN orders o ON o.user_id = u.id WHERE u.id BETWEEN 100 AND 140 GROUP BY u.id ORDER BY u.id' },
  { name: 'aggregate per status (full scan)', sql: 'SELECT status, count(*) AS n, sum(qty) AS qty, sum(amount_cents) AS cents, min(amount) AS min_amount, max(amount) AS max_amount, count(discount) AS with_discount FROM orders GROUP BY status ORDER BY status' },
  { name: 'aggregate per country (join over all orders)', sql: 'SELECT u.country, count(*) AS n, sum(o.amount_cents) AS cents FROM orders o JOIN users u ON u.id = o.user_id GROUP BY u.country ORDER BY u.country' },
  { name: 'covering index range (status, amount_cents)', sql: "SELECT status, amount_cents FROM orders WHERE status = 'paid' AND amount_cents BETWEEN 50000 AND 50500 ORDER BY amount_cents, rowid" },
  { name: 'ORDER BY with LIMIT (top orders)', sql: 'SELECT id, user_id, amount, status FROM orders ORDER BY amount_cents DESC, id LIMIT 25' },
  { name: 'ORDER BY non-indexed REAL with OFFSET', sql: 'SELECT id, name, score FROM users WHERE score IS NOT NULL ORDER BY score DESC, id LIMIT 10 OFFSET 100' },
  { name: 'WITHOUT ROWID range', sql: "SELECT * FROM products WHERE sku BETWEEN 'SKU-00100' AND 'SKU-00120' ORDER BY sku" },
  { name: 'join orders-products (WITHOUT ROWID lookups)', sql: "SELECT p.sku, p.title, p.price, count(*) AS n, sum(o.qty) AS qty FROM products p JOIN orders o ON o.sku = p.sku WHERE p.sku < 'SKU-00030' GROUP BY p.sku ORDER BY p.sku" },
  { name: 'NULL handling', sql: 'SELECT (SELECT count(*) FROM orders WHERE discount IS NULL) AS null_discounts, (SELECT count(*) FROM users WHERE note IS NULL) AS null_notes, (SELECT count(*) FROM users WHERE score IS NULL) AS null_scores, (SELECT count(*) FROM documents WHERE payload IS NULL) AS null_payloads, (SELECT count(*) FROM products WHERE stock IS NULL) AS null_stock' },
  { name: 'overflow pages: lengths and blob ends', sql: 'SELECT id, length(body) AS body_chars, length(payload) AS payload_bytes, hex(substr(payload, 1, 16)) AS head, hex(substr(payload, -16)) AS tail, substr(body, -24) AS body_tail FROM documents ORDER BY id LIMIT 60' },
  { name: 'overflow pages: whole values', sql: 'SELECT id, title, body, hex(payload) AS payload FROM documents WHERE id IN (1, 2, 3, 11, (SELECT max(id) FROM documents)) ORDER BY id' },
  { name: 'overflow pages: totals over all documents', sql: 'SELECT count(*) AS n, sum(length(body)) AS body_chars, sum(length(payload)) AS payload_bytes, sum(unicode(substr(body, 1000, 1))) AS probe FROM documents' },
  { name: 'documents of one user (index on user_id)', sql: 'SELECT d.id, d.title, length(d.body) AS body_chars, u.name FROM documents d JOIN users u ON u.id = d.user_id WHERE d.user_id IN (SELECT user_id FROM documents ORDER BY id LIMIT 3) ORDER BY d.id' },
]

/** Queries over the Chinook sample database (fixtures/chinook), fully ordered. */
export const chinookQueries: readonly OracleQuery[] = [
  { name: 'count(*) of every table', sql: "SELECT (SELECT count(*) FROM Album) AS album, (SELECT count(*) FROM Artist) AS artist, (SELECT count(*) FROM Customer) AS customer, (SELECT count(*) FROM Employee) AS employee, (SELECT count(*) FROM Genre) AS genre, (SELECT count(*) FROM Invoice) AS invoice, (SELECT count(*) FROM InvoiceLine) AS invoice_line, (SELECT count(*) FROM MediaType) AS media_type, (SELECT count(*) FROM Playlist) AS playlist, (SELECT count(*) FROM PlaylistTrack) AS playlist_track, (SELECT count(*) FROM Track) AS track" },
  { name: 'track by PK', sql: 'SELECT * FROM Track WHERE TrackId IN (1, 1000, 3503) ORDER BY TrackId' },
  { name: 'artists with most tracks (3-way join)', sql: 'SELECT ar.Name AS artist, count(*) AS tracks, sum(t.Milliseconds) AS ms FROM Artist ar JOIN Album al ON al.ArtistId = ar.ArtistId JOIN Track t ON t.AlbumId = al.AlbumId GROUP BY ar.ArtistId ORDER BY tracks DESC, ar.ArtistId LIMIT 10' },
  { name: 'sales per country (REAL totals as cents)', sql: 'SELECT BillingCountry, count(*) AS invoices, sum(CAST(round(Total * 100) AS INTEGER)) AS cents FROM Invoice GROUP BY BillingCountry ORDER BY BillingCountry' },
  { name: 'genre of each invoice line (index lookups)', sql: 'SELECT g.Name AS genre, count(*) AS n FROM InvoiceLine il JOIN Track t ON t.TrackId = il.TrackId JOIN Genre g ON g.GenreId = t.GenreId GROUP BY g.GenreId ORDER BY n DESC, g.GenreId' },
  { name: 'employees hierarchy', sql: 'SELECT e.EmployeeId, e.LastName, m.LastName AS manager FROM Employee e LEFT JOIN Employee m ON m.EmployeeId = e.ReportsTo ORDER BY e.EmployeeId' },
  { name: 'playlists sizes', sql: 'SELECT p.PlaylistId, p.Name, count(pt.TrackId) AS n FROM Playlist p LEFT JOIN PlaylistTrack pt ON pt.PlaylistId = p.PlaylistId GROUP BY p.PlaylistId ORDER BY p.PlaylistId' },
  { name: 'LIKE scan with NULL composer', sql: "SELECT TrackId, Name, Composer FROM Track WHERE Name LIKE '%love%' ORDER BY TrackId" },
]

/**
 * One query per table of the database at `dbPath` (read with the native CLI) that returns
 * every row: all columns (BLOBs as `X'…'` text via `blobSafeColumn`), ordered by rowid, or by
 * the primary key for WITHOUT ROWID tables. Skips sqlite_* tables. Compares whole contents.
 */
export async function wholeTableQueries(dbPath: string): Promise<OracleQuery[]> {
  const tables = await sqliteQuery(
    dbPath,
    "SELECT name, wr FROM pragma_table_list WHERE schema = 'main' AND type = 'table' AND name NOT LIKE 'sqlite\\_%' ESCAPE '\\' ORDER BY name",
    { readonly: true },
  )
  const out: OracleQuery[] = []
  for (const t of tables) {
    const name = String(t.name)
    const cols = await sqliteQuery(dbPath, `SELECT name, pk FROM pragma_table_info(${"'" + name.replaceAll("'", "''") + "'"}) ORDER BY cid`, { readonly: true })
    const select = cols.map((c) => blobSafeColumn(String(c.name))).join(', ')
    const order = Number(t.wr)
      ? cols
          .filter((c) => Number(c.pk) > 0)
          .sort((a, b) => Number(a.pk) - Number(b.pk))
          .map((c) => quoteIdent(String(c.name)))
          .join(', ')
      : '_rowid_'
    out.push({ name: `all rows of ${name}`, sql: `SELECT ${select} FROM ${quoteIdent(name)} ORDER BY ${order}` })
  }
  return out
}
