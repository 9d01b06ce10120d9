/**
 * LtxAsyncVFS conformance: SQLite (wa-sqlite's Asyncify build) reading real database
 * files through the VFS from a BytesSource, and the VFS methods called directly for the
 * cases SQLite never produces on its own.
 */
import t from 'tap';
import * as SQLite from '@journeyapps/wa-sqlite';
import { LtxvfsError } from '../../ltx/errors.js';
import { Database, type DatabaseStats } from '../../lib/sql/database.js';
import type { PageSource, PageVersion } from '../../lib/read/page-source.js';
import { LtxAsyncVFS, registerLtxVFS, type LtxAsyncVFSOptions, type Thenable } from '../../vfs/asyncify/vfs.js';
import { changeCounterForTxid } from '../../vfs/core/page1.js';
import { loadAsyncifyModule, withEmptyBlobs, type WaSqliteModule } from '../../vfs/wasm/wa-sqlite.js';
import { BytesSource, chinookBytes, sqliteCliDatabase } from '../helpers/bytes-source.js';

const SQLITE_OPEN_EXRESCODE = 0x0200_0000;
const NAME = 'test.db';

const stats: DatabaseStats = { pagesFetched: 0, bytesRead: 0, readRequests: 0, cacheHits: 0, cacheMisses: 0, cacheBytes: 0, txid: 0 };

interface Setup {
  module: WaSqliteModule;
  sqlite3: SQLiteAPI;
  vfs: LtxAsyncVFS;
}

async function setupVfs(options?: LtxAsyncVFSOptions): Promise<Setup> {
  const { module, sqlite3 } = await loadAsyncifyModule();
  const vfs = registerLtxVFS(sqlite3, module, options);
  return { module, sqlite3, vfs };
}

/** A Database over `source` through a fresh VFS (the Database API is the easy way to query). */
async function open(source: PageSource, options?: LtxAsyncVFSOptions, flags: number = SQLite.SQLITE_OPEN_READONLY) {
  const setup = await setupVfs(options);
  setup.vfs.addDatabase(NAME, source);
  const handle = await setup.sqlite3.open_v2(NAME, flags | SQLITE_OPEN_EXRESCODE, setup.vfs.name);
  const db = new Database({
    sqlite3: withEmptyBlobs(setup.sqlite3, setup.module),
    db: handle,
    vfs: setup.vfs,
    statsProvider: () => stats,
  });
  return { ...setup, db };
}

/** A database with `rows` rows in t(id, v), made by the sqlite3 CLI. */
function numbersDb(rows: number, pragmas = ''): Uint8Array {
  return sqliteCliDatabase(`${pragmas}
    CREATE TABLE t(id INTEGER PRIMARY KEY, v TEXT);
    WITH RECURSIVE r(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM r WHERE i < ${rows})
    INSERT INTO t SELECT i, printf('value %06d', i) FROM r;`);
}

const chinook = chinookBytes();

t.test('a read-only connection over Chinook: integrity_check ok, pins balanced', async (t) => {
  const source = new BytesSource(chinook);
  const { db, vfs } = await open(source);
  t.same(await db.all('PRAGMA integrity_check'), [{ integrity_check: 'ok' }]);
  t.same(await db.get('SELECT count(*) AS n FROM Track'), { n: 3503 });
  t.equal(source.pinnedCount, 0, 'every version acquired was released after the statements');
  t.equal(source.acquireCalls, source.releaseCalls);
  t.equal(vfs.counters.suspendedReads, 0, 'all pages were "cached": no read suspended SQLite');
  t.ok(vfs.counters.reads > 10);
  await db.close();
});

t.test('a WAL-mode source is served as a rollback-journal database', async (t) => {
  const bytes = sqliteCliDatabase(`PRAGMA journal_mode=WAL;
    CREATE TABLE kv(k TEXT PRIMARY KEY, v BLOB);
    INSERT INTO kv VALUES ('a', x'0102'), ('b', zeroblob(5000));`);
  t.equal(bytes[18], 2, 'the source file says WAL');
  t.equal(bytes[19], 2);
  const { db, vfs } = await open(new BytesSource(bytes));
  const opened: number[] = [];
  const jOpen = vfs.jOpen.bind(vfs);
  vfs.jOpen = (name, pFile, flags, pOutFlags) => {
    opened.push(flags);
    return jOpen(name, pFile, flags, pOutFlags);
  };
  t.same(await db.all('PRAGMA journal_mode'), [{ journal_mode: 'delete' }]);
  t.same(await db.all('SELECT k, length(v) AS n FROM kv ORDER BY k'), [
    { k: 'a', n: 2 },
    { k: 'b', n: 5000 },
  ]);
  t.same(await db.all('PRAGMA integrity_check'), [{ integrity_check: 'ok' }]);
  t.notOk(opened.some((flags) => flags & SQLite.SQLITE_OPEN_WAL), 'SQLite never tried to open a WAL');
  await db.close();
});

t.test('the connection is read-only whatever the open flags say', async (t) => {
  const { db } = await open(new BytesSource(chinook), undefined, SQLite.SQLITE_OPEN_READWRITE | SQLite.SQLITE_OPEN_CREATE);
  await t.rejects(db.run("INSERT INTO Artist(Name) VALUES ('x')"), { code: 'SQLITE_READONLY', sqliteCode: SQLite.SQLITE_READONLY });
  await t.rejects(db.exec('CREATE TABLE x(y)'), { code: 'SQLITE_READONLY', sqliteCode: SQLite.SQLITE_READONLY });
  t.same(await db.get('SELECT count(*) AS n FROM Artist'), { n: 275 }, 'nothing was written');
  await db.close();
});

t.test('TEMP tables, statement journals and sorters that spill live in memory files', async (t) => {
  const { db, vfs } = await open(new BytesSource(chinook));
  const opened: number[] = [];
  const jOpen = vfs.jOpen.bind(vfs);
  vfs.jOpen = (name, pFile, flags, pOutFlags) => {
    opened.push(flags);
    return jOpen(name, pFile, flags, pOutFlags);
  };
  await db.exec('PRAGMA temp_store = FILE; PRAGMA cache_size = 5; PRAGMA temp.cache_size = 5');
  await db.exec('CREATE TEMP TABLE names AS SELECT TrackId AS id, Name AS name FROM Track');
  await db.run('CREATE INDEX temp.names_name ON names(name)');
  await db.exec('BEGIN; UPDATE names SET name = upper(name) WHERE id <= 10; SAVEPOINT s; DELETE FROM names WHERE id = 1; ROLLBACK TO s; COMMIT');
  t.same(await db.get('SELECT count(*) AS n, min(name) AS first FROM names WHERE id <= 10'), { n: 10, first: 'BALLS TO THE WALL' });
  // 2 MB of rows: more than the TEMP database's page cache (and than the sorter's memory).
  await db.exec(`CREATE TEMP TABLE big AS
    WITH RECURSIVE r(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM r WHERE i < 20000)
    SELECT i, randomblob(100) AS b FROM r`);
  await db.run('CREATE INDEX temp.big_b ON big(b)');
  const sorted = await db.all('SELECT b FROM big ORDER BY b || x\'00\'');
  t.equal(sorted.length, 20000);
  t.ok(
    sorted.every((row, i) => i === 0 || Buffer.compare(sorted[i - 1].b as Uint8Array, row.b as Uint8Array) <= 0),
    'sorted by a sorter that spilled',
  );
  const kinds = opened.reduce((acc, flags) => acc | flags, 0);
  t.ok(kinds & SQLite.SQLITE_OPEN_TEMP_DB, 'a TEMP database file was opened');
  t.ok(kinds & SQLite.SQLITE_OPEN_TEMP_JOURNAL, 'sorter files were opened');
  t.ok(opened.every((flags) => flags & SQLite.SQLITE_OPEN_DELETEONCLOSE), 'all of them temporary');
  t.same(await db.all('PRAGMA temp.integrity_check'), [{ integrity_check: 'ok' }]);
  await db.close();
});

t.test('a read transaction keeps its version; the next one sees the new version', async (t) => {
  const a = numbersDb(100);
  const b = numbersDb(250);
  const source = new BytesSource(a, { txid: 7 });
  const { db } = await open(source);
  await db.transaction(async () => {
  t.same(await db.get('SELECT count(*) AS n FROM t'), { n: 100 });
  source.setBytes(b);
  t.same(await db.get('SELECT count(*) AS n FROM t'), { n: 100 }, 'inside the transaction: still version A');
  t.same(await db.get('SELECT max(id) AS m FROM t'), { m: 100 });
  t.equal(source.pinnedCount, 1, 'one version pinned by the open transaction');
  });
  t.equal(source.pinnedCount, 0);
  t.same(await db.get('SELECT count(*) AS n FROM t'), { n: 250 }, 'after COMMIT: version B');
  await db.close();
});

t.test("SQLite's page cache is dropped exactly when the TXID changes", async (t) => {
  const bytes = numbersDb(2000);
  const source = new BytesSource(bytes, { txid: 1 });
  const { db } = await open(source);
  const query = 'SELECT sum(length(v)) AS n FROM t';
  t.same(await db.get(query), { n: 2000 * 12 });
  const pages = bytes.length / 4096;
  source.resetCounters();
  await db.get(query);
  t.same(source.readLog, [1], 'same version: only the 16 bytes at offset 24 are read (from page 1)');

  source.setBytes(bytes, 1);
  source.resetCounters();
  await db.get(query);
  t.same(source.readLog, [1], 'a new version object with the same TXID: cache kept');

  source.setBytes(bytes, 2);
  source.resetCounters();
  await db.get(query);
  t.ok(source.readPageCalls >= pages - 2, `new TXID: SQLite read the pages again (${source.readPageCalls} of ${pages})`);

  // A WAL-mode source never changes its own counter: the TXID-derived one must.
  t.not(changeCounterForTxid(1), changeCounterForTxid(2));
  await db.close();
});

t.test('new data under the same TXID stays invisible (the counter is the TXID, by design)', async (t) => {
  const source = new BytesSource(numbersDb(10), { txid: 5 });
  const { db } = await open(source);
  t.same(await db.get('SELECT count(*) AS n FROM t'), { n: 10 });
  source.setBytes(numbersDb(10), 6);
  t.same(await db.get('SELECT count(*) AS n FROM t'), { n: 10 });
  await db.close();
});

t.test('cache hits complete without suspending SQLite; misses suspend once per read', async (t) => {
  const source = new BytesSource(chinook, { miss: 'all' });
  const { db, vfs } = await open(source);
  const rows = await db.all('SELECT AlbumId, count(*) AS n FROM Track GROUP BY AlbumId ORDER BY n DESC LIMIT 3');
  t.equal(rows.length, 3);
  const databaseReads = source.readPageCalls;
  t.equal(vfs.counters.suspendedReads, source.missCalls, 'every miss suspended');
  t.ok(databaseReads > 0);

  source.miss = 'none';
  source.setBytes(chinook);
  const before = { ...vfs.counters };
  source.resetCounters();
  t.same(await db.all('SELECT AlbumId, count(*) AS n FROM Track GROUP BY AlbumId ORDER BY n DESC LIMIT 3'), rows);
  t.ok(source.readPageCalls > 10);
  t.equal(vfs.counters.suspendedReads, before.suspendedReads, 'no read suspended when readPage returned bytes');
  t.ok(vfs.counters.reads - before.reads >= source.readPageCalls);
  await db.close();
});

t.test('pages a source can copy in place go through readPageInto; pages it declines through readPage', async (t) => {
  /** BytesSource with readPageInto for even pages only (odd ones "not at hand"). */
  class IntoSource extends BytesSource {
    intoCalls: number[] = [];
    readPageInto(version: PageVersion, pgno: number, dst: Uint8Array): boolean {
      this.intoCalls.push(pgno);
      if (pgno % 2 === 1) return false;
      const { bytes, pageSize } = this.current;
      dst.set(bytes.subarray((pgno - 1) * pageSize, pgno * pageSize));
      t.equal(version.pageSize, pageSize);
      return true;
    }
  }
  const bytes = numbersDb(3000);
  const source = new IntoSource(bytes);
  const { db } = await open(source);
  t.same(await db.get('SELECT count(*) AS n, sum(length(v)) AS b FROM t'), { n: 3000, b: 3000 * 12 }, 'the scan reads right');
  t.same(await db.get('PRAGMA integrity_check'), { integrity_check: 'ok' });
  t.ok(source.intoCalls.some((p) => p % 2 === 0), 'even pages were copied in place');
  const viaRead = new Set(source.readLog);
  t.ok([...viaRead].every((p) => p % 2 === 1), 'only the pages readPageInto declined went through readPage');
  t.ok(source.intoCalls.filter((p) => p % 2 === 1).every((p) => viaRead.has(p)), 'every declined page was read after all');
  await db.close();

  // Page 1 (even pages only, so page 2 of a source that serves page 1 in place too) and
  // part-page reads: patched and cut the same as through readPage.
  class AllInto extends IntoSource {
    override readPageInto(version: PageVersion, pgno: number, dst: Uint8Array): boolean {
      this.intoCalls.push(pgno);
      const { bytes, pageSize } = this.current;
      dst.set(bytes.subarray((pgno - 1) * pageSize, pgno * pageSize));
      return true;
    }
  }
  const original = bytes.slice(0, 100);
  const plain = new BytesSource(bytes, { txid: 77 });
  const into = new AllInto(bytes, { txid: 77 });
  const { vfs } = await setupVfs();
  vfs.addDatabase('plain.db', plain);
  vfs.addDatabase('into.db', into);
  const flags = SQLite.SQLITE_OPEN_MAIN_DB | SQLite.SQLITE_OPEN_READONLY;
  t.equal(vfs.jOpen('plain.db', 2000, flags, new DataView(new ArrayBuffer(4))), SQLite.SQLITE_OK);
  t.equal(vfs.jOpen('into.db', 2001, flags, new DataView(new ArrayBuffer(4))), SQLite.SQLITE_OK);
  const pageSize = plain.current.pageSize;
  for (const [offset, amount] of [[0, 100], [0, pageSize], [24, 16], [pageSize + 10, 50], [2 * pageSize, pageSize]]) {
    const a = new Uint8Array(amount).fill(1);
    const b = new Uint8Array(amount).fill(2);
    t.equal(syncCode(vfs.jRead(2000, a, offset)), SQLite.SQLITE_OK);
    t.equal(syncCode(vfs.jRead(2001, b, offset)), SQLite.SQLITE_OK);
    t.same(b, a, `${amount} bytes at ${offset}: the same bytes either way`);
  }
  const header = new Uint8Array(100);
  syncCode(vfs.jRead(2001, header, 0));
  t.equal(new DataView(header.buffer).getUint32(24), changeCounterForTxid(77), 'page 1 through readPageInto is patched');
  t.equal(header[18], 1);
  t.ok(into.intoCalls.includes(1), 'and was served in place');
  t.notOk(into.readLog.length, 'nothing went through readPage');
  t.same(bytes.subarray(0, 100), original, 'the source\'s own page 1 was not patched');
});

t.test('a part-page read that waits (the header at open) lands in SQLite\'s buffer after the wasm memory grew', async (t) => {
  /** A source whose first read of page 1 grows the wasm memory before it answers. */
  class GrowingSource extends BytesSource {
    grow: (() => void) | undefined;
    override readPage(version: PageVersion, pgno: number): Uint8Array | Promise<Uint8Array> {
      const page = super.readPage(version, pgno);
      const grow = this.grow;
      if (pgno !== 1 || grow === undefined || !(page instanceof Promise)) return page;
      this.grow = undefined;
      return page.then((bytes) => {
        grow();
        return bytes;
      });
    }
  }
  const source = new GrowingSource(numbersDb(500), { miss: 'all' });
  const { module, sqlite3, vfs } = await setupVfs();
  vfs.addDatabase(NAME, source);
  const before = module.HEAPU8.buffer;
  source.grow = () => module._sqlite3_free(module._sqlite3_malloc(256 * 1024 * 1024));
  const handle = await sqlite3.open_v2(NAME, SQLite.SQLITE_OPEN_READONLY | SQLITE_OPEN_EXRESCODE, vfs.name);
  t.equal(before.byteLength, 0, 'the memory grew (its old buffer detached) while the header read waited');
  t.ok(vfs.counters.suspendedReads > 0, 'the read waited');
  const db = new Database({ sqlite3: withEmptyBlobs(sqlite3, module), db: handle, vfs, statsProvider: () => stats });
  t.same(await db.get('SELECT count(*) AS n, max(v) AS v FROM t'), { n: 500, v: 'value 000500' }, 'the header reached SQLite: the database reads right');
  await db.close();
});

t.test('jRead answers a cached page with a synchronous thenable, never a Promise', async (t) => {
  const { vfs } = await setupVfs();
  const source = new BytesSource(chinook);
  vfs.addDatabase(NAME, source);
  const pFile = 1000;
  t.equal(vfs.jOpen(NAME, pFile, SQLite.SQLITE_OPEN_MAIN_DB | SQLite.SQLITE_OPEN_READONLY, new DataView(new ArrayBuffer(4))), SQLite.SQLITE_OK);
  const buf = new Uint8Array(4096);
  const result = vfs.jRead(pFile, buf, 4096);
  t.notOk(result instanceof Promise);
  let code: number | undefined;
  (result as Thenable<number>).then((c) => {
    code = c;
  });
  t.equal(code, SQLite.SQLITE_OK, 'resolved synchronously inside then()');
  t.same(buf, chinook.subarray(4096, 8192));

  const slow = await setupVfs({ syncCacheHits: false });
  slow.vfs.addDatabase(NAME, source);
  slow.vfs.jOpen(NAME, pFile, SQLite.SQLITE_OPEN_MAIN_DB, new DataView(new ArrayBuffer(4)));
  const promised = slow.vfs.jRead(pFile, buf, 0);
  t.ok(promised instanceof Promise, 'syncCacheHits: false always answers a Promise');
  t.equal(await promised, SQLite.SQLITE_OK);
});

t.test('storage errors reach the caller as SQLITE_IOERR_READ with the error as cause', async (t) => {
  for (const async of [false, true]) {
    const source = new BytesSource(chinook);
    const { db, vfs } = await open(source);
    t.same(await db.get('SELECT count(*) AS n FROM Genre'), { n: 25 });
    const injected = new LtxvfsError('LTXVFS_ERR_STORAGE', 'read ltx/0/0000000000000001-0000000000000001.ltx: connection reset');
    source.failWith(injected, { async });
    source.setBytes(chinook); // a new TXID: SQLite must read again
    const err = await db.all('SELECT * FROM Track').then(
      () => undefined,
      (e: unknown) => e,
    );
    t.match(err, { code: 'SQLITE_IOERR_READ', sqliteCode: SQLite.SQLITE_IOERR_READ, message: /disk I\/O error: SELECT \* FROM Track/ }, `async: ${async}`);
    t.equal((err as Error).cause, injected, 'cause is the injected error');
    t.equal(vfs.lastError(), undefined, 'the Database took the remembered error');
    source.failWith(undefined);
    t.same(await db.get('SELECT count(*) AS n FROM Track'), { n: 3503 }, 'the connection recovers');
    t.equal(source.pinnedCount, 0);
    await db.close();
  }
});

t.test('checksum and structure errors reach the caller as SQLITE_CORRUPT', async (t) => {
  const source = new BytesSource(chinook);
  const { db } = await open(source);
  await db.get('SELECT 1 FROM Track LIMIT 1');
  const injected = new LtxvfsError('LTXVFS_ERR_CHECKSUM', 'page 5: checksum mismatch');
  source.failWith(injected, { async: true });
  source.setBytes(chinook);
  const err = (await db.all('SELECT * FROM Track').catch((e: unknown) => e)) as LtxvfsError;
  t.same([err.code, err.ltxvfsCode], ['SQLITE_CORRUPT', 'LTXVFS_ERR_CHECKSUM'], 'the checksum failure reaches ltxvfsCode');
  t.equal((err.sqliteCode ?? 0) & 0xff, SQLite.SQLITE_CORRUPT);
  t.equal(err.cause, injected);
  await db.close();
});

t.test('any other error thrown by the source becomes SQLITE_IOERR', async (t) => {
  const source = new BytesSource(chinook);
  const { db } = await open(source);
  await db.get('SELECT 1 FROM Track LIMIT 1');
  const injected = new TypeError('a bug in the page source');
  source.failWith(injected);
  source.setBytes(chinook);
  const err = (await db.all('SELECT * FROM Track').catch((e: unknown) => e)) as LtxvfsError;
  t.same([err.code, err.ltxvfsCode], ['SQLITE_IOERR', 'LTXVFS_ERR_SQLITE'], 'no ltxvfs reason behind a TypeError');
  t.equal((err.sqliteCode ?? 0) & 0xff, SQLite.SQLITE_IOERR);
  t.equal(err.cause, injected);
  await db.close();
});

t.test('opening a name that was never added fails with SQLITE_CANTOPEN and a clear error', async (t) => {
  const { sqlite3, vfs } = await setupVfs({ name: 'custom' });
  t.equal(vfs.name, 'custom');
  vfs.addDatabase('known.db', new BytesSource(chinook));
  await t.rejects(sqlite3.open_v2('unknown.db', SQLite.SQLITE_OPEN_READONLY, 'custom'), { code: SQLite.SQLITE_CANTOPEN });
  const err = vfs.takeLastError();
  t.match(err, { code: 'LTXVFS_ERR_NOT_FOUND', key: 'unknown.db', message: 'no database "unknown.db" in VFS "custom"' });
  t.equal(vfs.lastError(), undefined, 'taken');
});

t.test('ATTACH of an unknown name reports the VFS error as cause', async (t) => {
  const { db } = await open(new BytesSource(chinook));
  const err = (await db.exec("ATTACH 'nope.db' AS other").catch((e: unknown) => e)) as LtxvfsError;
  t.same([err.code, err.ltxvfsCode], ['SQLITE_CANTOPEN', 'LTXVFS_ERR_NOT_FOUND']);
  t.equal(err.sqliteCode, SQLite.SQLITE_CANTOPEN);
  t.match(err.cause, { code: 'LTXVFS_ERR_NOT_FOUND', key: 'nope.db' });
  await db.close();
});

t.test('two databases on one VFS, attached to one connection', async (t) => {
  const { db, vfs } = await open(new BytesSource(chinook));
  vfs.addDatabase('numbers.db', new BytesSource(numbersDb(42)));
  await db.exec("ATTACH 'numbers.db' AS n");
  t.same(await db.get('SELECT (SELECT count(*) FROM n.t) AS a, (SELECT count(*) FROM main.Genre) AS b'), { a: 42, b: 25 });
  t.throws(() => vfs.addDatabase('numbers.db', new BytesSource(chinook)), { code: 'LTXVFS_ERR_USAGE', key: 'numbers.db' });
  t.equal(vfs.removeDatabase('numbers.db'), true);
  t.equal(vfs.removeDatabase('numbers.db'), false);
  t.same(await db.get('SELECT count(*) AS a FROM n.t'), { a: 42 }, 'an open file keeps its source');
  await db.close();
});

t.test('a URI filename opens the database named by its path', async (t) => {
  const { sqlite3, vfs } = await setupVfs();
  vfs.addDatabase(NAME, new BytesSource(chinook));
  const handle = await sqlite3.open_v2(`file:${NAME}?cache=private&immutable=0`, SQLite.SQLITE_OPEN_READONLY | SQLite.SQLITE_OPEN_URI, vfs.name);
  const rows: unknown[] = [];
  await sqlite3.exec(handle, 'SELECT count(*) FROM Genre', (row) => rows.push(row[0]));
  t.same(rows, [25]);
  await sqlite3.close(handle);
});

t.test('page sizes from 512 to 65536 and databases with overflow pages', async (t) => {
  for (const pageSize of [512, 65536]) {
    const bytes = sqliteCliDatabase(`PRAGMA page_size=${pageSize};
      CREATE TABLE big(id INTEGER PRIMARY KEY, body TEXT);
      WITH RECURSIVE r(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM r WHERE i < 20)
      INSERT INTO big SELECT i, printf('%.*c', 3000 * i, 'x') FROM r;`);
    const { db } = await open(new BytesSource(bytes));
    t.same(await db.get('PRAGMA page_size'), { page_size: pageSize });
    t.same(await db.get('SELECT count(*) AS n, sum(length(body)) AS total FROM big'), { n: 20, total: 3000 * 210 }, `page size ${pageSize}`);
    t.same(await db.all('PRAGMA integrity_check'), [{ integrity_check: 'ok' }]);
    await db.close();
  }
});

t.test('PRAGMAs: a handler can answer, succeed silently, decline, or fail', async (t) => {
  const seen: Array<[string, string | null, string]> = [];
  const { db, vfs } = await open(new BytesSource(chinook), {
    pragmaHandler: (name, value, database) => {
      seen.push([name, value, database]);
      if (name === 'litestream_txid') return '0000000000000007';
      if (name === 'litestream_time') return null;
      if (name === 'litestream_fail') throw new LtxvfsError('LTXVFS_ERR_USAGE', `bad time "${value}"`);
      if (name === 'litestream_throw_string') throw 'just a string';
      return undefined;
    },
  });
  // SQLite names the result column after the value itself (pragma.c, returnSingleText).
  t.same(await db.all('PRAGMA litestream_txid'), [{ '0000000000000007': '0000000000000007' }]);
  t.same(await db.all("PRAGMA litestream_time = '2024-01-01'"), []);
  t.same(await db.all('PRAGMA page_size'), [{ page_size: 4096 }], 'declined: SQLite answers');
  const err = (await db.all("PRAGMA litestream_fail = 'soon'").catch((e: unknown) => e)) as LtxvfsError;
  t.match(err, { code: 'SQLITE_ERROR', sqliteCode: SQLite.SQLITE_ERROR, message: /bad time "soon"/ });
  t.match(err.cause, { code: 'LTXVFS_ERR_USAGE' });
  await t.rejects(db.all('PRAGMA litestream_throw_string'), { message: /just a string/ });
  t.same(seen[0], ['litestream_txid', null, NAME]);
  t.same(seen[1], ['litestream_time', '2024-01-01', NAME]);
  t.equal(vfs.lastError(), undefined);
  await db.close();

  const plain = await open(new BytesSource(chinook));
  t.same(await plain.db.all('PRAGMA litestream_txid'), [], 'no handler: unknown PRAGMAs do nothing, as in SQLite');
  await plain.db.close();
});

t.test('VFS methods called directly', async (t) => {
  const { vfs, module } = await setupVfs();
  const source = new BytesSource(chinook, { txid: 0x1_0000_0009 });
  vfs.addDatabase(NAME, source);
  const out = new DataView(new ArrayBuffer(8));
  const db = 1;
  const temp = 2;

  t.test('xOpen: the database read-only, temp files in memory, the rest refused', async (t) => {
    t.equal(vfs.jOpen(NAME, db, SQLite.SQLITE_OPEN_MAIN_DB | SQLite.SQLITE_OPEN_READWRITE | SQLite.SQLITE_OPEN_CREATE, out), SQLite.SQLITE_OK);
    t.equal(out.getInt32(0, true), SQLite.SQLITE_OPEN_MAIN_DB | SQLite.SQLITE_OPEN_READONLY);
    const tempFlags = SQLite.SQLITE_OPEN_TEMP_DB | SQLite.SQLITE_OPEN_READWRITE | SQLite.SQLITE_OPEN_CREATE | SQLite.SQLITE_OPEN_DELETEONCLOSE;
    t.equal(vfs.jOpen(null, temp, tempFlags, out), SQLite.SQLITE_OK);
    t.equal(out.getInt32(0, true), tempFlags);
    for (const flags of [
      SQLite.SQLITE_OPEN_MAIN_JOURNAL,
      SQLite.SQLITE_OPEN_TEMP_JOURNAL,
      SQLite.SQLITE_OPEN_SUBJOURNAL,
      SQLite.SQLITE_OPEN_SUPER_JOURNAL,
      SQLite.SQLITE_OPEN_TRANSIENT_DB,
      SQLite.SQLITE_OPEN_DELETEONCLOSE,
    ]) {
      t.equal(vfs.jOpen('x', 50, flags | SQLite.SQLITE_OPEN_READWRITE, out), SQLite.SQLITE_OK, `0x${flags.toString(16)}`);
      t.equal(vfs.jDeviceCharacteristics(50) & SQLite.SQLITE_IOCAP_SAFE_APPEND, SQLite.SQLITE_IOCAP_SAFE_APPEND);
      t.equal(vfs.jClose(50), SQLite.SQLITE_OK);
    }
    t.equal(vfs.jOpen(`${NAME}-wal`, 51, SQLite.SQLITE_OPEN_WAL | SQLite.SQLITE_OPEN_READWRITE, out), SQLite.SQLITE_CANTOPEN);
    t.match(vfs.takeLastError(), { code: 'LTXVFS_ERR_UNSUPPORTED', message: /cannot open a WAL \(test\.db-wal\)/ });
    t.equal(vfs.jOpen(null, 52, SQLite.SQLITE_OPEN_READWRITE, out), SQLite.SQLITE_CANTOPEN);
    t.match(vfs.takeLastError(), { code: 'LTXVFS_ERR_UNSUPPORTED', message: /flags 0x2 \(no name\)/ });
    t.equal(vfs.jOpen(null, 53, SQLite.SQLITE_OPEN_MAIN_DB, out), SQLite.SQLITE_CANTOPEN, 'a nameless main database');
    t.match(vfs.takeLastError(), { code: 'LTXVFS_ERR_NOT_FOUND' });
    t.equal(vfs.jOpen(NAME, 54, SQLite.SQLITE_OPEN_MAIN_DB, new DataView(new ArrayBuffer(0))), SQLite.SQLITE_IOERR, 'a throw inside becomes a code');
    t.type(vfs.takeLastError(), RangeError);
  });

  t.test('xAccess: only added databases exist', async (t) => {
    const res = new DataView(new ArrayBuffer(4));
    t.equal(vfs.jAccess(NAME, 0, res), SQLite.SQLITE_OK);
    t.equal(res.getInt32(0, true), 1);
    for (const name of [`${NAME}-journal`, `${NAME}-wal`, 'other.db']) {
      t.equal(vfs.jAccess(name, 0, res), SQLite.SQLITE_OK);
      t.equal(res.getInt32(0, true), 0, name);
    }
    t.equal(vfs.jAccess(NAME, 0, new DataView(new ArrayBuffer(0))), SQLite.SQLITE_IOERR);
    t.type(vfs.takeLastError(), RangeError);
    t.equal(vfs.jDelete(`${NAME}-journal`, 0), SQLite.SQLITE_OK);
  });

  t.test('reads without a lock use a version acquired for the call', async (t) => {
    source.resetCounters();
    const header = new Uint8Array(100);
    t.equal(await vfs.jRead(db, header, 0), SQLite.SQLITE_OK);
    t.equal(source.acquireCalls, 1);
    t.equal(source.releaseCalls, 1);
    t.equal(header[18], 1);
    t.equal(new DataView(header.buffer).getUint32(24), 9, 'counter = TXID mod 2^32');
    t.equal(new DataView(header.buffer).getUint32(28), chinook.length / 4096, 'in-header size = commit');

    source.miss = 'all';
    const page = new Uint8Array(4096);
    const pending = vfs.jRead(db, page, 8192);
    t.ok(pending instanceof Promise);
    t.equal(source.pinnedCount, 1, 'pinned while the read is pending');
    t.equal(await pending, SQLite.SQLITE_OK);
    t.equal(source.pinnedCount, 0, 'released when it completed');
    t.same(page, chinook.subarray(8192, 12288));
    source.miss = 'none';

    const size = new DataView(new ArrayBuffer(8));
    t.equal(vfs.jFileSize(db, size), SQLite.SQLITE_OK);
    t.equal(size.getBigInt64(0, true), BigInt(chinook.length));
    t.equal(source.pinnedCount, 0);
  });

  t.test('xLock pins one version until xUnlock(NONE)', async (t) => {
    source.resetCounters();
    t.equal(syncCode(vfs.jLock(db, SQLite.SQLITE_LOCK_SHARED)), SQLite.SQLITE_OK);
    t.equal(syncCode(vfs.jLock(db, SQLite.SQLITE_LOCK_RESERVED)), SQLite.SQLITE_OK);
    t.equal(source.acquireCalls, 1, 'acquired once');
    const pinned = source.current;
    source.setBytes(numbersDb(3), 0x1_0000_000a);
    const size = new DataView(new ArrayBuffer(8));
    vfs.jFileSize(db, size);
    t.equal(size.getBigInt64(0, true), BigInt(pinned.commit * 4096), 'xFileSize of the pinned version');
    const header = new Uint8Array(16);
    await vfs.jRead(db, header, 24);
    t.equal(new DataView(header.buffer).getUint32(0), 9, 'the 16 bytes at 24 of the pinned version');
    t.equal(vfs.jUnlock(db, SQLite.SQLITE_LOCK_SHARED), SQLite.SQLITE_OK);
    t.equal(source.pinnedCount, 1, 'still pinned at SHARED');
    t.equal(vfs.jUnlock(db, SQLite.SQLITE_LOCK_NONE), SQLite.SQLITE_OK);
    t.equal(source.pinnedCount, 0);
    t.equal(vfs.jUnlock(db, SQLite.SQLITE_LOCK_NONE), SQLite.SQLITE_OK, 'unlocking twice is harmless');
    t.equal(source.releaseCalls, 1);
    await vfs.jRead(db, header, 24);
    t.equal(new DataView(header.buffer).getUint32(0), 10, 'the next read sees the new version');
    t.equal(vfs.jCheckReservedLock(db, size), SQLite.SQLITE_OK);
    t.equal(size.getInt32(0, true), 0);
    source.setBytes(chinook, 0x1_0000_0009);
  });

  t.test('reads that span pages, split pages, or run past the end', async (t) => {
    const span = new Uint8Array(8192);
    t.equal(await vfs.jRead(db, span, 2048), SQLite.SQLITE_OK);
    t.same(span, chinook.subarray(2048, 2048 + 8192), 'three pages, two partial');

    const withHeader = new Uint8Array(5000);
    t.equal(await vfs.jRead(db, withHeader, 10), SQLite.SQLITE_OK);
    t.same(withHeader.subarray(100), chinook.subarray(110, 5010), 'page 1 beyond the header and page 2 as stored');
    t.equal(withHeader[18 - 10], 1, 'byte 18 patched');

    const tail = new Uint8Array(4096).fill(0xee);
    const end = chinook.length;
    t.equal(await vfs.jRead(db, tail, end - 1000), SQLite.SQLITE_IOERR_SHORT_READ);
    t.same(tail.subarray(0, 1000), chinook.subarray(end - 1000));
    t.ok(tail.subarray(1000).every((b) => b === 0), 'zero-filled past the end');

    const past = new Uint8Array(4096).fill(0xee);
    t.equal(await vfs.jRead(db, past, end + 4096), SQLite.SQLITE_IOERR_SHORT_READ);
    t.ok(past.every((b) => b === 0));

    source.miss = (pgno) => pgno % 2 === 0;
    const mixed = new Uint8Array(4 * 4096);
    const pending = vfs.jRead(db, mixed, 4096);
    t.ok(pending instanceof Promise, 'some pages missing: one Promise for the read');
    t.equal(await pending, SQLite.SQLITE_OK);
    t.same(mixed, chinook.subarray(4096, 5 * 4096));
    source.miss = 'none';
  });

  t.test('a failing page fails the whole read, pending pages included', async (t) => {
    const injected = new LtxvfsError('LTXVFS_ERR_STORAGE', 'boom');
    source.miss = (pgno) => pgno === 3;
    source.failWith(injected, { pgno: 4 });
    t.equal(await vfs.jRead(db, new Uint8Array(3 * 4096), 2 * 4096), SQLite.SQLITE_IOERR_READ, 'page 3 pending, page 4 throws');
    t.equal(vfs.takeLastError(), injected);
    source.failWith(injected, { pgno: 4, async: true });
    source.miss = 'all';
    t.equal(await vfs.jRead(db, new Uint8Array(2 * 4096), 3 * 4096), SQLite.SQLITE_IOERR_READ, 'a rejected page');
    t.equal(await vfs.jRead(db, new Uint8Array(4096), 3 * 4096), SQLite.SQLITE_IOERR_READ, 'a rejected single page');
    t.equal(vfs.takeLastError(), injected);
    source.failWith(undefined);
    source.miss = 'none';
    t.equal(source.pinnedCount, 0, 'versions acquired for the reads were released');
  });

  t.test('a page of the wrong size is corrupt', async (t) => {
    const short: PageSource = {
      acquire: () => source.acquire(),
      release: (v: PageVersion) => source.release(v),
      readPage: (v: PageVersion, pgno: number) => (pgno === 2 ? new Uint8Array(100) : source.readPage(v, pgno)),
    };
    vfs.addDatabase('short.db', short);
    t.equal(vfs.jOpen('short.db', 60, SQLite.SQLITE_OPEN_MAIN_DB, out), SQLite.SQLITE_OK);
    t.equal(await vfs.jRead(60, new Uint8Array(4096), 4096), SQLite.SQLITE_CORRUPT);
    t.match(vfs.takeLastError(), { code: 'LTXVFS_ERR_CORRUPT', message: 'page 2 has 100 bytes, expected 4096' });
    t.equal(vfs.jClose(60), SQLite.SQLITE_OK);
  });

  t.test('a source that cannot give a version fails the lock and the unlocked read', async (t) => {
    const broken: PageSource = {
      acquire: () => {
        throw new LtxvfsError('LTXVFS_ERR_STORAGE', 'replica unreachable');
      },
      release: () => undefined,
      readPage: () => new Uint8Array(4096),
    };
    vfs.addDatabase('broken.db', broken);
    t.equal(vfs.jOpen('broken.db', 61, SQLite.SQLITE_OPEN_MAIN_DB, out), SQLite.SQLITE_OK);
    t.equal(syncCode(vfs.jLock(61, SQLite.SQLITE_LOCK_SHARED)), SQLite.SQLITE_IOERR_LOCK);
    t.equal(await vfs.jRead(61, new Uint8Array(100), 0), SQLite.SQLITE_IOERR_READ);
    t.equal(vfs.jFileSize(61, new DataView(new ArrayBuffer(8))), SQLite.SQLITE_IOERR_FSTAT);
    t.match(vfs.takeLastError(), { code: 'LTXVFS_ERR_STORAGE' });
    t.equal(vfs.jClose(61), SQLite.SQLITE_OK);
  });

  t.test('writes and truncation: refused on the database, done in memory files', async (t) => {
    t.equal(vfs.jWrite(db, new Uint8Array(4096), 0), SQLite.SQLITE_READONLY);
    t.match(vfs.takeLastError(), { code: 'LTXVFS_ERR_READONLY', key: NAME, message: /cannot write replica database "test.db"/ });
    t.equal(vfs.jTruncate(db, 0), SQLite.SQLITE_READONLY);
    t.match(vfs.takeLastError(), { message: /cannot truncate/ });
    t.equal(syncCode(vfs.jSync(db, 0)), SQLite.SQLITE_OK);

    t.equal(vfs.jWrite(temp, new Uint8Array([1, 2, 3]), 4096), SQLite.SQLITE_OK);
    const size = new DataView(new ArrayBuffer(8));
    t.equal(vfs.jFileSize(temp, size), SQLite.SQLITE_OK);
    t.equal(size.getBigInt64(0, true), 4099n);
    const back = new Uint8Array(4);
    t.equal(await vfs.jRead(temp, back, 4096), SQLite.SQLITE_IOERR_SHORT_READ);
    t.same(back, new Uint8Array([1, 2, 3, 0]));
    t.equal(vfs.jTruncate(temp, 10), SQLite.SQLITE_OK);
    vfs.jFileSize(temp, size);
    t.equal(size.getBigInt64(0, true), 10n);
    t.equal(syncCode(vfs.jSync(temp, 0)), SQLite.SQLITE_OK);
    t.equal(syncCode(vfs.jLock(temp, SQLite.SQLITE_LOCK_EXCLUSIVE)), SQLite.SQLITE_OK);
    t.equal(vfs.jUnlock(temp, SQLite.SQLITE_LOCK_NONE), SQLite.SQLITE_OK);
  });

  t.test('sector size, device characteristics, file controls', async (t) => {
    t.equal(vfs.jSectorSize(db), 4096);
    t.equal(vfs.jDeviceCharacteristics(db), 0, 'a replica database promises nothing, in particular not IMMUTABLE');
    t.equal(syncCode(vfs.jFileControl(db, 14, new DataView(module.HEAPU8.buffer, 0, 12))), SQLite.SQLITE_NOTFOUND, 'PRAGMA without a handler');
    t.equal(syncCode(vfs.jFileControl(db, 15, new DataView(new ArrayBuffer(8)))), SQLite.SQLITE_NOTFOUND);
    t.equal(syncCode(vfs.jFileControl(temp, 14, new DataView(new ArrayBuffer(8)))), SQLite.SQLITE_NOTFOUND);
  });

  t.test('unknown file handles fail with a code, never a throw', async (t) => {
    t.equal(await vfs.jRead(999, new Uint8Array(10), 0), SQLite.SQLITE_IOERR);
    t.match(vfs.takeLastError(), { code: 'LTXVFS_ERR_USAGE', message: 'VFS "ltxvfs" has no open file 999' });
    t.equal(vfs.jWrite(999, new Uint8Array(1), 0), SQLite.SQLITE_IOERR);
    t.equal(vfs.jClose(999), SQLite.SQLITE_OK, 'closing a file that failed to open is fine');
    t.equal(vfs.jFileSize(999, new DataView(new ArrayBuffer(8))), SQLite.SQLITE_IOERR);
    t.equal(syncCode(vfs.jFileControl(999, 14, new DataView(new ArrayBuffer(8)))), SQLite.SQLITE_IOERR);
    t.equal(vfs.jDeviceCharacteristics(999), 0);
  });

  t.test('xClose releases a version still pinned', async (t) => {
    source.resetCounters();
    vfs.jLock(db, SQLite.SQLITE_LOCK_SHARED);
    t.equal(source.pinnedCount, 1);
    t.equal(vfs.jClose(db), SQLite.SQLITE_OK);
    t.equal(source.pinnedCount, 0);
    t.equal(vfs.jClose(temp), SQLite.SQLITE_OK);
  });
});


/** The code a synchronous thenable (what the VFS returns when it need not wait) carries. */
function syncCode(result: number | Thenable<number> | Promise<number>): number {
  if (typeof result === 'number') return result;
  let code: number | undefined;
  void result.then((c) => { code = c; });
  if (code === undefined) throw new Error('expected a synchronous thenable');
  return code;
}

t.test('a long statement over cached pages yields to the event loop every yieldEveryMs (and only then)', async (t) => {
  const bytes = numbersDb(100_000, 'PRAGMA page_size = 1024;');
  const scan = 'SELECT count(*) AS n, sum(length(v)) AS b FROM t';
  const expected = { n: 100_000, b: 1_200_000 };
  /** Runs the scan once; whether an immediate scheduled before it ran before it returned. */
  const run = async (options: LtxAsyncVFSOptions): Promise<{ yields: number; reads: number; turned: boolean }> => {
    const { db, vfs } = await open(new BytesSource(bytes), options);
    await db.exec('PRAGMA cache_size = 5');
    let turned = false;
    setImmediate(() => {
      turned = true;
    });
    t.same(await db.get(scan), expected);
    const seen = turned;
    const { yields, reads } = vfs.counters;
    await db.close();
    return { yields, reads, turned: seen };
  };
  let clock = 0;
  // Each look at the clock (every 128th read) 5 ms later: continuous work.
  const busy = await run({ yieldEveryMs: 10, now: () => (clock += 5) });
  t.ok(busy.reads > 1000, `${busy.reads} reads`);
  t.ok(busy.yields >= Math.floor(busy.reads / 128 / 3) - 1 && busy.yields > 2, `${busy.yields} yields in ${busy.reads} reads: one every ~3 looks at the clock`);
  t.ok(busy.turned, 'the event loop ran while the statement did');
  // 50 ms between looks: each looks like the loop was idle in between, so no stretch lasts.
  const gaps = await run({ yieldEveryMs: 10, now: () => (clock += 50) });
  t.equal(gaps.yields, 0);
  t.notOk(gaps.turned, 'no yield: the statement ran to its end in one go');
  const never = await run({ yieldEveryMs: Infinity, now: () => (clock += 5) });
  t.equal(never.yields, 0, 'Infinity never yields');
  t.notOk(never.turned);
  // The default clock and interval: the same rows (run() checks them); whether it yields depends on the machine's speed.
  const real = await run({});
  t.ok(real.reads > 1000, `${real.reads} reads with the defaults`);
});

t.test('yieldEveryMs must be a number of milliseconds ≥ 0', async (t) => {
  const { module } = await loadAsyncifyModule();
  for (const bad of [-1, Number.NaN]) {
    t.throws(() => new LtxAsyncVFS(module, { yieldEveryMs: bad }), { code: 'LTXVFS_ERR_USAGE', message: new RegExp(`yieldEveryMs ${String(bad)} is not a number of milliseconds`) });
  }
});
