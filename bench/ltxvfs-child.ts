/**
 * The ltxvfs measurements, run in a child process (started by bench/ltxvfs.ts) so that
 * the first open is a real cold start (wasm compiled in this process) and the peak RSS is
 * that of a process doing only this. It runs as plain JavaScript compiled by tsc (see
 * bench/tsconfig.json), as users run the library: under tsx, esbuild's `keepNames` adds a
 * `__name()` call to every function expression created: 13 % of a profile of
 * `openDatabase`, and opens 1.2–2× slower than compiled. Input: one JSON document on stdin
 * ({@link ChildInput}); the replica's environment (credentials, …) arrives as the process
 * environment. Output: one JSON line on stdout; progress on stderr.
 *
 * Phase `import`: importDatabase of a SQLite file into a new file:// replica, timed.
 *
 * Phase `open`: `openDatabase` of each of several replicas, fresh instances (the L0 table).
 *
 * Phase `cold`: openDatabase with the default cache (64 MiB): the first open of the
 * process, then for each sample a fresh `openDatabase` instance per measurement (each
 * has its own page cache and its own SQLite, so nothing is shared but the compiled wasm
 * and the OS file cache), then cold scans on fresh instances.
 *
 * Phase `warm`: one ReplicaReader with a cache that holds the whole database, warmed by
 * a full scan, serving several Database instances opened with `openAsyncifyDatabase`
 * (what `openDatabase` does, plus the switches `openDatabase` does not expose:
 * `statementCacheSize`, `syncCacheHits`).
 */
import { rm } from 'node:fs/promises';
import { openDatabase } from '../lib/api/open.js';
import { importDatabase } from '../lib/tools/import.js';
import { openReplicaClient } from '../lib/storage/url.js';
import { ReplicaReader } from '../lib/read/replica-reader.js';
import { openAsyncifyDatabase } from '../vfs/asyncify/database.js';
import type { Database, DatabaseStats } from '../lib/sql/database.js';
import { median } from './table.js';
import { peakRssBytes } from './rss.js';
import { RANGE_ROWS, SQL, inStatementSql, type Measured, type Workload } from './workload.js';

/** What the parent passes. */
export type ChildInput =
  | { phase: 'cold'; url: string; workload: Workload }
  | { phase: 'warm'; url: string; workload: Workload; /** The reader's cache size in bytes. */ cacheBytes: number }
  | { phase: 'import'; dbPath: string; url: string }
  | { phase: 'open'; urls: string[]; samples: number };

/** Result of the import phase. */
export interface ImportOutput {
  ms: number;
  /** Bytes of the snapshot LTX file. */
  ltxBytes: number;
}

/** Result of the open phase: per URL, every sample. */
export type OpenOutput = Measured[][];

/** Result of the cold phase. */
export interface ColdOutput {
  firstOpen: Measured;
  firstLookup: Measured;
  open: Measured[];
  coldPoint: Measured[];
  coldIndex: Measured[];
  coldRange: Measured[];
  coldScan: Measured[];
  scanResult: string;
  /** RSS after the imports, before the first open. */
  startRssBytes: number;
  peakRssBytes: number;
}

/** Result of the warm phase. */
export interface WarmOutput {
  /** The scan that filled the cache (cold, cache large enough). */
  fillScan: Measured;
  warmScan: Measured[];
  warmPointPerSec: number;
  inStatementPerSec: number;
  /** Statement cache on (default 64) vs off (0): warm point lookups per second, per round. */
  stmtCacheOn: number[];
  stmtCacheOff: number[];
  /** syncCacheHits true vs false: warm full scan ms, per round. */
  syncHitsOn: number[];
  syncHitsOff: number[];
  /** Storage requests made after the fill scan (0 if the cache held everything). */
  requestsWhileWarm: number;
  cacheBytes: number;
  startRssBytes: number;
  peakRssBytes: number;
}

type AnyDatabase = Database<DatabaseStats>;

/** Untimed opens before the open phase's samples. */
const OPEN_WARMUP = 20;
/** Untimed rounds (open + the three cold queries) before the cold phase's samples. */
const COLD_WARMUP_ROUNDS = 5;

function log(msg: string): void {
  process.stderr.write(`  [ltxvfs ${process.pid}] ${msg}\n`);
}

/** Time `op` on `db`, with the storage counters it moved. */
async function measure(db: AnyDatabase, op: () => Promise<unknown>): Promise<Measured> {
  const before = db.stats();
  const t = performance.now();
  await op();
  const ms = performance.now() - t;
  const after = db.stats();
  return {
    ms,
    requests: after.readRequests - before.readRequests,
    pages: after.pagesFetched - before.pagesFetched,
    bytesRead: after.bytesRead - before.bytesRead,
  };
}

/** A fresh `openDatabase` instance with its own reader (`shared: false`): its own page cache. */
async function timedOpen(url: string): Promise<{ db: AnyDatabase; m: Measured }> {
  const t = performance.now();
  const db = await openDatabase(url, { shared: false });
  const ms = performance.now() - t;
  const s = db.stats();
  return { db, m: { ms, requests: s.readRequests, pages: s.pagesFetched, bytesRead: s.bytesRead } };
}

/** RSS once the modules are loaded (before any open). */
const startRssBytes = process.memoryUsage().rss;

async function cold(input: { url: string; workload: Workload }): Promise<ColdOutput> {
  const w = input.workload;
  const first = await timedOpen(input.url);
  const firstLookup = await measure(first.db, () => first.db.get(SQL.point, [w.coldIds[0]]));
  await first.db.close();

  // Untimed rounds of the same work, so that the samples below show the steady state of a
  // process rather than V8 compiling and tiering up (the first-open figures show that).
  for (let i = 0; i < COLD_WARMUP_ROUNDS; i++) {
    const k = w.coldSamples - 1 - (i % w.coldSamples);
    const { db } = await timedOpen(input.url);
    await db.get(SQL.point, [w.coldIds[k]]);
    await db.get(SQL.byIndex, [w.coldKs[k]]);
    await db.get(SQL.range, [w.rangeStarts[k], w.rangeStarts[k] + RANGE_ROWS - 1]);
    await db.close();
  }

  const open: Measured[] = [];
  const coldPoint: Measured[] = [];
  const coldIndex: Measured[] = [];
  const coldRange: Measured[] = [];
  for (let i = 0; i < w.coldSamples; i++) {
    const a = await timedOpen(input.url);
    open.push(a.m);
    coldPoint.push(await measure(a.db, () => a.db.get(SQL.point, [w.coldIds[i]])));
    await a.db.close();
    const b = await timedOpen(input.url);
    coldIndex.push(await measure(b.db, () => b.db.get(SQL.byIndex, [w.coldKs[i]])));
    await b.db.close();
    const c = await timedOpen(input.url);
    coldRange.push(await measure(c.db, () => c.db.get(SQL.range, [w.rangeStarts[i], w.rangeStarts[i] + RANGE_ROWS - 1])));
    await c.db.close();
  }
  log(`cold lookups done (${w.coldSamples} samples)`);

  const coldScan: Measured[] = [];
  let scanResult = '';
  for (let i = 0; i < w.scanSamples; i++) {
    const { db } = await timedOpen(input.url);
    let row: unknown;
    coldScan.push(await measure(db, async () => (row = await db.get(SQL.scan))));
    scanResult = scanText(row);
    await db.close();
    log(`cold scan ${i + 1}/${w.scanSamples}: ${Math.round(coldScan[i].ms)} ms`);
  }
  return {
    firstOpen: first.m,
    firstLookup,
    open,
    coldPoint,
    coldIndex,
    coldRange,
    coldScan,
    scanResult,
    startRssBytes,
    peakRssBytes: peakRssBytes(),
  };
}

/** `count|sum`, as the sqlite3 CLI prints the scan's row. */
function scanText(row: unknown): string {
  const r = row as { n: number; bytes: number };
  return `${r.n}|${r.bytes}`;
}

/** Warm point lookups per second over `ids`, one `get` each. */
async function lookupRate(db: AnyDatabase, ids: readonly number[]): Promise<number> {
  const t = performance.now();
  for (const id of ids) await db.get(SQL.point, [id]);
  return ids.length / ((performance.now() - t) / 1000);
}

async function warmUp(db: AnyDatabase, ids: readonly number[]): Promise<void> {
  for (const id of ids) await db.get(SQL.point, [id]);
}

async function warm(input: { url: string; workload: Workload; cacheBytes: number }): Promise<WarmOutput> {
  const w = input.workload;
  const client = await openReplicaClient(input.url);
  const reader = await ReplicaReader.open(client, { cacheSizeBytes: input.cacheBytes });
  const opened: AnyDatabase[] = [];
  const open = async (options: { statementCacheSize?: number; syncCacheHits?: boolean } = {}): Promise<AnyDatabase> => {
    const db = await openAsyncifyDatabase(reader, { statsProvider: () => reader.stats(), ...options });
    opened.push(db);
    return db;
  };
  try {
    const db = await open();
    const fillScan = await measure(db, () => db.get(SQL.scan));
    log(`fill scan: ${Math.round(fillScan.ms)} ms, cache ${Math.round(reader.stats().cacheBytes / 2 ** 20)} MiB`);
    const requestsAfterFill = reader.stats().readRequests;
    const noStmtCache = await open({ statementCacheSize: 0 });
    const noSyncHits = await open({ syncCacheHits: false });
    const inSql = inStatementSql(w.inStatementLookups, w.rows);

    // Warm-up of every instance and of the JIT: the same operations, untimed.
    for (const d of [db, noStmtCache]) await warmUp(d, w.warmupIds);
    for (const d of [db, noSyncHits]) await d.get(SQL.scan);
    await db.get(inSql);

    // Alternating rounds, so that drift (GC, other load on the machine) hits both sides alike.
    const stmtCacheOn: number[] = [];
    const stmtCacheOff: number[] = [];
    const syncHitsOn: number[] = [];
    const syncHitsOff: number[] = [];
    const inStatement: number[] = [];
    const warmScan: Measured[] = [];
    for (let r = 0; r < w.internalsRounds; r++) {
      stmtCacheOn.push(await lookupRate(db, w.warmIds));
      stmtCacheOff.push(await lookupRate(noStmtCache, w.warmIds));
      const on = await measure(db, () => db.get(SQL.scan));
      warmScan.push(on);
      syncHitsOn.push(on.ms);
      syncHitsOff.push((await measure(noSyncHits, () => noSyncHits.get(SQL.scan))).ms);
      const t = performance.now();
      await db.get(inSql);
      inStatement.push(w.inStatementLookups / ((performance.now() - t) / 1000));
      log(`warm round ${r + 1}/${w.internalsRounds}: ${Math.round(stmtCacheOn[r])} lookups/s, scan ${Math.round(on.ms)} ms`);
    }
    const warmPointPerSec = median(stmtCacheOn);
    const inStatementPerSec = median(inStatement);

    return {
      fillScan,
      warmScan,
      warmPointPerSec,
      inStatementPerSec,
      stmtCacheOn,
      stmtCacheOff,
      syncHitsOn,
      syncHitsOff,
      requestsWhileWarm: reader.stats().readRequests - requestsAfterFill,
      cacheBytes: reader.stats().cacheBytes,
      startRssBytes,
      peakRssBytes: peakRssBytes(),
    };
  } finally {
    for (const db of opened) await db.close();
    await reader.close();
  }
}

const chunks: Buffer[] = [];
for await (const chunk of process.stdin) chunks.push(chunk as Buffer);
async function importPhase(input: { dbPath: string; url: string }): Promise<ImportOutput> {
  await rm(new URL(input.url), { recursive: true, force: true });
  const t = performance.now();
  const client = await openReplicaClient(input.url, { create: true });
  try {
    const { bytesWritten } = await importDatabase(input.dbPath, client);
    return { ms: performance.now() - t, ltxBytes: bytesWritten };
  } finally {
    await client.close();
  }
}

async function openPhase(input: { urls: string[]; samples: number }): Promise<OpenOutput> {
  // Untimed opens first: the first opens of a process pay for compiling the wasm and for
  // V8 tiering it up (and the JavaScript) in background threads, for tens of opens.
  for (let i = 0; i < OPEN_WARMUP; i++) await (await timedOpen(input.urls[0])).db.close();
  const out: OpenOutput = input.urls.map(() => []);
  // Round-robin over the URLs, so that drift (GC, other load) spreads over all of them.
  for (let i = 0; i < input.samples; i++) {
    for (const [k, url] of input.urls.entries()) {
      const { db, m } = await timedOpen(url);
      out[k].push(m);
      await db.close();
    }
  }
  return out;
}

const input = JSON.parse(Buffer.concat(chunks).toString('utf8')) as ChildInput;
let output: unknown;
switch (input.phase) {
  case 'cold': output = await cold(input); break;
  case 'warm': output = await warm(input); break;
  case 'import': output = await importPhase(input); break;
  case 'open': output = await openPhase(input); break;
}
process.stdout.write(`${JSON.stringify(output)}\n`);
