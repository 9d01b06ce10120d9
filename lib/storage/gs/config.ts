/**
 * How a gs:// client is configured: the API endpoint, whether requests are signed and
 * with which credentials, and the timeouts and retries of lib/storage/gs/client.ts.
 *
 * Endpoint (docs/backends/gs.md): the URL's `?endpoint=` (an ltxvfs parameter), else
 * `STORAGE_EMULATOR_HOST`, else Google's `https://storage.googleapis.com`. A host written
 * without a scheme is `http://` — as Litestream's Go client reads `STORAGE_EMULATOR_HOST`
 * (cloud.google.com/go/storage), so the variable Litestream is given works unchanged;
 * `@google-cloud/storage` alone would take it as https. A custom endpoint gets unsigned
 * requests (the vendor's `useAuthWithCustomEndpoint` default, and Go's emulator mode)
 * unless `useAuthWithCustomEndpoint` is set.
 *
 * Credentials: application default credentials, resolved by the vendor library
 * (google-auth-library): `GOOGLE_APPLICATION_CREDENTIALS` from the given environment
 * (passed on as `keyFilename`, so a test's or an app's `env` wins over `process.env`),
 * then gcloud's well-known file and the metadata server.
 */
import { LtxvfsError } from '../../../ltx/errors.js';
import { retryPolicyOf, type RequestRetryOptions, type RetryPolicy } from '../retry.js';

/**
 * Options of a gs:// client (`openGsReplica`, `openDatabase(url, { gs })`). The timeouts
 * and retries mean what they mean for s3:// (`requestTimeoutMs` 10 000, `retryBudgetMs`
 * 30 000, `maxAttempts` 10, `retryBaseDelayMs` 100, `retryMaxDelayMs` 5 000; ms).
 */
export interface GsReplicaOptions extends RequestRetryOptions {
  /** Environment the backend reads (`STORAGE_EMULATOR_HOST`, `GOOGLE_APPLICATION_CREDENTIALS`); default `process.env`. */
  env?: NodeJS.ProcessEnv;
  /** Objects per listing page (`maxResults`), 1…1000. Default 1000 (the JSON API's maximum). */
  listPageSize?: number;
  /** Sign requests to a custom endpoint (`?endpoint=`, `STORAGE_EMULATOR_HOST`) with the default credentials too. Default false. */
  useAuthWithCustomEndpoint?: boolean;
}

/** Google's JSON API endpoint. */
export const GS_DEFAULT_ENDPOINT = 'https://storage.googleapis.com';

/** A resolved gs:// configuration. */
export interface GsConfig {
  bucket: string;
  /** Object name prefix, `''` for the bucket root. */
  prefix: string;
  /** API origin without a trailing `/`, e.g. `https://storage.googleapis.com` or `http://127.0.0.1:9199`. */
  endpoint: string;
  /** True when the endpoint is not Google's (an emulator or a private endpoint). */
  customEndpoint: boolean;
  /** Where the endpoint came from, for messages: `url`, `STORAGE_EMULATOR_HOST` or `default`. */
  endpointOrigin: 'url' | 'STORAGE_EMULATOR_HOST' | 'default';
  /** Service account key file from `GOOGLE_APPLICATION_CREDENTIALS`, if set. */
  keyFilename: string | undefined;
  useAuthWithCustomEndpoint: boolean;
  requestTimeoutMs: number;
  listPageSize: number;
  retry: RetryPolicy;
}

/**
 * Resolve a gs:// client's configuration.
 * @throws LtxvfsError `LTXVFS_ERR_BAD_URL` for an endpoint that is not an http(s) origin
 *   (naming it and where it came from); `LTXVFS_ERR_USAGE` for an option out of range.
 */
export function resolveGsConfig(bucket: string, prefix: string, params: Record<string, string>, options: GsReplicaOptions): GsConfig {
  const env = options.env ?? process.env;
  const fromUrl = params.endpoint;
  const fromEnv = env.STORAGE_EMULATOR_HOST;
  const origin = fromUrl !== undefined && fromUrl !== '' ? 'url' : fromEnv !== undefined && fromEnv !== '' ? 'STORAGE_EMULATOR_HOST' : 'default';
  const raw = origin === 'url' ? fromUrl : origin === 'STORAGE_EMULATOR_HOST' ? fromEnv as string : GS_DEFAULT_ENDPOINT;
  const endpoint = normalizeEndpoint(raw, origin === 'url' ? `?endpoint= of gs://${bucket}/${prefix}` : 'STORAGE_EMULATOR_HOST');
  const retry = retryPolicyOf(options, `gs://${bucket}/${prefix}`);
  const keyFilename = env.GOOGLE_APPLICATION_CREDENTIALS;
  return {
    bucket,
    prefix,
    endpoint,
    customEndpoint: endpoint !== GS_DEFAULT_ENDPOINT,
    endpointOrigin: origin,
    keyFilename: keyFilename === undefined || keyFilename === '' ? undefined : keyFilename,
    useAuthWithCustomEndpoint: options.useAuthWithCustomEndpoint ?? false,
    requestTimeoutMs: intOption('requestTimeoutMs', options.requestTimeoutMs ?? 10_000, Number.MAX_SAFE_INTEGER),
    listPageSize: intOption('listPageSize', options.listPageSize ?? 1000, 1000),
    retry,
  };
}

/** `host[:port]` → `http://host[:port]` (Go's reading of STORAGE_EMULATOR_HOST); `http(s)://…` kept; trailing `/` dropped. */
function normalizeEndpoint(raw: string, where: string): string {
  const withScheme = /^[a-z][a-z0-9+.-]*:\/\//i.test(raw) ? raw : `http://${raw}`;
  let u: URL;
  try {
    u = new URL(withScheme);
  } catch (err) {
    throw new LtxvfsError('LTXVFS_ERR_BAD_URL', `bad gs endpoint ${JSON.stringify(raw)} in ${where}: not a URL`, { key: raw, cause: err });
  }
  if (u.protocol !== 'http:' && u.protocol !== 'https:') {
    throw new LtxvfsError('LTXVFS_ERR_BAD_URL', `bad gs endpoint ${JSON.stringify(raw)} in ${where}: need http:// or https://`, { key: raw });
  }
  if (u.username !== '' || u.password !== '' || u.search !== '' || u.hash !== '') {
    throw new LtxvfsError('LTXVFS_ERR_BAD_URL', `bad gs endpoint ${JSON.stringify(raw)} in ${where}: only scheme, host, port and path are allowed`, { key: raw });
  }
  return `${u.protocol}//${u.host}${u.pathname}`.replace(/\/+$/, '');
}

function intOption(name: string, value: number, max: number): number {
  if (!Number.isSafeInteger(value) || value < 1 || value > max) {
    throw new LtxvfsError('LTXVFS_ERR_USAGE', `bad ${name} ${String(value)}: need an integer in 1…${max === Number.MAX_SAFE_INTEGER ? '2^53-1' : max}`);
  }
  return value;
}
