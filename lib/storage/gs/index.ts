/**
 * The gs:// backend (Google Cloud Storage): `openGsReplica` resolves the configuration
 * (config.ts), loads `@google-cloud/storage` (vendor.ts) and returns the client
 * (client.ts; its listings listing.ts, its ranged media GETs media.ts, what the vendor's
 * errors mean errors.ts). URL form, environment and costs: docs/backends/gs.md.
 */
import type { ReplicaUrl } from '../replica-url.js';
import { GsReplicaClient } from './client.js';
import { resolveGsConfig, type GsReplicaOptions } from './config.js';
import { loadGcs } from './vendor.js';

export type { GsReplicaOptions } from './config.js';
export { GsReplicaClient, GS_CAPABILITIES, type GsClientStats } from './client.js';
export { GS_METADATA_KEY_TIMESTAMP } from './listing.js';

/**
 * Open a gs:// replica: `gs://BUCKET/PATH`, the objects `PATH/ltx/<level>/…` as Litestream
 * writes them, through the endpoint of `?endpoint=`, `STORAGE_EMULATOR_HOST` (a bare host
 * is http, as in Litestream) or Google's, with application default credentials. No request
 * is made: a missing bucket or unusable credentials fail the first call, naming the replica.
 * @throws LtxvfsError `LTXVFS_ERR_BAD_URL` (a bad endpoint); `LTXVFS_ERR_USAGE` (an option
 *   out of range; `@google-cloud/storage` not installed, naming it).
 */
export async function openGsReplica(url: Extract<ReplicaUrl, { scheme: 'gs' }>, options: GsReplicaOptions = {}): Promise<GsReplicaClient> {
  const config = resolveGsConfig(url.bucket, url.path, url.params, options);
  return new GsReplicaClient(config, await loadGcs());
}
