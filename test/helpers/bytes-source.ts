/**
 * A real {@link PageSource} over the bytes of a plain SQLite database file, for VFS and
 * engine conformance tests: what SQLite reads through ltxvfs must equal what sql.js or
 * the sqlite3 CLI read from the same bytes.
 *
 * Test hooks: swap in a new version ({@link BytesSource.setBytes}) to exercise version
 * pinning, count `readPage` calls, return Promises instead of bytes to simulate cache
 * misses, and inject an error. It also checks the VFS's side of the contract: a page is
 * only read from a version that is pinned, within `1…commit`, and every `acquire` is
 * released.
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { PageSource, PageVersion } from '../../lib/read/page-source.js';

/** The Chinook sample database (MIT), 1 MB, page size 4096. */
export const CHINOOK_PATH = fileURLToPath(new URL('../../fixtures/chinook/Chinook_Sqlite.sqlite', import.meta.url));

/** The bytes of the Chinook sample database. */
export function chinookBytes(): Uint8Array {
  return new Uint8Array(readFileSync(CHINOOK_PATH));
}

/**
 * The bytes of a database file made by the sqlite3 CLI (`/usr/bin/sqlite3`) running
 * `sql` on a new file. A WAL-mode database is checkpointed when the CLI exits, so the
 * file holds every page (its header still says WAL: bytes 18/19 = 2).
 */
export function sqliteCliDatabase(sql: string): Uint8Array {
  const dir = mkdtempSync(join(tmpdir(), 'ltxvfs-db-'));
  try {
    const path = join(dir, 'db.sqlite');
    execFileSync('sqlite3', [path], { input: sql });
    return new Uint8Array(readFileSync(path));
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/** A version of a {@link BytesSource}: the {@link PageVersion} fields and its bytes. */
export interface BytesVersion extends PageVersion {
  readonly bytes: Uint8Array;
}

/** Which `readPage` calls return a Promise (a simulated miss) instead of the bytes. */
export type MissPolicy = 'none' | 'all' | ((pgno: number) => boolean);

/** Options of {@link BytesSource}. */
export interface BytesSourceOptions {
  /** TXID of the first version (default 1). */
  txid?: number;
  /** Timestamp of the first version, ms (default `Date.now()`). */
  timestamp?: number;
  /** Simulated misses (default `'none'`: every page is "cached"). */
  miss?: MissPolicy;
  /** Delay of a simulated miss in ms (default 0: a resolved Promise). */
  missDelayMs?: number;
}

/** The page size recorded in a database header (docs/formats.md §7.1: `1` means 65536). */
export function headerPageSize(bytes: Uint8Array): number {
  const raw = (bytes[16] << 8) | bytes[17];
  return raw === 1 ? 65536 : raw;
}

export class BytesSource implements PageSource {
  /** The newest version. */
  current: BytesVersion;
  /** Simulated misses; may be changed between calls. */
  miss: MissPolicy;
  /** Delay of a simulated miss in ms. */
  missDelayMs: number;
  /** `readPage` calls so far. */
  readPageCalls = 0;
  /** `readPage` calls answered with a Promise. */
  missCalls = 0;
  /** Page numbers read, in order. */
  readLog: number[] = [];
  /** `acquire` calls so far. */
  acquireCalls = 0;
  /** `release` calls so far. */
  releaseCalls = 0;
  #pins = new Map<PageVersion, number>();
  #error: { error: unknown; pgno: number | undefined; async: boolean } | undefined;

  constructor(bytes: Uint8Array, options: BytesSourceOptions = {}) {
    this.current = BytesSource.version(bytes, options.txid ?? 1, options.timestamp ?? Date.now());
    this.miss = options.miss ?? 'none';
    this.missDelayMs = options.missDelayMs ?? 0;
  }

  /** A version over `bytes` (its page size from the header, commit = length / pageSize). */
  static version(bytes: Uint8Array, txid: number, timestamp: number): BytesVersion {
    const pageSize = headerPageSize(bytes);
    if (bytes.length % pageSize !== 0) {
      throw new Error(`database of ${bytes.length} bytes is not a whole number of ${pageSize}-byte pages`);
    }
    return { txid, pageSize, commit: bytes.length / pageSize, timestamp, bytes };
  }

  /** Make `bytes` the newest version (TXID default: current + 1); pinned versions stay as they were. */
  setBytes(bytes: Uint8Array, txid = this.current.txid + 1): BytesVersion {
    this.current = BytesSource.version(bytes, txid, Date.now());
    return this.current;
  }

  /**
   * From now on, `readPage` fails with `error` (for page `pgno` only, if given): thrown
   * synchronously, or as a rejected Promise with `async`. `failWith(undefined)` stops it.
   */
  failWith(error: unknown, options: { pgno?: number; async?: boolean } = {}): void {
    this.#error = error === undefined ? undefined : { error, pgno: options.pgno, async: options.async ?? false };
  }

  /** Number of versions currently pinned (acquired and not yet released). */
  get pinnedCount(): number {
    let n = 0;
    for (const count of this.#pins.values()) n += count;
    return n;
  }

  /** Reset the call counters and the read log. */
  resetCounters(): void {
    this.readPageCalls = 0;
    this.missCalls = 0;
    this.readLog = [];
    this.acquireCalls = 0;
    this.releaseCalls = 0;
  }

  acquire(): PageVersion {
    this.acquireCalls++;
    this.#pins.set(this.current, (this.#pins.get(this.current) ?? 0) + 1);
    return this.current;
  }

  release(version: PageVersion): void {
    this.releaseCalls++;
    const count = this.#pins.get(version);
    if (count === undefined) throw new Error(`release of a version that is not pinned (txid ${version.txid})`);
    if (count === 1) this.#pins.delete(version);
    else this.#pins.set(version, count - 1);
  }

  readPage(version: PageVersion, pgno: number): Uint8Array | Promise<Uint8Array> {
    this.readPageCalls++;
    this.readLog.push(pgno);
    if (!this.#pins.has(version)) throw new Error(`read of page ${pgno} from a version that is not pinned (txid ${version.txid})`);
    if (!Number.isInteger(pgno) || pgno < 1 || pgno > version.commit) {
      throw new Error(`page ${pgno} out of range 1…${version.commit}`);
    }
    const injected = this.#error;
    if (injected !== undefined && (injected.pgno === undefined || injected.pgno === pgno)) {
      if (injected.async) return Promise.reject(injected.error);
      throw injected.error;
    }
    const { bytes, pageSize } = version as BytesVersion;
    const page = bytes.subarray((pgno - 1) * pageSize, pgno * pageSize);
    const miss = this.miss === 'all' || (typeof this.miss === 'function' && this.miss(pgno));
    if (!miss) return page;
    this.missCalls++;
    if (this.missDelayMs === 0) return Promise.resolve(page);
    return new Promise((resolve) => setTimeout(() => resolve(page), this.missDelayMs));
  }
}
