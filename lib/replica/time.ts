/**
 * Time values of the Litestream SQL surface (docs/formats.md §6.2): what `PRAGMA
 * litestream_time = …` and `litestream_set_time(…)` accept, and how times are printed.
 * Tried in order, as the Litestream VFS does: `latest` (any case), RFC 3339 with or
 * without a fraction, then natural language relative to now ("5 minutes ago",
 * "yesterday") — parsed with chrono-node, where Litestream uses go-dateparser.
 */
import { createRequire } from 'node:module';
import { LtxvfsError } from '../../ltx/errors.js';

/**
 * chrono-node's English parser (`chrono-node/en`, what its default export is), loaded on
 * first use: ~9–14 MiB of memory and ~50–180 ms that only relative times need (measured on
 * Node 20), so it is not imported at load. Loaded synchronously because the PRAGMA
 * handlers that parse times are synchronous. The free `require` is there for bundlers:
 * esbuild inlines a literal `require('chrono-node/en')` into an ESM bundle (evaluated
 * lazily), so a bundle needs no node_modules; unbundled ESM has no `require` and takes
 * `createRequire`.
 */
type Chrono = typeof import('chrono-node/en');
let chronoModule: Chrono | undefined;
function chrono(): Chrono {
  chronoModule ??= (typeof require === 'function' ? require('chrono-node/en') : createRequire(import.meta.url)('chrono-node/en')) as Chrono;
  return chronoModule;
}

/** RFC 3339: date, `T` (or `t`/space), time, optional fraction, `Z` or an offset. */
const RFC3339 = /^(\d{4})-(\d{2})-(\d{2})[Tt ](\d{2}):(\d{2}):(\d{2})(\.\d{1,9})?([Zz]|[+-]\d{2}:\d{2})$/;

/** A parsed time target: `latest`, or an instant in ms since the Unix epoch. */
export type TimeTarget = 'latest' | number;

/**
 * Parse a time value.
 * @param text `latest`, an RFC 3339 time, or a relative expression like `5 minutes ago`.
 * @param now the instant relative expressions count from, ms. Default `Date.now()`.
 * @returns `'latest'` or ms since the epoch (fractions below 1 ms are dropped: LTX timestamps are ms).
 * @throws LtxvfsError `LTXVFS_ERR_USAGE` with Litestream's message:
 *   `invalid timestamp (expected RFC3339 or relative time like '5 minutes ago'): <value>`.
 */
export function parseTime(text: string, now: number = Date.now()): TimeTarget {
  const value = text.trim();
  if (value.toLowerCase() === 'latest') return 'latest';
  const m = RFC3339.exec(value);
  if (m !== null) {
    const ms = Date.parse(value.replace(' ', 'T').replace(/\.(\d{1,9})/, (_f, digits: string) => `.${digits.padEnd(3, '0').slice(0, 3)}`));
    if (Number.isFinite(ms)) return ms;
  } else if (value !== '') {
    const results = chrono().parse(value, { instant: new Date(now), timezone: 'UTC' });
    const r = results[0];
    // The whole value must be the expression: "5 minutes ago please" is not a time.
    if (results.length === 1 && r.index === 0 && r.text.length === value.length) return r.start.date().getTime();
  }
  throw new LtxvfsError('LTXVFS_ERR_USAGE', `invalid timestamp (expected RFC3339 or relative time like '5 minutes ago'): ${text}`);
}

/**
 * Parse a state to open or restore (`--at`, `openDatabase({ at })`): a TXID — decimal, or
 * 16 hex digits as Litestream prints them — or anything {@link parseTime} accepts.
 * @returns `'latest'`, `{ txid }` or `{ time }` (ms).
 * @throws LtxvfsError `LTXVFS_ERR_USAGE` as {@link parseTime}.
 */
export function parseTarget(at: string, now: number = Date.now()): 'latest' | { txid: number } | { time: number } {
  const s = at.trim();
  if (/^\d{1,15}$/.test(s)) return { txid: Number(s) };
  if (/^[0-9a-f]{16}$/i.test(s)) return { txid: Number.parseInt(s, 16) };
  const t = parseTime(s, now);
  return t === 'latest' ? t : { time: t };
}

/**
 * Format an instant the way Litestream prints times (Go's `time.RFC3339Nano` in UTC:
 * fraction with trailing zeros trimmed, none when whole seconds), e.g. `2026-11-21T09:51:56.305Z`.
 * @param ms ms since the Unix epoch.
 */
export function formatTime(ms: number): string {
  const iso = new Date(ms).toISOString(); // always .sssZ
  return iso.replace(/\.(\d{3})Z$/, (_m, frac: string) => {
    const trimmed = frac.replace(/0+$/, '');
    return trimmed === '' ? 'Z' : `.${trimmed}Z`;
  });
}

/**
 * Refuse a time-travel target in the future (`--at '5 minutes from now'`, a date in 2099):
 * the replica holds no state for it yet, and answering with the newest state would pass
 * today's rows off as the future's. Times between the newest file and now are the newest
 * state, as with Litestream (a quiet replica's "5 minutes ago" is its newest state).
 * @param time the instant asked for, ms since the epoch.
 * @param files the replica's files (a listing), to name the newest in the message.
 * @param now the present, ms. Default `Date.now()`.
 * @throws LtxvfsError `LTXVFS_ERR_USAGE` naming the time, now, and the newest file's key and time.
 */
export function checkTimeTarget(time: number, files: readonly { key: string; createdAt: number }[], now: number = Date.now()): void {
  if (time <= now) return;
  const newest = files.reduce<{ key: string; createdAt: number } | undefined>((a, f) => (a === undefined || f.createdAt > a.createdAt ? f : a), undefined);
  const last = newest === undefined ? 'the replica has no LTX files' : `its newest LTX file, ${newest.key}, was created at ${formatTime(newest.createdAt)}`;
  throw new LtxvfsError('LTXVFS_ERR_USAGE',
    `time ${formatTime(time)} is in the future (now ${formatTime(now)}): the replica has no state for it yet; ${last}`);
}
