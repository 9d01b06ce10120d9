/**
 * Registers engine-neutral SQL functions ({@link SqlFunctionSpec}, lib/connection/sql-surface.ts) on
 * a wa-sqlite connection. Synchronous functions stay synchronous (no Asyncify unwind);
 * only `callAsync` ones are registered as async functions. A throw becomes the SQL
 * error message (`sqlite3_result_error`).
 */
import type { SqlArg, SqlFunctionSpec } from '../../lib/connection/sql-surface.js';
import type { WaSqliteModule } from '../wasm/wa-sqlite.js';

/** `SQLITE_UTF8`. */
const SQLITE_UTF8 = 1;
/** `SQLITE_DIRECTONLY`: not callable from triggers, views or schema structures. */
const SQLITE_DIRECTONLY = 0x0008_0000;

/**
 * Register `spec` on connection `db`.
 * @throws the wa-sqlite SQLiteError when SQLite refuses the registration.
 */
export function registerFunction(sqlite3: SQLiteAPI, module: WaSqliteModule, db: number, spec: SqlFunctionSpec): void {
  const flags = SQLITE_UTF8 | (spec.directOnly ? SQLITE_DIRECTONLY : 0);
  const args = (values: Uint32Array): SqlArg[] => Array.from(values, (v) => sqlite3.value(v) as SqlArg);
  const fail = (ctx: number, err: unknown): void => {
    module.ccall('sqlite3_result_error', null, ['number', 'string', 'number'], [ctx, err instanceof Error ? err.message : String(err), -1]);
  };
  const { call, callAsync } = spec;
  if (callAsync !== undefined) {
    sqlite3.create_function(db, spec.name, spec.nArgs, flags, 0, async (ctx, values) => {
      try {
        sqlite3.result(ctx, await callAsync(args(values)));
      } catch (err) {
        fail(ctx, err);
      }
    });
  } else {
    sqlite3.create_function(db, spec.name, spec.nArgs, flags, 0, (ctx, values) => {
      try {
        sqlite3.result(ctx, call!(args(values)));
      } catch (err) {
        fail(ctx, err);
      }
    });
  }
}
