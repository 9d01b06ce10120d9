/**
 * The real Litestream VFS (npm `litestream-vfs-linux-amd64` 0.5.17) loaded into the
 * sqlite3 CLI, on a {@link ReplicaLocation}: one long-lived process (`.load` once),
 * `.open 'file:bench.db?vfs=litestream'` per fresh connection — each open builds a new
 * page index from the replica and starts with an empty 10 MiB page cache (observed in
 * its DEBUG log). It reads one page per storage request.
 *
 * Timings come from a session at the default log level; storage requests are counted in
 * a second session at `LITESTREAM_LOG_LEVEL=DEBUG` (one `data read from storage` line per
 * page read), so the logging does not slow the timed session.
 */
import { mkdirSync } from 'node:fs';
import { mkdir, readFile, rm } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import { join } from 'node:path';
import { LITESTREAM_VFS_SO, requireLitestreamVfs } from '../test/helpers/paths.js';
import { CliSession } from './cli-session.js';
import { measureCliEngine } from './cli-engine.js';
import { RANGE_ROWS, SQL, inline, type EngineResult, type ReplicaLocation, type Workload } from './workload.js';

const OPEN = ".open 'file:bench.db?vfs=litestream'";

/**
 * TMPDIR of every Litestream VFS process the bench starts: the VFS makes a `litestream-vfs-*`
 * directory there (Go's os.MkdirTemp) and never removes it. Under the bench's work directory,
 * removed at the end of a run (bench/run.ts), not left in /tmp.
 */
export const LITESTREAM_TMP_DIR = fileURLToPath(new URL('./.work/litestream-tmp', import.meta.url));

/** The environment of a Litestream VFS process: ours without LITESTREAM_* and AWS_CA_BUNDLE, plus the replica's. */
export function litestreamEnv(location: ReplicaLocation, extra: Record<string, string>): NodeJS.ProcessEnv {
  mkdirSync(LITESTREAM_TMP_DIR, { recursive: true });
  const env: NodeJS.ProcessEnv = { TMPDIR: LITESTREAM_TMP_DIR };
  for (const [k, v] of Object.entries(process.env)) {
    // With AWS_CA_BUNDLE set the extension's S3 client does not start (test/helpers/litestream.ts).
    if (k === 'AWS_CA_BUNDLE' || k === 'TMPDIR' || k.startsWith('LITESTREAM_')) continue;
    env[k] = v;
  }
  return { ...env, LITESTREAM_REPLICA_URL: location.url, ...location.env, ...extra };
}

/** A sqlite3 process with the Litestream VFS loaded, logging to `logFile`. */
export async function startLitestreamSession(location: ReplicaLocation, logFile: string, debug = false): Promise<CliSession> {
  requireLitestreamVfs();
  const session = await CliSession.start({
    env: litestreamEnv(location, { LITESTREAM_LOG_FILE: logFile, ...(debug ? { LITESTREAM_LOG_LEVEL: 'DEBUG' } : {}) }),
  });
  await session.run(`.load '${LITESTREAM_VFS_SO}' sqlite3_litestreamvfs_init`);
  return session;
}

/** Counts the page reads the VFS logs after each step. */
export class LogCounter {
  readonly #file: string;
  #offset = 0;
  constructor(file: string) {
    this.#file = file;
  }
  /** Page reads from storage logged since the last call. */
  async take(): Promise<number> {
    let text: string;
    try {
      text = await readFile(this.#file, 'utf8');
    } catch {
      return 0;
    }
    const fresh = text.slice(this.#offset);
    this.#offset = text.length;
    return fresh.split('\n').filter((l) => l.includes('msg="data read from storage"')).length;
  }
}

/** Run the workload through the Litestream VFS on `location`. */
export async function runLitestream(location: ReplicaLocation, w: Workload, workDir: string, log: (msg: string) => void): Promise<EngineResult> {
  const logDir = join(workDir, 'litestream-logs');
  await rm(logDir, { recursive: true, force: true });
  await mkdir(logDir, { recursive: true });
  const title = `Litestream VFS (${location.name})`;

  log(`${title}: one CLI process, .open per fresh connection …`);
  const session = await startLitestreamSession(location, join(logDir, 'timed.log'));
  let result: EngineResult;
  try {
    result = await measureCliEngine({ title, session, openCommand: OPEN }, w, log);
  } finally {
    await session.close();
  }

  log(`${title}: counting storage reads (DEBUG log, separate process) …`);
  const debugLog = join(logDir, 'debug.log');
  const counted = await startLitestreamSession(location, debugLog, true);
  const counter = new LogCounter(debugLog);
  try {
    const openSql = `${OPEN}\n${SQL.schema};`;
    const step = async (sql: string): Promise<number> => {
      await counted.run(openSql);
      await counter.take();
      await counted.run(sql);
      return counter.take();
    };
    await counted.run(openSql);
    result.open.requests = await counter.take();
    result.open.pages = result.open.requests;
    const point = await step(inline(SQL.point, [w.coldIds[0]]));
    result.coldPoint = { ...result.coldPoint, requests: point, pages: point };
    const index = await step(inline(SQL.byIndex, [w.coldKs[0]]));
    result.coldIndex = { ...result.coldIndex, requests: index, pages: index };
    const range = await step(inline(SQL.range, [w.rangeStarts[0], w.rangeStarts[0] + RANGE_ROWS - 1]));
    result.coldRange = { ...result.coldRange, requests: range, pages: range };
    const scan = await step(`${SQL.scan};`);
    result.coldScan = { ...result.coldScan, requests: scan, pages: scan };
  } finally {
    await counted.close();
  }
  result.notes.push('storage reads counted from the VFS DEBUG log (page reads at open; the page-index reads of the LTX files are not logged)');
  return result;
}
