/**
 * The ltxvfs measurements of the hydration section (bench/hydrate.ts), in child
 * processes started by it while s3rver, the fault proxy and the request log run in the
 * parent. As the other bench children: compiled by tsc, run on plain node, one JSON
 * document in on stdin, one JSON line out on stdout, progress on stderr, credentials in
 * the environment. Requests are counted by the parent's request log through windows
 * (`GET <log>/__bench/begin` … `/__bench/end`), outside the timed part.
 *
 * Phase `cold`: the first `openDatabase` of this process (wasm compile included, as a
 * restarted function sees it) and the first query on it, with or without a disk cache
 * directory; one sample per process.
 *
 * Phase `hydrate`: a ReplicaReader hydrating into a new file, timed from the start of the
 * open until the file is complete.
 *
 * Phase `warm`: a fresh process opening a file hydrated before (complete at the replica's
 * TXID, so reads come from it at once) with the Asyncify or the worker engine, timing warm
 * queries after one untimed run.
 *
 * Phase `disk`: what one disk-cache hit costs, read synchronously (as the reader does)
 * and through `fs.promises` (what an asynchronous disk tier would cost per page).
 */
import { readFile } from 'node:fs/promises';
import { openDatabase } from '../lib/api/open.js';
import { ReplicaReader } from '../lib/read/replica-reader.js';
import { openReplicaClient } from '../lib/storage/url.js';
import { pageChecksum } from '../ltx/checksum.js';
import type { FrameRef } from '../lib/replica/page-index.js';
import type { HydrateOptions, HydrationStats } from '../lib/hydrate/index.js';
import type { DiskCacheStats } from '../lib/cache/index.js';
import { median } from './table.js';
import type { WindowCounts } from './s3-stack.js';

/** What the parent passes. */
export type HydrateChildInput =
  | { phase: 'cold'; url: string; log?: string; cacheDir?: string; sql: string; params: number[] }
  | { phase: 'hydrate'; url: string; log?: string; path: string; options: HydrateOptions }
  | { phase: 'warm'; url: string; path: string; engine: 'asyncify' | 'worker'; lookups: string; scan: string; rounds: number }
  | { phase: 'disk'; url: string; cacheDir: string; pages: number };

/** Result of the warm phase. */
export interface WarmOutput {
  /** One statement of many primary-key lookups, ms per run (median). */
  lookupsMs: number;
  /** The full scan, ms (median). */
  scanMs: number;
  /** Storage read requests during the timed runs (0: all from the file). */
  requests: number;
  /** Bytes the verification read in this (restarted) process, all rounds (0: the files were known verified). */
  verifyBytes: number;
  lookupsResult: string;
  scanResult: string;
}

/** Result of the cold phase. */
export interface ColdStartOutput {
  /** openDatabase, ms. */
  openMs: number;
  /** The first query, ms. */
  queryMs: number;
  /** Both, ms. */
  totalMs: number;
  /** The request log's counts over both (undefined for file://). */
  counts?: WindowCounts;
  readRequests: number;
  disk?: DiskCacheStats;
  result: string;
}

/** Result of the hydrate phase. */
export interface HydrateOutput {
  /** From the start of the open until the file is complete, ms. */
  ms: number;
  /** Of that, the open (listing, page indexes), ms. */
  openMs: number;
  /** Loading the modules the open would load on first use, before `ms` starts (not in it), ms. */
  modulesMs?: number;
  counts?: WindowCounts;
  stats: HydrationStats;
  /** Requests of the reader's own path (page indexes at open). */
  indexRequests: number;
  /** From the start of the open until every file hydrated from is also verified (its checksum matched), ms. */
  verifiedMs: number;
  /** Bytes and range reads the verification made of its own (beyond what the hydration fed it). */
  verifyBytes: number;
  verifyRequests: number;
}

/** Result of the disk phase: µs per page. */
export interface DiskOutput {
  pages: number;
  syncUs: number;
  asyncUs: number;
  /** The reader's path for a disk hit (readPage with the memory cache off), µs per page. */
  readPageUs: number;
}

function log(msg: string): void {
  process.stderr.write(`  [ltxvfs hydrate ${process.pid}] ${msg}\n`);
}

async function window(base: string | undefined, what: 'begin' | 'end', label = 'hydrate'): Promise<WindowCounts | undefined> {
  if (base === undefined) return undefined;
  const r = await fetch(`${base}/__bench/${what}${what === 'end' ? `?label=${encodeURIComponent(label)}` : ''}`);
  return what === 'end' ? ((await r.json()) as WindowCounts) : (await r.arrayBuffer(), undefined);
}

function text(row: Record<string, unknown> | undefined): string {
  return Object.values(row ?? {}).join('|');
}

async function cold(input: Extract<HydrateChildInput, { phase: 'cold' }>): Promise<ColdStartOutput> {
  await window(input.log, 'begin');
  const t0 = performance.now();
  const db = await openDatabase(input.url, { shared: false, pollIntervalMs: 0, warmInterior: false, cacheDir: input.cacheDir });
  const t1 = performance.now();
  const row = await db.get(input.sql, input.params);
  const t2 = performance.now();
  const counts = await window(input.log, 'end', `cold:${input.cacheDir === undefined ? 'none' : 'disk'}`);
  const s = db.stats();
  await db.close();
  return { openMs: t1 - t0, queryMs: t2 - t1, totalMs: t2 - t0, counts, readRequests: s.readRequests, disk: s.diskCache, result: text(row) };
}

async function hydrate(input: Extract<HydrateChildInput, { phase: 'hydrate' }>): Promise<HydrateOutput> {
  // The modules the open loads on first use (the URL scheme's storage backend, hydration),
  // loaded before the clock starts, as the ceiling's child loads undici and aws4 before its
  // own: the row times the hydration, not module loading (the cold-process rows count that).
  const m0 = performance.now();
  const scheme = input.url.slice(0, input.url.indexOf(':'));
  if (scheme !== 'file') await import(`../lib/storage/${scheme}/index.js`);
  await import('../lib/hydrate/hydrator.js');
  const modulesMs = performance.now() - m0;
  await window(input.log, 'begin');
  const t0 = performance.now();
  const client = await openReplicaClient(input.url);
  const reader = await ReplicaReader.open(client, { pollIntervalMs: 0, hydrate: input.path, hydrateOptions: input.options });
  const t1 = performance.now();
  await reader.hydration!.whenReady();
  const t2 = performance.now();
  const counts = await window(input.log, 'end', 'ltxvfs:hydrate');
  // Then until every file hydrated from is verified against its checksum (what `ltxvfs
  // hydrate` waits for before it exits 0), with what the verification itself read.
  await reader.verifyFiles(reader.current.files);
  const t3 = performance.now();
  const stats = reader.hydration!.stats();
  const { verifyBytes, verifyRequests } = reader.stats().verification;
  log(`hydrated in ${Math.round(t2 - t0)} ms: ${stats.readRequests} range reads, ${(stats.bytesRead / 2 ** 20).toFixed(1)} MiB; verified at ${Math.round(t3 - t0)} ms, ${verifyRequests} verification reads, ${(verifyBytes / 2 ** 20).toFixed(1)} MiB`);
  const indexRequests = reader.stats().readRequests;
  await reader.close();
  return { ms: t2 - t0, openMs: t1 - t0, modulesMs, counts, stats, indexRequests, verifiedMs: t3 - t0, verifyBytes, verifyRequests };
}

async function warm(input: Extract<HydrateChildInput, { phase: 'warm' }>): Promise<WarmOutput> {
  const db = await openDatabase(input.url, { engine: input.engine, hydrate: input.path, shared: false, pollIntervalMs: 0, warmInterior: false });
  for (let i = 0; i < 200 && db.stats().hydration?.state !== 'ready'; i++) await new Promise((r) => setTimeout(r, 10));
  if (db.stats().hydration?.state !== 'ready') throw new Error(`${input.path} is not a complete hydration`);
  let lookupsResult = '';
  let scanResult = '';
  const lookups: number[] = [];
  const scans: number[] = [];
  let before = 0;
  for (let i = 0; i < input.rounds + 1; i++) {
    if (i === 1) before = db.stats().readRequests;
    let t = performance.now();
    lookupsResult = text(await db.get(input.lookups));
    if (i > 0) lookups.push(performance.now() - t);
    t = performance.now();
    scanResult = text(await db.get(input.scan));
    if (i > 0) scans.push(performance.now() - t);
  }
  const requests = db.stats().readRequests - before;
  const verifyBytes = db.stats().verification.verifyBytes;
  await db.close();
  return { lookupsMs: median(lookups), scanMs: median(scans), requests, verifyBytes, lookupsResult, scanResult };
}

async function disk(input: Extract<HydrateChildInput, { phase: 'disk' }>): Promise<DiskOutput> {
  const client = await openReplicaClient(input.url);
  const reader = await ReplicaReader.open(client, { pollIntervalMs: 0, cacheSizeBytes: 0, cacheDir: input.cacheDir });
  const cache = reader.diskCache!;
  const version = reader.current;
  const refs: { ref: FrameRef; pgno: number }[] = [];
  for (let pgno = 1; pgno <= version.commit && refs.length < input.pages; pgno++) {
    const ref = version.get(pgno);
    if (ref !== undefined && cache.hasPage(ref)) refs.push({ ref, pgno });
  }
  const rounds = 5;
  const syncRuns: number[] = [];
  const asyncRuns: number[] = [];
  const readPageRuns: number[] = [];
  for (let r = 0; r < rounds; r++) {
    let t = performance.now();
    for (const { ref } of refs) cache.getPage(ref, version.pageSize);
    syncRuns.push(performance.now() - t);
    t = performance.now();
    for (const { ref, pgno } of refs) {
      // The same work through the event loop: read the entry, check its checksum.
      const bytes = await readFile(cache.pagePath(ref));
      const data = bytes.subarray(bytes.length - version.pageSize);
      if (pageChecksum(pgno, data) === 0n) throw new Error('unreachable');
    }
    asyncRuns.push(performance.now() - t);
    t = performance.now();
    for (const { pgno } of refs) {
      const page = reader.readPage(version, pgno);
      if (!(page instanceof Uint8Array)) await page;
    }
    readPageRuns.push(performance.now() - t);
  }
  await reader.close();
  const us = (ms: number): number => (ms * 1000) / Math.max(1, refs.length);
  return { pages: refs.length, syncUs: us(median(syncRuns)), asyncUs: us(median(asyncRuns)), readPageUs: us(median(readPageRuns)) };
}

const chunks: Buffer[] = [];
for await (const c of process.stdin) chunks.push(c as Buffer);
const input = JSON.parse(Buffer.concat(chunks).toString('utf8')) as HydrateChildInput;
const output = input.phase === 'cold' ? await cold(input) : input.phase === 'hydrate' ? await hydrate(input)
  : input.phase === 'warm' ? await warm(input) : await disk(input);
process.stdout.write(`${JSON.stringify(output)}\n`);
