/**
 * Output formats of `ltxvfs query`: an aligned text table (the default), JSON (one array
 * of row objects keyed by column name) and CSV (RFC 4180). One rule for integers in both:
 * every INTEGER is written as its exact decimal digits, a JSON number (as `sqlite3 -json`
 * writes it), never a string and never rounded, whatever its size: `9223372036854775807`
 * stays `9223372036854775807` (a reader that parses JSON numbers as doubles, like
 * `JSON.parse`, rounds values beyond ±(2^53−1) itself; parse with a big-number reader to
 * keep them). Blobs are lower-case hex strings, NULL is `null` in JSON and an empty field
 * in CSV.
 */

/** A result row as the Database API returns it. */
export type Row = Record<string, unknown>;

/** A value as JSON can hold it: blobs as hex; bigints are left to {@link formatJson}. */
export function jsonValue(v: unknown): unknown {
  if (v instanceof Uint8Array) return Buffer.from(v.buffer, v.byteOffset, v.byteLength).toString('hex');
  return v;
}

/** One value as JSON text: bigints as their digits, unquoted (module doc). */
function jsonText(v: unknown): string {
  if (typeof v === 'bigint') return v.toString();
  return JSON.stringify(v instanceof Uint8Array ? jsonValue(v) : v) ?? 'null';
}

/** Rows as one JSON array (no trailing newline). */
export function formatJson(rows: Row[]): string {
  return `[${rows.map((r) => `{${Object.entries(r).map(([k, v]) => `${JSON.stringify(k)}:${jsonText(v)}`).join(',')}}`).join(',')}]`;
}

/**
 * Rows as RFC 4180 CSV: a header line of column names, then one line per row, CRLF after
 * each line; a field holding a comma, a double quote, CR or LF is quoted, its quotes
 * doubled. Own code rather than csv-stringify: these few lines are all of RFC 4180's
 * quoting, and the CLI needs no other CSV feature.
 */
export function formatCsv(columns: string[], rows: Row[]): string {
  const field = (v: unknown): string => {
    const text = v === null || v === undefined ? '' : v instanceof Uint8Array ? String(jsonValue(v)) : String(v);
    return /[",\r\n]/.test(text) ? `"${text.replaceAll('"', '""')}"` : text;
  };
  return [columns, ...rows.map((r) => columns.map((c) => r[c]))].map((line) => `${line.map(field).join(',')}\r\n`).join('');
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
