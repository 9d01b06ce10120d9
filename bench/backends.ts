/**
 * The per-backend section of `npm run bench` (issue 16, "Bench"): open, a cold point
 * lookup and a full scan on every backend beside `file://`, on the same data, with the
 * requests each took, and the Litestream VFS's open + lookup on the same replicas.
 *
 * One dataset (bench/dataset.ts, `--backends-size-mib`, default 32; `--quick` 8: bigger
 * than 2 MiB either way, so the snapshot is not read whole but verified in the background
 * from its first use) is imported once into a file:// replica by ltxvfs's importDatabase,
 * and its LTX files are copied with each backend's own client (`write`, header timestamp
 * kept) into a replica on that backend's local server, one backend at a time (each server
 * runs only while its rows are measured):
 *
 * - `s3://`: s3rver in a child process behind the fault proxy with no added latency and
 *   the request log (bench/s3-stack.ts), `?endpoint=…`;
 * - `abs://`: Azurite over TLS reached with the production URL through the CONNECT proxy
 *   (`HTTPS_PROXY`, `NODE_EXTRA_CA_CERTS`, `SSL_CERT_FILE`; test/helpers/abs-server.ts);
 * - `gs://`: firebase-tools' Cloud Storage emulator (`STORAGE_EMULATOR_HOST`);
 * - `sftp://`: ssh2's Server on a temp directory (password, host key by fingerprint);
 * - `webdav://`: npm webdav-server over HTTP;
 * - `nats://`: nats-server -js (JetStream object store; no ranged reads);
 * all on loopback, so the figures are each protocol's and server's own cost, not a network's.
 *
 * Per backend, {@link SAMPLES} fresh processes each (bench/backends-child.ts): loading the
 * backend's folder, `openDatabase(url)` (defaults, polling off), a point lookup, a full
 * scan; medians. The Litestream VFS: a fresh `sqlite3` process per sample with the
 * extension loaded (untimed), `.open` + schema read, then the same lookup, page reads from
 * its DEBUG log. Servers that run in this process (gs, sftp, webdav; s3's proxy and log)
 * answer the children from here: nothing here blocks the event loop while they run.
 */
import { mkdir, rm } from 'node:fs/promises';
import { loadavg } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { openReplicaClient, type OpenReplicaClientOptions } from '../lib/storage/url.js';
import { startAbsServer } from '../test/helpers/abs-server.js';
import { Prng } from '../test/helpers/datagen.js';
import { startGcsEmulator } from '../test/helpers/gcs-emulator.js';
import { requireNatsServer, startNatsServer } from '../test/helpers/nats-server.js';
import { requireLitestreamVfs } from '../test/helpers/paths.js';
import { startSftpServer } from '../test/helpers/sftp-server.js';
import { startWebdavServer } from '../test/helpers/webdav-server.js';
import type { BackendSample, BackendsChildInput, Counts } from './backends-child.js';
import { prepareDataset, type Dataset } from './dataset.js';
import { LogCounter, startLitestreamSession } from './litestream.js';
import { importWithLtxvfs, runChildScript } from './ltxvfs.js';
import { copyReplica } from './s3-replica.js';
import { S3_ENV, startS3Stack } from './s3-stack.js';
import { fmtCount, fmtFactor, fmtMiB, fmtMiBs, fmtMs, markdownTable, median, mibPerSecond } from './table.js';
import { inline, SQL, type ReplicaLocation } from './workload.js';

/** The compiled child (bench/tsconfig.json puts it beside the others). */
const BACKENDS_CHILD_JS = join(fileURLToPath(new URL('.', import.meta.url)), '.work', 'build', 'bench', 'backends-child.js');
const OPEN = ".open 'file:bench.db?vfs=litestream'";
/** Fresh processes per backend and engine; the cells are their medians. */
export const SAMPLES = 3;
/** Attempts of one Litestream VFS sample (over NATS it fails now and then with "context canceled": test/lib/storage/nats-litestream.test.ts). */
const LITESTREAM_ATTEMPTS = 3;

/** Options of {@link runBackendsSection}. */
export interface BackendsSectionOptions {
  workDir: string;
  sizeMiB: number;
  seed: number;
  litestream: boolean;
  log: (msg: string) => void;
}

/** One Litestream VFS sample: `.open` + schema read, then the lookup (ms), and the page reads its DEBUG log showed for each. */
export interface LitestreamSample {
  openMs: number;
  lookupMs: number;
  openReads: number;
  lookupReads: number;
}

/** What one backend measured. */
export interface BackendRow {
  /** `file://`, `s3://`, … */
  name: string;
  /** Replica URL with credentials masked. */
  url: string;
  /** Copying the replica's LTX files in with the backend's client, ms (undefined for file://, the source). */
  copyMs?: number;
  ltxvfs: BackendSample[];
  litestream: LitestreamSample[];
  /** Litestream VFS attempts that failed and were repeated, with the first message. */
  litestreamFailures: { count: number; message?: string };
  /** Why the backend has no figures (its server could not start, a sample failed). */
  error?: string;
}

/** Everything the section measured. */
export interface BackendsSectionResult {
  dataset: Dataset;
  /** Bytes of the replica's LTX files (the snapshot). */
  replicaBytes: number;
  rows: BackendRow[];
  /** 1-minute load average at the start and the end of the section. */
  load: [number, number];
  seconds: number;
}

/** A backend's local server with the replica copied in: where readers find it, and how to stop it. */
interface Backend {
  location: ReplicaLocation;
  /** The folder under lib/storage/ (what the child loads timed). */
  scheme: string;
  copyMs: number;
  close(): Promise<void>;
}

/** A backend's server just started: where readers find the replica, how to write it, how to stop the server. */
interface Started {
  close(): Promise<void>;
  scheme: string;
  url: string;
  /** Environment of the reader processes (ltxvfs and the Litestream VFS). */
  env: Record<string, string>;
  /** Where and how this process writes the replica (default `url`). */
  writeUrl?: string;
  write: OpenReplicaClientOptions;
  /** Run before the copy (e.g. create the container). */
  prepare?: () => Promise<void>;
}

/** Copy the file:// replica at `sourceUrl` into the started backend with its own client (`write`, header timestamps kept); its server is stopped when that fails. */
async function filled(name: string, s: Started, sourceUrl: string): Promise<Backend> {
  try {
    await s.prepare?.();
    const t0 = performance.now();
    const from = await openReplicaClient(sourceUrl);
    const to = await openReplicaClient(s.writeUrl ?? s.url, s.write);
    try {
      await copyReplica(from, to);
    } finally {
      await from.close();
      await to.close();
    }
    return { location: { name, url: s.url, env: s.env }, scheme: s.scheme, copyMs: performance.now() - t0, close: () => s.close() };
  } catch (err) {
    await s.close();
    throw err;
  }
}

/** `user:password@` → `user:***@` for the table. */
function masked(url: string): string {
  return url.replace(/\/\/([^:/@]+):[^@/]*@/, '//$1:***@').replace(/([?&]hostKey=)[^&]+/, '$1…');
}

/** The backends other than file://, each started on demand (module doc). */
const STARTERS: [string, (workDir: string) => Promise<Started>][] = [
  ['s3://', async (workDir) => {
    const stack = await startS3Stack({ latencyMs: 0, logFile: join(workDir, 'backends-s3-requests.jsonl') });
    return { close: () => stack.close(), scheme: 's3', url: stack.url('items'), env: { ...S3_ENV }, writeUrl: stack.directUrl('items'), write: { env: S3_ENV } };
  }],
  ['abs://', async () => {
    const server = await startAbsServer();
    return {
      close: () => server.close(), scheme: 'abs', url: server.url('bench', 'items'), env: server.childEnv,
      write: { env: server.env, abs: server.absOptions() }, prepare: () => server.createContainer('bench'),
    };
  }],
  ['gs://', async () => {
    const gcs = await startGcsEmulator({ bucket: 'ltxvfs-bench' });
    return { close: () => gcs.close(), scheme: 'gs', url: `gs://${gcs.bucket}/items`, env: gcs.env, write: { env: gcs.env } };
  }],
  ['sftp://', async () => {
    const server = await startSftpServer();
    const url = `sftp://${server.user}:${encodeURIComponent(server.password)}@127.0.0.1:${server.port}/items?hostKey=${encodeURIComponent(server.fingerprint)}`;
    return { close: () => server.close(), scheme: 'sftp', url, env: {}, write: { env: {} } };
  }],
  ['webdav://', async () => {
    const server = await startWebdavServer();
    return { close: () => server.close(), scheme: 'webdav', url: server.url('items'), env: {}, write: { env: {} } };
  }],
  ['nats://', async () => {
    requireNatsServer();
    const server = await startNatsServer();
    return { close: () => server.close(), scheme: 'nats', url: server.url('items'), env: {}, write: { env: {}, create: true } };
  }],
];

/** One Litestream VFS sample in a fresh sqlite3 process (module doc), repeated on failure up to {@link LITESTREAM_ATTEMPTS} times. */
async function litestreamSample(location: ReplicaLocation, id: number, logFile: string, failures: BackendRow['litestreamFailures']): Promise<LitestreamSample> {
  for (let attempt = 1; ; attempt++) {
    await rm(logFile, { force: true });
    const session = await startLitestreamSession(location, logFile, true);
    try {
      const counter = new LogCounter(logFile);
      await counter.take();
      const open = await session.time(`${OPEN}\n${SQL.schema};`);
      const openReads = await counter.take();
      const lookup = await session.time(`${inline(SQL.point, [id])};`);
      return { openMs: open.ms, lookupMs: lookup.ms, openReads, lookupReads: await counter.take() };
    } catch (err) {
      failures.count++;
      failures.message ??= err instanceof Error ? err.message.split('\n')[0] : String(err);
      if (attempt >= LITESTREAM_ATTEMPTS) throw err;
    } finally {
      await session.close().catch(() => undefined);
    }
  }
}

/** The samples of one backend (ltxvfs, then the Litestream VFS). */
async function measure(row: BackendRow, backend: { location: ReplicaLocation; scheme: string }, warmUrl: string, ids: number[], o: BackendsSectionOptions, logFile: string): Promise<void> {
  for (const id of ids) {
    const input: BackendsChildInput = { phase: 'sample', url: backend.location.url, scheme: backend.scheme, warmUrl, id };
    row.ltxvfs.push(await runChildScript<BackendSample>(BACKENDS_CHILD_JS, input, backend.location.env));
  }
  const l = row.ltxvfs;
  o.log(`backends: ${row.name} ltxvfs open ${fmtMs(median(l.map((s) => s.openMs)))}, lookup ${fmtMs(median(l.map((s) => s.lookupMs)))}, scan ${fmtMs(median(l.map((s) => s.scanMs)))}`);
  if (!o.litestream) return;
  try {
    for (const id of ids) row.litestream.push(await litestreamSample(backend.location, id, logFile, row.litestreamFailures));
    o.log(`backends: ${row.name} Litestream VFS open ${fmtMs(median(row.litestream.map((s) => s.openMs)))}, lookup ${fmtMs(median(row.litestream.map((s) => s.lookupMs)))}`);
  } catch (err) {
    o.log(`backends: ${row.name} Litestream VFS failed: ${err instanceof Error ? err.message : String(err)}`);
  }
}

/** Run the section (see the module comment). */
export async function runBackendsSection(o: BackendsSectionOptions): Promise<BackendsSectionResult> {
  const started = performance.now();
  const loadStart = loadavg()[0];
  const { log } = o;
  if (o.litestream) requireLitestreamVfs();
  const dataset = await prepareDataset(o.workDir, o.sizeMiB, o.seed, log);
  const work = join(o.workDir, `backends-${process.pid}`);
  await rm(work, { recursive: true, force: true });
  await mkdir(work, { recursive: true });
  log('backends: importing the dataset into a file:// replica …');
  const replica = await importWithLtxvfs(dataset.dbPath, join(work, 'replica'));
  const prng = new Prng(o.seed * 7919 + 16);
  const ids = Array.from({ length: SAMPLES }, () => 1 + prng.int(dataset.rows));
  const logFile = join(work, 'litestream.log');
  const rows: BackendRow[] = [];
  const fresh = (name: string, url: string): BackendRow => ({ name, url: masked(url), ltxvfs: [], litestream: [], litestreamFailures: { count: 0 } });

  const file = fresh('file://', replica.url);
  rows.push(file);
  await measure(file, { location: { name: 'file://', url: replica.url, env: {} }, scheme: 'file' }, replica.url, ids, o, logFile);
  for (const [name, start] of STARTERS) {
    log(`backends: ${name} starting its server, copying the replica in …`);
    let backend: Backend;
    try {
      backend = await filled(name, await start(work), replica.url);
    } catch (err) {
      rows.push({ ...fresh(name, ''), error: `server or copy failed: ${err instanceof Error ? err.message.split('\n')[0] : String(err)}` });
      log(`backends: ${name} skipped: ${rows.at(-1)?.error}`);
      continue;
    }
    const row = { ...fresh(name, backend.location.url), copyMs: backend.copyMs };
    rows.push(row);
    try {
      await measure(row, backend, replica.url, ids, o, logFile);
    } catch (err) {
      row.error = `a sample failed: ${err instanceof Error ? err.message.split('\n')[0] : String(err)}`;
      log(`backends: ${name}: ${row.error}`);
    } finally {
      await backend.close();
    }
  }
  const loadEnd = loadavg()[0];
  return { dataset, replicaBytes: replica.ltxBytes, rows, load: [loadStart, loadEnd], seconds: (performance.now() - started) / 1000 };
}

/** Median of a phase's counts over the samples: `5 req (4 calls)`, or `4 calls` when the client keeps no request count. */
function countsCell(samples: BackendSample[], pick: (s: BackendSample) => Counts): string {
  const c = samples.map(pick);
  const calls = median(c.map((x) => x.calls));
  const req = c.every((x) => x.requests !== undefined) ? median(c.map((x) => x.requests ?? 0)) : undefined;
  return req === undefined ? `${fmtCount(calls)} calls` : `${fmtCount(req)} req (${fmtCount(calls)} calls)`;
}

/** The section's tables and notes (markdown). */
export function renderBackends(r: BackendsSectionResult): string {
  const db = r.dataset;
  const out: string[] = [];
  out.push(`### Per backend: open, cold point lookup and full scan beside file:// (issue 16), ${fmtMiB(db.bytes)} database`);
  out.push('');
  const base = r.rows.find((x) => x.name === 'file://');
  const baseOpenLookup = base === undefined ? NaN : median(base.ltxvfs.map((s) => s.openMs + s.lookupMs));
  const baseScan = base === undefined ? NaN : median(base.ltxvfs.map((s) => s.scanMs));
  const rows = r.rows.map((x) => {
    if (x.ltxvfs.length === 0) return [x.name, x.error ?? '—', '', '', '', '', ''];
    const l = x.ltxvfs;
    const m = (f: (s: BackendSample) => number): number => median(l.map(f));
    const scanMs = m((s) => s.scanMs);
    const ls = x.litestream;
    const litestream = ls.length === 0
      ? (x.litestreamFailures.count > 0 ? `failed: ${x.litestreamFailures.message ?? ''}` : '—')
      : `${fmtMs(median(ls.map((s) => s.openMs)))} + ${fmtMs(median(ls.map((s) => s.lookupMs)))} · ${fmtCount(median(ls.map((s) => s.openReads)))} + ${fmtCount(median(ls.map((s) => s.lookupReads)))} page reads${x.litestreamFailures.count > 0 ? ` (${x.litestreamFailures.count} failed attempts repeated)` : ''}`;
    return [
      x.name,
      `${fmtMs(m((s) => s.openMs))} · ${countsCell(l, (s) => s.open)} (+ ${fmtMs(m((s) => s.loadMs))} loading)`,
      `${fmtMs(m((s) => s.lookupMs))} · ${countsCell(l, (s) => s.lookup)}`,
      fmtFactor(m((s) => s.openMs + s.lookupMs) / baseOpenLookup),
      `${fmtMiBs(mibPerSecond(db.bytes, scanMs))} (${fmtMs(scanMs)}) · ${countsCell(l, (s) => s.scan)} · ${fmtMiB(m((s) => s.scan.bytes))}`,
      fmtFactor(scanMs / baseScan),
      litestream,
    ];
  });
  out.push(markdownTable(['backend', 'open (ltxvfs) ¹', 'cold point lookup ²', 'open + lookup ÷ file://', 'full scan ³', 'scan ÷ file://', 'Litestream VFS: open + lookup ⁴'], rows));
  out.push('');
  const results = new Set(r.rows.flatMap((x) => x.ltxvfs.map((s) => s.scanResult)));
  if (results.size > 1) out.push(`**The backends disagree on the scan result:** ${r.rows.map((x) => `${x.name}: ${x.ltxvfs[0]?.scanResult ?? '—'}`).join('; ')}\n`);
  const copies = r.rows.filter((x) => x.copyMs !== undefined).map((x) => `${x.name} ${fmtMs(x.copyMs)}`).join(', ');
  out.push(`Medians of ${SAMPLES} samples, each a fresh process, on one replica of the dataset (${fmtCount(db.rows)} rows, ${fmtCount(db.pageCount)} pages; snapshot LTX ${fmtMiB(r.replicaBytes)}), imported once into file:// by importDatabase and copied with each backend's client \`write\` (${copies}). Every server runs on loopback on this machine (s3rver with no added latency), so the figures are each protocol's, client's and server's own cost. 1-minute load ${r.load[0].toFixed(1)} at the start, ${r.load[1].toFixed(1)} at the end; the section took ${r.seconds.toFixed(0)} s.`);
  out.push('');
  out.push('¹ ltxvfs (bench/backends-child.ts): `openDatabase(url)` with defaults but polling off — the client (connection, credentials), the listing, the snapshot\'s header and page index, the schema read; the wasm was compiled before by an untimed open of the local replica; "loading" is importing the backend\'s folder (lib/storage/<scheme>/) and the vendor library its open would load (\`@azure/storage-blob\`, \`@google-cloud/storage\`, \`ssh2\`, \`webdav\`, \`nats\`; s3 has its own HTTP client), timed apart before the open. Requests: "req" is what the client counts on the wire in its `stats()` (HTTP requests on s3, abs, gs, webdav; object gets, listings and info look-ups on nats); "calls" are ReplicaClient calls (listings, range reads, whole reads), counted by a Proxy around the client; file:// (a pread each) and sftp:// (a READ each on a kept handle, OPEN the first time; a listing is OPENDIR + READDIRs) keep no own count.');
  out.push('');
  out.push('² `SELECT name FROM items WHERE id = ?` right after the open, same ids on every backend. On the remote backends (all but file://) the interior-page warm-up runs in the background from the open, and the snapshot (> 2 MiB) is verified in the background from its first use: their reads fall into the phase they ran in.');
  out.push('');
  out.push(`³ \`${SQL.scan}\` on the same database after the lookup; MiB/s = database bytes / time; MiB = bytes received (page reads and background verification). nats:// has no ranged read: the client fetches whole objects and serves ranges from its whole-object cache (docs/backends/nats.md), so one get brings the snapshot.`);
  out.push('');
  out.push('⁴ The real Litestream VFS (litestream-vfs 0.5.17 in the sqlite3 CLI), the same URL and environment, a fresh `sqlite3` process per sample: `.load` untimed, then `.open` + `SELECT 1 FROM sqlite_schema LIMIT 1`, then the lookup, timed from Node (bench/cli-session.ts); page reads from its DEBUG log (`data read from storage`; the page-index reads of the LTX files are not logged). Its full scan reads one page per request and is left out.');
  return out.join('\n');
}
