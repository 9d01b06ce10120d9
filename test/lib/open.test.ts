import t, { type Test } from 'tap';
import { promises as fs } from 'node:fs';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { openDatabase, type OpenOptions } from '../../lib/api/open.js';
import { ReplicaReader } from '../../lib/read/replica-reader.js';
import { importDatabase } from '../../lib/tools/import.js';
import { restoreDatabase } from '../../lib/tools/restore.js';
import { TAIL_BYTES } from '../../lib/replica/ltx-loader.js';
import { verifyReplica } from '../../lib/tools/verify.js';
import { openFileReplica } from '../../lib/storage/file/client.js';
import { isLtxvfsError, type LtxvfsErrorCode } from '../../ltx/errors.js';
import type { PageIndexEntry } from '../../ltx/page-index.js';
import {
  bytesEqual, compactSpecs, copyFixtureReplica, CountingClient, encodeLtx, flipBit, historyFromStates, randomPage, readBytes,
  rejectsLtx, snapshotFromDatabase, sqlJsHistory, sqlJsRows, sqliteCli, writeLtx, writeReplica,
} from '../helpers/replica-builder.js';

const SNAPSHOT = 'ltx/0/0000000000000001-0000000000000001.ltx';
const fixtureKey = (n: number) => `ltx/0/000000000000000${n}-000000000000000${n}.ltx`;
const SQLITE_CORRUPT = 11;

/** The fixture's expected rows at TXID 5 (fixtures README). */
const FIXTURE_SUMMARY = { n: 250, s: 31375, lo: 'ALPHA', hi: 'row-0247' };
const SUMMARY_SQL = 'SELECT count(*) AS n, sum(id) AS s, min(name) AS lo, max(name) AS hi FROM t';

t.test('openDatabase reads the Litestream fixture by path, file:// URL and LITESTREAM_REPLICA_URL', async (t) => {
  const dir = await copyFixtureReplica(t.testdir());
  for (const [how, url, env] of [
    ['path', dir, {}],
    ['file URL', pathToFileURL(dir).href, {}],
    ['environment', undefined, { LITESTREAM_REPLICA_URL: pathToFileURL(dir).href }],
  ] as const) {
    const db = await openDatabase(url, { env });
    t.same(await db.all(SUMMARY_SQL), [FIXTURE_SUMMARY], how);
    t.same(await db.all('SELECT id, name FROM t WHERE id <= 4 ORDER BY id'),
      [{ id: 1, name: 'ALPHA' }, { id: 2, name: 'bravo' }, { id: 3, name: 'charlie' }, { id: 4, name: 'row-0001' }]);
    t.same(await db.get('PRAGMA integrity_check'), { integrity_check: 'ok' });
    const s = db.stats();
    t.same([s.txid, s.readRequests, s.pagesFetched], [5, 5, 14], 'five whole-file reads at open, nothing more');
    await db.close();
    await rejectsLtx(t, db.all('SELECT 1'), 'LTXVFS_ERR_CLOSED', 'closed', /the database is closed/);
  }
  await rejectsLtx(t, openDatabase(undefined, { env: {} }), 'LTXVFS_ERR_BAD_URL', 'LITESTREAM_REPLICA_URL', /no replica URL given/);
});

t.test('cacheSizeBytes bounds the page cache; the old name cacheSize is a usage error naming it', async (t) => {
  const dir = await copyFixtureReplica(t.testdir());
  const off = await openDatabase(dir, { cacheSizeBytes: 0 });
  t.same(await off.all(SUMMARY_SQL), [FIXTURE_SUMMARY]);
  t.equal(off.stats().cacheBytes, 0);
  await off.close();
  for (const engine of ['asyncify', 'worker'] as const) {
    const old = { engine, cacheSize: 0 } as OpenOptions;
    await rejectsLtx(t, openDatabase(dir, old), 'LTXVFS_ERR_USAGE', 'cacheSize', /openDatabase: option cacheSize was renamed cacheSizeBytes/);
  }
});

t.test('yieldEveryMs: Infinity runs as before; a bad value fails the open naming the option, and the replica stays usable', async (t) => {
  const dir = await copyFixtureReplica(t.testdir());
  const never = await openDatabase(dir, { yieldEveryMs: Infinity });
  t.same(await never.all(SUMMARY_SQL), [FIXTURE_SUMMARY]);
  await never.close();
  for (const bad of [-1, Number.NaN]) {
    await rejectsLtx(t, openDatabase(dir, { yieldEveryMs: bad }), 'LTXVFS_ERR_USAGE', 'yieldEveryMs', /yieldEveryMs (-1|NaN) is not a number of milliseconds ≥ 0/);
  }
  const again = await openDatabase(dir);
  t.same(await again.all(SUMMARY_SQL), [FIXTURE_SUMMARY], 'opened again after the failed opens');
  await again.close();
});

/**
 * A replica of a real ~400 KB SQLite database (deterministic content) as one large
 * snapshot file, with the page number of one leaf page of table `item`.
 */
async function sqliteReplica(dir: string): Promise<{ path: string; db: Uint8Array; entries: PageIndexEntry[]; leaf: number }> {
  await fs.mkdir(dir, { recursive: true });
  const dbPath = join(dir, 'src.db');
  sqliteCli(dbPath, `CREATE TABLE item (id INTEGER PRIMARY KEY, sku TEXT, body TEXT);
    INSERT INTO item SELECT x, printf('sku-%06d', (x * 7919) % 100003),
      printf('%08x-%08x-%08x-%08x', x * 2654435761 % 4294967291, x * 40503 % 65521, x * x % 999983, x * 97) FROM
      (WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c WHERE x < 6000) SELECT x FROM c);
    CREATE INDEX item_sku ON item(sku);`);
  const leaf = Number(sqliteCli(dbPath, "SELECT pageno FROM dbstat WHERE name = 'item' AND pagetype = 'leaf' ORDER BY pageno LIMIT 1 OFFSET 10;").trim());
  const db = readBytes(dbPath);
  await fs.rm(dbPath);
  const { path, bytes } = await writeLtx(dir, snapshotFromDatabase(db));
  const { decodeLtxFile } = await import('../../ltx/decoder.js');
  return { path: path!, db, entries: decodeLtxFile(bytes, SNAPSHOT).index, leaf };
}

interface BadCase {
  name: string;
  build: (dir: string) => Promise<void>;
  code: LtxvfsErrorCode;
  /** What the message must name (a key, or the replica directory). */
  names: (dir: string) => string;
  reason: RegExp;
  options?: { pageSize?: number; wholeFileBytes?: number };
}

/** A "large" file is one read by range (only its 32 KiB tail whole), not read whole and checked at load. */
const PAGED = { wholeFileBytes: TAIL_BYTES };

const BAD: BadCase[] = [
  {
    name: 'a truncated small file',
    build: async (dir) => {
      await copyFixtureReplica(dir);
      await fs.truncate(join(dir, fixtureKey(3)), 2000);
    },
    code: 'LTXVFS_ERR_CORRUPT', names: () => fixtureKey(3), reason: /truncated|page index/,
  },
  {
    name: 'a truncated large file',
    build: async (dir) => {
      const { path } = await sqliteReplica(dir);
      await fs.truncate(path, (await fs.stat(path)).size - 5000);
    },
    options: PAGED,
    code: 'LTXVFS_ERR_CORRUPT', names: () => SNAPSHOT, reason: /page index size field \d+ invalid|truncated/,
  },
  {
    name: 'a bit flip in a page frame of a small file',
    build: async (dir) => {
      await copyFixtureReplica(dir);
      await flipBit(join(dir, fixtureKey(3)), 1000, 5);
    },
    code: 'LTXVFS_ERR_CHECKSUM', names: () => fixtureKey(3), reason: /file checksum mismatch: stored [0-9a-f]{16}, computed [0-9a-f]{16}/,
  },
  {
    name: 'a bit flip in the header of a small file',
    build: async (dir) => {
      await copyFixtureReplica(dir);
      await flipBit(join(dir, fixtureKey(2)), 39, 0); // timestamp
    },
    code: 'LTXVFS_ERR_CHECKSUM', names: () => fixtureKey(2), reason: /file checksum mismatch/,
  },
  {
    name: 'a bit flip in the page size of a large file',
    build: async (dir) => {
      const { path } = await sqliteReplica(dir);
      await flipBit(path, 10, 1);
    },
    options: PAGED,
    code: 'LTXVFS_ERR_CORRUPT', names: () => SNAPSHOT, reason: /header: .*pageSize|header: .*page size/i,
  },
  {
    name: 'a bit flip in the max TXID of a large file',
    build: async (dir) => {
      const { path } = await sqliteReplica(dir);
      await flipBit(path, 31, 1);
    },
    options: PAGED,
    code: 'LTXVFS_ERR_CORRUPT', names: () => SNAPSHOT, reason: /header TXIDs 0000000000000001-0000000000000003 do not match the file name/,
  },
  {
    name: 'a TXID gap between files',
    build: async (dir) => {
      await copyFixtureReplica(dir);
      await fs.rm(join(dir, fixtureKey(3)));
    },
    code: 'LTXVFS_ERR_TXID_GAP', names: () => fixtureKey(4), reason: /TXID gap after 0000000000000002: next file .* starts at 0000000000000004/,
  },
  {
    name: 'no file at TXID 1',
    build: async (dir) => {
      await copyFixtureReplica(dir);
      await fs.rm(join(dir, fixtureKey(1)));
    },
    code: 'LTXVFS_ERR_TXID_GAP', names: () => fixtureKey(2), reason: /no LTX file starts at TXID 1/,
  },
  {
    name: 'overlapping files',
    build: async (dir) => {
      await copyFixtureReplica(dir);
      await writeLtx(dir, { minTXID: 4, maxTXID: 6, pageSize: 4096, commit: 4, pages: [{ pgno: 1, data: randomPage(1) }] });
    },
    code: 'LTXVFS_ERR_OVERLAP', names: () => `${fixtureKey(4)} and ltx/0/0000000000000004-0000000000000006.ltx`, reason: /overlapping LTX files in level 0/,
  },
  {
    name: 'an empty replica',
    build: async (dir) => {
      await fs.mkdir(join(dir, 'ltx', '0'), { recursive: true });
      await fs.mkdir(join(dir, 'ltx', '9'), { recursive: true });
    },
    code: 'LTXVFS_ERR_EMPTY_REPLICA', names: (dir) => dir, reason: /replica has no LTX files/,
  },
  {
    name: 'files of different page sizes',
    build: async (dir) => {
      await copyFixtureReplica(dir);
      await fs.writeFile(join(dir, 'ltx/0/0000000000000006-0000000000000006.ltx'),
        encodeLtx({ minTXID: 6, maxTXID: 6, pageSize: 8192, commit: 2, pages: [{ pgno: 1, data: randomPage(1, 8192) }] }));
    },
    code: 'LTXVFS_ERR_PAGE_SIZE', names: () => 'ltx/0/0000000000000006-0000000000000006.ltx', reason: /page size 8192 does not match 4096/,
  },
  {
    name: 'a pageSize option that does not match',
    build: (dir) => copyFixtureReplica(dir).then(() => undefined),
    options: { pageSize: 1024 },
    code: 'LTXVFS_ERR_PAGE_SIZE', names: (dir) => dir, reason: /replica page size 4096 does not match the expected 1024/,
  },
];

t.test('bad replicas fail to open, through openDatabase and ReplicaReader.open alike', async (t) => {
  for (const c of BAD) {
    t.test(c.name, async (t) => {
      const dir = t.testdir();
      await c.build(dir);
      await rejectsLtx(t, openDatabase(dir, c.options), c.code, c.names(dir), c.reason);
      const client = await CountingClient.open(dir);
      t.teardown(() => client.close());
      await rejectsLtx(t, ReplicaReader.open(client, c.options), c.code, c.names(dir), c.reason);
    });
  }
});

t.test('a replica directory that does not exist', async (t) => {
  const dir = join(t.testdir(), 'nowhere');
  await rejectsLtx(t, openDatabase(dir), 'LTXVFS_ERR_NOT_FOUND', dir, /replica directory does not exist/);
  const real = await copyFixtureReplica(t.testdir());
  const client = await openFileReplica(real);
  t.teardown(() => client.close());
  await fs.rm(real, { recursive: true });
  await rejectsLtx(t, ReplicaReader.open(client), 'LTXVFS_ERR_NOT_FOUND', real, /replica directory does not exist/);
});

t.test('a key that escapes the replica root is refused by the client', async (t) => {
  const dir = await copyFixtureReplica(t.testdir());
  const client = await openFileReplica(dir);
  t.teardown(() => client.close());
  for (const key of ['../outside.ltx', 'ltx/0/../../../outside.ltx', '/etc/passwd']) {
    await rejectsLtx(t, client.readRange(key, 0, 10), 'LTXVFS_ERR_BAD_KEY', key, /key escapes the replica root/);
  }
  t.equal((await client.readRange('ltx/9/../0/0000000000000001-0000000000000001.ltx', 0, 4)).length, 4, 'a key that stays inside is fine');
});

t.test('damaged frames of a large file are caught when the page is read', async (t) => {
  const frameCases: { name: string; at: (e: PageIndexEntry) => number; bit: number; reason: RegExp }[] = [
    { name: 'page number', at: (e) => e.offset + 3, bit: 6, reason: /frame holds page \d+, the page index says/ },
    { name: 'size prefix', at: (e) => e.offset + 9, bit: 2, reason: /size prefix \d+ \+ 10 does not match the \d+-byte index entry/ },
    { name: 'LZ4 token', at: (e) => e.offset + 10, bit: 7, reason: /LZ4 block of \d+ bytes (invalid|decodes to)/ },
  ];
  for (const fc of frameCases) {
    t.test(fc.name, async (t) => {
      const dir = t.testdir();
      const { path, entries, leaf } = await sqliteReplica(dir);
      const e = entries[leaf - 1];
      t.equal(e.pgno, leaf);
      await flipBit(path, fc.at(e), fc.bit);
      const where = new RegExp(`${SNAPSHOT}: page ${leaf} at offset ${e.offset}: `);

      // SQLite's "malformed" waits for the file's verification, which fails on the frame
      // (or fails first, when the background verification reaches the frame before the
      // scan): either way the statement fails with the checksum error naming the file,
      // the page and the offset, and so does every later one.
      const db = await openDatabase(dir, PAGED);
      t.teardown(() => db.close());
      const err = await rejectsLtx(t, db.all('SELECT sum(length(body)) AS n FROM item'), 'LTXVFS_ERR_CHECKSUM', SNAPSHOT, /failed verification/, where, fc.reason);
      const cause = (err as Error).cause;
      t.ok(isLtxvfsError(cause, 'LTXVFS_ERR_SQLITE'), `cause: SQLite's error: ${String(cause)}`);
      t.equal((cause as { sqliteCode?: number }).sqliteCode, SQLITE_CORRUPT);
      await rejectsLtx(t, db.get('SELECT sku FROM item WHERE id = 1'), 'LTXVFS_ERR_CHECKSUM', SNAPSHOT, where);

      const client = await CountingClient.open(dir);
      const reader = await ReplicaReader.open(client, PAGED);
      t.teardown(() => reader.close());
      await rejectsLtx(t, Promise.resolve(reader.readPage(reader.current, leaf)), 'LTXVFS_ERR_CORRUPT', SNAPSHOT, where, fc.reason);
    });
  }
});

t.test('a flip inside LZ4 literals of a large file is caught by verify and restore', async (t) => {
  const dir = t.testdir({ out: {} });
  const { path, entries, leaf } = await sqliteReplica(join(dir, 'replica'));
  const e = entries[leaf - 1];
  // The payload of a page of hex text starts with a run of literals: a byte in it.
  await flipBit(path, e.offset + 10 + 4, 0);
  const client = await openFileReplica(join(dir, 'replica'));
  t.teardown(() => client.close());
  const report = await verifyReplica(client);
  t.equal(report.problems.length, 1);
  t.match(report.problems[0], new RegExp(`^${SNAPSHOT}: file checksum mismatch`));
  await rejectsLtx(t, restoreDatabase(client, join(dir, 'out', 'db')), 'LTXVFS_ERR_CHECKSUM', SNAPSHOT, /file checksum mismatch/);
});

t.test('a replica whose pages are not a SQLite database', async (t) => {
  const dir = t.testdir();
  await writeLtx(dir, { minTXID: 1, maxTXID: 1, pageSize: 4096, commit: 2, pages: [1, 2].map((pgno) => ({ pgno, data: randomPage(pgno) })) });
  const err = await rejectsLtx(t, openDatabase(dir), 'LTXVFS_ERR_SQLITE', pathToFileURL(dir).href, /file is not a database/);
  t.equal((err as { sqliteCode?: number }).sqliteCode, 26, 'SQLITE_NOTADB');
});

t.test('a cold point lookup on a 24 MiB replica reads a handful of pages', async (t) => {
  const dir = t.testdir({ replica: {} });
  const dbPath = join(dir, 'big.db');
  sqliteCli(dbPath, `CREATE TABLE item (id INTEGER PRIMARY KEY, sku TEXT NOT NULL, name TEXT, price REAL, body TEXT);
    INSERT INTO item SELECT x, printf('sku-%08d', (x * 7919) % 1000003), 'item ' || x, x * 0.25, hex(randomblob(90))
      FROM (WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c WHERE x < 100000) SELECT x FROM c);
    CREATE INDEX item_sku ON item(sku);`);
  const size = (await fs.stat(dbPath)).size;
  t.ok(size >= 20 * 1024 * 1024, `database of ${size} bytes`);
  const client = await openFileReplica(join(dir, 'replica'));
  const { commit } = await importDatabase(dbPath, client);
  await client.close();

  const db = await openDatabase(join(dir, 'replica'));
  t.teardown(() => db.close());
  const atOpen = db.stats();
  // Observed: open = 2 requests (a 16 KiB head with pages 1–6, a tail sized to hold the
  // 42 KB page index) and 6 pages; after one cold lookup through the index: 7 requests,
  // 11 pages (before the sized tail and the head: 4 requests at open, 10 after, 7 pages).
  t.ok(atOpen.readRequests <= 2, `open: ${atOpen.readRequests} requests`);
  t.ok(atOpen.pagesFetched <= 8, `open: ${atOpen.pagesFetched} pages`);
  const sku = `sku-${String((4242 * 7919) % 1000003).padStart(8, '0')}`;
  const row = await db.get('SELECT id, name, price FROM item WHERE sku = ?', [sku]);
  t.same(row, { id: 4242, name: 'item 4242', price: 1060.5 });
  const after = db.stats();
  t.ok(after.pagesFetched <= 14, `open + lookup: ${after.pagesFetched} pages of ${commit}`);
  t.ok(after.readRequests <= 8, `open + lookup: ${after.readRequests} requests`);
  t.ok(after.bytesRead < 200 * 1024, `open + lookup: ${after.bytesRead} bytes of a ${size}-byte database`);
  t.comment(`point lookup: ${after.pagesFetched} pages, ${after.readRequests} requests, ${after.bytesRead} bytes; page count ${commit}`);
});

t.test('sql.js oracle: queries over an imported database give the rows sql.js gives on the original bytes', async (t) => {
  const dir = t.testdir({ replica: {} });
  const dbPath = join(dir, 'shop.db');
  sqliteCli(dbPath, `
    CREATE TABLE customer (id INTEGER PRIMARY KEY, name TEXT NOT NULL, city TEXT, joined TEXT);
    CREATE TABLE product (id INTEGER PRIMARY KEY, title TEXT, price REAL, manual BLOB);
    CREATE TABLE orders (id INTEGER PRIMARY KEY, customer INTEGER REFERENCES customer(id), product INTEGER REFERENCES product(id),
      qty INTEGER, note TEXT);
    CREATE INDEX orders_customer ON orders(customer);
    CREATE INDEX customer_city ON customer(city, name);
    WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c WHERE x < 3000)
      INSERT INTO customer SELECT x, 'customer ' || x, 'city ' || (x % 37), date('2020-01-01', '+' || (x % 1500) || ' days') FROM c;
    WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c WHERE x < 400)
      INSERT INTO product SELECT x, 'product ' || x, round(x * 1.37, 2),
        CASE WHEN x % 10 = 0 THEN randomblob(9000 + x) ELSE randomblob(1 + x % 200) END FROM c;
    WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c WHERE x < 40000)
      INSERT INTO orders SELECT x, 1 + (x * 31) % 3000, 1 + (x * 17) % 400, 1 + x % 9,
        CASE WHEN x % 100 = 0 THEN printf('%.6000c', 'n') ELSE NULL END FROM c;`);
  const bytes = readBytes(dbPath);
  t.ok(bytes.length > 2 * 1024 * 1024, `${bytes.length} bytes`);
  const client = await openFileReplica(join(dir, 'replica'));
  await importDatabase(dbPath, client);
  await client.close();

  const queries: [string, (string | number)[]][] = [
    ['SELECT * FROM customer WHERE id = ?', [1234]],
    ['SELECT id, name FROM customer WHERE city = ? ORDER BY name', ['city 5']],
    ['SELECT * FROM customer WHERE id BETWEEN ? AND ? ORDER BY id', [2000, 2100]],
    ['SELECT id, title, price, length(manual) AS bytes, manual FROM product WHERE id % 10 = 0 ORDER BY id', []],
    ['SELECT o.id, c.name, p.title, o.qty * p.price AS total FROM orders o JOIN customer c ON c.id = o.customer JOIN product p ON p.id = o.product WHERE o.customer = ? ORDER BY o.id', [77]],
    ['SELECT c.city, count(*) AS orders, sum(o.qty) AS items FROM orders o JOIN customer c ON c.id = o.customer GROUP BY c.city ORDER BY c.city', []],
    ['SELECT count(*) AS n, sum(qty) AS q, min(id) AS lo, max(id) AS hi, avg(qty) AS mean FROM orders', []],
    ['SELECT id, length(note) AS len, substr(note, 5990) AS tail FROM orders WHERE note IS NOT NULL ORDER BY id DESC LIMIT 20', []],
    ['SELECT product, count(*) AS n FROM orders GROUP BY product HAVING n > ? ORDER BY n DESC, product LIMIT 15', [99]],
    ['SELECT strftime(\'%Y\', joined) AS year, count(*) AS n FROM customer GROUP BY year ORDER BY year', []],
    ['SELECT c.id, c.name FROM customer c WHERE NOT EXISTS (SELECT 1 FROM orders o WHERE o.customer = c.id AND o.qty > 7) ORDER BY c.id', []],
  ];
  const db = await openDatabase(join(dir, 'replica'), { cacheSizeBytes: 512 * 1024 });
  t.teardown(() => db.close());
  for (const [sql, params] of queries) {
    const expected = await sqlJsRows(bytes, sql, params);
    t.ok(expected.length > 0, `${sql}: ${expected.length} rows`);
    t.same(await db.all(sql, params), expected, sql);
  }
  t.same(await db.get('PRAGMA integrity_check'), { integrity_check: 'ok' });
  t.ok(db.stats().cacheBytes <= 512 * 1024);
});

t.test('a snapshot, compactions and L0 files give the newest rows from the fewest files', async (t) => {
  const states = await sqlJsHistory([
    'CREATE TABLE t (id INTEGER PRIMARY KEY, v TEXT); CREATE INDEX t_v ON t(v)',
    ...Array.from({ length: 10 }, (_, i) =>
      `INSERT INTO t (v) SELECT printf('v%04d-%s', ${i} * 1000 + x, hex(zeroblob(${20 + i * 7}))) FROM (WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c WHERE x < ${40 + i * 20}) SELECT x FROM c)`),
    'UPDATE t SET v = upper(v) WHERE id % 5 = 0',
    'DELETE FROM t WHERE id % 7 = 0',
  ]);
  const l0 = historyFromStates(states); // TXIDs 1…13
  const dir = t.testdir();
  await writeReplica(dir, [
    snapshotFromDatabase(states[1], { level: 9, maxTXID: 2 }),
    snapshotFromDatabase(states[5], { level: 9, maxTXID: 6 }),
    compactSpecs(l0.slice(6, 9), 1), // 7-9
    compactSpecs(l0.slice(9, 11), 1), // 10-11
    compactSpecs(l0.slice(6, 11), 2), // 7-11
    ...l0.slice(8), // 9…13
  ]);
  const db = await openDatabase(dir);
  t.teardown(() => db.close());
  const last = states[states.length - 1];
  for (const sql of ['SELECT * FROM t ORDER BY id', 'SELECT count(*) AS n, max(v) AS m FROM t', "SELECT id FROM t WHERE v LIKE 'V0%' ORDER BY v"]) {
    t.same(await db.all(sql), await sqlJsRows(last, sql), sql);
  }
  t.equal(db.stats().txid, 13);

  const client = await CountingClient.open(dir);
  const reader = await ReplicaReader.open(client);
  t.teardown(() => reader.close());
  t.same(reader.current.files.map((f) => f.info.key), [
    'ltx/9/0000000000000001-0000000000000006.ltx',
    'ltx/2/0000000000000007-000000000000000b.ltx',
    'ltx/0/000000000000000c-000000000000000c.ltx',
    'ltx/0/000000000000000d-000000000000000d.ltx',
  ]);
  const restored = join(dir, 'restored.db');
  await restoreDatabase(client, restored);
  t.ok(bytesEqual(readBytes(restored), last), 'restore gives the newest image');
});
