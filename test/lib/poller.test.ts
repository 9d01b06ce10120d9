/**
 * The poller (docs/architecture.md read path 7, docs/formats.md §4.6) over real replicas: LTX files
 * encoded by the project's encoder from real sql.js database images, written and deleted
 * through the real directory client on t.testdir(). Polls are driven by `pollNow()`
 * (polling interval off, or an hour) and staleness by a settable clock, so nothing here
 * depends on timing except the last test, which lets the real timer run and waits (with
 * a generous limit) for what must happen.
 */
import t, { type Test } from 'tap';
import { promises as fs } from 'node:fs';
import { join } from 'node:path';
import { subscribe, unsubscribe } from 'node:diagnostics_channel';
import type { PollMessage } from '../../lib/read/poller.js';
import { continuation } from '../../lib/read/catch-up.js';
import { ReplicaReader, type ReplicaReaderOptions } from '../../lib/read/replica-reader.js';
import { openDatabase } from '../../lib/api/open.js';
import { loadAsyncifyModule } from '../../vfs/wasm/wa-sqlite.js';
import { acquireReader } from '../../lib/read/registry.js';
import { openFileReplica } from '../../lib/storage/file/client.js';
import type { LtxFileInfo, ReplicaClient } from '../../lib/storage/types.js';
import type { PageIndex } from '../../lib/replica/page-index.js';
import { LtxvfsError, isLtxvfsError } from '../../ltx/errors.js';
import {
  bytesEqual, compactSpecs, databaseChecksumOf, flipBit, historyFromStates, keyOf, rejectsLtx, snapshotFromDatabase,
  sqlJsHistory, timestampOf, writeLtx, writeReplica,
} from '../helpers/replica-builder.js';
import { ListFaultClient, TestClock, waitFor } from '../helpers/polling.js';

const HOUR = 3_600_000;

/** A listing entry for continuation() (only the name fields matter to it). */
function info(level: number, minTXID: number, maxTXID: number): LtxFileInfo {
  return { level, minTXID, maxTXID, size: 100, createdAt: 0, key: keyOf({ level, minTXID, maxTXID }) };
}
const keys = (files: readonly { key: string }[]): string[] => files.map((f) => f.key);
const fileKeys = (v: PageIndex): string[] => v.files.map((f) => f.info.key);

t.test('continuation(): the files that continue a TXID, in order, and whether any lie beyond a hole', async (t) => {
  t.same(continuation(5, []), { chain: [], beyond: false }, 'nothing listed');
  t.same(continuation(5, [info(0, 1, 1), info(0, 5, 5), info(1, 1, 5)]), { chain: [], beyond: false }, 'only files already applied');
  const l0 = [info(0, 6, 6), info(0, 7, 7), info(0, 8, 8)];
  t.same(keys(continuation(5, l0).chain), keys(l0), 'contiguous L0 files in TXID order');
  t.same(keys(continuation(5, [...l0].reverse()).chain), keys(l0), 'whatever the listing order');
  t.same(continuation(5, [info(0, 6, 6), info(0, 8, 8)]), { chain: [info(0, 6, 6)], beyond: true }, 'a hole: up to it, files beyond');
  t.same(continuation(5, [info(0, 7, 7)]), { chain: [], beyond: true }, 'nothing contiguous, a file beyond');
  t.same(keys(continuation(5, [info(0, 6, 6), info(0, 7, 7), info(1, 1, 7), info(0, 8, 8)]).chain),
    ['ltx/1/0000000000000001-0000000000000007.ltx', 'ltx/0/0000000000000008-0000000000000008.ltx'],
    'a compaction overlapping the applied TXIDs reaches furthest: it replaces the L0 files it covers');
  t.same(keys(continuation(5, [info(0, 6, 6), info(1, 6, 6)]).chain), ['ltx/1/0000000000000006-0000000000000006.ltx'],
    'same range: the higher level');
  t.same(keys(continuation(5, [info(1, 6, 9), info(2, 1, 9)]).chain), ['ltx/2/0000000000000001-0000000000000009.ltx'],
    'same end: the earlier start');
  t.same(keys(continuation(5, [info(2, 1, 9), info(1, 6, 9)]).chain), ['ltx/2/0000000000000001-0000000000000009.ltx'],
    'same end, other order: the earlier start');
  t.same(keys(continuation(5, [info(1, 6, 9), info(0, 6, 6), info(0, 7, 7)]).chain), ['ltx/1/0000000000000006-0000000000000009.ltx'],
    'a longer file beats the L0 files it covers');
  t.same(continuation(0, [info(0, 1, 1), info(0, 2, 2)]).chain.length, 2, 'from an empty version');
});

/** Successive database images: a table that grows past 32 KiB (large LTX files), then shrinks (VACUUM). */
async function history(): Promise<Uint8Array[]> {
  return sqlJsHistory([
    'CREATE TABLE t (id INTEGER PRIMARY KEY, v TEXT NOT NULL); CREATE INDEX t_v ON t(v)',
    "INSERT INTO t (v) VALUES ('alpha'), ('bravo'), ('charlie')",
    "WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c WHERE x < 40) INSERT INTO t (v) SELECT printf('row-%04d-%s', x, hex(zeroblob(40))) FROM c",
    "UPDATE t SET v = 'ALPHA' WHERE id = 1",
    "WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c WHERE x < 400) INSERT INTO t (v) SELECT printf('big-%05d-%s', x, hex(randomblob(200))) FROM c",
    'DELETE FROM t WHERE id > 10; VACUUM',
    "INSERT INTO t (v) VALUES ('delta'), ('echo')",
    "UPDATE t SET v = upper(v) WHERE id > 10",
    "INSERT INTO t (v) VALUES ('foxtrot')",
    'DELETE FROM t WHERE id = 2',
  ]);
}

async function openReader(t: Test, dir: string, options: ReplicaReaderOptions = {}): Promise<{ reader: ReplicaReader; client: ListFaultClient }> {
  const client = await ListFaultClient.open(dir);
  const reader = await ReplicaReader.open(client, { pollIntervalMs: 0, ...options });
  t.teardown(() => reader.close());
  return { reader, client };
}

/** The whole database image `version` serves, read through the reader. */
async function imageOf(reader: ReplicaReader, version: PageIndex = reader.current): Promise<Uint8Array> {
  reader.pin(version);
  try {
    const out = new Uint8Array(version.commit * version.pageSize);
    for (let pgno = 1; pgno <= version.commit; pgno++) out.set(await reader.readPage(version, pgno), (pgno - 1) * version.pageSize);
    return out;
  } finally {
    reader.release(version);
  }
}

/** Collect the reader's events and the `ltxvfs:poll` messages of its replica. */
function record(t: Test, reader: ReplicaReader): { versions: number[]; errors: unknown[]; stale: LtxvfsError[]; messages: PollMessage[] } {
  const r = { versions: [] as number[], errors: [] as unknown[], stale: [] as LtxvfsError[], messages: [] as PollMessage[] };
  reader.on('version', (v) => r.versions.push(v.txid));
  reader.on('poll-error', (e) => r.errors.push(e));
  reader.on('stale', (e) => r.stale.push(e));
  const onMessage = (m: unknown): void => {
    if ((m as PollMessage).url === reader.client.url) r.messages.push(m as PollMessage);
  };
  subscribe('ltxvfs:poll', onMessage);
  t.teardown(() => unsubscribe('ltxvfs:poll', onMessage));
  return r;
}

t.test('a poll lists level 0 from the current TXID and applies new files in TXID order; small files are read whole, once', async (t) => {
  const states = await history();
  const specs = historyFromStates(states);
  const dir = t.testdir();
  await writeReplica(dir, specs.slice(0, 2));
  // The whole-file bound set to the tail read: the large file below is paged by range reads.
  const { reader, client } = await openReader(t, dir, { wholeFileBytes: 32 * 1024 });
  const rec = record(t, reader);
  const first = reader.current;
  t.equal(first.txid, 2);

  await reader.poller.pollNow();
  t.equal(reader.current, first, 'nothing new: the same version');
  t.same(rec.messages, [{ url: client.url, txid: 2, applied: 0, rebuilt: false, error: undefined }]);

  // Two files at once, written in reverse order: applied 3, then 4.
  for (const spec of specs.slice(2, 4).reverse()) await writeLtx(dir, spec);
  client.reset();
  await reader.poller.pollNow();
  t.equal(client.lists, 2, 'one poll = a listing of level 0 (from TXID 3) and one of level 1');
  t.same(fileKeys(reader.current), specs.slice(0, 4).map(keyOf), 'applied in TXID order');
  t.same(rec.versions, [4], 'one new version per poll');
  t.same(client.reads.map((r) => [r.key, r.offset, r.length]), specs.slice(2, 4).map((s) => {
    const key = keyOf(s);
    return [key, 0, reader.current.files.find((f) => f.info.key === key)!.info.size];
  }), 'each new small file read whole, in one request');
  t.same(rec.messages[1], { url: client.url, txid: 4, applied: 2, rebuilt: false, error: undefined });
  client.reset();
  const v4 = reader.current;
  let fromNew = 0;
  for (let pgno = 1; pgno <= v4.commit; pgno++) {
    const ref = v4.get(pgno)!;
    if (ref.file.info.minTXID < 3) continue;
    fromNew++;
    t.ok(reader.readPage(v4, pgno) instanceof Uint8Array, `page ${pgno} (from ${ref.file.info.key}) is served from the cache`);
  }
  t.ok(fromNew > 0);
  t.equal(client.reads.length, 0, 'no read for them');
  t.ok(bytesEqual(await imageOf(reader), states[3]), 'the image after TXID 4');

  // A large file: header and tail read by the poll, pages fetched when asked for.
  await writeLtx(dir, specs[4]);
  client.reset();
  await reader.poller.pollNow();
  const large = reader.current.files[4].info;
  t.ok(large.size > 32 * 1024, 'TXID 5 is a large file');
  t.same(client.reads.map((r) => [r.key, r.offset]).sort(), [[large.key, 0], [large.key, large.size - 32 * 1024]], 'header and tail');
  t.ok(bytesEqual(await imageOf(reader), states[4]), 'the image after TXID 5');
  const s = reader.stats();
  t.same([s.txid, s.polls, s.pollFailures, s.lastPollError, s.stale], [5, 3, 0, undefined, false]);
  t.same(rec.versions, [4, 5]);
});

t.test('a file that shrinks the database truncates the version to its commit', async (t) => {
  const states = await history();
  const specs = historyFromStates(states);
  const dir = t.testdir();
  await writeReplica(dir, specs.slice(0, 5));
  const { reader } = await openReader(t, dir);
  const before = reader.current;
  await writeLtx(dir, specs[5]); // DELETE … ; VACUUM
  await reader.poller.pollNow();
  const after = reader.current;
  t.equal(after.txid, 6);
  t.equal(after.commit, states[5].length / 4096, 'commit of the shrinking file');
  t.ok(after.commit < before.commit, `shrank from ${before.commit} to ${after.commit} pages`);
  t.equal(after.get(after.commit + 1), undefined, 'no page beyond commit');
  t.same(after.missingPages(), [], 'every page up to commit has a frame');
  t.ok(bytesEqual(await imageOf(reader), states[5]), 'the image after the truncation');
  t.ok(bytesEqual(await imageOf(reader, before), states[4]), 'the version before is untouched');

  // Truncate then grow again within one poll: pages beyond the first commit come only from the later file.
  for (const spec of specs.slice(6)) await writeLtx(dir, spec);
  await reader.poller.pollNow();
  t.equal(reader.current.txid, 10);
  t.ok(bytesEqual(await imageOf(reader), states[9]), 'the image after TXID 10');
});

t.test('checksummed files: pre-apply must equal the current post-apply checksum, or the poll fails and nothing moves', async (t) => {
  const states = await history();
  const specs = historyFromStates(states, { checksummed: true });
  const dir = t.testdir();
  await writeReplica(dir, specs.slice(0, 3));
  const { reader, client } = await openReader(t, dir);
  const rec = record(t, reader);
  t.equal(reader.current.postApplyChecksum, databaseChecksumOf(states[2]));

  await writeLtx(dir, specs[3]);
  await reader.poller.pollNow();
  t.equal(reader.current.txid, 4, 'a file continuing the chain is applied');
  t.equal(reader.current.postApplyChecksum, databaseChecksumOf(states[3]), 'post-apply checksum = checksum of the image');

  const at4 = reader.current;
  const cacheBytes = reader.stats().cacheBytes;
  const wrong = { ...specs[4], preApplyChecksum: specs[4].preApplyChecksum! ^ 0x10n };
  const key = keyOf(wrong);
  await writeLtx(dir, wrong);
  await reader.poller.pollNow();
  await reader.poller.pollNow();
  t.equal(reader.current, at4, 'version unchanged');
  const s = reader.stats();
  t.same([s.polls, s.pollFailures, s.txid, s.cacheBytes], [3, 2, 4, cacheBytes], 'both polls failed and were counted; the cache is as it was');
  t.match(s.lastPollError, new RegExp(`^${key}: pre-apply checksum [0-9a-f]{16} does not match post-apply checksum [0-9a-f]{16} at TXID 4$`));
  t.equal(rec.errors.length, 2);
  t.ok(isLtxvfsError(rec.errors[0], 'LTXVFS_ERR_CHECKSUM'), 'poll-error carries LTXVFS_ERR_CHECKSUM');
  t.equal((rec.errors[0] as LtxvfsError).key, key);
  t.same(rec.messages.map((m) => [m.txid, m.applied, isLtxvfsError(m.error, 'LTXVFS_ERR_CHECKSUM')]), [[4, 1, false], [4, 0, true], [4, 0, true]]);
  t.same(rec.versions, [4]);

  // The writer replaces it with the right file (same name, same size): the next poll reads it afresh.
  await writeLtx(client, specs[4]);
  await reader.poller.pollNow();
  t.equal(reader.current.txid, 5, 'applied once the file is right');
  t.equal(reader.current.postApplyChecksum, databaseChecksumOf(states[4]));
  t.same([reader.stats().pollFailures, reader.stats().lastPollError], [2, undefined]);
  t.ok(bytesEqual(await imageOf(reader), states[4]));
});

t.test('a corrupt new small file fails the poll: nothing of that poll is applied, nothing is cached', async (t) => {
  const states = await history();
  const specs = historyFromStates(states);
  const dir = t.testdir();
  await writeReplica(dir, specs.slice(0, 2));
  const { reader, client } = await openReader(t, dir);
  const rec = record(t, reader);
  const at2 = reader.current;
  const cacheBytes = reader.stats().cacheBytes;
  await writeLtx(dir, specs[2]);
  const bad = await writeLtx(dir, specs[3]);
  await flipBit(bad.path!, 120, 3); // inside the first page frame
  await reader.poller.pollNow();
  t.equal(reader.current, at2, 'not even the good TXID 3 is applied');
  t.same([reader.stats().pollFailures, reader.stats().cacheBytes], [1, cacheBytes], 'counted; cache not polluted');
  t.equal(rec.errors.length, 1);
  t.ok(isLtxvfsError(rec.errors[0], 'LTXVFS_ERR_CHECKSUM'));
  t.match((rec.errors[0] as Error).message, new RegExp(`${bad.key}.*file checksum mismatch: stored [0-9a-f]{16}, computed [0-9a-f]{16}`));
  t.ok(bytesEqual(await imageOf(reader), states[1]), 'reads still serve TXID 2');

  await writeLtx(client, specs[3]); // the writer uploads it again, intact
  await reader.poller.pollNow();
  t.equal(reader.current.txid, 4);
  t.ok(bytesEqual(await imageOf(reader), states[3]));
});

t.test('files compacted away before they were seen', async (t) => {
  const states = await history();
  const specs = historyFromStates(states);

  t.test('into level 1 (L0 files deleted): the L1 file continues the chain, no rebuild', async (t) => {
    const dir = t.testdir();
    await writeReplica(dir, specs.slice(0, 3));
    const { reader } = await openReader(t, dir);
    const rec = record(t, reader);
    const writer = await openFileReplica(dir);
    t.teardown(() => writer.close());
    for (const spec of specs.slice(3, 8)) await writeLtx(writer, spec);
    await writeLtx(writer, compactSpecs(specs.slice(0, 8), 1)); // L1 1-8, as Litestream's first L1 compaction
    for (const spec of specs.slice(0, 7)) await writer.delete(keyOf(spec)); // retention keeps the newest L0 file
    await writeLtx(writer, specs[8]);
    await reader.poller.pollNow();
    t.same(fileKeys(reader.current).slice(3), ['ltx/1/0000000000000001-0000000000000008.ltx', keyOf(specs[8])]);
    t.same(rec.messages.map((m) => [m.txid, m.applied, m.rebuilt]), [[9, 2, false]]);
    t.ok(bytesEqual(await imageOf(reader), states[8]));
  });

  t.test('into level 2, no level-1 file left: rebuilt from the plan', async (t) => {
    const dir = t.testdir();
    await writeReplica(dir, specs.slice(0, 3));
    const { reader, client } = await openReader(t, dir);
    const rec = record(t, reader);
    const writer = await openFileReplica(dir);
    t.teardown(() => writer.close());
    for (const spec of specs.slice(3, 8)) await writeLtx(writer, spec);
    await writeLtx(writer, compactSpecs(specs.slice(0, 7), 2)); // L2 1-7
    for (const spec of specs.slice(0, 7)) await writer.delete(keyOf(spec)); // L0 8 stays (newest)
    client.reset();
    await reader.poller.pollNow(); // level 0 from TXID 3: only 8, beyond a hole; level 1: nothing; every level: L2 1-7 covers 3
    const plan = ['ltx/2/0000000000000001-0000000000000007.ltx', keyOf(specs[7])];
    t.same(fileKeys(reader.current), plan, 'the version is the plan: L2 1-7, L0 8');
    t.same(rec.messages.map((m) => [m.txid, m.applied, m.rebuilt, m.error]), [[8, 2, true, undefined]]);
    t.same([...new Set(client.reads.map((r) => r.key))].sort(), [...plan].sort(), 'only the plan\'s files are read');
    t.ok(bytesEqual(await imageOf(reader), states[7]));
    t.same(rec.versions, [8]);
  });

  t.test('into a snapshot: rebuilt from the snapshot and the L0 files after it', async (t) => {
    const dir = t.testdir();
    await writeReplica(dir, specs.slice(0, 2));
    const { reader } = await openReader(t, dir);
    const rec = record(t, reader);
    const writer = await openFileReplica(dir);
    t.teardown(() => writer.close());
    for (const spec of specs.slice(2, 10)) await writeLtx(writer, spec);
    await writeLtx(writer, snapshotFromDatabase(states[7], { level: 9, maxTXID: 8 }));
    for (const spec of specs.slice(0, 8)) await writer.delete(keyOf(spec));
    await reader.poller.pollNow();
    t.same(fileKeys(reader.current), ['ltx/9/0000000000000001-0000000000000008.ltx', keyOf(specs[8]), keyOf(specs[9])]);
    t.same(rec.messages.map((m) => [m.txid, m.applied, m.rebuilt]), [[10, 3, true]]);
    t.ok(bytesEqual(await imageOf(reader), states[9]));
  });
});

t.test('a hole nothing covers: what continues is applied, then the reader is behind, and stale after the bound', async (t) => {
  const states = await history();
  const specs = historyFromStates(states);
  const dir = t.testdir();
  await writeReplica(dir, specs.slice(0, 3));
  const clock = new TestClock();
  const { reader, client } = await openReader(t, dir, { pollIntervalMs: HOUR, stalenessBoundMs: 1000, now: clock.now });
  const rec = record(t, reader);
  await writeLtx(dir, specs[3]);
  await writeLtx(dir, specs[4]);
  await writeLtx(dir, specs[6]); // TXID 6 never arrives
  await reader.poller.pollNow();
  t.equal(reader.current.txid, 5, 'TXIDs 4 and 5 applied');
  t.ok(bytesEqual(await imageOf(reader), states[4]));
  t.same(rec.messages.map((m) => [m.txid, m.applied, m.rebuilt, m.error]), [[5, 2, false, undefined]], 'the poll itself succeeded');
  t.same([reader.stats().pollFailures, reader.stats().stale], [0, false], 'within the bound: not stale yet');
  reader.release(reader.acquire());

  clock.advance(600);
  await reader.poller.pollNow();
  clock.advance(600); // 1200 ms behind, polled 600 ms ago
  t.same([reader.stats().pollLagMs, reader.stats().stale], [600, true], 'polled recently, but behind for longer than the bound');
  const err = await rejectsLtx(t, async () => reader.acquire(), 'LTXVFS_ERR_STALE', client.url,
    /replica has LTX files beyond TXID 0000000000000005 that could not be applied for 1200 ms \(bound 1000 ms\)/,
    /TXID gap after 0000000000000005: next file ltx\/0\/0000000000000007-0000000000000007\.ltx starts at 0000000000000007/);
  t.ok(isLtxvfsError((err as LtxvfsError).cause, 'LTXVFS_ERR_TXID_GAP'), 'the cause is the gap');
  t.equal((err as LtxvfsError).key, client.url);
  t.throws(() => reader.acquire(), { code: 'LTXVFS_ERR_STALE' }, 'every new read transaction fails');
  t.equal(rec.stale.length, 1, "'stale' once");

  await writeLtx(dir, specs[5]); // TXID 6 arrives late
  await reader.poller.pollNow();
  t.equal(reader.current.txid, 7, 'caught up: 6 and 7 applied');
  t.equal(reader.stats().stale, false);
  reader.release(reader.acquire());
  t.ok(bytesEqual(await imageOf(reader), states[6]));
});

t.test('a failed listing is counted and retried at the next poll; open read transactions keep their version', async (t) => {
  const states = await history();
  const specs = historyFromStates(states);
  const dir = t.testdir();
  await writeReplica(dir, specs.slice(0, 3));
  const { reader, client } = await openReader(t, dir);
  const rec = record(t, reader);
  const pinned = reader.acquire();
  await writeLtx(dir, specs[3]);
  const down = new LtxvfsError('LTXVFS_ERR_STORAGE', `list ltx/0: connection refused (${client.url})`, { key: 'ltx/0' });
  client.listFault = (level) => (level === 0 ? down : undefined);
  await reader.poller.pollNow();
  t.same([reader.current.txid, reader.stats().polls, reader.stats().pollFailures], [3, 1, 1]);
  t.equal(reader.stats().lastPollError, down.message);
  t.same(rec.errors, [down], "'poll-error' with the storage error");
  t.equal(rec.messages[0].error, down, 'and on the diagnostics channel');
  t.ok(bytesEqual(await imageOf(reader, pinned as PageIndex), states[2]), 'the pinned version still reads');
  const fresh = reader.acquire();
  t.equal(fresh.commit, pinned.commit, 'new read transactions get the old version meanwhile');
  reader.release(fresh);

  client.listFault = undefined;
  await reader.poller.pollNow();
  t.same([reader.current.txid, reader.stats().polls, reader.stats().pollFailures, reader.stats().lastPollError], [4, 2, 1, undefined]);
  t.ok(bytesEqual(await imageOf(reader, pinned as PageIndex), states[2]), 'the pinned version is still TXID 3');
  reader.release(pinned);
  t.equal(reader.stats().pinnedVersions, 0);

  // A failure that is not a gap (a file that does not decode) while rebuilding fails the poll too.
  await writeLtx(dir, specs[5]);
  await fs.mkdir(join(dir, 'ltx/9'));
  await fs.writeFile(join(dir, 'ltx/9/0000000000000001-0000000000000005.ltx'), 'not an LTX file');
  await fs.utimes(join(dir, 'ltx/9/0000000000000001-0000000000000005.ltx'), 1, 1);
  await reader.poller.pollNow();
  t.equal(reader.current.txid, 4);
  t.ok(isLtxvfsError(rec.errors[1], 'LTXVFS_ERR_CORRUPT'), 'a corrupt snapshot found by the rebuild is a poll failure');
  t.match((rec.errors[1] as Error).message, 'ltx/9/0000000000000001-0000000000000005.ltx');
});

t.test('staleness: polls failing past the bound fail new read transactions, loudly, until a poll succeeds', async (t) => {
  const dir = t.testdir();
  await writeReplica(dir, historyFromStates(await history()).slice(0, 3));
  const clock = new TestClock();
  const { reader, client } = await openReader(t, dir, { pollIntervalMs: HOUR, stalenessBoundMs: 1000, now: clock.now });
  const rec = record(t, reader);

  clock.advance(1001);
  t.same([reader.stats().stale, reader.stats().pollLagMs], [false, 1001],
    'no poll for longer than the bound: not stale (the reader was busy or idle; nothing says the replica is unreachable)');
  reader.release(reader.acquire());
  const down = new LtxvfsError('LTXVFS_ERR_STORAGE', 'connection refused');
  client.listFault = () => down;
  clock.advance(100);
  await reader.poller.pollNow();
  client.listFault = undefined;
  t.same([reader.stats().stale, reader.stats().pollLagMs], [true, 1101], 'a poll failed, and none succeeded for longer than the bound');
  await rejectsLtx(t, async () => reader.acquire(), 'LTXVFS_ERR_STALE', client.url,
    /^file:\/\/.*: replica not polled successfully for 1101 ms \(bound 1000 ms\); still at TXID 0000000000000003: connection refused$/);
  t.equal(rec.stale.length, 1, "'stale' emitted once, by the poll that found it");
  t.throws(() => reader.acquire(), { code: 'LTXVFS_ERR_STALE' });
  t.equal(rec.stale.length, 1, 'once');

  await reader.poller.pollNow();
  t.equal(reader.stats().stale, false, 'a successful poll ends it');
  reader.release(reader.acquire());

  // The replica goes away: every poll fails; past the bound the poll itself reports it.
  const gone = new LtxvfsError('LTXVFS_ERR_NOT_FOUND', `replica directory does not exist: ${dir}`, { key: dir });
  client.listFault = () => gone;
  clock.advance(500);
  await reader.poller.pollNow();
  t.same([reader.stats().stale, rec.stale.length, rec.errors.length], [false, 1, 2], 'failed within the bound');
  clock.advance(501);
  await reader.poller.pollNow();
  t.same([reader.stats().stale, rec.stale.length], [true, 2], "the poll past the bound emits 'stale', without any query");
  const e = rec.stale[1];
  t.same([e.code, e.key, e.cause], ['LTXVFS_ERR_STALE', client.url, gone]);
  t.equal(e.message, `${client.url}: stale since ${new Date(clock.now() - 1001).toISOString()}: replica not polled successfully for 1001 ms (bound 1000 ms); still at TXID 0000000000000003: ${gone.message}`);
  await reader.poller.pollNow();
  t.throws(() => reader.acquire(), { code: 'LTXVFS_ERR_STALE' });
  t.same([rec.stale.length, reader.stats().pollFailures], [2, 4], 'still once per stale period');

  client.listFault = undefined;
  await reader.poller.pollNow();
  t.equal(reader.stats().stale, false, 'recovered');
  reader.release(reader.acquire());
});

t.test('staleness is off with stalenessBoundMs 0 or with polling off', async (t) => {
  const dir = t.testdir();
  await writeReplica(dir, historyFromStates(await history()).slice(0, 2));
  for (const options of [{ pollIntervalMs: HOUR, stalenessBoundMs: 0 }, { pollIntervalMs: 0, stalenessBoundMs: 10 }]) {
    const clock = new TestClock();
    const { reader, client } = await openReader(t, dir, { ...options, now: clock.now });
    client.listFault = () => new LtxvfsError('LTXVFS_ERR_STORAGE', 'down');
    await reader.poller.pollNow();
    clock.advance(HOUR);
    t.same([reader.stats().stale, reader.stats().pollFailures], [false, 1], JSON.stringify(options));
    reader.release(reader.acquire());
  }
});

t.test('stats: TXID, lag behind the writer, time since the last successful poll, counters', async (t) => {
  const states = await history();
  const specs = historyFromStates(states);
  const root = t.testdir();
  const dir = join(root, 'replica');
  await writeReplica(dir, specs.slice(0, 2));
  const clock = new TestClock();
  const opened = clock.ms;
  const { reader } = await openReader(t, dir, { pollIntervalMs: HOUR, now: clock.now });
  const ts2 = reader.current.timestamp;
  t.equal(ts2, timestampOf(specs[1]), 'timestamp of TXID 2');
  clock.advance(250);
  t.match(reader.stats(), { txid: 2, timestamp: ts2, lagMs: clock.ms - ts2, pollLagMs: 250, lastPollAt: opened, polls: 0, pollFailures: 0 },
    'the open counts as the last successful poll');
  await writeLtx(dir, specs[2]);
  await reader.poller.pollNow();
  const polledAt = clock.ms;
  clock.advance(40);
  t.match(reader.stats(), { txid: 3, timestamp: timestampOf(specs[2]), lagMs: clock.ms - timestampOf(specs[2]), pollLagMs: 40, lastPollAt: polledAt, polls: 1, pollFailures: 0 });

  // Files written with timestamp 0 (no writer clock): no lag figure.
  const zero = join(root, 'zero');
  await writeLtx(zero, { ...snapshotFromDatabase(states[0]), timestamp: 0 });
  const { reader: z } = await openReader(t, zero);
  t.same([z.stats().timestamp, z.stats().lagMs], [0, 0]);
});

t.test('pollNow joins a poll in flight; the timer polls by itself, start() twice is one timer, stop() stops it', async (t) => {
  const dir = t.testdir();
  const specs = historyFromStates(await history());
  await writeReplica(dir, specs.slice(0, 2));
  const { reader } = await openReader(t, dir, { pollIntervalMs: 20 });
  const a = reader.poller.pollNow();
  const b = reader.poller.pollNow();
  t.equal(a, b, 'the same promise');
  await a;
  reader.poller.stop();
  const after = reader.stats().polls;
  t.ok(after >= 1);
  await writeLtx(dir, specs[2]);
  reader.poller.start();
  reader.poller.start();
  await waitFor('the timer to apply TXID 3', () => reader.current.txid === 3);
  reader.poller.stop();
  // A timer poll may still be running (stop() ends the timer, not a poll in flight): joined
  // here, so that it cannot be the one the explicit poll below joins on a loaded machine.
  await reader.poller.pollNow();
  const polls = reader.stats().polls;
  await new Promise((resolve) => setTimeout(resolve, 100));
  await reader.poller.pollNow(); // a poll the timer did not start
  t.equal(reader.stats().polls, polls + 1, 'stopped: only the explicit poll ran');
});

t.test('staleness through the Database API with the real timer: a replica renamed away (poll 50 ms, bound 5 s)', async (t) => {
  await loadAsyncifyModule();
  const root = t.testdir();
  const dir = join(root, 'replica');
  const specs = historyFromStates(await history());
  await writeReplica(dir, specs.slice(0, 4));
  // The timer and the clock are real, but the test moves the clock past the bound when it wants
  // staleness: a bound of 500 ms reached by itself was also reached by a loaded machine's event
  // loop stalling between two polls of the healthy replica (a second 'stale' event, a failed query).
  let jumpedMs = 0;
  const options = { pollIntervalMs: 50, stalenessBoundMs: 5000, now: () => Date.now() + jumpedMs };
  const lease = await acquireReader(dir, options);
  t.teardown(() => lease.release());
  const db = await openDatabase(dir, options);
  t.teardown(() => db.close());
  t.equal(lease.reader, (await acquireReader(dir)).reader, 'one shared reader');
  await lease.release();
  const stale: LtxvfsError[] = [];
  lease.reader.on('stale', (e) => stale.push(e));
  const count = async (): Promise<unknown> => (await db.get('SELECT count(*) AS n FROM t'))!.n;
  const before = await count();

  await fs.rename(dir, join(root, 'elsewhere'));
  await waitFor('a timer poll to fail', () => db.stats().pollFailures > 0);
  jumpedMs += 5001;
  await waitFor('stats().stale', () => db.stats().stale);
  t.ok(db.stats().pollFailures > 0, 'polls failed');
  const err = await rejectsLtx(t, db.get('SELECT count(*) FROM t'), 'LTXVFS_ERR_SQLITE', 'SELECT count(*) FROM t');
  const cause = (err as LtxvfsError).cause as LtxvfsError;
  t.ok(isLtxvfsError(cause, 'LTXVFS_ERR_STALE'), 'cause: LTXVFS_ERR_STALE');
  t.equal(cause.key, lease.reader.client.url);
  t.match(cause.message, new RegExp(`^${lease.reader.client.url}: stale since \\S+Z: replica not polled successfully for \\d+ ms \\(bound 5000 ms\\); still at TXID 0000000000000004: replica directory does not exist`));
  // The top-level error says it too: SQLite's name in code, the reason in ltxvfsCode and the message.
  t.match(err, { code: /^SQLITE_IOERR/, ltxvfsCode: 'LTXVFS_ERR_STALE' });
  t.ok(err!.message.endsWith(cause.message), `the message ends with the reason: ${err!.message}`);
  await rejectsLtx(t, db.get('SELECT count(*) FROM t'), 'LTXVFS_ERR_SQLITE', 'SELECT count(*) FROM t');
  t.equal(stale.length, 1, "one 'stale' event");
  t.equal(stale[0].code, 'LTXVFS_ERR_STALE');

  await fs.rename(join(root, 'elsewhere'), dir);
  await writeLtx(dir, specs[4]);
  await waitFor('recovery', () => !db.stats().stale && db.stats().txid === 5);
  t.equal(before, 43, 'rows at TXID 4');
  t.equal(await count(), 443, 'queries work again, at TXID 5');
  t.equal(db.stats().txid, 5);
  t.equal(stale.length, 1);
});

t.test('the poll of a reader that is closed meanwhile does not throw', async (t) => {
  const dir = t.testdir();
  await writeReplica(dir, historyFromStates(await history()).slice(0, 2));
  const client = await ListFaultClient.open(dir);
  const reader = await ReplicaReader.open(client as ReplicaClient, { pollIntervalMs: 0 });
  const errors: unknown[] = [];
  reader.on('poll-error', (e) => errors.push(e));
  await reader.close();
  await reader.poller.pollNow();
  t.same([reader.stats().pollFailures, (errors[0] as LtxvfsError).code], [1, 'LTXVFS_ERR_CLOSED']);
});
