/**
 * Hydration (lib/hydrate/) over file:// replicas: the file equals what restore writes
 * and passes integrity_check; reads move to the file once it is complete and stay on the
 * remote path before; newer LTX files are applied in order; an interrupted hydration
 * resumes; a replaced history starts over; the lock, the PRAGMAs and the environment.
 */
import t, { type Test } from 'tap';
import { promises as fs } from 'node:fs';
import { join } from 'node:path';
import { ReplicaReader } from '../../lib/read/replica-reader.js';
import { TAIL_BYTES } from '../../lib/replica/ltx-loader.js';
import { restoreDatabase } from '../../lib/tools/restore.js';
import { openDatabase } from '../../lib/api/open.js';
import { HYDRATION_LOCK_SUFFIX, HYDRATION_STATE_SUFFIX, hydrationPathFromEnv, hydrationPragma, type HydrateOptions } from '../../lib/hydrate/index.js';
import { openAsyncifyDatabase } from '../../vfs/asyncify/database.js';
import { LtxvfsError } from '../../ltx/errors.js';
import type { Database } from '../../lib/sql/database.js';
import type { ReplicaStats } from '../../lib/read/replica-reader.js';
import { CountingClient, diffDatabases, snapshotFromDatabase, sqlJsRows, writeLtx, bytesEqual } from '../helpers/replica-builder.js';
import { chinookBytes } from '../helpers/bytes-source.js';
import { databaseAfter } from '../helpers/database-after.js';
import { sqliteQuery } from '../helpers/sqlite-cli.js';
import { requireSqlite3 } from '../helpers/paths.js';
import { waitFor } from '../helpers/polling.js';

const CHINOOK = chinookBytes();
const QUERY = 'SELECT count(*) AS n, sum(Milliseconds) AS ms, max(Name) AS last FROM Track';
const POINT = 'SELECT ArtistId, Name FROM Artist WHERE ArtistId IN (1, 42, 100, 200) ORDER BY ArtistId';

function chinookAfter(sql: string, from: Uint8Array = CHINOOK): Promise<Uint8Array> {
  return databaseAfter(sql, from);
}

/** A client whose large range reads (hydration's) wait for a gate or fail; small ones (queries) pass. */
class GatedClient extends CountingClient {
  gate: Promise<void> | undefined;
  failLarge: Error | undefined;
  largeReads = 0;

  override async readRange(key: string, offset: number, length: number): Promise<Uint8Array> {
    if (length > 40 * 1024) {
      this.largeReads++;
      if (this.failLarge !== undefined) throw this.failLarge;
      if (this.gate !== undefined) await this.gate;
    }
    return super.readRange(key, offset, length);
  }
}

interface Opened {
  client: GatedClient;
  reader: ReplicaReader;
  db: Database<ReplicaStats>;
}

async function openHydrating(replica: string, path: string, options: HydrateOptions = {}, gate?: Promise<void>): Promise<Opened> {
  const { openFileReplica } = await import('../../lib/storage/file/client.js');
  const client = new GatedClient(await openFileReplica(replica));
  client.gate = gate;
  const reader = await ReplicaReader.open(client, {
    pollIntervalMs: 0, cacheSizeBytes: 0, hydrate: path, hydrateOptions: { rangeBytes: 128 * 1024, concurrency: 2, ...options },
    // Behind a gate, files are paged (only the 32 KiB tail read whole at load) so that the
    // open's and the queries' reads stay under the gate's 40 KiB.
    ...(gate === undefined ? {} : { wholeFileBytes: TAIL_BYTES }),
  });
  const pragma = hydrationPragma(() => reader.hydration);
  const db = await openAsyncifyDatabase(reader, {
    statsProvider: () => reader.stats(), onClose: () => reader.close(), pragmaHandler: (name, value) => pragma(name, value),
  });
  return { client, reader, db };
}

let restores = 0;

/** What restoreDatabase writes for `replica` (beside it). */
async function restored(replica: string): Promise<Uint8Array> {
  const { openFileReplica } = await import('../../lib/storage/file/client.js');
  const client = await openFileReplica(replica);
  const out = join(replica, '..', `restored-${++restores}.db`);
  await restoreDatabase(client, out);
  await client.close();
  return new Uint8Array(await fs.readFile(out));
}

async function setup(t: Test): Promise<{ root: string; replica: string; path: string; states: Uint8Array[] }> {
  const root = t.testdir();
  const replica = join(root, 'replica');
  const s1 = await chinookAfter("UPDATE Artist SET Name = Name || ' (remastered)' WHERE ArtistId IN (1, 100, 200)");
  const s2 = await chinookAfter("UPDATE Track SET Name = Name || ' (live)' WHERE TrackId % 5 = 0", s1);
  await writeLtx(replica, snapshotFromDatabase(CHINOOK));
  await writeLtx(replica, diffDatabases(CHINOOK, s1, { minTXID: 2 }));
  await writeLtx(replica, diffDatabases(s1, s2, { minTXID: 3 }));
  return { root, replica, path: join(root, 'hydrated.db'), states: [CHINOOK, s1, s2] };
}

t.test('the hydrated file equals what restore writes, passes integrity_check, and then serves the reads', async (t) => {
  requireSqlite3();
  const { replica, path, states } = await setup(t);
  const h = await openHydrating(replica, path);
  const txid = await h.reader.hydration!.whenReady();
  t.equal(txid, 3);
  t.ok(bytesEqual(new Uint8Array(await fs.readFile(path)), await restored(replica)), 'byte for byte what restoreDatabase writes');
  t.same(await sqliteQuery(path, 'PRAGMA integrity_check', { readonly: true }), [{ integrity_check: 'ok' }]);
  const s = h.reader.hydration!.stats();
  t.match(s, { state: 'ready', progress: 100, txid: 3, pagesResumed: 0, passes: 1 });
  t.ok(s.readRequests < s.pagesWritten / 4, `large coalesced reads: ${s.readRequests} requests for ${s.pagesWritten} pages`);
  t.same(await h.db.all('PRAGMA litestream_hydration_progress'), [{ '100.0': '100.0' }]);
  t.same(await h.db.all('PRAGMA litestream_hydration_file'), [{ [path]: path }]);

  const before = h.client.reads.length;
  t.same(await h.db.all(QUERY), await sqlJsRows(states[2], QUERY));
  t.same(await h.db.all(POINT), await sqlJsRows(states[2], POINT));
  t.equal(h.client.reads.length, before, 'no storage read: every page came from the file');
  // In process, SQLite's buffer is filled straight from the file (no page allocated per read).
  const hydrator = h.reader.hydration!;
  const version = h.reader.current;
  const file = await restored(replica);
  for (const pgno of [2, version.commit]) {
    const dst = new Uint8Array(version.pageSize);
    t.ok(hydrator.readPageInto(version, version.get(pgno)!, pgno, dst), `page ${pgno} read into a buffer`);
    t.ok(bytesEqual(dst, file.subarray((pgno - 1) * version.pageSize, pgno * version.pageSize)), `page ${pgno} as restored`);
  }
  t.notOk(hydrator.readPageInto(version, version.get(2)!, 2, new Uint8Array(100)), 'a buffer of another size is refused');
  const state = JSON.parse(await fs.readFile(path + HYDRATION_STATE_SUFFIX, 'utf8')) as Record<string, unknown>;
  t.match(state, { format: 'ltxvfs-hydration', txid: 3, done: {} });
  t.notOk('target' in state, 'no pass in progress');
  await h.db.close();
  await t.rejects(fs.stat(path + HYDRATION_LOCK_SUFFIX), 'the lock is released at close');
});

t.test('queries keep working from the remote path while hydration runs', async (t) => {
  const { replica, path, states } = await setup(t);
  let release!: () => void;
  const gate = new Promise<void>((resolve) => (release = resolve));
  const h = await openHydrating(replica, path, {}, gate);
  t.same(await h.db.all('PRAGMA litestream_hydration_progress'), [{ '0.0': '0.0' }], 'nothing written yet');
  t.same(await h.db.all(QUERY), await sqlJsRows(states[2], QUERY), 'rows from the remote path');
  t.same(await h.db.all(POINT), await sqlJsRows(states[2], POINT));
  t.equal(h.reader.hydration!.stats().state, 'hydrating');
  t.ok(h.client.largeReads > 0, 'hydration is waiting on its range reads');
  release();
  await h.reader.hydration!.whenReady();
  t.same(await h.db.all('PRAGMA litestream_hydration_progress'), [{ '100.0': '100.0' }]);
  await h.db.close();
});

t.test('LTX files that arrive later are applied to the file in order; older versions still read their own pages', async (t) => {
  const { replica, path, states } = await setup(t);
  const h = await openHydrating(replica, path);
  await h.reader.hydration!.whenReady();
  const s3 = await chinookAfter("DELETE FROM InvoiceLine WHERE InvoiceLineId % 3 = 0; UPDATE Artist SET Name = 'X' WHERE ArtistId = 42", states[2]);
  const s4 = await chinookAfter("INSERT INTO Artist (Name) SELECT Name || ' II' FROM Artist WHERE ArtistId <= 50", s3);
  await writeLtx(replica, diffDatabases(states[2], s3, { minTXID: 4 }));
  await writeLtx(replica, diffDatabases(s3, s4, { minTXID: 5 }));
  const old = await h.reader.versionAt({ txid: 2 });
  await h.reader.poller.pollNow();
  t.equal(h.reader.current.txid, 5);
  await h.reader.hydration!.settled();
  const s = h.reader.hydration!.stats();
  t.match(s, { state: 'ready', txid: 5, passes: 2 });
  t.ok(bytesEqual(new Uint8Array(await fs.readFile(path)), await restored(replica)), 'the file is the restore at TXID 5');
  t.same(await h.db.all(POINT), await sqlJsRows(s4, POINT));
  t.same(await h.db.all('SELECT count(*) AS n FROM Artist'), await sqlJsRows(s4, 'SELECT count(*) AS n FROM Artist'));
  // A version from before: pages changed since come from the remote path, unchanged ones from the file.
  for (const pgno of [1, 2, 3, 10, 50, 100]) {
    const page = await h.reader.readPage(old, pgno);
    t.ok(bytesEqual(page, states[1].subarray((pgno - 1) * 4096, pgno * 4096)), `page ${pgno} of TXID 2`);
  }
  await h.db.close();
});

t.test('an interrupted hydration resumes where it stopped instead of starting over', async (t) => {
  const { replica, path } = await setup(t);
  const first = await openHydrating(replica, path, { concurrency: 1, rangeBytes: 64 * 1024, checkpointIntervalMs: 0 });
  first.client.delayMs = 40;
  const h1 = first.reader.hydration!;
  await new Promise<void>((resolve) => {
    h1.on('checkpoint', (s) => {
      if (s.pagesCheckpointed >= s.pagesTotal / 3) resolve();
    });
  });
  await first.db.close();
  const partial = h1.stats();
  t.ok(partial.pagesDone < partial.pagesTotal, `stopped at ${partial.pagesDone} of ${partial.pagesTotal} pages`);
  const state = JSON.parse(await fs.readFile(path + HYDRATION_STATE_SUFFIX, 'utf8')) as { target?: number; done: Record<string, unknown> };
  t.equal(state.target, 3, 'the state records the pass in progress');
  t.ok(Object.keys(state.done).length > 0, 'and the ranges done');

  const second = await openHydrating(replica, path, { concurrency: 1, rangeBytes: 64 * 1024 });
  await second.reader.hydration!.whenReady();
  const s = second.reader.hydration!.stats();
  t.ok(s.pagesResumed >= partial.pagesCheckpointed, `resumed: ${s.pagesResumed} pages were not written again (≥ ${partial.pagesCheckpointed} checkpointed)`);
  t.ok(s.pagesWritten + s.pagesResumed === s.pagesTotal, 'the rest was written');
  t.ok(s.bytesRead < partial.bytesRead + s.bytesRead && s.bytesRead < 0.75 * (partial.bytesRead + s.bytesRead),
    `the second run read ${s.bytesRead} bytes, the first ${partial.bytesRead}`);
  t.ok(bytesEqual(new Uint8Array(await fs.readFile(path)), await restored(replica)), 'the result equals restore');
  await second.db.close();
});

t.test('a replica whose history was replaced is hydrated again from scratch', async (t) => {
  const { replica, path } = await setup(t);
  const first = await openHydrating(replica, path);
  await first.reader.hydration!.whenReady();
  await first.db.close();
  const other = await chinookAfter("UPDATE Genre SET Name = upper(Name); UPDATE Track SET Composer = 'Anon' WHERE Composer IS NULL");
  await fs.rm(join(replica, 'ltx'), { recursive: true });
  await writeLtx(replica, { ...snapshotFromDatabase(other), timestamp: Date.now() });
  await writeLtx(replica, { ...diffDatabases(other, other, { minTXID: 2 }), timestamp: Date.now() });
  await writeLtx(replica, { ...diffDatabases(other, other, { minTXID: 3 }), timestamp: Date.now() });
  const second = await openHydrating(replica, path);
  await second.reader.hydration!.whenReady();
  t.equal(second.reader.hydration!.stats().pagesResumed, 0);
  t.ok(bytesEqual(new Uint8Array(await fs.readFile(path)), await restored(replica)), 'the file is the new history\'s state');
  await second.db.close();
});

t.test('a file already complete at the reader\'s TXID serves reads at once and reads nothing', async (t) => {
  const { replica, path, states } = await setup(t);
  const first = await openHydrating(replica, path);
  await first.reader.hydration!.whenReady();
  await first.db.close();
  const second = await openHydrating(replica, path);
  t.equal(await second.reader.hydration!.whenReady(), 3);
  const reads = second.client.reads.length;
  t.same(await second.db.all(QUERY), await sqlJsRows(states[2], QUERY));
  t.equal(second.client.reads.length, reads, 'pages from the file');
  t.equal(second.reader.hydration!.stats().readRequests, 0);
  await second.db.close();
});

t.test('one process per file: a live lock refuses, a dead owner\'s lock is taken over; a foreign file is refused', async (t) => {
  const { root, replica, path } = await setup(t);
  const first = await openHydrating(replica, path);
  const err = await openHydrating(replica, path).then(() => undefined, (e: unknown) => e);
  t.ok(err instanceof LtxvfsError && err.code === 'LTXVFS_ERR_USAGE' && err.message.includes(`in use by process ${process.pid}`), String(err));
  await first.db.close();

  await fs.writeFile(path + HYDRATION_LOCK_SUFFIX, '2147483646\n');
  const second = await openHydrating(replica, path);
  await second.reader.hydration!.whenReady();
  t.pass('a lock of a process that is gone is taken over');
  await second.db.close();

  const foreign = join(root, 'mine.db');
  await fs.writeFile(foreign, CHINOOK);
  const refused = await openHydrating(replica, foreign).then(() => undefined, (e: unknown) => e);
  t.ok(refused instanceof LtxvfsError && refused.code === 'LTXVFS_ERR_USAGE' && /not a hydration/.test(refused.message), String(refused));
  t.ok(bytesEqual(new Uint8Array(await fs.readFile(foreign)), CHINOOK), 'and left alone');
  await t.rejects(fs.stat(foreign + HYDRATION_LOCK_SUFFIX), 'no lock left behind');
  const replaced = await openHydrating(replica, foreign, { overwrite: true });
  await replaced.reader.hydration!.whenReady();
  t.ok(bytesEqual(new Uint8Array(await fs.readFile(foreign)), await restored(replica)), 'overwrite replaces it');
  await replaced.db.close();
});

t.test('a failed pass leaves queries working, rejects whenReady, and is retried', async (t) => {
  const { replica, path, states } = await setup(t);
  const { openFileReplica } = await import('../../lib/storage/file/client.js');
  const client = new GatedClient(await openFileReplica(replica));
  client.failLarge = new LtxvfsError('LTXVFS_ERR_STORAGE', 'injected');
  // Files paged, as behind a gate: only hydration's reads are over 40 KiB.
  const reader = await ReplicaReader.open(client, {
    pollIntervalMs: 0, cacheSizeBytes: 0, wholeFileBytes: TAIL_BYTES, hydrate: path, hydrateOptions: { rangeBytes: 128 * 1024, retryMs: 50 },
  });
  const db = await openAsyncifyDatabase(reader, { statsProvider: () => reader.stats(), onClose: () => reader.close() });
  t.teardown(() => db.close());
  await t.rejects(reader.hydration!.whenReady(), { code: 'LTXVFS_ERR_STORAGE' });
  t.match(reader.hydration!.stats(), { state: 'failed', error: { code: 'LTXVFS_ERR_STORAGE' } });
  t.same(await db.all(QUERY), await sqlJsRows(states[2], QUERY), 'queries still answer');
  const failedPasses = reader.hydration!.stats().passes;
  client.failLarge = undefined;
  // The retry timer is unref'd (it must not keep a process alive): keep this one alive meanwhile.
  const alive = setInterval(() => undefined, 10);
  t.teardown(() => clearInterval(alive));
  // Retries run every 50 ms: on a slow machine one may have failed again before the
  // failure was lifted, so wait (bounded) for a pass that completes.
  const deadline = Date.now() + 60_000; // a loop guard for what must happen, not a bound on its speed
  let txid: number | undefined;
  while (txid === undefined && Date.now() < deadline) {
    txid = await reader.hydration!.whenReady().catch(() => new Promise<undefined>((resolve) => setTimeout(() => resolve(undefined), 20)));
  }
  t.equal(txid, 3, 'a retry completes it');
  t.ok(reader.hydration!.stats().passes > failedPasses, 'in a later pass');
  t.ok(bytesEqual(new Uint8Array(await fs.readFile(path)), await restored(replica)));
});

t.test('PRAGMAs and environment as the Litestream VFS has them', async (t) => {
  const { replica, path } = await setup(t);
  const off = await openDatabase(replica, { pollIntervalMs: 0, shared: false, env: {} });
  t.same(await off.all('PRAGMA litestream_hydration_progress'), [{ 0: '0' }], 'off: 0');
  t.same(await off.all('PRAGMA litestream_hydration_file'), [{ '': '' }], 'off: empty');
  await t.rejects(off.all("PRAGMA litestream_hydration_progress = '50'"), /read-only/);
  await off.close();

  const env = { LITESTREAM_HYDRATION_ENABLED: 'true', LITESTREAM_HYDRATION_PATH: path };
  const on = await openDatabase(replica, { pollIntervalMs: 0, shared: false, env });
  t.same(await on.all('PRAGMA litestream_hydration_file'), [{ [path]: path }]);
  const progress = Object.values((await on.all('PRAGMA litestream_hydration_progress'))[0])[0] as string;
  t.match(progress, /^\d{1,3}\.\d$/, `percent with one decimal: ${progress}`);
  await on.close();

  t.equal(hydrationPathFromEnv({}, 'file:///x'), undefined);
  t.equal(hydrationPathFromEnv({ LITESTREAM_HYDRATION_ENABLED: 'false', LITESTREAM_HYDRATION_PATH: '/p' }, 'file:///x'), undefined);
  t.equal(hydrationPathFromEnv({ LITESTREAM_HYDRATION_ENABLED: '1', LITESTREAM_HYDRATION_PATH: '/p' }, 'file:///x'), '/p');
  const temp = hydrationPathFromEnv({ LITESTREAM_HYDRATION_ENABLED: 'TRUE' }, 'file:///x');
  t.match(temp, /ltxvfs-hydration-[0-9a-f]{16}\.db$/, 'no path: a temp file named after the replica');
  t.equal(hydrationPathFromEnv({ LITESTREAM_HYDRATION_ENABLED: 't' }, 'file:///x'), temp, 'the same one every time');
});

t.test('the worker engine hydrates too, answers the PRAGMAs, and uses the disk cache', async (t) => {
  const { root, replica, path, states } = await setup(t);
  const env = { LITESTREAM_HYDRATION_ENABLED: 'true', LITESTREAM_HYDRATION_PATH: path };
  const db = await openDatabase(replica, { engine: 'worker', pollIntervalMs: 0, shared: false, env, cacheDir: join(root, 'cache') });
  t.same(await db.all('PRAGMA litestream_hydration_file'), [{ [path]: path }]);
  t.same(await db.all(QUERY), await sqlJsRows(states[2], QUERY));
  // Awaited, however long the pass takes on a loaded machine (500 turns of 10 ms bounded its speed).
  await waitFor('the worker engine\'s hydration to be ready', () => db.stats().hydration?.state === 'ready', 60_000);
  t.same(await db.all('PRAGMA litestream_hydration_progress'), [{ '100.0': '100.0' }]);
  t.ok(db.stats().diskCache !== undefined, 'the disk tier is on');
  await db.close();
  t.ok(bytesEqual(new Uint8Array(await fs.readFile(path)), await restored(replica)));
});
