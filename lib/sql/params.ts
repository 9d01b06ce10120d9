/**
 * JavaScript values → SQLite values for `Database` (lib/sql/database.ts): binding
 * statement parameters (positional or named; numbers as 32-bit, 64-bit integers or
 * doubles, bigints as 64-bit integers, booleans as 1/0). Rows are built by `readRow`
 * (lib/sql/statement.ts), which applies the integer mode.
 */
import { LtxvfsError } from '../../ltx/errors.js';
import type { BindValue, Params, SqliteApi } from './types.js';

const INT32_MIN = -0x8000_0000;
const INT32_MAX = 0x7fff_ffff;
const INT64_MIN = -(2n ** 63n);
const INT64_MAX = 2n ** 63n - 1n;

/** Bind `params` to every parameter of `stmt`, or fail with `LTXVFS_ERR_USAGE`. */
export function bindParams(api: SqliteApi, stmt: number, params: Params | undefined): void {
  const count = api.bind_parameter_count(stmt);
  if (params === undefined) {
    if (count > 0) throw new LtxvfsError('LTXVFS_ERR_USAGE', `the statement has ${count} parameter(s) and none were given`);
    return;
  }
  if (isArray(params)) {
    if (params.length !== count) {
      throw new LtxvfsError('LTXVFS_ERR_USAGE', `the statement has ${count} parameter(s), ${params.length} were given`);
    }
    for (let i = 0; i < count; i++) bindValue(api, stmt, i + 1, params[i], `?${i + 1}`);
    return;
  }
  for (let i = 1; i <= count; i++) {
    const name = api.bind_parameter_name(stmt, i);
    if (!name || name.startsWith('?')) {
      throw new LtxvfsError('LTXVFS_ERR_USAGE', `parameter ${i} is positional: pass an array`);
    }
    const value = Object.hasOwn(params, name) ? params[name] : params[name.slice(1)];
    if (value === undefined) throw new LtxvfsError('LTXVFS_ERR_USAGE', `no value for parameter ${name}`);
    bindValue(api, stmt, i, value, name);
  }
}

function isArray(params: Params): params is readonly BindValue[] {
  return Array.isArray(params);
}

function bindValue(api: SqliteApi, stmt: number, i: number, value: BindValue | undefined, label: string): void {
  if (value === null) {
    api.bind_null(stmt, i);
  } else if (typeof value === 'number') {
    if (Number.isInteger(value) && value >= INT32_MIN && value <= INT32_MAX) api.bind_int(stmt, i, value);
    else if (Number.isSafeInteger(value)) api.bind_int64(stmt, i, BigInt(value));
    else api.bind_double(stmt, i, value);
  } else if (typeof value === 'bigint') {
    if (value < INT64_MIN || value > INT64_MAX) {
      throw new LtxvfsError('LTXVFS_ERR_USAGE', `parameter ${label}: ${value} does not fit a 64-bit integer`);
    }
    api.bind_int64(stmt, i, value);
  } else if (typeof value === 'string') {
    api.bind_text(stmt, i, value);
  } else if (typeof value === 'boolean') {
    api.bind_int(stmt, i, value ? 1 : 0);
  } else if (value instanceof Uint8Array) {
    api.bind_blob(stmt, i, value);
  } else {
    throw new LtxvfsError('LTXVFS_ERR_USAGE', `parameter ${label}: cannot bind a value of type ${describe(value)}`);
  }
}

function describe(value: unknown): string {
  return value === undefined ? 'undefined' : ((value as object).constructor?.name ?? typeof value);
}
