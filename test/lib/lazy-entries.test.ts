/**
 * `import('ltxvfs')` does not load what only some calls need (lib/api/lazy-entries.ts): the
 * tools, the sql.js adapter, the worker engine, the page bridge and hydration load on first
 * use. A fresh process imports the package entry with a hook printing every module it loads;
 * then the lazy entries still do what they forward to.
 */
import { spawnSync } from 'node:child_process';
import { fileURLToPath, pathToFileURL } from 'node:url';
import t from 'tap';
import * as entry from '../../lib/index.js';
import { copyFixtureReplica } from '../helpers/replica-builder.js';
import { openFileReplica } from '../../lib/storage/file/client.js';

const REPO = fileURLToPath(new URL('../../', import.meta.url));

t.test('importing the package entry loads none of the modules only some calls need', async (t) => {
  const hook = pathToFileURL(`${REPO}test/helpers/module-loads.mjs`).href;
  const script = `import { register } from 'node:module'; register(${JSON.stringify(hook)}); await import(${JSON.stringify(pathToFileURL(`${REPO}lib/index.ts`).href)});`;
  const out = spawnSync(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', script], { cwd: REPO, encoding: 'utf8' });
  if (out.status !== 0) t.comment(out.stderr.slice(-2000));
  t.equal(out.status, 0, 'the child imported the entry');
  const ours = out.stderr.split('\n').filter((l) => l.startsWith('load ') && l.includes(REPO) && !l.includes('/node_modules/')).map((l) => l.slice(5 + pathToFileURL(REPO).href.length));
  t.ok(ours.includes('lib/api/open.ts'), `the entry and openDatabase's modules load (${ours.length} modules)`);
  const lazy = ours.filter((p) => /^(lib\/tools\/|vfs\/sqljs\/|vfs\/worker\/|vfs\/bridge\/|lib\/bridge\/)/.test(p) || /^lib\/hydrate\/(hydrator|pass|plan|state|publication)\.ts$/.test(p));
  t.same(lazy, [], 'no tool, sql.js, worker engine, page bridge or hydration module');
});

t.test('the lazy entries forward to the functions they stand for', async (t) => {
  const dir = await copyFixtureReplica(t.testdir());
  const client = await openFileReplica(dir);
  t.teardown(() => client.close());
  const report = await entry.verifyReplica(client);
  t.same(report.problems, [], 'verifyReplica, loaded on its first call, verifies the fixture replica');
  t.ok(report.filesChecked > 0 && report.txid > 0, `${report.filesChecked} files, TXID ${report.txid}`);
  t.throws(() => entry.sqlJsStats({} as Parameters<typeof entry.sqlJsStats>[0]), { code: 'LTXVFS_ERR_USAGE', message: /not a database from openSqlJs/ },
    'sqlJsStats of anything, before loadSqlJs: the same usage error as the adapter\'s');
  const SQL = await entry.loadSqlJs();
  t.throws(() => entry.sqlJsStats({} as Parameters<typeof entry.sqlJsStats>[0]), { code: 'LTXVFS_ERR_USAGE', message: /not a database from openSqlJs/ }, 'and after it, from the adapter');
  const db = await entry.openSqlJs(SQL, dir);
  t.teardown(() => db.close());
  t.ok(entry.sqlJsStats(db).bridge.messages > 0, 'a database of openSqlJs has stats');
});
