/**
 * The ETag check of abs:// writes and deletes: what a failed conditional request means.
 * Put Blob and Delete Blob take `If-None-Match: *` and `If-Match: <ETag>`, which Azure
 * checks atomically and refuses with 409 BlobAlreadyExists or 412 ConditionNotMet (Azure
 * Storage "Specifying conditional headers for Blob service operations") — and with 412
 * both for another ETag and for no blob, so the reason is read back from the blob's
 * properties. Retries make a refusal ambiguous: the earlier attempt may have landed,
 * which client.ts checks against the Content-MD5 and ETag these properties give.
 */
import type { BlockBlobClient } from '@azure/storage-blob';
import { LtxvfsError } from '../../../ltx/errors.js';
import { azureErrorCode, statusOf } from './errors.js';

/** What a Get Blob Properties says of a blob: its ETag and Content-MD5 (base64) when it has one. */
export interface BlobState {
  etag: string;
  md5: string | undefined;
}

/**
 * ETag and Content-MD5 of `blob` (one Get Blob Properties, not retried), or undefined when
 * it does not exist (404).
 * @throws the SDK's error for any other failure (client.ts maps it).
 */
export async function blobState(blob: BlockBlobClient, signal: AbortSignal): Promise<BlobState | undefined> {
  try {
    const p = await blob.getProperties({ abortSignal: signal });
    return { etag: p.etag ?? '', md5: p.contentMD5 === undefined ? undefined : Buffer.from(p.contentMD5).toString('base64') };
  } catch (err) {
    if (statusOf(err) === 404) return undefined;
    throw err;
  }
}

/** Whether `err` is a refused condition: 409 BlobAlreadyExists, 412 ConditionNotMet, or a 404 of the blob (not the container). */
export function failedCondition(err: unknown): boolean {
  const s = statusOf(err);
  return s === 412 || (s === 409 && azureErrorCode(err) === 'BlobAlreadyExists') || (s === 404 && azureErrorCode(err) !== 'ContainerNotFound');
}

/**
 * `LTXVFS_ERR_PRECONDITION` "precondition failed for <where>: <why> (<condition>)", `why`
 * being "object exists" for `if-none-match *`, else "object does not exist" or "etag
 * differs" as `state` (one Get Blob Properties) finds the blob now.
 * @param condition `if-none-match *` or `if-match <ETag>`.
 */
export async function preconditionError(
  key: string,
  where: string,
  condition: string,
  state: () => Promise<BlobState | undefined>,
  cause: unknown,
): Promise<LtxvfsError> {
  const why = condition.startsWith('if-none-match') ? 'object exists' : (await state()) === undefined ? 'object does not exist' : 'etag differs';
  return new LtxvfsError('LTXVFS_ERR_PRECONDITION', `precondition failed for ${where}: ${why} (${condition})`, { key, status: statusOf(cause), cause });
}
