/**
 * s3rver (npm `s3rver` 3.7, a third-party S3 server) in this process, on 127.0.0.1 and a
 * port the system picks, storing objects in a fresh temporary directory.
 *
 * What s3rver checks, read from its lib/middleware/authentication.js: for SigV4 requests
 * only that the access key id exists (its one account is `S3RVER` / `S3RVER`), that
 * `x-amz-content-sha256` is present and well-formed, and that `x-amz-date` is within 15
 * minutes. It does **not** verify V4 signatures ("Signature version 4 calculation is
 * unimplemented"), so a wrong secret passes; unsigned requests pass as anonymous. It also
 * ignores `If-None-Match` / `If-Match` on PUT and DELETE, and cannot address keys that
 * start with `/` (path-style `/bucket//key` is a 404). The fault proxy (fault-proxy.ts)
 * adds signature verification and S3's precondition semantics in front of it.
 *
 * One repair: s3rver encrypts ListObjectsV2 continuation tokens with DES, which OpenSSL 3
 * (Node ≥ 17) refuses without `--openssl-legacy-provider`, so every truncated listing
 * would be a 500. {@link startS3rver} makes `crypto.createCipheriv` / `createDecipheriv`
 * run `des` as AES-128-CBC (key and IV zero-padded) — tokens stay opaque and round-trip,
 * and no other algorithm is touched.
 */
import crypto from 'node:crypto';
import { promises as fs } from 'node:fs';
import type { Server } from 'node:http';
import { createRequire } from 'node:module';
import * as os from 'node:os';
import * as path from 'node:path';

/** s3rver's built-in credentials (its only account). */
export const S3RVER_CREDENTIALS = Object.freeze({ accessKeyId: 'S3RVER', secretAccessKey: 'S3RVER' });

/** A running s3rver. */
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

interface S3rverInstance {
  run(): Promise<{ port: number }>;
  close(): Promise<void>;
  httpServer?: Server;
}

type S3rverConstructor = new (options: Record<string, unknown>) => S3rverInstance;

const require = createRequire(import.meta.url);

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

/**
 * Start s3rver with one bucket.
 * @param options.bucket bucket name, default `ltxvfs-test`.
 */
export async function startS3rver(options: { bucket?: string } = {}): Promise<S3rverHandle> {
  const bucket = options.bucket ?? 'ltxvfs-test';
  patchDesForS3rver();
  const S3rver = require('s3rver') as S3rverConstructor;
  const directory = await fs.mkdtemp(path.join(os.tmpdir(), 'ltxvfs-s3rver-'));
  const server = new S3rver({
    address: '127.0.0.1',
    port: 0,
    silent: true,
    directory,
    configureBuckets: [{ name: bucket }],
  });
  const { port } = await server.run();
  // Longer than any client's idle keep-alive (ltxvfs's agent here 10 s, the fault proxy's agent), so a
  // reused connection is never closed by s3rver at the same moment (a spurious socket error).
  if (server.httpServer !== undefined) server.httpServer.keepAliveTimeout = 60_000;
  let closed = false;
  return {
    endpoint: `http://127.0.0.1:${port}`,
    bucket,
    directory,
    async close() {
      if (closed) return;
      closed = true;
      server.httpServer?.closeAllConnections();
      await server.close();
      await fs.rm(directory, { recursive: true, force: true });
    },
  };
}
