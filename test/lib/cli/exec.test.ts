/**
 * `ltxvfs exec <url> <sql> [--create] [--checksums]` (lib/cli/commands.ts): takes the
 * write lease, runs the statements as one transaction — one LTX file however many
 * statements — ships it, and gives the lease back. Failures exit 1 with the reason and
 * ship nothing; SQL with its own transaction control exits 2 and runs nothing. Run
 * through `runCli` on real directory replicas.
 */
import t from 'tap';
import { existsSync, promises as fs } from 'node:fs';
import { join } from 'node:path';
import { decodeLtxFile } from '../../../ltx/decoder.js';
import { Lease } from '../../../lib/write/lease.js';
import { openDatabase } from '../../../lib/api/open.js';
import { openFileReplica } from '../../../lib/storage/file/client.js';
import { listLtxFiles } from '../../helpers/litestream.js';
import { copyFixtureReplica, readBytes } from '../../helpers/replica-builder.js';
import { cli } from '../../helpers/cli.js';


async function names(dir: string): Promise<string[]> {
  return (await listLtxFiles(dir)).map((f) => f.name);
}

async function rows(dir: string, sql: string) {
  const db = await openDatabase(dir, { readOnly: true, shared: false, pollIntervalMs: 0 });
  try {
    return await db.all(sql);
  } finally {
    await db.close();
  }
}

const TXID = (n: number) => `${n.toString(16).padStart(16, '0')}-${n.toString(16).padStart(16, '0')}.ltx`;

t.test('exec runs several statements as one transaction: one LTX file; the lease is taken and given back', async (t) => {
  const dir = t.testdir({});
  await copyFixtureReplica(dir);
  const r = await cli(['exec', dir, "INSERT INTO t (name) VALUES ('x1'); INSERT INTO t (name) VALUES ('x2'); UPDATE t SET name = 'X' WHERE id = 1; DELETE FROM t WHERE id = 2"]);
  t.equal(r.code, 0, r.stderr);
  t.equal(r.stdout, 'committed TXID 0000000000000006\n');
  t.equal(r.stderr, '');
  t.same(await names(dir), [1, 2, 3, 4, 5, 6].map(TXID), 'four statements, one file');
  t.notOk(existsSync(join(dir, 'lock.json')), 'no lock.json after the command');
  t.same(await rows(dir, "SELECT id, name FROM t WHERE id <= 2 OR name LIKE 'x_' ORDER BY id"), [
    { id: 1, name: 'X' }, { id: 251, name: 'x1' }, { id: 252, name: 'x2' },
  ]);
  const file = decodeLtxFile(readBytes(join(dir, 'ltx/0', TXID(6))), 'TXID 6');
  t.equal(file.header.flags, 2, 'checksum-free, like the Litestream replica it extends');

  const url = await cli(['exec', `file://${dir}`, 'DELETE FROM t WHERE id > 100']);
  t.equal(url.code, 0, url.stderr);
  t.equal(url.stdout, 'committed TXID 0000000000000007\n');
  const env = await cli(['exec', '', 'CREATE INDEX t_name ON t (name)'], { LITESTREAM_REPLICA_URL: `file://${dir}` });
  t.equal(env.code, 0, env.stderr);
  t.same(await rows(dir, "SELECT count(*) AS n FROM t"), [{ n: 99 }]);
  t.same(await rows(dir, "SELECT name FROM sqlite_schema WHERE type = 'index'"), [{ name: 't_name' }]);

  const noop = await cli(['exec', dir, "SELECT 1; UPDATE t SET name = 'y' WHERE id = -1"]);
  t.equal(noop.code, 0, noop.stderr);
  t.equal(noop.stdout, 'no changes; replica stays at TXID 0000000000000008\n');
  t.equal((await names(dir)).length, 8, 'nothing shipped for no changes');
});

t.test('exec --create makes a new replica in a new directory; --checksums gives it database checksums', async (t) => {
  const root = t.testdir({});
  const plain = join(root, 'a', 'replica');
  const missing = await cli(['exec', plain, 'CREATE TABLE k (v)']);
  t.equal(missing.code, 1, 'without --create a missing directory is an error');
  t.equal(missing.stderr, `ltxvfs: replica directory does not exist: ${plain}\n`);
  t.notOk(existsSync(plain));

  const r = await cli(['exec', plain, "CREATE TABLE k (v TEXT); INSERT INTO k VALUES ('one'), ('two')", '--create']);
  t.equal(r.code, 0, r.stderr);
  t.equal(r.stdout, 'committed TXID 0000000000000001\n');
  t.same(await names(plain), [TXID(1)]);
  t.equal(decodeLtxFile(readBytes(join(plain, 'ltx/0', TXID(1))), '1').header.flags, 2, 'checksum-free by default');
  t.same(await rows(plain, 'SELECT v FROM k'), [{ v: 'one' }, { v: 'two' }]);

  const summed = join(root, 'b');
  const c = await cli(['exec', summed, 'CREATE TABLE k (v); INSERT INTO k VALUES (1)', '--create', '--checksums']);
  t.equal(c.code, 0, c.stderr);
  t.equal(decodeLtxFile(readBytes(join(summed, 'ltx/0', TXID(1))), '1').header.flags, 0, 'database checksums on');
  const more = await cli(['exec', summed, 'INSERT INTO k VALUES (2)']);
  t.equal(more.code, 0, more.stderr);
  const v = await cli(['verify', summed]);
  t.equal(v.code, 0, v.stdout);
  t.match(v.stdout, /^ok: 2 files, .* TXID 0000000000000002 \(checksum chain verified\)\n$/);
});

t.test('a failing statement: exit 1 with SQLite\'s message, nothing shipped, the lease given back', async (t) => {
  const dir = t.testdir({});
  await copyFixtureReplica(dir);
  const r = await cli(['exec', dir, "INSERT INTO t (name) VALUES ('kept?'); INSERT INTO nope VALUES (1)"]);
  t.equal(r.code, 1);
  t.match(r.stderr, /^ltxvfs: no such table: nope/);
  t.equal(r.stdout, '');
  t.same(await names(dir), [1, 2, 3, 4, 5].map(TXID), 'nothing shipped');
  t.same(await rows(dir, "SELECT count(*) AS n FROM t WHERE name = 'kept?'"), [{ n: 0 }], 'the statement before it did not stay either');
  t.notOk(existsSync(join(dir, 'lock.json')));

  const constraint = await cli(['exec', dir, "INSERT INTO t (id, name) VALUES (300, 'a'); INSERT INTO t (id, name) VALUES (300, 'b')"]);
  t.equal(constraint.code, 1);
  t.match(constraint.stderr, /UNIQUE constraint failed: t\.id/);
  t.equal((await names(dir)).length, 5);
});

t.test('a lease held by someone else: exit 1 naming the owner, nothing shipped, their lease kept', async (t) => {
  const dir = t.testdir({});
  await copyFixtureReplica(dir);
  const client = await openFileReplica(dir);
  t.teardown(() => client.close());
  const held = await Lease.acquire(client, { owner: 'web-7:31337', renew: false });
  const r = await cli(['exec', dir, "INSERT INTO t (name) VALUES ('no')", '--wait', '0']);
  t.equal(r.code, 1);
  t.match(r.stderr, /^ltxvfs: .*lease already held by web-7:31337 until \S+ \(generation 1, lock\.json\); gave up after waiting \d+ ms for it/);
  t.equal(r.stdout, '');
  t.equal((await names(dir)).length, 5);
  const lock = JSON.parse(await fs.readFile(join(dir, 'lock.json'), 'utf8')) as { owner: string };
  t.equal(lock.owner, 'web-7:31337', 'the other owner\'s lease is untouched');
  await held.release();
  const ok = await cli(['exec', dir, "INSERT INTO t (name) VALUES ('now')"]);
  t.equal(ok.code, 0, ok.stderr);
  t.equal(ok.stdout, 'committed TXID 0000000000000006\n');
});

t.test('usage: exec needs <url> and <sql> (an argument or stdin)', async (t) => {
  const r = await cli(['exec', '/tmp']);
  t.equal(r.code, 2);
  t.match(r.stderr, /^ltxvfs exec: no SQL: give it as an argument, or pipe it in/);
  const none = await cli(['exec']);
  t.match(none.stderr, /^ltxvfs exec: expected exec <url> \[<sql>\|-\] \[--create\] \[--checksums\] \[--attempts <n>\] \[--wait <duration>\]/);
  const help = await cli(['--help']);
  t.match(help.stdout, /exec <url> \[<sql>\|-\] +take the write lease, catch up to the newest TXID, run the statements/);
  t.match(help.stdout, /Exit 0: committed \(one\s+TXID, printed\) or no changes; 1: failed, nothing shipped; 2: refused,\s+nothing run/);
  for (const [option, value, message] of [
    ['--attempts', '0', '--attempts takes a whole number >= 1, got "0"'], ['--attempts', '2.5', '--attempts takes a whole number >= 1, got "2.5"'],
    ['--wait', 'soon', '--wait takes ms or a duration like 5m, 1h30m, 30s, got "soon"'],
    ['--temp-max-age', '1d', '--temp-max-age takes ms or a duration like 5m, 1h30m, 30s, got "1d"'],
  ]) {
    const bad = await cli(['exec', '/nonexistent-replica', 'SELECT 1', option, value]);
    t.equal(bad.code, 2, `${option} ${value}`);
    t.match(bad.stderr, `ltxvfs exec: ${message}`);
  }
});

t.test('SQL with its own transaction control: exit 2 naming the statement; nothing run, nothing shipped, no lease taken', async (t) => {
  const dir = t.testdir({});
  await copyFixtureReplica(dir);
  const mixed = await cli(['exec', dir, "INSERT INTO t (name) VALUES ('a'); COMMIT; INSERT INTO t (name) VALUES ('b'); SELECT * FROM nope"]);
  t.equal(mixed.code, 2, 'refused');
  t.equal(mixed.stdout, '');
  t.match(mixed.stderr, /^ltxvfs exec: statement 2 \(COMMIT\) controls transactions itself: exec runs the whole SQL as one transaction .* nothing was run or shipped\n$/);
  for (const sql of ['BEGIN; DELETE FROM t', "SAVEPOINT a; UPDATE t SET name = 'z'; RELEASE a", 'DELETE FROM t; ROLLBACK', 'DELETE FROM t WHERE id = 1; END']) {
    const r = await cli(['exec', dir, sql]);
    t.equal(r.code, 2, sql);
    t.match(r.stderr, /controls transactions itself/);
  }
  t.same(await names(dir), [1, 2, 3, 4, 5].map(TXID), 'nothing shipped');
  t.same(await rows(dir, "SELECT count(*) AS n FROM t WHERE name IN ('a', 'b', 'z')"), [{ n: 0 }]);
  t.notOk(existsSync(join(dir, 'lock.json')));

  const trigger = await cli(['exec', dir, "CREATE TABLE log (id); CREATE TRIGGER tr AFTER INSERT ON t BEGIN INSERT INTO log VALUES (new.id); END; INSERT INTO t (name) VALUES ('end')"]);
  t.equal(trigger.code, 0, `a trigger body's BEGIN … END is part of one statement: ${trigger.stderr}`);
  t.equal(trigger.stdout, 'committed TXID 0000000000000006\n');
  t.same(await rows(dir, 'SELECT count(*) AS n FROM log'), [{ n: 1 }]);
});
