import t from 'tap';
import { formatRfc3339Nano, parseRfc3339 } from '../../../lib/storage/rfc3339.js';

t.test('formatRfc3339Nano prints like Go time.RFC3339Nano in UTC', async (t) => {
  t.equal(formatRfc3339Nano(1795254709256), '2026-11-21T09:51:49.256Z');
  t.equal(formatRfc3339Nano(1795254709000), '2026-11-21T09:51:49Z', 'no fraction for whole seconds');
  t.equal(formatRfc3339Nano(1795254709200), '2026-11-21T09:51:49.2Z', 'trailing zeros trimmed');
  t.equal(formatRfc3339Nano(1795254709256.5), '2026-11-21T09:51:49.2565Z', 'sub-ms kept to the ns');
  t.equal(formatRfc3339Nano(0), '1970-01-01T00:00:00Z');
  t.equal(formatRfc3339Nano(-1), '1969-12-31T23:59:59.999Z');
  t.throws(() => formatRfc3339Nano(Date.UTC(10000, 0, 1)), RangeError);
  t.throws(() => formatRfc3339Nano(NaN), RangeError);
  t.throws(() => formatRfc3339Nano(Infinity), RangeError);
});

t.test('parseRfc3339 reads RFC 3339 times to the ms', async (t) => {
  t.equal(parseRfc3339('2026-11-21T09:51:49.256Z'), 1795254709256);
  t.equal(parseRfc3339('2026-11-21T09:51:49.256999999Z'), 1795254709256, 'ns rounded down');
  t.equal(parseRfc3339('2026-11-21T09:51:49.2Z'), 1795254709200);
  t.equal(parseRfc3339('2026-11-21T09:51:49Z'), 1795254709000);
  t.equal(parseRfc3339('2026-11-21t09:51:49z'), 1795254709000, 'either case');
  t.equal(parseRfc3339('2026-11-21T11:51:49.256+02:00'), 1795254709256);
  t.equal(parseRfc3339('2026-11-21T08:21:49.256-01:30'), 1795254709256);
  t.equal(parseRfc3339(' 2026-11-21T09:51:49Z '), 1795254709000, 'surrounding blanks');
  t.equal(parseRfc3339('0001-01-01T00:00:00Z'), new Date('0001-01-01T00:00:00Z').getTime(), 'years below 100 are literal');
  for (const bad of ['', 'yesterday', '2026-11-21 09:51:49Z', '2026-11-21T09:51:49', '2026-13-01T00:00:00Z', '2026-02-30T00:00:00Z',
    '2026-00-10T00:00:00Z', '2026-01-00T00:00:00Z', '2026-01-01T24:00:00Z', '2026-01-01T00:60:00Z', '2026-01-01T00:00:60Z',
    '2026-01-01T00:00:00.1234567890Z']) {
    t.equal(parseRfc3339(bad), undefined, JSON.stringify(bad));
  }
});
