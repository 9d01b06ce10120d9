/**
 * HTTP for the s3:// client: one keep-alive connection pool per origin (and TLS setting),
 * shared by every client of the process and closed when the last one lets go; and one
 * request with a deadline that covers the headers and the whole body.
 *
 * Transport: Node's own `http`/`https` with a keep-alive `Agent`, whose response parser
 * is the native llhttp inside Node. undici (used before) parses HTTP with llhttp compiled
 * to wasm, and V8 optimizes that module's one huge parser function with TurboFan once it
 * is hot — a few dozen requests into an open: 20–35 MiB of compiler memory, of which
 * 5–30 MiB stayed resident in the compiler threads' malloc arenas (docs/bench.md, S3
 * peak RSS).
 *
 * Memory: a socket reads into a buffer of its own that is used again for the next read
 * (`onread`); by default Node allocates a new buffer of up to 64 KiB per socket read,
 * which V8 frees only at a later collection (~15 MiB more resident set during a scan
 * over S3). Response bodies are copied into one buffer as they arrive (the caller's
 * `into` when it fits). Node's parser itself still copies every body chunk it hands out
 * (`Buffer::Copy` in its `on_body`, Node 20): about one short-lived byte per byte
 * received, the ArrayBuffer garbage that is left; only a parser of our own on the socket
 * could avoid it.
 *
 * Node's http client does not expect `onread` sockets: each read is handed to it as the
 * socket's `data` event, which is how its parser is fed. Should a response ever hold
 * bytes of a read buffer past the read (a parser handing out views instead of copies,
 * and the response buffering them), that buffer is not used again (see
 * {@link nextReadBuffer}), so nothing is overwritten before it has been copied.
 *
 * Nothing here retries or interprets S3 statuses: that is `s3.ts`'s job.
 */

import * as http from 'node:http';
import * as https from 'node:https';
import type { Socket } from 'node:net';

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

/** Keep-alive sockets idle longer than this are closed, ms (S3 closes idle connections after about 20 s). */
const KEEP_ALIVE_TIMEOUT_MS = 10_000;

/** Bytes of a socket's read buffer (Node's own read size). */
export const READ_BUFFER_BYTES = 64 * 1024;

/** Reads into reused buffers, and read buffers allocated, in this process (for tests and diagnostics). */
export const readBufferStats = { reads: 0, buffers: 0 };

/** The response each socket is receiving now (set when its headers are parsed, within the socket's read). */
const receiving = new WeakMap<Socket, http.IncomingMessage>();

/** The buffer of the read just handed to the parser, and whether a response still holds bytes of it. */
let lastRead: { buffer: Uint8Array; held: boolean } | undefined;

/**
 * `onread.callback`: feed the bytes read to the socket's `data` listeners (the http
 * client's parser, which hands the body to the response, whose `data` listener copies
 * it), then note whether the response still buffers bytes (possibly of this buffer).
 */
function onSocketRead(this: Socket, nread: number, buffer: Uint8Array): boolean {
  let held = true;
  try {
    this.emit('data', Buffer.from(buffer.buffer, buffer.byteOffset, nread));
    held = (receiving.get(this)?.readableLength ?? 0) > 0;
  } finally {
    lastRead = { buffer, held };
    readBufferStats.reads++;
  }
  return true;
}

/**
 * `onread.buffer`: where the socket reads next. Node calls it when a socket starts, and
 * right after every {@link onSocketRead} of that socket: the same buffer again, unless a
 * response still holds bytes of it (a new one then; the old one is left to them).
 */
function nextReadBuffer(): Uint8Array {
  const last = lastRead;
  lastRead = undefined;
  if (last !== undefined && !last.held) return last.buffer;
  readBufferStats.buffers++;
  return Buffer.allocUnsafe(READ_BUFFER_BYTES);
}

/** Keep-alive connections to one origin (`http(s)://host[:port]`). */
export class HttpPool {
  /** `http://host[:port]` or `https://host[:port]`. */
  readonly origin: string;
  readonly #agent: http.Agent;
  readonly #request: typeof http.request;
  readonly #hostname: string;
  readonly #port: string;
  #closed = false;

  /**
   * @param skipVerify turn off TLS certificate checks (`rejectUnauthorized: false`).
   * @throws TypeError for an origin that is not an http(s) URL.
   */
  constructor(origin: string, skipVerify: boolean) {
    const u = new URL(origin);
    if (u.protocol !== 'http:' && u.protocol !== 'https:') throw new TypeError(`not an http(s) origin: ${origin}`);
    this.origin = origin;
    this.#hostname = u.hostname.replace(/^\[(.*)\]$/, '$1');
    this.#port = u.port;
    // `timeout` closes sockets idle in the pool; requests in flight have their own deadline.
    const options = { keepAlive: true, timeout: KEEP_ALIVE_TIMEOUT_MS, scheduling: 'lifo' as const };
    if (u.protocol === 'https:') {
      this.#agent = new https.Agent({ ...options, rejectUnauthorized: !skipVerify });
      this.#request = https.request;
    } else {
      this.#agent = new http.Agent(options);
      this.#request = http.request;
    }
  }

  /** True once {@link close} was called. */
  get closed(): boolean {
    return this.#closed;
  }

  /** Close every connection (requests in flight fail). Idempotent. */
  close(): void {
    this.#closed = true;
    this.#agent.destroy();
  }

  /**
   * Send `req` and read the whole response. Its body is copied as it is parsed: into
   * `req.into` when the Content-Length fits it, else into a buffer of that length, or
   * (no length) into a list of copies concatenated at the end.
   * @throws Node's socket and parser errors (a body cut short: `aborted`), or `signal`'s abort error.
   */
  send(req: HttpRequest, signal: AbortSignal): Promise<HttpResponse> {
    return new Promise((resolve, reject) => {
      const r = this.#request({
        hostname: this.#hostname,
        port: this.#port,
        method: req.method,
        path: req.path,
        headers: req.headers,
        agent: this.#agent,
        signal,
        // Passed on to the socket the agent opens (net.connect / tls.connect).
        onread: { buffer: nextReadBuffer, callback: onSocketRead },
      } as http.RequestOptions, (res) => {
        // Synchronously, within the socket read that parsed the headers: the body's bytes
        // must be copied before that read's buffer is used again.
        const socket = res.socket;
        receiving.set(socket, res);
        const done = (): void => {
          if (receiving.get(socket) === res) receiving.delete(socket);
        };
        // `headersDistinct`: a repeated header's values apart (`headers` joins them with commas); the first counts.
        const headers: Record<string, string> = {};
        for (const [name, values] of Object.entries(res.headersDistinct)) {
          if (values !== undefined && values.length > 0) headers[name] = values[0];
        }
        // A HEAD response announces the object's length but has no body.
        const body = new BodyCollector(req.method === 'HEAD' ? 0 : Number(headers['content-length']), req.into);
        res.on('data', (chunk: Buffer) => body.add(chunk));
        // Flowing from the first body byte on: Node buffers a response's bytes until its
        // first read(), and bytes buffered past this socket read cost it a new read buffer.
        res.read(0);
        res.on('end', () => {
          done();
          resolve({ status: Number(res.statusCode), headers, body: body.result() });
        });
        res.on('error', (err) => {
          done();
          reject(err);
        });
        res.on('close', () => {
          done();
          // Destroyed without an error of its own (its socket closed by the pool): still a failure.
          if (!res.complete) reject(Object.assign(new Error('aborted'), { code: 'ECONNRESET' }));
        });
      });
      r.on('error', reject);
      r.end(req.body === undefined ? undefined : Buffer.from(req.body.buffer, req.body.byteOffset, req.body.byteLength));
    });
  }
}

/**
 * A response body, copied chunk by chunk as it arrives. With a Content-Length the chunks
 * go into one buffer of that size (one copy of a range read in memory, not the chunks
 * plus their concatenation) — `target` when it is large enough, else a new one. Node's
 * parser passes on no more than declared, and a body cut short by the server fails the
 * read (`aborted`). Without a length the chunks are copied and concatenated at the end.
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
    if (this.#into !== undefined) {
      this.#length += chunk.copy(this.#into, this.#length);
    } else {
      this.#chunks.push(Buffer.from(chunk));
      this.#length += chunk.length;
    }
  }

  /** The body (complete: a body shorter than declared fails before it ends). */
  result(): Uint8Array {
    if (this.#into !== undefined) return this.#into;
    return this.#chunks.length === 1 ? this.#chunks[0] : Buffer.concat(this.#chunks, this.#length);
  }
}

/** A pool borrowed from the shared registry; give it back with `release()` exactly once. */
export interface PoolLease {
  readonly pool: HttpPool;
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

const pools = new Map<string, { pool: HttpPool; refs: number }>();

/**
 * Borrow the shared pool of `origin` (`https://host[:port]`); `skipVerify` turns off TLS
 * certificate checks (`rejectUnauthorized: false`) and gets a pool of its own.
 */
export function acquirePool(origin: string, skipVerify: boolean): PoolLease {
  const key = `${origin}|${skipVerify ? 'insecure' : 'verify'}`;
  let entry = pools.get(key);
  if (entry === undefined) {
    entry = { pool: new HttpPool(origin, skipVerify), refs: 0 };
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
        held.pool.close();
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
 *   aborts; Node's socket errors (reset, refused connection, a body cut short, …) as they come.
 */
export async function sendRequest(pool: HttpPool, req: HttpRequest, timeoutMs: number, signal: AbortSignal): Promise<HttpResponse> {
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
    const response = await pool.send(req, ac.signal);
    cleanup();
    return response;
  } catch (err) {
    cleanup();
    throw ac.signal.aborted ? ac.signal.reason : err;
  }
}

/**
 * One line about a failed exchange, for error messages: `timed out (…)` for a
 * {@link RequestTimeoutError}, else `<code>: <message>` of the socket or HTTP error
 * (`ECONNRESET: socket hang up`, `ECONNREFUSED: connect ECONNREFUSED 127.0.0.1:1`).
 */
export function describeNetworkError(err: unknown): string {
  if (err instanceof RequestTimeoutError) return `timed out (${err.message})`;
  const e = err as { code?: unknown; message?: unknown } | null | undefined;
  const message = typeof e?.message === 'string' ? e.message.replace(/\s+/g, ' ') : String(err);
  return typeof e?.code === 'string' ? `${e.code}: ${message}` : message;
}
