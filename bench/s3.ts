/**
 * The S3 section of `npm run bench`: ltxvfs (interior warm-up on and off), the real
 * Litestream VFS and native SQLite on a local file, the same work, with the replica in
 * s3rver behind the fault proxy adding `latencyMs` (default 10 ms) to every request. What
 * each row measures: docs/bench.md, "The S3 section".
 *
 * Processes: s3rver, the fault proxy and the request log (bench/s3-stack.ts) run in this
 * process and must keep answering, so everything measured runs in child processes: ltxvfs
 * in bench/s3-child.ts (compiled), the Litestream VFS and native SQLite in sqlite3 CLI
 * processes driven over stdin (bench/cli-session.ts). Nothing here blocks the event loop.
 *
 * Replicas (bench/s3-replica.ts): the dataset (default 200 MiB) imported by importDatabase
 * plus L0 files up to `l0Files` level-0 files, and the 1 MiB replicas of the L0 table.
 */
import { join } from 'node:path';
import { prepareDataset, type Dataset } from './dataset.js';
import { CliSession } from './cli-session.js';
import { l0Replica } from './l0.js';
import { startLitestreamSession } from './litestream.js';
import { runChildScript, S3_CHILD_JS } from './ltxvfs.js';
import type { S3CalibrateOutput, S3ChildInput, S3ColdOutput, S3OpenOutput, S3ScanOutput } from './s3-child.js';
import { uploadItemsReplica, uploadL0Replica, type S3Upload } from './s3-replica.js';
import { S3_ENV, startS3Stack, type S3Stack, type WindowCounts } from './s3-stack.js';
import { fmtCount, fmtMiB, fmtMiBs, fmtMs, fmtRate, markdownTable, median, mibPerSecond } from './table.js';
import { RANGE_ROWS, S3_SQL, SQL, inline, makeS3Workload, type S3Workload } from './workload.js';

/** Options of {@link runS3Section}. */
export interface S3SectionOptions {
  workDir: string;
  sizeMiB: number;
  seed: number;
  quick: boolean;
  latencyMs: number;
  /** Level-0 files of the items replica (the snapshot counts as one). */
  l0Files: number;
  /** MiB of the table every engine scans as the bounded "full scan". */
  prefixMiB: number;
  /** L0-file counts of the open-cost table ([] to leave it out). */
  l0Counts: number[];
  litestream: boolean;
  native: boolean;
  log: (msg: string) => void;
}

/** Medians of one row's samples (fields missing everywhere stay undefined). */
export interface S3Cell {
  ms: number;
  minMs?: number;
  requests?: number;
  dependent?: number;
  lists?: number;
  maxInFlight?: number;
  bytes?: number;
  readRequests?: number;
  pagesFetched?: number;
  /** Samples behind the medians. */
  samples: number;
}

/** One engine's column of the S3 table. */
export interface S3Column {
  title: string;
  open?: S3Cell;
  warmup?: S3Cell & { interiorPages: number; pagesRead: number };
  coldPoint?: S3Cell;
  coldRange?: S3Cell;
  prefixScan?: S3Cell;
  fullScan?: S3Cell;
  hotPerSec?: number;
  /** Requests while the hot rounds were timed. */
  hotRequests?: number;
  hotFill?: S3Cell;
  peakRssBytes?: number;
  startRssBytes?: number;
  /** ltxvfs scan child: RSS after open (and warm-up), before the scan. */
  openRssBytes?: number;
  /** ltxvfs scan child: `resourceUsage().maxRSS` (inflated by the parent's RSS at the fork, bench/rss.ts). */
  maxRssBytes?: number;
  /** ltxvfs scan child: peaks of `process.memoryUsage()` sampled every 50 ms while scanning. */
  memory?: S3ScanOutput['memory'];
  /** What produced the peak RSS figure. */
  rssNote?: string;
  prefixResult?: string;
  scanResult?: string;
}

/** One row of the L0 open table over S3. */
export interface S3L0Row {
  files: number;
  bytes: number;
  ltxvfs: S3Cell;
  litestream?: S3Cell;
}

/** Everything the S3 section measured. */
export interface S3SectionResult {
  dataset: Dataset;
  workload: Omit<S3Workload, 'coldIds' | 'rangeStarts' | 'hotIds'> & { hotCount: number };
  latencyMs: number;
  upload: S3Upload;
  l0Uploads: S3Upload[];
  /** What one request costs on this stack (latency + s3rver, proxy and log). */
  calibration: S3CalibrateOutput;
  columns: { warm: S3Column; noWarm: S3Column; litestream?: S3Column; native?: S3Column };
  l0Rows: S3L0Row[];
  seconds: number;
  /** Fault-proxy request count minus request-log count over the whole section (0: they agree). */
  proxyMismatch: number;
}

/** The median of every field over samples (`opMs` of child measurements as the time). */
function cellOf(samples: readonly (Partial<WindowCounts> & { opMs?: number; ms: number; readRequests?: number; pagesFetched?: number })[]): S3Cell {
  const pick = (f: (s: (typeof samples)[number]) => number | undefined): number | undefined => {
    const v = samples.map(f).filter((x): x is number => x !== undefined);
    return v.length === 0 ? undefined : median(v);
  };
  const times = samples.map((s) => s.opMs ?? s.ms);
  return {
    ms: median(times),
    minMs: samples.length > 1 ? Math.min(...times) : undefined,
    requests: pick((s) => s.requests),
    dependent: pick((s) => s.dependent),
    lists: pick((s) => s.lists),
    maxInFlight: pick((s) => s.maxInFlight),
    bytes: pick((s) => s.bytes),
    readRequests: pick((s) => s.readRequests),
    pagesFetched: pick((s) => s.pagesFetched),
    samples: samples.length,
  };
}

/** A CLI step's time with the window's counts (no counts without a stack: native). */
async function cliStep(session: CliSession, stack: S3Stack | undefined, label: string, script: string): Promise<{ ms: number; output: string } & Partial<WindowCounts>> {
  stack?.begin();
  const r = await session.time(script);
  const counts = stack?.end(label);
  return { ...counts, ms: r.ms, output: r.output };
}

/**
 * The S3 rows on a sqlite3 CLI session (native SQLite or the Litestream VFS): fresh
 * `.open`s for the cold rows, the prefix scan, the hot-set lookups, and (`fullScan`) the
 * full scan.
 */
async function measureCli(
  title: string, session: CliSession, openCommand: string, w: S3Workload, samples: number, stack: S3Stack | undefined,
  fullScan: boolean, log: (msg: string) => void,
): Promise<S3Column> {
  const tag = stack === undefined ? 'native' : 'litestream';
  const openSql = `${openCommand}\n${SQL.schema};`;
  await session.run(openSql);
  const open = [];
  const point = [];
  const range = [];
  for (let i = 0; i < samples; i++) {
    open.push(await cliStep(session, stack, `${tag}:open`, openSql));
    point.push(await cliStep(session, stack, `${tag}:point`, inline(SQL.point, [w.coldIds[i]])));
    await session.run(openSql);
    range.push(await cliStep(session, stack, `${tag}:range`, inline(SQL.range, [w.rangeStarts[i], w.rangeStarts[i] + RANGE_ROWS - 1])));
    log(`${title} sample ${i + 1}/${samples}: open ${fmtMs(open[i].ms)}${open[i].requests === undefined ? '' : ` (${open[i].requests} req)`}, point ${fmtMs(point[i].ms)}, range ${fmtMs(range[i].ms)}`);
  }
  const prefix = [];
  let prefixResult = '';
  for (let i = 0; i < (stack === undefined ? w.prefixSamples : 1); i++) {
    await session.run(openSql);
    const p = await cliStep(session, stack, `${tag}:prefix-scan`, inline(S3_SQL.prefixScan, [w.prefixRows]));
    prefix.push(p);
    prefixResult = p.output.trim();
    log(`${title} prefix scan: ${fmtMs(p.ms)}${p.requests === undefined ? '' : ` (${p.requests} req)`}`);
  }
  let full: S3Cell | undefined;
  let scanResult: string | undefined;
  if (fullScan) {
    const scans = [];
    for (let i = 0; i < w.prefixSamples; i++) {
      await session.run(openSql);
      const s = await cliStep(session, stack, `${tag}:full-scan`, `${SQL.scan};`);
      scans.push(s);
      scanResult = s.output.trim();
    }
    full = cellOf(scans);
  }
  // Warm lookups: one statement per lookup (the CLI has no bind loop), over the hot set.
  await session.run(openSql);
  const statements = w.hotIds.map((id) => `${inline(SQL.point, [id])};`).join('\n');
  const hotFill = await cliStep(session, stack, `${tag}:hot-fill`, statements);
  await session.run(statements);
  const pass = Array.from({ length: w.hotPasses }, () => statements).join('\n');
  const rates: number[] = [];
  stack?.begin();
  const rounds = Math.min(w.hotRounds, 3);
  for (let r = 0; r < rounds; r++) rates.push((w.hotPasses * w.hotIds.length) / ((await session.time(pass)).ms / 1000));
  const hotCounts = stack?.end(`${tag}:hot-rounds`);
  log(`${title} warm lookups: ${fmtRate(median(rates))}${hotCounts === undefined ? '' : `, ${hotCounts.requests} requests while timed`}`);
  return {
    title,
    open: cellOf(open),
    coldPoint: cellOf(point),
    coldRange: cellOf(range),
    prefixScan: cellOf(prefix),
    fullScan: full,
    hotPerSec: median(rates),
    hotRequests: hotCounts?.requests,
    hotFill: cellOf([hotFill]),
    peakRssBytes: session.peakRssBytes(),
    rssNote: 'VmHWM of the sqlite3 process over all its rows',
    prefixResult,
    scanResult,
  };
}

function ltxvfsColumn(title: string, cold: S3ColdOutput, scan: S3ScanOutput): S3Column {
  const wu = cold.warmup;
  return {
    title,
    open: cellOf(cold.open),
    warmup: wu.length === 0 ? undefined : {
      ...cellOf(wu),
      interiorPages: median(wu.map((x) => x.result.interiorPages)),
      pagesRead: median(wu.map((x) => x.result.pagesRead)),
    },
    coldPoint: cellOf(cold.coldPoint),
    coldRange: cellOf(cold.coldRange),
    prefixScan: cellOf(cold.prefixScan),
    fullScan: cellOf([scan.scan]),
    hotPerSec: median(cold.hotRates),
    hotRequests: cold.hotRequests.requests,
    hotFill: cellOf([cold.hotFill]),
    peakRssBytes: scan.peakRssBytes,
    startRssBytes: scan.startRssBytes,
    openRssBytes: scan.openRssBytes,
    maxRssBytes: scan.maxRssBytes,
    memory: scan.memory,
    rssNote: 'fresh process: open, full scan, default 64 MiB cache',
    prefixResult: cold.prefixResult,
    scanResult: scan.scanResult,
  };
}

/** Run the S3 section. */
export async function runS3Section(o: S3SectionOptions): Promise<S3SectionResult> {
  const started = performance.now();
  const { log } = o;
  const dataset = await prepareDataset(o.workDir, o.sizeMiB, o.seed, log);
  // The L0 replicas are built (or found) before the stack starts.
  for (const n of o.l0Counts) await l0Replica(o.workDir, n, log);
  const w = makeS3Workload(dataset, o.seed, o.quick, o.prefixMiB);
  log(`s3: starting s3rver + fault proxy (+${o.latencyMs} ms per request) + request log …`);
  const stack = await startS3Stack({ latencyMs: o.latencyMs, logFile: join(o.workDir, 's3-requests.jsonl') });
  try {
    log(`s3: uploading the ${fmtMiB(dataset.bytes)} database (importDatabase) and L0 files up to ${o.l0Files} …`);
    const upload = await uploadItemsReplica(stack, dataset, 'items', o.l0Files);
    log(`s3: uploaded ${upload.files} LTX files, ${fmtMiB(upload.bytes)}, in ${fmtMs(upload.ms)}`);
    const l0Uploads: S3Upload[] = [];
    for (const n of o.l0Counts) l0Uploads.push(await uploadL0Replica(stack, o.workDir, n, log));
    const proxyAtStart = stack.proxyRequests() - stack.loggedRequests();

    // The S3 client adds one abort listener per request in flight to one signal, so Node
    // warns past 10 (a harmless MaxListenersExceededWarning per open; reported, lib/ not ours).
    const child = <T>(input: S3ChildInput): Promise<T> =>
      runChildScript<T>(S3_CHILD_JS, input, { ...S3_ENV }, ['--disable-warning=MaxListenersExceededWarning']);
    log('s3: calibrating the stack (4 KiB reads one at a time and 32 at a time) …');
    const calibration = await child<S3CalibrateOutput>({ phase: 'calibrate', url: upload.url, log: stack.endpoint });
    log(`s3: one request ${fmtMs(calibration.sequentialMs)}; ${Math.round(calibration.parallelPerSec)} requests/s with ${calibration.inFlight} in flight`);
    const runLtxvfs = async (warmInterior: boolean): Promise<S3Column> => {
      const name = `ltxvfs, warmInterior ${warmInterior ? 'on' : 'off'}`;
      log(`s3: ${name}: cold phase (child process) …`);
      const cold = await child<S3ColdOutput>({ phase: 'cold', url: upload.url, log: stack.endpoint, warmInterior, workload: w });
      log(`s3: ${name}: full scan and peak RSS (fresh child process) …`);
      const scan = await child<S3ScanOutput>({ phase: 'scan', url: upload.url, log: stack.endpoint, warmInterior });
      return ltxvfsColumn(name, cold, scan);
    };
    const warm = await runLtxvfs(true);
    const noWarm = await runLtxvfs(false);

    let litestream: S3Column | undefined;
    if (o.litestream) {
      log(`s3: Litestream VFS: one CLI process, .open per fresh connection (${w.litestreamColdSamples} samples; each open reads every L0 file's index one request at a time) …`);
      const session = await startLitestreamSession({ name: 's3', url: upload.url, env: { ...S3_ENV } }, join(o.workDir, 's3-litestream.log'));
      try {
        litestream = await measureCli('Litestream VFS', session, ".open 'file:bench.db?vfs=litestream'", w, w.litestreamColdSamples, stack, false, log);
      } finally {
        await session.close();
      }
    }
    let native: S3Column | undefined;
    if (o.native) {
      if (/['\n]/.test(dataset.dbPath)) throw new Error(`cannot pass ${dataset.dbPath} to .open`);
      log('s3: native SQLite on the local file …');
      const session = await CliSession.start();
      try {
        native = await measureCli('native SQLite (local file)', session, `.open -readonly '${dataset.dbPath}'`, w, w.coldSamples, undefined, true, log);
      } finally {
        await session.close();
      }
    }

    const l0Rows: S3L0Row[] = [];
    if (o.l0Counts.length > 0) {
      log(`s3: open cost against L0 files (${o.l0Counts.join(', ')}) …`);
      const opens = await child<S3OpenOutput>({ phase: 'open', urls: l0Uploads.map((u) => u.url), log: stack.endpoint, samples: o.quick ? 3 : 5 });
      for (const [i, up] of l0Uploads.entries()) {
        let ls: S3Cell | undefined;
        if (o.litestream) {
          const session = await startLitestreamSession({ name: 's3', url: up.url, env: { ...S3_ENV } }, join(o.workDir, `s3-litestream-l0-${up.files}.log`));
          try {
            await session.run(".open 'file:bench.db?vfs=litestream'\nSELECT 1 FROM sqlite_schema LIMIT 1;");
            const samples = [];
            const n = up.files >= 1000 ? 1 : o.quick ? 2 : 3;
            for (let k = 0; k < n; k++) samples.push(await cliStep(session, stack, `litestream:l0-open-${up.files}`, `.open 'file:bench.db?vfs=litestream'\n${SQL.schema};`));
            ls = cellOf(samples);
          } finally {
            await session.close();
          }
        }
        const row: S3L0Row = { files: up.files, bytes: up.bytes, ltxvfs: cellOf(opens[i]), litestream: ls };
        l0Rows.push(row);
        log(`s3: ${up.files} L0 file(s): ltxvfs open ${fmtMs(row.ltxvfs.ms)} (${row.ltxvfs.requests} req, ${row.ltxvfs.dependent} dependent); Litestream ${fmtMs(ls?.ms)} (${ls?.requests ?? '—'} req)`);
      }
    }
    const { hotIds, coldIds: _c, rangeStarts: _r, ...rest } = w;
    return {
      dataset,
      workload: { ...rest, hotCount: hotIds.length },
      latencyMs: o.latencyMs,
      upload,
      l0Uploads,
      calibration,
      columns: { warm, noWarm, litestream, native },
      l0Rows,
      seconds: (performance.now() - started) / 1000,
      proxyMismatch: stack.proxyRequests() - stack.loggedRequests() - proxyAtStart,
    };
  } finally {
    await stack.close();
  }
}

// ---------------------------------------------------------------------------------------
// Rendering

/** `123 ms (min 110 ms) · 13 req (10 list), 4 dep. · 3 reads` */
function cell(c: S3Cell | undefined, opts: { reads?: boolean } = {}): string {
  if (c === undefined) return '—';
  const parts = [c.minMs === undefined ? fmtMs(c.ms) : `${fmtMs(c.ms)} (min ${fmtMs(c.minMs)})`];
  if (c.requests !== undefined) {
    const lists = c.lists !== undefined && c.lists > 0 ? ` (${fmtCount(c.lists)} list)` : '';
    parts.push(`${fmtCount(c.requests)} req${lists}, ${fmtCount(c.dependent)} dep.`);
  }
  if (opts.reads !== false && c.readRequests !== undefined) parts.push(`readRequests ${fmtCount(c.readRequests)}`);
  return parts.join(' · ');
}

function scanCell(c: S3Cell | undefined, bytes: number): string {
  if (c === undefined) return '—';
  const parts = [`${fmtMiBs(mibPerSecond(bytes, c.ms))} (${fmtMs(c.ms)})`];
  if (c.requests !== undefined) {
    const gets = c.requests - (c.lists ?? 0);
    const avg = c.bytes !== undefined && gets > 0 ? ` of ${Math.round(c.bytes / gets / 1024)} KiB on average` : '';
    parts.push(`${fmtCount(c.requests)} req${avg}, ${fmtCount(c.dependent)} dep.`);
  }
  return parts.join(' · ');
}

/** Ratio and verdict of one target. */
interface TargetRow {
  target: string;
  threshold: string;
  /** Per ltxvfs column: measured text and whether it is met. */
  results: { text: string; met: boolean | undefined }[];
}

function targets(r: S3SectionResult): TargetRow[] {
  const ls = r.columns.litestream;
  const w = r.workload;
  const cacheLimit = 64 * 2 ** 20 + 150 * 2 ** 20;
  const rows: TargetRow[] = [];
  const both = [r.columns.warm, r.columns.noWarm];
  const ratio = (x: number | undefined, y: number | undefined): number | undefined =>
    x === undefined || y === undefined || !Number.isFinite(x) || !Number.isFinite(y) || y === 0 ? undefined : x / y;
  const verdict = (v: number | undefined, ok: (v: number) => boolean, text: (v: number) => string): { text: string; met: boolean | undefined } =>
    v === undefined ? { text: '—', met: undefined } : { text: text(v), met: ok(v) };
  if (ls !== undefined) {
    rows.push({
      target: `open of the replica (${r.upload.files} level-0 files) in under a tenth of the Litestream VFS's time`,
      threshold: '< 0.10×',
      results: both.map((c) => verdict(ratio(c.open?.ms, ls.open?.ms), (v) => v < 0.1, (v) => `${v.toFixed(3)}× (${fmtMs(c.open?.ms)} vs ${fmtMs(ls.open?.ms)})`)),
    });
    rows.push({
      target: 'cold point lookup with at most half its round trips',
      threshold: '≤ 0.50×',
      results: both.map((c) => verdict(ratio(c.coldPoint?.requests, ls.coldPoint?.requests), (v) => v <= 0.5, (v) => `${v.toFixed(2)}× (${fmtCount(c.coldPoint?.requests)} vs ${fmtCount(ls.coldPoint?.requests)} req)`)),
    });
    rows.push({
      target: `cold range of ${fmtCount(RANGE_ROWS)} rows at least 10× its speed`,
      threshold: '≥ 10×',
      results: both.map((c) => verdict(ratio(ls.coldRange?.ms, c.coldRange?.ms), (v) => v >= 10, (v) => `${v.toFixed(1)}× (${fmtMs(c.coldRange?.ms)} vs ${fmtMs(ls.coldRange?.ms)})`)),
    });
    const lsPrefix = ls.prefixScan === undefined ? undefined : mibPerSecond(w.prefixBytes, ls.prefixScan.ms);
    rows.push({
      target: `cold scan at least 10× its speed: the same first ${fmtMiB(w.prefixBytes)} of the table`,
      threshold: '≥ 10×',
      results: both.map((c) => {
        const mine = c.prefixScan === undefined ? undefined : mibPerSecond(w.prefixBytes, c.prefixScan.ms);
        return verdict(ratio(mine, lsPrefix), (v) => v >= 10, (v) => `${v.toFixed(1)}× (${fmtMiBs(mine)} vs ${fmtMiBs(lsPrefix)})`);
      }),
    });
    rows.push({
      target: `cold scan at least 10× its speed: ltxvfs's full table (${fmtMiB(w.tableBytes)}) against its rate on the first ${fmtMiB(w.prefixBytes)}`,
      threshold: '≥ 10×',
      results: both.map((c) => {
        const mine = c.fullScan === undefined ? undefined : mibPerSecond(w.tableBytes, c.fullScan.ms);
        return verdict(ratio(mine, lsPrefix), (v) => v >= 10, (v) => `${v.toFixed(1)}× (${fmtMiBs(mine)} vs ${fmtMiBs(lsPrefix)})`);
      }),
    });
    rows.push({
      target: 'warm point lookups at least its rate',
      threshold: '≥ 1×',
      results: both.map((c) => verdict(ratio(c.hotPerSec, ls.hotPerSec), (v) => v >= 1, (v) => `${v.toFixed(1)}× (${fmtRate(c.hotPerSec)} vs ${fmtRate(ls.hotPerSec)})`)),
    });
  }
  rows.push({
    target: 'peak RSS while scanning under cache size + 150 MiB (64 + 150 = 214 MiB)',
    threshold: '< 1.00×',
    results: both.map((c) => verdict(ratio(c.peakRssBytes, cacheLimit), (v) => v < 1, (v) => `${v.toFixed(2)}× (${fmtMiB(c.peakRssBytes)})`)),
  });
  return rows;
}

/** The S3 section as markdown. */
export function renderS3(r: S3SectionResult): string {
  const w = r.workload;
  const { warm, noWarm, litestream, native } = r.columns;
  const cols = [warm, noWarm, litestream, native].filter((c): c is S3Column => c !== undefined);
  const out: string[] = [];
  out.push(`### S3 (s3rver behind the fault proxy, +${r.latencyMs} ms per request): ${fmtMiB(r.dataset.bytes)} database, replica of ${r.upload.files} level-0 files`);
  out.push('');
  out.push(
    `${fmtCount(r.dataset.rows)} rows, ${fmtCount(r.dataset.pageCount)} pages; table ${fmtMiB(r.dataset.tableBytes)}, index ${fmtMiB(r.dataset.indexBytes)}. ` +
      `Replica: importDatabase snapshot of ${fmtMiB(r.upload.snapshotBytes)} (TXID 1, level 0) + ${fmtCount(r.upload.files - 1)} L0 files of ${r.upload.pagesPerL0File} pages, uploaded in ${fmtMs(r.upload.ms)}. ` +
      `Section run time ${r.seconds.toFixed(0)} s. ` +
      `The stack (s3rver in its own process, the fault proxy and the request log in the bench's): a 4 KiB read costs ${fmtMs(r.calibration.sequentialMs)} one at a time (${r.latencyMs} ms of it added latency); with ${r.calibration.inFlight} in flight it serves ${fmtCount(r.calibration.parallelPerSec)} requests/s at most (${fmtMs(1000 / r.calibration.parallelPerSec)} each), so parallel requests are partly serialized by s3rver's CPU, which S3 would not do.`,
  );
  out.push('');
  const rows: [string, (c: S3Column) => string][] = [
    ['open + schema read ¹', (c) => cell(c.open)],
    ['interior warm-up after open (background) ²', (c) => c.warmup === undefined ? '—' : `${cell(c.warmup)} · ${fmtCount(c.warmup.interiorPages)} interior pages`],
    ['cold point lookup by id ³', (c) => cell(c.coldPoint)],
    [`cold range of ${fmtCount(RANGE_ROWS)} rows ³`, (c) => cell(c.coldRange)],
    [`cold scan of ids 1…${fmtCount(w.prefixRows)} (≈ ${fmtMiB(w.prefixBytes)} of the table) ⁴`, (c) => scanCell(c.prefixScan, w.prefixBytes)],
    [`cold full scan (table, ${fmtMiB(w.tableBytes)}) ⁴`, (c) => {
      if (c.fullScan !== undefined) return scanCell(c.fullScan, w.tableBytes);
      if (c === litestream && c.prefixScan !== undefined) return `not run: ~${((c.prefixScan.ms * w.tableBytes) / w.prefixBytes / 60_000).toFixed(0)} min at its rate above`;
      return '—';
    }],
    [`warm point lookups, hot set of ${fmtCount(w.hotCount)} ids ⁵`, (c) => c.hotPerSec === undefined ? '—' : `${fmtRate(c.hotPerSec)}${c.hotRequests === undefined ? '' : ` · ${fmtCount(c.hotRequests)} req while timed`}`],
    ['peak RSS ⁶', (c) => {
      if (c.peakRssBytes === undefined) return '—';
      const extra = c.startRssBytes === undefined ? '' : ` (start ${fmtMiB(c.startRssBytes)}, after open ${fmtMiB(c.openRssBytes)})`;
      const mem = c.memory === undefined ? '' : `; sampled peaks: V8 heap ${fmtMiB(c.memory.heapUsed)} used of ${fmtMiB(c.memory.heapTotal)}, ArrayBuffers ${fmtMiB(c.memory.arrayBuffers)}, external ${fmtMiB(c.memory.external)}`;
      return `${fmtMiB(c.peakRssBytes)}${extra}${mem}`;
    }],
  ];
  out.push(markdownTable(['', ...cols.map((c) => c.title)], rows.map(([label, f]) => [label, ...cols.map(f)])));
  out.push('');
  out.push(s3Notes(r));
  out.push('');
  out.push('#### Targets (ltxvfs against the Litestream VFS, measured in this run)');
  out.push('');
  const t = targets(r);
  out.push(markdownTable(
    ['target', 'threshold', `${warm.title}`, 'met', `${noWarm.title}`, 'met'],
    t.map((row) => [row.target, row.threshold, ...row.results.flatMap((x) => [x.text, x.met === undefined ? '—' : x.met ? 'met' : '**not met**'])]),
  ));
  if (r.l0Rows.length > 0) {
    out.push('');
    out.push(`#### Open cost against the number of L0 files over S3 (+${r.latencyMs} ms per request; 1 MiB database)`);
    out.push('');
    out.push(markdownTable(
      ['L0 files', 'replica size', 'ltxvfs open', 'ltxvfs requests', 'ltxvfs dependent', 'ltxvfs readRequests', 'Litestream VFS open + schema', 'Litestream requests', 'Litestream dependent'],
      r.l0Rows.map((x) => [
        fmtCount(x.files), fmtMiB(x.bytes), fmtMs(x.ltxvfs.ms), fmtCount(x.ltxvfs.requests), fmtCount(x.ltxvfs.dependent), fmtCount(x.ltxvfs.readRequests),
        fmtMs(x.litestream?.ms), fmtCount(x.litestream?.requests), fmtCount(x.litestream?.dependent),
      ]),
      ['r', 'r', 'r', 'r', 'r', 'r', 'r', 'r', 'r'],
    ));
    out.push('');
    out.push(
      'The replicas of the file:// L0 table (a snapshot plus N − 1 L0 files of 3 pages each), copied to s3rver. ltxvfs: median of fresh `openDatabase` instances in one child ' +
        `process after 3 untimed opens (${r.l0Rows[0]?.ltxvfs.samples} samples); requests include the 10 level listings. Litestream VFS: \`.open\` + schema read in one CLI process per replica ` +
        `(medians of ${r.l0Rows.map((x) => x.litestream?.samples ?? 0).join(' / ')} samples: an open of 1,000 files takes half a minute).`,
    );
  }
  return out.join('\n');
}

function s3Notes(r: S3SectionResult): string {
  const w = r.workload;
  const lines = [
    `Cells: median time (fastest sample) · requests through the proxy in the operation's window (listings in brackets), and how many of them ran one after another: "dep." is the largest set of requests no two of which overlapped in time, a lower bound of the dependent round trips (the rest ran in parallel with them) · for ltxvfs also \`stats().readRequests\` (range and whole-object reads; listings are not read requests). Every request costs ${r.latencyMs} ms of added latency plus the stack's own time (${fmtMs(Math.max(0, r.calibration.sequentialMs - r.latencyMs))} one at a time in this run, see above). Samples: ltxvfs and native ${w.coldSamples}, the Litestream VFS ${w.litestreamColdSamples} (each of its \`.open\`s reads every L0 file's index one request at a time). Requests of each window: \`bench/.work/s3-requests.jsonl\`.`,
    '¹ ltxvfs: a fresh `openDatabase(url, { shared: false, warmInterior })` instance in a child process that has done one untimed round (listing of the 10 levels, every file\'s header and page index, the schema read; with warmInterior also `SELECT rootpage FROM sqlite_schema`). CLIs: `.open` + `SELECT 1 FROM sqlite_schema LIMIT 1` in a long-lived process.',
    '² The warm-up `openDatabase` starts in the background with `warmInterior: true` (lib/read/warmup.ts), awaited through `warmupOf(db)` right after the open; its time, requests and interior pages. With warmInterior on, every cold row below runs after it finished: "cold" then means only the interior B-tree pages are cached.',
    '³ A fresh instance / connection per sample, opened (and warmed up) untimed before the statement. Native SQLite reads the OS file cache.',
    `⁴ MiB/s = bytes of table pages covered / time: the full table for the full scan, for the scan of ids 1…${fmtCount(w.prefixRows)} the table bytes × ${fmtCount(w.prefixRows)} / ${fmtCount(w.rows)} rows (rows are alike in size on average). The Litestream VFS reads one page per request, so a full scan of the table would take minutes; it scans the prefix only (one sample). ltxvfs scans the same prefix (${w.prefixSamples} samples, fresh instances) and the full table once in a fresh child process per setting, default 64 MiB cache.`,
    `⁵ A hot set of ${fmtCount(w.hotCount)} random ids (≈ ${fmtMiB(w.hotCount * 4096)} of leaves, within the Litestream VFS's 10 MiB cache and ltxvfs's 64 MiB), looked up once untimed to fill the caches ("hot set fill" in results.json), then untimed passes (ltxvfs: ${w.hotWarmupPasses}, for V8 and the wasm to tier up; CLIs: 1), then timed: ${w.hotPasses} passes per round, median of ${w.hotRounds} rounds (CLIs: 3). ltxvfs: \`db.get(sql, [id])\` with the statement cached; CLIs: one statement per lookup, parsed each time (over the Litestream VFS SQLite also drops its page cache at every statement, docs/formats.md §4.5). "req while timed": every request during the timed rounds (background polls included).`,
    `⁶ ltxvfs: \`VmHWM\` of a fresh child process that opened the replica and scanned the full table with the default 64 MiB cache (start: RSS before the open, with Node and the modules loaded; "external" includes the wasm memories and the ArrayBuffers). Not \`process.resourceUsage().maxRSS\`: on Linux a forked child inherits its parent's resident set as its starting maximum, and this parent holds the uploaded database (maxRSS said ${fmtMiB(r.columns.warm.maxRssBytes)} here; bench/rss.ts). CLIs: \`VmHWM\` of the sqlite3 process after all its rows (the Litestream VFS scanned only the prefix).`,
    'Background requests: both readers poll the replica every second (ltxvfs: listings of levels 0 and 1; the Litestream VFS likewise), so windows of a second or more include a few listings.',
  ];
  lines.push(r.proxyMismatch === 0
    ? 'The request log and the fault proxy\'s counters agree on the number of requests over the section.'
    : `The request log and the fault proxy's counters differ by ${r.proxyMismatch} requests over the section.`);
  const results = new Set([r.columns.warm.prefixResult, r.columns.noWarm.prefixResult, r.columns.litestream?.prefixResult, r.columns.native?.prefixResult].filter((x) => x !== undefined && x !== ''));
  if (results.size > 1) lines.push(`**The engines disagree on the prefix scan:** ${[...results].join(' / ')}`);
  const full = new Set([r.columns.warm.scanResult, r.columns.noWarm.scanResult, r.columns.native?.scanResult].filter((x) => x !== undefined && x !== ''));
  if (full.size > 1) lines.push(`**The engines disagree on the full scan:** ${[...full].join(' / ')}`);
  return lines.join('\n\n');
}
