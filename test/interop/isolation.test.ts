/**
 * Snapshot isolation against a live writer: the REAL Litestream VFS moves money between
 * accounts in many transactions (one sqlite3 process, one transaction, one LTX file
 * each; the total never changes), and ltxvfs polls after every remote commit. A reader
 * that holds one read transaction open across all of them (> 100 remote commits) must
 * always see the same balances, the same total and the same TXID; a second connection
 * in autocommit sees every new TXID with the same total; after COMMIT the reader sees the
 * newest TXID and still the same total.
 */
import t from 'tap';
import { promises as fs } from 'node:fs';
import { join } from 'node:path';
import { openDatabase } from '../../lib/api/open.js';
import { acquireReader } from '../../lib/read/registry.js';
import { requireLitestreamVfs, requireSqlite3 } from '../helpers/paths.js';
import { fileReplicaUrl, listLtxFiles, litestreamWrite } from '../helpers/litestream.js';

requireSqlite3();
requireLitestreamVfs();

const ACCOUNTS = 2000;
const OPENING_BALANCE = 1000;
const TOTAL = ACCOUNTS * OPENING_BALANCE;
const COMMITS = 105;

t.test(`a read transaction sees one state across ${COMMITS} remote commits`, async (t) => {
  const startedAt = performance.now();
  const dir = join(t.testdir(), 'replica');
  await fs.mkdir(dir);
  const url = fileReplicaUrl(dir);
  // ~100 pages of accounts (with padding), so that reads spread over many pages.
  await litestreamWrite(url, `CREATE TABLE accounts (id INTEGER PRIMARY KEY, balance INTEGER NOT NULL, owner TEXT NOT NULL);
    INSERT INTO accounts SELECT x, ${OPENING_BALANCE}, printf('owner-%04d-%s', x, hex(zeroblob(80)))
      FROM (WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c WHERE x < ${ACCOUNTS}) SELECT x FROM c);`);

  const reader = await openDatabase(url, { pollIntervalMs: 0 });
  t.teardown(() => reader.close());
  const observer = await openDatabase(url, { pollIntervalMs: 0 });
  t.teardown(() => observer.close());
  const lease = await acquireReader(url);
  t.teardown(() => lease.release());
  // A tiny page cache: the transaction's repeated scans read through the VFS, from its pinned version.
  await reader.exec('PRAGMA cache_size = 10');

  const TOTALS = 'SELECT sum(balance) AS total, count(*) AS n, litestream_txid() AS txid FROM accounts';
  const BALANCES = 'SELECT group_concat(balance) AS balances FROM accounts';
  let heldBalances: unknown;
  await reader.transaction(async () => {
  const held = (await reader.get(TOTALS))!;
  heldBalances = (await reader.get(BALANCES))!.balances;
  t.same(held, { total: TOTAL, n: ACCOUNTS, txid: '0000000000000001' });

  let seed = 12345;
  const next = (n: number): number => {
    seed = (seed * 1103515245 + 12345) % 2 ** 31;
    return seed % n;
  };
  let sameInside = 0;
  let sameTotalOutside = 0;
  for (let i = 1; i <= COMMITS; i++) {
    const from = next(ACCOUNTS) + 1;
    const to = ((from + next(ACCOUNTS - 1)) % ACCOUNTS) + 1;
    const amount = next(500) + 1;
    await litestreamWrite(url, `BEGIN;
      UPDATE accounts SET balance = balance - ${amount} WHERE id = ${from};
      UPDATE accounts SET balance = balance + ${amount} WHERE id = ${to};
      COMMIT;`);
    await lease.reader.poller.pollNow();
    const txid = (i + 1).toString(16).padStart(16, '0');

    const outside = (await observer.get(TOTALS))!;
    if (outside.total === TOTAL && outside.txid === txid) sameTotalOutside++;
    else t.fail(`commit ${i}: autocommit connection saw ${JSON.stringify(outside)}, expected total ${TOTAL} at TXID ${txid}`);

    const inside = (await reader.get(TOTALS))!;
    const balances = i % 10 === 0 ? (await reader.get(BALANCES))!.balances : heldBalances;
    if (inside.total === held.total && inside.n === held.n && inside.txid === held.txid && balances === heldBalances) sameInside++;
    else t.fail(`commit ${i}: the open transaction saw ${JSON.stringify(inside)}${balances === heldBalances ? '' : ' and other balances'}, expected ${JSON.stringify(held)}`);
  }
  t.equal(sameInside, COMMITS, `the open transaction saw the same state after each of ${COMMITS} remote commits`);
  t.equal(sameTotalOutside, COMMITS, 'the autocommit connection saw every new TXID, with the same total');
  t.equal(reader.stats().pinnedVersions, 1, 'one version pinned meanwhile: the transaction\'s');
  t.equal(reader.stats().txid, COMMITS + 1, 'while the reader knew the newest TXID');

  });
  const after = (await reader.get(TOTALS))!;
  t.same(after, { total: TOTAL, n: ACCOUNTS, txid: (COMMITS + 1).toString(16).padStart(16, '0') }, 'the next transaction: the newest TXID, the same total');
  t.not((await reader.get(BALANCES))!.balances, heldBalances, 'and the moved balances');
  t.same(await reader.get(BALANCES), await observer.get(BALANCES), 'the same balances as the other connection');
  t.equal(reader.stats().pinnedVersions, 0);
  const files = await listLtxFiles(dir);
  t.equal(files.filter((f) => f.level === 0).length, COMMITS + 1, `${COMMITS} remote commits = ${COMMITS} LTX files (plus the first)`);
  t.same(await reader.all('PRAGMA integrity_check'), [{ integrity_check: 'ok' }]);
  t.comment(`isolation test: ${COMMITS} remote commits in ${((performance.now() - startedAt) / 1000).toFixed(1)} s`);
});
