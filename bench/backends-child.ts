/**
 * One sample of the per-backend section (bench/backends.ts), in a fresh process, run as
 * JavaScript compiled by tsc (bench/tsconfig.json; why not tsx: bench/ltxvfs-child.ts).
 * Input: one JSON document on stdin ({@link BackendsChildInput}); the backend's
 * environment (credentials, `STORAGE_EMULATOR_HOST`, `HTTPS_PROXY`, …) is the process
 * environment, as a user's would be. Output: one JSON line on stdout ({@link BackendSample}).
 *
 * Untimed first: the wasm is compiled by an open of the local `warmUrl` replica (closed
 * again; nothing else is shared, `shared: false`). Then, timed: loading the backend's
 * folder (lib/storage/<scheme>/) and the vendor library its open would load, `openDatabase(url)` with
 * defaults but polling off, a point lookup by id on it, and a full scan on it.
 *
 * Requests: the storage client the reader opens is captured (ReplicaReader.open is
 * wrapped) inside a counting Proxy: `calls` counts ReplicaClient calls (listings, range
 * reads, whole reads); `requests` is what the client's own `stats()` counts on the wire
 * (HTTP requests on s3, abs, gs, webdav; gets, listings and info look-ups on nats), absent
 * for file:// and sftp://, whose clients keep none. Counts are taken at the phase edges,
 * so background work (interior warm-up, file verification) lands in the phase it ran in.
 * After the scan the snapshot's background verification is awaited (untimed) before the close.
 */
import { openDatabase, readVerified } from '../lib/api/open.js';
import { ReplicaReader } from '../lib/read/replica-reader.js';
import type { ReplicaClient } from '../lib/storage/types.js';
import { SQL } from './workload.js';

/** What the parent passes. */
export interface BackendsChildInput {
  phase: 'sample';
  /** The replica URL, as a user pastes it. */
  url: string;
  /** The backend's folder under lib/storage/ (`file`, `s3`, `abs`, …), loaded timed before the open. */
  scheme: string;
  /** A local file:// replica opened first, untimed, to compile the wasm. */
  warmUrl: string;
  /** The id of the point lookup. */
  id: number;
}

/** Counters at a phase edge, or a phase's deltas. */
export interface Counts {
  /** ReplicaClient calls (listLtxFiles, readRange, read, listKeys). */
  calls: number;
  /** Requests the client counted itself (`stats()`), when it keeps counts. */
  requests?: number;
  /** `stats().readRequests` of the database: ltxvfs's storage reads (page fetches, index reads, verification not included). */
  readRequests: number;
  /** Bytes received from storage as ltxvfs counts them (`stats().bytesRead`) plus background verification's. */
  bytes: number;
}

/** One sample. */
export interface BackendSample {
  /** Loading lib/storage/<scheme>/ and the vendor library its open would load, ms. */
  loadMs: number;
  openMs: number;
  lookupMs: number;
  scanMs: number;
  open: Counts;
  lookup: Counts;
  scan: Counts;
  /** `count(*)` and bytes the scan returned (all backends must agree). */
  scanResult: string;
  /** Whether the interior warm-up was on (remote latency class). */
  warmInterior: boolean;
}

const METHODS = new Set(['listLtxFiles', 'readRange', 'read', 'listKeys']);
/** The vendor library each backend loads at its first open (lib/storage/<scheme>/, `loadOptional`); s3 and file need none. */
const VENDOR: Record<string, string | undefined> = { abs: '@azure/storage-blob', gs: '@google-cloud/storage', sftp: 'ssh2', webdav: 'webdav', nats: 'nats' };

/** The client's own request count from `stats()`, whatever its shape; undefined when it keeps none. */
function ownRequests(client: ReplicaClient): number | undefined {
  const stats = (client as { stats?: () => unknown }).stats;
  if (typeof stats !== 'function') return undefined;
  const s = stats.call(client) as Record<string, unknown>;
  const sum = (o: object): number => Object.values(o).reduce<number>((a, v) => a + (typeof v === 'number' ? v : 0), 0);
  if (typeof s.requests === 'number') return s.requests;
  if (typeof s.requests === 'object' && s.requests !== null) return sum(s.requests);
  // nats: no `requests` field; its wire operations are gets, lists, infos and writes.
  const ops = ['gets', 'lists', 'infos', 'writes'].map((k) => s[k]);
  return ops.every((v) => typeof v === 'number') ? ops.reduce<number>((a, v) => a + (v as number), 0) : undefined;
}

/** Wrap `client` so that its calls are counted; everything else passes through. */
function counting(client: ReplicaClient, counter: { calls: number }): ReplicaClient {
  return new Proxy(client, {
    get(target, prop) {
      const value: unknown = Reflect.get(target, prop, target);
      if (typeof value !== 'function') return value;
      const fn = value as (...args: unknown[]) => unknown;
      if (typeof prop === 'string' && METHODS.has(prop)) {
        return (...args: unknown[]) => {
          counter.calls++;
          return fn.apply(target, args);
        };
      }
      return fn.bind(target);
    },
  });
}

async function main(): Promise<void> {
  let text = '';
  for await (const chunk of process.stdin) text += String(chunk);
  const input = JSON.parse(text) as BackendsChildInput;

  const warm = await openDatabase(input.warmUrl, { shared: false, pollIntervalMs: 0 });
  await warm.get(SQL.schema);
  await readVerified(warm);
  await warm.close();

  const counter = { calls: 0 };
  let client: ReplicaClient | undefined;
  const open = ReplicaReader.open.bind(ReplicaReader);
  ReplicaReader.open = (c, o) => {
    client = counting(c, counter);
    return open(client, o);
  };

  const t0 = performance.now();
  await import(`../lib/storage/${input.scheme}/${input.scheme === 'file' ? 'client' : 'index'}.js`);
  const vendor = VENDOR[input.scheme];
  if (vendor !== undefined) await import(vendor);
  const loadMs = performance.now() - t0;

  const t1 = performance.now();
  const db = await openDatabase(input.url, { pollIntervalMs: 0 });
  const openMs = performance.now() - t1;
  if (client === undefined) throw new Error(`${input.url}: openDatabase opened no ReplicaReader`);
  const c = client;
  const edge = (): Counts => {
    const s = db.stats();
    return { calls: counter.calls, requests: ownRequests(c), readRequests: s.readRequests, bytes: s.bytesRead + s.verification.verifyBytes };
  };
  const delta = (a: Counts, b: Counts): Counts => ({
    calls: b.calls - a.calls,
    requests: a.requests === undefined || b.requests === undefined ? undefined : b.requests - a.requests,
    readRequests: b.readRequests - a.readRequests,
    bytes: b.bytes - a.bytes,
  });
  const zero: Counts = { calls: 0, requests: ownRequests(c) === undefined ? undefined : 0, readRequests: 0, bytes: 0 };
  const e0 = edge();

  const t2 = performance.now();
  const row = await db.get(SQL.point, [input.id]);
  const lookupMs = performance.now() - t2;
  if (row === undefined) throw new Error(`${input.url}: no row with id ${input.id}`);
  const e1 = edge();

  const t3 = performance.now();
  const scan = await db.get(SQL.scan);
  const scanMs = performance.now() - t3;
  const e2 = edge();
  // Untimed: let the snapshot's background verification finish (a checksum failure throws here), so the close cancels nothing.
  await readVerified(db);
  await db.close();

  const out: BackendSample = {
    loadMs, openMs, lookupMs, scanMs,
    open: delta(zero, e0), lookup: delta(e0, e1), scan: delta(e1, e2),
    scanResult: JSON.stringify(scan),
    warmInterior: c.capabilities.latency === 'remote',
  };
  process.stdout.write(`${JSON.stringify(out)}\n`);
}

main().then(() => process.exit(0), (err: unknown) => {
  process.stderr.write(`backends-child: ${err instanceof Error ? err.stack ?? err.message : String(err)}\n`);
  process.exit(1);
});
