/**
 * The options of a nats:// client, apart from the client so that the public types (the
 * package's `.d.ts`) do not reach the optional `nats` package's types.
 */

/** Options of a nats:// client. Times in ms. */
export interface NatsReplicaOptions {
  /** Environment (unused: Litestream reads no variable for NATS; kept for the common option shape). Default `process.env`. */
  env?: NodeJS.ProcessEnv;
  /** Create the object store bucket when it does not exist (writers). Default false: a missing bucket is `LTXVFS_ERR_NOT_FOUND`. */
  create?: boolean;
  /** Time to connect (TCP, TLS, auth) at open. Default 10 000 (Litestream's `Timeout`). */
  connectTimeoutMs?: number;
  /** Wait between reconnection attempts after the connection drops; the client reconnects without end. Default 2 000 (Litestream's `ReconnectWait`). */
  reconnectWaitMs?: number;
  /** Deadline of one attempt of one operation (a JetStream request, a whole object's stream, a listing). Default 10 000. */
  requestTimeoutMs?: number;
  /** No retry starts later than this after the first attempt. Default 30 000. */
  retryBudgetMs?: number;
  /** Most attempts per operation, the first included. Default 10. */
  maxAttempts?: number;
  /** Backoff ceiling of the first retry; doubles per retry. Default 100. */
  retryBaseDelayMs?: number;
  /** Largest backoff ceiling. Default 5 000. */
  retryMaxDelayMs?: number;
  /**
   * Bytes of whole objects kept for range reads (the object store has no ranged read, so a
   * page miss in an uncached LTX file costs a `get` of the whole file). Default 32 MiB.
   */
  objectCacheBytes?: number;
}
