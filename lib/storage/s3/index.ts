/**
 * The s3:// backend: the client (client.ts) over its request pipeline (transport.ts:
 * signing, undici pools, retries), listing (listing.ts), ranged reads (range.ts), the
 * configuration from URL and environment (config.ts), credentials (credentials.ts), and
 * S3's wire formats and errors (wire.ts, errors.ts, http.ts).
 */
export {
  S3ReplicaClient,
  openS3Replica,
  METADATA_KEY_TIMESTAMP,
  S3_CAPABILITIES,
  type S3ReplicaOptions,
  type S3ObjectHead,
} from './client.js';
export type { S3ClientStats } from './transport.js';
export { resolveS3Config, type S3Config, type S3Credentials } from './config.js';
export { S3CredentialSource, REFRESH_BEFORE_MS, type S3CredentialOrigin } from './credentials.js';
