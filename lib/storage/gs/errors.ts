/**
 * How the gs:// client reads the failures `@google-cloud/storage` reports: which are
 * transient (retried by lib/storage/retry.ts), and the one-line final errors, each naming
 * the operation, `gs://bucket/key` and the reason.
 *
 * Sources: Cloud Storage "Retry strategy" (retry 408, 429, 5xx and connection errors —
 * reset, refused, timeout) and "HTTP status and error codes" (404 `notFound` says "The
 * specified bucket does not exist." for a bucket and "No such object: …" for an object;
 * 401/403 for credentials and permissions; 412 `conditionNotMet`; 416 for a range that
 * starts past the end).
 */
import { LtxvfsError, type LtxvfsErrorCode } from '../../../ltx/errors.js';
import { TransientError } from '../retry.js';

/** Network failures worth another attempt (Node and node-fetch codes). */
const TRANSIENT_NETWORK_CODES = new Set([
  'ECONNREFUSED', 'ECONNRESET', 'ETIMEDOUT', 'EPIPE', 'EAI_AGAIN', 'ENETUNREACH', 'EHOSTUNREACH', 'ECONNABORTED',
  'UND_ERR_SOCKET', 'ERR_STREAM_PREMATURE_CLOSE',
]);

/** What a failure of the vendor library looks like: `ApiError` (HTTP) or a FetchError / system error. */
interface VendorError {
  code?: number | string;
  message?: string;
  type?: string;
  errors?: { reason?: string; message?: string }[];
}

/** The HTTP status of a vendor error, or undefined for a network or local failure. */
export function statusOf(err: unknown): number | undefined {
  const code = (err as VendorError | undefined)?.code;
  return typeof code === 'number' && code >= 100 && code < 600 ? code : undefined;
}

/** 408, 429, 5xx but 501, connection errors and timeouts (Cloud Storage's retry strategy). */
export function isTransient(err: unknown): boolean {
  const status = statusOf(err);
  if (status !== undefined) return status === 408 || status === 429 || (status >= 500 && status !== 501);
  const e = err as VendorError | undefined;
  if (e?.type === 'request-timeout' || e?.type === 'body-timeout') return true;
  if (typeof e?.code === 'string' && TRANSIENT_NETWORK_CODES.has(e.code)) return true;
  return /socket hang up|network timeout|ECONNRESET|ECONNREFUSED|premature close/i.test(e?.message ?? '');
}

/** A 404 that says the bucket itself is missing. */
export function isMissingBucket(err: unknown): boolean {
  return statusOf(err) === 404 && /bucket does not exist|no such bucket/i.test((err as VendorError).message ?? '');
}

/**
 * The final error for a vendor failure: `LTXVFS_ERR_NOT_FOUND` for 404 ("object does not
 * exist: gs://b/key", or "bucket does not exist: b"), `LTXVFS_ERR_PRECONDITION` for 412,
 * `LTXVFS_ERR_STORAGE` for the rest ("authentication failed" for 401/403 and credential
 * failures, the vendor's message otherwise). `key` and `status` are set.
 */
export function gsError(verb: string, bucket: string, key: string, err: unknown): LtxvfsError {
  const status = statusOf(err);
  const e = err as VendorError | undefined;
  const reason = oneLine(e?.message ?? String(err));
  const where = `gs://${bucket}/${key}`;
  let code: LtxvfsErrorCode = 'LTXVFS_ERR_STORAGE';
  let message: string;
  if (isMissingBucket(err)) {
    code = 'LTXVFS_ERR_NOT_FOUND';
    message = `${verb} ${where}: bucket does not exist: ${bucket} (HTTP 404: ${reason})`;
  } else if (status === 404) {
    code = 'LTXVFS_ERR_NOT_FOUND';
    message = `object does not exist: ${where} (HTTP 404: ${reason})`;
  } else if (status === 412) {
    code = 'LTXVFS_ERR_PRECONDITION';
    message = `precondition failed for ${where} (HTTP 412: ${reason})`;
  } else if (status === 401 || status === 403) {
    message = `${verb} ${where}: authentication failed (HTTP ${status}: ${reason})`;
  } else if (status !== undefined) {
    message = `${verb} ${where}: HTTP ${status}: ${reason}`;
  } else if (isCredentialFailure(err)) {
    message = `${verb} ${where}: authentication failed: no usable Google credentials (${reason}); set GOOGLE_APPLICATION_CREDENTIALS or STORAGE_EMULATOR_HOST`;
  } else {
    message = `${verb} ${where}: ${reason}`;
  }
  return new LtxvfsError(code, message, { key, status, cause: err });
}

/** `gsError` wrapped for a retry when {@link isTransient}, else unwrapped. */
export function classify(verb: string, bucket: string, key: string, err: unknown): Error {
  if (err instanceof LtxvfsError) return err;
  const final = gsError(verb, bucket, key, err);
  return isTransient(err) ? new TransientError(final) : final;
}

/** google-auth-library's failures to find or use credentials (no HTTP status). */
function isCredentialFailure(err: unknown): boolean {
  const text = (err as VendorError | undefined)?.message ?? '';
  return /credential|private key|DECODER routines|PEM|invalid_grant|unauthorized_client|GOOGLE_APPLICATION_CREDENTIALS|does not exist|ENOENT|client_email/i.test(text);
}

function oneLine(text: string): string {
  return text.replace(/\s+/g, ' ').trim();
}
