/**
 * The s3:// backend, entered through {@link openS3Replica}: the client (client.ts) over
 * its request pipeline (transport.ts: signing, undici pools, retries), listing
 * (listing.ts), ranged reads (range.ts), writes and deletes (write.ts), the configuration
 * from URL and environment (config.ts), credentials (credentials.ts), and S3's wire
 * formats and errors (wire.ts, errors.ts, http.ts). Other backends that speak S3 (oss://)
 * import this module, never the files behind it (test/architecture.test.ts).
 */
import { LtxvfsError } from '../../../ltx/errors.js';
import { parseReplicaUrl } from '../replica-url.js';
import { S3ReplicaClient, type S3ReplicaOptions } from './client.js';
import { resolveS3Config, type S3UrlParts } from './config.js';
import { S3CredentialSource } from './credentials.js';

export { S3ReplicaClient, METADATA_KEY_TIMESTAMP, S3_CAPABILITIES, type S3ReplicaOptions, type S3ObjectHead } from './client.js';
export type { S3ClientStats } from './transport.js';
export { resolveS3Config, type S3Config, type S3Credentials } from './config.js';
/** For S3 dialects built on this client (oss://): endpoint helpers of config.ts. */
export { ensureEndpointScheme, redactEndpoint } from './config.js';
export { S3CredentialSource, REFRESH_BEFORE_MS, type S3CredentialOrigin } from './credentials.js';

/**
 * Open an s3:// replica: resolve its configuration and credentials (credentials.ts;
 * the AWS SDK's chain is asked here when the environment has no keys). Nothing is sent to
 * S3 yet: a missing bucket or wrong credentials show up at the first request
 * (`openDatabase` lists at once).
 * @param url an `s3://bucket/path?…` URL, or its parsed parts (`parseReplicaUrl`).
 * @throws LtxvfsError `LTXVFS_ERR_BAD_URL`, `LTXVFS_ERR_UNSUPPORTED` (config.ts, ../replica-url.ts);
 *   `LTXVFS_ERR_USAGE` for bad options and when no credentials are found (without `?anonymous=true`).
 */
export async function openS3Replica(url: string | S3UrlParts, options: S3ReplicaOptions = {}): Promise<S3ReplicaClient> {
  let parts: S3UrlParts;
  if (typeof url === 'string') {
    const parsed = parseReplicaUrl(url, {});
    if (parsed.scheme !== 's3') throw new LtxvfsError('LTXVFS_ERR_BAD_URL', `not an s3:// URL: ${url}`, { key: url });
    parts = parsed;
  } else {
    parts = url;
  }
  const env = options.env ?? process.env;
  const config = resolveS3Config(parts, env);
  const credentials = await S3CredentialSource.resolve({
    env,
    anonymous: config.anonymous,
    explicit: options.credentials,
    where: `s3://${config.bucket}/${config.prefix}`,
    now: options.now,
  });
  return new S3ReplicaClient(config, options, credentials);
}
