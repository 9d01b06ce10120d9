/**
 * The request pipeline of the webdav:// client: every WebDAV request goes through
 * {@link WebdavTransport.call}, which gives it a deadline (`requestTimeoutMs`, answer and
 * body, through the request's `AbortSignal`), retries transient failures with full-jitter
 * backoff within the retry budget (../retry.ts; errors.ts says what is transient), turns
 * the final failure into an `LtxvfsError` naming the replica and key, counts requests,
 * and stops everything at `close()`.
 *
 * The vendor client (npm `webdav`) is reached through {@link DavClient}, the few calls
 * this backend makes, so that the vendor's types stay out of ltxvfs's public types and
 * the package is loaded only when a webdav:// URL is opened (index.ts).
 */

import { LtxvfsError } from '../../../ltx/errors.js';
import { RetryExhaustedError, withRetry, type RetryAttempt } from '../retry.js';
import type { WebdavConfig } from './config.js';
import { classify, redact, type WebdavOp } from './errors.js';

/** One entry of a PROPFIND depth-1 listing. */
export interface DavEntry {
  /** The last path segment, decoded. */
  basename: string;
  type: 'file' | 'directory';
  /** `getcontentlength`, bytes. */
  size: number;
  /** `getlastmodified` as sent (RFC 1123 date, whole seconds). */
  lastmod: string;
}

/** A GET's answer. */
export interface DavBody {
  status: number;
  headers: Record<string, string>;
  data: Uint8Array;
}

/** The calls the backend makes (each one HTTP request, paths absolute from the server root). */
export interface DavClient {
  /** PROPFIND depth 1: the members of a collection. */
  list(path: string, signal: AbortSignal): Promise<DavEntry[]>;
  /** PROPFIND depth 0 of one resource. */
  stat(path: string, signal: AbortSignal): Promise<DavEntry>;
  /** GET, with the given headers (a `Range`). */
  get(path: string, headers: Record<string, string>, signal: AbortSignal): Promise<DavBody>;
  /** PUT with Content-Length. */
  put(path: string, data: Uint8Array, contentType: string, signal: AbortSignal): Promise<void>;
  /** MKCOL. */
  mkcol(path: string, signal: AbortSignal): Promise<void>;
  /** MOVE with `Overwrite: T`. */
  move(from: string, to: string, signal: AbortSignal): Promise<void>;
  /** DELETE. */
  delete(path: string, signal: AbortSignal): Promise<void>;
}

/** Requests made so far, by operation. */
export interface WebdavClientStats {
  /** HTTP requests sent, retries included. */
  requests: number;
  /** Of those, by operation. */
  byOp: Record<WebdavOp, number>;
  /** Retries (attempts after the first). */
  retries: number;
  /** Body bytes received by GETs. */
  bytesRead: number;
}

/** See the module doc. */
export class WebdavTransport {
  readonly config: WebdavConfig;
  readonly #dav: DavClient;
  readonly #closing = new AbortController();
  #closed = false;
  readonly #stats: WebdavClientStats = {
    requests: 0,
    byOp: { list: 0, read: 0, write: 0, delete: 0, mkcol: 0, move: 0, stat: 0 },
    retries: 0,
    bytesRead: 0,
  };

  constructor(config: WebdavConfig, dav: DavClient) {
    this.config = config;
    this.#dav = dav;
  }

  /** The path of `key` from the server root: `/<path>/<key>`. */
  remote(key: string): string {
    return this.config.path === '' ? `/${key}` : `/${this.config.path}/${key}`;
  }

  /** `webdav[s]://host[:port]/<path>/<key>` for messages (no credentials). */
  where(key: string): string {
    return this.config.path === '' ? `${this.config.url}${key}` : `${this.config.url}/${key}`;
  }

  /** @throws LtxvfsError `LTXVFS_ERR_CLOSED` "replica client is closed: <url>" after `close()`. */
  checkOpen(): void {
    if (this.#closed) throw new LtxvfsError('LTXVFS_ERR_CLOSED', `replica client is closed: ${this.config.url}`);
  }

  /**
   * Run one request with a deadline and retries.
   * @param op what it is, for messages and counters.
   * @param key the key it is about (named in errors).
   * @param request the request; it may return instead of throwing for an answer it
   *   understands (a 404 that means "empty"), and receives the attempt (1 for the first).
   * @throws LtxvfsError what errors.ts makes of the failure — after retries, with "(gave
   *   up after N attempts in T)" — or `LTXVFS_ERR_CLOSED` when the client closes meanwhile.
   */
  async call<T>(op: WebdavOp, key: string, request: (dav: DavClient, signal: AbortSignal, attempt: RetryAttempt) => Promise<T>): Promise<T> {
    this.checkOpen();
    const where = this.where(key);
    try {
      return await withRetry(async (attempt) => {
        this.checkOpen();
        this.#stats.requests++;
        this.#stats.byOp[op]++;
        if (attempt.attempt > 1) this.#stats.retries++;
        const signal = AbortSignal.any([this.#closing.signal, AbortSignal.timeout(this.config.requestTimeoutMs)]);
        try {
          return await request(this.#dav, signal, attempt);
        } catch (err) {
          this.checkOpen();
          if (err instanceof LtxvfsError) throw err;
          throw classify(op, where, key, err, this.config.password);
        }
      }, this.config.retry, { signal: this.#closing.signal });
    } catch (err) {
      this.checkOpen();
      if (err instanceof RetryExhaustedError && err.last instanceof LtxvfsError) {
        const last = err.last;
        throw new LtxvfsError(last.ltxvfsCode, redact(err.message, this.config.password), { key, status: last.status, cause: last.cause });
      }
      throw err;
    }
  }

  /** Count body bytes received. */
  countRead(bytes: number): void {
    this.#stats.bytesRead += bytes;
  }

  /** A copy of the counters. */
  stats(): WebdavClientStats {
    return { ...this.#stats, byOp: { ...this.#stats.byOp } };
  }

  /** Abort requests in flight and backoff sleeps, close the agent's sockets. Idempotent. */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#closing.abort(new LtxvfsError('LTXVFS_ERR_CLOSED', `replica client is closed: ${this.config.url}`));
    this.config.agent.destroy();
  }
}
