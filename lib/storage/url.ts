/**
 * Open the replica client a URL names: `file://` and paths give the directory client
 * (file/), every other scheme its backend's folder (s3/, abs/, gs/, sftp/, webdav/, nats/, oss/),
 * each loaded only when its scheme is used, so a backend's vendor library (an optional peer
 * dependency) is imported only by the replicas that need it. Parsing the URL is
 * replica-url.ts (re-exported here, where callers have always found it); backends import
 * that module, not this one, so nothing forms a cycle.
 */
import { openFileReplica } from './file/client.js';
import { parseReplicaUrl } from './replica-url.js';
import type { AbsReplicaOptions } from './abs/options.js';
import type { GsReplicaOptions } from './gs/config.js';
import type { NatsReplicaOptions } from './nats/options.js';
import type { OssReplicaOptions } from './oss/index.js';
import type { S3ReplicaOptions } from './s3/index.js';
import type { SftpReplicaOptions } from './sftp/options.js';
import type { WebdavReplicaOptions } from './webdav/config.js';
import type { ReplicaClient } from './types.js';

export {
  parseReplicaUrl,
  S3_URL_PARAMETERS,
  ABS_URL_PARAMETERS,
  GS_URL_PARAMETERS,
  SFTP_URL_PARAMETERS,
  WEBDAV_URL_PARAMETERS,
  NATS_URL_PARAMETERS,
  OSS_URL_PARAMETERS,
  type ReplicaUrl,
  type ReplicaScheme,
} from './replica-url.js';

/** One options field per backend, used only when the URL names that backend. */
export interface BackendOptions {
  /** Timeouts, retries and page size of an s3:// client (lib/storage/s3/). */
  s3?: Omit<S3ReplicaOptions, 'env'>;
  /** Options of an abs:// client (lib/storage/abs/). */
  abs?: Omit<AbsReplicaOptions, 'env'>;
  /** Options of a gs:// client (lib/storage/gs/). */
  gs?: Omit<GsReplicaOptions, 'env'>;
  /** Options of an sftp:// client (lib/storage/sftp/). */
  sftp?: Omit<SftpReplicaOptions, 'env'>;
  /** Options of a webdav[s]:// client (lib/storage/webdav/). */
  webdav?: Omit<WebdavReplicaOptions, 'env'>;
  /** Options of a nats:// client (lib/storage/nats/). */
  nats?: Omit<NatsReplicaOptions, 'env'>;
  /** Options of an oss:// client (lib/storage/oss/: the s3:// client's timeouts, retries and credentials). */
  oss?: Omit<OssReplicaOptions, 'env'>;
}

/** Options of {@link openReplicaClient}. */
export interface OpenReplicaClientOptions extends BackendOptions {
  /** Create a missing `file://` directory or `nats://` object store bucket (for writers and `import`); other object stores have nothing to create. */
  create?: boolean;
  /** Environment for `LITESTREAM_REPLICA_URL` and each backend's credential variables; default `process.env`. */
  env?: NodeJS.ProcessEnv;
}

/** The {@link BackendOptions} fields of `options` (to pass a larger options object on). */
export function backendOptionsOf(options: BackendOptions): BackendOptions {
  const { s3, abs, gs, sftp, webdav, nats, oss } = options;
  return { s3, abs, gs, sftp, webdav, nats, oss };
}

/**
 * Open the replica client for `url` (see {@link parseReplicaUrl}). The caller owns the
 * client and must `close()` it.
 * @throws LtxvfsError everything {@link parseReplicaUrl} throws; for file:// what
 *   {@link openFileReplica} throws (`LTXVFS_ERR_NOT_FOUND` "replica directory does not
 *   exist: <path>"); for the other schemes what their `open…Replica` throws
 *   (`LTXVFS_ERR_BAD_URL`, `LTXVFS_ERR_UNSUPPORTED`, `LTXVFS_ERR_USAGE` — a missing optional
 *   package is named there) — a missing bucket or bad credentials surface at the first request.
 */
export async function openReplicaClient(url?: string, options: OpenReplicaClientOptions = {}): Promise<ReplicaClient> {
  const env = options.env ?? process.env;
  const parsed = parseReplicaUrl(url, env);
  switch (parsed.scheme) {
    case 'file':
      return openFileReplica(parsed.path, { create: options.create });
    case 's3':
      return (await import('./s3/index.js')).openS3Replica(parsed, { ...options.s3, env });
    case 'abs':
      return (await import('./abs/index.js')).openAbsReplica(parsed, { ...options.abs, env });
    case 'gs':
      return (await import('./gs/index.js')).openGsReplica(parsed, { ...options.gs, env });
    case 'sftp':
      return (await import('./sftp/index.js')).openSftpReplica(parsed, { ...options.sftp, env });
    case 'webdav':
      return (await import('./webdav/index.js')).openWebdavReplica(parsed, { ...options.webdav, env });
    case 'nats':
      return (await import('./nats/index.js')).openNatsReplica(parsed, { ...options.nats, env, create: options.create ?? options.nats?.create });
    case 'oss':
      return (await import('./oss/index.js')).openOssReplica(parsed, { ...options.oss, env });
  }
}
