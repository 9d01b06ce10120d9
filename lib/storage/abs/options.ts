/**
 * The options of an abs:// client, apart from the client so that the public types (the
 * package's `.d.ts`) do not reach the optional `@azure/storage-blob` package's types.
 */

/** Timeouts, retries and listing page size of an abs:// client. Times in ms. */
export interface AbsClientTuning {
  /** Deadline of one request, headers and body. Default 10 000. */
  requestTimeoutMs?: number;
  /** No retry starts later than this after the first attempt. Default 30 000. */
  retryBudgetMs?: number;
  /** Most attempts per request, the first included. Default 10. */
  maxAttempts?: number;
  /** Backoff ceiling of the first retry; doubles per retry. Default 100. */
  retryBaseDelayMs?: number;
  /** Largest backoff ceiling. Default 5 000. */
  retryMaxDelayMs?: number;
  /** Blobs per List Blobs page, 1…5000. Default 5000 (Azure's maximum). */
  listPageSize?: number;
}

/** Options of an abs:// client. Times in ms. */
export interface AbsReplicaOptions extends AbsClientTuning {
  /** Environment the backend reads (`LITESTREAM_AZURE_SAS_TOKEN`, `LITESTREAM_AZURE_ACCOUNT_KEY`, proxies); default `process.env`. */
  env?: NodeJS.ProcessEnv;
  /** Blob service URL instead of the URL's `?endpoint=` and `https://ACCOUNT.blob.core.windows.net` (e.g. `http://127.0.0.1:10000/devstoreaccount1` for Azurite). */
  endpoint?: string;
  /** More trusted CA certificates (PEM), added to Node's roots, for a direct https endpoint (not used through a proxy: set `NODE_EXTRA_CA_CERTS`). */
  ca?: string | readonly string[];
}
