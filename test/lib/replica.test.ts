import t from 'tap';
import { fileURLToPath } from 'node:url';
import {
  MAX_LEVEL,
  SNAPSHOT_LEVEL,
  computePlan,
  describeFile,
  formatPosition,
  listReplica,
} from '../../lib/replica/plan.js';
import { openFileReplica } from '../../lib/storage/file/client.js';
import type { LtxFileInfo, ReplicaClient } from '../../lib/storage/types.js';
import { formatLtxFilename } from '../../ltx/filename.js';

const FIXTURE = fileURLToPath(new URL('../../fixtures/litestream-0.5.17/replica', import.meta.url));
/** Header timestamp of the fixture's TXID 3 (docs/formats.md §3.1). */
const TXID3_TIME = 1795254712792;

/** A listed file; createdAt defaults to 1000 × maxTXID so later TXIDs are newer. */
function f(level: number, minTXID: number, maxTXID: number, createdAt = 1000 * maxTXID, size = 100): LtxFileInfo {
  return { level, minTXID, maxTXID, size, createdAt, key: `ltx/${level}/${formatLtxFilename(minTXID, maxTXID)}` };
}
const keys = (plan: LtxFileInfo[]) => plan.map((x) => `L${x.level}:${x.minTXID}-${x.maxTXID}`);

/** An in-memory ReplicaClient serving fixed listings. */
function fakeClient(files: LtxFileInfo[]): ReplicaClient & { listed: number[] } {
  const listed: number[] = [];
  const unused = () => Promise.reject(new Error('not used'));
  return {
    url: 'mem://test',
    capabilities: { rangeReads: true, conditionalWrites: 'none', leaseLock: 'none', latency: 'local', tempFileRoot: undefined },
    listed,
    ltxKey: (level, min, max) => `ltx/${level}/${formatLtxFilename(min, max)}`,
    objectKey: (name) => name,
    listLtxFiles: async (level) => {
      listed.push(level);
      return files.filter((x) => x.level === level);
    },
    readRange: unused,
    read: unused,
    write: unused,
    delete: unused,
    close: async () => undefined,
  };
}

t.test('levels', async (t) => {
  t.equal(MAX_LEVEL, 9);
  t.equal(SNAPSHOT_LEVEL, 9);
});

t.test('the real Litestream 0.5.17 replica', async (t) => {
  const client = await openFileReplica(FIXTURE);
  t.teardown(() => client.close());
  const files = await listReplica(client);
  t.same(
    files.map((x) => [x.level, x.minTXID, x.maxTXID, x.size, x.key]),
    [
      [0, 1, 1, 374, 'ltx/0/0000000000000001-0000000000000001.ltx'],
      [0, 2, 2, 401, 'ltx/0/0000000000000002-0000000000000002.ltx'],
      [0, 3, 3, 3146, 'ltx/0/0000000000000003-0000000000000003.ltx'],
      [0, 4, 4, 2650, 'ltx/0/0000000000000004-0000000000000004.ltx'],
      [0, 5, 5, 2895, 'ltx/0/0000000000000005-0000000000000005.ltx'],
    ],
    'five L0 files with their sizes',
  );
  const plan = computePlan(files, undefined, client.url);
  t.same(keys(plan), ['L0:1-1', 'L0:2-2', 'L0:3-3', 'L0:4-4', 'L0:5-5'], 'the plan is the five L0 files');
  t.same(computePlan(files, {}, client.url), plan);
  t.same(keys(computePlan(files, { txid: 3 })), ['L0:1-1', 'L0:2-2', 'L0:3-3']);

  // The fixture copy does not keep Litestream's mtimes (= header timestamps): time travel
  // over it is checked against whatever they are — files created strictly before t.
  const newest = Math.max(...files.map((x) => x.createdAt));
  t.same(keys(computePlan(files, { time: newest + 1 })), keys(plan));
  t.throws(() => computePlan(files, { time: Math.min(...files.map((x) => x.createdAt)) }), { code: 'LTXVFS_ERR_EMPTY_REPLICA' });
});

t.test('listReplica', async (t) => {
  t.test('lists all ten levels in parallel and concatenates them in level order', async (t) => {
    const client = fakeClient([f(9, 1, 5), f(0, 6, 6), f(1, 1, 3), f(0, 7, 7), f(1, 4, 5), f(9, 1, 3)]);
    const files = await listReplica(client);
    t.same(keys(files), ['L0:6-6', 'L0:7-7', 'L1:1-3', 'L1:4-5', 'L9:1-3', 'L9:1-5']);
    t.same([...client.listed].sort((a, b) => a - b), [0, 1, 2, 3, 4, 5, 6, 7, 8, 9]);
  });

  t.test('an empty replica lists as []', async (t) => {
    t.same(await listReplica(fakeClient([])), []);
    const client = await openFileReplica(t.testdir({ ltx: { '0': { 'notes.txt': 'x' } } }));
    t.same(await listReplica(client), []);
    await client.close();
  });

  t.test('overlapping files within a level are LTXVFS_ERR_OVERLAP naming both keys', async (t) => {
    const a = f(0, 1, 3);
    const b = f(0, 3, 4);
    await t.rejects(listReplica(fakeClient([b, a])), {
      code: 'LTXVFS_ERR_OVERLAP',
      key: b.key,
      message: `overlapping LTX files in level 0: ${a.key} and ${b.key}`,
    });
    const c = f(2, 5, 9);
    const d = f(2, 5, 6);
    await t.rejects(listReplica(fakeClient([c, d])), { code: 'LTXVFS_ERR_OVERLAP', message: `overlapping LTX files in level 2: ${d.key} and ${c.key}` });
    t.same(keys(await listReplica(fakeClient([f(0, 1, 3), f(0, 4, 4), f(1, 1, 4)]))), ['L0:1-3', 'L0:4-4', 'L1:1-4'], 'across levels is fine');
  });

  t.test('a level-9 file not starting at TXID 1 is LTXVFS_ERR_CORRUPT', async (t) => {
    const bad = f(9, 2, 5);
    await t.rejects(listReplica(fakeClient([f(9, 1, 1), bad])), {
      code: 'LTXVFS_ERR_CORRUPT',
      key: bad.key,
      message: `snapshot does not start at TXID 1: ${bad.key} starts at 0000000000000002`,
    });
  });

  t.test('a missing replica directory propagates LTXVFS_ERR_NOT_FOUND', async (t) => {
    const dir = t.testdir({ r: {} });
    const client = await openFileReplica(`${dir}/r`);
    const { rm } = await import('node:fs/promises');
    await rm(`${dir}/r`, { recursive: true });
    await t.rejects(listReplica(client), { code: 'LTXVFS_ERR_NOT_FOUND', message: /replica directory does not exist/ });
  });
});

t.test('computePlan', async (t) => {
  t.test('docs/formats.md §4.4 example: L1 1-3 + L0 1…5 ⇒ L1 1-3, L0 4, L0 5', async (t) => {
    const files = [f(0, 1, 1), f(0, 2, 2), f(0, 3, 3), f(0, 4, 4), f(0, 5, 5), f(1, 1, 3)];
    t.same(keys(computePlan(files)), ['L1:1-3', 'L0:4-4', 'L0:5-5']);
    t.same(keys(computePlan([...files].reverse())), ['L1:1-3', 'L0:4-4', 'L0:5-5'], 'input order does not matter');
  });

  t.test('snapshot first, then compacted levels, then L0', async (t) => {
    const files = [
      f(9, 1, 10),
      f(9, 1, 20),
      f(3, 1, 18),
      f(2, 19, 25),
      f(1, 21, 28),
      f(1, 29, 30),
      f(0, 27, 27),
      f(0, 28, 28),
      f(0, 29, 29),
      f(0, 30, 30),
      f(0, 31, 31),
    ];
    t.same(keys(computePlan(files)), ['L9:1-20', 'L1:21-28', 'L1:29-30', 'L0:31-31']);
  });

  t.test('a snapshot alone is a plan', async (t) => {
    t.same(keys(computePlan([f(9, 1, 7)])), ['L9:1-7']);
  });

  t.test('ties: smaller min, then higher level, then earlier createdAt', async (t) => {
    t.same(keys(computePlan([f(0, 1, 1), f(1, 2, 5), f(2, 1, 5)])), ['L2:1-5'], 'smaller min wins at equal max');
    t.same(keys(computePlan([f(1, 1, 5), f(2, 1, 5), f(3, 1, 4)])), ['L2:1-5'], 'higher level wins at equal range');
    const early = f(1, 1, 5, 10);
    const late = { ...f(1, 1, 5, 20), key: 'ltx/1/late' };
    t.same(computePlan([late, early]).map((x) => x.key), [early.key], 'earlier createdAt wins at equal range and level');
  });

  t.test('overlapping inputs still give the longest steps', async (t) => {
    t.same(keys(computePlan([f(0, 1, 2), f(0, 1, 4), f(0, 2, 3), f(0, 3, 6), f(0, 5, 7)])), ['L0:1-4', 'L0:5-7']);
  });

  t.test('target TXID', async (t) => {
    const files = [f(9, 1, 10), f(9, 1, 20), f(1, 1, 3), f(1, 4, 12), f(0, 11, 11), f(0, 12, 12), f(0, 13, 13), f(0, 21, 21)];
    t.same(keys(computePlan(files, { txid: 10 })), ['L9:1-10'], 'reached by the snapshot');
    t.same(keys(computePlan(files, { txid: 11 })), ['L9:1-10', 'L0:11-11']);
    t.same(keys(computePlan(files, { txid: 12 })), ['L9:1-10', 'L1:4-12'], 'a compaction ending at the target');
    t.same(keys(computePlan(files, { txid: 13 })), ['L9:1-10', 'L1:4-12', 'L0:13-13']);
    t.same(keys(computePlan(files, { txid: 3 })), ['L1:1-3']);
    t.same(keys(computePlan(files, { txid: 21 })), ['L9:1-20', 'L0:21-21']);
  });

  t.test('an unreachable target TXID is LTXVFS_ERR_EMPTY_REPLICA "transaction not available"', async (t) => {
    const files = [f(1, 1, 3), f(0, 4, 4), f(0, 5, 5)];
    t.throws(() => computePlan(files, { txid: 9 }, 'file:///r'), {
      code: 'LTXVFS_ERR_EMPTY_REPLICA',
      key: 'file:///r',
      message: 'transaction not available: TXID 0000000000000009 (the newest state at or before it is 0000000000000005) in file:///r',
    });
    t.throws(() => computePlan(files, { txid: 2 }, 'file:///r'), {
      code: 'LTXVFS_ERR_EMPTY_REPLICA',
      message: 'transaction not available: TXID 0000000000000002 (no state at or before it) in file:///r',
    });
    t.throws(() => computePlan([f(0, 1, 1), f(0, 2, 2), f(0, 4, 4)], { txid: 4 }), {
      code: 'LTXVFS_ERR_EMPTY_REPLICA',
      message: 'transaction not available: TXID 0000000000000004 (the newest state at or before it is 0000000000000002) in replica',
    });
  });

  t.test('target time: files created strictly before it', async (t) => {
    const files = [f(0, 1, 1, 100), f(0, 2, 2, 200), f(0, 3, 3, 300), f(1, 1, 3, 300), f(9, 1, 2, 250)];
    t.same(keys(computePlan(files, { time: 101 })), ['L0:1-1']);
    t.same(keys(computePlan(files, { time: 200 })), ['L0:1-1'], 'createdAt equal to the time is excluded');
    t.same(keys(computePlan(files, { time: 201 })), ['L0:1-1', 'L0:2-2']);
    t.same(keys(computePlan(files, { time: 251 })), ['L9:1-2']);
    t.same(keys(computePlan(files, { time: 301 })), ['L9:1-2', 'L1:1-3'], 'the snapshot comes first even when a compaction covers it');
    t.same(keys(computePlan([f(0, 1, 1, 100), f(0, 3, 3, 300)], { time: 1000 })), ['L0:1-1'], 'a gap ends a time-travel plan quietly');
    t.throws(() => computePlan(files, { time: 100 }, 'file:///r'), {
      code: 'LTXVFS_ERR_EMPTY_REPLICA',
      key: 'file:///r',
      message: 'transaction not available: no LTX file created before 1970-01-01T00:00:00.100Z in file:///r',
    });
  });

  t.test('a gap in a newest-state plan is LTXVFS_ERR_TXID_GAP naming the TXID and the next file', async (t) => {
    const next = f(0, 4, 4);
    t.throws(() => computePlan([f(0, 1, 1), f(0, 2, 2), next, f(0, 5, 5)], undefined, 'file:///r'), {
      code: 'LTXVFS_ERR_TXID_GAP',
      key: next.key,
      message:
        'TXID gap after 0000000000000002: next file ltx/0/0000000000000004-0000000000000004.ltx starts at 0000000000000004 (replica file:///r)',
    });
    t.throws(() => computePlan([f(9, 1, 10), f(1, 12, 15), f(0, 13, 13)]), {
      code: 'LTXVFS_ERR_TXID_GAP',
      message: /^TXID gap after 000000000000000a: next file ltx\/1\/000000000000000c-000000000000000f\.ltx starts at 000000000000000c/,
    });
  });

  t.test('files that do not start at TXID 1 are LTXVFS_ERR_TXID_GAP', async (t) => {
    const first = f(0, 3, 3);
    t.throws(() => computePlan([f(0, 4, 4), first, f(1, 3, 4)], undefined, 'file:///r'), {
      code: 'LTXVFS_ERR_TXID_GAP',
      key: first.key,
      message: `TXID gap: no LTX file starts at TXID 1 (a restorable plan must): first file ${first.key} starts at 0000000000000003 (replica file:///r)`,
    });
    t.throws(() => computePlan([f(0, 3, 3), f(0, 4, 4)], { txid: 4 }), { code: 'LTXVFS_ERR_TXID_GAP' });
    t.throws(() => computePlan([f(0, 3, 3), f(0, 4, 4)], { time: 10_000 }), { code: 'LTXVFS_ERR_TXID_GAP' });
  });

  t.test('an empty replica is LTXVFS_ERR_EMPTY_REPLICA naming it', async (t) => {
    t.throws(() => computePlan([], undefined, 'file:///empty'), {
      code: 'LTXVFS_ERR_EMPTY_REPLICA',
      key: 'file:///empty',
      message: 'replica has no LTX files: file:///empty',
    });
    t.throws(() => computePlan([]), { message: 'replica has no LTX files: replica' });
  });

  t.test('a level-9 file not starting at TXID 1 is LTXVFS_ERR_CORRUPT', async (t) => {
    const bad = f(9, 3, 9);
    t.throws(() => computePlan([f(0, 1, 1), bad]), { code: 'LTXVFS_ERR_CORRUPT', key: bad.key, message: /^snapshot does not start at TXID 1: / });
  });

  t.test('files of levels outside 0…9 are ignored', async (t) => {
    t.same(keys(computePlan([f(0, 1, 1), f(10, 1, 5), f(-1, 2, 2)])), ['L0:1-1']);
  });

  t.test('bad targets are LTXVFS_ERR_USAGE', async (t) => {
    const files = [f(0, 1, 1)];
    t.throws(() => computePlan(files, { txid: 1, time: 1 }), { code: 'LTXVFS_ERR_USAGE', message: 'restore target: give a TXID or a time, not both' });
    for (const txid of [0, -1, 1.5, Number.NaN]) {
      t.throws(() => computePlan(files, { txid }), { code: 'LTXVFS_ERR_USAGE', message: /^restore target: bad TXID/ });
    }
    t.throws(() => computePlan(files, { time: Number.NaN }), { code: 'LTXVFS_ERR_USAGE', message: 'restore target: bad time NaN, need ms since the epoch' });
  });
});

t.test('formatPosition prints <TXID>/<checksum>', async (t) => {
  t.equal(formatPosition(5), '0000000000000005/0000000000000000');
  t.equal(formatPosition(1, 0xee274f1357b234e2n), '0000000000000001/ee274f1357b234e2');
  t.throws(() => formatPosition(1, -1n), { code: 'LTXVFS_ERR_USAGE', message: 'bad checksum -1: not a u64' });
  t.throws(() => formatPosition(1, 1n << 64n), { code: 'LTXVFS_ERR_USAGE' });
  t.throws(() => formatPosition(-1), { code: 'LTXVFS_ERR_USAGE' });
});

t.test('describeFile', async (t) => {
  t.equal(
    describeFile(f(1, 1, 3, TXID3_TIME, 3146)),
    'ltx/1/0000000000000001-0000000000000003.ltx (level 1, TXID 0000000000000001-0000000000000003, 3146 bytes, 2026-11-21T09:51:52.792Z)',
  );
  t.match(describeFile(f(0, 1, 1, Number.NaN)), /, unknown time\)$/);
});
