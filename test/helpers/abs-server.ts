/**
 * The abs:// test server: Azurite's blob service over TLS (azurite.ts) with a self-signed
 * certificate for `*.blob.core.windows.net` and 127.0.0.1 (tls.ts), and a CONNECT proxy
 * (connect-proxy.ts) that tunnels `<account>.blob.core.windows.net:443` to it — so the
 * production URL `abs://devstoreaccount1@container/path` works unchanged for the real
 * Litestream VFS (Go: `HTTPS_PROXY`, `SSL_CERT_FILE`) and for ltxvfs in a child process
 * (`HTTPS_PROXY`, `NODE_EXTRA_CA_CERTS`, read at process start). In this process, clients
 * reach the same Azurite directly at `https://127.0.0.1:<port>/devstoreaccount1` and
 * trust the certificate through the `abs.ca` option.
 */
import { BlobServiceClient, newPipeline, StorageSharedKeyCredential, type StoragePipelineOptions } from '@azure/storage-blob';
import { rootCertificates } from 'node:tls';
import type { AbsReplicaOptions } from '../../lib/storage/abs/index.js';
import { AZURITE_ACCOUNT, startAzurite, type AzuriteHandle } from './azurite.js';
import { startConnectProxy, type ConnectProxy } from './connect-proxy.js';
import { selfSignedCertificate, type TestCertificate } from './tls.js';

/** A running Azurite behind the CONNECT proxy. */
export interface AbsServer {
  azurite: AzuriteHandle;
  proxy: ConnectProxy;
  cert: TestCertificate;
  /** `https://127.0.0.1:<port>/devstoreaccount1`. */
  endpoint: string;
  /** The environment Litestream reads: the account key. */
  env: Record<string, string>;
  /** For a child process using the production host: `env` plus `HTTPS_PROXY`, `SSL_CERT_FILE` (Go), `NODE_EXTRA_CA_CERTS` (Node). */
  childEnv: Record<string, string>;
  /** `abs` options of an in-process client: the direct endpoint and the CA. */
  absOptions(extra?: Omit<AbsReplicaOptions, 'env' | 'endpoint' | 'ca'>): Omit<AbsReplicaOptions, 'env'>;
  /** `abs://devstoreaccount1@<container>/<path>`. */
  url(container: string, path: string): string;
  /** Create a container (Litestream and ltxvfs expect it to exist). */
  createContainer(name: string): Promise<void>;
  /** The SDK's client of the account (Shared Key), for checks behind the client's back. */
  service: BlobServiceClient;
  close(): Promise<void>;
}

/** Start Azurite (TLS) and the proxy; `close` stops both. */
export async function startAbsServer(): Promise<AbsServer> {
  const cert = selfSignedCertificate(['*.blob.core.windows.net', '127.0.0.1']);
  const azurite = await startAzurite({ tls: cert });
  const proxy = await startConnectProxy('.blob.core.windows.net', azurite.port);
  const env = { LITESTREAM_AZURE_ACCOUNT_KEY: AZURITE_ACCOUNT.key };
  const pipelineOptions: StoragePipelineOptions & { tlsOptions: { ca: string[] } } = {
    // Retried: a check reusing a keep-alive socket Azurite has closed meets 'socket hang up'
    // (ECONNRESET; failed a clean-clone CI run of abs-litestream.test.ts with one try). The
    // library's own clients are configured apart (absOptions).
    retryOptions: { maxTries: 3, retryDelayInMs: 50, maxRetryDelayInMs: 200 },
    tlsOptions: { ca: [...rootCertificates, cert.cert] },
  };
  const service = new BlobServiceClient(
    azurite.endpoint,
    newPipeline(new StorageSharedKeyCredential(AZURITE_ACCOUNT.name, AZURITE_ACCOUNT.key), pipelineOptions),
  );
  return {
    azurite,
    proxy,
    cert,
    endpoint: azurite.endpoint,
    env,
    childEnv: { ...env, HTTPS_PROXY: proxy.url, SSL_CERT_FILE: cert.certFile, NODE_EXTRA_CA_CERTS: cert.certFile },
    absOptions: (extra = {}) => ({ ...extra, endpoint: azurite.endpoint, ca: cert.cert }),
    url: (container, path) => `abs://${AZURITE_ACCOUNT.name}@${container}/${path}`,
    createContainer: async (name) => {
      await service.getContainerClient(name).create();
    },
    service,
    close: async () => {
      await proxy.close();
      await azurite.stop();
      cert.dispose();
    },
  };
}
