/**
 * The S3 stack of the bench, in the bench's parent process: s3rver (test/helpers/s3rver.ts)
 * behind the project's fault proxy (test/helpers/fault-proxy.ts) adding latency to every
 * request, behind a thin request log of our own that the readers talk to:
 *
 *     reader (child process) → request log → fault proxy (+latency, counters) → s3rver
 *
 * The request log is a streaming pass-through (no buffering) that records, per request,
 * when it arrived and when its response ended, its method, path, range and size. That is
 * what the S3 tables count as round trips, and from the intervals it tells dependent
 * requests from parallel ones ({@link dependentCount}). The fault proxy's own counters are
 * kept as a cross-check ({@link S3Stack.proxyRequests}).
 *
 * Measurement windows: `begin()` … `end(label)` in this process (the CLI engines, driven
 * from here), or `GET /__bench/begin` … `GET /__bench/end?label=…` from a child (ltxvfs),
 * which answers the window's counts as JSON. One window at a time; requests are counted in
 * the window they started in. Every labelled window's requests are appended to a JSONL
 * file (`bench/.work/s3-requests.jsonl`) for diagnosis.
 *
 * Nothing here may block the event loop: s3rver, the proxy and the log answer the children
 * from this process (no spawnSync, no sync file I/O while they run).
 */
import { spawn } from 'node:child_process';
import * as http from 'node:http';
import type { AddressInfo } from 'node:net';
import { appendFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { startS3rver, type S3rverHandle } from '../test/helpers/s3rver.js';
import { startFaultProxy, type FaultProxy } from '../test/helpers/fault-proxy.js';

/** The compiled bench/s3rver-child.ts (bench/tsconfig.json, built by `buildChild`). */
const S3RVER_CHILD_JS = join(fileURLToPath(new URL('.', import.meta.url)), '.work', 'build', 'bench', 's3rver-child.js');

/** s3rver in a child process (bench/s3rver-child.ts): same handle as in-process. */
async function startS3rverProcess(bucket: string): Promise<S3rverHandle> {
  const child = spawn(process.execPath, [S3RVER_CHILD_JS, bucket], { stdio: ['pipe', 'pipe', 'inherit'] });
  const exited = new Promise<number | null>((resolve) => child.on('close', resolve));
  const info = await new Promise<{ endpoint: string; bucket: string; directory: string }>((resolve, reject) => {
    let out = '';
    child.stdout.setEncoding('utf8');
    child.stdout.on('data', (d: string) => {
      out += d;
      const nl = out.indexOf('\n');
      if (nl >= 0) resolve(JSON.parse(out.slice(0, nl)) as { endpoint: string; bucket: string; directory: string });
    });
    child.on('error', reject);
    void exited.then((code) => reject(new Error(`s3rver child exited (${code}) before it listened`)));
  });
  let closed = false;
  return {
    ...info,
    async close() {
      if (closed) return;
      closed = true;
      child.stdin.end();
      await exited;
    },
  };
}

/** One request as the log saw it (times in ms since the log started). */
export interface RequestRecord {
  method: string;
  /** Path and query as sent (bucket and key, `list-type=2&prefix=…` for listings). */
  url: string;
  /** `Range` header, if any (`bytes=a-b`). */
  range?: string;
  status: number;
  /** Response body bytes. */
  bytes: number;
  start: number;
  /** When the response ended (undefined while in flight). */
  end?: number;
}

/** What a window counted. */
export interface WindowCounts {
  /** Requests started in the window (all methods). */
  requests: number;
  /** Of those: listings (GET with `list-type`). */
  lists: number;
  /** Of those: object GETs (ranged or whole). */
  gets: number;
  /** Of those: HEADs. */
  heads: number;
  /** Largest set of those requests that ran one after another without overlapping (see {@link dependentCount}). */
  dependent: number;
  /** Most requests in flight at once. */
  maxInFlight: number;
  /** Response body bytes. */
  bytes: number;
  /** Requests the fault proxy counted in the window (cross-check of `requests`). */
  proxyRequests: number;
  /** Window length, ms. */
  ms: number;
}

/** The running stack. */
export interface S3Stack {
  /** Endpoint readers use (the request log), `http://127.0.0.1:<port>`. */
  endpoint: string;
  /** s3rver's own endpoint (no latency, not counted): for uploads. */
  directEndpoint: string;
  bucket: string;
  latencyMs: number;
  /** Replica URL of `path` in the bucket, read through the log and the proxy. */
  url(path: string): string;
  /** Replica URL of `path`, straight to s3rver (uploads). */
  directUrl(path: string): string;
  /** Start a measurement window (ends any open one unrecorded). */
  begin(): void;
  /** End the window: its counts; its requests go to the JSONL log under `label`. */
  end(label: string): WindowCounts;
  /** Requests the fault proxy has counted since start. */
  proxyRequests(): number;
  /** Requests the log has forwarded since start (in windows or not). */
  loggedRequests(): number;
  close(): Promise<void>;
}

/** Environment a reader needs for s3rver (it checks only that the key id exists). */
export const S3_ENV = { AWS_ACCESS_KEY_ID: 'S3RVER', AWS_SECRET_ACCESS_KEY: 'S3RVER' } as const;

/**
 * The largest number of requests among `records` that ran strictly one after another
 * (no two overlapping in time): the greedy earliest-end-first count of disjoint
 * intervals. Each of them waited for the one before to finish, so it is a lower bound of
 * the dependent round trips; the other requests ran in parallel with one of them.
 */
export function dependentCount(records: readonly { start: number; end?: number }[], now: number): number {
  const spans = records.map((r) => [r.start, r.end ?? now] as const).sort((a, b) => a[1] - b[1]);
  let count = 0;
  let lastEnd = -Infinity;
  for (const [start, end] of spans) {
    if (start >= lastEnd) {
      count++;
      lastEnd = end;
    }
  }
  return count;
}

function maxInFlight(records: readonly { start: number; end?: number }[], now: number): number {
  const events: [number, number][] = [];
  for (const r of records) events.push([r.start, 1], [r.end ?? now, -1]);
  events.sort((a, b) => a[0] - b[0] || a[1] - b[1]);
  let cur = 0;
  let max = 0;
  for (const [, d] of events) max = Math.max(max, (cur += d));
  return max;
}

/** Start s3rver, the fault proxy with `latencyMs` per request, and the request log. */
export async function startS3Stack(options: { latencyMs: number; logFile: string; s3rverInProcess?: boolean }): Promise<S3Stack> {
  const s3: S3rverHandle = options.s3rverInProcess === true ? await startS3rver({ bucket: 'ltxvfs-bench' }) : await startS3rverProcess('ltxvfs-bench');
  let proxy: FaultProxy | undefined;
  let server: http.Server | undefined;
  try {
    proxy = await startFaultProxy(s3.endpoint, { latencyMs: options.latencyMs });
    const upstream = new URL(proxy.endpoint);
    const agent = new http.Agent({ keepAlive: true, timeout: 4000 });
    const t0 = performance.now();
    const now = (): number => performance.now() - t0;
    let records: RequestRecord[] = [];
    let logged = 0;
    let window: { start: number; proxyBefore: number } | undefined;
    const p = proxy;
    const proxyTotal = (): number => Object.values(p.stats().requests).reduce((a, b) => a + b, 0);
    await writeFile(options.logFile, '');
    let logWrites = Promise.resolve();

    const begin = (): void => {
      records = [];
      window = { start: now(), proxyBefore: proxyTotal() };
    };
    const end = (label: string): WindowCounts => {
      const w = window ?? { start: now(), proxyBefore: proxyTotal() };
      window = undefined;
      const t = now();
      const rs = records;
      records = [];
      const counts: WindowCounts = {
        requests: rs.length,
        lists: rs.filter((r) => r.method === 'GET' && /[?&]list-type=/.test(r.url)).length,
        gets: rs.filter((r) => r.method === 'GET' && !/[?&]list-type=/.test(r.url)).length,
        heads: rs.filter((r) => r.method === 'HEAD').length,
        dependent: dependentCount(rs, t),
        maxInFlight: maxInFlight(rs, t),
        bytes: rs.reduce((a, r) => a + r.bytes, 0),
        // The proxy counts a request when its body has arrived, the log when its headers did:
        // a request in flight at either edge may land in a neighbouring window there.
        proxyRequests: proxyTotal() - w.proxyBefore,
        ms: t - w.start,
      };
      const lines = rs.map((r) => JSON.stringify({ label, ...r, start: +(r.start - w.start).toFixed(2), end: r.end === undefined ? null : +(r.end - w.start).toFixed(2) }));
      if (lines.length > 0) logWrites = logWrites.then(() => appendFile(options.logFile, `${lines.join('\n')}\n`)).catch(() => undefined);
      return counts;
    };

    server = http.createServer((req, res) => {
      const url = req.url ?? '/';
      if (url.startsWith('/__bench/')) {
        const u = new URL(url, 'http://x');
        let body: unknown = {};
        if (u.pathname === '/__bench/begin') begin();
        else if (u.pathname === '/__bench/end') body = end(u.searchParams.get('label') ?? 'child');
        res.writeHead(200, { 'content-type': 'application/json' });
        res.end(JSON.stringify(body));
        return;
      }
      const record: RequestRecord = {
        method: req.method ?? 'GET', url, range: typeof req.headers.range === 'string' ? req.headers.range : undefined,
        status: 0, bytes: 0, start: now(),
      };
      logged++;
      if (window !== undefined) records.push(record);
      const up = http.request(
        { host: upstream.hostname, port: upstream.port, method: req.method, path: url, headers: { ...req.headers, host: upstream.host }, agent },
        (upRes) => {
          record.status = upRes.statusCode ?? 502;
          res.writeHead(upRes.statusCode ?? 502, upRes.headers);
          upRes.on('data', (c: Buffer) => (record.bytes += c.length));
          upRes.on('end', () => (record.end = now()));
          upRes.pipe(res);
        },
      );
      up.on('error', (err) => {
        record.end = now();
        if (!res.headersSent) {
          res.writeHead(502);
          res.end(String(err.message));
        } else res.destroy();
      });
      req.pipe(up);
    });
    server.keepAliveTimeout = 60_000;
    await new Promise<void>((resolve) => server!.listen(0, '127.0.0.1', resolve));
    const { port } = server.address() as AddressInfo;
    const endpoint = `http://127.0.0.1:${port}`;
    const srv = server;
    let closed = false;
    return {
      endpoint,
      directEndpoint: s3.endpoint,
      bucket: s3.bucket,
      latencyMs: options.latencyMs,
      url: (path) => `s3://${s3.bucket}/${path}?endpoint=${endpoint}&forcePathStyle=true`,
      directUrl: (path) => `s3://${s3.bucket}/${path}?endpoint=${s3.endpoint}&forcePathStyle=true`,
      begin,
      end,
      proxyRequests: proxyTotal,
      loggedRequests: () => logged,
      async close() {
        if (closed) return;
        closed = true;
        srv.closeAllConnections();
        await new Promise<void>((resolve) => srv.close(() => resolve()));
        agent.destroy();
        await logWrites;
        await p.close();
        await s3.close();
      },
    };
  } catch (err) {
    server?.close();
    await proxy?.close();
    await s3.close();
    throw err;
  }
}
