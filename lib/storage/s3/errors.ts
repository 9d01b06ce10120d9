/**
 * How the s3:// client reads S3's answers when they are not what it asked for: which are
 * transient (retried), which name another region, and the one-line final errors.
 * Sources: S3 API reference "Error responses" and the AWS SDKs' standard retry mode
 * (throttling and 5xx retried; 408 and RequestTimeout added as Litestream's
 * newTransportRetryer does; 409 ConditionalRequestConflict per S3's conditional-writes guide).
 */

import { LtxvfsError, type LtxvfsErrorCode } from '../../../ltx/errors.js';
import type { HttpResponse } from './http.js';
import { parseS3Error } from './wire.js';

/** Auth-related S3 error codes (any 403 counts too). */
const AUTH_CODES = new Set([
  'InvalidAccessKeyId', 'SignatureDoesNotMatch', 'AccessDenied', 'InvalidToken', 'ExpiredToken',
  'TokenRefreshRequired', 'RequestTimeTooSkewed', 'AuthorizationHeaderMalformed', 'InvalidSecurity',
]);

/**
 * The final error of an unexpected S3 answer, one line: `<op> s3://<bucket>/<key>: HTTP
 * <status> <S3 code>: <S3 message>`, with the code chosen by status: 404 →
 * `LTXVFS_ERR_NOT_FOUND` (naming the bucket for NoSuchBucket), 412 →
 * `LTXVFS_ERR_PRECONDITION`, 403 and auth codes → "authentication failed", 301/307 → where
 * to point the URL, anything else `LTXVFS_ERR_STORAGE`. `key` and `status` are set.
 */
export function httpError(bucket: string, verb: string, key: string, res: HttpResponse): LtxvfsError {
  const s3 = parseS3Error(bodyText(res));
  const detail = scrubSecrets(`HTTP ${res.status}${s3.code === undefined ? '' : ` ${s3.code}`}${s3.message === undefined ? '' : `: ${s3.message}`}`);
  const where = `s3://${bucket}/${key}`;
  let code: LtxvfsErrorCode = 'LTXVFS_ERR_STORAGE';
  let message: string;
  if (res.status === 404 && s3.code === 'NoSuchBucket') {
    code = 'LTXVFS_ERR_NOT_FOUND';
    message = `${verb} ${where}: bucket does not exist: ${bucket} (${detail})`;
  } else if (res.status === 404) {
    code = 'LTXVFS_ERR_NOT_FOUND';
    message = `object does not exist: ${where} (${detail})`;
  } else if (res.status === 412) {
    code = 'LTXVFS_ERR_PRECONDITION';
    message = `precondition failed for ${where} (${detail})`;
  } else if (res.status === 403 || (s3.code !== undefined && AUTH_CODES.has(s3.code))) {
    message = `${verb} ${where}: authentication failed (${detail})`;
  } else if (res.status === 301 || res.status === 307) {
    message = `${verb} ${where}: bucket ${bucket} must be addressed elsewhere${s3.endpoint === undefined ? '' : ` (endpoint ${s3.endpoint})`}: set ?region= or ?endpoint= (${detail})`;
  } else {
    message = `${verb} ${where}: ${detail}`;
  }
  return new LtxvfsError(code, message, { key, status: res.status });
}

/**
 * `text` with what a server may echo of a signed request replaced by `***`: the value of
 * an `Authorization` or `X-Amz-*` header or query parameter (`name: value`, `name=value`),
 * a SigV4 `Credential=` / `Signature=` and a whole `AWS4-HMAC-SHA256 …` header value.
 * Applied to every S3 error text before it reaches a message (issue 12 item 7); the
 * client also replaces its own secret values (`S3CredentialSource.redact`).
 */
export function scrubSecrets(text: string): string {
  return text
    .replace(/AWS4-HMAC-SHA256[^\n<&]*/g, 'AWS4-HMAC-SHA256 ***')
    .replace(/\b(authorization)(\s*[:=]\s*)[^\n<&]*/gi, '$1$2***')
    .replace(/\b(x-amz-[a-z0-9-]+)(\s*[:=]\s*)[^\s<&,;]+/gi, '$1$2***')
    .replace(/\b(Credential|Signature)=[^\s<&,;]+/g, '$1=***');
}

/** 5xx (except 501), 429, 408, and the 400/409 codes S3 documents as retryable. */
export function isTransientResponse(res: HttpResponse): boolean {
  const s = res.status;
  if (s >= 500) return s !== 501;
  if (s === 429 || s === 408) return true;
  if (s === 400 || s === 409) {
    const code = parseS3Error(bodyText(res)).code;
    return code === 'RequestTimeout' || code === 'ConditionalRequestConflict';
  }
  return false;
}

/** The region S3 says the bucket lives in, on a wrong-region answer (301, 400 AuthorizationHeaderMalformed, 403). */
export function redirectRegion(res: HttpResponse): string | undefined {
  if (res.status !== 301 && res.status !== 400 && res.status !== 403) return undefined;
  const header = res.headers['x-amz-bucket-region'];
  if (header !== undefined && header !== '') return header;
  return res.status === 403 ? undefined : parseS3Error(bodyText(res)).region;
}

/** A response body as UTF-8 text. */
export function bodyText(res: HttpResponse): string {
  return res.body.length === 0 ? '' : Buffer.from(res.body.buffer, res.body.byteOffset, res.body.byteLength).toString('utf8');
}
