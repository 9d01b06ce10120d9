/**
 * Replica URLs, as Litestream users write them (docs/formats.md §6, docs/architecture.md "URL schemes"):
 *
 * | Input | Replica |
 * | --- | --- |
 * | `file:///abs/path`, `file://localhost/abs/path`, `file:/abs/path` | directory `/abs/path` (percent-escapes decoded) |
 * | `/abs/path`, `rel/path`, `./rel` | directory, relative paths resolved against the working directory |
 * | `s3://bucket/a/b?endpoint=…&region=…&forcePathStyle=true&skipVerify=true` | S3 bucket prefix `a/b` (parameters: {@link S3_URL_PARAMETERS}) |
 * | `abs://[account@]container/a/b` | Azure Blob container, prefix `a/b` |
 * | `gs://bucket/a/b` | Google Cloud Storage bucket, prefix `a/b` |
 * | `sftp://user[:password]@host[:port]/a/b` | SFTP server, directory `/a/b` (port 22) |
 * | `webdav://[user[:password]@]host[:port]/a/b`, `webdavs://…` | WebDAV collection `/a/b` over http / https |
 * | `nats://[user:password@]host[:port]/bucket` | NATS JetStream object store `bucket` (port 4222) |
 * | `oss://bucket[.oss-region[-internal].aliyuncs.com]/a/b?endpoint=…` | Alibaba OSS bucket, prefix `a/b`, read through OSS's S3-compatible API (oss/) |
 * | nothing | `LITESTREAM_REPLICA_URL` |
 *
 * Strict (issue 12 item 5): a string that starts with `<scheme>:` (two or more letters, any
 * case — `S3://` is s3) is a URL, so `mailto:x@y` is refused as an unknown scheme and
 * `s3:/bucket` as a malformed s3 URL; a one-letter scheme is a drive (`C:\data` is a path),
 * and a relative directory with a colon in its first segment is written `./my:dir`.
 * `file://host/…` is refused for any host but `localhost` (ltxvfs reads local directories
 * only; Litestream would read `/host/…`). A URL parameter not in the list of its scheme
 * (file:// has none), a bad percent-escape, or a control character (such as `%00`) in the
 * path or a parameter is `LTXVFS_ERR_BAD_URL` naming that part. Credentials in URLs are
 * refused for s3, oss, abs (an account name only) and gs (their credentials come from the
 * environment or the vendor SDK's chain), taken for sftp, webdav and nats as Litestream takes
 * them, and never echoed in messages.
 *
 * For every scheme but file and s3 the path is Litestream's `CleanReplicaURLPath` (cleaned,
 * leading `/` dropped; cmd/litestream/main.go): the backend decides what it is relative to.
 * An oss:// host is split as Litestream's `oss.ParseHost` splits it (oss/replica_client.go):
 * `bucket.oss-<region>[-internal].aliyuncs.com` gives the bucket and the region, any other
 * host is the bucket.
 *
 * Parsing only: url.ts opens the client a URL names (and re-exports these).
 */

import * as path from 'node:path';
import { fileURLToPath } from 'node:url';
import { LtxvfsError } from '../../ltx/errors.js';
import { checkNoControl, cleanKeyPrefix, decodePath, queryParams, redact } from './url-parts.js';

/** A parsed replica URL. */
export type ReplicaUrl =
  | {
      scheme: 'file';
      /** Absolute path of the replica directory. */
      path: string;
    }
  | {
      scheme: 's3';
      /**
       * The URL host as written: a bucket name, or a host such as
       * `bucket.s3.us-east-1.amazonaws.com` or `bucket.localhost:9000` (ARN access points
       * `arn:aws:s3:<region>:<account>:accesspoint/<name>` are kept whole). Splitting a
       * provider host into bucket, region and endpoint is the S3 client's job.
       */
      bucket: string;
      /** Key prefix: the URL path percent-decoded and cleaned, without leading or trailing `/`; `''` for the bucket root. */
      path: string;
      /** Query parameters (first value of each), e.g. `endpoint`, `region`, `forcePathStyle`, `skipVerify`. */
      params: Record<string, string>;
    }
  | {
      scheme: 'abs';
      /** Storage account from `abs://ACCOUNT@…`, or undefined (then from the environment or the endpoint). */
      account: string | undefined;
      /** The container (the URL host). */
      container: string;
      /** Blob name prefix, cleaned, without leading or trailing `/`; `''` for the container root. */
      path: string;
      /** Query parameters ({@link ABS_URL_PARAMETERS}). */
      params: Record<string, string>;
    }
  | {
      scheme: 'gs';
      /** The bucket (the URL host). */
      bucket: string;
      /** Object name prefix, cleaned, without leading or trailing `/`. */
      path: string;
      /** Query parameters ({@link GS_URL_PARAMETERS}). */
      params: Record<string, string>;
    }
  | {
      scheme: 'sftp';
      /** Login user name (required). */
      user: string;
      /** Password from the URL, or undefined (then key or agent auth). */
      password: string | undefined;
      host: string;
      /** TCP port, 22 when the URL has none. */
      port: number;
      /** The replica directory, cleaned, without leading or trailing `/` (the backend decides what it is relative to). */
      path: string;
      /** Query parameters ({@link SFTP_URL_PARAMETERS}). */
      params: Record<string, string>;
    }
  | {
      scheme: 'webdav';
      /** `webdavs://` (https) rather than `webdav://` (http). */
      secure: boolean;
      user: string | undefined;
      password: string | undefined;
      host: string;
      /** TCP port, or undefined for the protocol's default (80 / 443). */
      port: number | undefined;
      /** The replica collection, cleaned, without leading or trailing `/`. */
      path: string;
      /** Query parameters ({@link WEBDAV_URL_PARAMETERS}). */
      params: Record<string, string>;
    }
  | {
      scheme: 'nats';
      user: string | undefined;
      password: string | undefined;
      /** Server host, `127.0.0.1` when the URL has none (Litestream's default). */
      host: string;
      /** TCP port, 4222 when the URL has none. */
      port: number;
      /** The object store bucket: the whole cleaned path (no prefix is possible). */
      bucket: string;
      /** Query parameters ({@link NATS_URL_PARAMETERS}). */
      params: Record<string, string>;
    }
  | {
      scheme: 'oss';
      /** The bucket: the URL host, or its first label when the host is an OSS endpoint name. */
      bucket: string;
      /** The region of `bucket.oss-<region>[-internal].aliyuncs.com` (`cn-hangzhou`), or undefined when the host is the bare bucket. */
      region: string | undefined;
      /** The host named the `-internal` (VPC) endpoint. */
      internal: boolean;
      /** Key prefix, cleaned, without leading or trailing `/`; `''` for the bucket root. */
      path: string;
      /** Query parameters ({@link OSS_URL_PARAMETERS}). */
      params: Record<string, string>;
    };

/** The scheme of a parsed replica URL. */
export type ReplicaScheme = ReplicaUrl['scheme'];

/**
 * The query parameters an s3:// URL may carry, the one list (s3/config.ts reads them): the
 * Litestream names in both spellings, and `anonymous` (ltxvfs: unsigned requests, no
 * credential lookup). The SSE-C names are known so that they are refused as unsupported;
 * Litestream's upload tuning (`concurrency`, `partSize`, `signPayload`,
 * `requireContentMD5`) is accepted and ignored, so one URL serves both. Any other name is
 * `LTXVFS_ERR_BAD_URL` naming it (`?regoin=x`).
 */
export const S3_URL_PARAMETERS: readonly string[] = Object.freeze([
  'endpoint', 'region', 'forcePathStyle', 'force-path-style', 'skipVerify', 'skip-verify',
  'storageClass', 'storage-class', 'sseKmsKeyId', 'sse-kms-key-id', 'anonymous',
  'sseCustomerKey', 'sse-customer-key', 'sseCustomerKeyPath', 'sse-customer-key-path', 'sseCustomerAlgorithm', 'sse-customer-algorithm',
  'concurrency', 'partSize', 'part-size', 'signPayload', 'sign-payload', 'requireContentMD5', 'require-content-md5',
]);

/** Query parameters of abs:// URLs: `endpoint` (ltxvfs: a blob service URL other than `https://ACCOUNT.blob.core.windows.net`). */
export const ABS_URL_PARAMETERS: readonly string[] = Object.freeze(['endpoint']);
/** Query parameters of gs:// URLs: `endpoint` (ltxvfs: an API endpoint, as `STORAGE_EMULATOR_HOST` gives one). */
export const GS_URL_PARAMETERS: readonly string[] = Object.freeze(['endpoint']);
/** Query parameters of sftp:// URLs (ltxvfs): a private key file, a known_hosts file, a host key fingerprint. */
export const SFTP_URL_PARAMETERS: readonly string[] = Object.freeze(['keyPath', 'key-path', 'knownHosts', 'known-hosts', 'hostKey', 'host-key']);
/** Query parameters of webdav[s]:// URLs: none. */
export const WEBDAV_URL_PARAMETERS: readonly string[] = Object.freeze([]);
/** Query parameters of nats:// URLs: none. */
export const NATS_URL_PARAMETERS: readonly string[] = Object.freeze([]);
/** Query parameters of oss:// URLs: `endpoint` (ltxvfs: an S3-compatible endpoint other than the region's; Litestream has none). */
export const OSS_URL_PARAMETERS: readonly string[] = Object.freeze(['endpoint']);

/** Every scheme ltxvfs reads, for messages. */
const SCHEMES_TEXT = 'file://, s3://, abs://, gs://, sftp://, webdav://, webdavs://, nats://, oss://';

/** `<scheme>:` with a scheme of two or more characters (one letter is a Windows drive). */
const URL_SCHEME = /^([A-Za-z][A-Za-z0-9+.-]+):/;

/**
 * Parse a replica URL or path (module doc for the accepted forms). `url` undefined or
 * blank falls back to `env.LITESTREAM_REPLICA_URL`.
 * @throws LtxvfsError `LTXVFS_ERR_BAD_URL` (no URL and no `LITESTREAM_REPLICA_URL`; unknown
 *   scheme; malformed URL, such as `s3:/bucket`; s3:// without a bucket; credentials in the
 *   URL; a file:// host other than `localhost`; an unknown parameter; a bad
 *   percent-escape or a control character in the path or a parameter — each naming the part).
 */
export function parseReplicaUrl(url?: string, env: NodeJS.ProcessEnv = process.env): ReplicaUrl {
  let raw = url?.trim() ?? '';
  if (raw === '') raw = env.LITESTREAM_REPLICA_URL?.trim() ?? '';
  if (raw === '') {
    throw new LtxvfsError('LTXVFS_ERR_BAD_URL', 'no replica URL given and LITESTREAM_REPLICA_URL is not set');
  }

  const m = URL_SCHEME.exec(raw);
  if (m === null) {
    if (raw.includes('\0')) throw new LtxvfsError('LTXVFS_ERR_BAD_URL', `bad replica path ${JSON.stringify(raw)}: contains NUL`, { key: raw });
    return { scheme: 'file', path: path.resolve(raw) };
  }
  const scheme = m[1].toLowerCase();
  const hasAuthority = raw.slice(m[0].length).startsWith('//');
  switch (scheme) {
    case 'file':
      return parseFileUrl(raw);
    case 's3':
      if (!hasAuthority) {
        throw new LtxvfsError('LTXVFS_ERR_BAD_URL', `malformed s3 URL ${redact(raw)}: expected s3://bucket/path`, { key: redact(raw) });
      }
      return parseS3Url(`s3${raw.slice(m[1].length)}`);
    case 'abs':
    case 'gs':
    case 'sftp':
    case 'webdav':
    case 'webdavs':
    case 'nats':
    case 'oss':
      if (!hasAuthority) {
        throw new LtxvfsError('LTXVFS_ERR_BAD_URL', `malformed ${scheme} URL ${redact(raw)}: expected ${scheme}://host/path`, { key: redact(raw) });
      }
      return parseAuthorityUrl(scheme, `${scheme}${raw.slice(m[1].length)}`);
    default:
      throw new LtxvfsError('LTXVFS_ERR_BAD_URL', `unknown replica URL scheme "${scheme}" (expected ${SCHEMES_TEXT}): ${redact(raw)}`, {
        key: redact(raw),
      });
  }
}

/**
 * abs, gs, sftp, webdav[s] and nats URLs: user info, host, port and a path cleaned as
 * Litestream's `CleanReplicaURLPath` does (cmd/litestream/main.go), with each scheme's
 * rules on what the user info may hold.
 */
function parseAuthorityUrl(scheme: 'abs' | 'gs' | 'sftp' | 'webdav' | 'webdavs' | 'nats' | 'oss', raw: string): ReplicaUrl {
  let u: URL;
  // `nats:///bucket`: no host (WHATWG would take the first path segment as the host).
  const emptyHost = raw.startsWith(`${scheme}:///`);
  try {
    // WHATWG URL parses a special scheme's authority only; http: stands in for the parse.
    u = new URL(emptyHost ? `http://empty.invalid${raw.slice(scheme.length + 3)}` : `http${raw.slice(scheme.length)}`);
  } catch (err) {
    throw new LtxvfsError('LTXVFS_ERR_BAD_URL', `malformed ${scheme} URL: ${redact(raw)}`, { key: redact(raw), cause: err });
  }
  const user = u.username === '' ? undefined : decodePath(u.username, raw);
  const password = u.password === '' ? undefined : decodePath(u.password, raw);
  const hostname = emptyHost ? '' : u.hostname.replace(/^\[|\]$/g, '');
  const port = u.port === '' ? undefined : Number(u.port);
  const cleaned = cleanKeyPrefix(decodePath(u.pathname, raw));
  const bad = (why: string) => new LtxvfsError('LTXVFS_ERR_BAD_URL', `${scheme} URL ${redact(raw)}: ${why}`, { key: redact(raw) });
  // The host as written: WHATWG lowercases it, which is right for DNS names but not container names.
  const hostAsWritten = emptyHost ? '' : /^[^:]+:\/\/(?:[^/?#@]*@)?([^/?#:]*)/.exec(raw)?.[1] ?? hostname;
  switch (scheme) {
    case 'abs':
      if (password !== undefined) throw bad('an account key is not allowed in the URL (use LITESTREAM_AZURE_ACCOUNT_KEY or LITESTREAM_AZURE_SAS_TOKEN)');
      if (hostAsWritten === '') throw bad('no container');
      if (port !== undefined) throw bad('a port is not allowed (the host is the container name)');
      return { scheme, account: user, container: hostAsWritten, path: cleaned, params: queryParams(u.search, ABS_URL_PARAMETERS, raw) };
    case 'gs':
      if (user !== undefined || password !== undefined) throw bad('credentials are not allowed in the URL (use application default credentials)');
      if (hostAsWritten === '') throw bad('no bucket');
      if (port !== undefined) throw bad('a port is not allowed (the host is the bucket name)');
      return { scheme, bucket: hostAsWritten, path: cleaned, params: queryParams(u.search, GS_URL_PARAMETERS, raw) };
    case 'sftp':
      if (user === undefined) throw bad('no user (expected sftp://user@host/path)');
      if (hostname === '') throw bad('no host');
      return { scheme, user, password, host: hostname, port: port ?? 22, path: cleaned, params: queryParams(u.search, SFTP_URL_PARAMETERS, raw) };
    case 'webdav':
    case 'webdavs':
      if (hostname === '') throw bad('no host');
      return {
        scheme: 'webdav',
        secure: scheme === 'webdavs',
        user,
        password,
        host: hostname,
        port,
        path: cleaned,
        params: queryParams(u.search, WEBDAV_URL_PARAMETERS, raw),
      };
    case 'nats':
      if (cleaned === '') throw bad('no bucket (expected nats://host/bucket)');
      if (cleaned.includes('/')) throw bad(`the path "${cleaned}" is the object store bucket and cannot contain "/"`);
      return {
        scheme,
        user,
        password,
        host: hostname === '' ? '127.0.0.1' : hostname,
        port: port ?? 4222,
        bucket: cleaned,
        params: queryParams(u.search, NATS_URL_PARAMETERS, raw),
      };
    case 'oss': {
      if (user !== undefined || password !== undefined) throw bad('credentials are not allowed in the URL (use OSS_ACCESS_KEY_ID and OSS_ACCESS_KEY_SECRET)');
      if (port !== undefined) throw bad('a port is not allowed (the host is the bucket or its OSS endpoint name)');
      const m = OSS_HOST.exec(hostAsWritten);
      const bucket = m === null ? hostAsWritten : m[1] ?? '';
      if (bucket === '') throw bad('no bucket');
      const region = m === null ? undefined : m[2];
      return { scheme, bucket, region, internal: m?.[3] !== undefined, path: cleaned, params: queryParams(u.search, OSS_URL_PARAMETERS, raw) };
    }
  }
}

/**
 * `[bucket.]oss-<region>[-internal].aliyuncs.com`: Litestream's `ossRegex` and
 * `ossInternalRegex` in one (oss/replica_client.go), the region without `-internal`.
 */
const OSS_HOST = /^(?:([^.]+)\.)?oss-([^.]+?)(-internal)?\.aliyuncs\.com$/i;

function parseFileUrl(raw: string): ReplicaUrl {
  let u: URL;
  try {
    u = new URL(raw);
  } catch (err) {
    throw new LtxvfsError('LTXVFS_ERR_BAD_URL', `malformed file URL: ${redact(raw)}`, { key: redact(raw), cause: err });
  }
  // WHATWG URL already refuses user:password@ in file URLs (malformed above).
  if (u.host !== '' && u.hostname.toLowerCase() !== 'localhost') {
    throw new LtxvfsError(
      'LTXVFS_ERR_BAD_URL',
      `file URL ${redact(raw)} names host "${u.host}": only local directories can be read (file:///path or file://localhost/path)`,
      { key: redact(raw) },
    );
  }
  queryParams(u.search, [], raw);
  const withoutHost = new URL(`file://${u.pathname}`);
  let p: string;
  try {
    p = fileURLToPath(withoutHost);
  } catch (err) {
    throw new LtxvfsError('LTXVFS_ERR_BAD_URL', `bad path in file URL ${redact(raw)}: ${(err as Error).message}`, {
      key: redact(raw),
      cause: err,
    });
  }
  checkNoControl(p, 'the path', raw);
  return { scheme: 'file', path: path.resolve(p) };
}

function parseS3Url(raw: string): ReplicaUrl {
  const afterScheme = raw.slice('s3://'.length);
  if (/^arn:/i.test(afterScheme)) return parseS3AccessPointUrl(raw, afterScheme);
  let u: URL;
  try {
    u = new URL(raw);
  } catch (err) {
    throw new LtxvfsError('LTXVFS_ERR_BAD_URL', `malformed s3 URL: ${redact(raw)}`, { key: redact(raw), cause: err });
  }
  if (u.username !== '' || u.password !== '') {
    throw new LtxvfsError(
      'LTXVFS_ERR_BAD_URL',
      `credentials are not allowed in an s3 URL (use AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY): ${redact(raw)}`,
      { key: redact(raw) },
    );
  }
  if (u.host === '') {
    throw new LtxvfsError('LTXVFS_ERR_BAD_URL', `s3 URL has no bucket: ${redact(raw)}`, { key: redact(raw) });
  }
  return { scheme: 's3', bucket: u.host, path: cleanKeyPrefix(decodePath(u.pathname, raw)), params: queryParams(u.search, S3_URL_PARAMETERS, raw) };
}

/** `s3://arn:aws:s3:<region>:<account>:accesspoint/<name>[/path][?query]`, which WHATWG URL cannot parse (Litestream's parseS3AccessPointURL). */
function parseS3AccessPointUrl(raw: string, afterScheme: string): ReplicaUrl {
  const q = afterScheme.indexOf('?');
  const arnAndPath = q === -1 ? afterScheme : afterScheme.slice(0, q);
  const query = q === -1 ? '' : afterScheme.slice(q + 1);
  const marker = ':accesspoint/';
  const at = arnAndPath.toLowerCase().indexOf(marker);
  const nameStart = at + marker.length;
  if (at === -1 || nameStart >= arnAndPath.length) {
    throw new LtxvfsError('LTXVFS_ERR_BAD_URL', `bad s3 access point ARN: ${redact(raw)}`, { key: redact(raw) });
  }
  const slash = arnAndPath.indexOf('/', nameStart);
  const bucket = slash === -1 ? arnAndPath : arnAndPath.slice(0, slash);
  const prefix = slash === -1 ? '' : arnAndPath.slice(slash + 1);
  return {
    scheme: 's3',
    bucket,
    path: cleanKeyPrefix(decodePath(prefix, raw)),
    params: queryParams(query, S3_URL_PARAMETERS, raw),
  };
}
