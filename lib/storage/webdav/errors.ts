/**
 * How the webdav:// client reads a failed request of the `webdav` package: which failures
 * are transient (retried by ../retry.ts), and the one-line `LtxvfsError` each final failure
 * becomes. The package throws an `Error` with `status` for an HTTP answer ≥ 400
 * (`Invalid response: 404 Not Found`), node-fetch's `FetchError` (`code` ECONNREFUSED,
 * ECONNRESET, …) for a socket failure, and an `AbortError` when the request's signal fires
 * (the client's per-request deadline, or `close()`).
 *
 * Transient, as for S3 (Litestream's gowebdav client retries nothing; these are HTTP's
 * own rules, RFC 9110 §15.6): 5xx except 501, 429, 408, socket errors and timeouts, a body
 * cut short. Permanent: every other status, and a host name that does not resolve.
 * Messages name the replica and key as `webdav[s]://host[:port]/<path>/<key>` and never
 * hold the user's password (the package sends it in the Authorization header; any echo of
 * it is replaced by `***`).
 */

import { LtxvfsError, type LtxvfsErrorCode } from '../../../ltx/errors.js';
import { TransientError } from '../retry.js';

/** What one operation was, for messages: `list`, `read`, `write`, `delete`, `mkcol`, `move`, `stat`. */
export type WebdavOp = 'list' | 'read' | 'write' | 'delete' | 'mkcol' | 'move' | 'stat';

/** The HTTP status of a failed request of the `webdav` package, if it got an answer. */
export function statusOf(err: unknown): number | undefined {
  const status = (err as { status?: unknown } | null)?.status;
  return typeof status === 'number' ? status : undefined;
}

/** Socket-level error codes worth another attempt. */
const TRANSIENT_CODES = new Set(['ECONNREFUSED', 'ECONNRESET', 'EPIPE', 'ETIMEDOUT', 'ECONNABORTED', 'EHOSTUNREACH', 'ENETUNREACH', 'EAI_AGAIN', 'UND_ERR_SOCKET']);

/** True for a failure another attempt may not have: see the module doc. */
export function isTransient(err: unknown): boolean {
  const status = statusOf(err);
  if (status !== undefined) return (status >= 500 && status !== 501) || status === 429 || status === 408;
  const e = err as { code?: unknown; name?: unknown; message?: unknown; type?: unknown };
  if (typeof e.code === 'string' && TRANSIENT_CODES.has(e.code)) return true;
  if (e.name === 'TimeoutError') return true;
  const message = typeof e.message === 'string' ? e.message : '';
  return /premature close|socket hang up|other side closed|terminated/i.test(message) || e.type === 'system';
}

/** The reason of a failure in a few words: `HTTP 503 Service Unavailable`, `connect ECONNREFUSED 127.0.0.1:8080`. */
export function reasonOf(err: unknown): string {
  const status = statusOf(err);
  if (status !== undefined) {
    const text = (err as { response?: { statusText?: unknown } }).response?.statusText;
    return `HTTP ${status}${typeof text === 'string' && text !== '' ? ` ${text}` : ''}`;
  }
  const e = err as { name?: unknown; message?: unknown; code?: unknown };
  if (e.name === 'TimeoutError') return 'request timed out';
  const message = typeof e.message === 'string' ? e.message : String(err);
  // node-fetch: "request to http://host/path failed, reason: connect ECONNREFUSED …" — the reason is what matters.
  const m = /failed, reason: (.*)$/.exec(message);
  return m === null ? message : m[1];
}

/**
 * The final error of a failed request.
 * @param where `webdav://host/<path>/<key>` (no credentials).
 * @param key the key the operation was about.
 * @param secret the password, replaced by `***` wherever a message echoes it.
 * @returns `LTXVFS_ERR_NOT_FOUND` "object does not exist: <where>" for 404 (and 410);
 *   `LTXVFS_ERR_STORAGE` for everything else: "<op> <where>: authentication failed (HTTP
 *   401 …): check the user and password in the URL", "… permission denied (HTTP 403 …)",
 *   "<op> <where>: <reason>".
 */
export function webdavError(op: WebdavOp, where: string, key: string, err: unknown, secret: string | undefined): LtxvfsError {
  const status = statusOf(err);
  const reason = redact(reasonOf(err), secret);
  let code: LtxvfsErrorCode = 'LTXVFS_ERR_STORAGE';
  let message: string;
  if (status === 404 || status === 410) {
    code = 'LTXVFS_ERR_NOT_FOUND';
    message = `object does not exist: ${where} (${reason})`;
  } else if (status === 401) {
    message = `${op} ${where}: authentication failed (${reason}): check the user and password in the URL`;
  } else if (status === 403) {
    message = `${op} ${where}: permission denied (${reason})`;
  } else {
    message = `${op} ${where}: ${reason}`;
  }
  return new LtxvfsError(code, message, { key, ...(status === undefined ? {} : { status }), cause: err });
}

/** `err` as a {@link TransientError} when another attempt may succeed, else the final {@link webdavError}. */
export function classify(op: WebdavOp, where: string, key: string, err: unknown, secret: string | undefined): Error {
  const final = webdavError(op, where, key, err, secret);
  return isTransient(err) ? new TransientError(final) : final;
}

/** `text` with every occurrence of `secret` (and its percent-encoding) replaced by `***`. */
export function redact(text: string, secret: string | undefined): string {
  if (secret === undefined || secret === '') return text;
  return text.split(secret).join('***').split(encodeURIComponent(secret)).join('***');
}
