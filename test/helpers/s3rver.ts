/**
 * The project's tests start s3rver through the public `ltxvfs/testing` API
 * (lib/testing/s3-server.ts, where the module doc says what s3rver checks and what it
 * does not); this keeps the older names the tests use. The fault proxy (fault-proxy.ts)
 * adds signature verification and S3's precondition semantics in front of it.
 */
import { S3RVER_CREDENTIALS, startS3Server, type S3Server } from '../../lib/testing/index.js';

export { S3RVER_CREDENTIALS };

/** A running s3rver as the tests and the bench (which may run it in a child process) use it. */
export interface S3rverHandle {
  /** `http://127.0.0.1:<port>` */
  endpoint: string;
  /** The bucket created at start. */
  bucket: string;
  /** Where s3rver keeps the objects (removed by `close`). */
  directory: string;
  /** Stop the server (dropping open connections) and remove its directory. Idempotent. */
  close(): Promise<void>;
}

/**
 * Start s3rver with one bucket: `startS3Server`'s handle (`env`, `url(prefix)`, `stop`) plus `close`.
 * @param options.bucket bucket name, default `ltxvfs-test`.
 */
export async function startS3rver(options: { bucket?: string } = {}): Promise<S3rverHandle & S3Server> {
  const server = await startS3Server(options);
  return { ...server, close: () => server.stop() };
}
