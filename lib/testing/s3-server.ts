/**
 * An in-process S3 server for tests: s3rver (npm `s3rver` 3.7, an optional peer
 * dependency of ltxvfs) on 127.0.0.1 and a port the system picks, storing objects in a
 * fresh temporary directory, with one bucket.
 *
 * What s3rver checks, read from its lib/middleware/authentication.js: for SigV4 requests
 * only that the access key id exists (its one account is `S3RVER` / `S3RVER`), that
 * `x-amz-content-sha256` is present and well-formed, and that `x-amz-date` is within 15
 * minutes. It does **not** verify V4 signatures ("Signature version 4 calculation is
 * unimplemented"), so a wrong secret passes; unsigned requests pass as anonymous. It also
 * ignores `If-None-Match` / `If-Match` on PUT and DELETE, and cannot address keys that
 * start with `/` (path-style `/bucket//key` is a 404).
 *
 * One repair: s3rver encrypts ListObjectsV2 continuation tokens with DES, which OpenSSL 3
 * (Node ≥ 17) refuses without `--openssl-legacy-provider`, so every truncated listing
 * would be a 500. {@link startS3Server} makes `crypto.createCipheriv` / `createDecipheriv`
 * of this process run `des` as AES-128-CBC (key and IV zero-padded) — tokens stay opaque
 * and round-trip, and no other algorithm is touched.
 */
import crypto from 'node:crypto';
import { promises as fs } from 'node:fs';
import type { Server } from 'node:http';
import { createRequire } from 'node:module';
import * as os from 'node:os';
import * as path from 'node:path';
import { LtxvfsError } from '../../ltx/errors.js';

/** s3rver's built-in credentials (its only account). */
export const S3RVER_CREDENTIALS: Readonly<{ accessKeyId: string; secretAccessKey: string }> = Object.freeze({
  accessKeyId: 'S3RVER',
  secretAccessKey: 'S3RVER',
});

/** Options of {@link startS3Server}. */
export interface S3ServerOptions {
  /** Bucket created at start. Default `ltxvfs-test`. */
  bucket?: string;
}

/** A running in-process S3 server, from {@link startS3Server}. */
export interface S3Server {
  /** `http://127.0.0.1:<port>` */
  readonly endpoint: string;
  /** The bucket created at start. */
  readonly bucket: string;
  /** Where the server keeps the objects (removed by {@link S3Server.stop}). */
  readonly directory: string;
  /**
   * The environment a client of this server needs besides the replica URL: the server's
   * credentials as `AWS_ACCESS_KEY_ID` / `AWS_SECRET_ACCESS_KEY` (read by ltxvfs and by
   * the Litestream VFS alike).
   */
  readonly env: Readonly<Record<string, string>>;
  /**
   * The replica URL of `prefix` in the bucket:
   * `s3://<bucket>/<prefix>?endpoint=<endpoint>&forcePathStyle=true` (docs/formats.md §6),
   * which ltxvfs and the Litestream VFS both take.
   */
  url(prefix: string): string;
  /** Stop the server (dropping open connections) and remove its directory. Idempotent. */
  stop(): Promise<void>;
}

interface S3rverInstance {
  run(): Promise<{ port: number }>;
  close(): Promise<void>;
  httpServer?: Server;
}

type S3rverConstructor = new (options: Record<string, unknown>) => S3rverInstance;

const require = createRequire(import.meta.url);

/**
 * Load an optional peer dependency by package name.
 * @param what the function that needs it, for the message.
 * @throws LtxvfsError `LTXVFS_ERR_UNSUPPORTED` naming the package and how to install it
 *   when it is not installed; anything else loading it throws.
 */
export function requirePeer<T>(name: string, what: string): T {
  try {
    return require(name) as T;
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'MODULE_NOT_FOUND' && String((err as Error).message).includes(`'${name}'`)) {
      throw new LtxvfsError('LTXVFS_ERR_UNSUPPORTED',
        `${what} needs the optional peer dependency "${name}", which is not installed: npm install --save-dev ${name}`,
        { key: name, cause: err });
    }
    throw err;
  }
}

let desPatched = false;

/** Run s3rver's `des` continuation-token cipher as AES-128-CBC (module doc). */
function patchDesForS3rver(): void {
  if (desPatched) return;
  desPatched = true;
  const pad16 = (b: crypto.BinaryLike | null) => Buffer.concat([Buffer.from(b as Buffer), Buffer.alloc(16)]).subarray(0, 16);
  const { createCipheriv, createDecipheriv } = crypto;
  const patched = crypto as unknown as Record<string, unknown>;
  patched.createCipheriv = (alg: string, key: crypto.CipherKey, iv: crypto.BinaryLike | null, opts?: unknown) =>
    alg === 'des'
      ? createCipheriv('aes-128-cbc', pad16(key as Buffer), pad16(iv))
      : (createCipheriv as (...a: unknown[]) => crypto.Cipher)(alg, key, iv, opts);
  patched.createDecipheriv = (alg: string, key: crypto.CipherKey, iv: crypto.BinaryLike | null, opts?: unknown) =>
    alg === 'des'
      ? createDecipheriv('aes-128-cbc', pad16(key as Buffer), pad16(iv))
      : (createDecipheriv as (...a: unknown[]) => crypto.Decipher)(alg, key, iv, opts);
}

/** S3 bucket naming rules (lower case, digits, dots, hyphens; 3–63 characters). */
const BUCKET_NAME = /^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$/;

/**
 * Start s3rver in this process with one bucket, on 127.0.0.1 and a free port.
 * @throws LtxvfsError `LTXVFS_ERR_UNSUPPORTED` when the optional peer `s3rver` is not
 *   installed (the message says how to install it); `LTXVFS_ERR_USAGE` for a bucket name
 *   S3 would refuse.
 */
export async function startS3Server(options: S3ServerOptions = {}): Promise<S3Server> {
  const bucket = options.bucket ?? 'ltxvfs-test';
  if (!BUCKET_NAME.test(bucket)) {
    throw new LtxvfsError('LTXVFS_ERR_USAGE',
      `startS3Server: bad bucket name "${bucket}": S3 bucket names are 3-63 lower-case letters, digits, dots and hyphens`, { key: bucket });
  }
  const S3rver = requirePeer<S3rverConstructor>('s3rver', 'startS3Server (ltxvfs/testing)');
  patchDesForS3rver();
  const directory = await fs.mkdtemp(path.join(os.tmpdir(), 'ltxvfs-s3rver-'));
  const server = new S3rver({ address: '127.0.0.1', port: 0, silent: true, directory, configureBuckets: [{ name: bucket }] });
  let port: number;
  try {
    ({ port } = await server.run());
  } catch (err) {
    await fs.rm(directory, { recursive: true, force: true });
    throw err;
  }
  // Longer than any client's idle keep-alive, so a reused connection is never closed by
  // s3rver at the moment a client sends on it (a spurious socket error).
  if (server.httpServer !== undefined) server.httpServer.keepAliveTimeout = 60_000;
  const endpoint = `http://127.0.0.1:${port}`;
  let stopping: Promise<void> | undefined;
  return {
    endpoint,
    bucket,
    directory,
    env: Object.freeze({ AWS_ACCESS_KEY_ID: S3RVER_CREDENTIALS.accessKeyId, AWS_SECRET_ACCESS_KEY: S3RVER_CREDENTIALS.secretAccessKey }),
    url: (prefix) => `s3://${bucket}/${prefix.replace(/^\/+|\/+$/g, '')}?endpoint=${endpoint}&forcePathStyle=true`,
    stop() {
      stopping ??= (async () => {
        server.httpServer?.closeAllConnections();
        await server.close();
        await fs.rm(directory, { recursive: true, force: true });
      })();
      return stopping;
    },
  };
}
