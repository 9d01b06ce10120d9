/**
 * RFC 3339 times as Litestream writes them: Go's `time.RFC3339Nano` in UTC, used for the
 * `litestream-timestamp` object metadata of every backend that stores it (litestream
 * s3/replica_client.go writes `timestamp.Format(time.RFC3339Nano)`; abs, gs, nats do the
 * same) and for the lease's `expires_at` (docs/formats.md §4.1, §5.2). Shared by the
 * backends and lib/write, so that no backend imports another (test/architecture.test.ts).
 */

/**
 * A time in ms since the epoch as Go's `time.RFC3339Nano` prints it in UTC: fraction with
 * trailing zeros trimmed and no `.` at all for whole seconds, e.g.
 * `2026-11-21T09:51:49.256Z`, `2026-11-21T09:51:49Z`. Fractions of a ms are kept to the ns.
 * @throws RangeError for a time outside years 0000–9999 (RFC 3339 has four-digit years).
 */
export function formatRfc3339Nano(ms: number): string {
  const whole = Math.floor(ms);
  const subMsNs = Math.round((ms - whole) * 1e6);
  const d = new Date(whole);
  const year = d.getUTCFullYear();
  if (!Number.isFinite(ms) || year < 0 || year > 9999) throw new RangeError(`time ${String(ms)} ms is outside years 0000-9999`);
  const pad = (n: number, w = 2) => String(n).padStart(w, '0');
  const ns = d.getUTCMilliseconds() * 1_000_000 + subMsNs;
  const frac = ns === 0 ? '' : `.${pad(ns, 9).replace(/0+$/, '')}`;
  return (
    `${pad(year, 4)}-${pad(d.getUTCMonth() + 1)}-${pad(d.getUTCDate())}` +
    `T${pad(d.getUTCHours())}:${pad(d.getUTCMinutes())}:${pad(d.getUTCSeconds())}${frac}Z`
  );
}

const RFC3339 = /^(\d{4})-(\d{2})-(\d{2})[Tt](\d{2}):(\d{2}):(\d{2})(?:\.(\d{1,9}))?(?:([Zz])|([+-])(\d{2}):(\d{2}))$/;

/**
 * Parse an RFC 3339 time (Go's `time.RFC3339Nano` accepts any fraction length up to ns,
 * `Z` or a `±hh:mm` offset) into ms since the epoch, rounded down to the ms.
 * @returns `undefined` for anything else.
 */
export function parseRfc3339(text: string): number | undefined {
  const m = RFC3339.exec(text.trim());
  if (m === null) return undefined;
  const [, y, mo, d, h, mi, s, frac, z, sign, oh, om] = m;
  const month = Number(mo);
  const day = Number(d);
  if (month < 1 || month > 12 || day < 1 || day > 31 || Number(h) > 23 || Number(mi) > 59 || Number(s) > 59) return undefined;
  let t = Date.UTC(Number(y), month - 1, day, Number(h), Number(mi), Number(s));
  // Date.UTC maps years 0–99 to 1900–1999; RFC 3339 years are literal.
  if (Number(y) < 100) t = new Date(t).setUTCFullYear(Number(y));
  if (new Date(t).getUTCDate() !== day) return undefined;
  if (frac !== undefined) t += Math.floor(Number(frac.padEnd(9, '0')) / 1_000_000);
  if (z === undefined) {
    const offsetMs = (Number(oh) * 60 + Number(om)) * 60_000;
    t += sign === '+' ? -offsetMs : offsetMs;
  }
  return t;
}
