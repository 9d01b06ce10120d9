/** The public surface: what `import … from 'ltxvfs'` gives, checked at run time and (by tsc) at compile time. */
import t from 'tap';
import * as ltxvfs from '../../lib/index.js';
import type { OpenOptions, Row, DatabaseReplicaStats, LtxvfsErrorCode } from '../../lib/index.js';

t.test('the entry point exports the documented API', async (t) => {
  for (const name of [
    'openDatabase', 'warmupOf', 'Database', 'ReplicaReader', 'ConnectionView', 'ReplicaWriter', 'writerFor', 'Lease', 'readLease',
    'compactReplica', 'openReplicaClient', 'parseReplicaUrl', 'PageIndex', 'computePlan', 'listReplica', 'importDatabase',
    'restoreDatabase', 'verifyReplica', 'parseTime', 'parseTarget', 'formatTime', 'LtxvfsError', 'isLtxvfsError',
    'registerLtxVFS', 'LtxAsyncVFS',
  ] as const) {
    t.type(ltxvfs[name], 'function', name);
  }
});

t.test('types of the surface fit together (compile-time; one real call)', async (t) => {
  const options: OpenOptions = { cacheSize: 1 << 20, pollIntervalMs: 0, readOnly: true, at: 'latest', warmInterior: false };
  const code: LtxvfsErrorCode = 'LTXVFS_ERR_NOT_FOUND';
  const err = await ltxvfs.openDatabase(`${t.testdir()}/missing`, options).catch((e: unknown) => e);
  t.ok(ltxvfs.isLtxvfsError(err, code));
  const rows: Row[] = [];
  const stats: Partial<DatabaseReplicaStats> = { txid: 0, timeTravel: false };
  t.same(rows, []);
  t.equal(stats.txid, 0);
});
