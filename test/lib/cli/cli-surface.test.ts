import t from 'tap';
import { copyFile, readFile, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { cli } from '../../helpers/cli.js';
import { formatCsv, formatJson } from '../../../lib/cli/format.js';
import { commands } from '../../../lib/cli/commands.js';

const FIXTURES = fileURLToPath(new URL('../../../fixtures/', import.meta.url));
const REPLICA = join(FIXTURES, 'litestream-0.5.17/replica');
const CHINOOK = join(FIXTURES, 'chinook/Chinook_Sqlite.sqlite');
const PKG = JSON.parse(await readFile(new URL('../../../package.json', import.meta.url), 'utf8')) as { version: string };

t.test('--help on every command, help <command>, --help and --version', async (t) => {
  for (const name of Object.keys(commands)) {
    for (const args of [[name, '--help'], ['help', name], [name, REPLICA, '-h']]) {
      const r = await cli(args);
      t.equal(r.code, 0, `${args.join(' ')}: ${r.stderr}`);
      t.match(r.stdout, new RegExp(`^usage: ltxvfs ${name} `));
      for (const option of Object.keys(commands[name].options)) t.match(r.stdout, `--${option}`, `${name} --help lists --${option}`);
      for (const scheme of ['file:///', 's3://', 'abs://', 'gs://', 'sftp://', 'webdavs://', 'nats://', 'oss://', 'LITESTREAM_REPLICA_URL']) t.match(r.stdout, scheme);
    }
  }
  const all = await cli(['--help']);
  t.equal(all.code, 0);
  t.match(all.stdout, /s3:\/\/bucket\/path\?region=eu-west-1/);
  const unknown = await cli(['help', 'nope']);
  t.equal(unknown.code, 2);
  t.match(unknown.stderr, /unknown command "nope"/);
  for (const flag of ['--version', '-V', 'version']) {
    const v = await cli([flag]);
    t.equal(v.code, 0);
    t.equal(v.stdout, `ltxvfs ${PKG.version}\n`);
  }
});

t.test('SQL from stdin when the argument is - or missing; no SQL is a usage error', async (t) => {
  const missing = await cli(['query', REPLICA, '--json'], {}, 'SELECT count(*) AS n FROM t');
  t.equal(missing.code, 0, missing.stderr);
  t.same(JSON.parse(missing.stdout), [{ n: 250 }]);
  const dash = await cli(['query', REPLICA, '-', '--csv'], {}, 'SELECT id FROM t ORDER BY id LIMIT 2\n');
  t.equal(dash.stdout, 'id\r\n1\r\n2\r\n');
  const none = await cli(['query', REPLICA]);
  t.equal(none.code, 2);
  t.match(none.stderr, /^ltxvfs query: no SQL: give it as an argument, or pipe it in/);
  const empty = await cli(['query', REPLICA, '-'], {}, '  \n');
  t.equal(empty.code, 2);
  t.match(empty.stderr, /no SQL on stdin \(it was empty\)/);
});

t.test('--csv quotes as RFC 4180; --json and --csv exclude each other', async (t) => {
  const r = await cli(['query', REPLICA, `SELECT 'a,b' AS "x,y", 'say "hi"' AS q, 'two' || char(10) || 'lines' AS l, NULL AS n, x'00ff' AS b, 1.5 AS r`, '--csv']);
  t.equal(r.code, 0, r.stderr);
  t.equal(r.stdout, '"x,y",q,l,n,b,r\r\na,b,"say ""hi""","two\nlines",,00ff,1.5\r\n'.replace('a,b,', '"a,b",'));
  const both = await cli(['query', REPLICA, 'SELECT 1', '--csv', '--json']);
  t.equal(both.code, 2);
  t.match(both.stderr, /--json and --csv exclude each other/);
});

t.test('int64 in --json and --csv: exact digits as numbers, whatever the size', async (t) => {
  const values = ['9007199254740991', '-9007199254740991', '9007199254740992', '-9007199254740992', '9223372036854775807', '-9223372036854775807'];
  const sql = `SELECT ${values.map((v, i) => `${v} AS v${i}`).join(', ')}`;
  const json = await cli(['query', REPLICA, sql, '--json']);
  t.equal(json.code, 0, json.stderr);
  t.equal(json.stdout, `[{${values.map((v, i) => `"v${i}":${v}`).join(',')}}]\n`, 'bare numbers, no quotes, no rounding');
  const csv = await cli(['query', REPLICA, sql, '--csv']);
  t.equal(csv.stdout.split('\r\n')[1], values.join(','));
  t.equal(formatJson([{ a: 1, b: 2n ** 60n, c: new Uint8Array([1, 171]), d: null }]), '[{"a":1,"b":1152921504606846976,"c":"01ab","d":null}]');
  t.equal(formatCsv(['a'], []), 'a\r\n');
});

t.test('--param binds positional and named parameters; numbers vs text', async (t) => {
  const q = async (sql: string, ...params: string[]) => {
    const r = await cli(['query', REPLICA, sql, '--json', ...params.flatMap((p) => ['--param', p])]);
    t.equal(r.code, 0, r.stderr);
    return JSON.parse(r.stdout) as unknown;
  };
  t.same(await q('SELECT ?1 AS a, typeof(?2) AS ta, ?3 AS b, typeof(?4) AS tb, ?5 AS c', '42', '42', '1.5', 'x', "'007'"),
    [{ a: 42, ta: 'integer', b: 1.5, tb: 'text', c: '007' }]);
  t.same(await q('SELECT name FROM t WHERE id = :id', ':id=2'), [{ name: 'bravo' }]);
  t.same(await q('SELECT @a || $b AS s, typeof(@a) AS t', '@a=x=y', '$b=9'), [{ s: 'x=y9', t: 'text' }]);
  const min = await cli(['query', REPLICA, 'SELECT typeof(?1) AS t, ?1 AS v', '--json', '--param=-9223372036854775807']);
  t.equal(min.stdout, '[{"t":"integer","v":-9223372036854775807}]\n', 'a big INTEGER parameter keeps every digit');
  const mixed = await cli(['query', REPLICA, 'SELECT :a, ?', '--param', ':a=1', '--param', '2']);
  t.equal(mixed.code, 2);
  t.match(mixed.stderr, /--param 2: positional, but other --param values are named/);
  const big = await cli(['query', REPLICA, 'SELECT ?', '--param', '9223372036854775808']);
  t.equal(big.code, 2);
  t.match(big.stderr, /--param 9223372036854775808: does not fit a 64-bit INTEGER/);
  const inf = await cli(['query', REPLICA, 'SELECT ?', '--param', '1e999']);
  t.equal(inf.code, 2);
  t.match(inf.stderr, /--param 1e999: out of range for a REAL/);
  const count = await cli(['query', REPLICA, 'SELECT ?, ?', '--param', '1']);
  t.equal(count.code, 2);
  t.match(count.stderr, /the statement has 2 parameter\(s\), 1 were given/);
});

t.test('ls --json and verify --json: stable field names', async (t) => {
  const ls = await cli(['ls', REPLICA, '--json']);
  t.equal(ls.code, 0, ls.stderr);
  const files = JSON.parse(ls.stdout) as Record<string, unknown>[];
  t.equal(files.length, 5);
  t.same(Object.keys(files[0]), ['level', 'min_txid', 'max_txid', 'size', 'created_at', 'key']);
  t.match(files[0], { level: 0, min_txid: '0000000000000001', max_txid: '0000000000000001', key: 'ltx/0/0000000000000001-0000000000000001.ltx' });
  const ver = await cli(['verify', REPLICA, '--json']);
  t.equal(ver.code, 0, ver.stderr);
  t.same(JSON.parse(ver.stdout), { ok: true, txid: '0000000000000005', files_checked: 5, bytes_read: 9466, checksummed: false, problems: [], leftover_temp_files: [] });
});

t.test('exec errors show the user\'s SQL and SQLite\'s message, not the transaction wrapper', async (t) => {
  const dir = t.testdir();
  const replica = join(dir, 'replica');
  t.equal((await cli(['exec', replica, 'CREATE TABLE t (x)', '--create'])).code, 0);
  const r = await cli(['exec', replica, 'INSERT INTO nope VALUES (1)']);
  t.equal(r.code, 1);
  t.equal(r.stderr, 'ltxvfs: no such table: nope: INSERT INTO nope VALUES (1)\n');
  const fromStdin = await cli(['exec', replica], {}, 'INSERT INTO t VALUES (1); INSERT INTO t VALUES (2);');
  t.equal(fromStdin.code, 0, fromStdin.stderr);
  t.match(fromStdin.stdout, /committed TXID 0000000000000002/);
});

t.test('demo creates its directory, recursively', async (t) => {
  const dir = join(t.testdir(), 'a/b/c');
  const r = await cli(['demo', dir]);
  t.equal(r.code, 0, r.stderr);
  t.ok((await stat(join(dir, 'replica'))).isDirectory());
});

t.test('import says how many pages came from the -wal and how many reads it took', async (t) => {
  const dir = t.testdir();
  const db = join(dir, 'chinook.db');
  await copyFile(CHINOOK, db);
  const imp = await cli(['import', db, join(dir, 'replica')]);
  t.equal(imp.code, 0, imp.stderr);
  t.match(imp.stdout, /^imported .*chinook\.db: \d+ pages of 4096 bytes as ltx\/0\/0000000000000001-0000000000000001\.ltx \([\d.]+ KiB\)\n$/);
});
