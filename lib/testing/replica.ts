/**
 * `makeReplica`: a Litestream v0.5 replica for tests, made by ltxvfs's own write paths —
 * a SQLite file becomes the TXID 1 snapshot (lib/tools/import.ts), and each SQL transaction is
 * run by ltxvfs's writer (lib/write/writer.ts, wa-sqlite in process) and becomes one level-0
 * LTX file. Header timestamps can be chosen per file, so time travel
 * (`PRAGMA litestream_time`, `--at`) can be tested: the writer stamps files with the
 * current time, so a file whose time was chosen is re-encoded by ltx/encoder.ts with that
 * header timestamp, and written with it as its mtime (file://) or `litestream-timestamp`
 * metadata (s3://), as Litestream does (docs/formats.md §4.1, §4.3).
 *
 * Every file is first made in a scratch directory replica, then copied create-only into
 * the target: a directory (a new temporary one by default) or a prefix of an S3 server
 * from {@link startS3Server}.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { decodeLtxFile } from '../../ltx/decoder.js';
import { encodeLtxFile } from '../../ltx/encoder.js';
import { isLtxvfsError, LtxvfsError } from '../../ltx/errors.js';
import { importDatabase } from '../tools/import.js';
import { openDatabase } from '../api/open.js';
import { listReplica } from '../replica/plan.js';
import { openFileReplica } from '../storage/file/client.js';
import type { ReplicaClient } from '../storage/types.js';
import { openReplicaClient } from '../storage/url.js';
import type { S3Server } from './s3-server.js';

/** The key prefix of a replica on S3 when none is given. */
const DEFAULT_PREFIX = 'replica';

/** A time as {@link makeReplica} takes it: a `Date` or ms since the Unix epoch. */
export type ReplicaTime = Date | number;

/** One transaction of {@link MakeReplicaOptions.transactions}. */
export interface ReplicaTransaction {
  /** SQL statements, run as one transaction (`BEGIN IMMEDIATE; … COMMIT`): put no BEGIN/COMMIT in it. It must change the database. */
  sql: string;
  /**
   * The LTX header timestamp of its file (what time travel compares with). Default: when
   * it ran. Give it to every transaction or to none; times must not go back.
   */
  at?: ReplicaTime;
}

/** Options of {@link makeReplica}. Give `from`, `transactions`, or both (the transactions then apply on top of `from`). */
export interface MakeReplicaOptions {
  /** A SQLite database file: the replica's first file, TXID 1 (a snapshot of it, as `ltxvfs import` makes). */
  from?: string;
  /** The header timestamp of the `from` snapshot. Default: the first transaction's `at` when they have times, else now. */
  fromAt?: ReplicaTime;
  /** SQL transactions, one LTX file each, TXIDs following `from` (or starting at 1). A string is `{ sql }`. */
  transactions?: ReadonlyArray<ReplicaTransaction | string>;
  /**
   * The directory to make the replica in (created if missing; must hold no replica yet).
   * Default: a new temporary directory, which `cleanup()` removes. Not with `s3`.
   */
  dir?: string;
  /** Make the replica on this S3 server (from {@link startS3Server}) instead of a directory. */
  s3?: S3Server;
  /** With `s3`: the key prefix of the replica in the server's bucket. Default `replica`. */
  prefix?: string;
}

/** A replica made by {@link makeReplica}. */
export interface TestReplica {
  /** The replica URL for `openDatabase`, the CLI and the Litestream VFS: `file:///…` or `s3://…?endpoint=…&forcePathStyle=true`. */
  readonly url: string;
  /** The replica directory, for a directory replica (undefined on S3). */
  readonly dir: string | undefined;
  /**
   * The environment to hand to ltxvfs (`openDatabase(undefined, { env })`, the CLI) or to
   * a process running the Litestream VFS: `LITESTREAM_REPLICA_URL`, plus the server's
   * `AWS_*` credentials on S3.
   */
  readonly env: Readonly<Record<string, string>>;
  /** The replica's newest TXID (one per file made). */
  readonly txid: number;
  /** The header timestamp of each file, ms, by TXID − 1. */
  readonly timestamps: readonly number[];
  /**
   * Remove what `makeReplica` made: the temporary directory, or on S3 the objects it
   * wrote; a `dir` you passed is left in place. Idempotent.
   */
  cleanup(): Promise<void>;
}

/** A time as ms since the epoch, or undefined when not given. */
function timeOf(value: ReplicaTime | undefined, name: string): number | undefined {
  if (value === undefined) return undefined;
  const ms = value instanceof Date ? value.getTime() : value;
  if (typeof ms !== 'number' || !Number.isFinite(ms) || ms < 0 || !Number.isInteger(ms)) {
    throw new LtxvfsError('LTXVFS_ERR_USAGE', `makeReplica: ${name} is not a valid time (${String(value)}): need a Date or whole ms since the epoch`, { key: name });
  }
  return ms;
}

/** What each file of the replica is: its name in messages, its SQL (none for the snapshot) and its chosen time. */
interface Step {
  name: string;
  sql: string | undefined;
  at: number | undefined;
}

/** Check the options and list the files to make, in TXID order. */
function stepsOf(options: MakeReplicaOptions): Step[] {
  const steps: Step[] = [];
  if (options.from !== undefined) steps.push({ name: 'from', sql: undefined, at: timeOf(options.fromAt, 'fromAt') });
  else if (options.fromAt !== undefined) throw new LtxvfsError('LTXVFS_ERR_USAGE', 'makeReplica: fromAt without from', { key: 'fromAt' });
  (options.transactions ?? []).forEach((tx, i) => {
    const name = `transactions[${i}]`;
    const { sql, at } = typeof tx === 'string' ? { sql: tx, at: undefined } : tx;
    if (typeof sql !== 'string' || sql.trim() === '') {
      throw new LtxvfsError('LTXVFS_ERR_USAGE', `makeReplica: ${name}.sql is empty: each transaction must change the database`, { key: name });
    }
    steps.push({ name, sql, at: timeOf(at, `${name}.at`) });
  });
  if (steps.length === 0) {
    throw new LtxvfsError('LTXVFS_ERR_USAGE', 'makeReplica: nothing to make: give from (a SQLite file) or transactions (SQL)');
  }
  // Times are all chosen or all left to the clock: a mix would put "now" among chosen past times.
  const txs = options.from === undefined ? steps : steps.slice(1);
  const timed = txs.filter((s) => s.at !== undefined);
  if (timed.length > 0 && timed.length < txs.length) {
    const untimed = txs.find((s) => s.at === undefined) as Step;
    throw new LtxvfsError('LTXVFS_ERR_USAGE', `makeReplica: ${untimed.name} has no at while other transactions have one: give every transaction a time, or none`,
      { key: untimed.name });
  }
  // The snapshot of `from` without fromAt is as old as the first chosen time.
  if (options.from !== undefined && steps[0].at === undefined && timed.length > 0) steps[0].at = timed[0].at;
  let previous: Step | undefined;
  for (const step of steps) {
    if (step.at === undefined) continue;
    if (previous?.at !== undefined && step.at < previous.at) {
      throw new LtxvfsError('LTXVFS_ERR_USAGE',
        `makeReplica: ${step.name} is at ${new Date(step.at).toISOString()}, before ${previous.name} (${new Date(previous.at).toISOString()}): times must not go back`,
        { key: step.name });
    }
    previous = step;
  }
  if (options.s3 !== undefined && options.dir !== undefined) {
    throw new LtxvfsError('LTXVFS_ERR_USAGE', 'makeReplica: give dir or s3, not both', { key: options.dir });
  }
  if (options.s3 === undefined && options.prefix !== undefined) {
    throw new LtxvfsError('LTXVFS_ERR_USAGE', `makeReplica: prefix "${options.prefix}" needs s3`, { key: options.prefix });
  }
  return steps;
}

/**
 * Run the SQL steps with ltxvfs's writer on the directory replica `scratch`, one LTX file
 * each. Write-behind (lib/write/write-behind.ts): the scratch replica is thrown away if this
 * fails, so a step need not wait for its file's fsync; the close waits for them all.
 */
async function runTransactions(scratch: string, steps: Step[]): Promise<void> {
  const db = await openDatabase(pathToFileURL(scratch).href, {
    create: true, autoLease: true, writeBehind: true, pollIntervalMs: 0, shared: false, warmInterior: false,
  });
  try {
    for (const step of steps) {
      if (step.sql === undefined) continue;
      const before = db.stats().txid;
      try {
        await db.exec(`BEGIN IMMEDIATE;\n${step.sql}\n;COMMIT;`);
      } catch (err) {
        await db.exec('ROLLBACK').catch(() => undefined);
        const e = err as LtxvfsError;
        throw new LtxvfsError(isLtxvfsError(err) ? e.code : 'LTXVFS_ERR_SQLITE', `makeReplica: ${step.name} failed: ${e.message}`,
          { key: step.name, cause: err, sqliteCode: e.sqliteCode });
      }
      if (db.stats().txid !== before + 1) {
        throw new LtxvfsError('LTXVFS_ERR_USAGE', `makeReplica: ${step.name} changed nothing, so it makes no LTX file: ${step.sql.trim().slice(0, 80)}`,
          { key: step.name });
      }
    }
  } finally {
    await db.close();
  }
}

/** The file's bytes with header timestamp `at` (re-encoded by ltx/encoder.ts), or as they are. */
function restamp(bytes: Uint8Array, key: string, at: number | undefined): { bytes: Uint8Array; timestamp: number } {
  const d = decodeLtxFile(bytes, key);
  if (at === undefined || at === d.header.timestamp) return { bytes, timestamp: d.header.timestamp };
  const encoded = encodeLtxFile({ header: { ...d.header, timestamp: at }, pages: d.pages, postApplyChecksum: d.trailer.postApplyChecksum, variant: d.variant });
  return { bytes: encoded, timestamp: at };
}

/** Open the target's client, checking it holds no replica yet. */
async function openTarget(options: MakeReplicaOptions, dir: string | undefined): Promise<ReplicaClient> {
  const client = options.s3 !== undefined
    ? await openReplicaClient(options.s3.url(options.prefix ?? DEFAULT_PREFIX), { env: { ...options.s3.env } })
    : await openFileReplica(dir as string, { create: true });
  try {
    const existing = await listReplica(client);
    if (existing.length > 0) {
      throw new LtxvfsError('LTXVFS_ERR_USAGE', `makeReplica: ${client.url} already holds a replica (${existing.length} LTX files); give an empty place`, { key: client.url });
    }
  } catch (err) {
    await client.close();
    throw err;
  }
  return client;
}

/**
 * Make a Litestream v0.5 replica for a test: from a SQLite file (`from`), from SQL
 * transactions (one level-0 LTX file each, header timestamps `at` as given), or both;
 * in a directory (a new temporary one unless `dir`) or on an S3 server (`s3`, `prefix`).
 * The files are checksum-free, as Litestream writes them, so the Litestream VFS reads
 * the replica as well as ltxvfs does.
 * @returns the URL and environment to open it with, its TXID, and `cleanup()`.
 * @throws LtxvfsError `LTXVFS_ERR_USAGE` — nothing to make, an empty or no-op transaction
 *   (named `transactions[i]`), a bad or backwards time or one missing among given times
 *   (named), `dir` with `s3`, `prefix`
 *   without `s3`, or a target that already holds a replica; `LTXVFS_ERR_SQLITE` (or the
 *   error's own code) naming the transaction whose SQL failed; what `importDatabase` throws
 *   for `from` (`LTXVFS_ERR_NOT_FOUND`, `LTXVFS_ERR_CORRUPT`, `LTXVFS_ERR_UNSUPPORTED`);
 *   storage errors of the target.
 */
export async function makeReplica(options: MakeReplicaOptions): Promise<TestReplica> {
  const steps = stepsOf(options);
  const ownDir = options.s3 === undefined && options.dir === undefined
    ? await mkdtemp(join(tmpdir(), 'ltxvfs-replica-'))
    : undefined;
  const dir = options.s3 === undefined ? resolve(options.dir ?? (ownDir as string)) : undefined;
  const scratch = await mkdtemp(join(tmpdir(), 'ltxvfs-scratch-'));
  const written: string[] = [];
  let target: ReplicaClient | undefined;
  try {
    if (options.from !== undefined) {
      const client = await openFileReplica(scratch);
      try {
        await importDatabase(options.from, client, { timestamp: steps[0].at });
      } finally {
        await client.close();
      }
    }
    if (steps.some((s) => s.sql !== undefined)) await runTransactions(scratch, steps);

    target = await openTarget(options, dir);
    const source = await openFileReplica(scratch);
    const timestamps: number[] = [];
    try {
      const files = await listReplica(source);
      for (const [i, file] of files.entries()) {
        const { bytes, timestamp } = restamp((await source.read(file.key)).data, file.key, steps[i].at);
        const key = target.ltxKey(file.level, file.minTXID, file.maxTXID);
        await target.write(key, bytes, { ifNoneMatch: true, timestamp });
        written.push(key);
        timestamps.push(timestamp);
      }
    } finally {
      await source.close();
    }
    const url = options.s3 !== undefined ? options.s3.url(options.prefix ?? DEFAULT_PREFIX) : target.url;
    const client = target;
    target = undefined;
    let cleaning: Promise<void> | undefined;
    return {
      url,
      dir,
      env: Object.freeze({ ...options.s3?.env, LITESTREAM_REPLICA_URL: url }),
      txid: steps.length,
      timestamps,
      cleanup() {
        cleaning ??= (async () => {
          try {
            if (options.s3 !== undefined) for (const key of written) await client.delete(key);
          } finally {
            await client.close();
            if (ownDir !== undefined) await rm(ownDir, { recursive: true, force: true });
          }
        })();
        return cleaning;
      },
    };
  } catch (err) {
    if (target !== undefined) {
      for (const key of written) await target.delete(key).catch(() => undefined);
      await target.close();
    }
    if (ownDir !== undefined) await rm(ownDir, { recursive: true, force: true });
    throw err;
  } finally {
    await rm(scratch, { recursive: true, force: true });
  }
}
