/**
 * Shared listings across real processes (issue 15 item 6): three child processes (tsx,
 * test/helpers/poll-child.ts) poll one replica in s3rver, behind the fault proxy that counts
 * every LIST request, with one `cacheDir`: between them they make one process's LISTs, and
 * every one of them sees a TXID written while they poll. The same three without `cacheDir`
 * make three processes' worth.
 *
 * Each child polls on an injected clock and timer that this test moves (a `tick` line), so
 * which poll finds another process's listing young enough is decided here, not by how fast
 * the processes run: on real time, a loaded machine made some polls find the shared listing
 * just older than the interval and the counts depended on the machine's speed. The round in
 * which the three poll at once is the one place real time remains (a process waits at most
 * MAX_LOCK_WAIT_MS for the lock holder's listing): there every listing beyond the first must
 * be a counted 'lock' refusal.
 */
import { join } from 'node:path';
import t, { type Test } from 'tap';
import { openReplicaClient } from '../../lib/storage/url.js';
import { startFaultProxy } from '../helpers/fault-proxy.js';
import { onLines } from '../helpers/ltxvfs-child.js';
import { spawnPollChild, type PollChildCommand } from '../helpers/poll-child.js';
import { encodeLtx, historyFromStates, sqlJsHistory, timestampOf, type LtxSpec } from '../helpers/replica-builder.js';
import { startS3rver } from '../helpers/s3rver.js';
import type { ReplicaClient } from '../../lib/storage/types.js';
import type { SharedListingRefusal } from '../../lib/read/shared-listing.js';

const INTERVAL_MS = 1000;
/** Rounds in which the children poll one after another (in a rotating order). */
const ROUNDS = 12;
/** The clock's time at the open (the children share it). */
const START = Date.parse('2026-11-21T12:00:00Z');

interface Stats { polls: number; txid: number; listingsTaken: number; sharedListings: number; sharedListingRefusals: Record<SharedListingRefusal, number> }

async function write(client: ReplicaClient, spec: LtxSpec): Promise<void> {
  await client.write(client.ltxKey(0, spec.minTXID, spec.maxTXID), encodeLtx(spec), { timestamp: timestampOf(spec) });
}

/** A poll child: its `ready` stats, and `tick(ms)` answered by its stats after the polls due. */
function pollChild(t: Test, command: PollChildCommand) {
  const child = spawnPollChild(command);
  t.teardown(() => { child.kill('SIGKILL'); });
  const waiting: Array<{ resolve: (s: Stats) => void; reject: (e: Error) => void }> = [];
  const next = () => new Promise<Stats>((resolve, reject) => waiting.push({ resolve, reject }));
  const ready = next();
  onLines(child, (line) => waiting.shift()?.resolve(line.stats as Stats));
  let stderr = '';
  child.stderr!.setEncoding('utf8');
  child.stderr!.on('data', (d: string) => (stderr += d));
  const exit = new Promise<void>((resolve, reject) => child.on('close', (code) => {
    const err = new Error(`poll child exited ${code}: ${stderr}`);
    for (const w of waiting.splice(0)) w.reject(err);
    if (code === 0) resolve();
    else reject(err);
  }));
  exit.catch(() => undefined);
  return {
    ready,
    tick(ms: number): Promise<Stats> {
      const answer = next();
      child.stdin!.write(`tick ${ms}\n`);
      return answer;
    },
    close(): Promise<void> {
      child.stdin!.end('close\n');
      return exit;
    },
  };
}

const sum = (xs: number[]): number => xs.reduce((a, b) => a + b, 0);
const refusals = (s: Stats): number => sum(Object.values(s.sharedListingRefusals));

t.test('three processes sharing a cacheDir make one process\'s LIST requests, and all see a new TXID', async (t) => {
  const specs = historyFromStates(await sqlJsHistory(['CREATE TABLE t (id INTEGER PRIMARY KEY, v TEXT)', "INSERT INTO t (v) VALUES ('a')", "INSERT INTO t (v) VALUES ('b')", "INSERT INTO t (v) VALUES ('c')"]));
  const s3 = await startS3rver();
  const proxy = await startFaultProxy(s3.endpoint);
  const writer = await openReplicaClient(s3.url('db'), { env: s3.env });
  t.teardown(async () => {
    await writer.close();
    await proxy.close();
    await s3.close();
  });
  for (const spec of specs.slice(0, 2)) await write(writer, spec);
  // The readers go through the proxy, which counts their requests; the writer does not.
  const url = s3.url('db').replace(s3.endpoint, proxy.endpoint);
  const env = { ...s3.env };
  const cacheDir = join(t.testdir(), 'cache');

  const children = Array.from({ length: 3 }, () => pollChild(t, { url, env, cacheDir, intervalMs: INTERVAL_MS, clockStart: START }));
  const base = await Promise.all(children.map((c) => c.ready));
  proxy.reset();
  let last = [...base];
  for (let s = 1; s <= ROUNDS; s++) {
    if (s === ROUNDS / 2) await write(writer, specs[2]);
    // One after another, the first a different child each round: it finds the shared listing
    // an interval old and lists; the two after it use that listing.
    for (let k = 0; k < 3; k++) {
      const i = (s + k) % 3;
      last[i] = await children[i].tick(START + s * INTERVAL_MS);
    }
    if (s === ROUNDS / 2) t.same(last.map((st) => st.txid), [3, 3, 3], 'every process saw the TXID written before its next poll');
    last = [...last];
  }
  const delta = (key: 'polls' | 'listingsTaken' | 'sharedListings') => last.map((st, i) => st[key] - base[i][key]);
  t.same(delta('polls'), [ROUNDS, ROUNDS, ROUNDS], 'each process polled once a round');
  t.same(delta('listingsTaken'), [ROUNDS / 3, ROUNDS / 3, ROUNDS / 3], 'the first to poll in a round listed storage');
  t.same(delta('sharedListings'), [2 * ROUNDS / 3, 2 * ROUNDS / 3, 2 * ROUNDS / 3], 'the other two used its listing');
  t.same(last.map((st, i) => refusals(st) - refusals(base[i])), [0, 0, 0], 'nothing refused');
  t.equal(proxy.stats().gets.list, 2 * ROUNDS, `one listing of two levels a round between the three (apart: ${2 * 3 * ROUNDS})`);

  // All three at once: one takes the lock and lists, the others wait for its listing (at most
  // MAX_LOCK_WAIT_MS of real time: a holder slower than that makes a counted 'lock' refusal).
  proxy.reset();
  await write(writer, specs[3]);
  const together = await Promise.all(children.map((c) => c.tick(START + (ROUNDS + 1) * INTERVAL_MS)));
  const taken = sum(together.map((st, i) => st.listingsTaken - last[i].listingsTaken));
  const shared = sum(together.map((st, i) => st.sharedListings - last[i].sharedListings));
  const lockRefused = sum(together.map((st, i) => st.sharedListingRefusals.lock - last[i].sharedListingRefusals.lock));
  t.same(together.map((st) => st.txid), [4, 4, 4], 'polling at once, every process saw the new TXID');
  t.same([taken, shared], [1 + lockRefused, 2 - lockRefused], `polling at once: one listed, the others used its listing (${lockRefused} waited longer than the lock wait)`);
  t.same(together.map((st, i) => refusals(st) - refusals(last[i])).reduce((a, b) => a + b, 0), lockRefused, 'no other refusal');
  t.equal(proxy.stats().gets.list, 2 * taken, 'two LIST requests for each listing taken');
  await Promise.all(children.map((c) => c.close()));

  // The control: the same without cacheDir, every poll lists storage.
  const apart = Array.from({ length: 3 }, () => pollChild(t, { url, env, intervalMs: INTERVAL_MS, clockStart: START }));
  const apartBase = await Promise.all(apart.map((c) => c.ready));
  proxy.reset();
  let apartLast = [...apartBase];
  for (let s = 1; s <= ROUNDS; s++) {
    for (let i = 0; i < 3; i++) apartLast[i] = await apart[i].tick(START + s * INTERVAL_MS);
    apartLast = [...apartLast];
  }
  t.same(apartLast.map((st, i) => [st.polls - apartBase[i].polls, st.listingsTaken - apartBase[i].listingsTaken, st.sharedListings - apartBase[i].sharedListings]),
    [[ROUNDS, ROUNDS, 0], [ROUNDS, ROUNDS, 0], [ROUNDS, ROUNDS, 0]], 'without cacheDir every poll listed storage');
  t.equal(proxy.stats().gets.list, 2 * 3 * ROUNDS, 'not shared: three processes\' LIST requests');
  await Promise.all(apart.map((c) => c.close()));
});
