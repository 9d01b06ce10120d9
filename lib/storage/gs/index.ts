/**
 * The gs:// backend (Google Cloud Storage). Placeholder until its client lands (issue 16).
 */
import { LtxvfsError } from '../../../ltx/errors.js';
import type { ReplicaUrl } from '../replica-url.js';
import type { ReplicaClient } from '../types.js';

/** Options of a gs:// client. */
export interface GsReplicaOptions {
  /** Environment the backend reads (credentials, proxies); default `process.env`. */
  env?: NodeJS.ProcessEnv;
}

/**
 * Open a gs:// replica.
 * @throws LtxvfsError `LTXVFS_ERR_UNSUPPORTED` until the client lands.
 */
export async function openGsReplica(url: Extract<ReplicaUrl, { scheme: 'gs' }>, options: GsReplicaOptions = {}): Promise<ReplicaClient> {
  void options;
  throw new LtxvfsError('LTXVFS_ERR_UNSUPPORTED', `gs:// replicas are not supported yet`, { key: url.scheme });
}
