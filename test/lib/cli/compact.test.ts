/**
 * `ltxvfs compact <url> [--retention <ms|duration>] [--no-snapshot]`: what it prints, its
 * exit codes, and the duration syntax of --retention.
 */
import t from 'tap';
import { readdir } from 'node:fs/promises';
import { join } from 'node:path';
import { parseDurationMs } from '../../../lib/cli/commands.js';
import { flipBit, historyFromStates, keyOf, sqlJsHistory, writeReplica } from '../../helpers/replica-builder.js';
import { cli } from '../../helpers/cli.js';


const TRANSACTIONS = [
  'CREATE TABLE t (id INTEGER PRIMARY KEY, v TEXT)',
  "INSERT INTO t (v) VALUES ('a'), ('b')",
  "UPDATE t SET v = 'c' WHERE id = 1",
  "INSERT INTO t (v) VALUES ('d')",
];

async function replica(dir: string, timestamp?: number): Promise<string[]> {
  const specs = historyFromStates(await sqlJsHistory(TRANSACTIONS), { timestamp });
  await writeReplica(dir, specs);
  return specs.map(keyOf);
}

const levels = async (dir: string) => Object.fromEntries(await Promise.all((await readdir(join(dir, 'ltx'))).map(async (l) => [l, (await readdir(join(dir, 'ltx', l))).sort()])));

t.test('compact merges, snapshots and deletes, printing one line per step', async (t) => {
  const dir = t.testdir();
  const keys = await replica(dir);
  const r = await cli(['compact', dir, '--retention', '0']);
  t.equal(r.code, 0, r.stderr);
  t.match(r.stdout, new RegExp([
    String.raw`^compacted 4 level-0 files \(TXID 0000000000000001-0000000000000004\) into ltx/1/0000000000000001-0000000000000004\.ltx \(\d+ B\)`,
    String.raw`snapshot ltx/9/0000000000000001-0000000000000004\.ltx \(\d+ B\)`,
    ...keys.slice(0, 3).map((k) => `deleted ${k.replace(/\./g, '\\.')}`),
    String.raw`read \d+(\.\d)? (B|KiB), wrote \d+(\.\d)? (B|KiB), deleted 3 files\n$`,
  ].join('\n')));
  t.equal(r.stderr, '');
  t.same(await levels(dir), {
    0: ['0000000000000004-0000000000000004.ltx'], 1: ['0000000000000001-0000000000000004.ltx'], 9: ['0000000000000001-0000000000000004.ltx'],
  });

  const again = await cli(['compact', `file://${dir}`]);
  t.equal(again.code, 0, again.stderr);
  t.equal(again.stdout, 'nothing new to compact (level 1 ends at TXID 0000000000000004)\nread 0 B, wrote 0 B, deleted 0 files\n');
  const verify = await cli(['verify', dir]);
  t.equal(verify.code, 0, verify.stdout);
});

t.test('--no-snapshot writes level 1 only; the default retention (5 minutes) keeps fresh level-0 files; the URL may come from the environment', async (t) => {
  const dir = t.testdir();
  await replica(dir, Date.now());
  const r = await cli(['compact', '', '--no-snapshot'], { LITESTREAM_REPLICA_URL: `file://${dir}` });
  t.equal(r.code, 0, r.stderr);
  t.match(r.stdout, /^compacted 4 level-0 files .*\nread \d+ B, wrote \d+ B, deleted 0 files\n$/);
  t.notMatch(r.stdout, /snapshot/);
  t.same(Object.keys(await levels(dir)), ['0', '1']);
  const one = await cli(['compact', dir, '--retention', '1h30m']);
  t.match(one.stdout, /^nothing new to compact .*\nsnapshot ltx\/9\/0000000000000001-0000000000000004\.ltx .*\nread .*, deleted 0 files\n$/, 'a later run writes the snapshot');
});

t.test('a damaged input: exit 1, one line naming the file, nothing written', async (t) => {
  const dir = t.testdir();
  const keys = await replica(dir);
  await flipBit(join(dir, keys[2]), 39);
  const r = await cli(['compact', dir, '--retention', '0']);
  t.equal(r.code, 1);
  t.match(r.stderr, new RegExp(`^ltxvfs: ${keys[2]}: .*checksum.*\\n$`));
  t.equal(r.stdout, '');
  t.same(Object.keys(await levels(dir)), ['0']);
});

t.test('usage: a bad --retention or argument count exits 2; help lists compact', async (t) => {
  const bad = await cli(['compact', t.testdir(), '--retention', 'soon']);
  t.equal(bad.code, 2);
  t.equal(bad.stderr, 'ltxvfs compact: --retention takes ms or a duration like 5m, 1h30m, 30s, got "soon"\n');
  const none = await cli(['compact']);
  t.equal(none.code, 2);
  t.match(none.stderr, /expected compact <url> \[--retention <ms\|duration>\] \[--no-snapshot\]/);
  const help = await cli(['help']);
  t.match(help.stdout, /compact <url> +merge new level-0 files into level 1/);
  t.match(help.stdout, /--retention <duration>/);
  t.match(help.stdout, /--no-snapshot/);
});

t.test('--retention takes ms or Go durations', async (t) => {
  const cases: [string, number][] = [
    ['300000', 300_000], ['0', 0], ['1.5', 1.5], ['5m', 300_000], ['1h30m', 5_400_000], ['30s', 30_000], ['1.5s', 1500], ['.5s', 500],
    ['250ms', 250], ['10us', 0.01], ['10µs', 0.01], ['1000000ns', 1], ['2h', 7_200_000], ['1m30s500ms', 90_500],
  ];
  for (const [text, ms] of cases) t.equal(parseDurationMs(text, '--retention'), ms, text);
  for (const text of ['', 'soon', '-1', '5x', '5 m', 'm', '1h-30m', '1e3']) {
    t.throws(() => parseDurationMs(text, '--retention'), { code: 'LTXVFS_ERR_USAGE', message: /--retention takes ms or a duration/ }, JSON.stringify(text));
  }
});
