/**
 * Writes and deletes of the s3:// client (client.ts `write`, `delete`): what each
 * request carries and what its answer means. A `PUT` replaces an object atomically and
 * takes S3's conditions — `If-None-Match: *` (create-only) and `If-Match` (replace the
 * version read), the lease's lock (litestream s3/leaser.go) — plus Litestream's
 * `litestream-timestamp` metadata (docs/formats.md §4.1). Retries make conditions
 * ambiguous: a retried create-only PUT that fails its precondition may be our own earlier
 * attempt that landed (checked by the object's MD5 ETag), and a retried conditional
 * DELETE that finds nothing already deleted it.
 */
import { createHash } from 'node:crypto';
import { LtxvfsError } from '../../../ltx/errors.js';
import { formatRfc3339Nano } from '../rfc3339.js';
import type { WriteOptions } from '../types.js';
import { bodyText, httpError } from './errors.js';
import type { HttpResponse } from './http.js';
import type { S3Transport } from './transport.js';
import { parseS3Error } from './wire.js';

/** Litestream's metadata key for the LTX header timestamp (s3.MetadataKeyTimestamp). */
export const METADATA_KEY_TIMESTAMP = 'litestream-timestamp';

/**
 * One `PUT` of `data` at `key`, as `S3ReplicaClient.write` documents.
 * @param head a HEAD of `key` (for the ETag after a retried conditional PUT).
 * @returns the response ETag.
 * @throws LtxvfsError `LTXVFS_ERR_PRECONDITION` (412; with `ifMatch` also 404);
 *   `LTXVFS_ERR_STORAGE`; `LTXVFS_ERR_USAGE` (both conditions, bad timestamp).
 */
export async function putObject(
  io: S3Transport,
  key: string,
  data: Uint8Array,
  options: WriteOptions,
  head: (key: string) => Promise<{ etag: string }>,
): Promise<{ etag: string }> {
  const { ifNoneMatch = false, ifMatch, timestamp, contentType = 'application/octet-stream' } = options;
  if (ifNoneMatch && ifMatch !== undefined) {
    throw new LtxvfsError('LTXVFS_ERR_USAGE', `write ${key}: ifNoneMatch and ifMatch cannot both be given`, { key });
  }
  const md5 = createHash('md5').update(data).digest();
  const headers: Record<string, string> = { 'content-type': contentType, 'content-md5': md5.toString('base64') };
  if (timestamp !== undefined) {
    try {
      headers[`x-amz-meta-${METADATA_KEY_TIMESTAMP}`] = formatRfc3339Nano(timestamp);
    } catch {
      throw new LtxvfsError('LTXVFS_ERR_USAGE', `write ${key}: bad timestamp ${String(timestamp)}`, { key });
    }
  }
  if (ifNoneMatch) headers['if-none-match'] = '*';
  if (ifMatch !== undefined) headers['if-match'] = ifMatch;
  if (io.config.storageClass !== undefined) headers['x-amz-storage-class'] = io.config.storageClass;
  if (io.config.sseKmsKeyId !== undefined) {
    headers['x-amz-server-side-encryption'] = 'aws:kms';
    headers['x-amz-server-side-encryption-aws-kms-key-id'] = io.config.sseKmsKeyId;
  }
  const conditional = ifNoneMatch || ifMatch !== undefined;
  const condition = ifNoneMatch ? 'if-none-match *' : `if-match ${String(ifMatch)}`;
  return io.call({ op: 'put', method: 'PUT', key, headers, body: data }, key, async (res, attempt) => {
    if (res.status === 200 || res.status === 201 || res.status === 204) return { etag: requireEtag(io, 'put', key, res) };
    const failed = res.status === 412 || (res.status === 404 && ifMatch !== undefined && parseS3Error(bodyText(res)).code !== 'NoSuchBucket');
    if (!conditional || !failed) throw httpError(io.config.bucket, 'put', key, res);
    if (attempt.attempt > 1) {
      const landed = await landedEtag(key, md5, head);
      if (landed !== undefined) return { etag: landed };
    }
    const why = res.status === 404 ? 'object does not exist' : ifNoneMatch ? 'object exists' : 'etag differs';
    throw new LtxvfsError('LTXVFS_ERR_PRECONDITION', `precondition failed for ${io.where(key)}: ${why} (${condition})`, {
      key,
      status: res.status,
    });
  });
}

/**
 * One `DELETE` of `key`, as `S3ReplicaClient.delete` documents.
 * @throws LtxvfsError `LTXVFS_ERR_PRECONDITION`, `LTXVFS_ERR_STORAGE`.
 */
export async function deleteObject(io: S3Transport, key: string, options: { ifMatch?: string }): Promise<void> {
  const { ifMatch } = options;
  const headers: Record<string, string> = ifMatch === undefined ? {} : { 'if-match': ifMatch };
  await io.call({ op: 'delete', method: 'DELETE', key, headers }, key, (res, attempt) => {
    if (res.status === 204 || res.status === 200) return;
    const code = parseS3Error(bodyText(res)).code;
    if (res.status === 404 && code !== 'NoSuchBucket') {
      if (ifMatch === undefined || attempt.attempt > 1) return;
    }
    if (ifMatch !== undefined && (res.status === 412 || (res.status === 404 && code !== 'NoSuchBucket'))) {
      const why = res.status === 404 ? 'object does not exist' : 'etag differs';
      throw new LtxvfsError('LTXVFS_ERR_PRECONDITION', `precondition failed for ${io.where(key)}: ${why} (if-match ${ifMatch})`, {
        key,
        status: res.status,
      });
    }
    throw httpError(io.config.bucket, 'delete', key, res);
  });
}

/**
 * The ETag header of a successful answer.
 * @throws LtxvfsError `LTXVFS_ERR_STORAGE` ("response has no ETag") when it is missing or empty.
 */
export function requireEtag(io: S3Transport, verb: string, key: string, res: HttpResponse): string {
  const etag = res.headers.etag;
  if (etag === undefined || etag === '') {
    throw new LtxvfsError('LTXVFS_ERR_STORAGE', `${verb} ${io.where(key)}: response has no ETag`, { key, status: res.status });
  }
  return etag;
}

/** After a retried conditional PUT failed: the current ETag if it is the MD5 of what we sent (our earlier attempt landed). */
async function landedEtag(key: string, md5: Buffer, head: (key: string) => Promise<{ etag: string }>): Promise<string | undefined> {
  try {
    const { etag } = await head(key);
    return etag.replace(/"/g, '').toLowerCase() === md5.toString('hex') ? etag : undefined;
  } catch (err) {
    if ((err as LtxvfsError).code === 'LTXVFS_ERR_NOT_FOUND') return undefined;
    throw err;
  }
}
