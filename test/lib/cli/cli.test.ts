import t from 'tap';
import { PassThrough } from 'node:stream';
import { copyFile, cp, mkdir, readFile, writeFile, readdir, truncate, stat } from 'node:fs/promises';
import { readPageIndexFromTail, type FoundPageIndex } from '../../../ltx/page-index.js';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { setLtxMtimesFromHeaders } from '../../helpers/litestream.js';
import { formatBytes, formatJson, formatTable } from '../../../lib/cli/format.js';
import { Progress } from '../../../lib/cli/progress.js';
import { cli } from '../../helpers/cli.js';

const FIXTURES = fileURLToPath(new URL('../../../fixtures/', import.meta.url));
const REPLICA = join(FIXTURES, 'litestream-0.5.17/replica');
const EXPECTED_DB = join(FIXTURES, 'litestream-0.5.17/expected/test-txid-0000000000000005.db');
const CHINOOK = join(FIXTURES, 'chinook/Chinook_Sqlite.sqlite');


t.test('query prints an aligned table, and --json one array of row objects', async (t) => {
  const table = await cli(['query', REPLICA, 'SELECT id, name FROM t WHERE id <= 3 ORDER BY id']);
  t.equal(table.code, 0, table.stderr);
  t.equal(table.stdout, 'id  name\n--  -------\n 1  ALPHA\n 2  bravo\n 3  charlie\n(3 rows)\n');

  const json = await cli(['query', `file://${REPLICA}`, "SELECT id, name, x'00ff' AS b, NULL AS n FROM t WHERE id = 1", '--json']);
  t.equal(json.code, 0, json.stderr);
  t.same(JSON.parse(json.stdout), [{ id: 1, name: 'ALPHA', b: '00ff', n: null }]);
  t.equal(json.stderr, '');
});

t.test('query --stats prints the stats line on stderr; the URL may come from LITESTREAM_REPLICA_URL', async (t) => {
  const r = await cli(['query', '', 'SELECT count(*) AS n FROM t', '--stats'], { LITESTREAM_REPLICA_URL: `file://${REPLICA}` });
  t.equal(r.code, 0, r.stderr);
  t.match(r.stdout, /^ {2}n\n---\n250\n\(1 row\)\n$/);
  t.match(r.stderr, /^stats: txid=0000000000000005 pages_fetched=\d+ bytes_read=\d+ read_requests=\d+ cache_hits=\d+ cache_misses=\d+ cache_bytes=\d+ lag_ms=\d+ time_travel=false\n$/);
});

t.test('query with --cache-size 0 still answers; a bad --cache-size is a usage error', async (t) => {
  const ok = await cli(['query', REPLICA, 'SELECT max(id) AS m FROM t', '--cache-size', '0', '--json']);
  t.equal(ok.code, 0, ok.stderr);
  t.same(JSON.parse(ok.stdout), [{ m: 250 }]);
  const bad = await cli(['query', REPLICA, 'SELECT 1', '--cache-size', 'lots']);
  t.equal(bad.code, 2);
  t.match(bad.stderr, /--cache-size takes a whole number of bytes, got "lots"/);
});

t.test('usage errors exit 2 with one line on stderr', async (t) => {
  const none = await cli([]);
  t.equal(none.code, 2);
  t.match(none.stderr, /^usage: ltxvfs/);
  const help = await cli(['help']);
  t.equal(help.code, 0);
  t.match(help.stdout, /query <url> \[<sql>\|-\]/);
  const unknown = await cli(['frobnicate']);
  t.equal(unknown.code, 2);
  t.match(unknown.stderr, /unknown command "frobnicate"/);
  const missing = await cli(['query']);
  t.equal(missing.code, 2);
  t.match(missing.stderr, /ltxvfs query: expected query <url> \[<sql>\|-\]/);
  const badFlag = await cli(['ls', REPLICA, '--nope']);
  t.equal(badFlag.code, 2);
  t.match(badFlag.stderr, /ltxvfs ls: .*nope/);
});

t.test('errors exit 1 with one line naming the replica and the reason', async (t) => {
  const dir = t.testdir();
  const missing = await cli(['query', join(dir, 'nope'), 'SELECT 1']);
  t.equal(missing.code, 1);
  t.match(missing.stderr, /^ltxvfs: replica directory does not exist: .*nope\n$/);
  const sqlErr = await cli(['query', REPLICA, 'SELECT * FROM no_such_table']);
  t.equal(sqlErr.code, 1);
  t.match(sqlErr.stderr, /no such table: no_such_table/);
  t.equal(sqlErr.stderr.trimEnd().split('\n').length, 1);
  const noUrl = await cli(['ls', '']);
  t.equal(noUrl.code, 1);
  t.match(noUrl.stderr, /LITESTREAM_REPLICA_URL is not set/);
});

t.test('import, ls, restore and verify round-trip a real database', async (t) => {
  const dir = t.testdir();
  const db = join(dir, 'chinook.db');
  await copyFile(CHINOOK, db);
  const replica = join(dir, 'replica');
  const imp = await cli(['import', db, replica]);
  t.equal(imp.code, 0, imp.stderr);
  t.match(imp.stdout, /imported .*chinook\.db: \d+ pages of 4096 bytes as ltx\/0\/0000000000000001-0000000000000001\.ltx/);

  const again = await cli(['import', db, replica]);
  t.equal(again.code, 2, 'a non-empty replica is a usage error');
  t.match(again.stderr, /replica is not empty/);

  const ls = await cli(['ls', replica]);
  t.equal(ls.code, 0, ls.stderr);
  t.match(ls.stdout, /level +min_txid +max_txid +size +created_at\n/);
  t.match(ls.stdout, / 0 +0000000000000001 +0000000000000001 +\d+ +\d{4}-\d\d-\d\dT/);
  t.match(ls.stdout, /\(1 file, [\d.]+ KiB\)/);

  const out = join(dir, 'restored.db');
  const rest = await cli(['restore', replica, out]);
  t.equal(rest.code, 0, rest.stderr);
  t.match(rest.stdout, /restored TXID 0000000000000001 to .*restored\.db: \d+ pages of 4096 bytes from 1 LTX files \(file checksums verified\)/);
  t.same(await readFile(out), await readFile(CHINOOK), 'restored bytes equal the imported database');

  const exists = await cli(['restore', replica, out]);
  t.equal(exists.code, 2);
  t.match(exists.stderr, /output file already exists: .*restored\.db/);
  const forced = await cli(['restore', replica, out, '--force']);
  t.equal(forced.code, 0, forced.stderr);

  const ver = await cli(['verify', replica]);
  t.equal(ver.code, 0, ver.stderr);
  t.match(ver.stdout, /^ok: 1 files, .* TXID 0000000000000001 \(files carry no database checksums\)\n$/);

  const fixture = await cli(['restore', REPLICA, join(dir, 'fixture.db')]);
  t.equal(fixture.code, 0, fixture.stderr);
  t.same(await readFile(join(dir, 'fixture.db')), await readFile(EXPECTED_DB));
});

t.test('verify reports a damaged file and exits 1', async (t) => {
  const dir = t.testdir();
  const replica = join(dir, 'replica');
  const db = join(dir, 'chinook.db');
  await copyFile(CHINOOK, db);
  t.equal((await cli(['import', db, replica])).code, 0);
  const level0 = join(replica, 'ltx/0');
  const [name] = await readdir(level0);
  const file = join(level0, name);
  const bytes = await readFile(file);
  bytes[5000] ^= 0x10;
  await writeFile(file, bytes);
  const ver = await cli(['verify', replica]);
  t.equal(ver.code, 1);
  t.match(ver.stdout, new RegExp(`FAIL ltx/0/${name}: .*`));
  t.match(ver.stdout, /1 problem in 1 files\n$/);

  await truncate(file, (await stat(file)).size - 7);
  const trunc = await cli(['restore', replica, join(dir, 'out.db')]);
  t.equal(trunc.code, 1);
  t.match(trunc.stderr, new RegExp(`^ltxvfs: ltx/0/${name}: `));
});

t.test('demo makes a replica and queries it with stats', async (t) => {
  const dir = t.testdir();
  const r = await cli(['demo', dir]);
  t.equal(r.code, 0, r.stderr);
  t.match(r.stdout, /made .*demo\.db and imported it into .*replica/);
  t.match(r.stdout, /customer-0042 +\w+ +\d+ +[\d.]+\n\(1 row\)/);
  t.match(r.stderr, /^stats: txid=0000000000000001 pages_fetched=\d+/);
});

t.test('format helpers', async (t) => {
  t.equal(formatBytes(10), '10 B');
  t.equal(formatBytes(1536), '1.5 KiB');
  t.equal(formatBytes(5 * 1024 * 1024), '5.0 MiB');
  t.equal(formatJson([{ a: 1n, b: 2n ** 60n, c: new Uint8Array([1, 171]) }]), '[{"a":1,"b":1152921504606846976,"c":"01ab"}]');
  t.equal(formatTable(['x'], []), 'x\n-');
  t.equal(formatTable(['b'], [{ b: new Uint8Array([255]) }, { b: null }]), "b\n-----\nx'ff'\nNULL");
});

t.test('progress appears only on a terminal, after the delay', async (t) => {
  const quiet = new PassThrough();
  let written = '';
  quiet.on('data', (d: Buffer) => { written += d.toString(); });
  const p = new Progress(quiet, 'x', 'pages', 0);
  p.update(1, 2);
  p.stop();
  t.equal(written, '', 'not a TTY: nothing');

  const tty = Object.assign(new PassThrough(), { isTTY: true, columns: 80, cursorTo: () => true, clearLine: () => true, moveCursor: () => true });
  let shown = '';
  tty.on('data', (d: Buffer) => { shown += d.toString(); });
  const bar = new Progress(tty, 'import', 'pages', 0);
  bar.update(1, 4);
  bar.update(4, 4);
  bar.stop();
  bar.stop();
  t.match(shown, /import \[/);
});

t.test('query prints the header of an empty result', async (t) => {
  const r = await cli(['query', REPLICA, 'SELECT id, name FROM t WHERE id < 0']);
  t.equal(r.code, 0, r.stderr);
  t.equal(r.stdout, 'id  name\n--  ----\n(0 rows)\n');
});

t.test('ls, restore and verify of a checksummed replica, in the plural', async (t) => {
  const dir = t.testdir();
  const replica = join(dir, 'replica');
  await mkdir(join(replica, 'ltx'), { recursive: true });
  await cp(join(FIXTURES, 'litestream-0.5.17/derived/checksummed/ltx/0'), join(replica, 'ltx/0'), { recursive: true });
  const ls = await cli(['ls', replica]);
  t.match(ls.stdout, /\(5 files, [\d.]+ KiB\)/);
  const rest = await cli(['restore', replica, join(dir, 'out.db')]);
  t.equal(rest.code, 0, rest.stderr);
  t.match(rest.stdout, /from 5 LTX files \(database checksum 9b605845496813ac verified\)/);
  t.same(await readFile(join(dir, 'out.db')), await readFile(EXPECTED_DB));
  const ver = await cli(['verify', replica]);
  t.equal(ver.code, 0, ver.stderr);
  t.match(ver.stdout, /^ok: 5 files, .* TXID 0000000000000005 \(checksum chain verified\)\n$/);

  for (const n of [2, 3]) {
    const f = join(replica, `ltx/0/000000000000000${n}-000000000000000${n}.ltx`);
    const bytes = await readFile(f);
    bytes[bytes.length - 20] ^= 1;
    await writeFile(f, bytes);
  }
  const bad = await cli(['verify', replica]);
  t.equal(bad.code, 1);
  t.match(bad.stdout, /2 problems in 5 files\n$/);
});

t.test('a query over a damaged frame fails with exit 1 naming the file and the frame (caught when the file is verified, or by SQLite)', async (t) => {
  const dir = t.testdir();
  const db = join(dir, 'chinook.db');
  await copyFile(CHINOOK, db);
  const replica = join(dir, 'replica');
  t.equal((await cli(['import', db, replica])).code, 0);
  const file = join(replica, 'ltx/0/0000000000000001-0000000000000001.ltx');
  const bytes = await readFile(file);
  const { entries } = readPageIndexFromTail(bytes, 0, bytes.length, 'x') as FoundPageIndex;
  // Break the page number of every frame but page 1's, so the first page after page 1 fails its frame check.
  for (const e of entries.toArray().slice(1)) bytes[e.offset + 3] ^= 0x40;
  await writeFile(file, bytes);
  const r = await cli(['query', replica, 'SELECT count(*) FROM Track']);
  t.equal(r.code, 1);
  t.match(r.stderr, /^ltxvfs: (.*database disk image is malformed.*: )?ltx\/0\/0000000000000001-0000000000000001\.ltx: (page \d+ at offset|frame at offset) \d+: .*\n$/);
});

t.test('demo without a directory uses a new temporary one', async (t) => {
  const r = await cli(['demo']);
  t.equal(r.code, 0, r.stderr);
  t.match(r.stdout, /made \/.*ltxvfs-demo-\w+\/demo\.db/);
});

t.test('query and restore --at a TXID or a time', async (t) => {
  const dir = t.testdir();
  const replica = join(dir, 'replica');
  await cp(REPLICA, replica, { recursive: true });
  await setLtxMtimesFromHeaders(replica);
  const q = async (at: string): Promise<unknown> => {
    const r = await cli(['query', replica, 'SELECT count(*) AS n, litestream_txid() AS txid FROM t', '--json', '--at', at]);
    t.equal(r.code, 0, r.stderr);
    return JSON.parse(r.stdout);
  };
  t.same(await q('3'), [{ n: 303, txid: '0000000000000003' }]);
  t.same(await q('0000000000000002'), [{ n: 3, txid: '0000000000000002' }]);
  t.same(await q('2026-11-21T09:51:52Z'), [{ n: 3, txid: '0000000000000002' }]);
  t.same(await q('latest'), [{ n: 250, txid: '0000000000000005' }]);
  const stats = await cli(['query', replica, 'SELECT 1', '--at', '4', '--stats']);
  t.match(stats.stderr, /txid=0000000000000004 .* time_travel=true/);

  const out = join(dir, 'at3.db');
  const r = await cli(['restore', replica, out, '--at', '2026-11-21T09:51:52.793Z']);
  t.equal(r.code, 0, r.stderr);
  t.match(r.stdout, /restored TXID 0000000000000003 .* from 3 LTX files/);
  const latest = await cli(['restore', replica, join(dir, 'latest.db'), '--at', 'LATEST']);
  t.match(latest.stdout, /restored TXID 0000000000000005/);

  const early = await cli(['query', replica, 'SELECT 1', '--at', '2020-01-01T00:00:00Z']);
  t.equal(early.code, 1);
  t.match(early.stderr, /transaction not available/);
  const bad = await cli(['restore', replica, join(dir, 'x.db'), '--at', 'whenever']);
  t.equal(bad.code, 2);
  t.match(bad.stderr, /invalid timestamp \(expected RFC3339 or relative time like '5 minutes ago'\): whenever/);
});
