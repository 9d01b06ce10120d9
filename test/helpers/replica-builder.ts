/**
 * Builds real replicas for the lib tests: LTX files encoded by the project's encoder
 * from real database bytes, written through the real directory client. A database's
 * history becomes a snapshot of its first state plus one L0 file per later state (the
 * pages that differ, and the new commit), optionally with database checksums (the
 * pre/post-apply chain of docs/formats.md §2.5 computed with ltx/checksum.ts). Also: the
 * shared Litestream fixtures, databases made with sql.js or the sqlite3 CLI, bit flips,
 * and {@link CountingClient}, a thin counting/delaying/faulting wrapper around a real
 * client.
 */
import type { ReplicaReader } from '../../lib/read/replica-reader.js';
import { execFileSync } from 'node:child_process';
import { promises as fs, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Test } from 'tap';
import initSqlJs, { type Database as SqlJsDatabase, type SqlJsStatic } from 'sql.js';
import { encodeLtxFile } from '../../ltx/encoder.js';
import { decodeLtxFile } from '../../ltx/decoder.js';
import { HEADER_FLAG_NO_CHECKSUM } from '../../ltx/header.js';
import { CHECKSUM_FLAG, databaseChecksum, lockPgno } from '../../ltx/checksum.js';
import { formatLtxFilename } from '../../ltx/filename.js';
import type { FrameVariant } from '../../ltx/frame.js';
import { isLtxvfsError, type LtxvfsErrorCode } from '../../ltx/errors.js';
import { openFileReplica } from '../../lib/storage/file/client.js';
import type { LtxFileInfo, ReplicaCapabilities, ReplicaClient, WriteOptions } from '../../lib/storage/types.js';
import { makeLtxFile, type LtxFile } from '../../lib/replica/page-index.js';

/** fixtures/litestream-0.5.17 (in the repository; provenance in its README). */
export const FIXTURES = new URL('../../fixtures/litestream-0.5.17/', import.meta.url);
/** The real five-file replica written by Litestream 0.5.17 (TXIDs 1–5, all L0). */
export const FIXTURE_REPLICA = fileURLToPath(new URL('replica', FIXTURES));
/** The database after TXIDs 1–5 of the fixture replica. */
export const FIXTURE_EXPECTED_DB = fileURLToPath(new URL('expected/test-txid-0000000000000005.db', FIXTURES));
/** The fixture files re-encoded with database checksums (an `ltx/0` directory, not a replica root). */
export const FIXTURE_CHECKSUMMED_L0 = fileURLToPath(new URL('derived/checksummed/ltx/0', FIXTURES));
/** The fixture's file names, TXIDs 1–5. */
export const FIXTURE_NAMES = [1, 2, 3, 4, 5].map((n) => formatLtxFilename(n, n));
/** Post-apply database checksum after TXID 5 (docs/formats.md §3.1, fixtures README). */
export const FIXTURE_TXID5_CHECKSUM = 0x9b605845496813acn;

/** A page of an LTX file. */
export interface Page {
  pgno: number;
  data: Uint8Array;
}

/** Everything one LTX file is made of. */
export interface LtxSpec {
  /** Replica level (default 0). */
  level?: number;
  minTXID: number;
  maxTXID: number;
  pageSize: number;
  /** Database size in pages after the file. */
  commit: number;
  /** Pages in ascending pgno. */
  pages: Page[];
  /** Header flags (default NoChecksum, as Litestream writes). */
  flags?: number;
  /** Header timestamp, ms (default 1795254709256 + 1000 × maxTXID, so later files are newer). */
  timestamp?: number;
  /** Default 0 (NoChecksum files, snapshots). */
  preApplyChecksum?: bigint;
  /** Default 0 (NoChecksum files). */
  postApplyChecksum?: bigint;
  /** Frame layout (default 'block'). */
  variant?: FrameVariant | ((pgno: number) => FrameVariant);
}

const BASE_TIME = 1795254709256;

/** The default timestamp of a file ending at `maxTXID`. */
export function timestampOf(spec: Pick<LtxSpec, 'maxTXID' | 'timestamp'>): number {
  return spec.timestamp ?? BASE_TIME + 1000 * spec.maxTXID;
}

/** Encode `spec` with the project's encoder. */
export function encodeLtx(spec: LtxSpec): Uint8Array {
  return encodeLtxFile({
    header: {
      flags: spec.flags ?? HEADER_FLAG_NO_CHECKSUM,
      pageSize: spec.pageSize,
      commit: spec.commit,
      minTXID: spec.minTXID,
      maxTXID: spec.maxTXID,
      timestamp: timestampOf(spec),
      preApplyChecksum: spec.preApplyChecksum ?? 0n,
      walOffset: 0,
      walSize: 0,
      walSalt1: 0,
      walSalt2: 0,
      nodeID: 0,
    },
    pages: spec.pages,
    postApplyChecksum: spec.postApplyChecksum ?? 0n,
    variant: spec.variant,
  });
}

/** The replica key of `spec` in a directory replica: `ltx/<level>/<min>-<max>.ltx`. */
export function keyOf(spec: Pick<LtxSpec, 'level' | 'minTXID' | 'maxTXID'>): string {
  return `ltx/${spec.level ?? 0}/${formatLtxFilename(spec.minTXID, spec.maxTXID)}`;
}

/**
 * Encode `spec` and write it into a replica: through `target` if it is a client, else
 * into the directory `target` (created if needed) with a real FileReplicaClient. The
 * file's mtime is its header timestamp, as Litestream's file backend sets it.
 * @returns the key, the bytes and the file's path (directory targets only).
 */
export async function writeLtx(target: ReplicaClient | string, spec: LtxSpec): Promise<{ key: string; bytes: Uint8Array; path: string | undefined }> {
  const bytes = encodeLtx(spec);
  const key = keyOf(spec);
  const options: WriteOptions = { timestamp: timestampOf(spec) };
  if (typeof target === 'string') {
    const client = await openFileReplica(target, { create: true });
    try {
      await client.write(key, bytes, options);
    } finally {
      await client.close();
    }
    return { key, bytes, path: join(target, key) };
  }
  await target.write(key, bytes, options);
  return { key, bytes, path: undefined };
}

/** Write every spec (in order) into the directory replica `dir`; returns the keys. */
export async function writeReplica(dir: string, specs: LtxSpec[]): Promise<string[]> {
  const keys: string[] = [];
  for (const spec of specs) keys.push((await writeLtx(dir, spec)).key);
  return keys;
}

/** The page size of a SQLite database from its header (docs/formats.md §7.1: `1` means 65536). */
export function databasePageSize(db: Uint8Array): number {
  const raw = (db[16] << 8) | db[17];
  return raw === 1 ? 65536 : raw;
}

/** Page `pgno` (1-based) of `db`. */
export function pageOf(db: Uint8Array, pageSize: number, pgno: number): Uint8Array {
  return db.subarray((pgno - 1) * pageSize, pgno * pageSize);
}

/** The database checksum (docs/formats.md §2.3) of `db`'s bytes. */
export function databaseChecksumOf(db: Uint8Array): bigint {
  const pageSize = databasePageSize(db);
  return databaseChecksum(pageSize, db.length / pageSize, (pgno) => pageOf(db, pageSize, pgno));
}

/** Options of {@link snapshotFromDatabase} and {@link diffDatabases}. */
export interface FromDatabaseOptions {
  level?: number;
  /** Track database checksums (header flags 0, pre/post-apply set). Default false. */
  checksummed?: boolean;
  timestamp?: number;
  variant?: LtxSpec['variant'];
}

/** A snapshot (TXID 1…`maxTXID`, default 1) holding every page of `db` but the lock page. */
export function snapshotFromDatabase(db: Uint8Array, options: FromDatabaseOptions & { maxTXID?: number } = {}): LtxSpec {
  const pageSize = databasePageSize(db);
  if (db.length % pageSize !== 0) throw new Error(`database of ${db.length} bytes is not a whole number of ${pageSize}-byte pages`);
  const commit = db.length / pageSize;
  const lock = lockPgno(pageSize);
  const pages: Page[] = [];
  for (let pgno = 1; pgno <= commit; pgno++) if (pgno !== lock) pages.push({ pgno, data: pageOf(db, pageSize, pgno) });
  return {
    level: options.level ?? 0,
    minTXID: 1,
    maxTXID: options.maxTXID ?? 1,
    pageSize,
    commit,
    pages,
    flags: options.checksummed ? 0 : HEADER_FLAG_NO_CHECKSUM,
    timestamp: options.timestamp,
    postApplyChecksum: options.checksummed ? databaseChecksumOf(db) : 0n,
    variant: options.variant,
  };
}

/**
 * The LTX file taking `before` to `after`: every page of `after` that differs from
 * `before` or lies beyond its end, with `after`'s page count as commit (a shrinking
 * database is a truncation).
 */
export function diffDatabases(
  before: Uint8Array,
  after: Uint8Array,
  options: FromDatabaseOptions & { minTXID: number; maxTXID?: number },
): LtxSpec {
  const pageSize = databasePageSize(after);
  if (databasePageSize(before) !== pageSize) throw new Error('diffDatabases: page sizes differ');
  const beforeCommit = before.length / pageSize;
  const commit = after.length / pageSize;
  const lock = lockPgno(pageSize);
  const pages: Page[] = [];
  for (let pgno = 1; pgno <= commit; pgno++) {
    if (pgno === lock) continue;
    const data = pageOf(after, pageSize, pgno);
    if (pgno > beforeCommit || !bytesEqual(data, pageOf(before, pageSize, pgno))) pages.push({ pgno, data });
  }
  return {
    level: options.level ?? 0,
    minTXID: options.minTXID,
    maxTXID: options.maxTXID ?? options.minTXID,
    pageSize,
    commit,
    pages,
    flags: options.checksummed ? 0 : HEADER_FLAG_NO_CHECKSUM,
    timestamp: options.timestamp,
    preApplyChecksum: options.checksummed ? databaseChecksumOf(before) : 0n,
    postApplyChecksum: options.checksummed ? databaseChecksumOf(after) : 0n,
    variant: options.variant,
  };
}

/**
 * The L0 history of a database: `states[0]` as the TXID 1 snapshot, then one file per
 * later state, TXID i + 1 for `states[i]`.
 */
export function historyFromStates(states: Uint8Array[], options: FromDatabaseOptions = {}): LtxSpec[] {
  const specs = [snapshotFromDatabase(states[0], options)];
  for (let i = 1; i < states.length; i++) specs.push(diffDatabases(states[i - 1], states[i], { ...options, minTXID: i + 1 }));
  return specs;
}

/**
 * Compact contiguous specs into one file at `level`, as ltx's Compactor does
 * (docs/formats.md §1.9): min of the first, max/commit/timestamp/post-apply of the last,
 * pre-apply of the first, the newest version of every page, pages beyond commit dropped.
 */
export function compactSpecs(specs: LtxSpec[], level: number): LtxSpec {
  const first = specs[0];
  const last = specs[specs.length - 1];
  const byPgno = new Map<number, Uint8Array>();
  for (const s of specs) {
    for (const p of s.pages) byPgno.set(p.pgno, p.data);
    for (const pgno of [...byPgno.keys()]) if (pgno > s.commit) byPgno.delete(pgno);
  }
  const pages = [...byPgno].sort((a, b) => a[0] - b[0]).map(([pgno, data]) => ({ pgno, data }));
  return {
    level,
    minTXID: first.minTXID,
    maxTXID: last.maxTXID,
    pageSize: last.pageSize,
    commit: last.commit,
    pages,
    flags: last.flags,
    timestamp: timestampOf(last),
    preApplyChecksum: first.minTXID === 1 ? 0n : first.preApplyChecksum,
    postApplyChecksum: last.postApplyChecksum,
  };
}

/** An LtxFile (as the page index holds it) for encoded `bytes` stored under `spec`'s key. */
export function ltxFileOf(bytes: Uint8Array, level = 0): LtxFile {
  const d = decodeLtxFile(bytes, 'ltxFileOf');
  const info: LtxFileInfo = {
    level,
    minTXID: d.header.minTXID,
    maxTXID: d.header.maxTXID,
    size: bytes.length,
    createdAt: d.header.timestamp,
    key: keyOf({ level, minTXID: d.header.minTXID, maxTXID: d.header.maxTXID }),
  };
  return makeLtxFile(info, d.header, d.trailer, d.index);
}

/** Encode `spec` and give its LtxFile. */
export function ltxFileFromSpec(spec: LtxSpec): LtxFile {
  return ltxFileOf(encodeLtx(spec), spec.level ?? 0);
}

/** A page of `pageSize` bytes filled from `seed` (compressible, distinct per seed). */
export function testPage(seed: number, pageSize = 4096): Uint8Array {
  const page = new Uint8Array(pageSize);
  const text = new TextEncoder().encode(`page ${seed} `);
  for (let i = 0; i < pageSize; i++) page[i] = text[i % text.length];
  page[0] = seed & 0xff;
  return page;
}

/** A page of `pageSize` pseudo-random (incompressible) bytes from `seed`. */
export function randomPage(seed: number, pageSize = 4096): Uint8Array {
  const page = new Uint8Array(pageSize);
  let x = (seed * 2654435761) >>> 0 || 1;
  for (let i = 0; i < pageSize; i++) {
    x ^= x << 13;
    x >>>= 0;
    x ^= x >>> 17;
    x ^= x << 5;
    x >>>= 0;
    page[i] = x & 0xff;
  }
  return page;
}

/** Whether two byte arrays are equal. */
export function bytesEqual(a: Uint8Array, b: Uint8Array): boolean {
  return a.length === b.length && Buffer.compare(Buffer.from(a.buffer, a.byteOffset, a.length), Buffer.from(b.buffer, b.byteOffset, b.length)) === 0;
}

/** Flip bit `bit` of byte `offset` of the file at `path`, in place. */
export async function flipBit(path: string, offset: number, bit = 0): Promise<void> {
  const bytes = await fs.readFile(path);
  if (offset < 0 || offset >= bytes.length) throw new Error(`flipBit: offset ${offset} outside ${path} (${bytes.length} bytes)`);
  bytes[offset] ^= 1 << bit;
  await fs.writeFile(path, bytes);
}

/** Copy the fixture replica (five L0 files) into `dir` (`dir/ltx/0/…`), writable. */
export async function copyFixtureReplica(dir: string): Promise<string> {
  await copyL0(FIXTURE_REPLICA + '/ltx/0', dir);
  return dir;
}

/** Copy the checksummed fixture files into `dir/ltx/0/`, making a replica. */
export async function copyChecksummedReplica(dir: string): Promise<string> {
  await copyL0(FIXTURE_CHECKSUMMED_L0, dir);
  return dir;
}

/** Copy the LTX files of `from` into `dir/ltx/0/` with writable modes (the fixtures are read-only), keeping mtimes. */
async function copyL0(from: string, dir: string): Promise<void> {
  const to = join(dir, 'ltx', '0');
  await fs.mkdir(to, { recursive: true });
  for (const name of await fs.readdir(from)) {
    await fs.copyFile(join(from, name), join(to, name));
    await fs.chmod(join(to, name), 0o644);
    const st = await fs.stat(join(from, name));
    await fs.utimes(join(to, name), st.atime, st.mtime);
  }
}

let sqlJs: Promise<SqlJsStatic> | undefined;

/** The sql.js module (loaded once). */
export function loadSqlJs(): Promise<SqlJsStatic> {
  sqlJs ??= initSqlJs();
  return sqlJs;
}

/** The bytes of a new sql.js database after running `sql`. */
export async function sqlJsDatabase(sql: string): Promise<Uint8Array> {
  const SQL = await loadSqlJs();
  const db = new SQL.Database();
  try {
    db.exec(sql);
    return db.export();
  } finally {
    db.close();
  }
}

/**
 * Successive states of one sql.js database: `transactions[i]` is run with `exec`, then
 * the database is exported; returns one image per transaction.
 */
export async function sqlJsHistory(transactions: string[]): Promise<Uint8Array[]> {
  const SQL = await loadSqlJs();
  const db = new SQL.Database();
  try {
    const states: Uint8Array[] = [];
    for (const sql of transactions) {
      db.exec(sql);
      states.push(db.export());
    }
    return states;
  } finally {
    db.close();
  }
}

/** Rows of `sql` run by sql.js over the database `bytes`, as objects keyed by column name. */
export async function sqlJsRows(bytes: Uint8Array, sql: string, params: (string | number | null)[] = []): Promise<Record<string, unknown>[]> {
  const SQL = await loadSqlJs();
  const db: SqlJsDatabase = new SQL.Database(bytes);
  try {
    const stmt = db.prepare(sql, params);
    const rows: Record<string, unknown>[] = [];
    while (stmt.step()) rows.push(stmt.getAsObject());
    stmt.free();
    return rows;
  } finally {
    db.close();
  }
}

/** Run `sql` with the sqlite3 CLI on the database file `path` (created if missing). */
export function sqliteCli(path: string, sql: string): string {
  return execFileSync('/usr/bin/sqlite3', ['-bail', path], { input: sql, encoding: 'utf8' });
}

/** The bytes of the file at `path`. */
export function readBytes(path: string): Uint8Array {
  return new Uint8Array(readFileSync(path));
}

/** One `readRange` call as {@link CountingClient} saw it. */
export interface ReadCall {
  key: string;
  offset: number;
  length: number;
}

/**
 * A real client with counters and faults: every method delegates to `inner`; `readRange`
 * calls are logged, may be held back (`hold`), delayed (`delayMs`) or failed (`fault`).
 */
export class CountingClient implements ReplicaClient {
  readonly inner: ReplicaClient;
  /** Every readRange call, in order. */
  readonly reads: ReadCall[] = [];
  /** The `into` buffer of every readRange call (same order as `reads`), passed on to `inner`. */
  readonly buffers: (Uint8Array | undefined)[] = [];
  /** listLtxFiles calls. */
  lists = 0;
  /** read/write/delete calls. */
  others = 0;
  /** Delay before each readRange is passed on, ms. */
  delayMs = 0;
  /** When it returns an error for a call, that readRange rejects with it instead of reading. */
  fault: ((call: ReadCall) => Error | undefined) | undefined;
  /** Called before a write is passed on (to inject a concurrent writer). */
  beforeWrite: ((key: string) => Promise<void>) | undefined;
  #gate: Promise<void> | undefined;

  constructor(inner: ReplicaClient) {
    this.inner = inner;
  }

  /** A CountingClient over a real FileReplicaClient of `dir`. */
  static async open(dir: string): Promise<CountingClient> {
    return new CountingClient(await openFileReplica(dir));
  }

  get url(): string {
    return this.inner.url;
  }

  get capabilities(): ReplicaCapabilities {
    return this.inner.capabilities;
  }

  /** Hold every readRange from now until the returned function is called. */
  hold(): () => void {
    let release!: () => void;
    this.#gate = new Promise((resolve) => (release = resolve));
    return () => {
      this.#gate = undefined;
      release();
    };
  }

  /** Forget the logged calls. */
  reset(): void {
    this.reads.length = 0;
    this.buffers.length = 0;
    this.lists = 0;
    this.others = 0;
  }

  ltxKey(level: number, minTXID: number, maxTXID: number): string {
    return this.inner.ltxKey(level, minTXID, maxTXID);
  }

  objectKey(name: string): string {
    return this.inner.objectKey(name);
  }

  listLtxFiles(level: number, options?: { seekTXID?: number }): Promise<LtxFileInfo[]> {
    this.lists++;
    return this.inner.listLtxFiles(level, options);
  }

  async readRange(key: string, offset: number, length: number, into?: Uint8Array): Promise<Uint8Array> {
    const call = { key, offset, length };
    this.reads.push(call);
    this.buffers.push(into);
    if (this.#gate !== undefined) await this.#gate;
    if (this.delayMs > 0) await new Promise((resolve) => setTimeout(resolve, this.delayMs));
    const err = this.fault?.(call);
    if (err !== undefined) throw err;
    return this.inner.readRange(key, offset, length, into);
  }

  read(key: string): Promise<{ data: Uint8Array; etag: string }> {
    this.others++;
    return this.inner.read(key);
  }

  async write(key: string, data: Uint8Array, options?: WriteOptions): Promise<{ etag: string }> {
    this.others++;
    await this.beforeWrite?.(key);
    return this.inner.write(key, data, options);
  }

  delete(key: string, options?: { ifMatch?: string }): Promise<void> {
    this.others++;
    return this.inner.delete(key, options);
  }

  close(): Promise<void> {
    return this.inner.close();
  }
}

/**
 * Assert that `promise` rejects with an LtxvfsError of `code` whose message contains
 * `names` (the file, key or path it is about) and matches every `reasons` pattern.
 * Returns the error.
 */
export async function rejectsLtx(
  t: Test,
  promise: Promise<unknown> | (() => Promise<unknown>),
  code: LtxvfsErrorCode,
  names: string,
  ...reasons: RegExp[]
): Promise<Error | undefined> {
  try {
    await (typeof promise === 'function' ? promise() : promise);
  } catch (err) {
    const message = err instanceof Error ? err.message : String(err);
    t.ok(isLtxvfsError(err, code), `${code} expected, got ${(err as { code?: string }).code}: ${message}`);
    t.ok(message.includes(names), `message names ${names}: ${message}`);
    for (const r of reasons) t.match(message, r, `reason ${r}: ${message}`);
    return err as Error;
  }
  t.fail(`expected ${code} naming ${names}, nothing thrown`);
  return undefined;
}

/** Whether a checksum value has bit 63 set (every real database checksum does). */
export function isChecksum(v: bigint): boolean {
  return (v & CHECKSUM_FLAG) !== 0n;
}

/** Page `pgno` of the newest version of `reader`, read as SQLite's transactions do (the version acquired, then released). */
export async function readCurrentPage(reader: ReplicaReader, pgno: number): Promise<Uint8Array> {
  const v = reader.acquire();
  try {
    return await reader.readPage(v, pgno);
  } finally {
    reader.release(v);
  }
}
