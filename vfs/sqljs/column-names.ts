/**
 * Column names of sql.js statements, decoded once per statement instead of once per row.
 *
 * sql.js's `getAsObject` calls `getColumnNames()` for every row: `sqlite3_column_count`
 * and `sqlite3_column_name` through `cwrap`, a new string per column, and then stores
 * the row's values under those new strings, which V8 must look up in its string table
 * before it can use them as property keys. Measured on one `SELECT name FROM items WHERE
 * id = ?` row (sql.js 1.16, Node 20): `get()` 162 ns, `getColumnNames()` 399 ns,
 * `getAsObject()` 935 ns — a hot-set lookup through the adapter spent more time naming its
 * one column than finding its row.
 *
 * Here, the names of each statement are kept with the UTF-8 bytes they were decoded from.
 * On every call the statement's current names are still asked of SQLite (its column count,
 * and each `sqlite3_column_name` pointer, straight from the wasm exports) and compared
 * byte for byte with the kept ones; only a name whose bytes differ is decoded again. So
 * a statement SQLite re-prepared after a schema change (`ALTER TABLE … RENAME COLUMN`, a
 * view replaced) answers with its new names on its next row, exactly as sql.js's own
 * code would.
 *
 * sql.js keeps a statement's `sqlite3_stmt*` in a property its minified build renames,
 * so {@link installColumnNameCache} finds it on a probe statement: the one numeric own
 * property whose `sqlite3_sql()` is the probe's SQL. If it cannot (another sql.js
 * build), nothing is replaced and sql.js's own functions run.
 */

/** The exports of sql.js's module this uses (present in sql.js 1.16's build). */
export interface SqlJsColumnApi {
  _sqlite3_sql(stmt: number): number;
  _sqlite3_column_count(stmt: number): number;
  _sqlite3_column_name(stmt: number, n: number): number;
  UTF8ToString(ptr: number): string;
}

/** The part of sql.js's `Statement` replaced here. */
interface StatementProto {
  get(params?: unknown, config?: unknown): unknown[];
  getColumnNames(): string[];
  getAsObject(params?: unknown, config?: unknown): Record<string, unknown>;
}

/** The names of one statement, and the bytes each was decoded from. */
interface KeptNames {
  names: string[];
  bytes: Uint8Array[];
}

const PROBE_SQL = 'SELECT 1 AS ltxvfs_probe';

/**
 * Replace `getColumnNames` and `getAsObject` on the `Statement` prototype of sql.js
 * module `sql` (an instance of ltxvfs's own copy: see `loadSqlJs`) with versions that
 * decode each statement's names once (module doc).
 * @param sql the sql.js module (its `Database` class and the exports in {@link SqlJsColumnApi}).
 * @param memory the instance's memory (its `buffer` is replaced when it grows).
 * @returns true when installed; false when the statement handle could not be found (sql.js's own functions stay).
 */
export function installColumnNameCache(
  sql: Partial<SqlJsColumnApi> & { Database: new () => { prepare(s: string): object; close(): void } },
  memory: { readonly buffer: ArrayBuffer },
): boolean {
  if (typeof sql._sqlite3_sql !== 'function' || typeof sql._sqlite3_column_count !== 'function'
    || typeof sql._sqlite3_column_name !== 'function' || typeof sql.UTF8ToString !== 'function') return false;
  const api = sql as SqlJsColumnApi;
  const db = new sql.Database();
  let proto: StatementProto;
  let handleKey: string | undefined;
  try {
    const probe = db.prepare(PROBE_SQL) as Record<string, unknown> & { free(): void };
    proto = Object.getPrototypeOf(probe) as StatementProto;
    handleKey = Object.keys(probe).find((k) => {
      const v = probe[k];
      return typeof v === 'number' && Number.isInteger(v) && v > 0 && v < memory.buffer.byteLength && api.UTF8ToString(api._sqlite3_sql(v)) === PROBE_SQL;
    });
    probe.free();
  } finally {
    db.close();
  }
  if (handleKey === undefined || typeof proto.get !== 'function') return false;
  const key = handleKey;
  const kept = new WeakMap<object, KeptNames>();
  let heap = new Uint8Array(memory.buffer);

  const namesOf = (stmt: StatementProto): string[] => {
    const handle = (stmt as unknown as Record<string, number>)[key];
    const n = api._sqlite3_column_count(handle);
    let k = kept.get(stmt);
    if (k === undefined || k.names.length !== n) {
      k = { names: new Array<string>(n).fill(''), bytes: new Array<Uint8Array>(n).fill(NO_BYTES) };
      kept.set(stmt, k);
    }
    if (heap.buffer !== memory.buffer) heap = new Uint8Array(memory.buffer);
    for (let i = 0; i < n; i++) {
      const ptr = api._sqlite3_column_name(handle, i);
      if (!sameCString(heap, ptr, k.bytes[i])) {
        const end = ptr === 0 ? 0 : heap.indexOf(0, ptr);
        k.bytes[i] = ptr === 0 ? NO_BYTES : heap.slice(ptr, end);
        k.names[i] = api.UTF8ToString(ptr);
      }
    }
    return k.names;
  };

  proto.getColumnNames = function getColumnNames(this: StatementProto): string[] {
    return namesOf(this).slice();
  };
  proto.getAsObject = function getAsObject(this: StatementProto, params?: unknown, config?: unknown): Record<string, unknown> {
    const values = this.get(params, config);
    const names = namesOf(this);
    const row: Record<string, unknown> = {};
    for (let i = 0; i < names.length; i++) {
      const name = names[i];
      // sql.js builds the row with Object.fromEntries, which defines `__proto__` as an own property.
      if (name === '__proto__') Object.defineProperty(row, name, { value: values[i], writable: true, enumerable: true, configurable: true });
      else row[name] = values[i];
    }
    return row;
  };
  return true;
}

const NO_BYTES = new Uint8Array(0);

/** Whether the NUL-terminated string at `ptr` in `heap` is exactly `bytes` (a null `ptr` is the empty string). */
function sameCString(heap: Uint8Array, ptr: number, bytes: Uint8Array): boolean {
  if (ptr === 0) return bytes === NO_BYTES;
  if (bytes === NO_BYTES) return false;
  const n = bytes.length;
  if (heap[ptr + n] !== 0) return false;
  for (let i = 0; i < n; i++) if (heap[ptr + i] !== bytes[i]) return false;
  return true;
}
