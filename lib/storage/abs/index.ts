/**
 * The abs:// backend (Azure Blob Storage). Placeholder until its client lands (issue 16).
 */
import { LtxvfsError } from '../../../ltx/errors.js';
import type { ReplicaUrl } from '../replica-url.js';
import type { ReplicaClient } from '../types.js';

/** Options of a abs:// client. */
export interface AbsReplicaOptions {
  /** Environment the backend reads (credentials, proxies); default `process.env`. */
  env?: NodeJS.ProcessEnv;
}

/**
 * Open a abs:// replica.
 * @throws LtxvfsError `LTXVFS_ERR_UNSUPPORTED` until the client lands.
 */
export async function openAbsReplica(url: Extract<ReplicaUrl, { scheme: 'abs' }>, options: AbsReplicaOptions = {}): Promise<ReplicaClient> {
  void options;
  throw new LtxvfsError('LTXVFS_ERR_UNSUPPORTED', `abs:// replicas are not supported yet`, { key: url.scheme });
}
