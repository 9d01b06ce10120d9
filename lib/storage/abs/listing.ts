/**
 * Listing an abs:// replica: List Blobs pages with metadata, and the LTX header timestamp
 * each listed blob carries. Litestream stores that timestamp as the blob metadata
 * `litestreamtimestamp` (abs/replica_client.go `MetadataKeyTimestamp`, RFC 3339 with ns —
 * Azure metadata names cannot hold `-`), and List Blobs returns metadata when asked
 * (`include=metadata`), so one request per page of up to 5000 blobs gives every file's
 * timestamp: no request per file, unlike S3's HEADs. Blobs without it (written by other
 * tools) fall back to Last-Modified.
 */
import type { BlobItem, ContainerClient } from '@azure/storage-blob';
import { LtxvfsError } from '../../../ltx/errors.js';
import { parseRfc3339 } from '../rfc3339.js';

/** Litestream's metadata name for the LTX header timestamp (abs.MetadataKeyTimestamp). */
export const ABS_METADATA_KEY_TIMESTAMP = 'litestreamtimestamp';

/** One List Blobs request under the client's retry policy and request deadline (client.ts `call`). */
export type ListRequest = <T>(prefix: string, attempt: (signal: AbortSignal) => Promise<T>) => Promise<T>;

/**
 * The blobs under `prefix` (with metadata), page by page, each page one request through
 * `request`; stops after `limit` blobs.
 * @param pageSize blobs per page asked for, 1…5000.
 * @throws what `request` throws (client.ts: `LTXVFS_ERR_NOT_FOUND` for no container, `LTXVFS_ERR_STORAGE`, `LTXVFS_ERR_CLOSED`).
 */
export async function* listBlobs(blobs: ContainerClient, request: ListRequest, prefix: string, limit: number, pageSize: number): AsyncGenerator<BlobItem> {
  let token: string | undefined;
  let seen = 0;
  do {
    const maxPageSize = Math.min(pageSize, limit - seen);
    const page = await request(prefix, async (signal) => {
      const pages = blobs.listBlobsFlat({ prefix, includeMetadata: true, abortSignal: signal }).byPage({ continuationToken: token, maxPageSize });
      const next = await pages.next();
      return next.done === true ? undefined : next.value;
    });
    for (const item of page?.segment.blobItems ?? []) {
      if (seen++ >= limit) return;
      yield item;
    }
    token = page?.continuationToken === '' ? undefined : page?.continuationToken;
  } while (token !== undefined && seen < limit);
}

/**
 * The header timestamp Litestream stored on a listed blob (`litestreamtimestamp`, any
 * case), else its Last-Modified; ms since the epoch.
 * @param where the blob as messages name it, `abs://account@container/key`.
 * @throws LtxvfsError `LTXVFS_ERR_STORAGE` "list <where>: no readable litestreamtimestamp or Last-Modified".
 */
export function blobCreatedAt(item: BlobItem, where: string): number {
  const meta = Object.entries(item.metadata ?? {}).find(([k]) => k.toLowerCase() === ABS_METADATA_KEY_TIMESTAMP)?.[1];
  const t = meta === undefined ? undefined : parseRfc3339(meta);
  if (t !== undefined) return t;
  const lm = item.properties.lastModified?.getTime();
  if (lm === undefined || Number.isNaN(lm)) {
    throw new LtxvfsError('LTXVFS_ERR_STORAGE', `list ${where}: no readable ${ABS_METADATA_KEY_TIMESTAMP} or Last-Modified`, { key: item.name });
  }
  return lm;
}
