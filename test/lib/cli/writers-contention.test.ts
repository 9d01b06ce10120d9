/**
 * `ltxvfs exec` under contention, as issue 12 probed it: 4 processes × 50 exec on one
 * directory replica, each writer a process of its own (test/helpers/cli-child.ts runs the
 * real CLI). Every exec takes the lease (waiting for it), catches up, commits.
 */
import t from 'tap';
import { openDatabase } from '../../../lib/api/open.js';
import { runCliChild } from '../../helpers/cli-child.js';
import { copyFixtureReplica } from '../../helpers/replica-builder.js';

const PROCESSES = 4;
const EXECS = 50;
// 200 processes: 67-84 s in clean-clone runs, some 4 times the CI share on a loaded machine,
// past .taprc's 300 s: the file's limit is not a bound on the machine's speed.
t.setTimeout(900_000);

t.test(`${PROCESSES} processes × ${EXECS} exec on one replica: every success is in the replica, every failure is past its retry budget`, async (t) => {
  const dir = t.testdir({});
  await copyFixtureReplica(dir);
  const results = await Promise.all(Array.from({ length: PROCESSES }, (_, p) => runCliChild({
    runs: Array.from({ length: EXECS }, (_, i) => ['exec', dir, `INSERT INTO t (name) VALUES ('w${p}-${i}')`]),
  })));
  const committed = new Map<string, number>();
  const failures: string[] = [];
  results.forEach((runs, p) => {
    t.equal(runs.length, EXECS, `process ${p} ran every exec`);
    for (const r of runs) {
      const name = `w${p}-${r.index}`;
      const m = /^committed TXID ([0-9a-f]{16})( \(after \d+ conflicts? with other writers\))?\n$/.exec(r.stdout);
      if (r.code === 0 && m !== null) committed.set(name, Number.parseInt(m[1], 16));
      else failures.push(`${name}: exit ${r.code}: ${r.stderr.trim()}`);
    }
  });
  for (const f of failures) t.match(f, /^w\d+-\d+: exit 1: ltxvfs: .*(gave up after waiting \d+ ms for it|gave up after \d+ attempts)/, 'a failure past the budget');
  const txids = [...committed.values()].sort((a, b) => a - b);
  t.same(txids, Array.from({ length: committed.size }, (_, i) => 6 + i), 'each success shipped its own TXID, one after the other');

  const db = await openDatabase(dir, { readOnly: true, shared: false, pollIntervalMs: 0 });
  t.teardown(() => db.close());
  const rows = await db.all("SELECT name FROM t WHERE name LIKE 'w%-%' ORDER BY name");
  t.same(rows.map((r) => r.name), [...committed.keys()].sort(), 'exactly the successes are in the replica, once each');
  t.same(await db.all('SELECT litestream_txid() AS txid'), [{ txid: (5 + committed.size).toString(16).padStart(16, '0') }]);
  t.comment(`${committed.size} of ${PROCESSES * EXECS} exec committed, ${failures.length} failed past the budget`);
});
