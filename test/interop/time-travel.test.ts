/**
 * Time travel and the SQL surface, side by side with the REAL Litestream VFS (0.5.17 in
 * the sqlite3 CLI) on the same replicas: the fixture replica (file times restored to the
 * header times) and a replica the real VFS writes moments before, for relative times.
 * For every target both must give the same rows, `litestream_txid` and `litestream_time`.
 */
import t, { type Test } from 'tap';
import { promises as fs } from 'node:fs';
import { join } from 'node:path';
import { openDatabase } from '../../lib/api/open.js';
import type { Database } from '../../lib/sql/database.js';
import { requireLitestreamVfs, requireSqlite3 } from '../helpers/paths.js';
import {
  fileReplicaUrl, listLtxFiles, litestreamQueryMany, litestreamRun, litestreamWriteMany, setLtxMtimesFromHeaders,
} from '../helpers/litestream.js';
import { copyFixtureReplica, rejectsLtx } from '../helpers/replica-builder.js';

requireSqlite3();
requireLitestreamVfs();

const STATE = 'SELECT count(*) AS n, sum(id) AS s, min(name) AS lo, max(name) AS hi FROM t';
const POSITION = 'SELECT litestream_txid() AS txid, litestream_time() AS time';
const INVALID = "invalid timestamp (expected RFC3339 or relative time like '5 minutes ago'): ";

/** What a connection answers at its current target. */
interface Answer {
  state: unknown[];
  position: unknown[];
}

/** The real Litestream VFS's answer after `pre` (one process). */
async function litestreamAnswer(url: string, pre: string[]): Promise<Answer> {
  const [state, position] = await litestreamQueryMany(url, [STATE, POSITION], { pre });
  return { state, position };
}

async function ltxvfsAnswer(db: Database): Promise<Answer> {
  return { state: await db.all(STATE), position: await db.all(POSITION) };
}

async function fixtureReplica(t: Test): Promise<string> {
  const dir = await copyFixtureReplica(join(t.testdir(), 'replica'));
  t.equal(await setLtxMtimesFromHeaders(dir), 5, 'file times restored from the headers');
  return dir;
}

t.test('the fixture replica: every README target gives what the Litestream VFS gives', async (t) => {
  const dir = await fixtureReplica(t);
  const url = fileReplicaUrl(dir);
  const db = await openDatabase(url, { pollIntervalMs: 0 });
  t.teardown(() => db.close());

  // The README's figures, then the real VFS's answers for the same targets: they must agree.
  const expected: Array<[at: string, n: number, txid: string, time: string]> = [
    ['2026-11-21T09:51:52Z', 3, '0000000000000002', '2026-11-21T09:51:52Z'],
    ['2026-11-21T09:51:52.792Z', 3, '0000000000000002', '2026-11-21T09:51:52.792Z'],
    ['2026-11-21T09:51:52.793Z', 303, '0000000000000003', '2026-11-21T09:51:52.793Z'],
    ['2026-11-21T09:51:50+00:00', 0, '0000000000000001', '2026-11-21T09:51:50Z'],
    ['2026-11-21T09:51:55Z', 303, '0000000000000004', '2026-11-21T09:51:55Z'],
    ['2026-11-21T09:51:49.257Z', 0, '0000000000000001', '2026-11-21T09:51:49.257Z'],
  ];
  for (const [at, n, txid, time] of expected) {
    await db.exec(`PRAGMA litestream_time = '${at}'`);
    const viaPragma = await ltxvfsAnswer(db);
    t.equal((viaPragma.state[0] as { n: number }).n, n, `${at}: ${n} rows`);
    t.same(viaPragma.position, [{ txid, time }], `${at}: TXID and time`);
    t.same(await db.all('PRAGMA litestream_txid'), [{ [txid]: txid }], `${at}: PRAGMA litestream_txid`);
    await db.exec("PRAGMA litestream_time = 'latest'");
    await db.all(`SELECT litestream_set_time('${at}')`);
    t.same(await ltxvfsAnswer(db), viaPragma, `${at}: litestream_set_time() the same`);
    await db.exec("SELECT litestream_set_time('latest')");

    t.same(await litestreamAnswer(url, [`PRAGMA litestream_time = '${at}'`]), viaPragma, `${at}: the Litestream VFS (PRAGMA) agrees`);
    t.same(await litestreamAnswer(url, [`SELECT litestream_set_time('${at}')`]), viaPragma, `${at}: the Litestream VFS (litestream_set_time) agrees`);
  }

  const latest = await ltxvfsAnswer(db);
  t.same(latest, {
    state: [{ n: 250, s: 31375, lo: 'ALPHA', hi: 'row-0247' }],
    position: [{ txid: '0000000000000005', time: '2026-11-21T09:51:56.305Z' }],
  }, 'latest: 250 rows, TXID 5, the time of TXID 5');
  t.same(await db.all('PRAGMA litestream_txid'), [{ '0000000000000005': '0000000000000005' }]);
  t.same(await litestreamAnswer(url, []), latest, 'the Litestream VFS agrees on latest');
  t.same(await litestreamAnswer(url, ["PRAGMA litestream_time = '2026-11-21T09:51:52Z'", "PRAGMA litestream_time = 'LATEST'"]), latest,
    "and on 'LATEST' after a target");
  const [real] = await litestreamQueryMany(url, ['PRAGMA litestream_txid']);
  t.same(real, [{ '0000000000000005': '0000000000000005' }], 'PRAGMA litestream_txid: same column and value from the Litestream VFS');
});

t.test('openDatabase { at }: a time, a decimal TXID, 16 hex digits', async (t) => {
  const dir = await fixtureReplica(t);
  const url = fileReplicaUrl(dir);
  const at3 = await litestreamAnswer(url, ["PRAGMA litestream_time = '2026-11-21T09:51:52.793Z'"]);
  t.same(at3.position, [{ txid: '0000000000000003', time: '2026-11-21T09:51:52.793Z' }]);
  for (const at of ['2026-11-21T09:51:52.793Z', '3', '0000000000000003']) {
    const db = await openDatabase(url, { at, pollIntervalMs: 0 });
    t.same(await db.all(STATE), at3.state, `at ${at}: the Litestream VFS's rows at TXID 3`);
    t.same(await db.all('SELECT litestream_txid() AS txid'), [{ txid: '0000000000000003' }]);
    t.equal(db.stats().timeTravel, true);
    await db.exec("PRAGMA litestream_time = 'latest'");
    t.same(await db.all('SELECT litestream_txid() AS txid'), [{ txid: '0000000000000005' }], `at ${at}, then latest`);
    await db.close();
  }
  await rejectsLtx(t, openDatabase(url, { at: 'not a time', pollIntervalMs: 0 }), 'LTXVFS_ERR_USAGE', 'not a time', new RegExp(`^${INVALID.replace(/[()]/g, '\\$&')}not a time$`));
});

/** The message of the first error line of a sqlite3 CLI run ("Runtime error near line N: <message>"). */
function cliError(stderr: string): string {
  const m = /^(?:Runtime|Parse) error near line \d+: (.*)$/m.exec(stderr);
  if (m === null) throw new Error(`no error in: ${stderr}`);
  return m[1];
}

t.test('errors: the same conditions fail in both, with Litestream\'s messages (ltxvfs keeps them for PRAGMAs too)', async (t) => {
  const dir = await fixtureReplica(t);
  const url = fileReplicaUrl(dir);
  const db = await openDatabase(url, { pollIntervalMs: 0 });
  t.teardown(() => db.close());
  const run = async (sql: string): Promise<string> => {
    const r = await litestreamRun(url, sql);
    t.not(r.code, 0, `Litestream VFS: ${sql} fails`);
    return cliError(r.stderr);
  };

  // Before the history.
  const before = "SELECT litestream_set_time('2026-11-21T09:51:40Z')";
  t.match(await run(before), /^cannot calc restore plan: transaction not available$/);
  t.equal(await run("PRAGMA litestream_time = '2026-11-21T09:51:40Z'"), 'SQL logic error', 'Litestream loses the PRAGMA\'s message');
  for (const sql of [before, "PRAGMA litestream_time = '2026-11-21T09:51:40Z'"]) {
    await rejectsLtx(t, db.all(sql), 'LTXVFS_ERR_SQLITE', url,
      /^transaction not available: no LTX file created before 2026-11-21T09:51:40\.000Z in file:\/\//);
  }

  // Unparseable: the very message.
  for (const bad of ['garbage', 'next tuesday-ish', '']) {
    const message = await run(`SELECT litestream_set_time('${bad}')`);
    t.equal(message, `${INVALID}${bad}`, `Litestream: ${JSON.stringify(bad)}`);
    const e = await rejectsLtx(t, db.all(`SELECT litestream_set_time('${bad}')`), 'LTXVFS_ERR_SQLITE', 'litestream_set_time');
    t.equal((e as Error).message, `${message}: SELECT litestream_set_time('${bad}')`, 'ltxvfs: the same message (then the SQL)');
    const p = await rejectsLtx(t, db.all(`PRAGMA litestream_time = '${bad}'`), 'LTXVFS_ERR_SQLITE', 'litestream_time');
    t.equal((p as Error).message, `${message}: PRAGMA litestream_time = '${bad}'`);
  }
  const nullMessage = await run('SELECT litestream_set_time(NULL)');
  t.equal(nullMessage, 'timestamp required');
  await rejectsLtx(t, db.all('SELECT litestream_set_time(NULL)'), 'LTXVFS_ERR_SQLITE', 'litestream_set_time', /^timestamp required: /);

  // Read-only PRAGMAs.
  for (const name of ['litestream_txid', 'litestream_lag']) {
    t.equal(await run(`PRAGMA ${name} = 1`), 'SQL logic error', `Litestream: setting ${name} fails`);
    await rejectsLtx(t, db.all(`PRAGMA ${name} = 1`), 'LTXVFS_ERR_SQLITE', name, new RegExp(`^PRAGMA ${name} is read-only: `));
  }
  t.same(await db.all(POSITION), [{ txid: '0000000000000005', time: '2026-11-21T09:51:56.305Z' }], 'nothing changed');

  // Lag before the first poll: Litestream -1; ltxvfs counts from the open's listing (deliberate).
  const [realLag] = await litestreamQueryMany(url, ['SELECT litestream_lag() AS lag']);
  t.same(realLag, [{ lag: -1 }], 'Litestream right after the open: -1');
  const [{ lag }] = await db.all('SELECT litestream_lag() AS lag');
  t.ok(typeof lag === 'number' && lag >= 0, `ltxvfs before its first poll: seconds since the open's listing, not -1 (got ${String(lag)})`);
});

t.test('relative times on a replica the Litestream VFS wrote moments ago', async (t) => {
  const dir = join(t.testdir(), 'replica');
  await fs.mkdir(dir);
  const url = fileReplicaUrl(dir);
  // Five transactions, one process each, about two seconds apart.
  await litestreamWriteMany(url, [
    'CREATE TABLE t (id INTEGER PRIMARY KEY, name TEXT NOT NULL)',
    "INSERT INTO t (name) VALUES ('one')",
    "INSERT INTO t (name) VALUES ('two')",
    "INSERT INTO t (name) VALUES ('three')",
    "INSERT INTO t (name) VALUES ('four')",
  ], { pauseMs: 1750 });
  const files = await listLtxFiles(dir);
  t.same(files.map((f) => [f.level, Number(f.minTxid)]), [[0, 1], [0, 2], [0, 3], [0, 4], [0, 5]]);
  const created = await Promise.all(files.map(async (f) => Math.floor((await fs.stat(f.path)).mtimeMs)));
  /** The TXID a target instant must show: the newest file created strictly before it. */
  const txidAt = (instant: number): number => created.filter((c) => c < instant).length;

  const db = await openDatabase(url, { pollIntervalMs: 0 });
  t.teardown(() => db.close());
  for (let k = 4; k >= 1; k--) {
    // "N seconds ago" landing midway between TXID k's file and TXID k+1's.
    const mid = (created[k - 1] + created[k]) / 2;
    const n = Math.max(1, Math.round((Date.now() - mid) / 1000));
    const expr = `${n} seconds ago`;

    const real = await litestreamAnswer(url, [`PRAGMA litestream_time = '${expr}'`]);
    await db.exec(`PRAGMA litestream_time = '${expr}'`);
    const ours = await ltxvfsAnswer(db);
    await db.exec("PRAGMA litestream_time = 'latest'");
    await db.all(`SELECT litestream_set_time('${expr}')`);
    const viaFunction = await ltxvfsAnswer(db);
    await db.exec("SELECT litestream_set_time('latest')");

    // Each resolves "N seconds ago" against its own clock reading, in this order, so a
    // later one may land later (a slow machine); each must show the TXID of its instant.
    let previous = k;
    for (const [who, answer] of [['Litestream', real], ['ltxvfs PRAGMA', ours], ['ltxvfs litestream_set_time', viaFunction]] as const) {
      const { txid, time } = answer.position[0] as { txid: string; time: string };
      const at = txidAt(Date.parse(time));
      t.equal(Number.parseInt(txid, 16), at, `${who}: '${expr}' = ${time}: the TXID of the newest file before it`);
      t.ok(at >= previous, `${who}: '${expr}': TXID ${at}, at or after ${previous} (the midpoint of ${k} and ${k + 1}, or what an earlier answer showed)`);
      t.same(answer.state, [{ n: at - 1, s: at === 1 ? null : ((at - 1) * at) / 2, lo: loAt(at), hi: hiAt(at) }], `${who}: rows at TXID ${at}`);
      previous = at;
    }
  }
});

/** min(name) of the relative-time replica at TXID k. */
function loAt(k: number): string | null {
  return [null, null, 'one', 'one', 'one', 'four'][k];
}

/** max(name) of the relative-time replica at TXID k. */
function hiAt(k: number): string | null {
  return [null, null, 'one', 'two', 'two', 'two'][k];
}
