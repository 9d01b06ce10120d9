/**
 * The warm path's SQLite calls on wa-sqlite's Asyncify module without wa-sqlite's wrappers
 * (issue 15 item 2, "cheap warm paths"): what a prepared lookup calls per row goes to the
 * module's exports directly.
 *
 * Why: wa-sqlite builds its API with Emscripten's `cwrap`, which returns the export itself
 * only for a function with numeric arguments and result and no options; for one returning
 * `'string'` (`sqlite3_column_text`, `sqlite3_column_name`, `sqlite3_errmsg`) or declared
 * `async` (`sqlite3_step`, `sqlite3_reset`) every call goes through `ccall`, which looks the
 * export up by name (`getCFunc`), and an `async` one always answers with a Promise.
 *
 * - Columns: `sqlite3_column_text` then `sqlite3_column_bytes` (the order SQLite's
 *   documentation gives, https://sqlite.org/c3ref/column_blob.html), decoded over the known
 *   length by a `Buffer` view of the wasm memory (`toString('utf8', …)`: half the time of
 *   a `TextDecoder` call for short values, measured on Node 20; both replace bad UTF-8
 *   with U+FFFD), rebuilt when the memory grows. `column` reads an integer with
 *   `sqlite3_column_double` first — SQLite converts it with a C cast
 *   (`sqlite3VdbeRealValue`), exact below 2^53 in magnitude, one export call instead of two —
 *   and beyond that as the legalized i64 return (low 32 bits, high 32 bits from
 *   `getTempRet0`), as wa-sqlite's own `column` reads it.
 * - `stepNow` / `resetNow`: Emscripten's `ccall` without the `async` option returns the
 *   export's result itself when Asyncify did not unwind during the call, and a Promise of
 *   it when it did (`ccall` compares `Asyncify.currData` before and after the call:
 *   node_modules/@journeyapps/wa-sqlite/dist/wa-sqlite-async.mjs, `var ccall=`). The
 *   module does not expose `Asyncify`, so `ccall` is the one way to tell the two apart: a
 *   step served from cached pages returns its result code at once, a step that pages in
 *   from the replica suspends and answers later. wa-sqlite's `step` also waits for
 *   `Module.retryOps`; only VFSes that ask for retries fill it, and ltxvfs's never does.
 *
 * Statement handles are not checked against wa-sqlite's map of prepared statements here:
 * the caller (lib/sql/sqlite-ops.ts) only passes handles it prepared and has not finalized.
 */
import * as SQLite from '@journeyapps/wa-sqlite';
import type { WaSqliteModule } from '../wasm/wa-sqlite-types.js';

/** The exports of wa-sqlite's module used here (present in wa-sqlite 2.x's Asyncify build). */
interface RawExports {
  _sqlite3_column_count(stmt: number): number;
  _sqlite3_column_name(stmt: number, i: number): number;
  _sqlite3_column_type(stmt: number, i: number): number;
  _sqlite3_column_int64(stmt: number, i: number): number;
  _sqlite3_column_double(stmt: number, i: number): number;
  _sqlite3_column_text(stmt: number, i: number): number;
  _sqlite3_column_blob(stmt: number, i: number): number;
  _sqlite3_column_bytes(stmt: number, i: number): number;
  _sqlite3_db_handle(stmt: number): number;
  _sqlite3_errmsg(db: number): number;
  _sqlite3_stmt_status(stmt: number, op: number, reset: number): number;
  getTempRet0(): number;
}

const RAW_EXPORTS = [
  '_sqlite3_column_count', '_sqlite3_column_name', '_sqlite3_column_type', '_sqlite3_column_int64',
  '_sqlite3_column_double', '_sqlite3_column_text', '_sqlite3_column_blob', '_sqlite3_column_bytes',
  '_sqlite3_db_handle', '_sqlite3_errmsg', '_sqlite3_stmt_status', 'getTempRet0', 'ccall',
] as const;

/** wa-sqlite's API with the calls of {@link withRawCalls}. */
export interface RawCallsApi extends SQLiteAPI {
  /** `sqlite3_step`: the result code itself unless the step suspended (module doc). @throws wa-sqlite's `SQLiteError` for a code other than ROW and DONE. */
  stepNow(stmt: number): number | Promise<number>;
  /** `sqlite3_reset`: its result code (not checked), itself unless the reset suspended. */
  resetNow(stmt: number): number | Promise<number>;
  /** `sqlite3_stmt_status(stmt, SQLITE_STMTSTATUS_REPREPARE, 0)`. */
  reprepares(stmt: number): number;
}

/** https://sqlite.org/c3ref/c_stmtstatus_counter.html */
const SQLITE_STMTSTATUS_REPREPARE = 5;

/** High word bounds of an integer whose magnitude is at most 2^53: a `number` holds it exactly. */
const SAFE_HIGH = 0x20_0000;
/** 2^53: below it in magnitude an integer converted to a double is exact. */
const TWO_53 = 2 ** 53;

/**
 * `sqlite3` (wa-sqlite's API over `module`) with the warm path's calls made on the raw
 * exports (module doc), or `sqlite3` unchanged when `module` lacks one of them.
 */
export function withRawCalls(sqlite3: SQLiteAPI, module: WaSqliteModule): SQLiteAPI | RawCallsApi {
  const m = module as WaSqliteModule & Partial<RawExports>;
  if (RAW_EXPORTS.some((name) => typeof m[name] !== 'function')) return sqlite3;
  const raw = m as WaSqliteModule & RawExports;
  /** A view of the wasm memory, rebuilt when the memory has grown (a new ArrayBuffer). */
  let heap = Buffer.from(raw.HEAPU8.buffer);
  const check = (stmt: number, rc: number): number => {
    if (rc === SQLite.SQLITE_ROW || rc === SQLite.SQLITE_DONE) return rc;
    throw new SQLite.SQLiteError(raw.UTF8ToString(raw._sqlite3_errmsg(raw._sqlite3_db_handle(stmt))), rc);
  };
  const api: RawCallsApi = {
    ...sqlite3,
    stepNow(stmt) {
      const rc = raw.ccall('sqlite3_step', 'number', ['number'], [stmt]) as number | Promise<number>;
      return typeof rc === 'number' ? check(stmt, rc) : rc.then((code) => check(stmt, code));
    },
    resetNow(stmt) {
      return raw.ccall('sqlite3_reset', 'number', ['number'], [stmt]) as number | Promise<number>;
    },
    reprepares: (stmt) => raw._sqlite3_stmt_status(stmt, SQLITE_STMTSTATUS_REPREPARE, 0),
    column_count: (stmt) => raw._sqlite3_column_count(stmt),
    column_names(stmt) {
      const n = raw._sqlite3_column_count(stmt);
      const names = new Array<string>(n);
      for (let i = 0; i < n; i++) names[i] = raw.UTF8ToString(raw._sqlite3_column_name(stmt, i));
      return names;
    },
    column_type: (stmt, i) => raw._sqlite3_column_type(stmt, i),
    column_double: (stmt, i) => raw._sqlite3_column_double(stmt, i),
    column_int64(stmt, i) {
      const lo = raw._sqlite3_column_int64(stmt, i) >>> 0;
      return (BigInt(raw.getTempRet0() | 0) << 32n) | BigInt(lo);
    },
    column_text(stmt, i) {
      const ptr = raw._sqlite3_column_text(stmt, i);
      const n = raw._sqlite3_column_bytes(stmt, i);
      if (n === 0) return '';
      const memory = raw.HEAPU8.buffer;
      if (heap.buffer !== memory) heap = Buffer.from(memory);
      return heap.toString('utf8', ptr, ptr + n);
    },
    column_blob(stmt, i) {
      const ptr = raw._sqlite3_column_blob(stmt, i);
      const n = raw._sqlite3_column_bytes(stmt, i);
      return raw.HEAPU8.subarray(ptr, ptr + n);
    },
    column(stmt, i) {
      switch (raw._sqlite3_column_type(stmt, i)) {
        case SQLite.SQLITE_INTEGER: {
          const d = raw._sqlite3_column_double(stmt, i);
          if (d > -TWO_53 && d < TWO_53) return d;
          const lo = raw._sqlite3_column_int64(stmt, i) >>> 0;
          const hi = raw.getTempRet0() | 0;
          // wa-sqlite's cvt32x2AsSafe: a number when it is exact, else a bigint.
          return hi >= -SAFE_HIGH && hi < SAFE_HIGH ? hi * 0x1_0000_0000 + lo : (BigInt(hi) << 32n) | BigInt(lo);
        }
        case SQLite.SQLITE_FLOAT:
          return raw._sqlite3_column_double(stmt, i);
        case SQLite.SQLITE_TEXT:
          return api.column_text(stmt, i);
        case SQLite.SQLITE_BLOB:
          return api.column_blob(stmt, i);
        default:
          return null;
      }
    },
  };
  return api;
}
