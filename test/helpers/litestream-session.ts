/**
 * A long-lived write-mode Litestream VFS process (the real `litestream-vfs.so` 0.5.17 in
 * the sqlite3 CLI), driven over its stdin: for tests that need a writer committing while
 * ltxvfs reads, without a process start per transaction.
 *
 * Each {@link LitestreamSession.run} writes its SQL followed by `.print <marker>` and
 * resolves when the marker comes back on stdout, i.e. after SQLite has executed (and
 * committed) the SQL. The VFS uploads dirty pages every `LITESTREAM_SYNC_INTERVAL` and at
 * close; one LTX file may hold several transactions.
 *
 * Caveat (docs/formats.md §5.1, seen here too): in 0.5.17 a long-lived writer whose database
 * GROWS after a sync soon fails with "database disk image is malformed". Inserts that fit
 * in free pages made beforehand (insert padding, delete it, in an earlier process) are
 * reliable; the live test does that.
 */
import { spawn, type ChildProcessWithoutNullStreams } from 'node:child_process';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { LITESTREAM_VFS_SO, SQLITE3_BIN, requireLitestreamVfs, requireSqlite3 } from './paths.js';

/** What the process left behind when it ended. */
export interface SessionEnd {
  code: number | null;
  stderr: string;
  /** Content of LITESTREAM_LOG_FILE. */
  log: string;
}

/** One write-mode Litestream VFS process. */
export class LitestreamSession {
  readonly #child: ChildProcessWithoutNullStreams;
  readonly #logDir: string;
  #out = '';
  #err = '';
  #seq = 0;
  #waiter: { marker: string; resolve: () => void; reject: (err: Error) => void } | undefined;
  readonly #closed: Promise<number | null>;

  private constructor(child: ChildProcessWithoutNullStreams, logDir: string) {
    this.#child = child;
    this.#logDir = logDir;
    child.stdout.setEncoding('utf8');
    child.stderr.setEncoding('utf8');
    child.stdout.on('data', (s: string) => {
      this.#out += s;
      const w = this.#waiter;
      if (w !== undefined && this.#out.includes(w.marker)) {
        this.#waiter = undefined;
        this.#out = '';
        w.resolve();
      }
    });
    child.stderr.on('data', (s: string) => {
      this.#err += s;
    });
    child.stdin.on('error', () => {}); // EPIPE after an exit is reported through `close`
    this.#closed = new Promise((resolve) => {
      child.on('close', (code) => {
        const w = this.#waiter;
        this.#waiter = undefined;
        w?.reject(new Error(`the Litestream VFS process exited (code ${code}) before the SQL finished: ${this.#err.trim() || '(no stderr)'}`));
        resolve(code);
      });
    });
  }

  /**
   * Start `sqlite3` with the VFS loaded in write mode on `replicaUrl` and open the database.
   * @param syncInterval `LITESTREAM_SYNC_INTERVAL` (Go duration).
   */
  static async start(replicaUrl: string, syncInterval: string): Promise<LitestreamSession> {
    requireSqlite3();
    requireLitestreamVfs();
    const logDir = await mkdtemp(join(tmpdir(), 'ltxvfs-litestream-session-'));
    const env: NodeJS.ProcessEnv = {};
    for (const [k, v] of Object.entries(process.env)) if (k !== 'AWS_CA_BUNDLE' && !k.startsWith('LITESTREAM_')) env[k] = v;
    Object.assign(env, {
      LITESTREAM_REPLICA_URL: replicaUrl,
      LITESTREAM_WRITE_ENABLED: 'true',
      LITESTREAM_SYNC_INTERVAL: syncInterval,
      LITESTREAM_LOG_FILE: join(logDir, 'litestream.log'),
      // The VFS makes a `litestream-vfs-*` directory under the temp dir (os.MkdirTemp) and
      // leaves it behind: under this one it goes when the session closes.
      TMPDIR: logDir,
    });
    const child = spawn(SQLITE3_BIN, ['-bail', '-init', '/dev/null'], { env, stdio: ['pipe', 'pipe', 'pipe'] });
    const session = new LitestreamSession(child, logDir);
    await session.run(`.bail on\n.load '${LITESTREAM_VFS_SO}' sqlite3_litestreamvfs_init\n.open 'file:test.db?vfs=litestream'`);
    return session;
  }

  /** Run `sql` (statements and dot-commands) and resolve once SQLite has executed it. */
  run(sql: string): Promise<void> {
    if (this.#waiter !== undefined) return Promise.reject(new Error('LitestreamSession.run: one batch at a time'));
    const marker = `--ltxvfs-done-${++this.#seq}--`;
    return new Promise((resolve, reject) => {
      this.#waiter = { marker, resolve, reject };
      this.#child.stdin.write(`${sql.trimEnd()}\n.print ${marker}\n`);
    });
  }

  /** Close stdin (the VFS syncs what is left at close) and wait for the process to end. */
  async close(): Promise<SessionEnd> {
    this.#child.stdin.end();
    const code = await this.#closed;
    let log = '';
    try {
      log = await readFile(join(this.#logDir, 'litestream.log'), 'utf8');
    } catch {
      // No log file: the VFS logged nothing.
    }
    await rm(this.#logDir, { recursive: true, force: true });
    return { code, stderr: this.#err, log };
  }
}
