import t, { type Test } from 'tap';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { DEFAULT_WHOLE_FILE_BYTES } from '../../lib/replica/ltx-loader.js';
import { ReplicaReader } from '../../lib/read/replica-reader.js';
import { PageIndex } from '../../lib/replica/page-index.js';
import { lockPgno } from '../../ltx/checksum.js';
import { isLtxvfsError } from '../../ltx/errors.js';
import {
  bytesEqual, compactSpecs, copyFixtureReplica, CountingClient, databasePageSize, FIXTURE_EXPECTED_DB, FIXTURE_NAMES,
  historyFromStates, ltxFileFromSpec, pageOf, randomPage, readBytes, rejectsLtx, snapshotFromDatabase, sqlJsHistory, testPage,
  writeLtx, writeReplica, type Page,
} from '../helpers/replica-builder.js';

async function openReader(t: Test, dir: string, options = {}): Promise<{ reader: ReplicaReader; client: CountingClient }> {
  const client = await CountingClient.open(dir);
  const reader = await ReplicaReader.open(client, options);
  t.teardown(() => reader.close());
  return { reader, client };
}

/** Every page of `reader`'s newest version, awaited. */
async function allPages(reader: ReplicaReader): Promise<Uint8Array> {
  const v = reader.acquire();
  const out = new Uint8Array(v.commit * v.pageSize);
  for (let pgno = 1; pgno <= v.commit; pgno++) out.set(await reader.readPage(v, pgno), (pgno - 1) * v.pageSize);
  reader.release(v);
  return out;
}

t.test('the Litestream fixture: five small files, read whole at open, pages served from the cache', async (t) => {
  const dir = await copyFixtureReplica(t.testdir());
  const { reader, client } = await openReader(t, dir);
  const v = reader.acquire();
  t.equal(v, reader.current);
  t.same([v.txid, v.commit, v.pageSize], [5, 4, 4096]);
  t.equal(v.timestamp, 1795254716305, 'header timestamp of TXID 5');
  t.same(reader.current.files.map((f) => f.info.key), FIXTURE_NAMES.map((n) => `ltx/0/${n}`));
  t.same(client.reads.map((r) => [r.key, r.offset, r.length]), reader.current.files.map((f) => [f.info.key, 0, f.info.size]),
    'one whole-file read per file');
  const expected = readBytes(FIXTURE_EXPECTED_DB);
  for (let pgno = 1; pgno <= 4; pgno++) {
    const page = reader.readPage(v, pgno);
    t.ok(page instanceof Uint8Array, `page ${pgno} served synchronously from the cache`);
    t.ok(bytesEqual(page as Uint8Array, pageOf(expected, 4096, pgno)), `page ${pgno} equals the expected database`);
  }
  reader.release(v);
  t.match(reader.stats(), {
    pagesFetched: 2 + 2 + 4 + 2 + 4,
    bytesRead: 374 + 401 + 3146 + 2650 + 2895,
    readRequests: 5,
    cacheHits: 4,
    cacheMisses: 0,
    cacheBytes: 4 * 4096, // only the frames version 5 serves
    txid: 5,
    pageSize: 4096,
    commit: 4,
    timestamp: 1795254716305, // TXID 5's header timestamp
    pinnedVersions: 0,
    polls: 0,
    pollFailures: 0,
    stale: false,
  });
  t.equal(reader.client.inner, client, 'the reader\'s client is a staging client over the one given (lib/storage/staging.ts)');
});

t.test('large files: a miss returns a promise and fills the cache, the next read is a hit', async (t) => {
  const dir = t.testdir();
  const pages: Page[] = Array.from({ length: 40 }, (_, i) => ({ pgno: i + 1, data: randomPage(i + 1) }));
  await writeLtx(dir, { minTXID: 1, maxTXID: 1, pageSize: 4096, commit: 40, pages });
  // Above the whole-file bound (set to the tail read): paged by range reads.
  const { reader } = await openReader(t, dir, { wholeFileBytes: 32 * 1024 });
  t.same([reader.stats().readRequests, reader.stats().pagesFetched], [2, 3], 'head (header and pages 1–3) and tail');
  const v = reader.acquire();
  const miss = reader.readPage(v, 17);
  t.ok(miss instanceof Promise, 'a miss');
  t.ok(bytesEqual(await miss, pages[16].data));
  const hit = reader.readPage(v, 17);
  t.ok(hit instanceof Uint8Array, 'then a hit');
  t.ok(bytesEqual(hit as Uint8Array, pages[16].data));
  const s = reader.stats();
  t.same([s.cacheHits, s.cacheMisses, s.readRequests, s.pagesFetched, s.cacheBytes], [1, 1, 3, 4, 4 * 4096]);
  // readPageInto: a hit copied into the caller's buffer; anything else declined, nothing read.
  const dst = new Uint8Array(4096);
  t.ok(reader.readPageInto(v, 17, dst), 'a cached page is copied in place');
  t.ok(bytesEqual(dst, pages[16].data));
  t.notOk(reader.readPageInto(v, 18, dst), 'an uncached one is declined');
  t.notOk(reader.readPageInto(v, 41, dst), 'so is a page beyond commit');
  t.ok(bytesEqual(dst, pages[16].data), 'and leaves the buffer alone');
  const after = reader.stats();
  t.same([after.cacheHits, after.cacheMisses, after.readRequests], [2, 1, 3], 'one more hit, no read');
});

t.test('cacheSizeBytes 0 reads every page from storage', async (t) => {
  const dir = await copyFixtureReplica(t.testdir());
  const { reader } = await openReader(t, dir, { cacheSizeBytes: 0 });
  const v = reader.acquire();
  t.equal(reader.stats().cacheBytes, 0);
  const page = reader.readPage(v, 3);
  t.ok(page instanceof Promise);
  t.ok(bytesEqual(await page, pageOf(readBytes(FIXTURE_EXPECTED_DB), 4096, 3)));
  t.equal(reader.stats().readRequests, 6);
});

t.test('the lock page and pages beyond commit read as zeros; a hole in the index is corrupt', async (t) => {
  const dir = await copyFixtureReplica(t.testdir());
  const { reader, client } = await openReader(t, dir);
  const beyond = reader.readPage(reader.current, 5) as Uint8Array;
  t.same([beyond.length, beyond.every((b) => b === 0)], [4096, true]);
  t.equal(reader.readPage(reader.current, 9), beyond, 'the zero page is reused');

  // A version (built from real encoded files) past the lock page of 512-byte pages, with holes.
  const lock = lockPgno(512);
  const v = PageIndex.empty()
    .apply(ltxFileFromSpec({ minTXID: 1, maxTXID: 1, pageSize: 512, commit: 2, pages: [1, 2].map((pgno) => ({ pgno, data: testPage(pgno, 512) })) }))
    .apply(ltxFileFromSpec({ minTXID: 2, maxTXID: 2, pageSize: 512, commit: lock + 1, pages: [{ pgno: lock + 1, data: testPage(9, 512) }] }));
  const zero = reader.readPage(v, lock) as Uint8Array;
  t.same([zero.length, zero.every((b) => b === 0)], [512, true], 'lock page: zeros of this version\'s page size');
  try {
    reader.readPage(v, 3);
    t.fail('a hole must not be served');
  } catch (err) {
    t.ok(isLtxvfsError(err, 'LTXVFS_ERR_CORRUPT'));
    t.equal((err as Error).message, `${client.url}: page 3 is in no LTX file of the plan at TXID 0000000000000002`);
  }
});

t.test('a replica whose files leave pages below commit in no file is corrupt', async (t) => {
  const dir = t.testdir();
  const p = (pgno: number) => ({ pgno, data: testPage(pgno) });
  await writeLtx(dir, { minTXID: 1, maxTXID: 1, pageSize: 4096, commit: 2, pages: [p(1), p(2)] });
  await writeLtx(dir, { minTXID: 2, maxTXID: 2, pageSize: 4096, commit: 5, pages: [p(3)] });
  const client = await CountingClient.open(dir);
  t.teardown(() => client.close());
  await rejectsLtx(t, ReplicaReader.open(client), 'LTXVFS_ERR_CORRUPT', client.url,
    /pages 4, 5 of 5 are in no LTX file of the plan at TXID 0000000000000002/);
});

t.test('the pageSize option must match the replica', async (t) => {
  const dir = await copyFixtureReplica(t.testdir());
  const client = await CountingClient.open(dir);
  t.teardown(() => client.close());
  await rejectsLtx(t, ReplicaReader.open(client, { pageSize: 8192 }), 'LTXVFS_ERR_PAGE_SIZE', client.url,
    /replica page size 4096 does not match the expected 8192/);
  const { reader } = await openReader(t, dir, { pageSize: 4096 });
  t.equal(reader.current.pageSize, 4096);
});

t.test('a snapshot, a compaction and L0 files: the newest state from the fewest files', async (t) => {
  const states = await sqlJsHistory([
    'CREATE TABLE t (id INTEGER PRIMARY KEY, v TEXT); CREATE INDEX t_v ON t(v)',
    ...Array.from({ length: 8 }, (_, i) => `INSERT INTO t (v) SELECT hex(randomblob(${50 + i * 10})) FROM generate_series(1, ${30 + i * 15})`
      .replace(/FROM generate_series\(1, (\d+)\)/, 'FROM (WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c WHERE x < $1) SELECT x FROM c)')),
    'DELETE FROM t WHERE id % 3 = 0',
  ]);
  t.equal(databasePageSize(states[0]), 4096);
  const l0 = historyFromStates(states); // TXIDs 1…10
  const dir = t.testdir();
  await writeReplica(dir, [
    snapshotFromDatabase(states[2], { level: 9, maxTXID: 3 }),
    compactSpecs(l0.slice(3, 6), 1), // 4-6
    compactSpecs(l0.slice(0, 3), 1), // 1-3, older than the snapshot: not used
    ...l0.slice(3), // 4…10 at L0, superseded up to 6 by the L1 file
  ]);
  const { reader, client } = await openReader(t, dir);
  t.same(reader.current.files.map((f) => f.info.key), [
    'ltx/9/0000000000000001-0000000000000003.ltx',
    'ltx/1/0000000000000004-0000000000000006.ltx',
    'ltx/0/0000000000000007-0000000000000007.ltx',
    'ltx/0/0000000000000008-0000000000000008.ltx',
    'ltx/0/0000000000000009-0000000000000009.ltx',
    'ltx/0/000000000000000a-000000000000000a.ltx',
  ]);
  t.equal(reader.current.txid, 10);
  const planned = reader.current.files.map((f) => f.info.key);
  t.same([...new Set(client.reads.map((r) => r.key))].sort(), [...planned].sort(), 'only the planned files are read');
  const expectedReads = reader.current.files.reduce((n, f) => n + (f.info.size <= DEFAULT_WHOLE_FILE_BYTES ? 1 : 2), 0);
  t.equal(reader.stats().readRequests, expectedReads, 'one read per small file, header + tail per large one');
  t.ok(bytesEqual(await allPages(reader), states[9]), 'pages equal the newest database image');
});

t.test('close drops the cache and closes the client', async (t) => {
  const dir = await copyFixtureReplica(t.testdir());
  const client = await CountingClient.open(dir);
  const reader = await ReplicaReader.open(client);
  t.equal(reader.stats().cacheBytes, 16384);
  await reader.close();
  t.equal(reader.stats().cacheBytes, 0);
  await rejectsLtx(t, client.listLtxFiles(0), 'LTXVFS_ERR_CLOSED', client.url, /replica client is closed/);
});

t.test('a scan\'s idle receive buffers are let go but one when the last transaction ends', async (t) => {
  const dir = t.testdir();
  const pages = Array.from({ length: 3000 }, (_, i) => ({ pgno: i + 1, data: randomPage(i + 1) }));
  await writeLtx(dir, { minTXID: 1, maxTXID: 1, pageSize: 4096, commit: pages.length, pages }); // 12.4 MB of frames
  // An 8 MiB cache (2,048 pages: each scan reads from storage): a 4 MiB read-ahead budget in
  // windows of 1 MiB, buffers within 5 MiB.
  const { reader } = await openReader(t, dir, { cacheSizeBytes: 8 << 20, pollIntervalMs: 0 });
  const window = 1 << 20;
  const scan = async (v: ReturnType<ReplicaReader['acquire']>): Promise<void> => {
    for (let pgno = 1; pgno <= pages.length; pgno++) {
      const page = await reader.readPage(v, pgno);
      if (pgno % 500 === 0) t.ok(bytesEqual(page, pages[pgno - 1].data), `page ${pgno}`);
    }
  };
  const v = reader.acquire();
  await scan(v);
  const during = reader.stats().receiveBufferBytes;
  t.ok(during > window, `the scan's buffers stay while its transaction is open (${during} bytes)`);
  const other = reader.acquire(); // a second transaction
  reader.release(v);
  t.equal(reader.stats().receiveBufferBytes, during, 'another transaction still open: kept');
  reader.release(other);
  t.equal(reader.stats().receiveBufferBytes, window, 'the last one ended: one window kept');
  // The 12 MB file is verified in the background once the foreground is quiet: large reads
  // outside any transaction, which must not bring the scan's buffers back.
  const verifying = reader.stats().verification;
  await reader.verified();
  t.ok(reader.stats().verification.filesVerified > verifying.filesVerified, 'the file was verified after the transaction ended');
  t.equal(reader.stats().receiveBufferBytes, window, 'its reads kept no more than one idle buffer');

  const again = reader.acquire();
  await scan(again);
  t.ok(reader.stats().receiveBufferBytes > window, 'the next scan makes its buffers again');
  reader.release(again);
  t.equal(reader.stats().receiveBufferBytes, window);
});

t.test('a receive buffer let go is not kept alive by the pages a scan left held', async (t) => {
  setFlagsFromString('--expose-gc');
  const gc = runInNewContext('gc') as () => void;
  const dir = t.testdir();
  const pages = Array.from({ length: 3000 }, (_, i) => ({ pgno: i + 1, data: randomPage(i + 1) }));
  await writeLtx(dir, { minTXID: 1, maxTXID: 1, pageSize: 4096, commit: pages.length, pages });
  const { reader, client } = await openReader(t, dir, { cacheSizeBytes: 8 << 20, pollIntervalMs: 0 });
  const v = reader.acquire();
  // Half a scan: the read-ahead ranges that landed ahead of it keep their first pages held.
  for (let pgno = 1; pgno <= 1500; pgno++) await reader.readPage(v, pgno);
  await new Promise((resolve) => setTimeout(resolve, 50)); // the read-ahead in flight lands
  reader.release(v);
  t.equal(reader.stats().receiveBufferBytes, 1 << 20, 'one 1 MiB window kept');
  const refs = [...new Set(client.buffers.filter((b): b is Uint8Array => b !== undefined).map((b) => b.buffer))].map((b) => new WeakRef(b));
  t.ok(refs.length > 1, `the scan used ${refs.length} receive buffers`);
  client.reset(); // the test's own references
  for (let i = 0; i < 5; i++) {
    gc();
    await new Promise((resolve) => setImmediate(resolve));
  }
  const alive = refs.filter((r) => r.deref() !== undefined).length;
  t.equal(alive, 1, 'only the kept one is still reachable');
});
