/**
 * Where an s3:// client's credentials come from, as AWS SDK users expect (issue 11 item 4),
 * and where they are kept so that nothing prints them (issue 12 item 7).
 *
 * | Order | Source | Read by |
 * | --- | --- | --- |
 * | 1 | `?anonymous=true` in the URL: unsigned requests (public buckets); nothing else is consulted | ltxvfs |
 * | 2 | `credentials` option of `openS3Replica` (`null` = unsigned) | ltxvfs |
 * | 3 | `AWS_ACCESS_KEY_ID` / `AWS_SECRET_ACCESS_KEY` (+ `AWS_SESSION_TOKEN`), each falling back to its `LITESTREAM_` twin — unless `AWS_PROFILE` is set, which wins as in the SDK | ltxvfs, from the `env` given |
 * | 4 | the AWS SDK's default chain, `fromNodeProviderChain` of `@aws-sdk/credential-providers`: shared config and credentials files (`AWS_PROFILE`, SSO profiles, `credential_process`), web identity (`AWS_WEB_IDENTITY_TOKEN_FILE`), ECS/EKS container credentials (`AWS_CONTAINER_CREDENTIALS_FULL_URI` / `_RELATIVE_URI`), EC2 instance metadata (IMDSv2) | the SDK |
 *
 * The SDK package is loaded with `import()` only when an s3:// replica without keys in
 * the environment is opened. The SDK's providers read `process.env`; where they take the
 * same setting as an option, the `env` given is passed through: `AWS_PROFILE` (`profile`),
 * `AWS_SHARED_CREDENTIALS_FILE` (`filepath`), `AWS_CONFIG_FILE` (`configFilepath`); and
 * when `env` is not `process.env`, its container-credentials variables
 * (`AWS_CONTAINER_CREDENTIALS_FULL_URI`, `_RELATIVE_URI`, `AWS_CONTAINER_AUTHORIZATION_TOKEN`,
 * `_TOKEN_FILE`) and web-identity variables (`AWS_WEB_IDENTITY_TOKEN_FILE`, `AWS_ROLE_ARN`,
 * `AWS_ROLE_SESSION_NAME`) are given to the SDK's `fromHttp` / `fromTokenFile`, tried before
 * the rest of the chain. Everything else (the home directory, IMDS switches) is the
 * process's, as for any SDK client.
 *
 * Temporary credentials (with an `expiration`) are resolved again {@link REFRESH_BEFORE_MS}
 * before they expire (the SDK's own 5-minute window), by the request that finds them due;
 * requests running meanwhile share the one refresh.
 *
 * Secrets live in `#private` fields of {@link S3CredentialSource}; `util.inspect`,
 * `console.log` and `JSON.stringify` show only where they came from.
 */

import { inspect } from 'node:util';
import { LtxvfsError } from '../../../ltx/errors.js';
import { credentialsFromEnv, type S3Credentials } from './config.js';

/** Credentials are re-resolved this long before their `expiration`, ms (AWS SDK: 5 minutes). */
export const REFRESH_BEFORE_MS = 5 * 60_000;

/** Secret values at least this long are replaced in error texts ({@link S3CredentialSource.redact}). */
export const MIN_REDACTED_LENGTH = 8;

/** Where a client's credentials come from. */
export type S3CredentialOrigin =
  /** Unsigned requests (`?anonymous=true`, or `credentials: null`). */
  | 'anonymous'
  /** The `credentials` option. */
  | 'option'
  /** `AWS_ACCESS_KEY_ID` / `AWS_SECRET_ACCESS_KEY` (or the `LITESTREAM_` twins) of the `env` given. */
  | 'environment'
  /** The AWS SDK's default provider chain. */
  | 'aws-sdk';

/** What the SDK's providers return (the subset ltxvfs uses). */
interface SdkCredentials {
  accessKeyId: string;
  secretAccessKey: string;
  sessionToken?: string;
  expiration?: Date;
}

/** An SDK credential provider, as `fromNodeProviderChain()` returns it. */
type SdkProvider = (options?: { forceRefresh?: boolean }) => Promise<SdkCredentials>;

/** How to find credentials; see the module doc for the order. */
export interface S3CredentialOptions {
  /** Environment ltxvfs reads keys from and passes to the SDK (module doc). */
  env: NodeJS.ProcessEnv;
  /** `?anonymous=true`: unsigned requests. */
  anonymous: boolean;
  /** The `credentials` option: static keys, or `null` for unsigned requests. */
  explicit?: S3Credentials | null;
  /** The replica, for messages (`s3://bucket/prefix`). */
  where: string;
  /** Clock for expiry decisions, ms since the epoch. Default `Date.now`. */
  now?: () => number;
  /** A provider to use instead of the SDK's chain (tests). */
  provider?: SdkProvider;
}

/**
 * The credentials of one s3:// client: static keys, unsigned, or a provider that is asked
 * again before its temporary credentials expire. Holds the secrets in private fields;
 * inspect and JSON show `{ origin, expiresAt }` only.
 */
export class S3CredentialSource {
  /** Where the credentials come from. */
  readonly origin: S3CredentialOrigin;
  #current: S3Credentials | undefined;
  readonly #provider: SdkProvider | undefined;
  readonly #now: () => number;
  #refreshing: Promise<S3Credentials> | undefined;
  /** Every secret value this source has handed out, for {@link redact}. */
  readonly #secrets = new Set<string>();

  private constructor(origin: S3CredentialOrigin, current: S3Credentials | undefined, provider: SdkProvider | undefined, now: () => number) {
    this.origin = origin;
    this.#provider = provider;
    this.#now = now;
    this.#remember(current);
  }

  /** Unsigned requests. */
  static anonymous(): S3CredentialSource {
    return new S3CredentialSource('anonymous', undefined, undefined, Date.now);
  }

  /** Fixed keys (`origin` says where they were found). */
  static fixed(credentials: S3Credentials, origin: S3CredentialOrigin = 'option'): S3CredentialSource {
    return new S3CredentialSource(origin, { ...credentials }, undefined, Date.now);
  }

  /**
   * Resolve credentials in the order of the module doc, asking the SDK only when needed,
   * so that a missing credential is reported at open, not at the first request.
   * @throws LtxvfsError `LTXVFS_ERR_USAGE` when no source has credentials (naming the
   *   replica, what was tried and `?anonymous=true`), or the SDK chain fails (its message
   *   included); `LTXVFS_ERR_BAD_URL` when only one of the two environment keys is set.
   */
  static async resolve(options: S3CredentialOptions): Promise<S3CredentialSource> {
    const now = options.now ?? Date.now;
    if (options.anonymous || options.explicit === null) return S3CredentialSource.anonymous();
    if (options.explicit !== undefined) return S3CredentialSource.fixed(options.explicit, 'option');
    const env = options.env;
    const profile = nonEmpty(env.AWS_PROFILE);
    if (profile === undefined) {
      const fromEnv = credentialsFromEnv(env);
      if (fromEnv !== undefined) return S3CredentialSource.fixed(fromEnv, 'environment');
    }
    const provider = options.provider ?? (await sdkChain(env));
    let first: SdkCredentials;
    try {
      first = await provider();
    } catch (err) {
      throw new LtxvfsError(
        'LTXVFS_ERR_USAGE',
        `no S3 credentials for ${options.where}${profile === undefined ? '' : ` (AWS_PROFILE=${profile})`}: ${firstLine(err)} — set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, ` +
          'or AWS_PROFILE with a shared credentials/config file, or run with a container/instance role; ' +
          'add ?anonymous=true to the URL for a public bucket',
        { key: options.where, cause: err },
      );
    }
    return new S3CredentialSource('aws-sdk', fromSdk(first), provider, now);
  }

  /** True for unsigned requests. */
  get anonymous(): boolean {
    return this.origin === 'anonymous';
  }

  /** When the current credentials expire, ms since the epoch; undefined for keys that do not. */
  get expiresAt(): number | undefined {
    return this.#current?.expiration?.getTime();
  }

  /**
   * The credentials to sign the next request with (undefined: unsigned). Temporary ones
   * that expire within {@link REFRESH_BEFORE_MS} are resolved again first; concurrent
   * callers share one refresh. A failed refresh keeps the old credentials while they
   * are still valid.
   * @throws LtxvfsError `LTXVFS_ERR_STORAGE` when the credentials have expired and
   *   cannot be refreshed.
   */
  async get(): Promise<S3Credentials | undefined> {
    const current = this.#current;
    const expires = current?.expiration?.getTime();
    if (current === undefined || expires === undefined || this.#provider === undefined) return current;
    if (expires - this.#now() > REFRESH_BEFORE_MS) return current;
    this.#refreshing ??= this.#refresh().finally(() => {
      this.#refreshing = undefined;
    });
    try {
      return await this.#refreshing;
    } catch (err) {
      if (expires > this.#now()) return current;
      throw new LtxvfsError('LTXVFS_ERR_STORAGE', `S3 credentials expired and could not be refreshed: ${this.redact(firstLine(err))}`, {
        cause: err,
      });
    }
  }

  /**
   * `text` with every secret value this source has held (secret key, session token)
   * replaced by `***`. Values shorter than {@link MIN_REDACTED_LENGTH} are left alone:
   * replacing a one-letter test secret would mangle every message, and such a value
   * protects nothing (AWS secret keys have 40 characters).
   */
  redact(text: string): string {
    let out = text;
    for (const s of this.#secrets) if (out.includes(s)) out = out.split(s).join('***');
    return out;
  }

  /** What JSON.stringify shows: where the credentials come from, never the keys. */
  toJSON(): { origin: S3CredentialOrigin; expiresAt?: string } {
    const at = this.expiresAt;
    return at === undefined ? { origin: this.origin } : { origin: this.origin, expiresAt: new Date(at).toISOString() };
  }

  /** What util.inspect and console.log show (the same as {@link toJSON}). */
  [inspect.custom](): string {
    return `S3CredentialSource ${inspect(this.toJSON())}`;
  }

  async #refresh(): Promise<S3Credentials> {
    const fresh = fromSdk(await this.#provider!({ forceRefresh: true }));
    this.#remember(fresh);
    return fresh;
  }

  #remember(creds: S3Credentials | undefined): void {
    this.#current = creds;
    if (creds === undefined) return;
    for (const value of [creds.secretAccessKey, creds.sessionToken]) {
      if (value !== undefined && value.length >= MIN_REDACTED_LENGTH) this.#secrets.add(value);
    }
  }
}

/** The SDK's default chain with what of `env` its providers take as options (module doc). */
async function sdkChain(env: NodeJS.ProcessEnv): Promise<SdkProvider> {
  const sdk = await import('@aws-sdk/credential-providers');
  const init = definedOnly({
    profile: nonEmpty(env.AWS_PROFILE),
    filepath: nonEmpty(env.AWS_SHARED_CREDENTIALS_FILE),
    configFilepath: nonEmpty(env.AWS_CONFIG_FILE),
  });
  const chain = sdk.fromNodeProviderChain(init);
  if (env === process.env) return chain as SdkProvider;
  const first: Array<ReturnType<typeof sdk.fromHttp>> = [];
  const fullUri = nonEmpty(env.AWS_CONTAINER_CREDENTIALS_FULL_URI);
  const relativeUri = nonEmpty(env.AWS_CONTAINER_CREDENTIALS_RELATIVE_URI);
  if (fullUri !== undefined || relativeUri !== undefined) {
    first.push(sdk.fromHttp(definedOnly({
      awsContainerCredentialsFullUri: fullUri,
      awsContainerCredentialsRelativeUri: relativeUri,
      awsContainerAuthorizationToken: nonEmpty(env.AWS_CONTAINER_AUTHORIZATION_TOKEN),
      awsContainerAuthorizationTokenFile: nonEmpty(env.AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE),
    })));
  }
  const tokenFile = nonEmpty(env.AWS_WEB_IDENTITY_TOKEN_FILE);
  const roleArn = nonEmpty(env.AWS_ROLE_ARN);
  if (tokenFile !== undefined && roleArn !== undefined) {
    first.push(sdk.fromTokenFile(definedOnly({ webIdentityTokenFile: tokenFile, roleArn, roleSessionName: nonEmpty(env.AWS_ROLE_SESSION_NAME) })));
  }
  if (first.length === 0) return chain as SdkProvider;
  return sdk.createCredentialChain(...first, chain) as SdkProvider;
}

function fromSdk(c: SdkCredentials): S3Credentials {
  const out: S3Credentials = { accessKeyId: c.accessKeyId, secretAccessKey: c.secretAccessKey };
  if (c.sessionToken !== undefined && c.sessionToken !== '') out.sessionToken = c.sessionToken;
  if (c.expiration !== undefined) out.expiration = c.expiration;
  return out;
}

function firstLine(err: unknown): string {
  const msg = err instanceof Error ? err.message : String(err);
  return msg.split('\n')[0].trim();
}

function nonEmpty(v: string | undefined): string | undefined {
  return v === undefined || v === '' ? undefined : v;
}

function definedOnly<T extends Record<string, unknown>>(o: T): { [K in keyof T]: Exclude<T[K], undefined> } {
  return Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined)) as { [K in keyof T]: Exclude<T[K], undefined> };
}
