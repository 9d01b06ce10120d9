/**
 * The oss:// replica client: the s3:// client (../s3/client.ts) pointed at OSS's
 * S3-compatible endpoint, behind the oss:// name and a read-only set of capabilities.
 * Reads, listings and HEADs are the S3 client's (ranged GETs, ListObjectsV2, the
 * `litestream-timestamp` metadata for time travel); its messages name objects
 * `oss://bucket/key` instead of `s3://bucket/key`. Writes and deletes are refused (index.ts
 * says why), so the lease and the write path see `conditionalWrites: 'none'` and
 * `leaseLock: 'none'` and refuse too.
 */
import { LtxvfsError } from '../../../ltx/errors.js';
import type { S3ClientStats, S3ReplicaClient } from '../s3/index.js';
import type { LtxFileInfo, ReplicaCapabilities, ReplicaClient, StrayEntry } from '../types.js';

/** Ranged GETs; no conditional writes (and so no lease); remote latency; no temporary files. */
export const OSS_CAPABILITIES: ReplicaCapabilities = Object.freeze({
  rangeReads: true,
  conditionalWrites: 'none',
  leaseLock: 'none',
  latency: 'remote',
  tempFileRoot: undefined,
});

/** A read-only {@link ReplicaClient} over an OSS bucket prefix. Create it with `openOssReplica`. */
export class OssReplicaClient implements ReplicaClient {
  /** {@link OSS_CAPABILITIES}. */
  readonly capabilities: ReplicaCapabilities = OSS_CAPABILITIES;
  /** `oss://bucket/prefix`, plus `?endpoint=…` when the URL gave one; never credentials. */
  readonly url: string;
  readonly #s3: S3ReplicaClient;
  /** `s3://bucket/` as the S3 client's messages start an object's name. */
  readonly #s3Where: string;

  /** Use `openOssReplica`. @param s3 the S3 client configured for OSS (owned: closed with this one). */
  constructor(url: string, s3: S3ReplicaClient) {
    this.url = url;
    this.#s3 = s3;
    this.#s3Where = `s3://${s3.bucket}/`;
  }

  /** `<path>/<level %04x>/<min>-<max>.ltx`, S3's layout (Litestream oss `ltxPath`). @throws LtxvfsError `LTXVFS_ERR_USAGE` for a bad level or TXID range. */
  ltxKey(level: number, minTXID: number, maxTXID: number): string {
    return this.#s3.ltxKey(level, minTXID, maxTXID);
  }

  /** `<path>/<name>`, or `name` at the bucket root. */
  objectKey(name: string): string {
    return this.#s3.objectKey(name);
  }

  /** See `S3ReplicaClient.listLtxFiles` (`useMetadata`: one HEAD per file for `litestream-timestamp`). @throws LtxvfsError as it, naming `oss://…`. */
  listLtxFiles(level: number, options?: { seekTXID?: number; useMetadata?: boolean }): Promise<LtxFileInfo[]> {
    return this.renamed(() => this.#s3.listLtxFiles(level, options));
  }

  /** See `ReplicaClient.listKeys`. @throws LtxvfsError as `S3ReplicaClient.listKeys`, naming `oss://…`. */
  listKeys(prefix: string, limit: number): Promise<string[]> {
    return this.renamed(() => this.#s3.listKeys(prefix, limit));
  }

  /** One ranged GET. @throws LtxvfsError as `S3ReplicaClient.readRange`, naming `oss://…`. */
  readRange(key: string, offset: number, length: number, into?: Uint8Array): Promise<Uint8Array> {
    return this.renamed(() => this.#s3.readRange(key, offset, length, into));
  }

  /** One GET of the whole object. @throws LtxvfsError as `S3ReplicaClient.read`, naming `oss://…`. */
  read(key: string): Promise<{ data: Uint8Array; etag: string }> {
    return this.renamed(() => this.#s3.read(key));
  }

  /** Refused. @throws LtxvfsError `LTXVFS_ERR_UNSUPPORTED` naming the key and the replica. */
  write(key: string): Promise<{ etag: string }> {
    return Promise.reject(this.readOnly('write', key));
  }

  /** Refused. @throws LtxvfsError `LTXVFS_ERR_UNSUPPORTED` naming the key and the replica. */
  delete(key: string): Promise<void> {
    return Promise.reject(this.readOnly('delete', key));
  }

  /** LTX-shaped keys listings left out because they cannot be LTX files, with the reason. */
  strays(): StrayEntry[] {
    return this.#s3.strays();
  }

  /** Request counts and bytes so far (the S3 client's). */
  stats(): S3ClientStats {
    return this.#s3.stats();
  }

  /** Abort requests in flight and release the connection pool. Idempotent. */
  close(): Promise<void> {
    return this.#s3.close();
  }

  private readOnly(op: string, key: string): LtxvfsError {
    return new LtxvfsError(
      'LTXVFS_ERR_UNSUPPORTED',
      `${op} ${this.url} key ${key}: oss:// replicas are read-only in ltxvfs (no conditional write of OSS is tested, so the lease and the write path cannot be made safe; docs/backends/oss.md)`,
      { key },
    );
  }

  /** Run an S3 client call; its errors name objects `oss://bucket/key`. */
  private async renamed<T>(call: () => Promise<T>): Promise<T> {
    try {
      return await call();
    } catch (err) {
      if (!(err instanceof LtxvfsError) || !err.message.includes(this.#s3Where)) throw err;
      const renamed = new LtxvfsError(err.code, err.message.split(this.#s3Where).join(`oss://${this.#s3.bucket}/`), {
        key: err.key,
        cause: err.cause,
        status: err.status,
      });
      throw renamed;
    }
  }
}
