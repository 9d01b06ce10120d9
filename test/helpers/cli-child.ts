/**
 * The `ltxvfs` CLI in a process of its own, for tests of several writers at once and of
 * writers killed mid-commit: `node --import tsx test/helpers/cli-child.ts '<json>'` with a
 * {@link CliChildCommand}. It runs each argument list through `runCli` in turn and prints
 * one JSON line per run on stdout: `{"event":"run","index":…,"code":…,"stdout":…,"stderr":…}`.
 *
 * With `pauseAtTempFile`, the first time the directory client has written and fsynced an
 * LTX file's temporary copy (`<key>.tmp-<hex>`, lib/storage/file/client.ts) and sets its mtime,
 * the child prints `{"event":"paused","path":…}` and waits forever instead: a test hook
 * that makes a `kill -9` land while the temporary file exists, every time.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { promises as fsp } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { cli } from './cli.js';
import { onLines } from './ltxvfs-child.js';

export { onLines };

/** What the child runs. */
export interface CliChildCommand {
  /** Argument lists for `ltxvfs`, run one after the other. */
  runs: string[][];
  /** Stop for good once an LTX temporary file is complete (module doc). */
  pauseAtTempFile?: boolean;
}

/** One `run` line. */
export interface CliChildRun {
  event: 'run';
  index: number;
  code: number;
  stdout: string;
  stderr: string;
}

const SCRIPT = fileURLToPath(import.meta.url);
const REPO = fileURLToPath(new URL('../../', import.meta.url));

/** Start the child (stdout: JSON lines). */
export function spawnCliChild(command: CliChildCommand): ChildProcess {
  return spawn(process.execPath, ['--import', 'tsx', SCRIPT, JSON.stringify(command)], { cwd: REPO, stdio: ['ignore', 'pipe', 'pipe'] });
}

/**
 * Run the child to its end.
 * @returns its `run` lines.
 * @throws Error with its stderr when it exits non-zero.
 */
export function runCliChild(command: CliChildCommand): Promise<CliChildRun[]> {
  const child = spawnCliChild(command);
  let stderr = '';
  child.stderr!.setEncoding('utf8');
  child.stderr!.on('data', (d: string) => (stderr += d));
  const runs: CliChildRun[] = [];
  onLines(child, (line) => runs.push(line as unknown as CliChildRun));
  return new Promise((resolve, reject) => {
    child.on('error', reject);
    child.on('close', (code, signal) => {
      if (code === 0) resolve(runs);
      else reject(new Error(`cli child exited (${code ?? signal}): ${stderr.trim() || '(no stderr)'}`));
    });
  });
}

function print(obj: unknown): void {
  process.stdout.write(`${JSON.stringify(obj)}\n`);
}

async function main(command: CliChildCommand): Promise<void> {
  if (command.pauseAtTempFile === true) {
    const utimes = fsp.utimes.bind(fsp);
    (fsp as { utimes: typeof fsp.utimes }).utimes = async (path, atime, mtime) => {
      if (String(path).includes('.ltx.tmp-')) {
        print({ event: 'paused', path: String(path) });
        await new Promise<never>(() => setInterval(() => undefined, 60_000));
      }
      return utimes(path, atime, mtime);
    };
  }
  for (let index = 0; index < command.runs.length; index++) {
    print({ event: 'run', index, ...(await cli(command.runs[index])) } satisfies CliChildRun);
  }
}

if (process.argv[1] === SCRIPT) {
  main(JSON.parse(process.argv[2]) as CliChildCommand).catch((err: unknown) => {
    process.stderr.write(`${err instanceof Error ? err.stack : String(err)}\n`);
    process.exit(1);
  });
}
