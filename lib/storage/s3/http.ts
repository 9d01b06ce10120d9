/**
 * HTTP for the s3:// client: one keep-alive undici `Pool` per origin (and TLS setting),
 * shared by every client of the process and closed when the last one lets go; and one
 * request with a deadline that covers the headers and the whole body.
 *
 * Bodies are received through undici's dispatcher handler interface (`dispatch`), not its
 * stream API: each chunk the parser hands over is copied straight into the body's buffer
 * — the caller's (`into`) when the Content-Length fits it — so a range read costs one
 * copy and no stream machinery per chunk.
 *
 * Nothing here retries or interprets S3 statuses: that is transport.ts's and client.ts's job.
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
  /**
   * A buffer to collect the response body into when the body has a Content-Length no
   * larger than it; the response's `body` is then a view of it. The caller must not
   * touch it until the request settles.
   */
  into?: Uint8Array;
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

function exchange(pool: Pool, req: HttpRequest, timeoutMs: number, signal: AbortSignal): Promise<HttpResponse> {
  return new Promise((resolve, reject) => {
    let status = 0;
    const headers: Record<string, string> = {};
    let body: BodyCollector | undefined;
    let abort: ((err: Error) => void) | undefined;
    const onAbort = (): void => abort?.(signal.reason as Error);
    signal.addEventListener('abort', onAbort, { once: true });
    const settle = (err: Error | undefined, response?: HttpResponse): void => {
      signal.removeEventListener('abort', onAbort);
      if (err !== undefined) reject(err);
      else resolve(response!);
    };
    pool.dispatch({
      method: req.method as 'GET',
      path: req.path,
      headers: req.headers,
      body: req.body === undefined ? undefined : Buffer.from(req.body.buffer, req.body.byteOffset, req.body.byteLength),
      headersTimeout: timeoutMs,
      bodyTimeout: timeoutMs,
    }, {
      onConnect(abortRequest) {
        abort = abortRequest;
        if (signal.aborted) abortRequest(signal.reason as Error);
      },
      onHeaders(statusCode, rawHeaders) {
        status = statusCode;
        // Raw pairs; a repeated header's first value counts.
        for (let i = 0; i + 1 < rawHeaders.length; i += 2) {
          const name = rawHeaders[i].toString('latin1').toLowerCase();
          headers[name] ??= rawHeaders[i + 1].toString('latin1');
        }
        body = new BodyCollector(req.method === 'HEAD' ? 0 : Number(headers['content-length']), req.into);
        return true;
      },
      onData(chunk) {
        body!.add(chunk);
        return true;
      },
      onComplete() {
        settle(undefined, { status, headers, body: body?.result() ?? new Uint8Array(0) });
      },
      onError(err) {
        settle(err);
      },
    });
  });
}

/**
 * A response body, copied chunk by chunk as it arrives. With a Content-Length the chunks
 * go into one buffer of that size (one copy of a range read in memory, not the chunks
 * plus their concatenation) — `target` when it is large enough, else a new one; undici
 * fails a body longer than declared, and one cut short comes back short (the caller
 * checks). Without a length the chunks are kept and concatenated at the end.
 */
class BodyCollector {
  readonly #into: Uint8Array | undefined;
  readonly #chunks: Buffer[] = [];
  #length = 0;

  constructor(declared: number, target: Uint8Array | undefined) {
    if (Number.isSafeInteger(declared) && declared >= 0) {
      this.#into = target !== undefined && target.length >= declared ? target.subarray(0, declared) : Buffer.allocUnsafe(declared);
    }
  }

  add(chunk: Buffer): void {
    if (this.#into !== undefined) this.#length += chunk.copy(this.#into, this.#length);
    else {
      this.#chunks.push(chunk);
      this.#length += chunk.length;
    }
  }

  /** The body: what arrived of a declared length (the caller checks it), or the chunks joined. */
  result(): Uint8Array {
    if (this.#into !== undefined) return this.#length === this.#into.length ? this.#into : this.#into.subarray(0, this.#length);
    return this.#chunks.length === 1 ? this.#chunks[0] : Buffer.concat(this.#chunks, this.#length);
  }
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
