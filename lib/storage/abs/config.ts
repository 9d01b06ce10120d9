/**
 * The configuration of an abs:// replica from its URL, the options and the environment,
 * resolved as Litestream's abs client does (litestream abs/replica_client.go, the VFS's
 * `NewReplicaClientFromURL`; docs/backends/abs.md):
 *
 * - endpoint: `options.endpoint`, else the URL's `?endpoint=` (an ltxvfs addition), else
 *   `https://ACCOUNT.blob.core.windows.net` — Litestream's only form;
 * - credentials, first that is set: `LITESTREAM_AZURE_SAS_TOKEN` (appended to the service
 *   URL, no signing), `LITESTREAM_AZURE_ACCOUNT_KEY` (Shared Key with the URL's account),
 *   else Azure's default credential chain (`@azure/identity` `DefaultAzureCredential`:
 *   `AZURE_CLIENT_ID`/`AZURE_CLIENT_SECRET`/`AZURE_TENANT_ID`, workload and managed
 *   identity, the az CLI — that chain reads the process environment).
 *
 * Pure: no SDK is loaded here, so every mistake in the URL or the environment is reported
 * before the vendor package is needed.
 */
import { LtxvfsError } from '../../../ltx/errors.js';
import type { ReplicaUrl } from '../replica-url.js';

/** The parsed abs:// URL (`parseReplicaUrl`). */
export type AbsUrlParts = Extract<ReplicaUrl, { scheme: 'abs' }>;

/** How requests are authorized; secrets are kept out of `url` and messages. */
export type AbsCredentialChoice =
  | { kind: 'sas'; token: string }
  | { kind: 'shared-key'; account: string; key: string }
  | { kind: 'default-chain' };

/** What an abs:// client needs to know. */
export interface AbsConfig {
  /** Storage account from the URL, if any. */
  account: string | undefined;
  container: string;
  /** Blob name prefix, `''` for the container root. */
  prefix: string;
  /** Blob service URL without a trailing `/` (`https://ACCOUNT.blob.core.windows.net`, or the endpoint given). */
  serviceUrl: string;
  /** Whether the endpoint was given (then it is part of `url`). */
  customEndpoint: boolean;
  credential: AbsCredentialChoice;
  /** `abs://[account@]container/prefix[?endpoint=…]`, for messages: never a secret. */
  url: string;
}

/**
 * Resolve an abs:// replica's configuration.
 * @param endpoint `AbsReplicaOptions.endpoint`, which wins over the URL's `?endpoint=`.
 * @throws LtxvfsError `LTXVFS_ERR_BAD_URL` for an endpoint that is not an http(s) URL
 *   (or carries credentials or a query), and for no account without an endpoint (the
 *   default endpoint needs one); `LTXVFS_ERR_USAGE` for `LITESTREAM_AZURE_ACCOUNT_KEY`
 *   without an account in the URL — each naming the replica.
 */
export function resolveAbsConfig(url: AbsUrlParts, env: NodeJS.ProcessEnv, endpoint?: string): AbsConfig {
  const base = `abs://${url.account === undefined ? '' : `${url.account}@`}${url.container}/${url.path}`;
  const given = endpoint ?? url.params.endpoint;
  const credential = chooseCredential(url, env, base);
  let serviceUrl: string;
  if (given !== undefined && given !== '') {
    let u: URL;
    try {
      u = new URL(given);
    } catch (err) {
      throw new LtxvfsError('LTXVFS_ERR_BAD_URL', `${base}: bad endpoint ${JSON.stringify(given)}: not a URL`, { key: base, cause: err });
    }
    if (u.protocol !== 'https:' && u.protocol !== 'http:') {
      throw new LtxvfsError('LTXVFS_ERR_BAD_URL', `${base}: bad endpoint ${JSON.stringify(given)}: need http:// or https://`, { key: base });
    }
    if (u.username !== '' || u.password !== '' || u.search !== '' || u.hash !== '') {
      throw new LtxvfsError('LTXVFS_ERR_BAD_URL', `${base}: bad endpoint: credentials, a query or a fragment are not allowed (use LITESTREAM_AZURE_SAS_TOKEN)`, { key: base });
    }
    serviceUrl = `${u.origin}${u.pathname}`.replace(/\/+$/, '');
  } else if (url.account !== undefined) {
    serviceUrl = `https://${url.account}.blob.core.windows.net`;
  } else {
    throw new LtxvfsError(
      'LTXVFS_ERR_BAD_URL',
      `${base}: no storage account: write abs://ACCOUNT@${url.container}/${url.path} (the endpoint is https://ACCOUNT.blob.core.windows.net)`,
      { key: base },
    );
  }
  const customEndpoint = given !== undefined && given !== '';
  const where = `${base}${customEndpoint ? `?endpoint=${serviceUrl}` : ''}`;
  return { account: url.account, container: url.container, prefix: url.path, serviceUrl, customEndpoint, credential, url: where };
}

function chooseCredential(url: AbsUrlParts, env: NodeJS.ProcessEnv, where: string): AbsCredentialChoice {
  const sas = env.LITESTREAM_AZURE_SAS_TOKEN?.trim();
  if (sas !== undefined && sas !== '') return { kind: 'sas', token: sas.replace(/^\?/, '') };
  const key = env.LITESTREAM_AZURE_ACCOUNT_KEY?.trim();
  if (key !== undefined && key !== '') {
    if (url.account === undefined) {
      throw new LtxvfsError(
        'LTXVFS_ERR_USAGE',
        `${where}: LITESTREAM_AZURE_ACCOUNT_KEY is set but the URL names no storage account (write abs://ACCOUNT@${url.container}/${url.path})`,
        { key: where },
      );
    }
    return { kind: 'shared-key', account: url.account, key };
  }
  return { kind: 'default-chain' };
}
