/**
 * Native SQLite on the local database file: the Debian sqlite3 CLI (3.40.1, default
 * page cache of 2 MiB, no mmap), one long-lived process, `.open -readonly` per fresh
 * connection. The OS file cache is warm (the file was just generated or read), so
 * "cold" means SQLite's own cache is empty, not that the disk is read.
 */
import { CliSession } from './cli-session.js';
import { measureCliEngine } from './cli-engine.js';
import type { EngineResult, Workload } from './workload.js';

/** Run the workload on `dbPath` with the native sqlite3 CLI. */
export async function runNative(dbPath: string, w: Workload, log: (msg: string) => void): Promise<EngineResult> {
  if (/['\n]/.test(dbPath)) throw new Error(`cannot pass ${dbPath} to .open`);
  log('native sqlite3: one CLI process, .open per fresh connection …');
  const session = await CliSession.start();
  try {
    return await measureCliEngine({ title: 'native SQLite (local file)', session, openCommand: `.open -readonly '${dbPath}'` }, w, log);
  } finally {
    await session.close();
  }
}
