/**
 * A polling reader in a process of its own, for the shared-listing test
 * (test/lib/shared-listing-processes.test.ts): `node --import tsx test/helpers/poll-child.ts
 * '<json>'` with a {@link PollChildCommand}. It opens the replica with `openDatabase` on an
 * injected clock and timer (test/helpers/clock-timers.ts) starting at `clockStart`, prints a
 * `ready` line with its stats, then obeys one stdin line at a time:
 *
 * - `tick <ms>`: run the timer polls due up to clock ms `<ms>` (waiting for each), then print
 *   a `ticked` line with its stats;
 * - `close`: close the database and exit.
 *
 * The parent moves every child's clock, so which poll finds another process's listing is
 * decided by the clocks it sets, not by how fast the processes run. No queries: only the
 * poller's timer polls.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { openDatabase } from '../../lib/api/open.js';
import { ClockTimers } from './clock-timers.js';
import { TestClock } from './polling.js';

/** What the child does. */
export interface PollChildCommand {
  url: string;
  /** Environment for the replica client (S3 credentials). */
  env?: Record<string, string>;
  /** The shared cache directory; none: every poll lists storage. */
  cacheDir?: string;
  /** Poll interval, clock ms (the idle ceiling too: the timer never backs off). */
  intervalMs: number;
  /** The clock's time at the open, ms. */
  clockStart: number;
}

const SCRIPT = fileURLToPath(import.meta.url);
const REPO = fileURLToPath(new URL('../../', import.meta.url));

async function main(command: PollChildCommand): Promise<void> {
  const clock = new TestClock(command.clockStart);
  const timers = new ClockTimers(clock);
  const db = await openDatabase(command.url, {
    env: command.env, cacheDir: command.cacheDir, pollIntervalMs: command.intervalMs, idlePollMaxMs: command.intervalMs,
    now: clock.now, schedule: timers.schedule, shared: false,
  });
  try {
    const say = (event: string, extra: Record<string, unknown> = {}): void => {
      process.stdout.write(`${JSON.stringify({ event, ...extra, stats: db.stats() })}\n`);
    };
    say('ready');
    for await (const line of createInterface({ input: process.stdin })) {
      const [verb, arg] = line.trim().split(' ');
      if (verb === 'close') break;
      if (verb !== 'tick' || !Number.isSafeInteger(Number(arg))) throw new Error(`poll child: bad command line '${line}'`);
      await timers.runUntil(Number(arg));
      say('ticked', { at: clock.ms });
    }
  } finally {
    await db.close();
  }
}

/** Start the child (stdin: command lines; stdout: JSON lines; stderr piped). */
export function spawnPollChild(command: PollChildCommand): ChildProcess {
  return spawn(process.execPath, ['--import', 'tsx', SCRIPT, JSON.stringify(command)], { cwd: REPO, stdio: ['pipe', 'pipe', 'pipe'] });
}

if (process.argv[1] === SCRIPT) {
  main(JSON.parse(process.argv[2]) as PollChildCommand).catch((err: unknown) => {
    process.stderr.write(`${err instanceof Error ? err.stack : String(err)}\n`);
    process.exit(1);
  });
}
