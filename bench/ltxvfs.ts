/**
 * ltxvfs runner: the measurements of bench/ltxvfs-child.ts against any
 * {@link ReplicaLocation} (URL + environment), each phase in a fresh child process, turned
 * into an {@link EngineResult} and the internals comparison; also the timed import and the
 * opens of the L0-files table. The child runs as JavaScript compiled by tsc
 * ({@link buildChild}), not under tsx (see the child's module comment).
 */
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { REPO_ROOT } from '../test/helpers/paths.js';
import type { ChildInput, ColdOutput, ImportOutput, OpenOutput, WarmOutput } from './ltxvfs-child.js';
import { median, medianOf } from './table.js';
import type { EngineResult, Measured, ReplicaLocation, Workload } from './workload.js';

const BENCH_DIR = fileURLToPath(new URL('.', import.meta.url));
/** Where bench/tsconfig.json puts the compiled child (its rootDir is the repository). */
const CHILD_JS = join(BENCH_DIR, '.work', 'build', 'bench', 'ltxvfs-child.js');
/** The S3 section's child (bench/s3-child.ts), compiled alongside. */
export const S3_CHILD_JS = join(BENCH_DIR, '.work', 'build', 'bench', 's3-child.js');

/**
 * Compile the child and what it imports (the library included) with tsc into
 * `bench/.work/build` (incremental). Type errors are reported but do not stop the bench
 * as long as tsc emitted the child (other work in progress may have them).
 */
export async function buildChild(log: (msg: string) => void): Promise<void> {
  const tsc = createRequire(import.meta.url).resolve('typescript/bin/tsc');
  const started = performance.now();
  const { code, output } = await new Promise<{ code: number | null; output: string }>((resolve, reject) => {
    const child = spawn(process.execPath, [tsc, '-p', join(BENCH_DIR, 'tsconfig.json')], { cwd: REPO_ROOT, stdio: ['ignore', 'pipe', 'pipe'] });
    let text = '';
    child.stdout.on('data', (b: Buffer) => (text += b.toString()));
    child.stderr.on('data', (b: Buffer) => (text += b.toString()));
    child.on('error', reject);
    child.on('close', (c) => resolve({ code: c, output: text }));
  });
  for (const js of [CHILD_JS, S3_CHILD_JS]) if (!existsSync(js)) throw new Error(`tsc did not emit ${js} (exit ${code}):\n${output}`);
  if (code !== 0) log(`build: tsc reported errors (the bench goes on with what it emitted):\n${output.trim()}`);
  log(`build: library and child compiled by tsc in ${((performance.now() - started) / 1000).toFixed(1)} s`);
}

/** ltxvfs internals: each switch on and off (medians over rounds). */
export interface InternalsResult {
  /** Warm point lookups per second with the statement cache (default 64) and without (0). */
  stmtCacheOnPerSec: number;
  stmtCacheOffPerSec: number;
  /** Warm full scan ms with syncCacheHits true and false. */
  syncHitsOnMs: number;
  syncHitsOffMs: number;
}

/** Everything the ltxvfs runner found. */
export interface LtxvfsRun {
  result: EngineResult;
  internals: InternalsResult;
  /** Cache size of the warm phase, bytes. */
  warmCacheBytes: number;
  /** Bytes of pages the cache held after the fill scan. */
  warmCacheHeldBytes: number;
  /** Storage requests after the fill scan (0 when the warm figures are truly warm). */
  requestsWhileWarm: number;
  /** Peak RSS of the warm-phase process, bytes. */
  warmPeakRssBytes: number;
  /** The cold scan with the big cache (the fill scan). */
  fillScan: Measured;
}

/** Run one phase in a child process (plain node on the compiled child); its JSON result. */
function runChild<T>(input: ChildInput, env: Record<string, string> = {}): Promise<T> {
  return runChildScript<T>(CHILD_JS, input, env);
}

/**
 * Run the compiled child `js` on plain node with `input` (JSON, on stdin) and `env`
 * merged over this process's environment; its last stdout line parsed as JSON.
 */
export function runChildScript<T>(js: string, input: { phase: string }, env: Record<string, string> = {}, nodeArgs: string[] = []): Promise<T> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [...nodeArgs, js], {
      cwd: REPO_ROOT,
      env: { ...process.env, ...env },
      stdio: ['pipe', 'pipe', 'inherit'],
    });
    // The input (key lists included) is too long for one argument (E2BIG): it goes on stdin.
    child.stdin.end(JSON.stringify(input));
    let out = '';
    child.stdout.setEncoding('utf8');
    child.stdout.on('data', (s: string) => (out += s));
    child.on('error', reject);
    child.on('close', (code) => {
      if (code !== 0) {
        reject(new Error(`${js}: ${input.phase} child exited with ${code}`));
        return;
      }
      try {
        resolve(JSON.parse(out.trim().split('\n').at(-1) ?? '') as T);
      } catch (err) {
        reject(new Error(`${js}: ${input.phase} child printed no result: ${out.slice(0, 500)}`, { cause: err }));
      }
    });
  });
}

/**
 * The ltxvfs measurements against `location`: a cold phase (default 64 MiB cache, fresh
 * `openDatabase` instances) and a warm phase (a cache that holds the whole database), each
 * in its own child process.
 */
export async function runLtxvfs(location: ReplicaLocation, workload: Workload, log: (msg: string) => void): Promise<LtxvfsRun> {
  log(`ltxvfs @ ${location.name}: cold phase (child process, fresh openDatabase instances) …`);
  const cold = await runChild<ColdOutput>({ phase: 'cold', url: location.url, workload }, location.env);
  // Twice the database: what the quick-lru PageCache needed (it kept half to all of its
  // size). The slab PageCache holds its whole size and allocates only what it fills, so
  // the database plus a margin would do; kept so the file:// figures stay comparable.
  const warmCacheBytes = Math.ceil((2 * workload.dbBytes) / 2 ** 20 + 16) * 2 ** 20;
  log(`ltxvfs @ ${location.name}: warm phase (child process, cache ${warmCacheBytes >> 20} MiB) …`);
  const warm = await runChild<WarmOutput>({ phase: 'warm', url: location.url, workload, cacheBytes: warmCacheBytes }, location.env);

  const result: EngineResult = {
    title: `ltxvfs (${location.name})`,
    firstOpen: cold.firstOpen,
    firstLookup: cold.firstLookup,
    open: medianOf(cold.open),
    coldPoint: medianOf(cold.coldPoint),
    coldIndex: medianOf(cold.coldIndex),
    coldRange: medianOf(cold.coldRange),
    warmPointPerSec: warm.warmPointPerSec,
    inStatementPerSec: warm.inStatementPerSec,
    coldScan: medianOf(cold.coldScan),
    warmScan: medianOf(warm.warmScan),
    peakRssBytes: cold.peakRssBytes,
    startRssBytes: cold.startRssBytes,
    scanResult: cold.scanResult,
    notes: [],
  };
  return {
    result,
    internals: {
      stmtCacheOnPerSec: median(warm.stmtCacheOn),
      stmtCacheOffPerSec: median(warm.stmtCacheOff),
      syncHitsOnMs: median(warm.syncHitsOn),
      syncHitsOffMs: median(warm.syncHitsOff),
    },
    warmCacheBytes,
    warmCacheHeldBytes: warm.cacheBytes,
    requestsWhileWarm: warm.requestsWhileWarm,
    warmPeakRssBytes: warm.peakRssBytes,
    fillScan: warm.fillScan,
  };
}

/**
 * Open each of `urls` `samples` times in one child process (fresh `openDatabase` instance
 * each, after one untimed open that compiles the wasm); per URL the median open time and
 * the storage counters at open (the listing is not a read request).
 */
export async function measureOpens(urls: string[], samples: number): Promise<Measured[]> {
  const out = await runChild<OpenOutput>({ phase: 'open', urls, samples });
  return out.map(medianOf);
}

/** Import the SQLite file `dbPath` into a new replica `dir` (removed first) with importDatabase, in a child; timed. */
export async function importWithLtxvfs(dbPath: string, dir: string): Promise<ImportOutput & { url: string }> {
  const url = pathToFileURL(dir).href;
  const out = await runChild<ImportOutput>({ phase: 'import', dbPath, url });
  return { ...out, url };
}
