import t from 'tap';
import { checkTimeTarget, formatTime, parseTime } from '../../lib/replica/time.js';

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

t.test('checkTimeTarget: a time after now is refused naming the newest file and its time; now and earlier pass', async (t) => {
  const files = [
    { key: 'ltx/0/0000000000000001-0000000000000001.ltx', createdAt: NOW - 60_000 },
    { key: 'ltx/1/0000000000000001-0000000000000002.ltx', createdAt: NOW - 10_000 },
    { key: 'ltx/0/0000000000000002-0000000000000002.ltx', createdAt: NOW - 20_000 },
  ];
  t.doesNotThrow(() => checkTimeTarget(NOW, files, NOW));
  t.doesNotThrow(() => checkTimeTarget(NOW - 5_000, files, NOW), 'after the newest file, not in the future: the newest state');
  t.throws(() => checkTimeTarget(NOW + 1, files, NOW), {
    code: 'LTXVFS_ERR_USAGE',
    message: 'time 2026-11-21T12:00:00.001Z is in the future (now 2026-11-21T12:00:00Z): the replica has no state for it yet; ' +
      'its newest LTX file, ltx/1/0000000000000001-0000000000000002.ltx, was created at 2026-11-21T11:59:50Z',
  });
  t.throws(() => checkTimeTarget(parseTime('5 minutes from now', NOW) as number, [], NOW), { message: /in the future .*; the replica has no LTX files$/ });
});
