import t, { type Test } from 'tap';
import { promises as fs } from 'node:fs';
import { join } from 'node:path';
import { DEFAULT_WHOLE_FILE_BYTES, HEAD_BYTES, loadLtxFile, TAIL_BYTES, TAIL_FRACTION, tailBytesFor } from '../../lib/replica/ltx-loader.js';
import { newReadCounters } from '../../lib/read/fetcher.js';
import { listReplica } from '../../lib/replica/plan.js';
import type { LtxFileInfo } from '../../lib/storage/types.js';
import { decodeLtxFile } from '../../ltx/decoder.js';
import { LtxvfsError } from '../../ltx/errors.js';
import {
  copyFixtureReplica, CountingClient, encodeLtx, flipBit, randomPage, readBytes, rejectsLtx, testPage, writeLtx, type Page,
} from '../helpers/replica-builder.js';
import { waitFor } from '../helpers/polling.js';

const FIXTURE_TXID3 = 'ltx/0/0000000000000003-0000000000000003.ltx';

async function open(t: Test, dir: string): Promise<{ client: CountingClient; infos: Map<string, LtxFileInfo> }> {
  const client = await CountingClient.open(dir);
  t.teardown(() => client.close());
  const infos = new Map((await listReplica(client)).map((i) => [i.key, i]));
  client.reset();
  return { client, infos };
}

const bigPages: Page[] = Array.from({ length: 60 }, (_, i) => ({ pgno: i + 1, data: randomPage(i + 1) }));

t.test('a small file is read whole in one request, verified, and its pages handed back', async (t) => {
  const dir = await copyFixtureReplica(t.testdir());
  const { client, infos } = await open(t, dir);
  const info = infos.get(FIXTURE_TXID3)!;
  t.equal(info.size, 3146);
  const counters = newReadCounters();
  const loaded = await loadLtxFile(client, info, counters);
  t.same(client.reads, [{ key: FIXTURE_TXID3, offset: 0, length: 3146 }]);
  t.same(counters, { readRequests: 1, bytesRead: 3146, pagesFetched: 4 });
  const expected = decodeLtxFile(readBytes(join(dir, FIXTURE_TXID3)), FIXTURE_TXID3);
  t.same(loaded.file.entries.toArray(), expected.index);
  t.same(loaded.file.header, expected.header);
  t.same(loaded.file.trailer, expected.trailer);
  t.equal(loaded.file.info, info);
  t.same(loaded.pages, expected.pages.map((p) => p.data));
  t.same(loaded.file.entries.toArray().map((e) => e.pgno), [1, 2, 3, 4]);
  t.equal(TAIL_BYTES, 32768);
});

t.test('a file above the whole-file bound costs a head read and a tail read, in parallel; the frames inside the head come decoded', async (t) => {
  const dir = t.testdir();
  const { bytes, key } = await writeLtx(dir, { minTXID: 1, maxTXID: 1, pageSize: 4096, commit: 60, pages: bigPages });
  const { client, infos } = await open(t, dir);
  const info = infos.get(key)!;
  const counters = newReadCounters();
  let runs = 0;
  const release = client.hold();
  const pending = loadLtxFile(client, info, counters, (task) => {
    runs++;
    return task();
  }, TAIL_BYTES);
  // Held: neither returns until release, however long the second takes to be issued.
  await waitFor('the head and tail reads', () => client.reads.length >= 2);
  t.equal(client.reads.length, 2, 'both reads issued before either returned');
  release();
  const loaded = await pending;
  t.equal(runs, 2, 'every request went through run');
  t.same(client.reads, [
    { key, offset: 0, length: HEAD_BYTES },
    { key, offset: bytes.length - TAIL_BYTES, length: TAIL_BYTES },
  ]);
  const expected = decodeLtxFile(bytes, key);
  const inHead = expected.index.filter((e) => e.offset + e.size <= HEAD_BYTES).length;
  t.equal(inHead, 3, 'three 4 KiB random pages fit in the head');
  t.same(counters, { readRequests: 2, bytesRead: HEAD_BYTES + TAIL_BYTES, pagesFetched: inHead });
  t.equal(loaded.pages, undefined, 'not read whole');
  t.same([...loaded.headPages!], expected.pages.slice(0, inHead).map((p, n) => [n, p.data]), 'pages 1–3 decoded from the head');
  t.same(loaded.file.entries, expected.index);
  t.same(loaded.file.header, expected.header);
  t.same(loaded.file.trailer, expected.trailer);
});

t.test('an index larger than the tail costs one more read, of the part the tail missed', async (t) => {
  const dir = t.testdir();
  // 7000 small pages: 6-byte index entries, 42 KB of index.
  const pages = Array.from({ length: 7000 }, (_, i) => ({ pgno: i + 1, data: testPage(i + 1, 512) }));
  const { bytes, key } = await writeLtx(dir, { minTXID: 1, maxTXID: 1, pageSize: 512, commit: 7000, pages });
  const { client, infos } = await open(t, dir);
  const counters = newReadCounters();
  const loaded = await loadLtxFile(client, infos.get(key)!, counters, undefined, TAIL_BYTES);
  const expected = decodeLtxFile(bytes, key);
  const indexOffset = expected.index[6999].offset + expected.index[6999].size + 6;
  t.ok(bytes.length - indexOffset > TAIL_BYTES, `index + trailer (${bytes.length - indexOffset} bytes) exceed the tail`);
  t.equal(tailBytesFor(bytes.length), TAIL_BYTES, 'a file this small gets the smallest tail');
  t.same(client.reads[2], { key, offset: indexOffset, length: bytes.length - TAIL_BYTES - indexOffset });
  t.equal(counters.readRequests, 3);
  t.same(loaded.file.entries, expected.index);
});

t.test('the tail is sized from the listed file size: a snapshot index over 32 KiB comes in one round trip', async (t) => {
  const dir = t.testdir();
  // 6000 incompressible 4 KiB pages: a 24 MB file whose index (~48 KB) exceeds 32 KiB.
  const pages = Array.from({ length: 6000 }, (_, i) => ({ pgno: i + 1, data: randomPage(i + 1) }));
  const { bytes, key } = await writeLtx(dir, { minTXID: 1, maxTXID: 1, pageSize: 4096, commit: 6000, pages });
  const expected = decodeLtxFile(bytes, key);
  const indexOffset = expected.index[5999].offset + expected.index[5999].size + 6;
  t.ok(bytes.length - indexOffset > TAIL_BYTES, `index + trailer (${bytes.length - indexOffset} bytes) exceed ${TAIL_BYTES}`);
  const tail = tailBytesFor(bytes.length);
  t.equal(tail, Math.ceil(bytes.length / TAIL_FRACTION));
  const { client, infos } = await open(t, dir);
  const counters = newReadCounters();
  const loaded = await loadLtxFile(client, infos.get(key)!, counters);
  t.same(client.reads, [{ key, offset: 0, length: HEAD_BYTES }, { key, offset: bytes.length - tail, length: tail }], 'head and a sized tail, in parallel');
  t.same(loaded.file.entries, expected.index);
  client.reset();
  await loadLtxFile(client, infos.get(key)!, newReadCounters(), undefined, undefined, TAIL_BYTES);
  t.equal(client.reads.length, 3, 'with the fixed 32 KiB tail (before): a third read, after the first two');
});

t.test('a file whose header TXIDs differ from its name is corrupt', async (t) => {
  const dir = await copyFixtureReplica(t.testdir());
  const wrong = 'ltx/0/0000000000000006-0000000000000006.ltx';
  await fs.copyFile(join(dir, 'ltx/0/0000000000000002-0000000000000002.ltx'), join(dir, wrong));
  const bigKey = 'ltx/1/0000000000000001-0000000000000002.ltx';
  await fs.mkdir(join(dir, 'ltx/1'));
  await fs.writeFile(join(dir, bigKey), encodeLtx({ minTXID: 1, maxTXID: 1, pageSize: 4096, commit: 60, pages: bigPages }));
  const { client, infos } = await open(t, dir);
  for (const key of [wrong, bigKey]) {
    await rejectsLtx(t, loadLtxFile(client, infos.get(key)!, newReadCounters()), 'LTXVFS_ERR_CORRUPT', key,
      /header TXIDs 000000000000000[12]-000000000000000[12] do not match the file name/);
  }
});

t.test('damaged files are refused naming the file and the reason', async (t) => {
  const dir = t.testdir();
  const small = await writeLtx(dir, { minTXID: 1, maxTXID: 1, pageSize: 4096, commit: 2, pages: bigPages.slice(0, 2) });
  const large = await writeLtx(dir, { minTXID: 2, maxTXID: 2, pageSize: 4096, commit: 60, pages: bigPages });
  const header = await writeLtx(dir, { minTXID: 3, maxTXID: 3, pageSize: 4096, commit: 60, pages: bigPages });
  await fs.truncate(small.path!, small.bytes.length - 5);
  await fs.truncate(large.path!, large.bytes.length - 1000);
  await flipBit(header.path!, 1, 3); // magic "LTX1" → "L\\X1"
  const flipped = await writeLtx(dir, { minTXID: 4, maxTXID: 4, pageSize: 4096, commit: 2, pages: bigPages.slice(0, 2) });
  await flipBit(flipped.path!, 2000, 0); // inside page 1's literals: only the file checksum notices
  const { client, infos } = await open(t, dir);
  const load = (key: string, whole?: number) => loadLtxFile(client, infos.get(key)!, newReadCounters(), undefined, whole);
  await rejectsLtx(t, load(small.key), 'LTXVFS_ERR_CORRUPT', small.key, /truncated|page index/);
  await rejectsLtx(t, load(large.key, TAIL_BYTES), 'LTXVFS_ERR_CORRUPT', large.key, /page index size field \d+ invalid/);
  await rejectsLtx(t, load(large.key), 'LTXVFS_ERR_CORRUPT', large.key, /truncated/);
  await rejectsLtx(t, load(header.key), 'LTXVFS_ERR_CORRUPT', header.key, /header: magic 4c5c5831 invalid/);
  await rejectsLtx(t, load(flipped.key), 'LTXVFS_ERR_CHECKSUM', flipped.key, /file checksum mismatch/);
});

t.test('storage errors pass through', async (t) => {
  const dir = await copyFixtureReplica(t.testdir());
  const { client, infos } = await open(t, dir);
  client.fault = (call) => new LtxvfsError('LTXVFS_ERR_STORAGE', `read ${call.key}: injected`, { key: call.key });
  const counters = newReadCounters();
  await rejectsLtx(t, loadLtxFile(client, infos.get(FIXTURE_TXID3)!, counters), 'LTXVFS_ERR_STORAGE', FIXTURE_TXID3, /injected/);
  t.same(counters, { readRequests: 0, bytesRead: 0, pagesFetched: 0 });
});

t.test('files up to the whole-file bound (2 MiB by default) are read whole and verified; the bound is an option', async (t) => {
  t.equal(DEFAULT_WHOLE_FILE_BYTES, 2 * 1024 * 1024);
  const dir = t.testdir();
  const { bytes, key } = await writeLtx(dir, { minTXID: 1, maxTXID: 1, pageSize: 4096, commit: 60, pages: bigPages });
  t.ok(bytes.length > TAIL_BYTES && bytes.length < DEFAULT_WHOLE_FILE_BYTES, `${bytes.length} bytes: between the tail read and the bound`);
  const { client, infos } = await open(t, dir);
  const counters = newReadCounters();
  const loaded = await loadLtxFile(client, infos.get(key)!, counters);
  t.same(client.reads, [{ key, offset: 0, length: bytes.length }], 'one read of the whole file');
  t.same(counters, { readRequests: 1, bytesRead: bytes.length, pagesFetched: 60 });
  t.same(loaded.pages, bigPages.map((p) => p.data), 'its pages handed back');
  client.reset();
  const paged = await loadLtxFile(client, infos.get(key)!, newReadCounters(), undefined, bytes.length - 1);
  t.equal(paged.pages, undefined, 'one byte over the bound: paged');
  t.equal(client.reads.length, 2);
});

t.test('a file that shrank after it was listed is refused (the storage client\'s short read), naming it', async (t) => {
  const dir = t.testdir();
  const { path, key, bytes } = await writeLtx(dir, { minTXID: 1, maxTXID: 1, pageSize: 4096, commit: 60, pages: bigPages });
  const { client, infos } = await open(t, dir);
  await fs.truncate(path!, bytes.length - 100);
  await rejectsLtx(t, loadLtxFile(client, infos.get(key)!, newReadCounters()), 'LTXVFS_ERR_STORAGE', key, /short read/);
});
