/** Runs the `ltxvfs` CLI in-process with captured output, for the CLI tests. */
import { PassThrough } from 'node:stream';
import { runCli } from '../../lib/cli/run.js';

/** What one CLI run printed and returned. */
export interface CliRun {
  code: number;
  stdout: string;
  stderr: string;
}

/** Run `ltxvfs <args>` with environment `env` (nothing else of `process.env`). */
export async function cli(args: string[], env: NodeJS.ProcessEnv = {}): Promise<CliRun> {
  const stdout = new PassThrough();
  const stderr = new PassThrough();
  let out = '';
  let err = '';
  stdout.on('data', (d: Buffer) => { out += d.toString(); });
  stderr.on('data', (d: Buffer) => { err += d.toString(); });
  const code = await runCli(args, { stdout, stderr, env });
  return { code, stdout: out, stderr: err };
}
