/**
 * The nats:// backend: a Litestream v0.5 replica in a NATS JetStream object store
 * (Litestream's nats/replica_client.go), entered through {@link openNatsReplica}. The
 * client is client.ts (reads of whole objects cached for range reads, conditional writes
 * by expected sequence), listing.ts, conditional.ts, object-cache.ts, errors.ts.
 *
 * URL: `nats://[USER:PASSWORD@]HOST[:PORT]/BUCKET` as Litestream takes it — the whole path
 * is the bucket, port 4222, host `127.0.0.1` when empty; user and password are sent only
 * when both are given (Litestream's `nats.UserInfo` likewise), no environment variable is
 * read (Litestream's VFS reads none for NATS; its replicator config's JWT/creds/TLS
 * settings have no URL form). A server that requires TLS is met by the library's TLS
 * upgrade with the system's trust.
 *
 * The bucket must exist: Litestream never creates it ("bucket must be created
 * beforehand"), and neither does a reader here. With `create` (writers, `ltxvfs import`,
 * `exec --create`) a missing bucket is created with the library's defaults (file storage,
 * one replica), as `nats object add BUCKET` would.
 *
 * The `nats` package (2.29; `@nats-io/*` 3.x needs Node 22) is an optional peer
 * dependency, loaded only when a nats:// replica is opened.
 */
import { LtxvfsError } from '../../../ltx/errors.js';
import { loadOptional } from '../optional.js';
import type { ReplicaUrl } from '../replica-url.js';
import { retryPolicyOf } from '../retry.js';
import { NatsReplicaClient } from './client.js';
import type { NatsReplicaOptions } from './options.js';
export type { NatsReplicaOptions } from './options.js';
import type { NatsParts } from './conditional.js';
import { hasJsErrCode, isAuthFailure, JS_STREAM_NOT_FOUND, reasonOf } from './errors.js';

export { NatsReplicaClient, NATS_CAPABILITIES, type NatsClientStats } from './client.js';


const DEFAULT_CONNECT_TIMEOUT_MS = 10_000;
const DEFAULT_RECONNECT_WAIT_MS = 2_000;
const DEFAULT_REQUEST_TIMEOUT_MS = 10_000;
const DEFAULT_OBJECT_CACHE_BYTES = 32 * 2 ** 20;
/** Bucket names the libraries accept (nats.go `validBucketRe`, nats.js `validateBucket`). */
const BUCKET_NAME = /^[-\w]+$/;

/**
 * Open a nats:// replica: load `nats`, connect, check that the object store bucket exists
 * (or create it with `create`).
 * @throws LtxvfsError `LTXVFS_ERR_USAGE` (the `nats` package is not installed — named with
 *   the command that installs it; a bad option); `LTXVFS_ERR_BAD_URL` (a bucket name the
 *   object store cannot have); `LTXVFS_ERR_STORAGE` naming the replica (cannot connect;
 *   "authentication failed" for a wrong or missing user/password; JetStream not enabled);
 *   `LTXVFS_ERR_NOT_FOUND` naming the replica and the bucket when it does not exist.
 */
export async function openNatsReplica(url: Extract<ReplicaUrl, { scheme: 'nats' }>, options: NatsReplicaOptions = {}): Promise<NatsReplicaClient> {
  const hostPort = `${url.host.includes(':') ? `[${url.host}]` : url.host}:${url.port}`;
  const where = `nats://${hostPort}/${url.bucket}`;
  if (!BUCKET_NAME.test(url.bucket)) {
    throw new LtxvfsError('LTXVFS_ERR_BAD_URL', `${where}: bad object store bucket name "${url.bucket}" (letters, digits, - and _ only)`, { key: where });
  }
  const ms = (name: keyof NatsReplicaOptions, fallback: number): number => {
    const v = options[name] ?? fallback;
    if (typeof v !== 'number' || !Number.isFinite(v) || v < 0) {
      throw new LtxvfsError('LTXVFS_ERR_USAGE', `bad nats option ${name} ${String(v)}: need a finite number >= 0`, { key: name });
    }
    return v;
  };
  const settings = {
    requestTimeoutMs: ms('requestTimeoutMs', DEFAULT_REQUEST_TIMEOUT_MS),
    objectCacheBytes: ms('objectCacheBytes', DEFAULT_OBJECT_CACHE_BYTES),
    retry: retryPolicyOf(options, where),
  };
  const connectTimeoutMs = ms('connectTimeoutMs', DEFAULT_CONNECT_TIMEOUT_MS);
  const reconnectWaitMs = ms('reconnectWaitMs', DEFAULT_RECONNECT_WAIT_MS);

  const nats = await loadOptional<typeof import('nats')>('nats', 'nats');
  const auth = url.user !== undefined && url.password !== undefined ? { user: url.user, pass: url.password } : {};
  let nc;
  try {
    nc = await nats.connect({
      servers: hostPort,
      ...auth,
      name: 'ltxvfs',
      timeout: connectTimeoutMs,
      maxReconnectAttempts: -1,
      reconnectTimeWait: reconnectWaitMs,
      waitOnFirstConnect: false,
    });
  } catch (err) {
    const why = isAuthFailure(err) ? `authentication failed (${url.user === undefined ? 'no user and password in the URL' : `user ${url.user}`}): ` : '';
    throw new LtxvfsError('LTXVFS_ERR_STORAGE', `cannot connect to ${where}: ${why}${reasonOf(err)}`, { key: where, cause: err });
  }
  try {
    const jsm = await nc.jetstreamManager({ timeout: settings.requestTimeoutMs });
    const js = nc.jetstream({ timeout: settings.requestTimeoutMs });
    try {
      await jsm.streams.info(`OBJ_${url.bucket}`);
    } catch (err) {
      if (!hasJsErrCode(err, JS_STREAM_NOT_FOUND)) throw err;
      if (options.create !== true) {
        throw new LtxvfsError(
          'LTXVFS_ERR_NOT_FOUND',
          `object store bucket does not exist: ${url.bucket} (${where}; create it first, e.g. \`nats object add ${url.bucket}\`: Litestream does not create it)`,
          { key: where, cause: err },
        );
      }
    }
    const os = await js.views.os(url.bucket);
    const parts: NatsParts = { nc, js, jsm, os, headers: nats.headers, bucket: url.bucket };
    return new NatsReplicaClient(where, parts, settings);
  } catch (err) {
    await nc.close().catch(() => undefined);
    if (err instanceof LtxvfsError) throw err;
    const code = (err as { code?: string }).code;
    const why = code === '503' ? 'JetStream is not enabled on the server (start nats-server with -js)' : reasonOf(err);
    throw new LtxvfsError('LTXVFS_ERR_STORAGE', `cannot open ${where}: ${why}`, { key: where, cause: err });
  }
}
