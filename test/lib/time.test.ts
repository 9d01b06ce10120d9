import t from 'tap';
import { formatTime, parseTime } from '../../lib/time.js';

const NOW = Date.parse('2026-11-21T12:00:00Z');

t.test('latest in any case', async (t) => {
  t.equal(parseTime('latest'), 'latest');
  t.equal(parseTime(' LaTeSt '), 'latest');
});

t.test('RFC 3339 with and without fractions and offsets', async (t) => {
  t.equal(parseTime('2026-11-21T09:51:52Z'), Date.parse('2026-11-21T09:51:52.000Z'));
  t.equal(parseTime('2026-11-21T09:51:52.792Z'), Date.parse('2026-11-21T09:51:52.792Z'));
  t.equal(parseTime('2026-11-21T09:51:52.7929999Z'), Date.parse('2026-11-21T09:51:52.792Z'), 'sub-ms digits dropped');
  t.equal(parseTime('2026-11-21T09:51:52.5Z'), Date.parse('2026-11-21T09:51:52.500Z'));
  t.equal(parseTime('2026-11-21T09:51:50+00:00'), Date.parse('2026-11-21T09:51:50Z'));
  t.equal(parseTime('2026-11-21T11:51:50+02:00'), Date.parse('2026-11-21T09:51:50Z'));
  t.equal(parseTime('2026-11-21 09:51:50Z'), Date.parse('2026-11-21T09:51:50Z'));
});

t.test('relative expressions count from now', async (t) => {
  t.equal(parseTime('5 minutes ago', NOW), NOW - 5 * 60_000);
  t.equal(parseTime('2 hours ago', NOW), NOW - 2 * 3_600_000);
  t.equal(parseTime('10 seconds ago', NOW), NOW - 10_000);
  t.equal(parseTime('3 days ago', NOW), NOW - 3 * 86_400_000);
  t.ok((parseTime('yesterday', NOW) as number) < NOW - 12 * 3_600_000 + 1);
  t.type(parseTime('2026-11-20', NOW), 'number', 'plain dates are natural language too, as with go-dateparser');
});

t.test('anything else is Litestream\'s invalid-timestamp error', async (t) => {
  for (const bad of ['garbage', '', '5 minutes ago please', '2026-13-45T99:00:00Z']) {
    t.throws(() => parseTime(bad, NOW), {
      code: 'LTXVFS_ERR_USAGE',
      message: `invalid timestamp (expected RFC3339 or relative time like '5 minutes ago'): ${bad}`,
    }, JSON.stringify(bad));
  }
});

t.test('times print like Go RFC3339Nano in UTC', async (t) => {
  t.equal(formatTime(Date.parse('2026-11-21T09:51:56.305Z')), '2026-11-21T09:51:56.305Z');
  t.equal(formatTime(Date.parse('2026-11-21T09:51:52.000Z')), '2026-11-21T09:51:52Z');
  t.equal(formatTime(Date.parse('2026-11-21T09:51:52.500Z')), '2026-11-21T09:51:52.5Z');
  t.equal(formatTime(1795254716305), '2026-11-21T09:51:56.305Z');
});
