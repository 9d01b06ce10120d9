/**
 * What the Azure SDK's failures mean for an abs:// client: which are transient (retried by
 * ../retry.ts), and the one-line final `LtxvfsError` of each — naming the operation, the
 * blob (`abs://account@container/key`), the HTTP status and Azure's error code.
 *
 * Sources: Azure Storage "Blob service error codes" and "Status and error codes" (5xx
 * ServerBusy/InternalError/OperationTimedOut, 408, 429 are retryable), the SDK's own
 * storageRetryPolicy (network error codes it retries). A SAS signature (`sig=`) is never
 * echoed.
 */
import { LtxvfsError, type LtxvfsErrorCode } from '../../../ltx/errors.js';
import { TransientError } from '../retry.js';

/** The fields of the SDK's `RestError` (and Node's system errors) this module reads. */
interface SdkErrorShape {
  name?: string;
  message?: string;
  code?: string;
  statusCode?: number;
  details?: { errorCode?: string };
}

/** Network error codes worth another attempt (the SDK's storageRetryPolicy list, plus socket ends). */
const NETWORK_CODES = new Set([
  'ECONNREFUSED', 'ECONNRESET', 'ETIMEDOUT', 'ESOCKETTIMEDOUT', 'EPIPE', 'ECONNABORTED', 'EHOSTUNREACH',
  'ENETUNREACH', 'REQUEST_SEND_ERROR', 'ERR_STREAM_PREMATURE_CLOSE', 'UND_ERR_SOCKET',
]);

/** Errors of `@azure/identity` when no credential of the default chain works. */
const IDENTITY_ERRORS = new Set(['CredentialUnavailableError', 'AggregateAuthenticationError', 'AuthenticationError', 'AuthenticationRequiredError']);

/** `text` without a SAS signature, on one line. */
export function scrubAzure(text: string): string {
  return (text.split('\n')[0] ?? '').replace(/([?&]sig=)[^&\s"]+/gi, '$1***').trim();
}

/** Azure's error code of a failed request (`x-ms-error-code`), if any. */
export function azureErrorCode(err: unknown): string | undefined {
  const e = err as SdkErrorShape;
  return e.details?.errorCode ?? (typeof e.code === 'string' && !/^E[A-Z]+$/.test(e.code) ? e.code : undefined);
}

/** The HTTP status of a failed request, if the server answered. */
export function statusOf(err: unknown): number | undefined {
  const s = (err as SdkErrorShape).statusCode;
  return typeof s === 'number' && s > 0 ? s : undefined;
}

/**
 * The error to throw for an SDK failure of `op` on `key`: a {@link TransientError} for
 * what is worth retrying (5xx but 501, 408, 429, connection failures, a body cut short,
 * `timedOut`), else the final `LtxvfsError`: 404 → `LTXVFS_ERR_NOT_FOUND` ("container
 * does not exist" / "object does not exist"), 401/403 and the identity library's errors →
 * "authentication failed", a host that does not resolve → at once, anything else
 * `LTXVFS_ERR_STORAGE`.
 * @param where `abs://account@container/key`.
 * @param timeoutMs the per-request deadline, for the message when `timedOut`.
 */
export function sdkError(err: unknown, op: string, key: string, where: string, container: string, timedOut: boolean, timeoutMs: number): Error {
  const e = err as SdkErrorShape;
  const status = statusOf(err);
  const azureCode = azureErrorCode(err);
  const detail = scrubAzure(`${status === undefined ? '' : `HTTP ${status}${azureCode === undefined ? '' : ` ${azureCode}`}: `}${e.message ?? String(err)}`);
  const make = (code: LtxvfsErrorCode, message: string) => new LtxvfsError(code, message, { key, status, cause: err });
  if (timedOut) return new TransientError(make('LTXVFS_ERR_STORAGE', `${op} ${where}: no answer within ${timeoutMs} ms`));
  if (e.name !== undefined && IDENTITY_ERRORS.has(e.name)) {
    return make('LTXVFS_ERR_STORAGE', `${op} ${where}: authentication failed: no Azure credential worked (set LITESTREAM_AZURE_ACCOUNT_KEY or LITESTREAM_AZURE_SAS_TOKEN, or configure the Azure default credential chain): ${scrubAzure(e.message ?? '')}`);
  }
  if (status === undefined) {
    if (e.code === 'ENOTFOUND' || e.code === 'EAI_AGAIN') return make('LTXVFS_ERR_STORAGE', `${op} ${where}: cannot resolve the host of the blob endpoint (${e.code})`);
    if (e.name === 'AbortError' || (e.code !== undefined && NETWORK_CODES.has(e.code)) || e.code === undefined) {
      return new TransientError(make('LTXVFS_ERR_STORAGE', `${op} ${where}: ${detail}`));
    }
    return make('LTXVFS_ERR_STORAGE', `${op} ${where}: ${detail}`);
  }
  if (status === 404 && azureCode === 'ContainerNotFound') return make('LTXVFS_ERR_NOT_FOUND', `${op} ${where}: container does not exist: ${container} (${detail})`);
  if (status === 404) return make('LTXVFS_ERR_NOT_FOUND', `object does not exist: ${where} (${detail})`);
  if (status === 401 || status === 403) return make('LTXVFS_ERR_STORAGE', `${op} ${where}: authentication failed (${detail})`);
  if ((status >= 500 && status !== 501) || status === 408 || status === 429) return new TransientError(make('LTXVFS_ERR_STORAGE', `${op} ${where}: ${detail}`));
  return make('LTXVFS_ERR_STORAGE', `${op} ${where}: ${detail}`);
}
