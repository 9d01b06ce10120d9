import t from 'tap';
import * as SQLite from '@journeyapps/wa-sqlite';
import { LtxvfsError } from '../../ltx/errors.js';
import type { DatabaseStats } from '../../lib/sql/database.js';
import type { PageSource, PageVersion } from '../../lib/read/page-source.js';
import { openAsyncifyDatabase } from '../../vfs/asyncify/database.js';
import { BytesSource, chinookBytes, sqliteCliDatabase } from '../helpers/bytes-source.js';
import { SQLITE_CACHE_BYTES } from '../../vfs/core/sqlite-cache.js';

const chinook = chinookBytes();

function statsOf(source: BytesSource) {
  return (): DatabaseStats & { pageReads: number } => ({
    pagesFetched: 0,
    bytesRead: 0,
    readRequests: 0,
    cacheHits: source.readPageCalls,
    cacheMisses: 0,
    cacheBytes: 0,
    txid: source.current.txid,
    pageReads: source.readPageCalls,
  });
}

t.test('openAsyncifyDatabase opens a page source read-only and closes it once', async (t) => {
  const source = new BytesSource(chinook, { txid: 12 });
  let closed = 0;
  const db = await openAsyncifyDatabase(source, { statsProvider: statsOf(source), onClose: () => void closed++ });
  t.same(await db.get('SELECT count(*) AS n FROM Track'), { n: 3503 });
  t.same(await db.get('PRAGMA journal_mode'), { journal_mode: 'delete' });
  await t.rejects(db.run('DELETE FROM Track'), { code: 'SQLITE_READONLY', sqliteCode: SQLite.SQLITE_READONLY });
  const stats = db.stats();
  t.equal(stats.txid, 12);
  t.ok(stats.pageReads > 0, 'the provider type flows through');
  t.equal(source.pinnedCount, 0);
  await Promise.all([db.close(), db.close()]);
  t.equal(closed, 1);
});

t.test('options: name, VFS name, PRAGMA handler, statement cache, Promise-only reads', async (t) => {
  const source = new BytesSource(chinook, { miss: 'all' });
  const db = await openAsyncifyDatabase(source, {
    statsProvider: statsOf(source),
    name: 'chinook.db',
    vfsName: 'ltxvfs-test',
    pragmaHandler: (name, _value, database) => (name === 'whoami' ? database : undefined),
    statementCacheSize: 0,
    syncCacheHits: false,
  });
  t.same(await db.all('PRAGMA whoami'), [{ 'chinook.db': 'chinook.db' }]);
  t.same(await db.all("SELECT file FROM pragma_database_list WHERE name = 'main'"), [{ file: 'chinook.db' }]);
  t.same(await db.get('SELECT Name FROM Genre WHERE GenreId = ?', [2]), { Name: 'Jazz' });
  await db.close();
});

t.test('a source that is not a SQLite database fails the open; onClose is not called', async (t) => {
  const notSqlite = new Uint8Array(8192);
  notSqlite.set(new TextEncoder().encode('not SQLite at all'));
  notSqlite[16] = 0x10; // page size 4096, so the source accepts it
  const source = new BytesSource(notSqlite);
  let closed = 0;
  const err = await openAsyncifyDatabase(source, { statsProvider: statsOf(source), onClose: () => void closed++ }).catch((e: unknown) => e);
  t.match(err, { code: 'SQLITE_NOTADB', sqliteCode: SQLite.SQLITE_NOTADB });
  t.equal(closed, 0, 'the caller still owns the source');
  t.equal(source.pinnedCount, 0);
});

t.test('a source that cannot be read fails the open with the storage error as cause', async (t) => {
  const injected = new LtxvfsError('LTXVFS_ERR_STORAGE', 'connect ECONNREFUSED 127.0.0.1:9');
  const source = new BytesSource(chinook);
  source.failWith(injected);
  const err = (await openAsyncifyDatabase(source, { statsProvider: statsOf(source) }).catch((e: unknown) => e)) as LtxvfsError;
  t.same([err.code, err.ltxvfsCode], ['SQLITE_IOERR_READ', 'LTXVFS_ERR_STORAGE']);
  t.equal(err.sqliteCode, SQLite.SQLITE_IOERR_READ);
  t.match(err.message, /^main\.db: open database: disk I\/O error/);
  t.equal(err.cause, injected);
});

t.test('an open that fails without a VFS error keeps the SQLite error as cause', async (t) => {
  const source = new BytesSource(chinook);
  const name = 'x'.repeat(2000); // longer than the VFS's mxPathname: SQLite refuses it itself
  const err = (await openAsyncifyDatabase(source, { statsProvider: statsOf(source), name }).catch((e: unknown) => e)) as LtxvfsError;
  t.same([err.code, err.ltxvfsCode], ['SQLITE_IOERR', 'LTXVFS_ERR_SQLITE']);
  t.equal(err.sqliteCode, SQLite.SQLITE_IOERR, "FacadeVFS's xFullPathname answers SQLITE_IOERR");
  t.type(err.cause, SQLite.SQLiteError);
});

t.test('an empty database (commit 0) opens and has no tables', async (t) => {
  const empty: PageSource = {
    acquire: (): PageVersion => ({ txid: 1, pageSize: 4096, commit: 0, timestamp: 0 }),
    release: () => undefined,
    readPage: () => {
      throw new Error('no page of an empty database is read');
    },
  };
  const db = await openAsyncifyDatabase(empty, { statsProvider: () => ({}) as DatabaseStats, name: 'a/rather/long/name/of/an/empty/database/that/needs/more/than/64/bytes.db' });
  t.same(await db.all('SELECT name FROM sqlite_schema'), []);
  await db.close();
});

t.test('SQLite keeps a hot set in its own cache while the version stays, and drops it when the version changes', async (t) => {
  // ~6 MiB of rows: three times SQLite's default 2 MiB cache, within the one ltxvfs sets.
  const rows = (fill: string): string => `CREATE TABLE t (id INTEGER PRIMARY KEY, b BLOB);
    WITH RECURSIVE c(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM c WHERE i < 1500) INSERT INTO t SELECT i, ${fill} FROM c;`;
  const source = new BytesSource(sqliteCliDatabase(rows('zeroblob(3000)')), { txid: 1 });
  const db = await openAsyncifyDatabase(source, { statsProvider: statsOf(source) });
  t.same(await db.get('PRAGMA cache_size'), { cache_size: -SQLITE_CACHE_BYTES / 1024 });
  const scan = 'SELECT count(*) AS n, sum(length(b)) AS bytes FROM t';
  t.same(await db.get(scan), { n: 1500, bytes: 4_500_000 });
  const pages = source.readPageCalls;
  t.ok(pages > 1100, `the first scan read every page through the VFS (${pages})`);
  await db.transaction(async (tx) => {
    await tx.get(scan);
    await tx.get(scan);
  });
  t.same(await db.get(scan), { n: 1500, bytes: 4_500_000 });
  // Only the 16 bytes at offset 24 at each transaction's start: the change counter.
  t.ok(source.readPageCalls - pages <= 2, `later scans of the same version read ${source.readPageCalls - pages} pages through the VFS`);

  source.setBytes(sqliteCliDatabase(rows('zeroblob(3001)')));
  const before = source.readPageCalls;
  t.same(await db.get(scan), { n: 1500, bytes: 4_501_500 }, 'a new version is read, not the cached pages');
  t.ok(source.readPageCalls - before > 1100, 'SQLite dropped its cache when the change counter moved');
  await db.close();
});
