/**
 * s3:// configuration as Litestream users know it: from the replica URL (docs/formats.md §6)
 * and the environment, resolved into where requests go and how they are signed.
 *
 * The rules follow Litestream v0.5.16 (`s3.NewReplicaClientFromURL`, `s3.ParseHost` in
 * s3/replica_client.go; `EnsureEndpointScheme`, `IsLocalEndpoint`, `BoolQueryValue` in
 * replica_url.go; `applyLitestreamEnv` in cmd/litestream/main.go):
 *
 * | Setting | Taken from, first match wins |
 * | --- | --- |
 * | bucket | URL host (`s3://bucket/…`), or the bucket part of a provider host (below), or an access point ARN |
 * | key prefix | URL path, cleaned (`ReplicaUrl.path`) |
 * | endpoint | `?endpoint=`; a provider host; `LITESTREAM_S3_ENDPOINT`; `AWS_ENDPOINT_URL_S3`; `AWS_ENDPOINT_URL`; else AWS. Without a scheme: `http://` for local hosts (localhost, 127.0.0.1, private ranges, `.local`), `https://` otherwise |
 * | path-style | `?forcePathStyle=` / `?force-path-style=`; else on for any explicit endpoint (Litestream: "default to path style for custom endpoints"), for `bucket.host:port`, Backblaze and Filebase hosts; off for AWS (virtual-hosted), except bucket names that are not DNS-safe |
 * | region | `?region=`; a provider host or ARN; `AWS_REGION`; `AWS_DEFAULT_REGION`; `us-east-1` |
 * | access key | `AWS_ACCESS_KEY_ID`, else `LITESTREAM_ACCESS_KEY_ID` (the AWS name wins, as in Litestream); else the AWS SDK's default chain (credentials.ts) |
 * | secret key | `AWS_SECRET_ACCESS_KEY`, else `LITESTREAM_SECRET_ACCESS_KEY` |
 * | session token | `AWS_SESSION_TOKEN` (sent as `x-amz-security-token`) |
 * | unsigned requests | only with `?anonymous=true` |
 * | TLS verification | off with `?skipVerify=true` / `?skip-verify=true` |
 * | writes | `?storageClass=` / `?storage-class=`, `?sseKmsKeyId=` / `?sse-kms-key-id=` become PUT headers |
 *
 * Differences from Litestream, on purpose: Litestream ignores `AWS_REGION` for URL
 * replicas (it asks S3 for the bucket's region when none is given); ltxvfs uses it, and on
 * AWS follows S3's `x-amz-bucket-region` answer when the region is wrong. `AWS_ENDPOINT_URL*`
 * select path-style like every other explicit endpoint. Credentials come from the
 * environment or the AWS SDK's chain (credentials.ts); requests go unsigned only with
 * `?anonymous=true`. SSE-C (`sseCustomerKey`) is refused as unsupported. The URL
 * parameters are those of `S3_URL_PARAMETERS` (../replica-url.ts); any other is refused there.
 */

import { LtxvfsError } from '../../../ltx/errors.js';
import { uriEncode } from './wire.js';

/** AWS credentials. Never printed anywhere: clients keep them in an `S3CredentialSource` (credentials.ts). */
export interface S3Credentials {
  accessKeyId: string;
  secretAccessKey: string;
  sessionToken?: string;
  /** When temporary credentials expire (from the SDK's providers); undefined for long-term keys. */
  expiration?: Date;
}

/** A resolved S3 configuration. */
export interface S3Config {
  /** Bucket name, or the access point's ARN. */
  bucket: string;
  /** Key prefix without leading or trailing `/` (`''` for the bucket root). */
  prefix: string;
  /** Signing region. */
  region: string;
  /** A custom endpoint: `protocol` `http:`/`https:`, `host` (`hostname[:port]`), `basePath` (`''` or `/p`, no trailing `/`). Undefined for AWS. */
  endpoint: { protocol: string; host: string; basePath: string } | undefined;
  /** Put the bucket in the path (`/bucket/key`) instead of the host (`bucket.host/key`). */
  forcePathStyle: boolean;
  /** Accept any TLS certificate. */
  skipVerify: boolean;
  /** `?anonymous=true`: requests are not signed and no credentials are looked for. */
  anonymous: boolean;
  /** `x-amz-storage-class` of PUTs. */
  storageClass: string | undefined;
  /** SSE-KMS key of PUTs (`x-amz-server-side-encryption: aws:kms`). */
  sseKmsKeyId: string | undefined;
}

/** The parts of an s3 `ReplicaUrl` that the configuration needs. */
export interface S3UrlParts {
  bucket: string;
  path: string;
  params: Record<string, string>;
}

/** us-east-1, as Litestream's `DefaultRegion` and the AWS SDKs. */
export const DEFAULT_REGION = 'us-east-1';

/**
 * Resolve the configuration of an s3:// replica (module doc for the rules).
 * @param url the parsed URL (`parseReplicaUrl`).
 * @param env environment with the AWS / Litestream variables.
 * @throws LtxvfsError `LTXVFS_ERR_BAD_URL` (no bucket, a bad endpoint, credentials in the
 *   endpoint, an ARN that is not an access point);
 *   `LTXVFS_ERR_UNSUPPORTED` (SSE-C parameters).
 */
export function resolveS3Config(url: S3UrlParts, env: NodeJS.ProcessEnv): S3Config {
  const q = url.params;
  const where = `s3://${url.bucket}/${url.path}`;
  if (firstParam(q, 'sseCustomerKey', 'sse-customer-key', 'sseCustomerKeyPath', 'sse-customer-key-path', 'sseCustomerAlgorithm', 'sse-customer-algorithm') !== undefined) {
    throw new LtxvfsError('LTXVFS_ERR_UNSUPPORTED', `SSE-C (sseCustomerKey) is not supported: ${where}`, { key: where });
  }

  let bucket: string;
  let region: string | undefined;
  let endpoint: string | undefined;
  let pathStyle = false;
  if (/^arn:/i.test(url.bucket)) {
    bucket = url.bucket;
    region = url.bucket.split(':')[3] || undefined;
  } else {
    ({ bucket, region, endpoint, pathStyle } = parseHost(url.bucket));
  }
  if (bucket === '') throw new LtxvfsError('LTXVFS_ERR_BAD_URL', `s3 URL has no bucket: ${where}`, { key: where });

  const explicit = firstParam(q, 'endpoint') ?? nonEmpty(endpoint === undefined ? env.LITESTREAM_S3_ENDPOINT : undefined) ??
    nonEmpty(endpoint === undefined ? env.AWS_ENDPOINT_URL_S3 : undefined) ?? nonEmpty(endpoint === undefined ? env.AWS_ENDPOINT_URL : undefined);
  if (explicit !== undefined) {
    endpoint = explicit;
    pathStyle = true;
  }
  const forced = boolParam(q, 'forcePathStyle', 'force-path-style');
  if (forced !== undefined) pathStyle = forced;

  region = firstParam(q, 'region') ?? region ?? nonEmpty(env.AWS_REGION) ?? nonEmpty(env.AWS_DEFAULT_REGION) ?? DEFAULT_REGION;

  return {
    bucket,
    prefix: url.path,
    region,
    endpoint: endpoint === undefined ? undefined : parseEndpoint(ensureEndpointScheme(endpoint), where),
    forcePathStyle: pathStyle,
    skipVerify: boolParam(q, 'skipVerify', 'skip-verify') ?? false,
    anonymous: boolParam(q, 'anonymous') ?? false,
    storageClass: firstParam(q, 'storageClass', 'storage-class'),
    sseKmsKeyId: firstParam(q, 'sseKmsKeyId', 'sse-kms-key-id'),
  };
}

/**
 * Credentials from the environment: `AWS_ACCESS_KEY_ID` / `AWS_SECRET_ACCESS_KEY`, each
 * falling back to its `LITESTREAM_` twin, plus `AWS_SESSION_TOKEN`.
 * @returns undefined when neither key is set (anonymous requests).
 * @throws LtxvfsError `LTXVFS_ERR_BAD_URL` when only one of the two is set (names the variables, never values).
 */
export function credentialsFromEnv(env: NodeJS.ProcessEnv): S3Credentials | undefined {
  const accessKeyId = nonEmpty(env.AWS_ACCESS_KEY_ID) ?? nonEmpty(env.LITESTREAM_ACCESS_KEY_ID);
  const secretAccessKey = nonEmpty(env.AWS_SECRET_ACCESS_KEY) ?? nonEmpty(env.LITESTREAM_SECRET_ACCESS_KEY);
  if (accessKeyId === undefined && secretAccessKey === undefined) return undefined;
  if (accessKeyId === undefined || secretAccessKey === undefined) {
    const [have, missing] = accessKeyId === undefined
      ? ['AWS_SECRET_ACCESS_KEY', 'AWS_ACCESS_KEY_ID']
      : ['AWS_ACCESS_KEY_ID', 'AWS_SECRET_ACCESS_KEY'];
    throw new LtxvfsError('LTXVFS_ERR_BAD_URL', `${have} (or its LITESTREAM_ twin) is set but ${missing} is not`);
  }
  const sessionToken = nonEmpty(env.AWS_SESSION_TOKEN);
  return sessionToken === undefined ? { accessKeyId, secretAccessKey } : { accessKeyId, secretAccessKey, sessionToken };
}

/** Where requests for a bucket go. */
export interface S3Target {
  /** `protocol//host[:port]`. */
  origin: string;
  /** Path before the key: `''` (virtual-hosted) or `/bucket` (path-style), after any endpoint base path. Keys follow as `/<key>`. */
  bucketPath: string;
}

/**
 * The origin and bucket path of requests: access points and DNS-safe AWS buckets are
 * virtual-hosted (`bucket.s3.<region>.amazonaws.com`), others path-style.
 */
export function s3Target(config: S3Config): S3Target {
  const { bucket, region, endpoint } = config;
  const awsDomain = region.startsWith('cn-') ? 'amazonaws.com.cn' : 'amazonaws.com';
  if (/^arn:/i.test(bucket)) {
    const parts = bucket.split(':');
    const name = bucket.slice(bucket.toLowerCase().indexOf(':accesspoint/') + ':accesspoint/'.length);
    return { origin: `https://${name}-${parts[4]}.s3-accesspoint.${region}.${awsDomain}`, bucketPath: '' };
  }
  const encodedBucket = encodeURIComponent(bucket);
  if (endpoint !== undefined) {
    return config.forcePathStyle
      ? { origin: `${endpoint.protocol}//${endpoint.host}`, bucketPath: `${endpoint.basePath}/${encodedBucket}` }
      : { origin: `${endpoint.protocol}//${bucket}.${endpoint.host}`, bucketPath: endpoint.basePath };
  }
  const dnsSafe = /^[a-z0-9][a-z0-9-]{1,61}[a-z0-9]$/.test(bucket);
  return config.forcePathStyle || !dnsSafe
    ? { origin: `https://s3.${region}.${awsDomain}`, bucketPath: `/${encodedBucket}` }
    : { origin: `https://${bucket}.s3.${region}.${awsDomain}`, bucketPath: '' };
}

/**
 * The request path (and query) of an object (`key`) or of the bucket (`key` undefined, for
 * ListObjectsV2): `<bucketPath>/<key, URI-encoded, slashes kept>?<query, URI-encoded>`.
 */
export function requestPath(target: S3Target, key: string | undefined, query: Record<string, string> = {}): string {
  const path = key === undefined ? target.bucketPath || '/' : `${target.bucketPath}/${uriEncode(key, true)}`;
  const q = Object.entries(query).map(([k, v]) => `${uriEncode(k)}=${uriEncode(v)}`).join('&');
  return q === '' ? path : `${path}?${q}`;
}

/** Litestream's `s3.ParseHost`: bucket, region, endpoint and path-style from a URL host. */
function parseHost(host: string): { bucket: string; region: string | undefined; endpoint: string | undefined; pathStyle: boolean } {
  // MinIO-style bucket.host:port (any host with a port that is not a .com provider).
  if (host.includes(':') && !host.includes('.com')) {
    const dot = host.indexOf('.');
    if (dot === -1) return { bucket: '', region: undefined, endpoint: `http://${host}`, pathStyle: true };
    return { bucket: host.slice(0, dot), region: DEFAULT_REGION, endpoint: `http://${host.slice(dot + 1)}`, pathStyle: true };
  }
  let m = /^(.+)\.s3(?:\.([^.]+))?\.amazonaws\.com$/.exec(host);
  if (m !== null) return { bucket: m[1], region: m[2], endpoint: undefined, pathStyle: false };
  m = /^(?:(.+)\.)?([^.]+)\.digitaloceanspaces\.com$/.exec(host);
  if (m !== null) return { bucket: m[1] ?? '', region: m[2], endpoint: `https://${m[2]}.digitaloceanspaces.com`, pathStyle: false };
  m = /^(?:(.+)\.)?s3\.([^.]+)\.backblazeb2\.com$/.exec(host);
  if (m !== null) return { bucket: m[1] ?? '', region: m[2], endpoint: `https://s3.${m[2]}.backblazeb2.com`, pathStyle: true };
  m = /^(?:(.+)\.)?s3\.filebase\.com$/.exec(host);
  if (m !== null) return { bucket: m[1] ?? '', region: undefined, endpoint: 'https://s3.filebase.com', pathStyle: true };
  m = /^(?:(.+)\.)?s3\.([^.]+)\.scw\.cloud$/.exec(host);
  if (m !== null) return { bucket: m[1] ?? '', region: m[2], endpoint: `https://s3.${m[2]}.scw.cloud`, pathStyle: false };
  return { bucket: host, region: undefined, endpoint: undefined, pathStyle: false };
}

/**
 * Litestream's `EnsureEndpointScheme`: `http://` for local hosts, `https://` otherwise, when
 * no scheme is given. Other schemes are kept (and refused later) rather than prefixed.
 */
export function ensureEndpointScheme(endpoint: string): string {
  if (/^[A-Za-z][A-Za-z0-9+.-]*:\/\//.test(endpoint)) return endpoint;
  const host = endpoint.toLowerCase().replace(/[/?#].*$/, '').replace(/:\d*$/, '');
  const local = host === 'localhost' || host === '127.0.0.1' || host.startsWith('192.168.') || host.startsWith('10.') ||
    /^172\.(1[6-9]|2\d|3[01])\./.test(host) || host.endsWith('.local') || host.endsWith('.localhost');
  return `${local ? 'http' : 'https'}://${endpoint}`;
}

function parseEndpoint(endpoint: string, where: string): { protocol: string; host: string; basePath: string } {
  let u: URL;
  try {
    u = new URL(endpoint);
  } catch (err) {
    throw new LtxvfsError('LTXVFS_ERR_BAD_URL', `bad s3 endpoint ${redactEndpoint(endpoint)} for ${where}`, { key: where, cause: err });
  }
  if (u.username !== '' || u.password !== '') {
    throw new LtxvfsError('LTXVFS_ERR_BAD_URL', `credentials are not allowed in an s3 endpoint: ${redactEndpoint(endpoint)}`, { key: where });
  }
  if ((u.protocol !== 'http:' && u.protocol !== 'https:') || u.host === '') {
    throw new LtxvfsError('LTXVFS_ERR_BAD_URL', `bad s3 endpoint ${endpoint} for ${where}: need http:// or https:// and a host`, { key: where });
  }
  return { protocol: u.protocol, host: u.host, basePath: u.pathname.replace(/\/+$/, '') };
}

/** An endpoint with any `user:password@` replaced, for messages. */
export function redactEndpoint(endpoint: string): string {
  return endpoint.replace(/^([A-Za-z][A-Za-z0-9+.-]*:\/\/)[^/?#@]*@/, '$1***@');
}

function firstParam(q: Record<string, string>, ...names: string[]): string | undefined {
  for (const n of names) {
    const v = q[n];
    if (v !== undefined && v !== '') return v;
  }
  return undefined;
}

/** Litestream's `BoolQueryValue`: `true/1/t/yes` are true, any other non-empty value false, absent undefined. */
function boolParam(q: Record<string, string>, ...names: string[]): boolean | undefined {
  const v = firstParam(q, ...names);
  return v === undefined ? undefined : ['true', '1', 't', 'yes'].includes(v.toLowerCase());
}

function nonEmpty(v: string | undefined): string | undefined {
  return v === undefined || v === '' ? undefined : v;
}
