/**
 * The nats:// backend (NATS JetStream object store). Placeholder until its client lands (issue 16).
 */
import { LtxvfsError } from '../../../ltx/errors.js';
import type { ReplicaUrl } from '../replica-url.js';
import type { ReplicaClient } from '../types.js';

/** Options of a nats:// client. */
export interface NatsReplicaOptions {
  /** Environment the backend reads (credentials, proxies); default `process.env`. */
  env?: NodeJS.ProcessEnv;
}

/**
 * Open a nats:// replica.
 * @throws LtxvfsError `LTXVFS_ERR_UNSUPPORTED` until the client lands.
 */
export async function openNatsReplica(url: Extract<ReplicaUrl, { scheme: 'nats' }>, options: NatsReplicaOptions = {}): Promise<ReplicaClient> {
  void options;
  throw new LtxvfsError('LTXVFS_ERR_UNSUPPORTED', `nats:// replicas are not supported yet`, { key: url.scheme });
}
