/**
 * The ltxvfs (and better-sqlite3) measurements of the service section (bench/service.ts,
 * issues 14 and 15), in child processes it starts while s3rver, the fault proxy and the
 * request log run in the parent. As the other bench children: compiled by tsc, run on plain
 * node, one JSON document in on stdin, one JSON line out on stdout, progress on stderr,
 * credentials in the environment. Requests are counted by the parent's request log through
 * windows (`GET <log>/__bench/begin` … `/__bench/end`), outside the timed part.
 *
 * Phases:
 * - `cold`: the first `openDatabase` of this process with default options (so `warmInterior`
 *   is on for s3://, as a user gets it) and the first query; one sample per process. Module
 *   loading is excluded, compiling the wasm is not (it happens in the first open).
 * - `ceiling`: plain parallel ranged GETs (undici, SigV4 by aws4) of the replica's largest
 *   LTX file through the same log and proxy: the link ceiling scans and hydration are judged
 *   against.
 * - `poll`: one reader with default options idle for `idleSeconds` (default an hour) of a
 *   virtual clock (the poller's public `now`/`schedule` options: its timer polls run one
 *   after another, each with its real requests, so the whole backoff is counted rather than
 *   extrapolated from a few seconds), then another, on the real clock, busy (a point lookup
 *   every `busyEveryMs`) for `seconds`: the listings and other requests of each window. With
 *   `group`, one of N busy readers in processes of their own, with or without a shared
 *   `cacheDir`, started together once all are open (a file each in `group.barrier`); the
 *   parent counts the group's requests.
 * - `write`: `openDatabase(url, { autoLease: true })`, then `commits` autocommit INSERTs one
 *   after another, each timed (it returns once the LTX file is in the replica).
 * - `warm`: on a directory replica, lookups in one read transaction (hot set and uniform),
 *   prepared-statement lookups in autocommit, and one long scan with point lookups from 100
 *   other async flows.
 * - `iterate`: `Statement.iterate()` over the whole table with a cache smaller than it: peak RSS.
 * - `native`: the warm rows with better-sqlite3 on the local file. (The Litestream VFS cannot
 *   be loaded into better-sqlite3: it is built without URI filenames, so
 *   `file:…?vfs=litestream` does not reach the VFS; the parent drives it through the CLI.)
 */
import { readdir, rm, writeFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import aws4 from 'aws4';
import { request } from 'undici';
import { openDatabase, readVerified, warmupOf, type OpenOptions } from '../lib/api/open.js';
import { loadSqlJs, openSqlJs } from '../lib/api/lazy-entries.js';
import { ClockTimers } from '../test/helpers/clock-timers.js';
import { openReplicaClient } from '../lib/storage/url.js';
import { importDatabase } from '../lib/tools/import.js';
import { loadLtxFile } from '../lib/replica/ltx-loader.js';
import { newReadCounters } from '../lib/replica/read-counters.js';
import { decodeIndexedFrameInto } from '../ltx/frame.js';
import { PageIndexTable } from '../ltx/page-index.js';
import { DEFAULT_ITERATE_BATCH } from '../lib/sql/statement.js';
import { median } from './table.js';
import { peakRssBytes } from './rss.js';
import type { WindowCounts } from './s3-stack.js';
import { SQL } from './workload.js';

/** The keys of the warm rows, made by the parent (same for every engine). */
export interface WarmKeys {
  /** 10,000 ids drawn from a hot set of 1,000. */
  hot: number[];
  /** 10,000 ids drawn uniformly from the whole table. */
  uniform: number[];
}

/** What the parent passes. */
export type ServiceChildInput =
  | { phase: 'cold'; url: string; log?: string; sql: string; params: number[] }
  | { phase: 'ceiling'; url: string; log: string; configs: { chunkBytes: number; inFlight: number; decode?: boolean }[] }
  | { phase: 'poll'; url: string; log: string; seconds: number; busyEveryMs: number; rows: number; idleSeconds?: number; group?: PollGroup }
  | { phase: 'write'; url: string; log?: string; commits: number; warmup: number; writeBehind?: boolean; jitWarmup?: { seedDb: string; dir: string; commits: number } }
  | { phase: 'warm'; url: string; keys: WarmKeys; rounds: number; flows: number }
  | { phase: 'iterate'; url: string; cacheSizeBytes: number }
  | { phase: 'native'; dbPath: string; keys: WarmKeys; rounds: number }
  | { phase: 'iterate-native'; dbPath: string };

/** Result of the cold phase. */
export interface ColdOutput {
  openMs: number;
  queryMs: number;
  totalMs: number;
  counts?: WindowCounts;
  readRequests: number;
  result: string;
}

/** One configuration of the ceiling phase. */
export interface CeilingRun {
  chunkBytes: number;
  inFlight: number;
  /** Every frame of each range LZ4-decoded after it arrived (ranges end on frame boundaries): the CPU any reader must spend. */
  decode?: boolean;
  bytes: number;
  ms: number;
  counts: WindowCounts;
}

/** Result of the ceiling phase. */
export interface CeilingOutput {
  key: string;
  objectBytes: number;
  runs: CeilingRun[];
}

/** Result of the poll phase. */
export interface PollOutput {
  /** Waiting for the background verification after the first query, before the windows, ms. */
  verifyMs: number;
  /** Requests of the idle window: `idleSeconds` of the poller's virtual clock. */
  idle: WindowCounts;
  idleSeconds: number;
  /** Requests of the busy window (`seconds`, real time). */
  busy: WindowCounts;
  busyQueries: number;
}

/** The poll phase as one of N busy readers in their own processes, started together. */
export interface PollGroup {
  /** A directory where each reader, once open, makes a file; all start when there are `readers` files. */
  barrier: string;
  readers: number;
  /** The cache directory the readers share; none: each lists for itself. */
  cacheDir?: string;
}

/** Result of one reader of a poll group (the parent counts the group's requests). */
export interface PollGroupOutput {
  busyQueries: number;
  polls: number;
  /** Polls that listed storage, and that used another process's listing (lib/read/shared-listing.ts). */
  listingsTaken: number;
  sharedListings: number;
}

/** Result of the write phase. */
export interface WriteOutput {
  /** Per commit, ms. */
  latencies: number[];
  /** All timed commits, ms. */
  totalMs: number;
  counts?: WindowCounts;
  /** With `writeBehind`: the `flush()` after the timed commits, until all are in the replica, ms. */
  uploadMs?: number;
}

/** Lookups per second of each warm row (medians over rounds). */
export interface WarmRates {
  hotTxPerSec: number;
  uniformTxPerSec: number;
  hotPreparedPerSec: number;
  uniformPreparedPerSec: number;
  /** The hot-set lookups inside one statement (`SQL.lookupsInStatement`): the engine's SQLite alone. */
  hotStatementPerSec?: number;
}

/** The warm rows of the in-process engine (the default), and of the sql.js adapter on the same replica. */
export interface WarmOutput extends WarmRates {
  /** The same rows through `openSqlJs` (synchronous sql.js API, no Asyncify; docs/engines.md). */
  sqljs?: WarmRates;
  /** Lookup latency, ms, while one long scan runs (flows started across the scan). */
  concurrent?: { scanMs: number; aloneMs: number; latencies: number[]; baseline: number[]; during: number };
}

/** Result of the iterate phase. */
export interface IterateOutput {
  rows: number;
  ms: number;
  startRssBytes: number;
  openRssBytes: number;
  peakRssBytes: number;
  cacheBytes: number;
}

/** Result of the native phase: better-sqlite3 on the local file. */
export interface NativeOutput {
  version: string;
  native: WarmOutput;
}

function log(msg: string): void {
  process.stderr.write(`  [service ${process.pid}] ${msg}\n`);
}

async function window(base: string | undefined, what: 'begin' | 'end', label = 'service'): Promise<WindowCounts | undefined> {
  if (base === undefined) return undefined;
  const { body } = await request(`${base}/__bench/${what}${what === 'end' ? `?label=${encodeURIComponent(label)}` : ''}`);
  const text = await body.text();
  return what === 'end' ? (JSON.parse(text) as WindowCounts) : undefined;
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** Closes seen not to settle (see {@link close}). */
let hungCloses = 0;

/**
 * `db.close()`, given up on after 5 s. Over S3, a close right after the first query of a
 * fresh process was seen never to settle, with nothing left to keep the event loop alive
 * (node then exits with 13, unsettled top-level await); a bench row must not die of it.
 */
async function close(db: { close(): Promise<void> }, what: string): Promise<void> {
  let timer: NodeJS.Timeout | undefined;
  const settled = await Promise.race([
    db.close().then(() => true, () => true),
    new Promise<false>((r) => (timer = setTimeout(() => r(false), 5000))),
  ]);
  clearTimeout(timer);
  if (!settled) {
    hungCloses++;
    log(`${what}: db.close() did not settle within 5 s (left behind)`);
  }
}

function text(row: unknown): string {
  return Object.values((row ?? {}) as Record<string, unknown>).join('|');
}

async function cold(input: Extract<ServiceChildInput, { phase: 'cold' }>): Promise<ColdOutput> {
  await window(input.log, 'begin');
  const t0 = performance.now();
  const db = await openDatabase(input.url, { shared: false });
  const t1 = performance.now();
  const row = await db.get(input.sql, input.params);
  const t2 = performance.now();
  const counts = await window(input.log, 'end', 'service:cold');
  const s = db.stats();
  await close(db, 'cold');
  return { openMs: t1 - t0, queryMs: t2 - t1, totalMs: t2 - t0, counts, readRequests: s.readRequests, result: text(row) };
}

async function ceiling(input: Extract<ServiceChildInput, { phase: 'ceiling' }>): Promise<CeilingOutput> {
  const client = await openReplicaClient(input.url);
  const files = [...(await client.listLtxFiles(0)), ...(await client.listLtxFiles(9))];
  const big = files.reduce((a, b) => (b.size > a.size ? b : a));
  // The page index, for the decoding shapes: their ranges end on frame boundaries.
  const file = input.configs.some((c) => c.decode === true) ? (await loadLtxFile(client, big, newReadCounters())).file : undefined;
  await client.close();
  const u = new URL(input.url);
  const path = `/${u.host}/${big.key}`;
  const endpoint = new URL(input.log);
  const get = async (start: number, end: number, into?: Uint8Array): Promise<number> => {
    const opts = aws4.sign(
      { host: endpoint.host, path, method: 'GET', service: 's3', region: 'us-east-1', headers: { Range: `bytes=${start}-${end}` } },
      { accessKeyId: process.env.AWS_ACCESS_KEY_ID ?? '', secretAccessKey: process.env.AWS_SECRET_ACCESS_KEY ?? '' },
    );
    const res = await request(`${input.log}${path}`, { method: 'GET', headers: opts.headers as Record<string, string> });
    if (res.statusCode !== 206 && res.statusCode !== 200) throw new Error(`ceiling: GET ${path} ${start}-${end}: HTTP ${res.statusCode}: ${await res.body.text()}`);
    if (into === undefined) {
      let n = 0;
      for await (const chunk of res.body) n += (chunk as Buffer).length;
      return n;
    }
    let n = 0;
    for await (const chunk of res.body) {
      into.set(chunk as Buffer, n);
      n += (chunk as Buffer).length;
    }
    return n;
  };
  /** Ranges of whole frames of about `chunkBytes` each: [first entry, entry past the last]. */
  const frameRanges = (chunkBytes: number): [number, number][] => {
    const entries = file?.entries ?? PageIndexTable.from([]);
    const out: [number, number][] = [];
    for (let i = 0; i < entries.length;) {
      let j = i + 1;
      while (j < entries.length && entries.end(j) - entries.offsets[i] <= chunkBytes) j++;
      out.push([i, j]);
      i = j;
    }
    return out;
  };
  await get(0, 65535); // connection up, code paths warm
  const runs: CeilingRun[] = [];
  for (const c of input.configs) {
    // At least 64 MiB per shape (the object again from its start when it is smaller), so
    // that a small replica still gives many requests per shape.
    const starts: number[] = [];
    for (let total = 0; total < Math.max(big.size, 64 * 2 ** 20);) {
      for (let s = 0; s < big.size; s += c.chunkBytes) {
        starts.push(s);
        total += Math.min(c.chunkBytes, big.size - s);
      }
    }
    let next = 0;
    let bytes = 0;
    const ranges = c.decode === true ? frameRanges(c.chunkBytes) : [];
    const entries = file?.entries ?? PageIndexTable.from([]);
    const pageSize = file?.header.pageSize ?? 4096;
    await window(input.log, 'begin');
    const t = performance.now();
    await Promise.all(Array.from({ length: c.inFlight }, async () => {
      if (c.decode === true) {
        const page = new Uint8Array(pageSize);
        const buf = new Uint8Array(c.chunkBytes + pageSize * 2);
        while (next < ranges.length) {
          const [i, j] = ranges[next++];
          const start = entries.offsets[i];
          const end = entries.end(j - 1);
          const n = await get(start, end - 1, buf);
          bytes += n;
          for (let e = i; e < j; e++) {
            decodeIndexedFrameInto(buf.subarray(entries.offsets[e] - start, entries.end(e) - start), entries.pgnos[e], page, big.key);
          }
        }
        return;
      }
      while (next < starts.length) {
        const s = starts[next++];
        const n = await get(s, Math.min(big.size, s + c.chunkBytes) - 1);
        bytes += n;
      }
    }));
    const ms = performance.now() - t;
    const counts = (await window(input.log, 'end', `ceiling:${c.chunkBytes}x${c.inFlight}${c.decode === true ? `:decoded` : ``}`))!;
    runs.push({ ...c, bytes, ms, counts });
    log(`ceiling ${c.chunkBytes >> 10} KiB × ${c.inFlight}${c.decode === true ? ', decoded' : ''}: ${(bytes / 2 ** 20 / (ms / 1000)).toFixed(0)} MiB/s`);
  }
  return { key: big.key, objectBytes: big.size, runs };
}

/**
 * A reader opened for a poll window: warm-up awaited, one query, then its background
 * verification awaited (one whole read of the snapshot: a one-time cost of the first reads,
 * not of staying fresh, so it ends before the windows).
 * @returns the database and the wait for the verification, ms.
 */
async function pollReader(url: string, options: OpenOptions): Promise<{ db: Awaited<ReturnType<typeof openDatabase>>; verifyMs: number }> {
  const db = await openDatabase(url, { shared: false, ...options });
  await warmupOf(db);
  await db.get(SQL.point, [1]);
  const v = performance.now();
  await readVerified(db);
  return { db, verifyMs: performance.now() - v };
}

/** Point lookups every `everyMs` until `until` (performance.now ms); returns how many. */
async function busyLookups(db: Awaited<ReturnType<typeof openDatabase>>, rows: number, everyMs: number, until: number): Promise<number> {
  let queries = 0;
  let id = 1;
  while (performance.now() < until) {
    id = 1 + ((id * 2654435761) % rows);
    await db.get(SQL.point, [id]);
    queries++;
    await sleep(everyMs);
  }
  return queries;
}

async function poll(input: Extract<ServiceChildInput, { phase: 'poll' }>): Promise<PollOutput | PollGroupOutput> {
  if (input.group !== undefined) return pollGroup(input, input.group);
  // The idle hour on a virtual clock: the poller's public `now` and `schedule` options, its
  // timer polls run in order as fast as their requests, every request real (request log).
  // A clock of the shape of test/helpers/polling.ts's TestClock (that module loads sql.js).
  const clock = { ms: Date.now(), now: (): number => clock.ms, advance: (ms: number): void => { clock.ms += ms; } };
  const timers = new ClockTimers(clock);
  const idleReader = await pollReader(input.url, { now: clock.now, schedule: timers.schedule });
  const idleSeconds = input.idleSeconds ?? 3600;
  let idle: WindowCounts;
  try {
    await window(input.log, 'begin');
    await timers.runUntil(clock.ms + idleSeconds * 1000);
    idle = (await window(input.log, 'end', 'poll:idle'))!;
  } finally {
    await close(idleReader.db, input.phase);
  }
  // The busy window in real time (a reader on the real clock and timer).
  const { db } = await pollReader(input.url, {});
  try {
    await window(input.log, 'begin');
    const busyQueries = await busyLookups(db, input.rows, input.busyEveryMs, performance.now() + input.seconds * 1000);
    const busy = (await window(input.log, 'end', 'poll:busy'))!;
    log(`poll: idle ${idle.lists} LIST / ${idle.requests} req in ${idleSeconds} s (virtual), busy ${busy.lists} LIST / ${busy.requests} req in ${input.seconds} s`);
    return { idle, idleSeconds, busy, busyQueries, verifyMs: idleReader.verifyMs };
  } finally {
    await close(db, input.phase);
  }
}

/** One of N busy readers in processes of their own, for `seconds` once all are open (the parent counts the requests). */
async function pollGroup(input: Extract<ServiceChildInput, { phase: 'poll' }>, group: PollGroup): Promise<PollGroupOutput> {
  const { db } = await pollReader(input.url, { cacheDir: group.cacheDir });
  try {
    await writeFile(join(group.barrier, String(process.pid)), '');
    while ((await readdir(group.barrier)).length < group.readers) await sleep(10);
    const before = db.stats();
    const busyQueries = await busyLookups(db, input.rows, input.busyEveryMs, performance.now() + input.seconds * 1000);
    const after = db.stats();
    return { busyQueries, polls: after.polls - before.polls, listingsTaken: after.listingsTaken - before.listingsTaken, sharedListings: after.sharedListings - before.sharedListings };
  } finally {
    await close(db, input.phase);
  }
}

async function write(input: Extract<ServiceChildInput, { phase: 'write' }>): Promise<WriteOutput> {
  const insert = 'INSERT INTO orders (customer, amount, note) VALUES (?, ?, ?)';
  if (input.jitWarmup !== undefined) {
    // A writer's commits get faster over the first few thousand of a process as V8 and the
    // wasm tier up (2026-12-08, write-behind on a directory, per 200 commits: 1.8k/s, then
    // 5–7k/s, 10–14k/s past 1,000, 12–19k/s past 3,000). They are made on a scratch replica
    // of the same table, which carries over to the replica measured (its first 200 timed
    // commits after 3,000 scratch ones: 10–11.6k/s, without them 4.8–5.8k/s), so that the
    // row measures a warm writer, as the warm read rows do, without thousands of uploads to S3.
    const { seedDb, dir, commits } = input.jitWarmup;
    await rm(dir, { recursive: true, force: true });
    const scratchClient = await openReplicaClient(pathToFileURL(dir).href, { create: true });
    try {
      await importDatabase(seedDb, scratchClient);
    } finally {
      await scratchClient.close();
    }
    const scratch = await openDatabase(pathToFileURL(dir).href, { shared: false, autoLease: true, writeBehind: true });
    try {
      for (let i = 0; i < commits; i++) await scratch.run(insert, [i % 977, i * 100, `scratch ${i}`]);
    } finally {
      await scratch.close();
      await rm(dir, { recursive: true, force: true });
    }
  }
  const db = await openDatabase(input.url, { shared: false, autoLease: true, writeBehind: input.writeBehind === true });
  try {
    // Untimed commits first, as the warm rows' untimed rounds: V8 and the wasm tier up (the first
    // 200 commits of a process ran at 900–1,600/s, later ones at 2,100–2,500/s with writeBehind).
    for (let i = 0; i < input.warmup; i++) await db.run(insert, [i % 977, i * 100, `warm-up ${i}`]);
    await db.flush();
    const latencies: number[] = [];
    await window(input.log, 'begin');
    const t0 = performance.now();
    for (let i = 0; i < input.commits; i++) {
      const t = performance.now();
      await db.run(insert, [i % 977, (i * 7919) % 100_000, `order ${i}`]);
      latencies.push(performance.now() - t);
    }
    const totalMs = performance.now() - t0;
    // Write-behind: until every acknowledged commit is in the replica (the Litestream VFS's row times its close for the same).
    const t1 = performance.now();
    await db.flush();
    const uploadMs = input.writeBehind === true ? performance.now() - t1 : undefined;
    const counts = await window(input.log, 'end', input.writeBehind === true ? 'write:ltxvfs-behind' : 'write:ltxvfs');
    log(`write: ${input.commits} commits in ${Math.round(totalMs)} ms${uploadMs === undefined ? '' : `, flushed in ${Math.round(uploadMs)} ms`}`);
    return { latencies, totalMs, counts, uploadMs };
  } finally {
    await close(db, input.phase);
  }
}

/** Lookups per second of `run(ids)` over `rounds` rounds after one untimed round. */
async function rate(ids: readonly number[], rounds: number, run: (ids: readonly number[]) => Promise<void> | void): Promise<number> {
  const rates: number[] = [];
  for (let r = 0; r <= rounds; r++) {
    const t = performance.now();
    await run(ids);
    if (r > 0) rates.push(ids.length / ((performance.now() - t) / 1000));
  }
  return median(rates);
}

/**
 * The warm rows through the sql.js adapter (`openSqlJs`, default options: the same 64 MiB
 * page cache), with sql.js's own synchronous API: `BEGIN`, one prepared statement's
 * `getAsObject([k])` per lookup (an object per row, as better-sqlite3's `get`), `COMMIT`; or
 * `getAsObject([k])` in autocommit. Its instance is closed before the async engine's scan rows.
 */
async function warmSqlJs(input: Extract<ServiceChildInput, { phase: 'warm' }>): Promise<WarmRates> {
  const SQLite = await loadSqlJs();
  const db = await openSqlJs(SQLite, input.url);
  try {
    const stmt = db.prepare(SQL.point);
    const inTx = (ids: readonly number[]): void => {
      db.exec('BEGIN');
      try {
        for (const id of ids) stmt.getAsObject([id]);
      } finally {
        db.exec('COMMIT');
      }
    };
    const prepared = (ids: readonly number[]): void => {
      for (const id of ids) stmt.getAsObject([id]);
    };
    prepared(input.keys.hot);
    inTx(input.keys.hot);
    const rates: WarmRates = {
      hotTxPerSec: await rate(input.keys.hot, input.rounds, inTx),
      uniformTxPerSec: await rate(input.keys.uniform, input.rounds, inTx),
      hotPreparedPerSec: await rate(input.keys.hot, input.rounds, prepared),
      uniformPreparedPerSec: await rate(input.keys.uniform, input.rounds, prepared),
    };
    const inStatement = db.prepare(SQL.lookupsInStatement);
    const hotJson = JSON.stringify(input.keys.hot);
    rates.hotStatementPerSec = await rate(input.keys.hot, input.rounds, () => {
      inStatement.getAsObject([hotJson]);
    });
    inStatement.free();
    stmt.free();
    log(`warm, sql.js adapter: in one transaction hot ${Math.round(rates.hotTxPerSec)}/s, uniform ${Math.round(rates.uniformTxPerSec)}/s; autocommit hot ${Math.round(rates.hotPreparedPerSec)}/s, uniform ${Math.round(rates.uniformPreparedPerSec)}/s`);
    return rates;
  } finally {
    db.close();
  }
}

async function warm(input: Extract<ServiceChildInput, { phase: 'warm' }>): Promise<WarmOutput> {
  const db = await openDatabase(input.url, { shared: false });
  try {
    const inTx = (ids: readonly number[]): Promise<void> => db.transaction(async (tx) => {
      const stmt = await tx.prepare(SQL.point);
      for (const id of ids) await stmt.get([id]);
    });
    const stmt = await db.prepare(SQL.point);
    const prepared = async (ids: readonly number[]): Promise<void> => {
      for (const id of ids) await stmt.get([id]);
    };
    // Tier-up: V8 and the wasm need ~10,000 calls before they run at speed.
    await prepared(input.keys.hot);
    await inTx(input.keys.hot);
    const hotTxPerSec = await rate(input.keys.hot, input.rounds, inTx);
    const uniformTxPerSec = await rate(input.keys.uniform, input.rounds, inTx);
    const hotPreparedPerSec = await rate(input.keys.hot, input.rounds, prepared);
    const uniformPreparedPerSec = await rate(input.keys.uniform, input.rounds, prepared);
    const hotJson = JSON.stringify(input.keys.hot);
    const hotStatementPerSec = await rate(input.keys.hot, input.rounds, async () => {
      await db.get(SQL.lookupsInStatement, [hotJson]);
    });
    log(`warm: in one transaction hot ${Math.round(hotTxPerSec)}/s, uniform ${Math.round(uniformTxPerSec)}/s; prepared hot ${Math.round(hotPreparedPerSec)}/s, uniform ${Math.round(uniformPreparedPerSec)}/s`);
    const sqljs = await warmSqlJs(input);

    // One long scan on a fresh instance, and point lookups from 100 other async flows on the
    // same instance, started across the scan (spread over the time the scan took alone, on
    // another fresh instance). Baseline: the same number of lookups, one at a time, before.
    let aloneMs = Infinity;
    let t = 0;
    for (let i = 0; i < 2; i++) {
      const alone = await openDatabase(input.url, { shared: false });
      t = performance.now();
      await alone.get(SQL.scan);
      aloneMs = Math.min(aloneMs, performance.now() - t);
      await close(alone, 'scan alone');
    }
    const shared = await openDatabase(input.url, { shared: false });
    try {
      const lookup = async (id: number): Promise<number> => {
        const t0 = performance.now();
        await shared.get(SQL.point, [id]);
        return performance.now() - t0;
      };
      const baseline: number[] = [];
      for (let i = 0; i < input.flows; i++) baseline.push(await lookup(input.keys.uniform[i]));
      t = performance.now();
      let scanEnd = Infinity;
      const scan = shared.get(SQL.scan).then(() => (scanEnd = performance.now()) - t);
      let during = 0;
      const latencies = await Promise.all(Array.from({ length: input.flows }, async (_, i) => {
        await sleep((aloneMs * i) / input.flows);
        const started = performance.now();
        const ms = await lookup(input.keys.uniform[input.flows + i]);
        if (started < scanEnd) during++;
        return ms;
      }));
      const scanMs = await scan;
      log(`concurrent: scan ${Math.round(scanMs)} ms (alone ${Math.round(aloneMs)} ms), lookup p50 ${median(latencies).toFixed(2)} ms`);
      return { hotTxPerSec, uniformTxPerSec, hotPreparedPerSec, uniformPreparedPerSec, hotStatementPerSec, sqljs, concurrent: { scanMs, aloneMs, latencies, baseline, during } };
    } finally {
      await close(shared, 'concurrent');
    }
  } finally {
    await close(db, input.phase);
  }
}

async function iterate(input: Extract<ServiceChildInput, { phase: 'iterate' }>): Promise<IterateOutput> {
  const startRssBytes = process.memoryUsage().rss;
  const db = await openDatabase(input.url, { shared: false, cacheSizeBytes: input.cacheSizeBytes });
  try {
    const openRssBytes = process.memoryUsage().rss;
    const stmt = await db.prepare<{ id: number; body: string }>('SELECT id, k, name, body FROM items');
    let rows = 0;
    let chars = 0;
    const t = performance.now();
    for await (const row of stmt.iterate()) {
      rows++;
      chars += row.body.length;
    }
    const ms = performance.now() - t;
    log(`iterate: ${rows} rows (${chars} chars) in ${Math.round(ms)} ms`);
    return { rows, ms, startRssBytes, openRssBytes, peakRssBytes: peakRssBytes(), cacheBytes: db.stats().cacheBytes };
  } finally {
    await close(db, input.phase);
  }
}

/**
 * The rows of the iterate phase from better-sqlite3 on the local file, handed out the way
 * `Statement.iterate()` hands them out (an async generator, batches of
 * `DEFAULT_ITERATE_BATCH` rows, an `await` between batches), so that RSS shows what Node's
 * async iteration itself costs over the same rows: V8 grows its young generation to its
 * 32 MiB maximum under that allocation pattern whatever produces the rows.
 */
async function iterateNative(input: Extract<ServiceChildInput, { phase: 'iterate-native' }>): Promise<IterateOutput> {
  const require = createRequire(import.meta.url);
  const Better = require('better-sqlite3') as BetterConstructor;
  const startRssBytes = process.memoryUsage().rss;
  const db = new Better(input.dbPath, { readonly: true });
  try {
    const openRssBytes = process.memoryUsage().rss;
    const stmt = db.prepare('SELECT id, k, name, body FROM items');
    async function* rowsOf(): AsyncGenerator<{ body: string }> {
      let batch: { body: string }[] = [];
      for (const row of stmt.iterate() as Iterable<{ body: string }>) {
        batch.push(row);
        if (batch.length < DEFAULT_ITERATE_BATCH) continue;
        await null;
        yield* batch;
        batch = [];
      }
      yield* batch;
    }
    let rows = 0;
    let chars = 0;
    const t = performance.now();
    for await (const row of rowsOf()) {
      rows++;
      chars += row.body.length;
    }
    const ms = performance.now() - t;
    log(`iterate, better-sqlite3 through an async generator: ${rows} rows (${chars} chars) in ${Math.round(ms)} ms`);
    return { rows, ms, startRssBytes, openRssBytes, peakRssBytes: peakRssBytes(), cacheBytes: 0 };
  } finally {
    db.close();
  }
}

/** The part of better-sqlite3's API this phase uses (the package ships no types). */
interface BetterStatement {
  get(...params: unknown[]): unknown;
  iterate(...params: unknown[]): Iterable<unknown>;
}
interface BetterDatabase {
  prepare(sql: string): BetterStatement;
  transaction(fn: (ids: readonly number[]) => void): (ids: readonly number[]) => void;
  close(): void;
}
type BetterConstructor = new (path: string, options?: { readonly?: boolean }) => BetterDatabase;

async function betterRows(db: BetterDatabase, keys: WarmKeys, rounds: number): Promise<WarmOutput> {
  const stmt = db.prepare(SQL.point);
  const tx = db.transaction((ids) => {
    for (const id of ids) stmt.get(id);
  });
  const prepared = (ids: readonly number[]): void => {
    for (const id of ids) stmt.get(id);
  };
  prepared(keys.hot);
  tx(keys.hot);
  const inStatement = db.prepare(SQL.lookupsInStatement);
  const hotJson = JSON.stringify(keys.hot);
  return {
    hotTxPerSec: await rate(keys.hot, rounds, tx),
    uniformTxPerSec: await rate(keys.uniform, rounds, tx),
    hotPreparedPerSec: await rate(keys.hot, rounds, prepared),
    uniformPreparedPerSec: await rate(keys.uniform, rounds, prepared),
    hotStatementPerSec: await rate(keys.hot, rounds, () => {
      inStatement.get(hotJson);
    }),
  };
}

async function native(input: Extract<ServiceChildInput, { phase: 'native' }>): Promise<NativeOutput> {
  const require = createRequire(import.meta.url);
  const Better = require('better-sqlite3') as BetterConstructor;
  const version = (require('better-sqlite3/package.json') as { version: string }).version;
  const db = new Better(input.dbPath, { readonly: true });
  try {
    return { version, native: await betterRows(db, input.keys, input.rounds) };
  } finally {
    db.close();
  }
}

const chunks: Buffer[] = [];
for await (const c of process.stdin) chunks.push(c as Buffer);
const input = JSON.parse(Buffer.concat(chunks).toString('utf8')) as ServiceChildInput;
let output: unknown;
switch (input.phase) {
  case 'cold': output = await cold(input); break;
  case 'ceiling': output = await ceiling(input); break;
  case 'poll': output = await poll(input); break;
  case 'write': output = await write(input); break;
  case 'warm': output = await warm(input); break;
  case 'iterate': output = await iterate(input); break;
  case 'native': output = await native(input); break;
  case 'iterate-native': output = await iterateNative(input); break;
}
if (hungCloses > 0) (output as Record<string, unknown>).hungCloses = hungCloses;
process.stdout.write(`${JSON.stringify(output)}\n`);
// A close left behind may hold the process open.
process.exit(0);
