/**
 * Concurrency safety of one Database shared by many async flows (issue 14 item 1): 50
 * flows interleave transactions that commit and roll back, autocommit writes and reads
 * on one connection to a replica under the write lease, on the in-process and the worker
 * engine. Every committed row must be present exactly once (in the connection and in a
 * fresh reader of the replica), no rolled-back row present, and no flow may see an error
 * it did not throw itself.
 */
import t from 'tap';
import { join } from 'node:path';
import { openDatabase } from '../../lib/api/open.js';

const FLOWS = 50;
const ROUNDS = 4;
const INSERT = 'INSERT INTO rows (flow, round, n, kind) VALUES (?, ?, ?, ?)';

/** A small deterministic generator per flow (an LCG), so a failure can be replayed. */
function lcg(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (Math.imul(s, 1103515245) + 12345) >>> 0;
    return s / 2 ** 32;
  };
}

/** Give every other flow a turn. */
const turn = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));

for (const engine of ['asyncify', 'worker'] as const) {
  t.test(`${engine}: ${FLOWS} flows of transactions, rollbacks, writes and reads on one Database`, async (t) => {
    const dir = join(t.testdir(), 'replica');
    const db = await openDatabase(dir, { engine, create: true, autoLease: true, pollIntervalMs: 0 });
    t.teardown(() => db.close());
    await db.exec('CREATE TABLE rows (id INTEGER PRIMARY KEY, flow INTEGER NOT NULL, round INTEGER NOT NULL, n INTEGER NOT NULL, kind TEXT NOT NULL)');
    const committed: string[] = [];
    const rolledBack: string[] = [];
    const wrong: string[] = [];
    const kinds = { commit: 0, rollback: 0, nested: 0, write: 0, read: 0 };

    const flow = async (f: number): Promise<void> => {
      const random = lcg(f + 1);
      const mine: string[] = [];
      for (let r = 0; r < ROUNDS; r++) {
        const key = (n: number): string => `${f}/${r}/${n}`;
        const roll = random();
        if (roll < 0.3) {
          kinds.commit++;
          const n = 1 + Math.floor(random() * 3);
          await db.transaction(async (tx) => {
            for (let i = 0; i < n; i++) {
              await tx.run(INSERT, [f, r, i, 'tx']);
              await turn();
            }
            const seen = await db.get<{ c: number }>('SELECT count(*) AS c FROM rows WHERE flow = ? AND round = ?', [f, r]);
            if (seen?.c !== n) wrong.push(`flow ${f} round ${r}: its transaction saw ${seen?.c} of its ${n} rows`);
          }, { mode: random() < 0.5 ? 'immediate' : 'deferred' });
          for (let i = 0; i < n; i++) mine.push(key(i));
        } else if (roll < 0.55) {
          kinds.rollback++;
          const own = new Error(`flow ${f} round ${r} rolls back`);
          const err = await db.transaction(async (tx) => {
            await tx.run(INSERT, [f, r, 0, 'rolled back']);
            await turn();
            await tx.run(INSERT, [f, r, 1, 'rolled back']);
            throw own;
          }).catch((e: unknown) => e);
          if (err !== own) wrong.push(`flow ${f} round ${r}: the rollback rejected with ${String(err)}`);
          rolledBack.push(key(0), key(1));
        } else if (roll < 0.7) {
          kinds.nested++;
          // A savepoint that rolls back inside a transaction that commits.
          await db.transaction(async (tx) => {
            await tx.run(INSERT, [f, r, 0, 'outer']);
            await tx.transaction(async (inner) => {
              await inner.run(INSERT, [f, r, 1, 'savepoint']);
              await turn();
              throw new Error('undo the savepoint');
            }).catch(() => undefined);
            await turn();
          });
          mine.push(key(0));
          rolledBack.push(key(1));
        } else if (roll < 0.85) {
          kinds.write++;
          await db.run(INSERT, [f, r, 0, 'autocommit']);
          mine.push(key(0));
        } else {
          kinds.read++;
          const rows = await db.all<{ round: number; n: number }>('SELECT round, n FROM rows WHERE flow = ? ORDER BY round, n', [f]);
          const seen = rows.map((row) => `${f}/${row.round}/${row.n}`);
          if (JSON.stringify(seen) !== JSON.stringify(mine)) wrong.push(`flow ${f} round ${r}: read ${seen.join(',')}, committed ${mine.join(',')}`);
        }
        await turn();
      }
      committed.push(...mine);
    };

    const outcomes = await Promise.allSettled(Array.from({ length: FLOWS }, (_, f) => flow(f)));
    t.same(outcomes.filter((o) => o.status === 'rejected'), [], 'no flow failed with an error of another flow');
    t.same(wrong, [], 'every flow saw exactly its own committed rows, and its transaction its own rows');
    t.ok(Object.values(kinds).every((n) => n > 0), `every kind of step ran: ${JSON.stringify(kinds)}`);

    const check = async (label: string, rows: { flow: number; round: number; n: number; c: number }[]): Promise<void> => {
      const present = new Map(rows.map((row) => [`${row.flow}/${row.round}/${row.n}`, row.c]));
      t.same(committed.filter((k) => present.get(k) !== 1), [], `${label}: every committed row present exactly once (${committed.length})`);
      t.same(rolledBack.filter((k) => present.has(k)), [], `${label}: no rolled-back row present (${rolledBack.length} rolled back)`);
      t.equal(present.size, committed.length, `${label}: no other row`);
    };
    const GROUPED = 'SELECT flow, round, n, count(*) AS c FROM rows GROUP BY flow, round, n';
    await check('the connection', await db.all(GROUPED));
    const reader = await openDatabase(dir, { readOnly: true, pollIntervalMs: 0, shared: false });
    t.teardown(() => reader.close());
    await check('a fresh reader of the replica', await reader.all(GROUPED));
    t.same(await reader.all('PRAGMA integrity_check'), [{ integrity_check: 'ok' }]);
  });
}
