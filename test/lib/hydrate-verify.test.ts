/**
 * Hydration and file verification (lib/hydrate/, lib/read/verifier.ts): a pass feeds the
 * frames it decodes to the verification of the files it reads, so a large file is verified
 * without being read a second time; the state file records what was verified, so a process
 * that finds its hydration complete does not download the files again to verify them; and
 * a flipped bit in a frame the pass decodes is still caught, and never recorded verified.
 */
import t, { type Test } from 'tap';
import { promises as fs } from 'node:fs';
import { join } from 'node:path';
import { ReplicaReader } from '../../lib/read/replica-reader.js';
import { TAIL_BYTES } from '../../lib/replica/ltx-loader.js';
import { HYDRATION_STATE_SUFFIX } from '../../lib/hydrate/index.js';
import { fileIdOf } from '../../lib/hydrate/plan.js';
import { LtxvfsError } from '../../ltx/errors.js';
import { bytesEqual, CountingClient, flipBit, randomPage, readCurrentPage, rejectsLtx, writeLtx, type Page } from '../helpers/replica-builder.js';
import { waitFor } from '../helpers/polling.js';

const PAGES = 60;
/** Incompressible pages: a flipped literal bit still decodes, so only the file checksum can tell. */
const pages: Page[] = Array.from({ length: PAGES }, (_, i) => ({ pgno: i + 1, data: randomPage(i + 1) }));
/**
 * Page 20 as the level-0 file after the snapshot writes it: the snapshot's frame 20 is then
 * read over (inside the hydration's second 64 KiB range, frames 16–30), not written.
 */
const page20 = randomPage(1000);

/**
 * A 60-page snapshot (~247 KB, paged: the whole-file bound is the tail read) and a level-0
 * file changing page 20 (small, verified whole at load).
 */
/** A client whose reads over `limit` bytes fail from the `okReads + 1`-th one on, while `failing`. */
class FailingLargeReads extends CountingClient {
  failing = true;
  largeReads = 0;
  constructor(inner: CountingClient['inner'], readonly limit: number, readonly okReads: number) {
    super(inner);
  }

  override async readRange(key: string, offset: number, length: number, into?: Uint8Array): Promise<Uint8Array> {
    if (length > this.limit && this.failing && ++this.largeReads > this.okReads) throw new LtxvfsError('LTXVFS_ERR_STORAGE', `${key}: injected failure`);
    return super.readRange(key, offset, length, into);
  }
}

async function setup(t: Test) {
  const dir = t.testdir();
  const replica = join(dir, 'replica');
  const snapshot = await writeLtx(replica, { minTXID: 1, maxTXID: 1, pageSize: 4096, commit: PAGES, pages });
  await writeLtx(replica, { minTXID: 2, maxTXID: 2, pageSize: 4096, commit: PAGES, pages: [{ pgno: 20, data: page20 }] });
  const path = join(dir, 'hydrated.db');
  const open = async <C extends CountingClient = CountingClient>(wrap?: (client: CountingClient) => C): Promise<{ reader: ReplicaReader; client: C }> => {
    const plain = await CountingClient.open(replica);
    const client = wrap === undefined ? (plain as C) : wrap(plain);
    const reader = await ReplicaReader.open(client, {
      pollIntervalMs: 0, cacheSizeBytes: 0, wholeFileBytes: TAIL_BYTES, verifyRangeBytes: 16 * 1024,
      hydrate: path, hydrateOptions: { rangeBytes: 64 * 1024, concurrency: wrap === undefined ? 2 : 1, retryMs: 0 },
    });
    t.teardown(() => reader.close());
    return { reader, client };
  };
  return { snapshot: { ...snapshot, path: snapshot.path! }, path, open };
}

/** Bytes read from `key` through `client`. */
function bytesReadOf(client: CountingClient, key: string): number {
  return client.reads.filter((r) => r.key === key).reduce((sum, r) => sum + r.length, 0);
}

async function stateOf(path: string): Promise<{ verified?: string[] }> {
  return JSON.parse(await fs.readFile(path + HYDRATION_STATE_SUFFIX, 'utf8')) as { verified?: string[] };
}

const read = readCurrentPage;

t.test('a pass verifies the files it hydrates from with the frames it decodes, and a restart trusts what the state records', async (t) => {
  const s = await setup(t);
  const first = await s.open();
  await first.reader.hydration!.whenReady();
  await first.reader.verified();
  const v = first.reader.stats().verification;
  t.equal(v.corruptFiles, 0);
  t.ok(v.filesVerified >= 2, `${v.filesVerified} files verified: the snapshot and the level-0 file`);
  t.ok(v.framesCoalesced >= PAGES, `${v.framesCoalesced} frames fed by the pass, the one it read over included`);
  t.ok(v.verifyBytes < 8 * 1024, `${v.verifyBytes} bytes read by the verification itself (at most the index and trailer)`);
  const snapshotRead = bytesReadOf(first.client, s.snapshot.key);
  // Before, the verification read the whole file again once a page was served from the hydrated file.
  t.ok(snapshotRead < 1.5 * s.snapshot.bytes.length, `the snapshot's ${s.snapshot.bytes.length} bytes read once (${snapshotRead} bytes in all, the open's head and tail reads included)`);

  const snapshotFile = first.reader.current.files.find((f) => f.info.key === s.snapshot.key)!;
  const id = fileIdOf(snapshotFile);
  const recorded = await waitFor('the state file to record the verified snapshot', async () => ((await stateOf(s.path)).verified ?? []).includes(id));
  t.ok(recorded, `the state file records ${id} as verified`);
  await first.reader.close();

  // A restart finds the file complete: its pages are served from it, and nothing is read to verify the snapshot.
  const second = await s.open();
  t.equal(await second.reader.hydration!.whenReady(), 2);
  const atOpen = bytesReadOf(second.client, s.snapshot.key);
  t.ok(bytesEqual(await read(second.reader, 10), pages[9].data), 'page 10 from the file');
  t.ok(bytesEqual(await read(second.reader, 20), page20), 'page 20 as the level-0 file wrote it');
  await second.reader.verified();
  const w = second.reader.stats().verification;
  t.equal(w.verifyRequests, 0, 'no verification read');
  t.ok(w.filesVerified >= 1, `${w.filesVerified} files counted verified (the snapshot from the state file)`);
  t.equal(bytesReadOf(second.client, s.snapshot.key), atOpen, 'nothing of the snapshot read after the open');
});

t.test('a flipped bit in a frame the pass decodes fails the reader with LTXVFS_ERR_CHECKSUM, is not recorded verified, and a restart checks again', async (t) => {
  const s = await setup(t);
  const probe = await s.open();
  const frame = probe.reader.current.files.find((f) => f.info.key === s.snapshot.key)!.entries.at(9)!;
  await probe.reader.close();
  await fs.rm(s.path + HYDRATION_STATE_SUFFIX, { force: true });
  await fs.rm(s.path, { force: true });
  await flipBit(s.snapshot.path, frame.offset + 2000, 3);

  const first = await s.open();
  const events: LtxvfsError[] = [];
  first.reader.on('corrupt', (err) => events.push(err));
  t.equal(await first.reader.hydration!.whenReady(), 2, 'the pass itself completes: the damaged frame still decodes');
  await rejectsLtx(t, first.reader.verified(), 'LTXVFS_ERR_CHECKSUM', s.snapshot.key, /file checksum mismatch/);
  t.equal(events.length, 1, "one 'corrupt' event");
  t.equal(first.reader.stats().verification.verifyBytes < 8 * 1024, true, 'found from the frames the pass fed, not by reading the file again');
  const id = fileIdOf(first.reader.current.files.find((f) => f.info.key === s.snapshot.key)!);
  await first.reader.close();
  t.notOk(((await stateOf(s.path)).verified ?? []).includes(id), 'the state file does not record the snapshot verified');

  const second = await s.open();
  await second.reader.hydration!.whenReady();
  await read(second.reader, 10);
  await rejectsLtx(t, second.reader.verified(), 'LTXVFS_ERR_CHECKSUM', s.snapshot.key, /file checksum mismatch/);
  t.ok(second.reader.stats().verification.verifyRequests > 0, 'the restart read the snapshot to verify it');
});

t.test('files verified after a pass failed half-way are recorded without erasing the pass in progress; the restart resumes and trusts them', async (t) => {
  const s = await setup(t);
  // The hydration's 64 KiB ranges: the first one lands, the next fails. The verification's 16 KiB reads pass.
  const first = await s.open((c) => new FailingLargeReads(c.inner, 32 * 1024, 1));
  await t.rejects(first.reader.hydration!.whenReady(), { code: 'LTXVFS_ERR_STORAGE' });
  await first.reader.verified();
  const v = first.reader.stats().verification;
  t.ok(v.framesCoalesced > 0 && v.verifyBytes > 0, `the pass fed ${v.framesCoalesced} frames, the verification read ${v.verifyBytes} bytes of the rest`);
  const id = fileIdOf(first.reader.current.files.find((f) => f.info.key === s.snapshot.key)!);
  await first.reader.close();
  const state = JSON.parse(await fs.readFile(s.path + HYDRATION_STATE_SUFFIX, 'utf8')) as { target?: number; done: Record<string, unknown[]>; verified?: string[] };
  t.equal(state.target, 2, 'still recorded as a pass in progress: its pages are half written');
  t.ok(Object.values(state.done).some((ranges) => ranges.length > 0), 'with the range it completed');
  t.ok((state.verified ?? []).includes(id), 'and the snapshot verified');

  const second = await s.open();
  t.equal(await second.reader.hydration!.whenReady(), 2);
  t.ok(second.reader.hydration!.stats().pagesResumed > 0, 'the restart resumed the pass');
  await second.reader.verified();
  t.equal(second.reader.stats().verification.verifyRequests, 0, 'and did not read the snapshot to verify it');
  t.ok(bytesEqual(await read(second.reader, 20), page20));
});

t.test('a complete hydration whose state records no verification (written before it did) verifies its files once, at open, and records them', async (t) => {
  const s = await setup(t);
  const first = await s.open();
  await first.reader.hydration!.whenReady();
  await first.reader.verified();
  await first.reader.close();
  const state = JSON.parse(await fs.readFile(s.path + HYDRATION_STATE_SUFFIX, 'utf8')) as Record<string, unknown>;
  delete state.verified;
  await fs.writeFile(s.path + HYDRATION_STATE_SUFFIX, JSON.stringify(state));

  // No page read: the worker engine reads the file in place, and the verification would not hear of it.
  const second = await s.open();
  await second.reader.verified();
  const v = second.reader.stats().verification;
  t.ok(v.verifyBytes > s.snapshot.bytes.length / 2, `the snapshot read once to verify it (${v.verifyBytes} bytes) with no page served`);
  await waitFor('the state file to record the verified snapshot', async () => ((await stateOf(s.path)).verified ?? []).length > 0);
  await second.reader.close();

  const third = await s.open();
  await third.reader.verified();
  t.equal(third.reader.stats().verification.verifyRequests, 0, 'the next process trusts it');
  t.ok(bytesEqual(await read(third.reader, 20), page20));
});
