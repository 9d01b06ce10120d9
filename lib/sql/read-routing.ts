/**
 * Which calls a read pool may take (lib/sql/read-pool.ts), decided from the SQL text
 * alone, before anything runs:
 *
 * - {@link isPooledRead}: one statement that only reads the database — `SELECT …`,
 *   `VALUES …`, or `WITH …` whose statement at parenthesis depth 0 is not an INSERT,
 *   UPDATE, DELETE or REPLACE (SQLite's grammar, https://sqlite.org/lang_with.html). Any
 *   other statement (writes, PRAGMAs, EXPLAIN, DDL) runs on the primary connection. A
 *   wrong "read" could only fail: pooled connections are opened read-only.
 * - {@link changesConnectionState}: a script with a statement whose effect stays on the
 *   connection that ran it and that later reads may depend on — `ATTACH`, `DETACH`,
 *   `CREATE TEMP …` (TEMP tables, views, triggers live per connection) and a PRAGMA that
 *   sets a value (`PRAGMA name = value`, `PRAGMA name(value)` other than the schema
 *   queries), among them `PRAGMA litestream_time` (time travel, docs/formats.md §6).
 *   After one, a Database runs every read on its primary connection.
 *
 * Tokens follow lib/sql/statements.ts (strings, quoted identifiers and comments skipped);
 * answers are cached per SQL text, as these run on every call.
 */
import { splitStatements } from './statements.js';

/** PRAGMAs of the `name(argument)` form that only report (the argument names a schema object). */
const QUERY_PRAGMAS = new Set([
  'TABLE_INFO', 'TABLE_XINFO', 'TABLE_LIST', 'INDEX_INFO', 'INDEX_XINFO', 'INDEX_LIST',
  'FOREIGN_KEY_LIST', 'FOREIGN_KEY_CHECK', 'INTEGRITY_CHECK', 'QUICK_CHECK',
]);

const WRITE_VERBS = new Set(['INSERT', 'UPDATE', 'DELETE', 'REPLACE']);

const CACHE_SIZE = 512;
const readCache = new Map<string, boolean>();
const stateCache = new Map<string, boolean>();

function cached(cache: Map<string, boolean>, sql: string, decide: (sql: string) => boolean): boolean {
  let hit = cache.get(sql);
  if (hit === undefined) {
    try {
      hit = decide(sql);
    } catch {
      // An unterminated string or comment: not a read; SQLite reports it on the primary connection.
      hit = false;
    }
    if (cache.size >= CACHE_SIZE) cache.clear();
    cache.set(sql, hit);
  }
  return hit;
}

/** Whether `sql` is exactly one statement that only reads (module doc). */
export function isPooledRead(sql: string): boolean {
  return cached(readCache, sql, (text) => {
    const statements = splitStatements(text);
    if (statements.length !== 1) return false;
    const [s] = statements;
    if (s.firstWord === 'SELECT' || s.firstWord === 'VALUES') return true;
    if (s.firstWord !== 'WITH') return false;
    return !depthZeroWords(s.text).some((w, i, words) => WRITE_VERBS.has(w) && words[i + 1] !== '(');
  });
}

/** Whether a script run on the primary leaves state there that later reads may depend on (module doc). */
export function changesConnectionState(sql: string): boolean {
  return cached(stateCache, sql, (text) => splitStatements(text).some((s) => {
    if (s.firstWord === 'ATTACH' || s.firstWord === 'DETACH') return true;
    const words = depthZeroWords(s.text);
    if (s.firstWord === 'CREATE') return words[1] === 'TEMP' || words[1] === 'TEMPORARY';
    if (s.firstWord !== 'PRAGMA') return false;
    // PRAGMA [schema.]name followed by = or (.
    let i = 1;
    if (words[i + 1] === '.') i += 2;
    const name = words[i];
    if (words[i + 1] === '=') return true;
    return words[i + 1] === '(' && !QUERY_PRAGMAS.has(name ?? '');
  }));
}

/**
 * The words (upper case) and punctuation of one statement outside parentheses, strings,
 * quoted identifiers and comments; `(` is kept where a group opens.
 */
function depthZeroWords(text: string): string[] {
  const out: string[] = [];
  let depth = 0;
  let i = 0;
  while (i < text.length) {
    const c = text[i];
    if (c === '-' && text[i + 1] === '-') {
      const nl = text.indexOf('\n', i);
      i = nl < 0 ? text.length : nl + 1;
    } else if (c === '/' && text[i + 1] === '*') {
      const close = text.indexOf('*/', i + 2);
      i = close < 0 ? text.length : close + 2;
    } else if (c === "'" || c === '"' || c === '`' || c === '[') {
      const closer = c === '[' ? ']' : c;
      let close = text.indexOf(closer, i + 1);
      while (close >= 0 && c !== '[' && text[close + 1] === c) close = text.indexOf(c, close + 2);
      i = close < 0 ? text.length : close + 1;
      if (depth === 0) out.push('"');
    } else if (c === '(') {
      if (depth === 0) out.push('(');
      depth++;
      i++;
    } else if (c === ')') {
      depth = Math.max(0, depth - 1);
      i++;
    } else if (/[A-Za-z0-9_$]/.test(c) || c.charCodeAt(0) > 0x7f) {
      const start = i;
      while (i < text.length && (/[A-Za-z0-9_$]/.test(text[i]) || text.charCodeAt(i) > 0x7f)) i++;
      if (depth === 0) out.push(text.slice(start, i).toUpperCase());
    } else {
      if (depth === 0 && (c === '=' || c === '.')) out.push(c);
      i++;
    }
  }
  return out;
}
