/**
 * Shared listings across real processes (issue 15 item 6): three child processes (tsx,
 * test/helpers/poll-child.ts) poll one replica in s3rver, behind the fault proxy that counts
 * every LIST request, with one `cacheDir`: together they make about one process's LISTs,
 * and every one of them sees a TXID written while they poll. The same three without
 * `cacheDir` make three processes' worth. Real time on a short interval: the assertions are
 * on counts of requests and polls, never on durations.
 */
import { join } from 'node:path';
import t, { type Test } from 'tap';
import { openReplicaClient } from '../../lib/storage/url.js';
import { startFaultProxy, type FaultProxy } from '../helpers/fault-proxy.js';
import { onLines } from '../helpers/ltxvfs-child.js';
import { spawnPollChild, type PollChildCommand } from '../helpers/poll-child.js';
import { encodeLtx, historyFromStates, sqlJsHistory, timestampOf, type LtxSpec } from '../helpers/replica-builder.js';
import { startS3rver } from '../helpers/s3rver.js';
import type { ReplicaClient } from '../../lib/storage/types.js';

const INTERVAL_MS = 200;
const POLLS = 25;

interface Stats { polls: number; txid: number; listingsTaken: number; sharedListings: number }

async function write(client: ReplicaClient, spec: LtxSpec): Promise<void> {
  await client.write(client.ltxKey(0, spec.minTXID, spec.maxTXID), encodeLtx(spec), { timestamp: timestampOf(spec) });
}

/**
 * Start three children on `command`; once all are ready, reset the proxy's counters and
 * write `next` through `writer`; wait for all to finish.
 * @returns LIST requests the proxy saw from then on, and each child's ready and done stats.
 */
async function threeReaders(t: Test, proxy: FaultProxy, writer: ReplicaClient, next: LtxSpec, command: PollChildCommand) {
  const children = Array.from({ length: 3 }, () => spawnPollChild(command));
  const ready: Stats[] = [];
  const done: Stats[] = [];
  let allReady!: () => void;
  const whenReady = new Promise<void>((resolve) => (allReady = resolve));
  const exits = children.map((child) => {
    t.teardown(() => { child.kill('SIGKILL'); });
    let stderr = '';
    child.stderr!.setEncoding('utf8');
    child.stderr!.on('data', (d: string) => (stderr += d));
    onLines(child, (line) => {
      const stats = line.stats as Stats;
      if (line.event === 'ready' && ready.push(stats) === children.length) allReady();
      if (line.event === 'done') done.push(stats);
    });
    return new Promise<void>((resolve, reject) => child.on('close', (code) => (code === 0 ? resolve() : reject(new Error(`poll child exited ${code}: ${stderr}`)))));
  });
  await Promise.race([whenReady, Promise.all(exits)]);
  proxy.reset();
  await write(writer, next);
  await Promise.all(exits);
  return { lists: proxy.stats().gets.list, ready, done };
}

t.test('three processes sharing a cacheDir make about one process\'s LIST requests, and all see a new TXID', async (t) => {
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

  const shared = await threeReaders(t, proxy, writer, specs[2], { url, env, cacheDir, intervalMs: INTERVAL_MS, polls: POLLS, txid: 3 });
  t.same(shared.done.map((s) => s.txid), [3, 3, 3], 'every process reached the TXID written while they polled');
  const polls = shared.done.map((s, i) => s.polls - shared.ready[i].polls);
  const most = Math.max(...polls);
  const taken = shared.done.reduce((n, s) => n + s.listingsTaken, 0);
  const used = shared.done.reduce((n, s) => n + s.sharedListings, 0);
  t.ok(shared.lists <= 2 * most * 1.5, `shared: ${shared.lists} LIST requests while each process polled ${polls.join(', ')} times (one process alone: ${2 * most}; unshared about ${2 * polls.reduce((a, b) => a + b, 0)})`);
  t.ok(used >= most, `${used} polls used another process's listing, ${taken} listed storage`);

  // The control: the same without cacheDir.
  const apart = await threeReaders(t, proxy, writer, specs[3], { url, env, intervalMs: INTERVAL_MS, polls: POLLS, txid: 4 });
  const apartPolls = apart.done.map((s, i) => s.polls - apart.ready[i].polls);
  t.ok(apart.lists >= 2 * apartPolls.reduce((a, b) => a + b, 0) * 0.9, `not shared: ${apart.lists} LIST requests for ${apartPolls.join(', ')} polls`);
  t.same(apart.done.map((s) => s.sharedListings), [0, 0, 0], 'without cacheDir nothing is shared');
  t.comment(`3 processes, ${INTERVAL_MS} ms interval: shared ${shared.lists} LISTs for ${polls.join('+')} polls, not shared ${apart.lists} for ${apartPolls.join('+')}`);
});
