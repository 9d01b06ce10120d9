/**
 * The storage boundary: the {@link ReplicaClient} interface, the directory and S3
 * clients, the retry policy, and replica URLs. Knows bytes and keys only (docs/architecture.md, read path 1).
 */
export type { LtxFileInfo, ReplicaCapabilities, ReplicaClient, StrayEntry, WriteOptions } from './types.js';
export { FileReplicaClient, openFileReplica, type FileReplicaOptions } from './file/client.js';
export {
  S3ReplicaClient,
  openS3Replica,
  METADATA_KEY_TIMESTAMP,
  resolveS3Config,
  S3CredentialSource,
  REFRESH_BEFORE_MS,
  type S3ReplicaOptions,
  type S3ClientStats,
  type S3ObjectHead,
  type S3Config,
  type S3Credentials,
  type S3CredentialOrigin,
} from './s3/index.js';
export { withRetry, TransientError, RetryExhaustedError, DEFAULT_RETRY_POLICY, type RetryPolicy } from './retry.js';
export { openReplicaClient, parseReplicaUrl, S3_URL_PARAMETERS, type ReplicaUrl } from './url.js';
