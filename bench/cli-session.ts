/**
 * A long-lived `sqlite3` CLI process driven over its stdin, for timing native SQLite and
 * the Litestream VFS without process start-up in the figures.
 *
 * Why not `.timer on`: the 3.40 CLI prints wall time with 1 ms resolution, and a fresh
 * process per sample costs 5–20 ms with as much jitter on this machine, far more than a
 * point lookup. Instead each batch (SQL and dot-commands) is written to the CLI's stdin
 * followed by `.print <marker>`; the CLI flushes its output after every command, so the
 * time from the write until the marker arrives on stdout is the batch's wall time plus
 * one pipe round trip. {@link CliSession.overheadMs} measures that round trip (a batch
 * with nothing but the marker) and {@link CliSession.time} subtracts it.
 */
import { spawn, type ChildProcessWithoutNullStreams } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { median } from './table.js';
import { SQLITE3_BIN } from '../test/helpers/paths.js';

/** Options of {@link CliSession.start}. */
export interface CliSessionOptions {
  /** Complete environment of the child. Default this process's. */
  env?: NodeJS.ProcessEnv;
  /** Arguments after `-bail -init /dev/null`. */
  args?: string[];
}

/** One `sqlite3` process. */
export class CliSession {
  readonly #child: ChildProcessWithoutNullStreams;
  #out = '';
  #err = '';
  #seq = 0;
  #exited: Promise<number | null>;
  #waiter: { marker: string; resolve: (output: string) => void; reject: (err: Error) => void } | undefined;
  /** Median round trip of an empty batch, ms (see the module comment). */
  overheadMs = 0;

  private constructor(child: ChildProcessWithoutNullStreams) {
    this.#child = child;
    child.stdout.setEncoding('utf8');
    child.stderr.setEncoding('utf8');
    child.stdout.on('data', (s: string) => {
      this.#out += s;
      this.#check();
    });
    child.stderr.on('data', (s: string) => {
      this.#err += s;
    });
    child.stdin.on('error', () => {});
    this.#exited = new Promise((resolve) => {
      child.on('close', (code) => {
        const w = this.#waiter;
        this.#waiter = undefined;
        w?.reject(new Error(`sqlite3 exited (code ${code}) before the batch finished: ${this.#err.trim() || '(no stderr)'}`));
        resolve(code);
      });
    });
  }

  /** Start `sqlite3 -bail -init /dev/null [args]`, and measure its pipe round trip. */
  static async start(options: CliSessionOptions = {}): Promise<CliSession> {
    const child = spawn(SQLITE3_BIN, ['-bail', '-init', '/dev/null', ...(options.args ?? [])], {
      env: options.env ?? process.env,
      stdio: ['pipe', 'pipe', 'pipe'],
    });
    const session = new CliSession(child);
    await session.run('.bail on');
    const trips: number[] = [];
    for (let i = 0; i < 30; i++) trips.push((await session.#timed('')).ms);
    session.overheadMs = median(trips.slice(5));
    return session;
  }

  /** The process id. */
  get pid(): number | undefined {
    return this.#child.pid;
  }

  /** Run `script` and return its standard output. */
  async run(script: string): Promise<string> {
    return (await this.#timed(script)).output;
  }

  /** Run `script`; its wall time net of the pipe round trip (never below 0), and its output. */
  async time(script: string): Promise<{ ms: number; output: string }> {
    const r = await this.#timed(script);
    return { ms: Math.max(0, r.ms - this.overheadMs), output: r.output };
  }

  /** Peak resident set of the process so far (Linux `VmHWM`), bytes; undefined elsewhere. */
  peakRssBytes(): number | undefined {
    try {
      const m = /^VmHWM:\s+(\d+) kB$/m.exec(readFileSync(`/proc/${this.#child.pid}/status`, 'utf8'));
      return m ? Number(m[1]) * 1024 : undefined;
    } catch {
      return undefined;
    }
  }

  /** Close stdin and wait for the exit; throws if the process failed. */
  async close(): Promise<void> {
    this.#child.stdin.end();
    const code = await this.#exited;
    if (code !== 0) throw new Error(`sqlite3 exited with ${code}: ${this.#err.trim()}`);
  }

  #timed(script: string): Promise<{ ms: number; output: string }> {
    if (this.#waiter !== undefined) throw new Error('CliSession: one batch at a time');
    const marker = `@@bench-done-${++this.#seq}@@`;
    const body = script.trim() === '' ? '' : `${terminate(script)}`;
    return new Promise((resolve, reject) => {
      let started = 0;
      this.#waiter = {
        marker,
        resolve: (output) => resolve({ ms: performance.now() - started, output }),
        reject,
      };
      started = performance.now();
      this.#child.stdin.write(`${body}.print ${marker}\n`);
    });
  }

  #check(): void {
    const w = this.#waiter;
    if (w === undefined) return;
    const line = `${w.marker}\n`;
    const at = this.#out.indexOf(line);
    if (at < 0 || (at > 0 && this.#out[at - 1] !== '\n')) return;
    const output = this.#out.slice(0, at);
    this.#out = this.#out.slice(at + line.length);
    this.#waiter = undefined;
    w.resolve(output);
  }
}

/** `sql` ending with `;` and a newline (dot-commands end with a newline only). */
function terminate(script: string): string {
  const t = script.trimEnd();
  if (t.endsWith(';') || /(^|\n)\.[^\n]*$/.test(t)) return `${t}\n`;
  return `${t};\n`;
}
