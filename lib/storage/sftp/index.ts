/**
 * The sftp:// backend (SFTP). Placeholder until its client lands (issue 16).
 */
import { LtxvfsError } from '../../../ltx/errors.js';
import type { ReplicaUrl } from '../replica-url.js';
import type { ReplicaClient } from '../types.js';

/** Options of a sftp:// client. */
export interface SftpReplicaOptions {
  /** Environment the backend reads (credentials, proxies); default `process.env`. */
  env?: NodeJS.ProcessEnv;
}

/**
 * Open a sftp:// replica.
 * @throws LtxvfsError `LTXVFS_ERR_UNSUPPORTED` until the client lands.
 */
export async function openSftpReplica(url: Extract<ReplicaUrl, { scheme: 'sftp' }>, options: SftpReplicaOptions = {}): Promise<ReplicaClient> {
  void options;
  throw new LtxvfsError('LTXVFS_ERR_UNSUPPORTED', `sftp:// replicas are not supported yet`, { key: url.scheme });
}
