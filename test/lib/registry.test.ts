/**
 * One replica, many connections: every openDatabase() of the same replica URL in a
 * process shares one ReplicaReader (its page cache, fetcher and poller), reference
 * counted; `shared: false` gives a private one. Real fixture replicas on t.testdir().
 */
import t from 'tap';
import { promises as fs } from 'node:fs';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { openDatabase } from '../../lib/api/open.js';
import { acquireReader, sharedReaderUrls } from '../../lib/read/registry.js';
import { copyFixtureReplica, FIXTURE_NAMES, rejectsLtx } from '../helpers/replica-builder.js';

const SUMMARY = 'SELECT count(*) AS n, sum(id) AS s, litestream_txid() AS txid FROM t';
const AT5 = { n: 250, s: 31375, txid: '0000000000000005' };
const AT4 = { n: 303, s: 46056, txid: '0000000000000004' };

t.test('two connections to one URL share one reader: one open, one cache, one poller', async (t) => {
  const dir = await copyFixtureReplica(join(t.testdir(), 'replica'));
  const url = pathToFileURL(dir).href;
  const five = join(dir, 'ltx/0', FIXTURE_NAMES[4]);
  await fs.rename(five, join(dir, 'held'));

  const a = await openDatabase(dir, { pollIntervalMs: 0 });
  t.same(sharedReaderUrls().filter((u) => u === url), [url], 'registered under the normalized file:// URL');
  t.same(await a.all(SUMMARY), [AT4]);
  const afterA = a.stats();
  t.equal(afterA.readRequests, 4, 'the open read the four files, whole');

  const b = await openDatabase(url, { pollIntervalMs: 0, cacheSizeBytes: 0 }); // same replica by URL; the first opener's options apply
  t.same(await b.all(SUMMARY), [AT4]);
  t.same(await b.all('SELECT name FROM t WHERE id IN (1, 300) ORDER BY id'), [{ name: 'ALPHA' }, { name: 'row-0297' }]);
  const afterB = b.stats();
  t.equal(afterB.readRequests, afterA.readRequests, 'the second connection read nothing from storage');
  t.equal(afterB.pagesFetched, afterA.pagesFetched);
  t.ok(afterB.cacheHits > afterA.cacheHits, `its pages came from the shared cache (${afterA.cacheHits} → ${afterB.cacheHits} hits)`);
  t.equal(afterB.cacheMisses, 0);
  t.equal(sharedReaderUrls().filter((u) => u === url).length, 1, 'still one reader');

  // One poller: a poll through either is seen by both.
  await fs.rename(join(dir, 'held'), five);
  const lease = await acquireReader(url);
  await lease.reader.poller.pollNow();
  await lease.release();
  t.same([a.stats().polls, b.stats().polls], [1, 1], 'the same poll counters');
  t.same(await a.all(SUMMARY), [AT5]);
  t.same(await b.all(SUMMARY), [AT5]);
  t.equal(b.stats().readRequests, afterA.readRequests + 1, 'TXID 5 read once, for both');

  // Closing one keeps the other working; closing both closes the reader.
  const keep = await acquireReader(url);
  const reader = keep.reader;
  await keep.release();
  await a.close();
  t.same(await b.all(SUMMARY), [AT5], 'the other connection still works');
  t.same(sharedReaderUrls().filter((u) => u === url), [url]);
  reader.release(reader.acquire());
  await b.close();
  t.same(sharedReaderUrls().filter((u) => u === url), [], 'the last close unregisters it');
  await rejectsLtx(t, async () => reader.acquire(), 'LTXVFS_ERR_CLOSED', url, /replica reader is closed/);

  // A new connection opens a new reader.
  const c = await openDatabase(dir, { pollIntervalMs: 0 });
  t.same(await c.all(SUMMARY), [AT5]);
  t.equal(c.stats().readRequests, 5, 'a fresh reader: five files read');
  t.equal(c.stats().polls, 0);
  await c.close();
});

t.test('shared: false gives a private reader', async (t) => {
  const dir = await copyFixtureReplica(join(t.testdir(), 'replica'));
  const url = pathToFileURL(dir).href;
  const shared = await openDatabase(dir, { pollIntervalMs: 0 });
  t.teardown(() => shared.close());
  const own = await openDatabase(dir, { pollIntervalMs: 0, shared: false });
  t.same(await own.all(SUMMARY), [AT5]);
  t.equal(own.stats().readRequests, 5, 'its own reads');
  t.equal(shared.stats().readRequests, 5, 'the shared reader did not see them');
  t.equal(sharedReaderUrls().filter((u) => u === url).length, 1, 'not registered');
  const lease = await acquireReader(dir, { shared: false });
  t.not(lease.reader, (await acquireReader(dir)).reader, 'a private lease is another reader');
  await lease.release();
  await rejectsLtx(t, async () => lease.reader.acquire(), 'LTXVFS_ERR_CLOSED', url, /replica reader is closed/);
  await own.close();
  t.same(await shared.all(SUMMARY), [AT5], 'closing the private one leaves the shared one');
});

t.test('concurrent opens of one URL join the same pending open; releases are idempotent', async (t) => {
  const dir = await copyFixtureReplica(join(t.testdir(), 'replica'));
  const url = pathToFileURL(dir).href;
  const [x, y] = await Promise.all([acquireReader(dir, { pollIntervalMs: 0 }), acquireReader(url, { pollIntervalMs: 0 })]);
  t.equal(x.reader, y.reader, 'one reader');
  t.equal(x.reader.stats().readRequests, 5, 'opened once');
  const first = x.release();
  t.equal(x.release(), first, 'a second release returns the same promise');
  await first;
  await x.release();
  t.same(sharedReaderUrls().filter((u) => u === url), [url], 'released twice, counted once: y still holds it');
  x.reader.release(x.reader.acquire());
  await y.release();
  t.same(sharedReaderUrls().filter((u) => u === url), []);
});

t.test('a failed open is not kept: the next open tries again', async (t) => {
  const root = t.testdir();
  const dir = join(root, 'replica');
  await fs.mkdir(dir);
  const url = pathToFileURL(dir).href;
  const both = await Promise.allSettled([acquireReader(dir), acquireReader(dir)]);
  for (const r of both) {
    t.equal(r.status, 'rejected');
    const err = (r as PromiseRejectedResult).reason as Error & { code: string };
    t.equal(err.code, 'LTXVFS_ERR_EMPTY_REPLICA');
    t.equal(err.message, `replica has no LTX files: ${url}`);
  }
  t.same(sharedReaderUrls().filter((u) => u === url), [], 'not registered');
  await copyFixtureReplica(dir);
  const lease = await acquireReader(dir, { pollIntervalMs: 0 });
  t.equal(lease.reader.current.txid, 5, 'opened now');
  await lease.release();
  await rejectsLtx(t, acquireReader(join(root, 'missing')), 'LTXVFS_ERR_NOT_FOUND', join(root, 'missing'), /replica directory does not exist/);
  t.same(sharedReaderUrls().filter((u) => u.startsWith(pathToFileURL(root).href)), []);
});
