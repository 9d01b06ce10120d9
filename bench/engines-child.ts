/**
 * The engines section's measurements (bench/engines.ts), one engine per child process so
 * that each has its own peak RSS, run as JavaScript compiled by tsc (see
 * bench/ltxvfs-child.ts for why not under tsx). Input: one JSON document on stdin
 * ({@link EnginesChildInput}); output: one JSON line on stdout; progress on stderr.
 *
 * Engines:
 * - `asyncify`: `openDatabase(url)`, wa-sqlite's Asyncify build in this thread;
 * - `worker`: `openDatabase(url, { engine: 'worker' })`;
 * - `sqljs`: `openSqlJs(loadSqlJs(), url)`: sql.js in this thread, pages from the fetch thread;
 * - `sqljs-memory`: sql.js (the package's own `initSqlJs`) on an in-memory copy of the
 *   database file: the reference the targets are stated against.
 *
 * Phase `warm` (file:// replica, caches that hold the whole database): a fill scan, then
 * timed full scans, prepared point lookups one call at a time (the worker also 256 calls
 * in flight), and one statement doing many lookups. Phase `cold` (a replica over S3 with
 * added latency): per sample a fresh connection with its own reader, then one point
 * lookup timed.
 */
import { readFile } from 'node:fs/promises';
import initSqlJs, { type Database as SqlJsDatabase, type Statement } from 'sql.js';
import { openDatabase } from '../lib/api/open.js';
import type { Database, DatabaseStats } from '../lib/sql/database.js';
import { loadSqlJs, openSqlJs } from '../vfs/sqljs/index.js';
import { peakRssBytes } from './rss.js';
import { median } from './table.js';
import { SQL, inStatementSql } from './workload.js';

/** The engines measured. */
export type EngineKind = 'asyncify' | 'worker' | 'sqljs' | 'sqljs-memory';

/** What the parent passes. */
export type EnginesChildInput =
  | {
    phase: 'warm'; engine: EngineKind; url: string; dbPath: string; cacheBytes: number;
    rows: number; warmupIds: number[]; warmIds: number[]; scanSamples: number; rounds: number; inStatementLookups: number;
  }
  | { phase: 'cold'; engine: EngineKind; url: string; ids: number[] };

/** Result of the warm phase. */
export interface EnginesWarmOutput {
  fillScanMs: number;
  /** Full scans, ms each. */
  scanMs: number[];
  /** Prepared point lookups per second, one call at a time, per round. */
  pointPerSec: number[];
  /** Worker only: lookups per second with 256 calls in flight, per round. */
  pipelinedPerSec: number[];
  /** One statement doing many lookups: lookups per second, per round. */
  inStatementPerSec: number[];
  scanResult: string;
  startRssBytes: number;
  peakRssBytes: number;
}

/** Result of the cold phase: ms per sample. */
export interface EnginesColdOutput {
  pointMs: number[];
  peakRssBytes: number;
}

const startRssBytes = process.memoryUsage().rss;

/** Passes over the warm-up ids before the timed point lookups (20 × 2,000 = 40,000 calls). */
const WARMUP_PASSES = 20;

function log(msg: string): void {
  process.stderr.write(`  [engines ${process.pid}] ${msg}\n`);
}

/** One engine behind the few calls measured. */
interface Subject {
  scan(): Promise<string>;
  /** A point lookup by id (prepared statement reused). */
  point(id: number): Promise<unknown> | unknown;
  /** `count` lookups in flight at once (async engines), or one after another. */
  pointsInFlight?(ids: readonly number[]): Promise<unknown>;
  one(sql: string): Promise<unknown> | unknown;
  close(): Promise<void> | void;
}

function fromDatabase(db: Database<DatabaseStats>): Subject {
  return {
    scan: async () => scanText(await db.get(SQL.scan)),
    point: (id) => db.get(SQL.point, [id]),
    pointsInFlight: (ids) => Promise.all(ids.map((id) => db.get(SQL.point, [id]))),
    one: (sql) => db.get(sql),
    close: () => db.close(),
  };
}

function fromSqlJs(db: SqlJsDatabase): Subject {
  const stmt: Statement = db.prepare(SQL.point);
  return {
    scan: async () => {
      const r = db.exec(SQL.scan)[0].values[0];
      return `${r[0]}|${r[1]}`;
    },
    point: (id) => {
      stmt.bind([id]);
      stmt.step();
      const row = stmt.get();
      stmt.reset();
      return row;
    },
    one: (sql) => db.exec(sql),
    close: () => {
      stmt.free();
      db.close();
    },
  };
}

async function open(engine: EngineKind, url: string, dbPath: string, options: { cacheBytes?: number; shared?: boolean }): Promise<Subject> {
  const common = { pollIntervalMs: 0, warmInterior: false, shared: options.shared, cacheSizeBytes: options.cacheBytes, localCacheSizeBytes: options.cacheBytes };
  switch (engine) {
    case 'asyncify':
      return fromDatabase(await openDatabase(url, common));
    case 'worker':
      return fromDatabase(await openDatabase(url, { ...common, engine: 'worker' }));
    case 'sqljs':
      return fromSqlJs(await openSqlJs(await sqlJsModule(), url, common));
    case 'sqljs-memory': {
      const SQLm = await initSqlJs();
      return fromSqlJs(new SQLm.Database(await readFile(dbPath)));
    }
  }
}

let loaded: ReturnType<typeof loadSqlJs> | undefined;
function sqlJsModule(): ReturnType<typeof loadSqlJs> {
  loaded ??= loadSqlJs();
  return loaded;
}

function scanText(row: unknown): string {
  const r = row as { n: number; bytes: number };
  return `${r.n}|${r.bytes}`;
}

async function rate(ids: readonly number[], run: (id: number) => unknown): Promise<number> {
  const t = performance.now();
  for (const id of ids) await run(id);
  return ids.length / ((performance.now() - t) / 1000);
}

async function warm(input: Extract<EnginesChildInput, { phase: 'warm' }>): Promise<EnginesWarmOutput> {
  const s = await open(input.engine, input.url, input.dbPath, { cacheBytes: input.cacheBytes });
  try {
    let t = performance.now();
    const scanResult = await s.scan();
    const fillScanMs = performance.now() - t;
    log(`${input.engine}: fill scan ${Math.round(fillScanMs)} ms`);
    // Warm-up, untimed: every page cached, the JIT and wasm tiers settled. The worker
    // engine's lone calls take ~30,000 to settle (measured: 20–26 µs a lookup over the
    // first 20,000, 11–12 after), so every engine gets WARMUP_PASSES over the warm-up ids.
    await s.scan();
    for (let pass = 0; pass < WARMUP_PASSES; pass++) for (const id of input.warmupIds) await s.point(id);
    const inSql = inStatementSql(input.inStatementLookups, input.rows);
    await s.one(inSql);

    const scanMs: number[] = [];
    const pointPerSec: number[] = [];
    const pipelinedPerSec: number[] = [];
    const inStatementPerSec: number[] = [];
    for (let round = 0; round < input.rounds; round++) {
      if (round < input.scanSamples) {
        t = performance.now();
        await s.scan();
        scanMs.push(performance.now() - t);
      }
      pointPerSec.push(await rate(input.warmIds, (id) => s.point(id)));
      if (s.pointsInFlight !== undefined) {
        t = performance.now();
        for (let i = 0; i < input.warmIds.length; i += 256) await s.pointsInFlight(input.warmIds.slice(i, i + 256));
        pipelinedPerSec.push(input.warmIds.length / ((performance.now() - t) / 1000));
      }
      t = performance.now();
      await s.one(inSql);
      inStatementPerSec.push(input.inStatementLookups / ((performance.now() - t) / 1000));
    }
    log(`${input.engine}: scan ${Math.round(median(scanMs))} ms, ${Math.round(median(pointPerSec))} lookups/s`);
    return { fillScanMs, scanMs, pointPerSec, pipelinedPerSec, inStatementPerSec, scanResult, startRssBytes, peakRssBytes: peakRssBytes() };
  } finally {
    await s.close();
  }
}

async function cold(input: Extract<EnginesChildInput, { phase: 'cold' }>): Promise<EnginesColdOutput> {
  const pointMs: number[] = [];
  // The first sample compiles the wasm and the JIT: untimed.
  for (let i = -1; i < input.ids.length; i++) {
    const s = await open(input.engine, input.url, '', { shared: false });
    const t = performance.now();
    await s.point(input.ids[Math.max(0, i)]);
    if (i >= 0) pointMs.push(performance.now() - t);
    await s.close();
  }
  log(`${input.engine}: cold point over S3 ${median(pointMs).toFixed(1)} ms`);
  return { pointMs, peakRssBytes: peakRssBytes() };
}

const chunks: Buffer[] = [];
for await (const chunk of process.stdin) chunks.push(chunk as Buffer);
const input = JSON.parse(Buffer.concat(chunks).toString('utf8')) as EnginesChildInput;
const output = input.phase === 'warm' ? await warm(input) : await cold(input);
process.stdout.write(`${JSON.stringify(output)}\n`);
// The fetch thread and workers are unref'd; nothing else keeps the process.
process.exit(0);
