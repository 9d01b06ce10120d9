/**
 * execTransaction (lib/sql/exec-transaction.ts), what `ltxvfs exec` runs, on real directory
 * replicas through a real file client: a writer that ignores the lease (CountingClient's
 * beforeWrite uploads the same transaction under the TXID first) makes commits conflict;
 * a lease held by another owner (a real Lease) makes it wait. The clock and the pauses
 * are injected, so no assertion depends on time.
 */
import t, { type Test } from 'tap';
import { Lease } from '../../lib/write/lease.js';
import { execTransaction, describeOutcome, checkOneTransaction } from '../../lib/sql/exec-transaction.js';
import { copyFixtureReplica, CountingClient, rejectsLtx } from '../helpers/replica-builder.js';
import { openWritable } from '../helpers/write-harness.js';

/** A writable connection to a copy of the fixture replica (TXID 5), through a CountingClient. */
async function setup(t: Test) {
  const dir = t.testdir({});
  await copyFixtureReplica(dir);
  const client = await CountingClient.open(dir);
  const conn = await openWritable(client);
  t.teardown(() => conn.close());
  return { dir, client, conn };
}

/** Before the first `n` level-0 uploads, another writer (ignoring the lease) uploads the same bytes under that key. */
function rogue(client: CountingClient, n: number): { stolen: string[] } {
  const stolen: string[] = [];
  const inner = client.inner;
  const write = client.write.bind(client);
  client.write = async (key, data, options) => {
    if (key.startsWith('ltx/0/') && stolen.length < n) {
      await inner.write(key, data, { ifNoneMatch: true });
      stolen.push(key);
    }
    return write(key, data, options);
  };
  return { stolen };
}

t.test('a commit another writer beat to its TXID runs again after catching up, and ships the next TXID', async (t) => {
  const { client, conn } = await setup(t);
  const { stolen } = rogue(client, 2);
  const outcome = await execTransaction(conn.db, "INSERT INTO t (name) VALUES ('retried')");
  t.same(stolen, ['ltx/0/0000000000000006-0000000000000006.ltx', 'ltx/0/0000000000000007-0000000000000007.ltx']);
  t.equal(outcome.attempts, 3);
  t.equal(outcome.shipped, 8, 'the third attempt, on top of the two files the other writer shipped');
  t.equal(outcome.conflicts.length, 2);
  t.match(outcome.conflicts[0], /another writer committed TXID 0000000000000006 first/);
  t.equal(describeOutcome(outcome), 'committed TXID 0000000000000008 (after 2 conflicts with other writers)');
  // Two copies from the other writer, one of ours: each attempt ran on the state it caught up to.
  t.same(await conn.db.all("SELECT count(*) AS n FROM t WHERE name = 'retried'"), [{ n: 3 }]);
  t.equal(conn.writer.commits, 1, 'one transaction of ours shipped');
});

t.test('a conflict on every attempt: LTXVFS_ERR_CONFLICT naming the TXID and the budget, nothing of ours shipped', async (t) => {
  const { client, conn } = await setup(t);
  rogue(client, Infinity);
  await rejectsLtx(t, execTransaction(conn.db, "INSERT INTO t (name) VALUES ('never')", { attempts: 3 }), 'LTXVFS_ERR_CONFLICT',
    'another writer committed TXID 0000000000000008 first', /gave up after 3 attempts, each after catching up/, /nothing shipped/);
  t.equal(conn.writer.commits, 0);
  const one = await setup(t);
  rogue(one.client, Infinity);
  await rejectsLtx(t, execTransaction(one.conn.db, "INSERT INTO t (name) VALUES ('x')", { attempts: 1 }), 'LTXVFS_ERR_CONFLICT',
    'TXID 0000000000000006', /gave up after 1 attempt,/);
});

t.test('a lease held by another writer: waited for, then taken; held past the wait: LTXVFS_ERR_LEASE_HELD naming the holder', async (t) => {
  const { client, conn } = await setup(t);
  const held = await Lease.acquire(client.inner, { owner: 'web-7:31337', renew: false });
  const pauses: number[] = [];
  const outcome = await execTransaction(conn.db, "INSERT INTO t (name) VALUES ('after the wait')", {
    sleep: async (ms) => {
      pauses.push(ms);
      if (pauses.length === 3) await held.release();
    },
  });
  t.equal(pauses.length, 3, 'three pauses while the lease was held');
  t.ok(pauses.every((ms) => ms > 0 && ms <= 250), `jittered back-off: ${pauses.join(', ')}`);
  t.equal(outcome.shipped, 6);

  const other = await setup(t);
  const lease = await Lease.acquire(other.client.inner, { owner: 'web-8:4242', renew: false });
  t.teardown(() => lease.release());
  let clock = 1_000_000;
  let waits = 0;
  await rejectsLtx(t, execTransaction(other.conn.db, "INSERT INTO t (name) VALUES ('no')", {
    leaseWaitMs: 1000, now: () => clock, sleep: async (ms) => { waits++; clock += ms; },
  }), 'LTXVFS_ERR_LEASE_HELD', 'lease already held by web-8:4242', /gave up after waiting 1000 ms/);
  t.ok(waits > 3, `waited in several pauses (${waits})`);
  await rejectsLtx(t, execTransaction(other.conn.db, 'SELECT 1', { leaseWaitMs: 0 }), 'LTXVFS_ERR_LEASE_HELD', 'web-8:4242', /gave up after waiting \d+ ms/);
  t.equal(other.conn.writer.commits, 0);
});

t.test('SQL that controls transactions itself is refused before anything runs; bad options are usage errors', async (t) => {
  const { client, conn } = await setup(t);
  for (const [sql, index, text] of [
    ["INSERT INTO t (name) VALUES ('a'); COMMIT; INSERT INTO t (name) VALUES ('b'); SELECT * FROM nope", 2, 'COMMIT'],
    ['begin; INSERT INTO t (name) VALUES (1)', 1, 'begin'],
    ["SAVEPOINT s1; INSERT INTO t (name) VALUES ('s')", 1, 'SAVEPOINT s1'],
    ['INSERT INTO t (name) VALUES (1); /* done */ end', 2, '/* done */ end'],
    ['INSERT INTO t (name) VALUES (1); ROLLBACK', 2, 'ROLLBACK'],
    ['INSERT INTO t (name) VALUES (1);\n  release s1;', 2, 'release s1'],
  ] as const) {
    await rejectsLtx(t, execTransaction(conn.db, sql), 'LTXVFS_ERR_USAGE', `statement ${index} (${text}) controls transactions itself`, /nothing was run or shipped/);
  }
  t.equal(client.others, 0, 'no lease read or taken, nothing written');
  t.same(await conn.db.all('SELECT count(*) AS n FROM t'), [{ n: 250 }], 'the fixture\'s rows, unchanged');
  t.doesNotThrow(() => checkOneTransaction(
    "CREATE TRIGGER tr AFTER INSERT ON t BEGIN UPDATE t SET name = 'x;' WHERE id = new.id; END; INSERT INTO t (name) VALUES ('begin')"),
  'a trigger body\'s BEGIN … END and words in strings are not transaction control');
  await rejectsLtx(t, execTransaction(conn.db, 'SELECT 1', { attempts: 0 }), 'LTXVFS_ERR_USAGE', 'bad attempts 0');
  await rejectsLtx(t, execTransaction(conn.db, 'SELECT 1', { leaseWaitMs: -1 }), 'LTXVFS_ERR_USAGE', 'bad lease wait -1');
  await rejectsLtx(t, execTransaction(conn.db, "INSERT INTO t (name) VALUES ('open"), 'LTXVFS_ERR_USAGE', "statement 1 (INSERT INTO t (name) VALUES ('open)", /never closed/);
});
