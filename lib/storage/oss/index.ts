/**
 * The oss:// backend: a Litestream replica in Alibaba Cloud OSS, read through OSS's
 * S3-compatible API with the s3:// client (../s3/), entered through {@link openOssReplica}.
 *
 * What Litestream does (oss/replica_client.go, alibabacloud-oss-go-sdk-v2 1.3.0) and what
 * ltxvfs does instead:
 *
 * | | Litestream | ltxvfs |
 * | --- | --- | --- |
 * | URL | `oss://BUCKET[.oss-REGION[-internal].aliyuncs.com]/PATH`, region `cn-hangzhou` when the host has none | the same |
 * | endpoint | the OSS SDK's for the region, `https://oss-REGION.aliyuncs.com` (the `-internal` in the host is not used) | `https://s3.oss-REGION.aliyuncs.com`, the S3-compatible endpoint Alibaba documents for AWS SDKs ("Use AWS SDKs to access OSS"), virtual-hosted; `?endpoint=` overrides it (ltxvfs only) |
 * | signatures | OSS V4 | AWS SigV4 with the region ID (`cn-hangzhou`) as the signing region, no chunked payloads |
 * | credentials | `OSS_ACCESS_KEY_ID`, `OSS_ACCESS_KEY_SECRET`, `OSS_SESSION_TOKEN` | the same variables (or the `credentials` option) |
 * | layout | `PATH/<level %04x>/<min>-<max>.ltx`, `PATH/…` joined with `/` as S3's | the same (the S3 client's keys) |
 * | timestamps | user metadata `litestream-timestamp` (`x-oss-meta-…`) | the same metadata, which the S3 API returns as `x-amz-meta-litestream-timestamp` |
 * | writes | unconditional multipart uploads | refused: no conditional write of OSS's is tested here (no OSS server can run locally), so neither the lease nor the write path can be made safe |
 *
 * Nothing here was run against OSS itself (docs/backends/oss.md says what is untested);
 * the tests read replicas from s3rver through `?endpoint=`.
 */
import { LtxvfsError } from '../../../ltx/errors.js';
import { parseReplicaUrl, type ReplicaUrl } from '../replica-url.js';
import {
  ensureEndpointScheme, redactEndpoint, S3CredentialSource, S3ReplicaClient, type S3Config, type S3Credentials, type S3ReplicaOptions,
} from '../s3/index.js';
import { OssReplicaClient } from './client.js';

export { OssReplicaClient, OSS_CAPABILITIES } from './client.js';

/** Litestream's region when the URL host names none (oss/replica_client.go `DefaultRegion`). */
export const OSS_DEFAULT_REGION = 'cn-hangzhou';

/** Options of {@link openOssReplica}: those of the s3:// client (timeouts, retries, page sizes), credentials included. */
export type OssReplicaOptions = S3ReplicaOptions;

/** The parts of an oss `ReplicaUrl` the client needs. */
export type OssUrlParts = Extract<ReplicaUrl, { scheme: 'oss' }>;

/**
 * Where the requests of an oss:// replica go and how they are signed (module doc):
 * `https://s3.oss-<region>.aliyuncs.com`, virtual-hosted, signed for `<region>`; with
 * `?endpoint=` that endpoint, path-style when its host is an IP address or `localhost`
 * (a local S3 server such as s3rver has no bucket subdomains), virtual-hosted otherwise.
 * @throws LtxvfsError `LTXVFS_ERR_BAD_URL` for an endpoint that is not an http(s) URL with a
 *   host, or that carries credentials, a query or a fragment (naming it).
 */
export function resolveOssConfig(url: OssUrlParts): S3Config {
  const region = url.region ?? OSS_DEFAULT_REGION;
  const where = `oss://${url.bucket}/${url.path}`;
  const raw = url.params.endpoint;
  let endpoint: S3Config['endpoint'] = { protocol: 'https:', host: `s3.oss-${region}.aliyuncs.com`, basePath: '' };
  let pathStyle = false;
  if (raw !== undefined && raw !== '') {
    let u: URL;
    try {
      u = new URL(ensureEndpointScheme(raw));
    } catch (err) {
      throw new LtxvfsError('LTXVFS_ERR_BAD_URL', `bad oss endpoint ${redactEndpoint(raw)} for ${where}: not a URL`, { key: where, cause: err });
    }
    if ((u.protocol !== 'http:' && u.protocol !== 'https:') || u.host === '' || u.username !== '' || u.password !== '' || u.search !== '' || u.hash !== '') {
      throw new LtxvfsError('LTXVFS_ERR_BAD_URL', `bad oss endpoint ${redactEndpoint(raw)} for ${where}: need http:// or https://, a host, and no credentials, query or fragment`, { key: where });
    }
    endpoint = { protocol: u.protocol, host: u.host, basePath: u.pathname.replace(/\/+$/, '') };
    pathStyle = /^(localhost|\d+\.\d+\.\d+\.\d+|\[[0-9a-f:.]+\])$/i.test(u.hostname);
  }
  return {
    bucket: url.bucket,
    prefix: url.path,
    region,
    endpoint,
    forcePathStyle: pathStyle,
    skipVerify: false,
    anonymous: false,
    storageClass: undefined,
    sseKmsKeyId: undefined,
  };
}

/**
 * Credentials from `OSS_ACCESS_KEY_ID`, `OSS_ACCESS_KEY_SECRET` and `OSS_SESSION_TOKEN`
 * (the variables Litestream's OSS SDK reads).
 * @returns undefined when neither key is set.
 * @throws LtxvfsError `LTXVFS_ERR_USAGE` when only one of the two keys is set (naming the variables, never the values).
 */
export function ossCredentialsFromEnv(env: NodeJS.ProcessEnv): S3Credentials | undefined {
  const accessKeyId = env.OSS_ACCESS_KEY_ID || undefined;
  const secretAccessKey = env.OSS_ACCESS_KEY_SECRET || undefined;
  if (accessKeyId === undefined && secretAccessKey === undefined) return undefined;
  if (accessKeyId === undefined || secretAccessKey === undefined) {
    const [have, missing] = accessKeyId === undefined ? ['OSS_ACCESS_KEY_SECRET', 'OSS_ACCESS_KEY_ID'] : ['OSS_ACCESS_KEY_ID', 'OSS_ACCESS_KEY_SECRET'];
    throw new LtxvfsError('LTXVFS_ERR_USAGE', `${have} is set but ${missing} is not`, { key: missing });
  }
  const sessionToken = env.OSS_SESSION_TOKEN || undefined;
  return sessionToken === undefined ? { accessKeyId, secretAccessKey } : { accessKeyId, secretAccessKey, sessionToken };
}

/**
 * Open an oss:// replica for reading (module doc). Nothing is sent yet: a missing bucket or
 * wrong keys show up at the first request.
 * @param url an `oss://…` URL, or its parsed parts (`parseReplicaUrl`).
 * @throws LtxvfsError `LTXVFS_ERR_BAD_URL` (not an oss:// URL, a bad endpoint);
 *   `LTXVFS_ERR_USAGE` when no credentials are found ("no OSS credentials for oss://…: set
 *   OSS_ACCESS_KEY_ID and OSS_ACCESS_KEY_SECRET"), only one key is set, or an option is out of range.
 */
export async function openOssReplica(url: string | OssUrlParts, options: OssReplicaOptions = {}): Promise<OssReplicaClient> {
  let parts: OssUrlParts;
  if (typeof url === 'string') {
    const parsed = parseReplicaUrl(url, {});
    if (parsed.scheme !== 'oss') throw new LtxvfsError('LTXVFS_ERR_BAD_URL', `not an oss:// URL: ${url}`, { key: url });
    parts = parsed;
  } else {
    parts = url;
  }
  const env = options.env ?? process.env;
  const config = resolveOssConfig(parts);
  const ossUrl = `oss://${parts.bucket}/${parts.path}${parts.params.endpoint ? `?endpoint=${redactEndpoint(parts.params.endpoint)}` : ''}`;
  const explicit = options.credentials !== undefined ? options.credentials : ossCredentialsFromEnv(env);
  if (explicit === undefined) {
    throw new LtxvfsError('LTXVFS_ERR_USAGE', `no OSS credentials for ${ossUrl}: set OSS_ACCESS_KEY_ID and OSS_ACCESS_KEY_SECRET (and OSS_SESSION_TOKEN for temporary keys)`, {
      key: ossUrl,
    });
  }
  const credentials = await S3CredentialSource.resolve({ env, anonymous: false, explicit, where: ossUrl, now: options.now });
  return new OssReplicaClient(ossUrl, new S3ReplicaClient(config, options, credentials));
}
