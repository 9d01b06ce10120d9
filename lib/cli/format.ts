/**
 * Output formats of `ltxvfs query`: an aligned text table (the default) and JSON (one
 * array of row objects keyed by column name; blobs as lower-case hex strings, integers
 * beyond 2^53 as decimal strings so no digit is lost).
 */

/** A result row as the Database API returns it. */
export type Row = Record<string, unknown>;

/** A value as JSON can hold it. */
export function jsonValue(v: unknown): unknown {
  if (v instanceof Uint8Array) return Buffer.from(v.buffer, v.byteOffset, v.byteLength).toString('hex');
  if (typeof v === 'bigint') return Number.isSafeInteger(Number(v)) ? Number(v) : v.toString();
  return v;
}

/** Rows as one JSON array (no trailing newline). */
export function formatJson(rows: Row[]): string {
  return JSON.stringify(rows.map((r) => Object.fromEntries(Object.entries(r).map(([k, v]) => [k, jsonValue(v)]))));
}

function cell(v: unknown): string {
  if (v === null || v === undefined) return 'NULL';
  if (v instanceof Uint8Array) return `x'${Buffer.from(v.buffer, v.byteOffset, v.byteLength).toString('hex')}'`;
  return String(v);
}

/**
 * Rows as an aligned table: a header line, a rule, one line per row; numbers right-aligned.
 * `columns` gives the column order (and the header when there are no rows).
 */
export function formatTable(columns: string[], rows: Row[]): string {
  const cells = rows.map((r) => columns.map((c) => cell(r[c])));
  const numeric = columns.map((c) => rows.length > 0 && rows.every((r) => typeof r[c] === 'number' || typeof r[c] === 'bigint' || r[c] === null));
  const widths = columns.map((c, i) => Math.max(c.length, ...cells.map((row) => row[i].length)));
  const line = (values: string[]): string =>
    values.map((v, i) => (numeric[i] ? v.padStart(widths[i]) : v.padEnd(widths[i]))).join('  ').trimEnd();
  return [line(columns), widths.map((w) => '-'.repeat(w)).join('  '), ...cells.map(line)].join('\n');
}

/** Byte counts for people: `12.3 MiB`. */
export function formatBytes(n: number): string {
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];
  let v = n;
  let u = 0;
  while (v >= 1024 && u < units.length - 1) {
    v /= 1024;
    u++;
  }
  return u === 0 ? `${n} B` : `${v.toFixed(1)} ${units[u]}`;
}

/** `n word` or `n words`: `plural(1, 'file')` is `1 file`, `plural(2, 'file')` is `2 files`. */
export function plural(n: number, word: string): string {
  return `${n} ${word}${n === 1 ? '' : 's'}`;
}
