/**
 * Where `query` and `exec` get their SQL and parameters: the SQL argument, or stdin when
 * it is `-` or missing (as `sqlite3 db < script.sql`); `--param` values bound to it.
 */
import { LtxvfsError } from '../../ltx/errors.js';
import type { Params } from '../sql/database.js';
import type { CliIO, CommandValues } from './command.js';

/**
 * The SQL to run: `arg`, or all of stdin when `arg` is `-` or undefined.
 * @throws LtxvfsError `LTXVFS_ERR_USAGE` when stdin is wanted but is a terminal or absent, or holds only whitespace.
 */
export async function readSql(arg: string | undefined, io: CliIO): Promise<string> {
  if (arg !== undefined && arg !== '-') return arg;
  const stdin = io.stdin;
  if (stdin === undefined || stdin.isTTY === true) {
    throw new LtxvfsError('LTXVFS_ERR_USAGE', 'no SQL: give it as an argument, or pipe it in (echo "SELECT 1" | ltxvfs query <url>)');
  }
  let text = '';
  for await (const chunk of stdin) text += typeof chunk === 'string' ? chunk : (chunk as Buffer).toString('utf8');
  if (text.trim() === '') throw new LtxvfsError('LTXVFS_ERR_USAGE', 'no SQL on stdin (it was empty)');
  return text;
}

const INTEGER = /^[+-]?\d+$/;
const REAL = /^[+-]?(\d+\.\d*|\.\d+|\d+)([eE][+-]?\d+)?$/;
const NAMED = /^([:@$][A-Za-z_][A-Za-z0-9_]*)=(.*)$/s;

/**
 * One `--param` value as SQLite gets it: digits (optionally signed) bind as INTEGER (a
 * bigint beyond ±(2^53−1)), a decimal or exponent number as REAL, a value in single quotes
 * as the TEXT between them (`'007'` → `007`, `''` inside for one quote), anything else as TEXT.
 * @throws LtxvfsError `LTXVFS_ERR_USAGE` for an integer outside 64 bits or a REAL that overflows.
 */
export function paramValue(text: string): string | number | bigint {
  if (text.length >= 2 && text.startsWith("'") && text.endsWith("'")) return text.slice(1, -1).replaceAll("''", "'");
  if (INTEGER.test(text)) {
    const n = BigInt(text);
    if (n < -(2n ** 63n) || n > 2n ** 63n - 1n) {
      throw new LtxvfsError('LTXVFS_ERR_USAGE', `--param ${text}: does not fit a 64-bit INTEGER; quote it ('${text}') to bind it as TEXT`);
    }
    return Number.isSafeInteger(Number(n)) ? Number(n) : n;
  }
  if (REAL.test(text)) {
    const n = Number(text);
    if (!Number.isFinite(n)) throw new LtxvfsError('LTXVFS_ERR_USAGE', `--param ${text}: out of range for a REAL; quote it to bind it as TEXT`);
    return n;
  }
  return text;
}

/**
 * The `--param` values as statement parameters: all positional (an array, `?` and `?NNN`
 * in order) or all named (`:name=value`, `@name=value`, `$name=value`; an object).
 * @returns undefined when no `--param` was given.
 * @throws LtxvfsError `LTXVFS_ERR_USAGE` naming the value when named and positional are mixed, or as {@link paramValue}.
 */
export function parseParams(values: CommandValues[string]): Params | undefined {
  const list = Array.isArray(values) ? values : typeof values === 'string' ? [values] : [];
  if (list.length === 0) return undefined;
  const named = list.map((v) => NAMED.exec(v));
  if (named.every((m) => m === null)) return list.map(paramValue);
  const mixed = list.find((_, i) => named[i] === null);
  if (mixed !== undefined) {
    throw new LtxvfsError('LTXVFS_ERR_USAGE', `--param ${mixed}: positional, but other --param values are named (:name=value); use one kind`);
  }
  return Object.fromEntries(named.map((m) => [m![1], paramValue(m![2])]));
}
