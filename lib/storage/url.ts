/**
 * Open the replica client a URL names: `file://` and paths give the directory client
 * (file.ts), `s3://` the S3 client (s3/, loaded only then). Parsing the URL is
 * replica-url.ts (re-exported here, where callers have always found it); the S3 client
 * imports that module, not this one, so the two do not form a cycle.
 */
import { openFileReplica } from './file.js';
import { parseReplicaUrl } from './replica-url.js';
import type { S3ReplicaOptions } from './s3/index.js';
import type { ReplicaClient } from './types.js';

export { parseReplicaUrl, S3_URL_PARAMETERS, type ReplicaUrl } from './replica-url.js';

/**
 * Open the replica client for `url` (see {@link parseReplicaUrl}). The caller owns the
 * client and must `close()` it.
 * @param options.create create a missing `file://` directory (for writers and `import`);
 *   nothing to create for s3:// (a bucket prefix exists as soon as a key is written).
 * @param options.env environment for `LITESTREAM_REPLICA_URL` and, for s3://, the AWS /
 *   Litestream credential, region and endpoint variables (lib/storage/s3/config.ts);
 *   default `process.env`.
 * @param options.s3 timeouts, retries and page size of an s3:// client (lib/storage/s3/).
 * @throws LtxvfsError everything {@link parseReplicaUrl} throws; for file:// what
 *   {@link openFileReplica} throws (`LTXVFS_ERR_NOT_FOUND` "replica directory does not
 *   exist: <path>"); for s3:// what {@link openS3Replica} throws (`LTXVFS_ERR_BAD_URL`,
 *   `LTXVFS_ERR_UNSUPPORTED`, `LTXVFS_ERR_USAGE`) — a missing bucket or bad credentials
 *   surface at the first request.
 */
export async function openReplicaClient(
  url?: string,
  options: { create?: boolean; env?: NodeJS.ProcessEnv; s3?: Omit<S3ReplicaOptions, 'env'> } = {},
): Promise<ReplicaClient> {
  const env = options.env ?? process.env;
  const parsed = parseReplicaUrl(url, env);
  if (parsed.scheme === 's3') {
    // The S3 client (aws4, undici) is loaded only for s3:// replicas.
    const { openS3Replica } = await import('./s3/index.js');
    return openS3Replica(parsed, { ...options.s3, env });
  }
  return openFileReplica(parsed.path, { create: options.create });
}
