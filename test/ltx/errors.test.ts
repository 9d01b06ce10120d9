/**
 * LtxvfsError's two kinds (ltx/errors.ts): an error ltxvfs detects keeps its LTXVFS code
 * in `code`; an error SQLite returned has SQLite's name in `code`, the number in
 * `sqliteCode`, and the ltxvfs reason behind it in `ltxvfsCode` and the message. The
 * names are checked against wa-sqlite's table of SQLite's constants.
 */
import t from 'tap';
import * as SQLite from '@journeyapps/wa-sqlite/src/sqlite-constants.js';
import { isLtxvfsError, LtxvfsError, sqliteErrorName } from '../../ltx/errors.js';
import { deserializeError, serializeError } from '../../lib/bridge/protocol.js';

const PRIMARY = ['OK', 'ERROR', 'INTERNAL', 'PERM', 'ABORT', 'BUSY', 'LOCKED', 'NOMEM', 'READONLY', 'INTERRUPT', 'IOERR', 'CORRUPT',
  'NOTFOUND', 'FULL', 'CANTOPEN', 'PROTOCOL', 'EMPTY', 'SCHEMA', 'TOOBIG', 'CONSTRAINT', 'MISMATCH', 'MISUSE', 'NOLFS', 'AUTH',
  'FORMAT', 'RANGE', 'NOTADB', 'NOTICE', 'WARNING'];

t.test("sqliteErrorName: every result code of wa-sqlite's constants by its own name", async (t) => {
  const constants = SQLite as unknown as Record<string, unknown>;
  let checked = 0;
  for (const [name, value] of Object.entries(constants)) {
    if (typeof value !== 'number') continue;
    const primary = PRIMARY.find((p) => name === `SQLITE_${p}` || name.startsWith(`SQLITE_${p}_`));
    // Result codes only: the primary's number in the low byte (flags such as SQLITE_OPEN_* do not qualify).
    if (primary === undefined || (value & 0xff) !== constants[`SQLITE_${primary}`]) continue;
    t.equal(sqliteErrorName(value), name, `${value}`);
    checked++;
  }
  t.ok(checked >= 60, `${checked} names checked`);
  t.equal(sqliteErrorName(517), 'SQLITE_BUSY_SNAPSHOT', 'extended codes wa-sqlite lacks');
  t.equal(sqliteErrorName(1544), 'SQLITE_READONLY_DIRECTORY');
  t.equal(sqliteErrorName(8714), 'SQLITE_IOERR_IN_PAGE');
  t.equal(sqliteErrorName(10 + (99 << 8)), 'SQLITE_IOERR', 'an extension SQLite does not define: the primary name');
  t.equal(sqliteErrorName(4 + (1 << 8)), 'SQLITE_ABORT', 'a gap in a table: the primary name');
  for (const bad of [200, -1, -256, 1.5]) t.equal(sqliteErrorName(bad), 'SQLITE_ERROR', `${bad}: no result code`);
});

t.test('an error ltxvfs detects: its code in code and ltxvfsCode', async (t) => {
  const e = new LtxvfsError('LTXVFS_ERR_READONLY', 'file:///r: writing needs the lease', { key: 'file:///r', sqliteCode: 8 });
  t.same([e.code, e.ltxvfsCode, e.sqliteCode, e.key], ['LTXVFS_ERR_READONLY', 'LTXVFS_ERR_READONLY', 8, 'file:///r'], 'a sqliteCode for the VFS does not make it SQLite\'s');
  t.ok(isLtxvfsError(e, 'LTXVFS_ERR_READONLY'));
  t.notOk(isLtxvfsError(e, 'LTXVFS_ERR_SQLITE'));
  t.notOk(isLtxvfsError(new Error('x')));
});

t.test("an error SQLite returned: SQLite's name, the reason behind it, its sentence in the message", async (t) => {
  const lease = new LtxvfsError('LTXVFS_ERR_READONLY', 'file:///r: writing needs the replica\'s write lease: run PRAGMA litevfs_acquire_lease', { key: 'file:///r', sqliteCode: 8 });
  const e = new LtxvfsError('LTXVFS_ERR_SQLITE', 'attempt to write a readonly database: INSERT INTO t VALUES (1)', { sqliteCode: 8, cause: lease });
  t.same([e.code, e.ltxvfsCode, e.sqliteCode, e.key], ['SQLITE_READONLY', 'LTXVFS_ERR_READONLY', 8, 'file:///r']);
  t.equal(e.message, `attempt to write a readonly database: INSERT INTO t VALUES (1): ${lease.message}`);
  t.ok(isLtxvfsError(e, 'LTXVFS_ERR_READONLY'), 'matches the reason');
  t.ok(isLtxvfsError(e, 'LTXVFS_ERR_SQLITE'), 'and LTXVFS_ERR_SQLITE: SQLite returned it');
  t.notOk(isLtxvfsError(e, 'LTXVFS_ERR_STALE'));

  const plain = new LtxvfsError('LTXVFS_ERR_SQLITE', 'UNIQUE constraint failed: t.x', { sqliteCode: 2067, cause: new Error('sqlite') });
  t.same([plain.code, plain.ltxvfsCode, plain.message], ['SQLITE_CONSTRAINT_UNIQUE', 'LTXVFS_ERR_SQLITE', 'UNIQUE constraint failed: t.x'], 'nothing of ltxvfs behind it');

  const said = new LtxvfsError('LTXVFS_ERR_SQLITE', `main.db: ${e.message}`, { sqliteCode: 8, cause: lease });
  t.equal(said.message, `main.db: ${e.message}`, 'a message that has the reason already is left alone');

  const nested = new LtxvfsError('LTXVFS_ERR_SQLITE', 'outer', { sqliteCode: 10, cause: plain });
  t.equal(nested.ltxvfsCode, 'LTXVFS_ERR_SQLITE', 'an error SQLite returned is no reason');
  const named = new LtxvfsError('SQLITE_BUSY', 'database is locked');
  t.same([named.code, named.ltxvfsCode], ['SQLITE_BUSY', 'LTXVFS_ERR_SQLITE'], 'a SQLite name without a number');
});

t.test("across threads (the worker engine's and sql.js's transport) the codes survive", async (t) => {
  const stale = new LtxvfsError('LTXVFS_ERR_STALE', 'file:///r: stale since 2026-11-21T12:00:00.000Z: …', { key: 'file:///r' });
  const e = new LtxvfsError('LTXVFS_ERR_SQLITE', 'disk I/O error: SELECT 1', { sqliteCode: 266, cause: stale });
  const back = deserializeError(JSON.parse(JSON.stringify(serializeError(e)))) as LtxvfsError;
  t.same([back.code, back.ltxvfsCode, back.sqliteCode, back.key, back.message], [e.code, e.ltxvfsCode, 266, 'file:///r', e.message]);
  t.same([e.code, e.ltxvfsCode], ['SQLITE_IOERR_READ', 'LTXVFS_ERR_STALE']);
});
