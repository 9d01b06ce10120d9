/**
 * HTTP for the s3:// client: one keep-alive undici `Pool` per origin (and TLS setting),
 * shared by every client of the process and closed when the last one lets go; and one
 * request with a deadline that covers the headers and the whole body.
 *
 * Nothing here retries or interprets S3 statuses: that is `s3.ts`'s job.
 */

import { Pool } from 'undici';

/** A complete HTTP response: status, lower-case headers (first value each), whole body. */
export interface HttpResponse {
  status: number;
  headers: Record<string, string>;
  body: Uint8Array;
}

/** One request. `path` is already encoded and carries the query string. */
export interface HttpRequest {
  method: string;
  path: string;
  headers: Record<string, string>;
  body?: Uint8Array;
}

/** A pool borrowed from the shared registry; give it back with `release()` exactly once. */
export interface PoolLease {
  readonly pool: Pool;
  release(): Promise<void>;
}

/** The request timed out (`requestTimeoutMs`): headers or body did not arrive in time. */
export class RequestTimeoutError extends Error {
  override readonly name = 'RequestTimeoutError';
  readonly code = 'LTXVFS_REQUEST_TIMEOUT';
  constructor(timeoutMs: number) {
    super(`no complete response within ${timeoutMs} ms`);
  }
}

/** Keep-alive sockets idle longer than this are closed, ms (S3 closes idle connections after about 20 s). */
const KEEP_ALIVE_TIMEOUT_MS = 10_000;

const pools = new Map<string, { pool: Pool; refs: number }>();

/**
 * Borrow the shared pool of `origin` (`https://host[:port]`); `skipVerify` turns off TLS
 * certificate checks (`rejectUnauthorized: false`) and gets a pool of its own.
 */
export function acquirePool(origin: string, skipVerify: boolean): PoolLease {
  const key = `${origin}|${skipVerify ? 'insecure' : 'verify'}`;
  let entry = pools.get(key);
  if (entry === undefined) {
    const pool = new Pool(origin, {
      keepAliveTimeout: KEEP_ALIVE_TIMEOUT_MS,
      connect: skipVerify ? { rejectUnauthorized: false } : undefined,
    });
    entry = { pool, refs: 0 };
    pools.set(key, entry);
  }
  entry.refs++;
  const held = entry;
  let released = false;
  return {
    pool: held.pool,
    async release() {
      if (released) return;
      released = true;
      held.refs--;
      if (held.refs === 0) {
        if (pools.get(key) === held) pools.delete(key);
        await held.pool.close();
      }
    },
  };
}

/** Origins with a live shared pool (for tests and diagnostics). */
export function openPoolCount(): number {
  return pools.size;
}

/**
 * Send one request and read the whole response within `timeoutMs` (headers and body).
 * @throws RequestTimeoutError when the deadline passes; `signal.reason` when `signal`
 *   aborts; undici's errors (socket reset, refused connection, …) as they come.
 */
export async function sendRequest(pool: Pool, req: HttpRequest, timeoutMs: number, signal: AbortSignal): Promise<HttpResponse> {
  const ac = new AbortController();
  const timer = setTimeout(() => ac.abort(new RequestTimeoutError(timeoutMs)), timeoutMs);
  const onAbort = () => ac.abort(signal.reason);
  if (signal.aborted) onAbort();
  else signal.addEventListener('abort', onAbort, { once: true });
  const cleanup = () => {
    clearTimeout(timer);
    signal.removeEventListener('abort', onAbort);
  };
  try {
    const response = await exchange(pool, req, timeoutMs, ac.signal);
    cleanup();
    return response;
  } catch (err) {
    cleanup();
    throw ac.signal.aborted ? ac.signal.reason : err;
  }
}

async function exchange(pool: Pool, req: HttpRequest, timeoutMs: number, signal: AbortSignal): Promise<HttpResponse> {
  const res = await pool.request({
    method: req.method as 'GET',
    path: req.path,
    headers: req.headers,
    body: req.body,
    signal,
    headersTimeout: timeoutMs,
    bodyTimeout: timeoutMs,
  });
  const headers: Record<string, string> = {};
  for (const [name, value] of Object.entries(res.headers)) {
    if (value !== undefined) headers[name.toLowerCase()] = Array.isArray(value) ? value[0] : value;
  }
  return { status: res.statusCode, headers, body: await collect(res.body as AsyncIterable<Buffer>, Number(headers['content-length'])) };
}

/**
 * The whole body. With a Content-Length the chunks are copied into one buffer of that
 * size as they arrive (one copy of a range read in memory, not the chunks plus their
 * concatenation); undici fails a body longer than declared, and a shorter one comes back
 * short (the caller checks). Without a length the chunks are concatenated.
 */
async function collect(body: AsyncIterable<Buffer>, declared: number): Promise<Buffer> {
  let length = 0;
  if (Number.isSafeInteger(declared) && declared >= 0) {
    const into = Buffer.allocUnsafe(declared);
    for await (const chunk of body) length += chunk.copy(into, length);
    return length === declared ? into : into.subarray(0, length);
  }
  const chunks: Buffer[] = [];
  for await (const chunk of body) {
    chunks.push(chunk);
    length += chunk.length;
  }
  return chunks.length === 1 ? chunks[0] : Buffer.concat(chunks, length);
}

/**
 * One line about a failed exchange, for error messages: `timed out (…)` for a
 * {@link RequestTimeoutError}, else `<code>: <message>` of the undici or socket error
 * (`UND_ERR_SOCKET: other side closed`, `ECONNREFUSED: connect ECONNREFUSED 127.0.0.1:1`).
 */
export function describeNetworkError(err: unknown): string {
  if (err instanceof RequestTimeoutError) return `timed out (${err.message})`;
  const e = err as { code?: unknown; message?: unknown } | null | undefined;
  const message = typeof e?.message === 'string' ? e.message.replace(/\s+/g, ' ') : String(err);
  return typeof e?.code === 'string' ? `${e.code}: ${message}` : message;
}
