/**
 * What crosses the page bridge as data (lib/bridge/protocol.ts): errors keep their class,
 * code, key, SQLite code and causes; SQL values keep bigint and bytes.
 */
import t from 'tap';
import { LtxvfsError, isLtxvfsError } from '../../ltx/errors.js';
import { deserializeError, fromWire, serializeError, toWire } from '../../lib/bridge/protocol.js';

t.test('an LtxvfsError and its causes survive a round trip through JSON', async (t) => {
  const root = new LtxvfsError('LTXVFS_ERR_STORAGE', 's3://b/ltx/0/x.ltx: 503 SlowDown', { key: 'ltx/0/x.ltx', status: 503 });
  const err = new LtxvfsError('LTXVFS_ERR_SQLITE', 'disk I/O error: SELECT 1', { sqliteCode: 266, cause: root });
  const back = deserializeError(JSON.parse(JSON.stringify(serializeError(err))));
  t.ok(isLtxvfsError(back, 'LTXVFS_ERR_SQLITE'));
  t.match(back, { message: err.message, sqliteCode: 266 });
  t.ok(isLtxvfsError(back.cause, 'LTXVFS_ERR_STORAGE'));
  t.match(back.cause, { message: root.message, key: 'ltx/0/x.ltx', status: 503 });
});

t.test('other errors keep name, message and code; non-errors become messages', async (t) => {
  const sys = Object.assign(new TypeError('boom'), { code: 'ERR_X' });
  const back = deserializeError(serializeError(sys));
  t.equal(back.name, 'TypeError');
  t.match(back, { message: 'boom', code: 'ERR_X' });
  t.same(serializeError('plain'), { name: 'Error', message: 'plain' });
  const withCode = deserializeError({ name: 'Error', message: 'sqlite', code: 5, sqliteCode: 5 });
  t.match(withCode, { code: 5, sqliteCode: 5 });
  let deep: Error = new Error('level 0');
  for (let i = 1; i < 6; i++) deep = new Error(`level ${i}`, { cause: deep });
  let s = serializeError(deep);
  let depth = 0;
  while (s.cause !== undefined) {
    s = s.cause;
    depth++;
  }
  t.equal(depth, 3, 'causes are kept three levels deep');
});

t.test('SQL values on the wire', async (t) => {
  for (const v of [null, 1, 1.5, 'text', 2n ** 62n, new Uint8Array([1, 2, 255])]) {
    t.same(fromWire(JSON.parse(JSON.stringify(toWire(v)))), v);
  }
  t.equal(toWire(undefined), null);
});
