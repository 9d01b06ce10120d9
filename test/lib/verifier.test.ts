import t, { type Test } from 'tap';
import { join } from 'node:path';
import { ReplicaReader, type ReplicaReaderOptions } from '../../lib/read/replica-reader.js';
import { TAIL_BYTES } from '../../lib/replica/ltx-loader.js';
import { FileVerifier } from '../../lib/read/verifier.js';
import { isLtxvfsError, LtxvfsError } from '../../ltx/errors.js';
import { bytesEqual, CountingClient, flipBit, randomPage, readCurrentPage, rejectsLtx, writeLtx, type Page } from '../helpers/replica-builder.js';

const PAGES = 60;
/** Incompressible pages: a flipped literal bit still decodes, so only the file checksum can tell. */
const pages: Page[] = Array.from({ length: PAGES }, (_, i) => ({ pgno: i + 1, data: randomPage(i + 1) }));

/** One 60-page snapshot (~247 KB), paged (the whole-file bound set to the tail read), verified in 64 KiB ranges. */
async function setup(t: Test, options: ReplicaReaderOptions = {}) {
  const dir = t.testdir();
  const written = await writeLtx(dir, { minTXID: 1, maxTXID: 1, pageSize: 4096, commit: PAGES, pages });
  const client = await CountingClient.open(dir);
  const open = async (more: ReplicaReaderOptions = {}, on: CountingClient = client): Promise<ReplicaReader> => {
    const reader = await ReplicaReader.open(on, { pollIntervalMs: 0, wholeFileBytes: TAIL_BYTES, verifyRangeBytes: 64 * 1024, ...options, ...more });
    t.teardown(() => reader.close());
    return reader;
  };
  return { dir, client, open, ...written, path: written.path! };
}

/** Assert that `fn` throws an LtxvfsError with `code` whose message starts with `prefix`. */
function throwsLtx(t: Test, fn: () => unknown, code: string, prefix: string, what: string): void {
  try {
    fn();
    t.fail(`${what}: no error`);
  } catch (err) {
    t.ok(isLtxvfsError(err) && err.code === code && err.message.startsWith(prefix), `${what}: ${String(err)}`);
  }
}

const read = readCurrentPage;

t.test('a file above the bound is verified in the background from its first use, in ranges', async (t) => {
  const s = await setup(t);
  const reader = await s.open();
  t.same(reader.stats().verification.filesPending, 0, 'nothing to verify before a page is served');
  t.ok(bytesEqual(await read(reader, 30), pages[29].data));
  await reader.verified();
  const v = reader.stats().verification;
  t.equal(v.filesVerified, 1);
  t.equal(v.corruptFiles, 0);
  const ranges = Math.ceil(s.bytes.length / (64 * 1024));
  t.ok(v.verifyRequests >= ranges && v.verifyRequests <= ranges + 2, `${v.verifyRequests} reads: one per 64 KiB range (${ranges}), ranges end on frame boundaries`);
  t.ok(v.verifyBytes <= s.bytes.length - 8, `${v.verifyBytes} bytes: the file once, without its stored checksum`);
  const before = reader.stats().verification.verifyRequests;
  await read(reader, 10);
  await reader.verified();
  t.equal(reader.stats().verification.verifyRequests, before, 'a verified file is not read again');
});

t.test('a flipped bit inside a page that still decodes: served once, then LTXVFS_ERR_CHECKSUM naming the file', async (t) => {
  const s = await setup(t);
  const reader = await s.open();
  const frame = reader.current.files[0].entries.at(29)!;
  await flipBit(s.path, frame.offset + 2000, 3);
  const events: LtxvfsError[] = [];
  reader.on('corrupt', (err) => events.push(err));
  const served = await read(reader, 30);
  t.notOk(bytesEqual(served, pages[29].data), 'the damaged page was served (frames carry no checksum)');
  await rejectsLtx(t, reader.verified(), 'LTXVFS_ERR_CHECKSUM', s.key, /file checksum mismatch/);
  t.equal(events.length, 1, "one 'corrupt' event: the result returned before is flagged");
  t.equal(events[0].key, s.key);
  t.equal(reader.stats().verification.corruptFiles, 1);
  throwsLtx(t, () => reader.acquire(), 'LTXVFS_ERR_CHECKSUM', s.key, 'every later transaction fails');
  t.equal(reader.integrityFailure, events[0]);
  const dst = new Uint8Array(4096);
  t.notOk(reader.readPageInto(reader.current, 30, dst), 'cached pages are not handed out');
  throwsLtx(t, () => reader.readPage(reader.current, 30), 'LTXVFS_ERR_CHECKSUM', s.key, 'and every page read');
});

t.test('a frame that no longer decodes fails verification with LTXVFS_ERR_CHECKSUM naming the file, the cause attached', async (t) => {
  const s = await setup(t);
  const reader = await s.open();
  const frame = reader.current.files[0].entries.at(50)!;
  await flipBit(s.path, frame.offset + 7, 7); // the size prefix of page 51
  await read(reader, 1);
  const err = await reader.verified().then(() => undefined, (e: unknown) => e);
  t.ok(isLtxvfsError(err, 'LTXVFS_ERR_CHECKSUM'), String(err));
  t.match((err as Error).message, new RegExp(`^${s.key}: failed verification: ${s.key}: page 51 at offset ${frame.offset}: size prefix`));
  t.ok(isLtxvfsError((err as Error).cause, 'LTXVFS_ERR_CORRUPT'));
});

t.test('a sequential scan feeds the checksum from its own reads: fewer verification bytes', async (t) => {
  const s = await setup(t, { verifyConcurrency: 1 });
  const reader = await s.open();
  for (let p = 1; p <= PAGES; p++) await read(reader, p);
  await reader.verified();
  const v = reader.stats().verification;
  t.equal(v.filesVerified, 1);
  t.ok(v.framesCoalesced > 0, `${v.framesCoalesced} frames fed from the scan's reads`);
  t.ok(v.verifyBytes < s.bytes.length - 8, `${v.verifyBytes} bytes read to verify, of ${s.bytes.length}`);
});

t.test('a storage error stops a verification without failing the reader; the next use retries', async (t) => {
  const s = await setup(t);
  const reader = await s.open();
  await read(reader, 1); // the frame read, before the fault
  s.client.fault = (call) => (call.length > 10_000 ? new LtxvfsError('LTXVFS_ERR_STORAGE', `${call.key}: injected`, { key: call.key }) : undefined);
  await rejectsLtx(t, reader.verified(), 'LTXVFS_ERR_STORAGE', s.key, /injected/);
  t.equal(reader.integrityFailure, undefined, 'not corruption');
  t.equal(reader.stats().verification.corruptFiles, 0);
  s.client.fault = undefined;
  await read(reader, 2);
  await reader.verified();
  t.equal(reader.stats().verification.filesVerified, 1);
});

t.test('head pages read at open, served from the cache, start the verification and feed it their frames; again after a failed one', async (t) => {
  const s = await setup(t, { verifyConcurrency: 1 });
  const reader = await s.open();
  s.client.fault = (call) => (call.length > 10_000 ? new LtxvfsError('LTXVFS_ERR_STORAGE', `${call.key}: injected`, { key: call.key }) : undefined);
  const dst = new Uint8Array(4096);
  t.ok(reader.readPageInto(reader.current, 1, dst), 'page 1 is served from the cache: the head read at open');
  t.ok(bytesEqual(dst, pages[0].data));
  const fed = reader.stats().verification.framesCoalesced;
  t.ok(fed >= 1, `${fed} frames of the head fed to the verification this hit started`);
  for (let i = 0; i < 5; i++) reader.readPageInto(reader.current, 1, dst);
  t.equal(reader.stats().verification.framesCoalesced, fed, 'hits while it runs feed nothing more');
  await rejectsLtx(t, reader.verified(), 'LTXVFS_ERR_STORAGE', s.key, /injected/);
  s.client.fault = undefined;
  t.ok(reader.readPageInto(reader.current, 1, dst), 'page 1 served from the cache again');
  t.equal(reader.stats().verification.framesCoalesced, 2 * fed, 'the verification this hit started again is fed the head again');
  await reader.verified();
  t.equal(reader.stats().verification.filesVerified, 1);
});

t.test('close cancels background verification', async (t) => {
  const s = await setup(t, { verifyRangeBytes: 4096 * 2 });
  const reader = await s.open();
  await read(reader, 1);
  const pending = reader.verified().then(() => undefined, (e: unknown) => e);
  await reader.close();
  const err = await pending;
  t.ok(isLtxvfsError(err, 'LTXVFS_ERR_CLOSED'), `verified() after close: ${String(err)}`);
  const reads = s.client.reads.length;
  await new Promise((resolve) => setTimeout(resolve, 20));
  t.equal(s.client.reads.length, reads, 'no read after close');
  t.ok(reads < 30, `${reads} reads: stopped well before the ~31 ranges of the file`);
});

t.test('a verified file stays verified through the disk tier', async (t) => {
  const s = await setup(t);
  const cacheDir = join(s.dir, 'cache');
  const first = await s.open({ cacheDir });
  await read(first, 5);
  await first.verified();
  await first.close();
  const second = await s.open({ cacheDir }, await CountingClient.open(s.dir));
  await read(second, 40);
  await second.verified();
  t.equal(second.stats().verification.verifyRequests, 0, 'no verification read');
  t.equal(second.stats().verification.filesVerified, 1, 'known verified from disk');
});

t.test('files up to the bound are verified at load; bad options are usage errors', async (t) => {
  const s = await setup(t, { wholeFileBytes: 1 << 20 });
  const reader = await s.open();
  await read(reader, 7);
  await reader.verified();
  t.same([reader.stats().readRequests, reader.stats().verification.verifyRequests], [1, 0], 'one whole read at load, no verification read');
  const queue = { add: <T>(task: () => Promise<T>) => task() };
  for (const [name, value] of [['verifyRangeBytes', 0], ['verifyConcurrency', 1.5]] as const) {
    throwsLtx(t, () => new FileVerifier(s.client, queue, undefined, { [name]: value }), 'LTXVFS_ERR_USAGE', `${name} must be a positive integer, got ${value}`, name);
  }
});
