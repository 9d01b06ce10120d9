/**
 * How the nats:// client reads the `nats` library's failures: which are transient (retried
 * through ../retry.ts), and the one-line `LtxvfsError` each final failure becomes. The
 * library throws `NatsError`s whose `code` is one of its `ErrorCode`s (`TIMEOUT`,
 * `DISCONNECT`, `AUTHORIZATION_VIOLATION`, …) and, for JetStream API answers, an
 * `api_error` with an HTTP-like `code` and a JetStream `err_code` (10059 stream not found,
 * 10071 wrong last sequence — nats-server's `server/errors.json`).
 */
import { LtxvfsError, type LtxvfsErrorCode } from '../../../ltx/errors.js';
import { RetryExhaustedError, TransientError } from '../retry.js';

/** JetStream `err_code` of "stream not found": the object store bucket does not exist. */
export const JS_STREAM_NOT_FOUND = 10059;
/** JetStream `err_code` of "wrong last sequence": a `Nats-Expected-Last-Subject-Sequence` check failed. */
export const JS_WRONG_LAST_SEQUENCE = 10071;

/** The fields of a `NatsError` the client looks at (typed here so that no public type names the optional package). */
interface NatsErrorLike {
  message: string;
  code?: string;
  api_error?: { code?: number; err_code?: number; description?: string };
}

/** Library codes of a connection that is down or a request without an answer in time: worth another attempt. */
const TRANSIENT_CODES = new Set(['TIMEOUT', 'DISCONNECT', 'CONNECTION_REFUSED', 'CONNECTION_TIMEOUT', '503', '408', 'IDLE_HEARTBEAT', 'CANCELLED']);
/** Library codes that mean the server refused who we are. */
const AUTH_CODES = new Set(['AUTHORIZATION_VIOLATION', 'AUTHENTICATION_EXPIRED', 'AUTHENTICATION_TIMEOUT', 'BAD_AUTHENTICATION', 'BAD_CREDS', 'ACCOUNT_EXPIRED']);

/** An attempt that ran past the client's per-request deadline (`requestTimeoutMs`). */
export class DeadlineError extends Error {
  override readonly name = 'DeadlineError';
}

/** The JetStream API error of `err`, if it is one. */
export function jsApiError(err: unknown): { code?: number; err_code?: number; description?: string } | undefined {
  return (err as NatsErrorLike | undefined)?.api_error ?? undefined;
}

/** True when `err` is a JetStream answer with this `err_code`. */
export function hasJsErrCode(err: unknown, errCode: number): boolean {
  return jsApiError(err)?.err_code === errCode;
}

/** Whether a failure of one attempt may pass on another: timeouts, a connection that is down or reconnecting, 5xx JetStream answers, a corrupt (half-replaced) object stream. */
export function isTransient(err: unknown): boolean {
  if (err instanceof DeadlineError) return true;
  const e = err as NatsErrorLike | undefined;
  const api = e?.api_error;
  if (api?.code !== undefined) return api.code >= 500 || api.code === 408;
  if (e?.code !== undefined && TRANSIENT_CODES.has(e.code)) return true;
  // get() reports chunks that no longer match the digest when an object is replaced while read.
  return /received a corrupt object|digests do not match/.test(e?.message ?? '');
}

/** Wrap a transient failure for `withRetry`; rethrow anything else unchanged. */
export function retryable(err: unknown): never {
  if (isTransient(err)) throw new TransientError(err instanceof Error ? err : new Error(String(err)));
  throw err;
}

/** Why a library failure happened, one line: its message, the JetStream description and codes. */
export function reasonOf(err: unknown): string {
  if (err instanceof RetryExhaustedError) return `${reasonOf(err.last)} (gave up after ${err.attempts} attempt${err.attempts === 1 ? '' : 's'})`;
  const e = err as NatsErrorLike | undefined;
  const api = e?.api_error;
  if (api !== undefined) return `${api.description ?? e?.message ?? 'JetStream error'} (JetStream ${String(api.code)}/${String(api.err_code)})`;
  // The library quotes the server's -ERR text: 'Authorization Violation'.
  const message = (e?.message ?? String(err)).replace(/^'(.*)'$/, '$1');
  return e?.code !== undefined && e.code !== message ? `${message} (${e.code})` : message;
}

/** True when the server refused the credentials (or their absence). */
export function isAuthFailure(err: unknown): boolean {
  const code = (err as NatsErrorLike | undefined)?.code;
  return code !== undefined && AUTH_CODES.has(code);
}

/**
 * The final error of an operation on `key` of the replica `where` (`nats://host:port/bucket`):
 * an `LtxvfsError` as is; otherwise `LTXVFS_ERR_STORAGE` "`<op>` `<where>/<key>`: `<reason>`"
 * ("authentication failed" first for a refused login), with `key` and `cause` set.
 */
export function storageError(op: string, where: string, key: string, err: unknown): LtxvfsError {
  if (err instanceof LtxvfsError) return err;
  const inner = err instanceof RetryExhaustedError ? err.last : err;
  if (inner instanceof LtxvfsError) return inner;
  const code: LtxvfsErrorCode = 'LTXVFS_ERR_STORAGE';
  const auth = isAuthFailure(inner) ? 'authentication failed: ' : '';
  return new LtxvfsError(code, `${op} ${where}/${key}: ${auth}${reasonOf(err)}`, { key, cause: err });
}
