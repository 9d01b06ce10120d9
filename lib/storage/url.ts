/**
 * Replica URLs, as Litestream users write them (FORMATS.md §6, DESIGN.md "URL schemes"):
 *
 * | Input | Replica |
 * | --- | --- |
 * | `file:///abs/path` | directory `/abs/path` (percent-escapes decoded; query ignored) |
 * | `file://a/b` | directory `/a/b` — Litestream reads the "host" as the first segment of an absolute path, and so does ltxvfs, so one `LITESTREAM_REPLICA_URL` names one directory for both |
 * | `/abs/path`, `rel/path`, `./rel` | directory, relative paths resolved against the working directory |
 * | `s3://bucket/a/b?endpoint=…&region=…&forcePathStyle=true&skipVerify=true` | S3 bucket prefix `a/b` |
 * | nothing | `LITESTREAM_REPLICA_URL` |
 *
 * A string is a URL only when it starts with `<scheme>://` (Litestream's `IsURL`), or with
 * `file:`; anything else is a path, so `C:\data` or `my:dir` are paths. Credentials in
 * URLs are refused (S3 credentials come from the environment), and never echoed.
 */

import * as path from 'node:path';
import { fileURLToPath } from 'node:url';
import { LtxvfsError } from '../../ltx/errors.js';
import { openFileReplica } from './file.js';
import type { S3ReplicaOptions } from './s3.js';
import type { ReplicaClient } from './types.js';

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
    };

/** Backends Litestream has that ltxvfs does not (yet): refused as unsupported, not as unknown. */
const LITESTREAM_ONLY_SCHEMES = new Set(['gs', 'abs', 'sftp', 'webdav', 'webdavs', 'nats', 'oss']);

const URL_WITH_AUTHORITY = /^([A-Za-z][A-Za-z0-9+.-]*):\/\//;

/**
 * Parse a replica URL or path (module doc for the accepted forms). `url` undefined or
 * blank falls back to `env.LITESTREAM_REPLICA_URL`.
 * @throws LtxvfsError `LTXVFS_ERR_BAD_URL` (no URL and no `LITESTREAM_REPLICA_URL`; unknown
 *   scheme; malformed URL; s3:// without a bucket; credentials in the URL);
 *   `LTXVFS_ERR_UNSUPPORTED` (a Litestream scheme ltxvfs has no client for: gs, abs, sftp, webdav, nats, oss).
 */
export function parseReplicaUrl(url?: string, env: NodeJS.ProcessEnv = process.env): ReplicaUrl {
  let raw = url?.trim() ?? '';
  if (raw === '') raw = env.LITESTREAM_REPLICA_URL?.trim() ?? '';
  if (raw === '') {
    throw new LtxvfsError('LTXVFS_ERR_BAD_URL', 'no replica URL given and LITESTREAM_REPLICA_URL is not set');
  }

  const m = URL_WITH_AUTHORITY.exec(raw);
  if (m === null) {
    if (/^file:/i.test(raw)) return parseFileUrl(raw);
    return { scheme: 'file', path: path.resolve(raw) };
  }
  const scheme = m[1].toLowerCase();
  switch (scheme) {
    case 'file':
      return parseFileUrl(raw);
    case 's3':
      return parseS3Url(raw);
    default:
      if (LITESTREAM_ONLY_SCHEMES.has(scheme)) {
        throw new LtxvfsError('LTXVFS_ERR_UNSUPPORTED', `${scheme}:// replicas are not supported (ltxvfs reads file:// and s3://): ${redact(raw)}`, {
          key: redact(raw),
        });
      }
      throw new LtxvfsError('LTXVFS_ERR_BAD_URL', `unknown replica URL scheme "${scheme}" (expected file:// or s3://): ${redact(raw)}`, {
        key: redact(raw),
      });
  }
}

/**
 * Open the replica client for `url` (see {@link parseReplicaUrl}). The caller owns the
 * client and must `close()` it.
 * @param options.create create a missing `file://` directory (for writers and `import`);
 *   nothing to create for s3:// (a bucket prefix exists as soon as a key is written).
 * @param options.env environment for `LITESTREAM_REPLICA_URL` and, for s3://, the AWS /
 *   Litestream credential, region and endpoint variables (lib/storage/s3-config.ts);
 *   default `process.env`.
 * @param options.s3 timeouts, retries and page size of an s3:// client (lib/storage/s3.ts).
 * @throws LtxvfsError everything {@link parseReplicaUrl} throws; for file:// what
 *   {@link openFileReplica} throws (`LTXVFS_ERR_NOT_FOUND` "replica directory does not
 *   exist: <path>"); for s3:// what {@link openS3Replica} throws (`LTXVFS_ERR_BAD_URL`,
 *   `LTXVFS_ERR_UNSUPPORTED`, `LTXVFS_ERR_USAGE`) — a missing bucket or bad credentials
 *   surface at the first request.
 */
export async function openReplicaClient(
  url?: string,
  options: { create?: boolean; env?: NodeJS.ProcessEnv; s3?: Omit<S3ReplicaOptions, 'env'> } = {},
): Promise<ReplicaClient> {
  const env = options.env ?? process.env;
  const parsed = parseReplicaUrl(url, env);
  if (parsed.scheme === 's3') {
    // The S3 client (aws4, node:https) is loaded only for s3:// replicas.
    const { openS3Replica } = await import('./s3.js');
    return openS3Replica(parsed, { ...options.s3, env });
  }
  return openFileReplica(parsed.path, { create: options.create });
}

function parseFileUrl(raw: string): ReplicaUrl {
  let u: URL;
  try {
    u = new URL(raw);
  } catch (err) {
    throw new LtxvfsError('LTXVFS_ERR_BAD_URL', `malformed file URL: ${redact(raw)}`, { key: redact(raw), cause: err });
  }
  // WHATWG URL already refuses user:password@ in file URLs (malformed above).
  // Litestream (replica_url.go) drops the scheme and cleans "//host/path" into "/host/path".
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
  const full = u.host === '' ? p : path.join('/', u.host, p);
  return { scheme: 'file', path: path.resolve(full) };
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
  return { scheme: 's3', bucket: u.host, path: cleanKeyPrefix(decodePath(u.pathname, raw)), params: queryParams(u.searchParams) };
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
    params: queryParams(new URLSearchParams(query)),
  };
}

function decodePath(p: string, raw: string): string {
  try {
    return decodeURIComponent(p);
  } catch (err) {
    throw new LtxvfsError('LTXVFS_ERR_BAD_URL', `bad percent-escape in the path of ${redact(raw)}`, { key: redact(raw), cause: err });
  }
}

/** Like Litestream's CleanReplicaURLPath: clean as an absolute path, then drop the leading `/`. */
function cleanKeyPrefix(p: string): string {
  return path.posix.normalize(`/${p}`).replace(/^\/+/, '').replace(/\/+$/, '');
}

function queryParams(search: URLSearchParams): Record<string, string> {
  const params: Record<string, string> = {};
  for (const [k, v] of search) if (!(k in params)) params[k] = v;
  return params;
}

/** The URL with any `user:password@` removed, for messages. */
function redact(raw: string): string {
  return raw.replace(/^([A-Za-z][A-Za-z0-9+.-]*:\/\/)[^/?#@]*@/, '$1***@');
}
