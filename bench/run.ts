/**
 * `npm run bench [-- --size-mib N] [-- --quick] [-- --seed S] [-- --skip litestream,native,l0,file,s3,s3-l0]`
 * `[-- --s3-size-mib N] [-- --s3-latency-ms MS] [-- --s3-l0-files N] [-- --s3-scan-mib MIB]`
 * `[-- --hydrate] [-- --hydrate-size-mib N] [-- --hydrate-l0-files N] [-- --hydrate-cap-s S]` (`--hydrate` adds the
 * restart-and-hydration section, bench/hydrate.ts; alone: `--hydrate --skip file,l0,s3,…`)
 * `[-- --engines-size-mib N]` (`--skip engines` leaves the engine-paths section out, `--skip engines-s3` its S3 part)
 * `[-- --service-size-mib N] [-- --service-poll-s S] [-- --service-commits N]` (the service section of issues 14 and 15,
 * bench/service.ts: cold process over S3, lookups in one transaction, scan and hydration against the link ceiling, poll
 * cost, writes, concurrent reads, iterate(); `--skip service` leaves it out; alone: `--skip file,l0,s3,engines`)
 * `[-- --backends-size-mib N]` (the per-backend section of issue 16, bench/backends.ts: open, cold lookup and scan on s3, abs,
 * gs, sftp, webdav, nats beside file://; `--skip backends` leaves it out; alone: `--skip file,l0,s3,engines,service`)
 *
 * Generates (or reuses, from bench/.work/data) a database of `--size-mib` MiB (default
 * 128; `--quick`: 16 MiB and fewer samples), imports it into a fresh file:// replica with
 * importDatabase, and measures ltxvfs, native SQLite (sqlite3 CLI on the local file) and
 * the real Litestream VFS (sqlite3 CLI + litestream-vfs.so on the same replica) doing the
 * same work. Progress goes to stderr; the tables to stdout and to bench/.work/results.md.
 * What each row measures, and the caveats: docs/bench.md.
 *
 * Replica locations: `locations` below is the list the ltxvfs and Litestream columns are
 * measured on (a URL + environment each, see {@link ReplicaLocation}); a remote location
 * (S3 behind a latency-adding proxy) is one more entry.
 *
 * The S3 section (bench/s3.ts) comes last: its own database (`--s3-size-mib`, default 200;
 * `--quick` 16), imported into s3rver behind the fault proxy adding `--s3-latency-ms`
 * (default 10) per request, measured with ltxvfs (interior warm-up on and off), the
 * Litestream VFS and native SQLite, with targets against the Litestream VFS.
 */
import { cpus, loadavg } from 'node:os';
import { mkdir, readFile, rm, writeFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { requireSqlite3 } from '../test/helpers/paths.js';
import { prepareDataset, type Dataset } from './dataset.js';
import { measureL0, type L0Row } from './l0.js';
import { LITESTREAM_TMP_DIR, runLitestream } from './litestream.js';
import { buildChild, importWithLtxvfs, runLtxvfs, type LtxvfsRun } from './ltxvfs.js';
import { runNative } from './native.js';
import { renderS3, runS3Section, type S3SectionResult } from './s3.js';
import { renderHydrate, runHydrateSection, type HydrateSectionResult } from './hydrate.js';
import { renderEngines, runEnginesSection, type EnginesSectionResult } from './engines.js';
import { renderService, runServiceSection, type ServiceSectionResult } from './service.js';
import { renderBackends, runBackendsSection, type BackendsSectionResult } from './backends.js';
import { fmtCount, fmtFactor, fmtMiB, fmtMiBs, fmtMs, fmtRate, markdownTable, mibPerSecond } from './table.js';
import { makeWorkload, RANGE_ROWS, type EngineResult, type Measured, type ReplicaLocation, type Workload } from './workload.js';

const WORK_DIR = fileURLToPath(new URL('./.work/', import.meta.url)).replace(/\/$/, '');
const L0_COUNTS = [1, 100, 1000];
const SKIPPABLE = new Set(['litestream', 'native', 'l0', 'file', 's3', 's3-l0', 'engines', 'engines-s3', 'service', 'backends']);

const started = performance.now();
const loadAtStart = loadavg()[0];
const log = (msg: string): void => {
  process.stderr.write(`[bench ${((performance.now() - started) / 1000).toFixed(1).padStart(6)} s] ${msg}\n`);
};

const { values: args } = parseArgs({
  options: {
    'size-mib': { type: 'string' },
    quick: { type: 'boolean', default: false },
    seed: { type: 'string', default: '1' },
    skip: { type: 'string', default: '' },
    's3-size-mib': { type: 'string' },
    's3-latency-ms': { type: 'string', default: '10' },
    's3-l0-files': { type: 'string' },
    's3-scan-mib': { type: 'string' },
    // The restart-and-hydration section (bench/hydrate.ts), run only when asked: database size, L0 files, Litestream time cap.
    hydrate: { type: 'boolean', default: false },
    'hydrate-size-mib': { type: 'string' },
    'hydrate-l0-files': { type: 'string' },
    'hydrate-cap-s': { type: 'string' },
    'engines-size-mib': { type: 'string' },
    // The service section (bench/service.ts): database size, seconds of each poll window, timed commits per writer.
    'service-size-mib': { type: 'string' },
    'service-poll-s': { type: 'string' },
    'service-commits': { type: 'string' },
    // The per-backend section (bench/backends.ts): database size.
    'backends-size-mib': { type: 'string' },
  },
});
const quick = args.quick === true;
const sizeMiB = Number(args['size-mib'] ?? (quick ? 16 : 128));
const seed = Number(args.seed);
const skip = new Set((args.skip ?? '').split(',').map((s) => s.trim()).filter(Boolean));
if (!Number.isInteger(sizeMiB) || sizeMiB < 1) throw new Error(`--size-mib must be a positive integer, got ${args['size-mib']}`);
if (!Number.isInteger(seed) || seed < 0) throw new Error(`--seed must be a non-negative integer, got ${args.seed}`);
for (const s of skip) if (!SKIPPABLE.has(s)) throw new Error(`--skip takes a comma-separated list of ${[...SKIPPABLE].join(', ')}; got ${s}`);
const s3SizeMiB = Number(args['s3-size-mib'] ?? (quick ? 16 : 200));
const s3LatencyMs = Number(args['s3-latency-ms']);
const s3L0Files = Number(args['s3-l0-files'] ?? (quick ? 20 : 200));
const s3ScanMiB = Number(args['s3-scan-mib'] ?? (quick ? 0.5 : 4));
if (!Number.isInteger(s3SizeMiB) || s3SizeMiB < 1) throw new Error(`--s3-size-mib must be a positive integer, got ${args['s3-size-mib']}`);
if (!Number.isFinite(s3LatencyMs) || s3LatencyMs < 0) throw new Error(`--s3-latency-ms must be a non-negative number, got ${args['s3-latency-ms']}`);
if (!Number.isInteger(s3L0Files) || s3L0Files < 1) throw new Error(`--s3-l0-files must be a positive integer, got ${args['s3-l0-files']}`);
if (!Number.isFinite(s3ScanMiB) || s3ScanMiB <= 0) throw new Error(`--s3-scan-mib must be a positive number, got ${args['s3-scan-mib']}`);
const enginesSizeMiB = Number(args['engines-size-mib'] ?? (quick ? 8 : 32));
if (!Number.isInteger(enginesSizeMiB) || enginesSizeMiB < 1) throw new Error(`--engines-size-mib must be a positive integer, got ${args['engines-size-mib']}`);
const serviceSizeMiB = Number(args['service-size-mib'] ?? (quick ? 16 : 256));
const servicePollS = Number(args['service-poll-s'] ?? (quick ? 5 : 30));
const serviceCommits = Number(args['service-commits'] ?? (quick ? 50 : 200));
if (!Number.isInteger(serviceSizeMiB) || serviceSizeMiB < 1) throw new Error(`--service-size-mib must be a positive integer, got ${args['service-size-mib']}`);
if (!Number.isFinite(servicePollS) || servicePollS <= 0) throw new Error(`--service-poll-s must be a positive number, got ${args['service-poll-s']}`);
if (!Number.isInteger(serviceCommits) || serviceCommits < 1) throw new Error(`--service-commits must be a positive integer, got ${args['service-commits']}`);
const backendsSizeMiB = Number(args['backends-size-mib'] ?? (quick ? 8 : 32));
if (!Number.isInteger(backendsSizeMiB) || backendsSizeMiB < 3) throw new Error(`--backends-size-mib must be an integer of at least 3 (its snapshot must exceed 2 MiB), got ${args['backends-size-mib']}`);
const S3_L0_COUNTS = quick ? [1, 100] : [1, 100, 1000];
const hydrateSizeMiB = Number(args['hydrate-size-mib'] ?? (quick ? 16 : 200));
const hydrateL0Files = Number(args['hydrate-l0-files'] ?? 20);
const hydrateCapS = Number(args['hydrate-cap-s'] ?? (quick ? 60 : 300));
if (!Number.isInteger(hydrateSizeMiB) || hydrateSizeMiB < 1) throw new Error(`--hydrate-size-mib must be a positive integer, got ${args['hydrate-size-mib']}`);
if (!Number.isInteger(hydrateL0Files) || hydrateL0Files < 1) throw new Error(`--hydrate-l0-files must be a positive integer, got ${args['hydrate-l0-files']}`);
if (!Number.isFinite(hydrateCapS) || hydrateCapS <= 0) throw new Error(`--hydrate-cap-s must be a positive number, got ${args['hydrate-cap-s']}`);

await mkdir(WORK_DIR, { recursive: true });
const sqliteVersion = requireSqlite3().split(' ')[0];
const litestreamVersion = (JSON.parse(
  await readFile(createRequire(import.meta.url).resolve('litestream-vfs-linux-amd64/package.json'), 'utf8'),
) as { version: string }).version;
await buildChild(log);

/** The file:// side-by-side section (skipped with `--skip file`). */
interface FileSection {
  dataset: Dataset;
  replica: Awaited<ReturnType<typeof importWithLtxvfs>>;
  workload: Workload;
  ltxvfsRuns: LtxvfsRun[];
  native: EngineResult | undefined;
  litestreamResults: EngineResult[];
}

let file: FileSection | undefined;
if (!skip.has('file')) {
  const dataset = await prepareDataset(WORK_DIR, sizeMiB, seed, log);
  log('import: importDatabase into a new file:// replica (child process) …');
  const replica = await importWithLtxvfs(dataset.dbPath, join(WORK_DIR, 'replicas', `items-${sizeMiB}mib-seed${seed}`));
  log(`import: ${fmtMiB(replica.ltxBytes)} LTX in ${fmtMs(replica.ms)}`);
  const workload = makeWorkload(dataset.rows, dataset.bytes, seed, quick);

  const locations: ReplicaLocation[] = [{ name: 'file://', url: replica.url, env: {} }];

  const ltxvfsRuns: LtxvfsRun[] = [];
  const litestreamResults: EngineResult[] = [];
  for (const location of locations) {
    ltxvfsRuns.push(await runLtxvfs(location, workload, log));
  }
  const native = skip.has('native') ? undefined : await runNative(dataset.dbPath, workload, log);
  if (!skip.has('litestream')) {
    for (const location of locations) litestreamResults.push(await runLitestream(location, workload, WORK_DIR, log));
  }
  file = { dataset, replica, workload, ltxvfsRuns, native, litestreamResults };
}
let l0Rows: L0Row[] = [];
if (!skip.has('l0')) {
  log('l0: open cost against the number of L0 files …');
  l0Rows = await measureL0(WORK_DIR, L0_COUNTS, quick ? 5 : 9, !skip.has('litestream'), log);
}
let s3: S3SectionResult | undefined;
if (!skip.has('s3')) {
  log(`s3: section on a ${s3SizeMiB} MiB database, +${s3LatencyMs} ms per request …`);
  s3 = await runS3Section({
    workDir: WORK_DIR, sizeMiB: s3SizeMiB, seed, quick, latencyMs: s3LatencyMs, l0Files: s3L0Files, prefixMiB: s3ScanMiB,
    l0Counts: skip.has('s3-l0') ? [] : S3_L0_COUNTS, litestream: !skip.has('litestream'), native: !skip.has('native'), log,
  });
  log(`s3: section done in ${s3.seconds.toFixed(0)} s`);
}
let engines: EnginesSectionResult | undefined;
if (!skip.has('engines')) {
  log(`engines: section on a ${enginesSizeMiB} MiB database (bench/engines.ts) …`);
  engines = await runEnginesSection({
    workDir: WORK_DIR, sizeMiB: enginesSizeMiB, seed, quick, latencyMs: skip.has('engines-s3') ? 0 : s3LatencyMs, native: !skip.has('native'), log,
  });
  log(`engines: section done in ${engines.seconds.toFixed(0)} s`);
}
let service: ServiceSectionResult | undefined;
if (!skip.has('service')) {
  log(`service: section on a ${serviceSizeMiB} MiB database, +${s3LatencyMs} ms per request on S3 (bench/service.ts) …`);
  service = await runServiceSection({
    workDir: WORK_DIR, sizeMiB: serviceSizeMiB, seed, quick, latencyMs: s3LatencyMs, pollSeconds: servicePollS, commits: serviceCommits,
    litestream: !skip.has('litestream'), native: !skip.has('native'), log,
  });
  log(`service: section done in ${service.seconds.toFixed(0)} s`);
}
let backends: BackendsSectionResult | undefined;
if (!skip.has('backends')) {
  log(`backends: section on a ${backendsSizeMiB} MiB database (bench/backends.ts) …`);
  backends = await runBackendsSection({ workDir: WORK_DIR, sizeMiB: backendsSizeMiB, seed, litestream: !skip.has('litestream'), log });
  log(`backends: section done in ${backends.seconds.toFixed(0)} s`);
}
let hydrate: HydrateSectionResult | undefined;
if (args.hydrate === true) {
  log(`hydrate: restarts and hydration on a ${hydrateSizeMiB} MiB database, +${s3LatencyMs} ms per request …`);
  hydrate = await runHydrateSection({
    workDir: WORK_DIR, sizeMiB: hydrateSizeMiB, seed, quick, latencyMs: s3LatencyMs, l0Files: hydrateL0Files,
    litestream: !skip.has('litestream'), native: !skip.has('native'), litestreamCapMs: hydrateCapS * 1000, log,
  });
  log(`hydrate: section done in ${hydrate.seconds.toFixed(0)} s`);
}
await rm(LITESTREAM_TMP_DIR, { recursive: true, force: true });
const runSeconds = (performance.now() - started) / 1000;
log(`done in ${runSeconds.toFixed(0)} s`);

const report = render();
process.stdout.write(`${report}\n`);
await writeFile(join(WORK_DIR, 'results.md'), `${report}\n`);
await writeFile(
  join(WORK_DIR, 'results.json'),
  JSON.stringify({
    args,
    ...(file === undefined ? {} : {
      dataset: file.dataset, replica: file.replica,
      workload: { ...file.workload, coldIds: undefined, coldKs: undefined, rangeStarts: undefined, warmupIds: undefined, warmIds: undefined },
      ltxvfsRuns: file.ltxvfsRuns, native: file.native, litestreamResults: file.litestreamResults,
    }),
    l0Rows, s3, engines, service, backends, hydrate, runSeconds,
  }, null, 2),
);
log(`tables written to ${join(WORK_DIR, 'results.md')}`);

function render(): string {
  const out: string[] = [];
  const title = file === undefined ? (s3 === undefined ? (service === undefined ? (backends === undefined ? 'no sections' : `per-backend section, ${fmtMiB(backends.dataset.bytes)} database`) : `service section, ${fmtMiB(service.dataset.bytes)} database`) : `S3 section, ${fmtMiB(s3.dataset.bytes)} database`) : `${fmtMiB(file.dataset.bytes)} database`;
  out.push(`## ltxvfs bench: ${title}, ${new Date().toISOString().slice(0, 10)}`);
  out.push('');
  out.push(
    `${cpus().length} × ${cpus()[0]?.model.trim() ?? 'CPU'}, Node ${process.version}, sqlite3 ${sqliteVersion}, ` +
      `litestream-vfs ${litestreamVersion}; run time ${runSeconds.toFixed(0)} s${quick ? ' (--quick)' : ''}${s3 === undefined ? '' : ` (of which the S3 section ${s3.seconds.toFixed(0)} s)`}; ` +
      `1-minute load average ${loadAtStart.toFixed(1)} at the start, ${loadavg()[0].toFixed(1)} at the end (the machine is shared: other load shows as noise).`,
  );
  if (file !== undefined) {
    const f = file;
    const columns: EngineResult[] = [];
    // Side by side per location: ltxvfs, then native (location-free), then Litestream.
    f.ltxvfsRuns.forEach((run, i) => {
      columns.push(run.result);
      if (i === 0 && f.native !== undefined) columns.push(f.native);
      if (f.litestreamResults[i] !== undefined) columns.push(f.litestreamResults[i]);
    });
    out.push('');
    out.push(datasetTable(f));
    out.push('');
    out.push(`### Side by side: the same queries on the same data (${fmtMiB(f.dataset.bytes)})`);
    out.push('');
    out.push(engineTable(f, columns));
    out.push('');
    out.push(engineNotes(f, columns));
    for (const run of f.ltxvfsRuns) {
      out.push('');
      out.push(`### ltxvfs internals (${run.result.title}, warm: cache ${fmtMiB(run.warmCacheBytes)} holding ${fmtMiB(run.warmCacheHeldBytes)}, ${run.requestsWhileWarm} storage requests while warm)`);
      out.push('');
      out.push(internalsTable(f, run));
    }
  }
  if (l0Rows.length > 0) {
    out.push('');
    out.push('### Open cost against the number of L0 files (1 MiB database, file://)');
    out.push('');
    out.push(l0Table(l0Rows));
  }
  if (s3 !== undefined) {
    out.push('');
    out.push(renderS3(s3));
  }
  if (hydrate !== undefined) {
    out.push('');
    out.push(renderHydrate(hydrate));
  }
  if (engines !== undefined) {
    out.push('');
    out.push(renderEngines(engines));
  }
  if (service !== undefined) {
    out.push('');
    out.push(renderService(service));
  }
  if (backends !== undefined) {
    out.push('');
    out.push(renderBackends(backends));
  }
  return out.join('\n');
}

function datasetTable(f: FileSection): string {
  const { dataset, replica } = f;
  const rows = [
    ['database', `${fmtMiB(dataset.bytes)}: ${fmtCount(dataset.rows)} rows, ${fmtCount(dataset.pageCount)} pages of ${dataset.pageSize} B; table ${fmtMiB(dataset.tableBytes)}, index ${fmtMiB(dataset.indexBytes)}`],
    ['generation (sqlite3 CLI)', dataset.cached ? `cached (took ${fmtMs(dataset.generationMs)} when made)` : fmtMs(dataset.generationMs)],
    ['import (importDatabase → file://)', `${fmtMs(replica.ms)}, ${fmtMiBs(mibPerSecond(dataset.bytes, replica.ms))}; snapshot LTX ${fmtMiB(replica.ltxBytes)} (${(replica.ltxBytes / dataset.bytes * 100).toFixed(0)} % of the database)`],
  ];
  return markdownTable(['dataset', ''], rows);
}

/** `6.29 ms · 3 req · 13 pg` */
function cell(m: Measured | undefined): string {
  if (m === undefined) return '—';
  const parts = [m.minMs === undefined ? fmtMs(m.ms) : `${fmtMs(m.ms)} (min ${fmtMs(m.minMs)})`];
  if (m.requests !== undefined) parts.push(`${fmtCount(m.requests)} req`);
  if (m.pages !== undefined) parts.push(`${fmtCount(m.pages)} pg`);
  return parts.join(' · ');
}

function scanCell(m: Measured, w: Workload): string {
  const parts = [`${fmtMiBs(mibPerSecond(w.dbBytes, m.ms))} (${fmtMs(m.ms)})`];
  if (m.requests !== undefined) {
    const avg = m.bytesRead !== undefined && m.requests > 0 ? ` of ${Math.round(m.bytesRead / m.requests / 1024)} KiB on average` : '';
    parts.push(`${fmtCount(m.requests)} req${avg}`);
  }
  return parts.join(' · ');
}

function engineTable(f: FileSection, columns: EngineResult[]): string {
  const { workload } = f;
  const ltx = (c: EngineResult): LtxvfsRun | undefined => f.ltxvfsRuns.find((r) => r.result === c);
  const rows: [string, (c: EngineResult) => string][] = [
    ['first open in a fresh process ¹', (c) => cell(c.firstOpen)],
    ['first point lookup in that process ¹', (c) => cell(c.firstLookup)],
    ['open + schema read, fresh connection ²', (c) => cell(c.open)],
    ['cold point lookup by id ³', (c) => cell(c.coldPoint)],
    ['cold lookup via secondary index ³', (c) => cell(c.coldIndex)],
    [`cold range of ${fmtCount(RANGE_ROWS)} rows ³`, (c) => cell(c.coldRange)],
    ['warm point lookups, one call each ⁴', (c) => fmtRate(c.warmPointPerSec)],
    [`warm lookups inside one statement ⁵`, (c) => fmtRate(c.inStatementPerSec)],
    ['cold full scan ⁶', (c) => scanCell(c.coldScan, workload)],
    ['full scan again, same connection ⁷', (c) => scanCell(c.warmScan, workload)],
    ['peak RSS of the process ⁸', (c) => {
      const run = ltx(c);
      const start = c.startRssBytes === undefined ? '' : ` (start ${fmtMiB(c.startRssBytes)})`;
      if (run === undefined) return `${fmtMiB(c.peakRssBytes)}${start}`;
      return `cold: ${fmtMiB(c.peakRssBytes)}${start}; warm: ${fmtMiB(run.warmPeakRssBytes)}`;
    }],
  ];
  return markdownTable(
    ['', ...columns.map((c) => c.title)],
    rows.map(([label, f]) => [label, ...columns.map(f)]),
  );
}

function engineNotes(f: FileSection, columns: EngineResult[]): string {
  const { workload, ltxvfsRuns } = f;
  const lines = [
    'Cells: median time (fastest sample) · storage read requests · pages decoded from storage (ltxvfs: `stats()` deltas; Litestream VFS: page reads in its DEBUG log, counted in a separate process; native: none).',
    'ltxvfs runs in child processes, as JavaScript compiled by tsc (not under tsx, whose `keepNames` transform slows hot paths): a cold phase (default 64 MiB cache, a fresh `openDatabase` instance per measurement) and a warm phase (one ReplicaReader whose cache holds the whole database, filled by a scan). The CLI engines run in one long-lived `sqlite3` process each, driven over stdin; each batch is timed in Node from the write to its end marker on stdout, minus the round trip of an empty batch (~20–50 µs); "fresh connection" is a new `.open`.',
    '¹ ltxvfs: the first `openDatabase` of the child process (wasm compile, listing, snapshot header and page index, schema read); CLIs: the first `.open` + `SELECT 1 FROM sqlite_schema LIMIT 1` after process start (Litestream: after `.load`). Process start-up itself is excluded everywhere. Then the first point lookup on that connection.',
    '² ltxvfs: a fresh `openDatabase` instance in a process that has already done 5 untimed rounds of open + the three cold queries (so the wasm is compiled and tiered up); CLIs: `.open` again + schema read.',
    '³ A fresh connection each sample (opened and schema read first, not timed), then the one statement timed. Native SQLite reads from the OS file cache (warm), so its "cold" is SQLite-cache-cold only.',
    `⁴ ltxvfs: \`db.get(sql, [id])\` in a loop, prepared statement cached; CLIs: one SQL statement per lookup with the id inlined, so each is parsed and prepared (and over the Litestream VFS SQLite drops its page cache at every transaction, docs/formats.md §4.5). Random ids over the whole table; median of ${workload.internalsRounds} (ltxvfs) or ${workload.cliWarmRounds} (CLIs) rounds of ${fmtCount(workload.warmIds.length)} after a warm-up of ${fmtCount(workload.warmupIds.length)}.`,
    `⁵ One statement joining ${fmtCount(workload.inStatementLookups)} generated ids with \`items\` by primary key: B-tree lookups without per-call cost; median of ${workload.internalsRounds} (ltxvfs) or ${workload.cliWarmRounds} (CLIs) runs.`,
    `⁶ \`SELECT count(*), sum(length(body)) FROM items\` on a fresh connection; MiB/s = database bytes (${fmtMiB(workload.dbBytes)}) / time. ltxvfs with the default 64 MiB cache; native from the OS file cache.`,
    '⁷ The scan again on the same connection. ltxvfs: warm phase, every page in its cache (no storage reads); native: SQLite\'s 2 MiB cache, so the OS cache again; Litestream VFS: its 10 MiB cache, so mostly storage again.',
    `⁸ Peak, and (start) before the first open. ltxvfs: \`VmHWM\` of each child process (Node, wasm instances, page cache, garbage not yet collected; not \`process.resourceUsage().maxRSS\`, which in a forked child starts at the parent's resident set, bench/rss.ts): cold phase with the default 64 MiB cache, ${3 * workload.coldSamples + 1 + workload.scanSamples} fresh instances opened and closed (their wasm memories are reclaimed only by GC); warm phase with a ${fmtMiB(ltxvfsRuns[0]?.warmCacheBytes)} cache holding the whole database and three Database instances. CLIs: \`VmHWM\` of the sqlite3 process.`,
  ];
  const results = new Set(columns.map((c) => c.scanResult).filter((r) => r !== undefined));
  if (results.size > 1) lines.push(`**The engines disagree on the scan result:** ${columns.map((c) => `${c.title}: ${c.scanResult}`).join('; ')}`);
  for (const c of columns) for (const n of c.notes) lines.push(`${c.title}: ${n}.`);
  return lines.join('\n\n');
}

function internalsTable(f: FileSection, run: LtxvfsRun): string {
  const { workload } = f;
  const i = run.internals;
  const onScan = mibPerSecond(workload.dbBytes, i.syncHitsOnMs);
  const offScan = mibPerSecond(workload.dbBytes, i.syncHitsOffMs);
  return markdownTable(
    ['switch (measured on)', 'on', 'off', 'gain (on vs off)'],
    [
      [
        'statement cache, `statementCacheSize` 64 vs 0 (warm point lookups)',
        fmtRate(i.stmtCacheOnPerSec),
        fmtRate(i.stmtCacheOffPerSec),
        fmtFactor(i.stmtCacheOnPerSec / i.stmtCacheOffPerSec),
      ],
      [
        'sync cache-hit reads, `syncCacheHits` true vs false (warm full scan)',
        `${fmtMiBs(onScan)} (${fmtMs(i.syncHitsOnMs)})`,
        `${fmtMiBs(offScan)} (${fmtMs(i.syncHitsOffMs)})`,
        fmtFactor(i.syncHitsOffMs / i.syncHitsOnMs),
      ],
    ],
  ) + `\n\nMedians of ${workload.internalsRounds} alternating rounds, separate Database instances over one warm ReplicaReader (\`openAsyncifyDatabase\`). Cold scan that filled the cache: ${scanCell(run.fillScan, workload)}.`;
}

function l0Table(rows: L0Row[]): string {
  return markdownTable(
    ['L0 files', 'replica size', 'ltxvfs open', 'ltxvfs read requests at open', 'Litestream VFS open + schema'],
    rows.map((r) => [
      fmtCount(r.files),
      fmtMiB(r.bytes),
      fmtMs(r.ltxvfsOpen.ms),
      fmtCount(r.ltxvfsOpen.requests),
      fmtMs(r.litestreamOpenMs),
    ]),
    ['r', 'r', 'r', 'r', 'r'],
  ) + '\n\nOne snapshot (TXID 1) plus N − 1 L0 files of 3 pages each. ltxvfs: median of fresh `openDatabase` instances in one child process, after 20 untimed opens (wasm compiled and tiered up), replicas in turn, `readRequests` after open (schema read included; the listing is not a read request). Litestream VFS: `.open` + schema read in one CLI process.';
}
