/**
 * Listing a gs:// replica: JSON API listing pages (`objects.list`, one request per page of
 * up to 1000 objects), and the LTX header timestamp each listed object carries. Litestream
 * stores that timestamp as the object metadata `litestream-timestamp`
 * (gs/replica_client.go, RFC 3339 with ns), and a listing page carries each object's
 * metadata, so `createdAt` costs no request per file; where it is absent the object's
 * `timeCreated` stands in, as Litestream falls back to the creation time.
 */
import type { Bucket, File } from '@google-cloud/storage';
import { LtxvfsError } from '../../../ltx/errors.js';
import { parseRfc3339 } from '../rfc3339.js';

/** Litestream's metadata key for the LTX header timestamp (gs/replica_client.go). */
export const GS_METADATA_KEY_TIMESTAMP = 'litestream-timestamp';

/** One object as a listing or a metadata GET reports it (the JSON API's object resource, the fields read here). */
export interface ObjectMetadata {
  name?: string;
  size?: string | number;
  generation?: string | number;
  md5Hash?: string;
  timeCreated?: string;
  metadata?: Record<string, string | number | boolean | null>;
}

/** One listing request under the client's retries (client.ts `call`). */
export type ListRequest = <T>(prefix: string, op: () => Promise<T>) => Promise<T>;

/**
 * The objects directly under `prefix` (delimiter `/`), page by page, each page one
 * request through `request`.
 * @param pageSize objects per page (`maxResults`), 1…1000.
 * @param startOffset the first name to list (`startOffset`, first page only), for a seek.
 * @throws what `request` throws (client.ts: `LTXVFS_ERR_NOT_FOUND` for no bucket, `LTXVFS_ERR_STORAGE`, `LTXVFS_ERR_CLOSED`).
 */
export async function* listObjects(bucket: Bucket, request: ListRequest, prefix: string, pageSize: number, startOffset: string | undefined): AsyncGenerator<File> {
  let pageToken: string | undefined;
  do {
    const query = {
      prefix, delimiter: '/', autoPaginate: false, maxResults: pageSize, pageToken,
      ...(startOffset !== undefined && pageToken === undefined ? { startOffset } : {}),
    };
    const [items, next] = await request(prefix, () => bucket.getFiles(query));
    yield* items;
    pageToken = (next as { pageToken?: string } | null | undefined)?.pageToken;
  } while (pageToken !== undefined);
}

/**
 * The header timestamp Litestream stored on an object (`litestream-timestamp`), else its
 * `timeCreated`; ms since the epoch.
 * @param where the object as messages name it, `gs://bucket/key`.
 * @throws LtxvfsError `LTXVFS_ERR_STORAGE` "list <where>: no readable litestream-timestamp or timeCreated".
 */
export function objectCreatedAt(key: string, where: string, meta: ObjectMetadata): number {
  const stamp = meta.metadata?.[GS_METADATA_KEY_TIMESTAMP];
  const t = typeof stamp === 'string' ? parseRfc3339(stamp) : undefined;
  if (t !== undefined) return t;
  const created = meta.timeCreated === undefined ? NaN : Date.parse(meta.timeCreated);
  if (Number.isNaN(created)) {
    throw new LtxvfsError('LTXVFS_ERR_STORAGE', `list ${where}: no readable ${GS_METADATA_KEY_TIMESTAMP} or timeCreated`, { key });
  }
  return created;
}
