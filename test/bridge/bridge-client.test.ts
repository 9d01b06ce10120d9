/**
 * The page bridge end to end, without SQLite: this thread blocks on the client end
 * (vfs/bridge/client.ts) while a worker serves the channel (lib/bridge/page-server.ts)
 * from database bytes (test/helpers/bridge-server-worker.ts). Message counts come from
 * both sides: the client counts what it sends, the server what it received. Time is the
 * tests' own: the client's deadline clock and wall clock are injected, so nothing here
 * depends on how fast the machine is.
 */
import t from 'tap';
import { LtxvfsError, isLtxvfsError } from '../../ltx/errors.js';
import { BridgeClient } from '../../vfs/bridge/client.js';
import { chinookBytes, headerPageSize } from '../helpers/bytes-source.js';
import { startBridgeServer } from '../helpers/bridge-server.js';
import { TestClock, waitFor } from '../helpers/polling.js';

const chinook = chinookBytes();
const pageSize = headerPageSize(chinook);
const pageOf = (bytes: Uint8Array, pgno: number): Uint8Array => bytes.subarray((pgno - 1) * pageSize, pgno * pageSize);

/** Client clocks that stand still: no request times out, and the fetch side's fresh stamp (now + 1 s) stays ahead. */
const stillClocks = (): { now: () => number; wallClock: () => number } => {
  const wall = Date.now();
  return { now: () => 0, wallClock: () => wall };
};

t.test('cache hits and unchanged versions send no message; misses send one each', async (t) => {
  const server = await startBridgeServer(chinook);
  t.teardown(() => server.close());
  const client = new BridgeClient(server.channel, { timeoutMs: 10_000, ...stillClocks() });

  const v1 = client.acquire();
  t.match(v1, { txid: 1, pageSize, commit: chinook.length / pageSize });
  t.equal(client.counters.messages, 1, 'the first transaction asks for its version');
  t.same(client.readPage(v1, 10), pageOf(chinook, 10));
  t.same(client.readPage(v1, 20), pageOf(chinook, 20));
  t.equal(client.counters.messages, 3, 'each miss: one message');
  client.release(v1);
  t.equal(client.counters.messages, 4, 'the end of a transaction that crossed is told (no answer waited for)');

  for (let i = 0; i < 100; i++) {
    const v = client.acquire();
    t.equal(v, v1, 'the same version object');
    client.readPage(v, 10);
    client.readPage(v, 20);
    client.release(v);
  }
  t.equal(client.counters.messages, 4, '100 more transactions over cached pages: no message');
  t.equal(client.counters.fastAcquires, 100);
  t.equal(client.cache.hits, 200);
  await waitFor('the server to receive the end', async () => (await server.counters()).counters.requests === 4);
  const ack = await server.counters();
  t.equal(ack.counters.requests, 4, 'the server received exactly the client\'s messages');
  t.equal(ack.readPageCalls, 2, 'and fetched two pages');
  t.equal(ack.pinned, 1, 'one version pinned for the client between transactions');
});

t.test('between transactions the held version is parked: the reader sees no transaction open until the next request', async (t) => {
  const server = await startBridgeServer(chinook);
  t.teardown(() => server.close());
  const client = new BridgeClient(server.channel, { timeoutMs: 10_000, ...stillClocks() });
  const transitions = async (n: number): Promise<boolean[]> => {
    await waitFor(`${n} transactionOpen call(s)`, async () => (await server.counters()).transactionOpen.length >= n);
    return (await server.counters()).transactionOpen;
  };

  const v = client.acquire();
  client.readPage(v, 10);
  client.release(v);
  t.same(await transitions(1), [false], 'a transaction that read through the bridge ended: its pin is parked');
  t.equal((await server.counters()).pinned, 1, 'the version stays pinned for the next transaction');

  for (let i = 0; i < 10; i++) {
    const w = client.acquire();
    client.readPage(w, 10);
    client.release(w);
  }
  const quiet = await server.counters();
  t.same(quiet.transactionOpen, [false], 'transactions served from the client\'s cache: nothing told, nothing changed');
  t.equal(quiet.counters.ended, 1);

  const w = client.acquire();
  client.readPage(w, 11); // a miss
  t.same((await server.counters()).transactionOpen, [false, true], 'the miss counted the pin as a transaction again before it was answered');
  client.release(w);
  t.same(await transitions(3), [false, true, false]);

  client.close();
  await waitFor('the server to release the version', async () => (await server.counters()).pinned === 0);
  t.same((await server.counters()).transactionOpen, [false, true, false, true], 'closing counts the parked pin again before releasing it');
});

t.test('a new version drops exactly the changed pages of the local cache', async (t) => {
  const server = await startBridgeServer(chinook);
  t.teardown(() => server.close());
  const client = new BridgeClient(server.channel, { timeoutMs: 10_000, ...stillClocks() });
  let v = client.acquire();
  for (const pgno of [3, 4, 5]) client.readPage(v, pgno);

  const next = chinook.slice();
  next.fill(0xab, 4 * pageSize + 100, 4 * pageSize + 200); // page 5
  await server.setBytes(next);
  const before = client.counters.messages;
  v = client.acquire();
  t.equal(v.txid, 2);
  t.equal(client.counters.messages, before + 1, 'the new version is asked for');
  t.same(client.readPage(v, 3), pageOf(chinook, 3));
  t.same(client.readPage(v, 4), pageOf(chinook, 4));
  t.equal(client.counters.messages, before + 1, 'unchanged pages stay cached');
  t.same(client.readPage(v, 5), pageOf(next, 5), 'the changed page is read again, new contents');
  t.equal(client.counters.messages, before + 2);
  t.equal((await server.counters()).pinned, 1, 'the old version was released');
});

t.test('sequential misses bring the following cached pages in one answer', async (t) => {
  const server = await startBridgeServer(chinook, 64 * 1024);
  t.teardown(() => server.close());
  const client = new BridgeClient(server.channel, { timeoutMs: 10_000, ...stillClocks() });
  const v = client.acquire();
  const pages = v.commit;
  for (let pgno = 1; pgno <= pages; pgno++) t.ok(client.readPage(v, pgno).length === pageSize || t.fail(`page ${pgno}`));
  t.ok(client.counters.reads < pages / 10, `${pages} pages in ${client.counters.reads} reads`);
  t.equal(client.counters.pagesReceived, pages);
  for (let pgno = 1; pgno <= pages; pgno++) {
    if (!pageOf(chinook, pgno).every((b, i) => client.readPage(v, pgno)[i] === b)) t.fail(`page ${pgno} differs`);
  }
  t.equal(client.counters.pagesReceived, pages, 'every page came once');
});

t.test('pages the connection copies straight into the answer (readPageInto) and pages it returns mix in one answer', async (t) => {
  const server = await startBridgeServer(chinook, 64 * 1024, true);
  t.teardown(() => server.close());
  const client = new BridgeClient(server.channel, { timeoutMs: 10_000, ...stillClocks() });
  const v = client.acquire();
  const pages = v.commit;
  for (let pgno = 1; pgno <= pages; pgno++) {
    if (!pageOf(chinook, pgno).every((b, i) => client.readPage(v, pgno)[i] === b)) t.fail(`page ${pgno} differs`);
  }
  t.equal(client.counters.pagesReceived, pages, 'every page came once');
  t.ok(client.counters.reads < pages / 10, `${pages} pages in ${client.counters.reads} reads`);
  const ack = await server.counters();
  t.ok(ack.readPageIntoCalls >= pages / 2 - client.counters.reads, `${ack.readPageIntoCalls} even pages copied into answers`);
  t.equal(ack.readPageIntoCalls + ack.readPageCalls, pages, 'each page taken from the connection once, one way or the other');
  t.equal(ack.counters.pagesSent, pages, 'the server counts the pages it sent');
});

t.test('errors cross with their code, key and message', async (t) => {
  const server = await startBridgeServer(chinook);
  t.teardown(() => server.close());
  const client = new BridgeClient(server.channel, { timeoutMs: 10_000, ...stillClocks() });
  const v = client.acquire();
  const injected = new LtxvfsError('LTXVFS_ERR_CORRUPT', 'ltx/0/0000000000000001-0000000000000001.ltx: page 7 at offset 1234: bad frame', {
    key: 'ltx/0/0000000000000001-0000000000000001.ltx',
  });
  await server.fail(injected, 7);
  const err = (() => {
    try {
      client.readPage(v, 7);
    } catch (e) {
      return e;
    }
    return undefined;
  })();
  t.ok(isLtxvfsError(err, 'LTXVFS_ERR_CORRUPT'));
  t.match(err, { key: injected.key, message: injected.message });
  t.same(client.readPage(v, 8), pageOf(chinook, 8), 'other pages are served');
  t.same(client.pragma('echo', 'x', false), 'echo:x', 'PRAGMAs are answered by the server');
  t.equal(client.pragma('other', null, false), undefined, 'and left to SQLite when not its own');
  t.equal(client.callFunction('answer', [21], false), 42, 'functions run on the server');
  t.same(client.stats(), { txid: 1 });
});

t.test('a stalled fetch fails when its deadline passes; the late answer is dropped and the bridge goes on', async (t) => {
  const server = await startBridgeServer(chinook);
  t.teardown(() => server.close());
  // The deadline clock stands still until the stalled read; from then on each read of it
  // moves it 1 s on, so the read's first look at the clock finds its 300 ms gone.
  let ms = 0;
  let moving = false;
  const client = new BridgeClient(server.channel, { timeoutMs: 300, label: 'stall-test', now: () => (moving ? (ms += 1000) : ms) });
  const v = client.acquire();
  client.readPage(v, 2);
  await server.stall(true);
  moving = true;
  let err: unknown;
  try {
    client.readPage(v, 9);
  } catch (e) {
    err = e;
  }
  moving = false;
  t.ok(isLtxvfsError(err, 'LTXVFS_ERR_STORAGE'), `LTXVFS_ERR_STORAGE: ${String(err)}`);
  t.match((err as Error).message, /^stall-test: page bridge: read timed out after 300 ms/);
  t.equal(client.counters.blockedMs, 2000, 'blocked from the request to the timeout, on the client\'s clock');
  t.equal(client.cache.size, 0, 'the local cache was dropped');

  const released = await server.stall(false);
  // The released read answers late: it must find nobody waiting.
  await waitFor('the late answer', async () => (await server.counters()).counters.dropped > released.counters.dropped);
  t.equal((await server.counters()).counters.dropped, released.counters.dropped + 1, 'the late answer was dropped, not written');

  const v2 = client.acquire();
  t.equal(client.counters.acquires, 2, 'the next transaction asks for its version again');
  t.same(client.readPage(v2, 9), pageOf(chinook, 9), 'and reads go on');
  t.equal(client.counters.timeouts, 1);
});

t.test('a slow answer is waited for while the deadline clock has time left', async (t) => {
  const server = await startBridgeServer(chinook);
  t.teardown(() => server.close());
  const client = new BridgeClient(server.channel, { timeoutMs: 2000, ...stillClocks() });
  const v = client.acquire();
  const before = await server.delay(150);
  t.same(client.readPage(v, 3), pageOf(chinook, 3));
  t.equal(client.counters.timeouts, 0);
  t.equal((await server.counters()).readPageCalls, before.readPageCalls + 1, 'the answer came from the delayed fetch');
});

t.test('the held version is reused only while the fetch side\'s fresh stamp lies ahead on the wall clock', async (t) => {
  const server = await startBridgeServer(chinook);
  t.teardown(() => server.close());
  const wall = new TestClock(Date.now());
  const client = new BridgeClient(server.channel, { timeoutMs: 10_000, now: () => 0, wallClock: wall.now });
  const v = client.acquire();
  t.equal(client.acquire(), v);
  t.equal(client.counters.fastAcquires, 1, 'fresh: no message');
  // The stamp is the server's Date.now() at the acquire + 1 s; a day later it has passed.
  wall.advance(24 * 3600 * 1000);
  t.equal(client.acquire(), v, 'the same version, asked for');
  t.match(client.counters, { fastAcquires: 1, acquires: 2 });
});

t.test('a closed client refuses further requests', async (t) => {
  const server = await startBridgeServer(chinook);
  t.teardown(() => server.close());
  const client = new BridgeClient(server.channel, { timeoutMs: 2000, ...stillClocks() });
  const v = client.acquire();
  client.close();
  client.close();
  t.throws(() => client.readPage(v, 3), { code: 'LTXVFS_ERR_CLOSED' });
  await waitFor('the server to release the version', async () => (await server.counters()).pinned === 0);
  t.equal((await server.counters()).pinned, 0, 'the server released the version at close');
});

t.test('unreserve returns once the server has ended the reservation, so no other connection\'s reserve can overtake it', async (t) => {
  // A posted unreserve (no answer) let another connection's reserve, on its own port, reach
  // the shared writer first: "another connection of this process is writing" after a COMMIT
  // had returned (a clean-clone CI run, sql.js engine). The shared counters are read with no
  // await in between, so the server must have run the sink's unreserve before the call returned.
  const server = await startBridgeServer(chinook);
  t.teardown(() => server.close());
  const client = new BridgeClient(server.channel, { timeoutMs: 10_000, ...stillClocks() });
  for (let i = 1; i <= 20; i++) {
    client.reserve();
    t.equal(Atomics.load(server.sinkCalls, 0), i, `reserve ${i} ran on the server before it returned`);
    client.unreserve();
    t.equal(Atomics.load(server.sinkCalls, 1), i, `unreserve ${i} ran on the server before it returned`);
  }
  client.close();
  client.unreserve();
  t.equal(Atomics.load(server.sinkCalls, 1), 20, 'after close, unreserve sends nothing (closing the server ends the reservation)');
});
