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
 * Start three children on `command`; once all are ready, reset the proxy's counters, let
 * them go and write `next` through `writer`; wait for all to finish.
 * @returns LIST requests the proxy saw from then on, and each child's polls and listings
 *   from its `go` to its `done`, and its TXID at the end.
 */
async function threeReaders(t: Test, proxy: FaultProxy, writer: ReplicaClient, next: LtxSpec, command: PollChildCommand) {
  const children = Array.from({ length: 3 }, () => {
    const child = spawnPollChild(command);
    t.teardown(() => { child.kill('SIGKILL'); });
    const lines = new Map<string, (stats: Stats) => void>();
    const line = (event: string) => new Promise<Stats>((resolve) => lines.set(event, resolve));
    const events = { ready: line('ready'), go: line('go'), done: line('done') };
    onLines(child, (l) => lines.get(l.event as string)?.(l.stats as Stats));
    let stderr = '';
    child.stderr!.setEncoding('utf8');
    child.stderr!.on('data', (d: string) => (stderr += d));
    const exit = new Promise<void>((resolve, reject) => child.on('close', (code) => (code === 0 ? resolve() : reject(new Error(`poll child exited ${code}: ${stderr}`)))));
    return { child, events, exit };
  });
  const exits = Promise.all(children.map((c) => c.exit));
  await Promise.race([Promise.all(children.map((c) => c.events.ready)), exits]);
  proxy.reset();
  for (const c of children) c.child.stdin!.end('go\n');
  await write(writer, next);
  await exits;
  const runs = await Promise.all(children.map(async (c) => {
    const [go, done] = await Promise.all([c.events.go, c.events.done]);
    return { polls: done.polls - go.polls, taken: done.listingsTaken - go.listingsTaken, shared: done.sharedListings - go.sharedListings, txid: done.txid };
  }));
  return { lists: proxy.stats().gets.list, runs };
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
  t.same(shared.runs.map((r) => r.txid), [3, 3, 3], 'every process reached the TXID written while they polled');
  const polls = shared.runs.map((r) => r.polls);
  const most = Math.max(...polls);
  const sum = (xs: number[]): number => xs.reduce((a, b) => a + b, 0);
  // At most twice one process's LISTs (three apart make three times): on real time a loaded
  // machine makes some polls find the shared listing just older than the interval.
  t.ok(shared.lists <= 2 * most * 2,
    `shared: ${shared.lists} LIST requests while the processes polled ${polls.join(', ')} times (one process alone: ${2 * most}; each listing itself: ${2 * sum(polls)})`);
  t.ok(sum(shared.runs.map((r) => r.shared)) >= most, `${sum(shared.runs.map((r) => r.shared))} polls used another process's listing, ${sum(shared.runs.map((r) => r.taken))} listed storage`);

  // The control: the same without cacheDir.
  const apart = await threeReaders(t, proxy, writer, specs[3], { url, env, intervalMs: INTERVAL_MS, polls: POLLS, txid: 4 });
  const apartPolls = apart.runs.map((r) => r.polls);
  // A poll is counted when it starts, its listing when it returns: one may be in flight at either end.
  t.ok(apart.runs.every((r) => r.shared === 0 && Math.abs(r.taken - r.polls) <= 1), `without cacheDir every poll listed storage: ${apart.runs.map((r) => `${r.taken} of ${r.polls}`).join(', ')}`);
  t.ok(apart.lists >= 2 * (sum(apartPolls) - 3), `not shared: ${apart.lists} LIST requests for ${apartPolls.join(', ')} polls (one per process may fall before the count starts)`);
  t.comment(`3 processes, ${INTERVAL_MS} ms interval: shared ${shared.lists} LISTs for ${polls.join('+')} polls, not shared ${apart.lists} for ${apartPolls.join('+')}`);
});
