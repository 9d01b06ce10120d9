/**
 * The restart-and-hydration section of `npm run bench` (issue 7): what a machine that
 * starts cold gains from the disk cache tier (lib/cache/disk-cache.ts) and from hydration
 * (lib/hydrate/), on the bench's items dataset (default 200 MiB) with a few level-0
 * files, in s3rver behind the fault proxy adding `latencyMs` (default 10) per request, and
 * the same replica copied to a directory. It runs only when asked for:
 * `npm run bench -- --hydrate` (alone: `npm run bench -- --hydrate --skip file,l0,s3,engines`).
 * Its files live in a directory of its own per run (`bench/.work/hydrate-<pid>`, removed at
 * the end), so runs at the same time do not disturb each other's files.
 *
 * 1. Fresh-process cold start: one child process per sample, timing its first
 *    `openDatabase` (wasm compile included) and first query — without a disk cache, with
 *    an empty one, and with a warm one (a process ran the same query before) — on S3 and
 *    on file://. Target: S3 with a warm disk cache within 2× of file:// without one.
 * 2. Hydration: a fresh process hydrating into a new file (open to complete), beside the
 *    Litestream VFS hydrating the same replica (`LITESTREAM_HYDRATION_ENABLED`, `.open`
 *    until `PRAGMA litestream_hydration_progress` says 100.0); MiB/s = database bytes /
 *    time; requests from the request log. Both files are compared with `restoreDatabase`'s.
 *    Targets: ≥ 10× Litestream's throughput with ≤ 1/10 of its requests.
 * 3. Warm queries after hydration: a fresh process per engine (Asyncify, worker) opening
 *    the hydrated file (complete, so every page comes from it) against native SQLite
 *    (sqlite3 CLI) on the same file: one statement of many primary-key lookups, a full scan.
 * 4. The disk-cache hit itself: µs per page read synchronously (as the reader does) and
 *    through fs.promises (what an asynchronous tier would cost, before any Asyncify unwind).
 *
 * Everything measured runs in child processes (bench/hydrate-child.ts, compiled; sqlite3
 * CLI sessions); this process runs the S3 stack (bench/s3-stack.ts) and must not block.
 */
import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { mkdir, rm, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { listReplica } from '../lib/replica/plan.js';
import { restoreDatabase } from '../lib/tools/restore.js';
import { openReplicaClient } from '../lib/storage/url.js';
import { prepareDataset, type Dataset } from './dataset.js';
import { CliSession } from './cli-session.js';
import { litestreamEnv } from './litestream.js';
import { runChildScript } from './ltxvfs.js';
import type { ColdStartOutput, DiskOutput, HydrateChildInput, HydrateOutput, WarmOutput } from './hydrate-child.js';
import { uploadItemsReplica, type S3Upload } from './s3-replica.js';
import { S3_ENV, startS3Stack, type S3Stack, type WindowCounts } from './s3-stack.js';
import { fmtCount, fmtFactor, fmtMiB, fmtMiBs, fmtMs, fmtRate, markdownTable, median, mibPerSecond } from './table.js';
import { inStatementSql, RANGE_ROWS, SQL } from './workload.js';
import { LITESTREAM_VFS_SO, requireLitestreamVfs } from '../test/helpers/paths.js';

/** The compiled child (bench/tsconfig.json puts it beside the others). */
export const HYDRATE_CHILD_JS = join(fileURLToPath(new URL('.', import.meta.url)), '.work', 'build', 'bench', 'hydrate-child.js');

/** Options of {@link runHydrateSection}. */
export interface HydrateSectionOptions {
  workDir: string;
  sizeMiB: number;
  seed: number;
  quick: boolean;
  latencyMs: number;
  /** Level-0 files of the replica (the snapshot counts as one). */
  l0Files: number;
  litestream: boolean;
  native: boolean;
  /** Give up on the Litestream VFS's hydration after this long, ms (its progress then gives the rate). */
  litestreamCapMs: number;
  log: (msg: string) => void;
}

/** Medians of one cold-start cell. */
export interface ColdCell {
  totalMs: number;
  minMs: number;
  openMs: number;
  queryMs: number;
  requests?: number;
  gets?: number;
  lists?: number;
  readRequests: number;
  diskHits?: number;
  samples: number;
}

/** One hydration run (ltxvfs or Litestream). */
export interface HydrationRun {
  ms: number;
  /** Percent done when it stopped (100 unless capped). */
  progress: number;
  counts: WindowCounts;
  /** The file equals restoreDatabase's output (undefined when not complete). */
  identical?: boolean;
  rangeReads?: number;
  openMs?: number;
}

/** Everything the section measured. */
export interface HydrateSectionResult {
  dataset: Dataset;
  latencyMs: number;
  upload: S3Upload;
  cold: { query: string; location: string; disk: 'none' | 'empty' | 'warm'; cell: ColdCell }[];
  ltxvfs: HydrationRun[];
  litestream?: HydrationRun;
  warm?: {
    lookups: number;
    /** Per engine (`asyncify`, `worker`): fresh process over the hydrated file. */
    ltxvfs: { engine: string; lookupsMs: number; scanMs: number; requests: number }[];
    nativeLookupsMs?: number;
    nativeScanMs?: number;
    agree: boolean;
  };
  disk: DiskOutput;
  seconds: number;
}

function child<T>(input: HydrateChildInput, env: Record<string, string> = {}): Promise<T> {
  return runChildScript<T>(HYDRATE_CHILD_JS, input, env);
}

async function sha256(path: string): Promise<string> {
  const hash = createHash('sha256');
  for await (const chunk of createReadStream(path)) hash.update(chunk as Buffer);
  return hash.digest('hex');
}

function coldCell(samples: ColdStartOutput[]): ColdCell {
  const pick = (f: (s: ColdStartOutput) => number | undefined): number | undefined => {
    const v = samples.map(f).filter((x): x is number => x !== undefined);
    return v.length === 0 ? undefined : median(v);
  };
  return {
    totalMs: median(samples.map((s) => s.totalMs)),
    minMs: Math.min(...samples.map((s) => s.totalMs)),
    openMs: median(samples.map((s) => s.openMs)),
    queryMs: median(samples.map((s) => s.queryMs)),
    requests: pick((s) => s.counts?.requests),
    gets: pick((s) => s.counts?.gets),
    lists: pick((s) => s.counts?.lists),
    readRequests: median(samples.map((s) => s.readRequests)),
    diskHits: pick((s) => s.disk?.hits),
    samples: samples.length,
  };
}

/** Copy the S3 replica into a directory (same files), for the file:// rows. */
async function copyToDirectory(fromUrl: string, dir: string): Promise<string> {
  await rm(dir, { recursive: true, force: true });
  const from = await openReplicaClient(fromUrl, { env: S3_ENV });
  const to = await openReplicaClient(dir, { create: true });
  try {
    for (const f of await listReplica(from)) {
      const { data } = await from.read(f.key);
      await to.write(to.ltxKey(f.level, f.minTXID, f.maxTXID), data, { timestamp: f.createdAt });
    }
  } finally {
    await from.close();
    await to.close();
  }
  return pathToFileURL(dir).href;
}

/** The Litestream VFS hydrating `url` into `path`: `.open`, then the progress PRAGMA until 100.0 (or the cap). */
export async function litestreamHydration(stack: S3Stack, url: string, path: string, workDir: string, capMs: number): Promise<HydrationRun> {
  requireLitestreamVfs();
  await rm(path, { force: true });
  await rm(`${path}.meta`, { force: true });
  const session = await CliSession.start({
    env: litestreamEnv({ name: 's3', url, env: S3_ENV }, {
      LITESTREAM_LOG_FILE: join(workDir, 'litestream-hydrate.log'), LITESTREAM_HYDRATION_ENABLED: 'true', LITESTREAM_HYDRATION_PATH: path,
    }),
  });
  try {
    await session.run(`.load '${LITESTREAM_VFS_SO}' sqlite3_litestreamvfs_init`);
    stack.begin();
    const t0 = performance.now();
    await session.run(".open 'file:bench.db?vfs=litestream'");
    let progress = 0;
    while (performance.now() - t0 < capMs) {
      const out = await session.run('PRAGMA litestream_hydration_progress;');
      progress = Number.parseFloat(out.trim().split('\n').at(-1) ?? '0');
      if (progress >= 100) break;
      await new Promise((r) => setTimeout(r, 50));
    }
    const ms = performance.now() - t0;
    const counts = stack.end('litestream:hydrate');
    return { ms, progress, counts };
  } finally {
    await session.close().catch(() => undefined);
  }
}

/** Run the section (see the module comment). */
export async function runHydrateSection(o: HydrateSectionOptions): Promise<HydrateSectionResult> {
  const started = performance.now();
  const { log } = o;
  const dataset = await prepareDataset(o.workDir, o.sizeMiB, o.seed, log);
  const work = join(o.workDir, `hydrate-${process.pid}`);
  await rm(work, { recursive: true, force: true });
  await mkdir(work, { recursive: true });
  const stack = await startS3Stack({ latencyMs: o.latencyMs, logFile: join(o.workDir, `hydrate-requests-${process.pid}.jsonl`) });
  try {
    log(`hydrate: uploading the ${fmtMiB(dataset.bytes)} dataset + ${o.l0Files - 1} L0 files to s3rver …`);
    const upload = await uploadItemsReplica(stack, dataset, 'hydrate', o.l0Files);
    const s3Url = stack.url('hydrate');
    const fileUrl = await copyToDirectory(stack.directUrl('hydrate'), join(work, 'replica'));
    const reference = join(work, 'restored.db');
    await rm(reference, { force: true });
    const direct = await openReplicaClient(stack.directUrl('hydrate'), { env: S3_ENV });
    await restoreDatabase(direct, reference);
    await direct.close();
    const referenceHash = await sha256(reference);

    // 1. Fresh-process cold start.
    const samples = o.quick ? 3 : 7;
    const mid = Math.floor(dataset.rows / 2);
    const queries = [
      { name: 'point lookup by id', sql: SQL.point, params: [mid] },
      { name: `range of ${fmtCount(RANGE_ROWS)} rows`, sql: SQL.range, params: [mid, mid + RANGE_ROWS - 1] },
    ];
    const cold: HydrateSectionResult['cold'] = [];
    for (const location of [{ name: `s3 (+${o.latencyMs} ms)`, url: s3Url, log: stack.endpoint, env: S3_ENV as Record<string, string> }, { name: 'file://', url: fileUrl, log: undefined, env: {} }]) {
      for (const q of queries) {
        for (const disk of ['none', 'empty', 'warm'] as const) {
          const cacheDir = join(work, `cache-${location.name.startsWith('s3') ? 's3' : 'file'}-${q.sql === SQL.point ? 'point' : 'range'}`);
          await rm(cacheDir, { recursive: true, force: true });
          const input = (dir: string | undefined): HydrateChildInput => ({ phase: 'cold', url: location.url, log: location.log, cacheDir: dir, sql: q.sql, params: q.params });
          if (disk === 'warm') await child<ColdStartOutput>(input(cacheDir), location.env);
          const outs: ColdStartOutput[] = [];
          for (let i = 0; i < samples; i++) {
            if (disk === 'empty') await rm(cacheDir, { recursive: true, force: true });
            outs.push(await child<ColdStartOutput>(input(disk === 'none' ? undefined : cacheDir), location.env));
          }
          const cell = coldCell(outs);
          cold.push({ query: q.name, location: location.name, disk, cell });
          log(`hydrate: cold start ${location.name}, ${q.name}, disk cache ${disk}: ${fmtMs(cell.totalMs)} (${cell.requests ?? cell.readRequests} req)`);
        }
      }
    }

    // 2. Hydration, ltxvfs.
    const lookups = o.quick ? 20_000 : 100_000;
    const ltxvfs: HydrationRun[] = [];
    let warm: HydrateSectionResult['warm'];
    const path = join(work, 'ltxvfs-hydrated.db');
    for (let i = 0; i < (o.quick ? 1 : 3); i++) {
      for (const p of [path, `${path}.ltxvfs-hydration.json`]) await rm(p, { force: true });
      const out = await child<HydrateOutput>({
        phase: 'hydrate', url: s3Url, log: stack.endpoint, path, options: {},
      }, S3_ENV);
      const identical = (await sha256(path)) === referenceHash;
      ltxvfs.push({ ms: out.ms, openMs: out.openMs, progress: 100, counts: out.counts!, identical, rangeReads: out.stats.readRequests });
      log(`hydrate: ltxvfs ${fmtMs(out.ms)} = ${fmtMiBs(mibPerSecond(dataset.bytes, out.ms))}, ${out.counts?.requests} requests, identical to restore: ${identical}`);
      // Warm queries over the first run's file, in fresh processes, per engine and native.
      if (i > 0) continue;
      const results = new Set<string>();
      const engines: NonNullable<HydrateSectionResult['warm']>['ltxvfs'] = [];
      for (const engine of ['asyncify', 'worker'] as const) {
        const w = await child<WarmOutput>({ phase: 'warm', url: s3Url, path, engine, lookups: inStatementSql(lookups, dataset.rows), scan: SQL.scan, rounds: o.quick ? 2 : 3 }, S3_ENV);
        engines.push({ engine, lookupsMs: w.lookupsMs, scanMs: w.scanMs, requests: w.requests });
        results.add(`${w.lookupsResult}/${w.scanResult}`);
        log(`hydrate: warm on the hydrated file, ${engine}: lookups ${fmtMs(w.lookupsMs)}, scan ${fmtMs(w.scanMs)}`);
      }
      warm = { lookups, ltxvfs: engines, agree: results.size === 1 };
      if (o.native) {
        const session = await CliSession.start({ args: ['-readonly', path] });
        try {
          const l: number[] = [];
          const s: number[] = [];
          let nativeLookups = '';
          let nativeScan = '';
          for (let r = 0; r < (o.quick ? 3 : 4); r++) {
            const a = await session.time(`${inStatementSql(lookups, dataset.rows)};`);
            const b = await session.time(`${SQL.scan};`);
            if (r > 0) {
              l.push(a.ms);
              s.push(b.ms);
            }
            nativeLookups = a.output.trim();
            nativeScan = b.output.trim();
          }
          warm = { ...warm, nativeLookupsMs: median(l), nativeScanMs: median(s), agree: warm.agree && results.has(`${nativeLookups}/${nativeScan}`) };
        } finally {
          await session.close();
        }
      }
    }

    // 2b. Hydration, the Litestream VFS.
    let litestream: HydrationRun | undefined;
    if (o.litestream) {
      log(`hydrate: the Litestream VFS hydrating the same replica (cap ${Math.round(o.litestreamCapMs / 1000)} s) …`);
      const lsPath = join(work, 'litestream-hydrated.db');
      litestream = await litestreamHydration(stack, s3Url, lsPath, work, o.litestreamCapMs);
      if (litestream.progress >= 100) {
        const size = (await stat(lsPath).catch(() => undefined))?.size;
        litestream.identical = size === dataset.bytes ? (await sha256(lsPath)) === referenceHash : false;
      }
      log(`hydrate: Litestream ${litestream.progress}% in ${fmtMs(litestream.ms)}, ${litestream.counts.requests} requests`);
    }

    // 4. The disk hit itself.
    const diskOut = await child<DiskOutput>({ phase: 'disk', url: s3Url, cacheDir: join(work, 'cache-s3-range'), pages: 2000 }, S3_ENV);
    return { dataset, latencyMs: o.latencyMs, upload, cold, ltxvfs, litestream, warm, disk: diskOut, seconds: (performance.now() - started) / 1000 };
  } finally {
    await stack.close();
    await rm(work, { recursive: true, force: true });
  }
}

/** The section as markdown. */
export function renderHydrate(r: HydrateSectionResult): string {
  const out: string[] = [];
  const db = r.dataset.bytes;
  out.push(`### Restarts and hydration (issue 7): ${fmtMiB(db)} database, replica of ${r.upload.files} level-0 files, S3 at +${r.latencyMs} ms per request`);
  out.push('');
  out.push(`Section run time ${r.seconds.toFixed(0)} s. The same replica in s3rver (behind the fault proxy and the request log) and copied to a directory.`);
  out.push('');
  out.push('#### Fresh-process cold start: first `openDatabase` + first query');
  out.push('');
  const cell = (c: ColdCell): string => {
    const req = c.requests === undefined ? `${fmtCount(c.readRequests)} reads` : `${fmtCount(c.gets ?? 0)} GET + ${fmtCount(c.lists ?? 0)} LIST`;
    return `${fmtMs(c.totalMs)} (min ${fmtMs(c.minMs)}; open ${fmtMs(c.openMs)}) · ${req}${c.diskHits === undefined ? '' : ` · ${fmtCount(c.diskHits)} disk hits`}`;
  };
  const queries = [...new Set(r.cold.map((c) => c.query))];
  const locations = [...new Set(r.cold.map((c) => c.location))];
  const find = (q: string, l: string, d: string): ColdCell | undefined => r.cold.find((c) => c.query === q && c.location === l && c.disk === d)?.cell;
  const rows: string[][] = [];
  for (const q of queries) {
    for (const l of locations) {
      rows.push([`${q}, ${l}`, ...(['none', 'empty', 'warm'] as const).map((d) => {
        const c = find(q, l, d);
        return c === undefined ? '—' : cell(c);
      })]);
    }
  }
  out.push(markdownTable(['', 'no disk cache', 'disk cache, empty', 'disk cache, warm'], rows));
  out.push('');
  const targets: string[][] = [];
  for (const q of queries) {
    const s3Warm = find(q, locations[0], 'warm');
    const fileNone = find(q, locations[1], 'none');
    const fileWarm = find(q, locations[1], 'warm');
    if (s3Warm !== undefined && fileNone !== undefined) {
      const ratio = s3Warm.totalMs / fileNone.totalMs;
      targets.push([`${q}: S3 with a warm disk cache ÷ file:// without one`, fmtFactor(ratio), '≤ 2×', ratio <= 2 ? 'met' : 'missed']);
    }
    if (s3Warm !== undefined && fileWarm !== undefined) {
      targets.push([`${q}: S3 warm ÷ file:// warm (both with the disk cache)`, fmtFactor(s3Warm.totalMs / fileWarm.totalMs), '', '']);
    }
  }
  out.push('One child process per sample (median of the samples, fastest in brackets), timed inside the process from before `openDatabase` (wasm compile, listing, page indexes, schema read) to the first row; Node start-up and module loading excluded. `warmInterior: false` everywhere. "empty": a new cache directory for every sample (the run writes it); "warm": one untimed process ran the same query first. S3 requests from the request log: object GETs + ListObjectsV2 (the listing, 10 levels, is made by every open).');
  out.push('');
  out.push(markdownTable(['target', 'measured', 'target', ''], targets));
  out.push('');
  out.push('#### Hydration of the S3 replica');
  out.push('');
  const lt = r.litestream;
  const ltx = r.ltxvfs;
  const ltxMs = median(ltx.map((x) => x.ms));
  const ltxReq = median(ltx.map((x) => x.counts.requests));
  const hrows: string[][] = [
    ['ltxvfs (`hydrate`, defaults: 8 MiB ranges, 4 at once)', `${fmtMs(ltxMs)} (open ${fmtMs(median(ltx.map((x) => x.openMs ?? 0)))})`, fmtMiBs(mibPerSecond(db, ltxMs)),
      `${fmtCount(ltxReq)} (${fmtCount(median(ltx.map((x) => x.rangeReads ?? 0)))} range reads; ${fmtCount(median(ltx.map((x) => x.counts.lists)))} LIST)`,
      fmtMiB(median(ltx.map((x) => x.counts.bytes))), ltx.every((x) => x.identical === true) ? 'yes' : 'NO'],
  ];
  if (lt !== undefined) {
    const rate = mibPerSecond((db * lt.progress) / 100, lt.ms);
    hrows.push(['Litestream VFS 0.5.17 (`LITESTREAM_HYDRATION_ENABLED`)', lt.progress >= 100 ? fmtMs(lt.ms) : `stopped at ${lt.progress.toFixed(1)} % after ${fmtMs(lt.ms)}`,
      fmtMiBs(rate), `${fmtCount(lt.counts.requests)}${lt.progress >= 100 ? '' : ` (≈ ${fmtCount(Math.round((lt.counts.requests * 100) / Math.max(lt.progress, 0.1)))} for all)`}; ${fmtCount(lt.counts.lists)} LIST`,
      fmtMiB(lt.counts.bytes), lt.identical === undefined ? '—' : lt.identical ? 'yes' : 'no']);
  }
  out.push(markdownTable(['', 'time to complete', 'MiB/s (database bytes)', 'requests', 'bytes received', 'same bytes as restore'], hrows));
  out.push('');
  if (lt !== undefined) {
    const ltRate = mibPerSecond((db * lt.progress) / 100, lt.ms);
    const ltRequests = (lt.counts.requests * 100) / Math.max(lt.progress, 0.1);
    const speed = mibPerSecond(db, ltxMs) / ltRate;
    const fewer = ltxReq / ltRequests;
    out.push(markdownTable(['target', 'measured', 'target', ''], [
      ['hydration throughput, ltxvfs ÷ Litestream VFS', fmtFactor(speed), '≥ 10×', speed >= 10 ? 'met' : 'missed'],
      ['requests, ltxvfs ÷ Litestream VFS', `${(fewer * 100).toFixed(1)} %`, '≤ 10 %', fewer <= 0.1 ? 'met' : 'missed'],
    ]));
    out.push('');
  }
  out.push(`ltxvfs: a fresh process per run (median of ${ltx.length}), from the start of the open (listing, page indexes) until the file is complete, the request log's window over all of it. Litestream: one sqlite3 CLI process, from \`.open\` until \`PRAGMA litestream_hydration_progress\` reads 100.0 (polled every 50 ms); requests in the same kind of window. "Same bytes": SHA-256 of the file against \`restoreDatabase\`'s output.`);
  if (r.warm !== undefined) {
    const w = r.warm;
    out.push('');
    out.push('#### Warm queries on the hydrated file against native SQLite on the same file');
    out.push('');
    const nativeL = w.nativeLookupsMs;
    const nativeS = w.nativeScanMs;
    const wrows: string[][] = [];
    for (const e of w.ltxvfs) {
      wrows.push([`ltxvfs, ${e.engine} engine`, `${fmtRate((w.lookups * 1000) / e.lookupsMs)} (${fmtMs(e.lookupsMs)})${nativeL === undefined ? '' : ` · ${fmtFactor(e.lookupsMs / nativeL)} native's time`}`,
        `${fmtMiBs(mibPerSecond(db, e.scanMs))} (${fmtMs(e.scanMs)})${nativeS === undefined ? '' : ` · ${fmtFactor(e.scanMs / nativeS)} native's time`}`, fmtCount(e.requests)]);
    }
    if (nativeL !== undefined && nativeS !== undefined) {
      wrows.push(['native SQLite (sqlite3 CLI)', `${fmtRate((w.lookups * 1000) / nativeL)} (${fmtMs(nativeL)})`, `${fmtMiBs(mibPerSecond(db, nativeS))} (${fmtMs(nativeS)})`, '—']);
    }
    out.push(markdownTable(['', `${fmtCount(w.lookups)} primary-key lookups in one statement`, 'full scan', 'storage requests'], wrows));
    out.push('');
    out.push(`ltxvfs: a fresh process per engine opening the file hydrated before (\`hydrate\`, complete at the replica's TXID, so every page comes from the file with a synchronous read, none is fetched), default 64 MiB cache; median of the runs after one untimed run. Native: \`sqlite3 -readonly\` on the same file (2 MiB page cache, OS file cache warm). Results ${w.agree ? 'agree' : '**differ**'}.`);
  }
  out.push('');
  out.push('#### A disk-cache hit');
  out.push('');
  out.push(markdownTable(['path', 'µs per page'], [
    ['`DiskCache.getPage`: synchronous open + read + close + checks (what the reader does)', r.disk.syncUs.toFixed(1)],
    ['`ReplicaReader.readPage` on a disk hit (memory cache off)', r.disk.readPageUs.toFixed(1)],
    ['the same read through `fs.promises.readFile` + checksum, awaited (an asynchronous tier, before the Asyncify unwind it would add)', r.disk.asyncUs.toFixed(1)],
  ]));
  out.push('');
  out.push(`${fmtCount(r.disk.pages)} pages from the warm S3 cache directory, median of 5 passes.`);
  return out.join('\n');
}
