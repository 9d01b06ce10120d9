/**
 * The webdav:// backend (WebDAV). Placeholder until its client lands (issue 16).
 */
import { LtxvfsError } from '../../../ltx/errors.js';
import type { ReplicaUrl } from '../replica-url.js';
import type { ReplicaClient } from '../types.js';

/** Options of a webdav:// client. */
export interface WebdavReplicaOptions {
  /** Environment the backend reads (credentials, proxies); default `process.env`. */
  env?: NodeJS.ProcessEnv;
}

/**
 * Open a webdav:// replica.
 * @throws LtxvfsError `LTXVFS_ERR_UNSUPPORTED` until the client lands.
 */
export async function openWebdavReplica(url: Extract<ReplicaUrl, { scheme: 'webdav' }>, options: WebdavReplicaOptions = {}): Promise<ReplicaClient> {
  void options;
  throw new LtxvfsError('LTXVFS_ERR_UNSUPPORTED', `webdav:// replicas are not supported yet`, { key: url.scheme });
}
