/**
 * int64 as the user chooses (issue 14 item 3): each `intMode` × engine returns the same
 * JavaScript values for ±(2^53 − 1), ±2^53 and ±(2^63 − 1), set at open and per statement
 * (`intMode()`, `safeIntegers()`); `'number'` never rounds: beyond ±(2^53 − 1) it is a
 * RangeError naming the column. sql.js (`openSqlJs`, a genuine sql.js Database) keeps its
 * own API: numbers by default, which round, and exact bigints with `{ useBigInt: true }`.
 */
import t from 'tap';
import { join } from 'node:path';
import { openDatabase } from '../../lib/api/open.js';
import { loadSqlJs, openSqlJs } from '../../vfs/sqljs/index.js';
import type { IntMode } from '../../lib/sql/statement.js';

const VALUES: readonly bigint[] = [
  2n ** 53n - 1n, -(2n ** 53n - 1n), 2n ** 53n, -(2n ** 53n), 2n ** 63n - 1n, -(2n ** 63n - 1n),
];
const SAFE = (v: bigint): boolean => v <= BigInt(Number.MAX_SAFE_INTEGER) && v >= -BigInt(Number.MAX_SAFE_INTEGER);

/** What `mode` must give for `v`: the value, or the RangeError. */
function expected(mode: IntMode, v: bigint): { value: unknown } | { error: RegExp } {
  if (mode === 'bigint') return { value: v };
  if (mode === 'string') return { value: v.toString() };
  return SAFE(v) ? { value: Number(v) } : { error: new RegExp(`column "v": the integer ${v} is (above|below)`) };
}

t.test('int64 table: mode × engine', async (t) => {
  const dir = join(t.testdir(), 'replica');
  const writer = await openDatabase(dir, { create: true, autoLease: true, pollIntervalMs: 0 });
  await writer.exec('CREATE TABLE ints (k INTEGER PRIMARY KEY, v INTEGER NOT NULL)');
  await writer.batch(VALUES.map((v, k) => ({ sql: 'INSERT INTO ints (k, v) VALUES (?, ?)', params: [k, v] })));
  await writer.close();

  for (const engine of ['asyncify', 'worker'] as const) {
    for (const mode of ['number', 'bigint', 'string'] as const) {
      const db = await openDatabase(dir, { engine, intMode: mode, readOnly: true, pollIntervalMs: 0, shared: false });
      const other: IntMode = mode === 'number' ? 'string' : 'number';
      const stmt = (await db.prepare<{ v: unknown }>('SELECT v FROM ints WHERE k = ?')).intMode(other).intMode(mode);
      for (const [k, v] of VALUES.entries()) {
        const want = expected(mode, v);
        for (const [how, read] of [['open option', () => db.get<{ v: unknown }>('SELECT v FROM ints WHERE k = ?', [k])], ['statement', () => stmt.get([k])]] as const) {
          const label = `${engine}, ${mode} (${how}): ${v}`;
          if ('value' in want) t.same(await read(), { v: want.value }, label);
          else await t.rejects(read(), { name: 'RangeError', message: want.error }, label);
        }
      }
      // The type of a column does not change with its values.
      if (mode !== 'number') {
        const types = new Set((await db.all<{ v: unknown }>('SELECT v FROM ints')).map((r) => typeof r.v));
        t.same([...types], [mode], `${engine}, ${mode}: one type for the whole column`);
      }
      await db.close();
    }
    // Per statement on a database opened with the default.
    const db = await openDatabase(dir, { engine, readOnly: true, pollIntervalMs: 0, shared: false });
    t.equal(db.intMode, 'number', 'the default');
    const big = await db.prepare('SELECT v FROM ints ORDER BY k');
    await t.rejects(big.all(), RangeError, `${engine}: number mode refuses the column`);
    t.same(await big.safeIntegers().pluck().all(), VALUES, `${engine}: safeIntegers() gives every value exactly`);
    t.same(await big.safeIntegers(false).intMode('string').pluck().all(), VALUES.map(String));
    await db.close();
  }

  // sql.js: its own API, documented in docs/usage.md.
  const SQL = await loadSqlJs();
  const sqljs = await openSqlJs(SQL, dir, { pollIntervalMs: 0 });
  try {
    const stmt = sqljs.prepare('SELECT v FROM ints ORDER BY k');
    const numbers: unknown[] = [];
    const bigints: unknown[] = [];
    while (stmt.step()) numbers.push(stmt.get()[0]);
    stmt.reset();
    // sql.js's get(params, config); its types here (vfs/sqljs/types.ts) leave the config out.
    const getWith = stmt.get as unknown as (params: null, config: { useBigInt: boolean }) => unknown[];
    while (stmt.step()) bigints.push(getWith.call(stmt, null, { useBigInt: true })[0]);
    stmt.free();
    t.same(bigints, VALUES, 'sql.js with { useBigInt: true }: every value exact');
    t.same(numbers, VALUES.map((v) => Number(v)), 'sql.js by default: doubles');
    t.equal(numbers[4], 9223372036854775808, 'which round 2^63 − 1 to 2^63 silently');
  } finally {
    sqljs.close();
  }
});
