/**
 * The abs:// backend (Azure Blob Storage), entered through {@link openAbsReplica}: the
 * configuration from URL and environment (config.ts), the client (client.ts) on
 * Microsoft's `@azure/storage-blob` with its listings (listing.ts) and the ETag check of its
 * conditional writes (conditions.ts), and what the SDK's errors mean (errors.ts).
 * `@azure/storage-blob` — and `@azure/identity` when neither a SAS token nor an account
 * key is set — are optional peer dependencies, imported here only when an abs:// replica
 * is opened (../optional.ts names a missing one).
 *
 * Network: the SDK's HTTP client. With the default environment (`process.env`) proxies
 * are the SDK's own: `HTTPS_PROXY` / `ALL_PROXY` / `HTTP_PROXY` and `NO_PROXY` of the
 * process (a CONNECT tunnel, as Go's client in Litestream does), and TLS trust is Node's
 * (`NODE_EXTRA_CA_CERTS`, read at process start, as Go reads `SSL_CERT_FILE`). An `env`
 * option other than `process.env` that names a proxy has it passed to the SDK, unless its
 * `NO_PROXY` covers the endpoint host. `ca` trusts more certificates for a direct
 * endpoint; through a proxy the SDK ignores TLS settings, so there only
 * `NODE_EXTRA_CA_CERTS` works.
 */
import { rootCertificates } from 'node:tls';
import type { StoragePipelineOptions } from '@azure/storage-blob';
import { loadOptional } from '../optional.js';
import type { ReplicaUrl } from '../replica-url.js';
import { AbsReplicaClient } from './client.js';
import type { AbsReplicaOptions } from './options.js';
import { resolveAbsConfig, type AbsConfig } from './config.js';

export { AbsReplicaClient, ABS_CAPABILITIES, type AbsClientStats } from './client.js';
export type { AbsClientTuning, AbsReplicaOptions } from './options.js';
export { ABS_METADATA_KEY_TIMESTAMP } from './listing.js';
export { resolveAbsConfig, type AbsConfig, type AbsCredentialChoice, type AbsUrlParts } from './config.js';


/**
 * Open an abs:// replica: resolve endpoint and credentials (config.ts), load the SDK and
 * build its client. Nothing is sent yet: a missing container or a wrong key shows up at
 * the first request (`openDatabase` lists at once) as `LTXVFS_ERR_NOT_FOUND` ("container
 * does not exist") or `LTXVFS_ERR_STORAGE` ("authentication failed") naming the replica.
 * @throws LtxvfsError `LTXVFS_ERR_BAD_URL` (bad endpoint, no account), `LTXVFS_ERR_USAGE`
 *   (an account key without an account; a missing `@azure/storage-blob` or
 *   `@azure/identity`, named with the install command; a bad tuning option).
 */
export async function openAbsReplica(url: Extract<ReplicaUrl, { scheme: 'abs' }>, options: AbsReplicaOptions = {}): Promise<AbsReplicaClient> {
  const env = options.env ?? process.env;
  const config = resolveAbsConfig(url, env, options.endpoint);
  const sdk = await loadOptional<typeof import('@azure/storage-blob')>('@azure/storage-blob', 'abs');
  let serviceUrl = config.serviceUrl;
  let credential;
  switch (config.credential.kind) {
    case 'sas':
      credential = new sdk.AnonymousCredential();
      serviceUrl = `${serviceUrl}?${config.credential.token}`;
      break;
    case 'shared-key':
      credential = new sdk.StorageSharedKeyCredential(config.credential.account, config.credential.key);
      break;
    case 'default-chain': {
      const identity = await loadOptional<typeof import('@azure/identity')>('@azure/identity', 'abs');
      credential = new identity.DefaultAzureCredential();
      break;
    }
  }
  const pipelineOptions: StoragePipelineOptions & { tlsOptions?: { ca: string[] } } = {
    retryOptions: { maxTries: 1 },
    proxyOptions: env === process.env ? undefined : proxyFromEnv(env, config),
  };
  if (options.ca !== undefined) pipelineOptions.tlsOptions = { ca: [...rootCertificates, ...(typeof options.ca === 'string' ? [options.ca] : options.ca)] };
  const service = new sdk.BlobServiceClient(serviceUrl, sdk.newPipeline(credential, pipelineOptions));
  return new AbsReplicaClient(config, service.getContainerClient(config.container), options);
}

/**
 * The proxy `env` names for the blob endpoint, as the SDK reads it from the process
 * (`HTTPS_PROXY`, `ALL_PROXY`, `HTTP_PROXY`, either case), or undefined when there is
 * none or `NO_PROXY` names the endpoint host (`host`, `.domain` or `*`).
 */
function proxyFromEnv(env: NodeJS.ProcessEnv, config: AbsConfig): StoragePipelineOptions['proxyOptions'] {
  const pick = (name: string) => env[name] || env[name.toLowerCase()] || undefined;
  const proxy = pick('HTTPS_PROXY') ?? pick('ALL_PROXY') ?? pick('HTTP_PROXY');
  if (proxy === undefined) return undefined;
  const host = new URL(config.serviceUrl).hostname;
  const bypass = (pick('NO_PROXY') ?? '').split(',').map((s) => s.trim()).filter((s) => s !== '');
  if (bypass.some((p) => p === '*' || host === p || host === p.replace(/^\./, '') || host.endsWith(p.startsWith('.') ? p : `.${p}`))) return undefined;
  const u = new URL(proxy);
  return {
    host: `${u.protocol}//${u.hostname}`,
    port: Number(u.port || (u.protocol === 'https:' ? 443 : 80)),
    username: decodeURIComponent(u.username) || undefined,
    password: decodeURIComponent(u.password) || undefined,
  };
}
