/**
 * The code examples of docs/usage.md's "Transactions, statements and integers" section,
 * run as they are (in order, sharing one `db`) on the in-process and the worker engine,
 * on a replica written under the lease. They are plain JavaScript with `node:assert`
 * checks, so a wrong comment in the docs fails here.
 */
import t from 'tap';
import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { openDatabase } from '../../lib/api/open.js';

const SECTION = '## Transactions, statements and integers';

async function examples(): Promise<string[]> {
  const doc = await readFile(new URL('../../docs/usage.md', import.meta.url), 'utf8');
  const start = doc.indexOf(SECTION);
  const end = doc.indexOf('\n## ', start + SECTION.length);
  const section = doc.slice(start, end);
  return [...section.matchAll(/```ts\n([\s\S]*?)```/g)].map((m) => m[1]);
}

type Example = (db: unknown, assert: unknown) => Promise<void>;
const AsyncFunction = Object.getPrototypeOf(async () => undefined).constructor as new (...args: string[]) => Example;

for (const engine of ['asyncify', 'worker'] as const) {
  t.test(`${engine}: the examples run`, async (t) => {
    const blocks = await examples();
    t.equal(blocks.length, 3, 'transactions, statements, integers');
    const db = await openDatabase(join(t.testdir(), 'replica'), { engine, create: true, autoLease: true, pollIntervalMs: 0 });
    t.teardown(() => db.close());
    for (const [i, code] of blocks.entries()) {
      await new AsyncFunction('db', 'assert', code)(db, assert);
      t.pass(`example ${i + 1}`);
    }
  });
}
