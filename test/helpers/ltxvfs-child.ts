/**
 * A separate ltxvfs process for tests that need one (a restart, two processes sharing a
 * cache directory, a hydration killed halfway). Run with {@link runChild} / {@link spawnChild}:
 * `node --import tsx test/helpers/ltxvfs-child.ts '<json>'`, where the JSON is a
 * {@link ChildCommand}. It prints one JSON object per line on stdout: `checkpoint` lines
 * while a hydration runs, then one `done` line with the results and the reader's stats.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { openDatabase, type OpenOptions } from '../../lib/api/open.js';
import { ReplicaReader, type ReplicaReaderOptions } from '../../lib/read/replica-reader.js';
import { openReplicaClient } from '../../lib/storage/url.js';

/** What the child does. */
export interface ChildCommand {
  /** `query`: openDatabase and run `queries`; `hydrate`: a ReplicaReader hydrating `options.hydrate` until ready. */
  mode: 'query' | 'hydrate';
  url: string;
  /** Environment for the replica client (S3 credentials). */
  env?: Record<string, string>;
  /** Options of openDatabase / ReplicaReader.open (JSON values only). */
  options?: OpenOptions & ReplicaReaderOptions;
  /** SQL to run, in order, `rounds` times (query mode); with `params`, each query runs once per parameter list. */
  queries?: string[];
  params?: (string | number)[][];
  rounds?: number;
}

/** The `done` line. */
export interface ChildResult {
  event: 'done';
  /** Rows of each query of each round, in order. */
  results: Record<string, unknown>[][];
  /** The reader's stats at the end (bigints as strings). */
  stats: Record<string, unknown>;
}

const SCRIPT = fileURLToPath(import.meta.url);
const REPO = fileURLToPath(new URL('../../', import.meta.url));

function print(obj: unknown): void {
  process.stdout.write(`${JSON.stringify(obj, (_k, v: unknown) => (typeof v === 'bigint' ? v.toString() : v))}\n`);
}

async function main(command: ChildCommand): Promise<void> {
  if (command.mode === 'hydrate') {
    const client = await openReplicaClient(command.url, { env: command.env });
    const reader = await ReplicaReader.open(client, { pollIntervalMs: 0, ...command.options });
    const h = reader.hydration!;
    h.on('checkpoint', (s) => print({ event: 'checkpoint', ...s }));
    await h.whenReady();
    await h.settled();
    print({ event: 'done', results: [], stats: reader.stats() });
    await reader.close();
    return;
  }
  const db = await openDatabase(command.url, { env: command.env, pollIntervalMs: 0, shared: false, ...command.options });
  const results: Record<string, unknown>[][] = [];
  try {
    for (let round = 0; round < (command.rounds ?? 1); round++) {
      for (const sql of command.queries ?? []) {
        for (const params of command.params ?? [[]]) results.push(await db.all(sql, params));
      }
    }
    print({ event: 'done', results, stats: db.stats() });
  } finally {
    await db.close();
  }
}

/** Start the child process (stdout: JSON lines; stderr inherited). */
export function spawnChild(command: ChildCommand): ChildProcess {
  return spawn(process.execPath, ['--import', 'tsx', SCRIPT, JSON.stringify(command)], { cwd: REPO, stdio: ['ignore', 'pipe', 'pipe'] });
}

/** Parse the child's stdout lines as they arrive. */
export function onLines(child: ChildProcess, fn: (line: Record<string, unknown>) => void): void {
  let buf = '';
  child.stdout!.setEncoding('utf8');
  child.stdout!.on('data', (d: string) => {
    buf += d;
    for (let nl = buf.indexOf('\n'); nl >= 0; nl = buf.indexOf('\n')) {
      const line = buf.slice(0, nl);
      buf = buf.slice(nl + 1);
      if (line.trim() !== '') fn(JSON.parse(line) as Record<string, unknown>);
    }
  });
}

/**
 * Run the child to completion.
 * @returns its `done` line.
 * @throws Error with its stderr when it exits non-zero or prints no `done` line.
 */
export function runChild(command: ChildCommand, timeoutMs = 120_000): Promise<ChildResult> {
  const child = spawnChild(command);
  let stderr = '';
  child.stderr!.setEncoding('utf8');
  child.stderr!.on('data', (d: string) => (stderr += d));
  let done: ChildResult | undefined;
  onLines(child, (line) => {
    if (line.event === 'done') done = line as unknown as ChildResult;
  });
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
    child.on('error', reject);
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      if (code === 0 && done !== undefined) resolve(done);
      else reject(new Error(`ltxvfs child exited (${code ?? signal}): ${stderr.trim() || '(no stderr)'}`));
    });
  });
}

if (process.argv[1] === SCRIPT) {
  main(JSON.parse(process.argv[2]) as ChildCommand).catch((err: unknown) => {
    process.stderr.write(`${err instanceof Error ? err.stack : String(err)}\n`);
    process.exit(1);
  });
}
