/**
 * A polling reader in a process of its own, for the shared-listing test
 * (test/lib/shared-listing-processes.test.ts): `node --import tsx test/helpers/poll-child.ts
 * '<json>'` with a {@link PollChildCommand}. It opens the replica with `openDatabase`, prints
 * a `ready` line, waits for a line on stdin, prints a `go` line with its stats, lets its
 * timer poll until it has polled `polls` more times and reached TXID `txid`, prints a `done`
 * line with its stats, and closes. No queries: only
 * the poller's timer runs.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { openDatabase } from '../../lib/api/open.js';

/** What the child does. */
export interface PollChildCommand {
  url: string;
  /** Environment for the replica client (S3 credentials). */
  env?: Record<string, string>;
  /** The shared cache directory; none: every poll lists storage. */
  cacheDir?: string;
  /** Poll interval, ms (the idle ceiling too: the timer never backs off). */
  intervalMs: number;
  /** Polls to make after `ready`. */
  polls: number;
  /** TXID to reach before `done`. */
  txid: number;
}

const SCRIPT = fileURLToPath(import.meta.url);
const REPO = fileURLToPath(new URL('../../', import.meta.url));

async function main(command: PollChildCommand): Promise<void> {
  const db = await openDatabase(command.url, {
    env: command.env, cacheDir: command.cacheDir, pollIntervalMs: command.intervalMs, idlePollMaxMs: command.intervalMs, shared: false,
  });
  try {
    process.stdout.write(`${JSON.stringify({ event: 'ready', stats: db.stats() })}\n`);
    // The parent starts its request count, then says go: the polls counted from here.
    await new Promise((resolve) => process.stdin.once('data', resolve));
    process.stdin.destroy();
    const ready = db.stats();
    process.stdout.write(`${JSON.stringify({ event: 'go', stats: ready })}\n`);
    for (;;) {
      const now = db.stats();
      if (now.polls - ready.polls >= command.polls && now.txid >= command.txid) break;
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
    process.stdout.write(`${JSON.stringify({ event: 'done', stats: db.stats() })}\n`);
  } finally {
    await db.close();
  }
}

/** Start the child (stdin: write a line to start it; stdout: JSON lines; stderr piped). */
export function spawnPollChild(command: PollChildCommand): ChildProcess {
  return spawn(process.execPath, ['--import', 'tsx', SCRIPT, JSON.stringify(command)], { cwd: REPO, stdio: ['pipe', 'pipe', 'pipe'] });
}

if (process.argv[1] === SCRIPT) {
  main(JSON.parse(process.argv[2]) as PollChildCommand).catch((err: unknown) => {
    process.stderr.write(`${err instanceof Error ? err.stack : String(err)}\n`);
    process.exit(1);
  });
}
