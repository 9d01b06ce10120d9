/**
 * The engines section (`npm run bench -- --engines`, or `--only engines`): the engine
 * paths side by side on one dataset — the in-process Asyncify engine, the worker engine,
 * the sql.js adapter, sql.js on an in-memory copy of the database file (the reference of
 * the targets) and native SQLite (the sqlite3 CLI on the file) — for warm full-scan MiB/s,
 * warm prepared point lookups per second, lookups inside one statement, peak RSS, and the
 * cold point lookup over S3 with added latency (s3rver behind the fault proxy,
 * bench/s3-stack.ts). Each engine runs in its own child process (bench/engines-child.ts).
 *
 * Targets (issue 6): the worker engine and the sql.js adapter within 1.3× of sql.js on an
 * in-memory copy for warm scans and point lookups, and at least 2.5× faster than the
 * Asyncify engine on warm scans. What each figure means: docs/bench.md and docs/engines.md.
 */
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { prepareDataset, type Dataset } from './dataset.js';
import type { EngineKind, EnginesChildInput, EnginesColdOutput, EnginesWarmOutput } from './engines-child.js';
import { importWithLtxvfs, runChildScript } from './ltxvfs.js';
import { runNative } from './native.js';
import { uploadItemsReplica } from './s3-replica.js';
import { S3_ENV, startS3Stack } from './s3-stack.js';
import { fmtFactor, fmtMiB, fmtMiBs, fmtMs, fmtRate, markdownTable, median, mibPerSecond } from './table.js';
import { makeWorkload, type EngineResult } from './workload.js';

const ENGINES_CHILD_JS = join(fileURLToPath(new URL('.', import.meta.url)), '.work', 'build', 'bench', 'engines-child.js');

/** The engines measured from replicas, in table order, with the in-memory reference. */
const WARM_ENGINES: readonly EngineKind[] = ['asyncify', 'worker', 'sqljs', 'sqljs-memory'];
const COLD_ENGINES: readonly EngineKind[] = ['asyncify', 'worker', 'sqljs'];

const TITLES: Record<EngineKind, string> = {
  asyncify: 'ltxvfs Asyncify (in process)',
  worker: 'ltxvfs worker engine',
  sqljs: 'ltxvfs sql.js adapter',
  'sqljs-memory': 'sql.js, in-memory copy',
};

/** Options of {@link runEnginesSection}. */
export interface EnginesSectionOptions {
  workDir: string;
  sizeMiB: number;
  seed: number;
  quick: boolean;
  /** Added latency per S3 request, ms (0 skips the S3 part). */
  latencyMs: number;
  native: boolean;
  log: (msg: string) => void;
}

/** Everything the section measured. */
export interface EnginesSectionResult {
  dataset: Dataset;
  warm: Partial<Record<EngineKind, EnginesWarmOutput>>;
  cold: Partial<Record<EngineKind, EnginesColdOutput>>;
  native: EngineResult | undefined;
  latencyMs: number;
  /** Passes over the engines (a fresh child each), and timed rounds per child. */
  passes: number;
  rounds: number;
  lookups: number;
  coldSamples: number;
  seconds: number;
}

/** Run the section. */
export async function runEnginesSection(o: EnginesSectionOptions): Promise<EnginesSectionResult> {
  const started = performance.now();
  const dataset = await prepareDataset(o.workDir, o.sizeMiB, o.seed, o.log);
  const replica = await importWithLtxvfs(dataset.dbPath, join(o.workDir, 'replicas', `engines-${o.sizeMiB}mib-seed${o.seed}`));
  const w = makeWorkload(dataset.rows, dataset.bytes, o.seed, o.quick);
  // Twice the database: the page caches (two generations each) then hold all of it.
  const cacheBytes = Math.ceil((2 * dataset.bytes) / 2 ** 20 + 16) * 2 ** 20;
  // Several passes over the engines in alternating order, each engine in a fresh child
  // per pass: load from other work on the machine then falls on every engine alike.
  const passes = o.quick ? 1 : 3;
  const rounds = o.quick ? 3 : 5;
  const warm: EnginesSectionResult['warm'] = {};
  for (let pass = 0; pass < passes; pass++) {
    for (const engine of pass % 2 === 0 ? WARM_ENGINES : [...WARM_ENGINES].reverse()) {
      o.log(`engines: ${engine}, warm (child process, pass ${pass + 1}/${passes}) …`);
      const input: EnginesChildInput = {
        phase: 'warm', engine, url: replica.url, dbPath: dataset.dbPath, cacheBytes, rows: dataset.rows,
        warmupIds: w.warmupIds, warmIds: w.warmIds, scanSamples: rounds, rounds, inStatementLookups: w.inStatementLookups,
      };
      const out = await runChildScript<EnginesWarmOutput>(ENGINES_CHILD_JS, input);
      const seen = warm[engine];
      warm[engine] = seen === undefined ? out : {
        fillScanMs: Math.min(seen.fillScanMs, out.fillScanMs),
        scanMs: [...seen.scanMs, ...out.scanMs],
        pointPerSec: [...seen.pointPerSec, ...out.pointPerSec],
        pipelinedPerSec: [...seen.pipelinedPerSec, ...out.pipelinedPerSec],
        inStatementPerSec: [...seen.inStatementPerSec, ...out.inStatementPerSec],
        scanResult: seen.scanResult === out.scanResult ? seen.scanResult : `${seen.scanResult} / ${out.scanResult}`,
        startRssBytes: Math.min(seen.startRssBytes, out.startRssBytes),
        peakRssBytes: Math.max(seen.peakRssBytes, out.peakRssBytes),
      };
    }
  }
  const native = o.native ? await runNative(dataset.dbPath, w, o.log) : undefined;
  const cold: EnginesSectionResult['cold'] = {};
  if (o.latencyMs > 0) {
    const stack = await startS3Stack({ latencyMs: o.latencyMs, logFile: join(o.workDir, 'engines-s3-requests.jsonl') });
    try {
      o.log(`engines: uploading the replica to s3rver (+${o.latencyMs} ms per request when read) …`);
      const upload = await uploadItemsReplica(stack, dataset, `engines-${o.sizeMiB}mib`, 1);
      for (const engine of COLD_ENGINES) {
        o.log(`engines: ${engine}, cold point lookups over S3 …`);
        const input: EnginesChildInput = { phase: 'cold', engine, url: upload.url, ids: w.coldIds };
        cold[engine] = await runChildScript<EnginesColdOutput>(ENGINES_CHILD_JS, input, S3_ENV);
      }
    } finally {
      await stack.close();
    }
  }
  return {
    dataset, warm, cold, native, latencyMs: o.latencyMs, passes, rounds, lookups: w.warmIds.length, coldSamples: w.coldIds.length,
    seconds: (performance.now() - started) / 1000,
  };
}

/** The section as markdown: the figures, then the targets. */
export function renderEngines(r: EnginesSectionResult): string {
  const d = r.dataset;
  const scanMs = (e: EngineKind): number => median(r.warm[e]?.scanMs ?? []);
  const points = (e: EngineKind): number => median(r.warm[e]?.pointPerSec ?? []);
  const columns = [...WARM_ENGINES.filter((e) => r.warm[e] !== undefined)];
  const header = ['', ...columns.map((e) => TITLES[e]), ...(r.native === undefined ? [] : ['native SQLite (sqlite3 CLI)'])];
  const nativeCell = (f: (n: EngineResult) => string): string[] => (r.native === undefined ? [] : [f(r.native)]);
  const rows: string[][] = [
    ['warm full scan', ...columns.map((e) => `${fmtMiBs(mibPerSecond(d.bytes, scanMs(e)))} (${fmtMs(scanMs(e))})`),
      ...nativeCell((n) => `${fmtMiBs(mibPerSecond(d.bytes, n.warmScan.ms))} (${fmtMs(n.warmScan.ms)})`)],
    ['warm point lookups, one call at a time', ...columns.map((e) => fmtRate(points(e))), ...nativeCell((n) => `${fmtRate(n.warmPointPerSec)} ¹`)],
    ['warm point lookups, 256 calls in flight', ...columns.map((e) => (r.warm[e]?.pipelinedPerSec.length ? fmtRate(median(r.warm[e]!.pipelinedPerSec)) : '—')), ...nativeCell(() => '—')],
    ['lookups inside one statement', ...columns.map((e) => fmtRate(median(r.warm[e]?.inStatementPerSec ?? []))), ...nativeCell((n) => fmtRate(n.inStatementPerSec))],
    [`cold point lookup over S3 (+${r.latencyMs} ms)`, ...columns.map((e) => (r.cold[e] === undefined ? '—' : `${fmtMs(median(r.cold[e]!.pointMs))} (min ${fmtMs(Math.min(...r.cold[e]!.pointMs))})`)), ...nativeCell(() => '—')],
    ['peak RSS of the process', ...columns.map((e) => `${fmtMiB(r.warm[e]?.peakRssBytes)} (start ${fmtMiB(r.warm[e]?.startRssBytes)})`), ...nativeCell((n) => fmtMiB(n.peakRssBytes))],
  ];
  const results = new Set(columns.map((e) => r.warm[e]?.scanResult));
  const ref = 'sqljs-memory' as const;
  const target = (ok: boolean): string => (ok ? 'met' : '**missed**');
  const targetRows: string[][] = [];
  for (const e of ['worker', 'sqljs'] as const) {
    if (r.warm[e] === undefined) continue;
    if (r.warm[ref] !== undefined) {
      const scanRatio = scanMs(e) / scanMs(ref);
      const pointRatio = points(ref) / points(e);
      targetRows.push([`${TITLES[e]}: warm scan within 1.3× of sql.js in memory`, `${fmtFactor(scanRatio)} the time`, target(scanRatio <= 1.3)]);
      targetRows.push([`${TITLES[e]}: point lookups within 1.3× of sql.js in memory`, `${fmtFactor(pointRatio)} the time per lookup`, target(pointRatio <= 1.3)]);
      const inFlight = r.warm[e]?.pipelinedPerSec ?? [];
      if (inFlight.length > 0) {
        const ratio = points(ref) / median(inFlight);
        targetRows.push([`${TITLES[e]}: point lookups, 256 in flight, within 1.3× of sql.js in memory`, `${fmtFactor(ratio)} the time per lookup`, target(ratio <= 1.3)]);
      }
    }
    if (r.warm.asyncify !== undefined) {
      const speedup = scanMs('asyncify') / scanMs(e);
      targetRows.push([`${TITLES[e]}: warm scan ≥ 2.5× faster than Asyncify`, `${fmtFactor(speedup)} faster`, target(speedup >= 2.5)]);
    }
  }
  return [
    `### Engine paths (${fmtMiB(d.bytes)} database, ${d.rows.toLocaleString('en-US')} rows)`,
    '',
    markdownTable(header, rows),
    '',
    `Medians over ${r.passes} pass${r.passes === 1 ? '' : 'es'} (engines in alternating order, a fresh child process per engine and pass) of ${r.rounds} rounds each (a scan, ${r.lookups.toLocaleString('en-US')} lookups, the one statement), after an untimed fill scan and warm-up; ltxvfs paths with page caches (reader and thread-local) of twice the database. The worker engine's and Asyncify's lookups are \`await db.get(sql, [id])\`; the sql.js paths reuse one prepared statement (\`bind\`, \`step\`, \`get\`, \`reset\`). Cold S3: ${r.coldSamples} fresh connections, each with its own reader (\`shared: false\`, \`warmInterior: false\`), one lookup timed after the open.${results.size > 1 ? ` **The engines disagree on the scan result:** ${columns.map((e) => `${e}: ${r.warm[e]?.scanResult}`).join('; ')}` : ''}`,
    ...(r.native === undefined ? [] : ['', '¹ The CLI parses and prepares every lookup (it has no bind loop); its scan reads the OS file cache through a 2 MiB page cache.']),
    '',
    targetRows.length === 0 ? '' : markdownTable(['target', 'measured', ''], targetRows),
  ].join('\n');
}
