/**
 * A reader whose version points into level-0 files that compaction then removed (with
 * no retention) keeps serving the same state, rebuilt at the same TXID from the
 * compacted files.
 */
import t from 'tap';
import { ReplicaReader } from '../../lib/read/replica-reader.js';
import { openFileReplica } from '../../lib/storage/file/client.js';
import { compactSpecs, historyFromStates, keyOf, sqlJsHistory, writeLtx, writeReplica } from '../helpers/replica-builder.js';

const TXS = [
  'CREATE TABLE t (id INTEGER PRIMARY KEY, body TEXT)',
  "WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c WHERE x < 400) INSERT INTO t (body) SELECT printf('%.*c', 900, char(65 + x % 26)) FROM c",
  'UPDATE t SET body = upper(body) || id WHERE id % 3 = 0',
  'DELETE FROM t WHERE id % 5 = 0',
];

t.test('pages of removed level-0 files are read from the compacted files at the same TXID', async (t) => {
  const dir = t.testdir();
  const states = await sqlJsHistory(TXS);
  const specs = historyFromStates(states);
  await writeReplica(dir, specs);
  const client = await openFileReplica(dir);
  const reader = await ReplicaReader.open(client, { pollIntervalMs: 0, cacheSizeBytes: 0 });
  const before = reader.current;
  t.equal(before.txid, TXS.length);

  // Compact everything into level 1 and remove the level-0 files at once (through the
  // reader's client, which also drops its open handles: on S3 they would answer 404).
  await writeLtx(dir, compactSpecs(specs, 1));
  for (const s of specs) await client.delete(keyOf(s));

  const expected = states[states.length - 1];
  for (let pgno = 1; pgno <= before.commit; pgno++) {
    const page = await reader.readPage(before, pgno);
    t.same(Buffer.from(page), Buffer.from(expected.subarray((pgno - 1) * 4096, pgno * 4096)), `page ${pgno}`);
  }
  t.equal(reader.current.txid, before.txid, 'same TXID');
  t.not(reader.current, before, 'the current version moved to the compacted files');
  t.same(reader.current.files.map((f) => f.info.level), [1]);
  await reader.close();
});

t.test('a file that is gone with no other copy of the state is still an error', async (t) => {
  const dir = t.testdir();
  const states = await sqlJsHistory(TXS);
  const specs = historyFromStates(states);
  await writeReplica(dir, specs);
  const client = await openFileReplica(dir);
  const reader = await ReplicaReader.open(client, { pollIntervalMs: 0, cacheSizeBytes: 0 });
  await client.delete(keyOf(specs[1]));
  const pgno = specs[1].pages.find((p) => reader.current.get(p.pgno)?.file.info.maxTXID === 2)?.pgno;
  t.ok(pgno !== undefined, 'a page served from TXID 2');
  await t.rejects(Promise.resolve(reader.readPage(reader.current, pgno!)), { code: 'LTXVFS_ERR_NOT_FOUND' });
  await reader.close();
});
