/**
 * The ltxvfs measurements of the S3 section, run in a child process (started by
 * bench/s3.ts) while s3rver, the fault proxy and the request log run in the parent. As
 * bench/ltxvfs-child.ts: compiled by tsc and run on plain node; input one JSON document on
 * stdin, output one JSON line on stdout, progress on stderr; the replica's credentials
 * arrive in the environment.
 *
 * Round trips are counted by the parent's request log: around each measured operation the
 * child opens a window (`GET <log>/__bench/begin`) and closes it (`/__bench/end?label=…`),
 * which answers the window's counts (requests, listings, dependent requests, bytes). These
 * two calls are outside the timed part. `stats()` deltas (`readRequests`, `pagesFetched`)
 * are recorded next to them.
 *
 * Phase `cold`: fresh `openDatabase(url, { shared: false, warmInterior })` instances (own
 * reader, default 64 MiB cache): per sample one for open + cold point lookup and one for
 * a cold 1,000-row range; then cold prefix scans; then the warm hot-set lookups on one
 * instance. With `warmInterior` the warm-up started by the open is awaited (and measured
 * on its own) before the cold operation, so "cold" means "nothing but the interior pages
 * cached".
 *
 * Phase `scan`: one open and one full-table scan in a fresh process with the default
 * 64 MiB cache: the scan's speed and the process's peak RSS while scanning.
 *
 * Phase `open`: `openDatabase` of several replicas (the L0 table), fresh instances.
 */
import * as http from 'node:http';
import { openDatabase, warmupOf } from '../lib/api/open.js';
import { openReplicaClient } from '../lib/storage/url.js';
import type { WarmupResult } from '../lib/read/warmup.js';
import type { Database, DatabaseStats } from '../lib/sql/database.js';
import { median } from './table.js';
import { peakRssBytes } from './rss.js';
import type { WindowCounts } from './s3-stack.js';
import { RANGE_ROWS, S3_SQL, SQL, type S3Workload } from './workload.js';

type AnyDatabase = Database<DatabaseStats>;

/** One measured operation over S3: time, the request log's counts, and ltxvfs's own counters. */
export interface S3Measured extends WindowCounts {
  /** Time of the operation itself, ms (`ms` of the window includes the window calls). */
  opMs: number;
  /** ltxvfs `stats().readRequests` delta. */
  readRequests?: number;
  /** ltxvfs `stats().pagesFetched` delta. */
  pagesFetched?: number;
}

/** What the parent passes. */
export type S3ChildInput =
  | { phase: 'cold'; url: string; log: string; warmInterior: boolean; workload: S3Workload }
  | { phase: 'scan'; url: string; log: string; warmInterior: boolean; engine?: 'asyncify' | 'worker' }
  | { phase: 'open'; urls: string[]; log: string; samples: number }
  | { phase: 'calibrate'; url: string; log: string };

/** Result of the calibrate phase: what one request costs on the bench's S3 stack. */
export interface S3CalibrateOutput {
  /** 4 KiB range reads one after another: ms per request (latency + the stack's own time). */
  sequentialMs: number;
  sequential: WindowCounts;
  /** 4 KiB range reads with `inFlight` at once: requests per second. */
  parallelPerSec: number;
  parallel: WindowCounts;
  inFlight: number;
}

/** Result of the cold phase. */
export interface S3ColdOutput {
  open: S3Measured[];
  /** The interior warm-up after each point-lookup open (warmInterior only). */
  warmup: (S3Measured & { result: WarmupResult })[];
  coldPoint: S3Measured[];
  coldRange: S3Measured[];
  prefixScan: S3Measured[];
  prefixResult: string;
  /** The untimed pass that brought the hot set into the cache. */
  hotFill: S3Measured;
  /** Lookups per second, per round. */
  hotRates: number[];
  /** Requests during all timed hot rounds together. */
  hotRequests: S3Measured;
  peakRssBytes: number;
}

/** Result of the scan phase. */
export interface S3ScanOutput {
  open: S3Measured;
  warmup?: S3Measured & { result: WarmupResult };
  scan: S3Measured;
  scanResult: string;
  /** RSS once the modules are loaded, before the open. */
  startRssBytes: number;
  /** RSS right after the open (and warm-up). */
  openRssBytes: number;
  /** Peak resident set of this process (`VmHWM`, bench/rss.ts). */
  peakRssBytes: number;
  /** `process.resourceUsage().maxRSS` in bytes: on Linux at least the parent's resident set at the fork (bench/rss.ts). */
  maxRssBytes: number;
  cacheBytes: number;
  /** Peaks of `process.memoryUsage()` fields sampled every 50 ms during the scan, bytes. */
  memory: { rss: number; heapTotal: number; heapUsed: number; external: number; arrayBuffers: number; samples: number };
}

/** Result of the open phase: per URL, every sample. */
export type S3OpenOutput = S3Measured[][];

const startRssBytes = process.memoryUsage().rss;

function log(msg: string): void {
  process.stderr.write(`  [ltxvfs s3 ${process.pid}] ${msg}\n`);
}

/**
 * GET `url` with node:http, the body as text. Not the global `fetch`: that loads Node's
 * bundled undici and compiles its wasm HTTP parser, ~15–19 MiB of resident set of the
 * bench's own in a process whose peak RSS is measured (ltxvfs itself uses node:http).
 */
function getText(url: string): Promise<string> {
  return new Promise((resolve, reject) => {
    http.get(url, (res) => {
      let text = '';
      res.setEncoding('utf8');
      res.on('data', (chunk: string) => (text += chunk));
      res.on('end', () => resolve(text));
      res.on('error', reject);
    }).on('error', reject);
  });
}

/** The parent's request log (see the module comment). */
class RequestWindow {
  readonly #base: string;
  constructor(base: string) {
    this.#base = base;
  }
  async begin(): Promise<void> {
    await getText(`${this.#base}/__bench/begin`);
  }
  async end(label: string): Promise<WindowCounts> {
    return JSON.parse(await getText(`${this.#base}/__bench/end?label=${encodeURIComponent(label)}`)) as WindowCounts;
  }
  /** Time `op` inside a window, with `db`'s counter deltas when given. */
  async measure(label: string, op: () => Promise<unknown>, db?: AnyDatabase): Promise<S3Measured> {
    const before = db?.stats();
    await this.begin();
    const t = performance.now();
    await op();
    const opMs = performance.now() - t;
    const counts = await this.end(label);
    const after = db?.stats();
    return {
      ...counts,
      opMs,
      readRequests: before && after ? after.readRequests - before.readRequests : undefined,
      pagesFetched: before && after ? after.pagesFetched - before.pagesFetched : undefined,
    };
  }
}

/** Open a fresh instance inside a window; the counters are the instance's own (it starts at zero). */
async function timedOpen(w: RequestWindow, label: string, url: string, warmInterior: boolean, engine?: 'asyncify' | 'worker'): Promise<{ db: AnyDatabase; m: S3Measured }> {
  let db: AnyDatabase | undefined;
  const m = await w.measure(label, async () => {
    db = await openDatabase(url, { shared: false, warmInterior, ...(engine === undefined ? {} : { engine }) });
  });
  const s = db!.stats();
  return { db: db!, m: { ...m, readRequests: s.readRequests, pagesFetched: s.pagesFetched } };
}

/** Wait for the instance's interior warm-up, inside a window (undefined without one). */
async function awaitWarmup(w: RequestWindow, label: string, db: AnyDatabase): Promise<(S3Measured & { result: WarmupResult }) | undefined> {
  const pending = warmupOf(db);
  if (pending === undefined) return undefined;
  let result: WarmupResult | undefined;
  const m = await w.measure(label, async () => (result = await pending), db);
  return { ...m, result: result! };
}

function rowText(row: unknown): string {
  const r = row as { n: number; bytes: number };
  return `${r.n}|${r.bytes}`;
}

async function cold(input: { url: string; log: string; warmInterior: boolean; workload: S3Workload }): Promise<S3ColdOutput> {
  const w = input.workload;
  const win = new RequestWindow(input.log);
  const tag = input.warmInterior ? 'ltxvfs-warm' : 'ltxvfs-nowarm';
  // One untimed round: wasm compiled, code paths warmed up.
  {
    const { db } = await timedOpen(win, `${tag}:untimed`, input.url, input.warmInterior);
    await warmupOf(db);
    await db.get(SQL.point, [w.coldIds[w.coldIds.length - 1]]);
    await db.close();
  }
  const open: S3Measured[] = [];
  const warmup: (S3Measured & { result: WarmupResult })[] = [];
  const coldPoint: S3Measured[] = [];
  const coldRange: S3Measured[] = [];
  for (let i = 0; i < w.coldSamples; i++) {
    const a = await timedOpen(win, `${tag}:open`, input.url, input.warmInterior);
    open.push(a.m);
    const wu = await awaitWarmup(win, `${tag}:warmup`, a.db);
    if (wu !== undefined) warmup.push(wu);
    coldPoint.push(await win.measure(`${tag}:point`, () => a.db.get(SQL.point, [w.coldIds[i]]), a.db));
    await a.db.close();
    const b = await timedOpen(win, `${tag}:open-for-range`, input.url, input.warmInterior);
    await awaitWarmup(win, `${tag}:warmup-for-range`, b.db);
    coldRange.push(await win.measure(`${tag}:range`, () => b.db.get(SQL.range, [w.rangeStarts[i], w.rangeStarts[i] + RANGE_ROWS - 1]), b.db));
    await b.db.close();
    log(`${tag} sample ${i + 1}/${w.coldSamples}: open ${Math.round(a.m.opMs)} ms, point ${Math.round(coldPoint[i].opMs)} ms (${coldPoint[i].requests} req), range ${Math.round(coldRange[i].opMs)} ms (${coldRange[i].requests} req)`);
  }
  const prefixScan: S3Measured[] = [];
  let prefixResult = '';
  for (let i = 0; i < w.prefixSamples; i++) {
    const { db } = await timedOpen(win, `${tag}:open-for-prefix`, input.url, input.warmInterior);
    await awaitWarmup(win, `${tag}:warmup-for-prefix`, db);
    let row: unknown;
    prefixScan.push(await win.measure(`${tag}:prefix-scan`, async () => (row = await db.get(S3_SQL.prefixScan, [w.prefixRows])), db));
    prefixResult = rowText(row);
    await db.close();
    log(`${tag} prefix scan ${i + 1}/${w.prefixSamples}: ${Math.round(prefixScan[i].opMs)} ms, ${prefixScan[i].requests} req`);
  }

  const { db } = await timedOpen(win, `${tag}:open-for-hot`, input.url, input.warmInterior);
  try {
    await awaitWarmup(win, `${tag}:warmup-for-hot`, db);
    const hotFill = await win.measure(`${tag}:hot-fill`, async () => {
      for (const id of w.hotIds) await db.get(SQL.point, [id]);
    }, db);
    // Untimed passes: V8 and the wasm tier up over the first ~10,000 lookups (2–10× slower before).
    for (let p = 0; p < w.hotWarmupPasses; p++) for (const id of w.hotIds) await db.get(SQL.point, [id]);
    const hotRates: number[] = [];
    const hotRequests = await win.measure(`${tag}:hot-rounds`, async () => {
      for (let r = 0; r < w.hotRounds; r++) {
        const t = performance.now();
        for (let p = 0; p < w.hotPasses; p++) for (const id of w.hotIds) await db.get(SQL.point, [id]);
        hotRates.push((w.hotPasses * w.hotIds.length) / ((performance.now() - t) / 1000));
      }
    }, db);
    log(`${tag} warm lookups: ${Math.round(median(hotRates))}/s, ${hotRequests.requests} requests while timed`);
    return { open, warmup, coldPoint, coldRange, prefixScan, prefixResult, hotFill, hotRates, hotRequests, peakRssBytes: peakRssBytes() };
  } finally {
    await db.close();
  }
}

async function scan(input: { url: string; log: string; warmInterior: boolean; engine?: 'asyncify' | 'worker' }): Promise<S3ScanOutput> {
  const win = new RequestWindow(input.log);
  const tag = `${input.warmInterior ? 'ltxvfs-warm' : 'ltxvfs-nowarm'}${input.engine === 'worker' ? '-worker' : ''}`;
  const { db, m: open } = await timedOpen(win, `${tag}:open-for-scan`, input.url, input.warmInterior, input.engine);
  try {
    const warmup = await awaitWarmup(win, `${tag}:warmup-for-scan`, db);
    const openRssBytes = process.memoryUsage().rss;
    // What the resident set is made of while scanning: V8 heap, and memory outside it
    // (ArrayBuffers of reads and pages, wasm memories).
    const memory = { rss: 0, heapTotal: 0, heapUsed: 0, external: 0, arrayBuffers: 0, samples: 0 };
    const sample = (): void => {
      const u = process.memoryUsage();
      memory.rss = Math.max(memory.rss, u.rss);
      memory.heapTotal = Math.max(memory.heapTotal, u.heapTotal);
      memory.heapUsed = Math.max(memory.heapUsed, u.heapUsed);
      memory.external = Math.max(memory.external, u.external);
      memory.arrayBuffers = Math.max(memory.arrayBuffers, u.arrayBuffers);
      memory.samples++;
    };
    const sampler = setInterval(sample, 50);
    let row: unknown;
    const m = await win.measure(`${tag}:full-scan`, async () => (row = await db.get(SQL.scan)), db);
    clearInterval(sampler);
    sample();
    log(`${tag} full scan: ${Math.round(m.opMs)} ms, ${m.requests} req`);
    return {
      open, warmup, scan: m, scanResult: rowText(row), startRssBytes, openRssBytes,
      peakRssBytes: peakRssBytes(), maxRssBytes: process.resourceUsage().maxRSS * 1024, cacheBytes: db.stats().cacheBytes, memory,
    };
  } finally {
    await db.close();
  }
}

async function openPhase(input: { urls: string[]; log: string; samples: number }): Promise<S3OpenOutput> {
  const win = new RequestWindow(input.log);
  for (let i = 0; i < 3; i++) await (await timedOpen(win, 'ltxvfs:l0-untimed', input.urls[0], false)).db.close();
  const out: S3OpenOutput = input.urls.map(() => []);
  for (let i = 0; i < input.samples; i++) {
    for (const [k, url] of input.urls.entries()) {
      const { db, m } = await timedOpen(win, `ltxvfs:l0-open-${k}`, url, false);
      out[k].push(m);
      await db.close();
    }
  }
  return out;
}

/**
 * The stack's own cost: 4 KiB range reads of the biggest level-0 file through the same
 * client ltxvfs uses, one at a time and 32 at a time.
 */
async function calibrate(input: { url: string; log: string }): Promise<S3CalibrateOutput> {
  const win = new RequestWindow(input.log);
  const client = await openReplicaClient(input.url);
  try {
    const files = await client.listLtxFiles(0);
    const big = files.reduce((a, b) => (b.size > a.size ? b : a));
    const at = (i: number): number => ((i * 2654435761) % Math.max(1, big.size - 4096));
    for (let i = 0; i < 5; i++) await client.readRange(big.key, at(i), 4096);
    const n = 40;
    const sequential = await win.measure('calibrate:sequential', async () => {
      for (let i = 0; i < n; i++) await client.readRange(big.key, at(100 + i), 4096);
    });
    const inFlight = 32;
    const total = 320;
    let next = 0;
    const parallel = await win.measure('calibrate:parallel', async () => {
      await Promise.all(Array.from({ length: inFlight }, async () => {
        while (next < total) await client.readRange(big.key, at(1000 + next++), 4096);
      }));
    });
    return { sequentialMs: sequential.opMs / n, sequential, parallelPerSec: total / (parallel.opMs / 1000), parallel, inFlight };
  } finally {
    await client.close();
  }
}

const chunks: Buffer[] = [];
for await (const chunk of process.stdin) chunks.push(chunk as Buffer);
const input = JSON.parse(Buffer.concat(chunks).toString('utf8')) as S3ChildInput;
let output: unknown;
switch (input.phase) {
  case 'cold': output = await cold(input); break;
  case 'scan': output = await scan(input); break;
  case 'open': output = await openPhase(input); break;
  case 'calibrate': output = await calibrate(input); break;
}
process.stdout.write(`${JSON.stringify(output)}\n`);
