/**
 * The S3 request pipeline under the s3:// client (client.ts): one request signed with
 * SigV4 (`aws4`), sent over undici's connection pools (http.ts), retried with full-jitter
 * backoff within the retry budget (../retry.ts), counted, and its errors scrubbed of
 * secrets. A region redirect is followed once per attempt; a host name that does not
 * resolve fails at once. The client decides what a response means; this module only
 * moves it.
 */
import { setMaxListeners } from 'node:events';
import aws4 from 'aws4';
import { debuglog } from 'node:util';
import type { Pool } from 'undici';
import { LtxvfsError } from '../../../ltx/errors.js';
import { checkRetryPolicy, DEFAULT_RETRY_POLICY, RetryExhaustedError, TransientError, withRetry, type RetryAttempt, type RetryPolicy } from '../retry.js';
import { requestPath, s3Target, type S3Config } from './config.js';
import type { S3CredentialSource } from './credentials.js';
import { acquirePool, describeNetworkError, sendRequest, type HttpResponse, type PoolLease } from './http.js';
import { httpError, isTransientResponse, redirectRegion, scrubSecrets } from './errors.js';

const debug = debuglog('ltxvfs');

const DEFAULT_REQUEST_TIMEOUT_MS = 10_000;

/** Request counts and bytes of one client since it was opened. */
export interface S3ClientStats {
  /** HTTP requests sent per operation, retries included. */
  requests: { list: number; get: number; head: number; put: number; delete: number };
  /** Attempts that followed a transient failure. */
  retries: number;
  /** Operations that ended in an error (after retries). */
  failures: number;
  /** Response body bytes received. */
  bytesDownloaded: number;
  /** Request body bytes sent (retries included). */
  bytesUploaded: number;
}

/** An S3 operation, as counted in {@link S3ClientStats.requests}. */
export type S3Operation = keyof S3ClientStats['requests'];

/** One request as the client asks for it. */
export interface RequestSpec {
  op: S3Operation;
  method: 'GET' | 'HEAD' | 'PUT' | 'DELETE';
  /** Object key; undefined for bucket-level requests (ListObjectsV2). */
  key: string | undefined;
  query?: Record<string, string>;
  headers?: Record<string, string>;
  body?: Uint8Array;
  /** Where the response body may be collected (see `HttpRequest.into` in http.ts). */
  into?: Uint8Array;
}

/** The pipeline's tuning, from `S3ReplicaOptions` (times in ms). */
export interface TransportOptions {
  requestTimeoutMs?: number;
  retryBudgetMs?: number;
  maxAttempts?: number;
  retryBaseDelayMs?: number;
  retryMaxDelayMs?: number;
}

/** Signs, sends, retries and counts the requests of one S3 client. */
export class S3Transport {
  /** The bucket's configuration; `region` changes when S3 answers that the bucket lives elsewhere. */
  readonly config: S3Config;
  /** `s3://bucket/prefix` (with `?endpoint=…`) for messages. */
  readonly url: string;
  private readonly policy: RetryPolicy;
  private readonly requestTimeoutMs: number;
  /** Pools borrowed from the shared registry, by origin (the origin changes when S3 corrects the region). */
  private readonly leases = new Map<string, PoolLease>();
  /** Aborts in-flight requests and backoff sleeps at close. */
  private readonly closing = new AbortController();
  private readonly counters: S3ClientStats = {
    requests: { list: 0, get: 0, head: 0, put: 0, delete: 0 },
    retries: 0,
    failures: 0,
    bytesDownloaded: 0,
    bytesUploaded: 0,
  };
  private closed = false;
  /** Where request signatures come from; private, so no inspect or JSON reaches the keys. */
  readonly #credentials: S3CredentialSource;

  /** @throws LtxvfsError `LTXVFS_ERR_USAGE` for a retry policy or timeout out of range. */
  constructor(config: S3Config, url: string, options: TransportOptions, credentials: S3CredentialSource) {
    this.#credentials = credentials;
    // Every request in flight listens on this one signal (32 at once while page indexes load).
    setMaxListeners(0, this.closing.signal);
    this.config = { ...config };
    this.url = url;
    this.policy = {
      maxAttempts: options.maxAttempts ?? DEFAULT_RETRY_POLICY.maxAttempts,
      budgetMs: options.retryBudgetMs ?? DEFAULT_RETRY_POLICY.budgetMs,
      baseDelayMs: options.retryBaseDelayMs ?? DEFAULT_RETRY_POLICY.baseDelayMs,
      maxDelayMs: options.retryMaxDelayMs ?? DEFAULT_RETRY_POLICY.maxDelayMs,
    };
    const bad = checkRetryPolicy(this.policy);
    if (bad !== undefined) throw new LtxvfsError('LTXVFS_ERR_USAGE', bad);
    this.requestTimeoutMs = positiveInt('requestTimeoutMs', options.requestTimeoutMs ?? DEFAULT_REQUEST_TIMEOUT_MS, Infinity);
  }

  /** Where the credentials come from (`anonymous`, `option`, `environment`, `aws-sdk`); never the keys. */
  get credentialOrigin(): string {
    return this.#credentials.origin;
  }

  /** Request counts and bytes so far (a copy). */
  stats(): S3ClientStats {
    return { ...this.counters, requests: { ...this.counters.requests } };
  }

  /** `s3://bucket/key`, for messages. */
  where(key: string): string {
    return `s3://${this.config.bucket}/${key}`;
  }

  /** @throws LtxvfsError `LTXVFS_ERR_CLOSED` once {@link close} ran. */
  checkOpen(): void {
    if (this.closed) throw this.closedError();
  }

  /** Abort requests in flight, stop retries and give the connection pools back. Idempotent. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    this.closing.abort(this.closedError());
    const leases = [...this.leases.values()];
    this.leases.clear();
    await Promise.all(leases.map((l) => l.release()));
  }

  private closedError(): LtxvfsError {
    return new LtxvfsError('LTXVFS_ERR_CLOSED', `replica client is closed: ${this.url}`);
  }

  /**
   * Run one request with retries. `onResponse` sees every response that is not
   * transient (5xx, 429, 408, RequestTimeout, ConditionalRequestConflict) and returns the
   * result, throws a final error, or throws a {@link TransientError} to retry.
   */
  async call<T>(spec: RequestSpec, what: string, onResponse: (res: HttpResponse, attempt: RetryAttempt) => T | Promise<T>): Promise<T> {
    const verb = spec.op;
    try {
      return await withRetry(
        async (attempt) => {
          let res = await this.send(spec, what);
          const region = redirectRegion(res);
          if (region !== undefined && region !== this.config.region) {
            debug('s3: %s is in region %s, not %s; resending', this.config.bucket, region, this.config.region);
            this.config.region = region;
            res = await this.send(spec, what);
          }
          if (isTransientResponse(res)) throw new TransientError(httpError(this.config.bucket, verb, what, res));
          return await onResponse(res, attempt);
        },
        this.policy,
        {
          signal: this.closing.signal,
          onRetry: (err, n, delayMs) => {
            this.counters.retries++;
            debug('s3: retry %d of %s in %d ms: %s', n, spec.method, Math.round(delayMs), (this.scrub(err) as Error).message);
          },
        },
      );
    } catch (err) {
      this.counters.failures++;
      if (this.closed) throw this.closedError();
      if (err instanceof RetryExhaustedError) {
        const last = err.last as LtxvfsError;
        throw this.scrub(new LtxvfsError(last.code, err.message, { key: last.key, status: last.status, cause: this.scrub(last) }));
      }
      throw this.scrub(err);
    }
  }

  /** `err` with the secret values and echoed auth headers replaced by `***` in its message (a new error when anything changed). */
  scrub(err: unknown): unknown {
    if (!(err instanceof LtxvfsError)) return err;
    const message = this.#credentials.redact(scrubSecrets(err.message));
    if (message === err.message) return err;
    return new LtxvfsError(err.code, message, { key: err.key, status: err.status, cause: err.cause === undefined ? undefined : this.scrub(err.cause) });
  }

  /** One HTTP exchange, signed. Network failures and timeouts become TransientErrors. */
  private async send(spec: RequestSpec, what: string): Promise<HttpResponse> {
    this.checkOpen();
    const target = s3Target(this.config);
    let path = requestPath(target, spec.key, spec.query);
    const host = new URL(target.origin).host;
    let headers: Record<string, string> = { host, ...spec.headers };
    const body = spec.body === undefined ? undefined : Buffer.from(spec.body.buffer, spec.body.byteOffset, spec.body.byteLength);
    const creds = await this.#credentials.get();
    if (creds !== undefined) {
      const { accessKeyId, secretAccessKey, sessionToken } = creds;
      const signed = aws4.sign({ host, path, method: spec.method, headers, body, service: 's3', region: this.config.region }, { accessKeyId, secretAccessKey, sessionToken });
      headers = signed.headers as Record<string, string>;
      path = signed.path as string;
    }
    this.counters.requests[spec.op]++;
    this.counters.bytesUploaded += body?.length ?? 0;
    let res: HttpResponse;
    try {
      res = await sendRequest(this.pool(target.origin), { method: spec.method, path, headers, body, into: spec.into }, this.requestTimeoutMs, this.closing.signal);
    } catch (err) {
      if (this.closed) throw this.closedError();
      const dns = dnsFailure(err);
      if (dns !== undefined) {
        // A name that does not resolve will not resolve on the next attempt either (issue 11): fail now.
        throw new LtxvfsError('LTXVFS_ERR_STORAGE', `${spec.op} ${this.where(what)}: cannot resolve host ${new URL(target.origin).hostname} (${dns})`, {
          key: what,
          cause: err,
        });
      }
      throw new TransientError(
        new LtxvfsError('LTXVFS_ERR_STORAGE', `${spec.op} ${this.where(what)}: ${describeNetworkError(err)}`, { key: what, cause: err }),
      );
    }
    this.counters.bytesDownloaded += res.body.length;
    return res;
  }

  private pool(origin: string): Pool {
    let lease = this.leases.get(origin);
    if (lease === undefined) {
      lease = acquirePool(origin, this.config.skipVerify);
      this.leases.set(origin, lease);
    }
    return lease.pool;
  }
}

/** `ENOTFOUND` / `EAI_AGAIN` when `err` (or one of its causes) is a DNS lookup failure. */
function dnsFailure(err: unknown): string | undefined {
  for (let e = err, depth = 0; e !== undefined && e !== null && depth < 5; e = (e as { cause?: unknown }).cause, depth++) {
    const code = (e as { code?: unknown }).code;
    if (code === 'ENOTFOUND' || code === 'EAI_AGAIN') return code;
  }
  return undefined;
}

/** `value` when it is an integer in 1…`max`. @throws LtxvfsError `LTXVFS_ERR_USAGE` naming the option otherwise. */
export function positiveInt(name: string, value: number, max: number): number {
  if (!Number.isSafeInteger(value) || value < 1 || value > max) {
    throw new LtxvfsError('LTXVFS_ERR_USAGE', `bad ${name} ${String(value)}: need an integer in 1…${max === Infinity ? '2^53-1' : max}`);
  }
  return value;
}
