/** Runs the `ltxvfs` CLI in-process with captured output, for the CLI tests. */
import { PassThrough, Readable } from 'node:stream';
import { runCli } from '../../lib/cli/run.js';

/** What one CLI run printed and returned. */
export interface CliRun {
  code: number;
  stdout: string;
  stderr: string;
}

/** Run `ltxvfs <args>` with environment `env` (nothing else of `process.env`) and, if given, `stdin` as its standard input. */
export async function cli(args: string[], env: NodeJS.ProcessEnv = {}, stdin?: string): Promise<CliRun> {
  const stdout = new PassThrough();
  const stderr = new PassThrough();
  let out = '';
  let err = '';
  stdout.on('data', (d: Buffer) => { out += d.toString(); });
  stderr.on('data', (d: Buffer) => { err += d.toString(); });
  const code = await runCli(args, { stdout, stderr, env, stdin: stdin === undefined ? undefined : Readable.from([stdin]) });
  return { code, stdout: out, stderr: err };
}
