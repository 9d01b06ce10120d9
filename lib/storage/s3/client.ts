/**
 * The s3:// replica client: a Litestream v0.5 replica in an S3 bucket (or any
 * S3-compatible store), read and written over HTTP — undici's connection pools (http.ts),
 * through the request pipeline of transport.ts — and signed with AWS Signature V4.
 * Listing is in listing.ts, writes and deletes in write.ts; this module holds the client,
 * its keys, reads and HEADs.
 *
 * Layout (docs/formats.md §4.1, litestream s3/replica_client.go): an LTX file lives at
 * `<prefix>/<level %04x>/<min %016x>-<max %016x>.ltx` — no `ltx/` segment, unlike the
 * file backend. Litestream joins `c.Path + "/" + …`, so a replica at the bucket root
 * (empty prefix) has keys starting with `/` (`/0000/…`); ltxvfs does the same so both
 * find each other's files. Keys given to this client are whole object keys inside the
 * bucket, as {@link S3ReplicaClient.ltxKey} and {@link S3ReplicaClient.objectKey} make them.
 *
 * Signing: the `aws4` package (SigV4, payload hash in `x-amz-content-sha256`, like
 * Litestream's default `SignPayload`). Chosen over `@smithy/signature-v4` because it is a
 * standalone signer with no dependencies (the smithy signer pulls in ~8 MB of
 * `@smithy/core` and documents itself as internal to generated SDK clients), and it is
 * synchronous. Credentials: credentials.ts (environment, then the AWS SDK's chain,
 * refreshed before expiry); requests go unsigned only with `?anonymous=true`.
 *
 * Faults: every HTTP request has a deadline (`requestTimeoutMs`, headers and body);
 * transient failures — 5xx, 429/SlowDown, 408, 400 RequestTimeout, 409
 * ConditionalRequestConflict, socket errors, timeouts, bodies shorter than announced —
 * are retried with full-jitter backoff within `retryBudgetMs` (transport.ts, ../retry.ts); permanent
 * ones are not. Nothing partial is ever returned: a listing is complete or an error, a
 * read has exactly the bytes asked for or an error. Errors are `LtxvfsError`s with the
 * object `key` and HTTP `status`, their message one line: operation, `s3://bucket/key`,
 * status, S3's error code and message.
 *
 * Credentials appear in no message, log line, statistic or URL: the client keeps them in
 * an {@link S3CredentialSource} (private fields), and every error it throws has the secret
 * values and any `Authorization` / `X-Amz-*` value a server echoed replaced by `***`.
 * A host name that does not resolve (DNS `ENOTFOUND` / `EAI_AGAIN`) fails at once, naming
 * the host, instead of being retried.
 */

import { LtxvfsError } from '../../../ltx/errors.js';
import { formatLtxFilename } from '../../../ltx/filename.js';
import { redactEndpoint, type S3Config, type S3Credentials } from './config.js';
import type { S3CredentialSource } from './credentials.js';
import { httpError } from './errors.js';
import { parseRfc3339 } from '../rfc3339.js';
import { deleteObject, METADATA_KEY_TIMESTAMP, putObject, requireEtag } from './write.js';
import { rangeBody } from './range.js';
import { applyMetadataTimestamps, listKeyPage, listLevel } from './listing.js';
import { positiveInt, S3Transport, type S3ClientStats } from './transport.js';
import type { RequestRetryOptions } from '../retry.js';
import { StrayLog } from '../strays.js';
import type { LtxFileInfo, ReplicaCapabilities, ReplicaClient, StrayEntry, WriteOptions } from '../types.js';

/** Options of {@link openS3Replica} / {@link S3ReplicaClient}. Times in ms. */
export interface S3ReplicaOptions extends RequestRetryOptions {
  /** Environment for credentials, region and endpoint (config.ts). Default `process.env`. */
  env?: NodeJS.ProcessEnv;
  /** Credentials instead of the environment's and the SDK chain's; `null` sends unsigned requests. */
  credentials?: S3Credentials | null;
  /** Clock for credential expiry, ms since the epoch. Default `Date.now`. */
  now?: () => number;
  /** Keys per ListObjectsV2 page (`max-keys`), 1…1000. Default 1000 (S3's maximum). */
  listPageSize?: number;
  /** Parallel HEAD requests of `listLtxFiles(…, { useMetadata: true })`. Default 16. */
  metadataConcurrency?: number;
}

/** What a HEAD request tells about an object. */
export interface S3ObjectHead {
  /** Size in bytes. */
  size: number;
  /** ETag as sent, quotes included. */
  etag: string;
  /** `Last-Modified`, ms since the epoch (`NaN` if absent). */
  lastModified: number;
  /** User metadata (`x-amz-meta-*`), names lower-case without the prefix. */
  metadata: Record<string, string>;
}

export { METADATA_KEY_TIMESTAMP } from './write.js';

const DEFAULT_LIST_PAGE_SIZE = 1000;
const DEFAULT_METADATA_CONCURRENCY = 16;
/** S3's limit on key length, bytes of UTF-8. */
const MAX_KEY_BYTES = 1024;

/**
 * What every S3 client can do: `Range` GETs; `If-None-Match: *` and `If-Match` checked by
 * the store (AWS S3 since 2024, MinIO, R2, Tigris; s3rver through the test proxy), which
 * is also the lease's lock (litestream s3/leaser.go); remote latency; PUTs leave no
 * temporary objects.
 */
export const S3_CAPABILITIES: ReplicaCapabilities = Object.freeze({
  rangeReads: true,
  conditionalWrites: 'atomic',
  leaseLock: 'conditional-write',
  latency: 'remote',
  tempFileRoot: undefined,
});

/** A {@link ReplicaClient} over an S3 bucket prefix. Create it with {@link openS3Replica}. */
export class S3ReplicaClient implements ReplicaClient {
  /** {@link S3_CAPABILITIES}. */
  readonly capabilities: ReplicaCapabilities = S3_CAPABILITIES;
  /** `s3://bucket/prefix`, plus `?endpoint=…` for a custom endpoint; never credentials. */
  readonly url: string;
  /** Bucket name (or access point ARN). */
  readonly bucket: string;
  /** Key prefix, `''` for the bucket root. */
  readonly prefix: string;

  private readonly listPageSize: number;
  private readonly metadataConcurrency: number;
  private readonly strayLog = new StrayLog();
  /** The request pipeline (transport.ts): signing, pools, retries, counters. */
  readonly #io: S3Transport;

  /**
   * Use {@link openS3Replica}, which resolves the configuration and the credentials from a URL.
   * @param credentials how requests are signed (`S3CredentialSource.anonymous()` for unsigned).
   * @throws LtxvfsError `LTXVFS_ERR_USAGE` for an option out of range.
   */
  constructor(config: S3Config, options: S3ReplicaOptions, credentials: S3CredentialSource) {
    this.bucket = config.bucket;
    this.prefix = config.prefix;
    const endpoint = config.endpoint === undefined
      ? ''
      : `?endpoint=${redactEndpoint(`${config.endpoint.protocol}//${config.endpoint.host}${config.endpoint.basePath}`)}`;
    this.url = `s3://${config.bucket}/${config.prefix}${endpoint}`;
    this.#io = new S3Transport(config, this.url, options, credentials);
    this.listPageSize = positiveInt('listPageSize', options.listPageSize ?? DEFAULT_LIST_PAGE_SIZE, 1000);
    this.metadataConcurrency = positiveInt('metadataConcurrency', options.metadataConcurrency ?? DEFAULT_METADATA_CONCURRENCY, Infinity);
  }

  /** Where the credentials come from (`anonymous`, `option`, `environment`, `aws-sdk`); never the keys. */
  get credentialOrigin(): string {
    return this.#io.credentialOrigin;
  }

  /** LTX-shaped keys listings left out because they cannot be LTX files, with the reason. */
  strays(): StrayEntry[] {
    return this.strayLog.list();
  }

  /** The signing region (it changes if S3 answers that the bucket lives elsewhere). */
  get region(): string {
    return this.#io.config.region;
  }

  /**
   * `<prefix>/<level %04x>/<min>-<max>.ltx` (docs/formats.md §4.1; `/<level>/…` at the bucket root, as Litestream).
   * @throws LtxvfsError `LTXVFS_ERR_USAGE` for a level that is not an integer ≥ 0 or a bad TXID range.
   */
  ltxKey(level: number, minTXID: number, maxTXID: number): string {
    return `${this.levelPrefix(level)}${formatLtxFilename(minTXID, maxTXID)}`;
  }

  /**
   * The key of a replica-level object such as `lock.json`: `<prefix>/<name>`, or `name`
   * at the bucket root (litestream s3/leaser.go `lockKey`).
   */
  objectKey(name: string): string {
    return this.prefix === '' ? name : `${this.prefix}/${name}`;
  }

  /**
   * The LTX files of one level, sorted by (minTXID, maxTXID), from ListObjectsV2 pages of
   * `listPageSize` keys (`start-after` skips to `seekTXID`). `createdAt` is `LastModified`
   * (upload time); with `useMetadata` it is the `litestream-timestamp` metadata read by one
   * HEAD per file (header time, for time travel; LastModified where absent), as
   * Litestream's restore does. Keys that are not LTX file names, or lie deeper, are ignored.
   * A level (or prefix) without objects gives `[]`.
   * LTX-shaped names that cannot be LTX files (a TXID above 2^53 − 1, min > max) are left
   * out and reported by {@link strays}.
   * @throws LtxvfsError `LTXVFS_ERR_NOT_FOUND` (no such bucket); `LTXVFS_ERR_STORAGE`; `LTXVFS_ERR_CLOSED`.
   */
  async listLtxFiles(level: number, options: { seekTXID?: number; useMetadata?: boolean } = {}): Promise<LtxFileInfo[]> {
    this.#io.checkOpen();
    const files = await listLevel(this.#io, this.levelPrefix(level), level, options.seekTXID ?? 0, this.listPageSize, this.strayLog);
    if (options.useMetadata === true) await applyMetadataTimestamps(files, this.metadataConcurrency, (key) => this.headTimestamp(key));
    return files;
  }


  /**
   * Exactly `length` bytes of `key` from byte `offset`: one `GET` with
   * `Range: bytes=offset-(offset+length−1)`. A body shorter than announced or asked is
   * transient (retried); an object that really ends before `offset + length` is a short
   * read. `length` 0 costs a HEAD (to report a missing key like any other read). With
   * `into`, a body of at most its length is collected into it (and a view of it returned).
   * @throws LtxvfsError `LTXVFS_ERR_NOT_FOUND`; `LTXVFS_ERR_STORAGE` ("short read" or
   *   I/O); `LTXVFS_ERR_BAD_KEY`; `LTXVFS_ERR_USAGE` (bad range); `LTXVFS_ERR_CLOSED`.
   */
  async readRange(key: string, offset: number, length: number, into?: Uint8Array): Promise<Uint8Array> {
    this.#io.checkOpen();
    this.checkKey(key);
    if (!Number.isSafeInteger(offset) || offset < 0 || !Number.isSafeInteger(length) || length < 0) {
      throw new LtxvfsError('LTXVFS_ERR_USAGE', `read ${key}: bad range offset ${String(offset)} length ${String(length)}`, { key });
    }
    if (length === 0) {
      await this.headObject(key);
      return new Uint8Array(0);
    }
    const headers = { range: `bytes=${offset}-${offset + length - 1}` };
    return this.#io.call({ op: 'get', method: 'GET', key, headers, into }, key, (res) => rangeBody(res, this.bucket, key, this.#io.where(key), offset, length));
  }

  /**
   * The whole object and its ETag (one `GET`).
   * @throws LtxvfsError `LTXVFS_ERR_NOT_FOUND`, `LTXVFS_ERR_STORAGE`, `LTXVFS_ERR_BAD_KEY`, `LTXVFS_ERR_CLOSED`.
   */
  async read(key: string): Promise<{ data: Uint8Array; etag: string }> {
    this.#io.checkOpen();
    this.checkKey(key);
    return this.#io.call({ op: 'get', method: 'GET', key }, key, (res) => {
      if (res.status !== 200) throw httpError(this.bucket, 'get', key, res);
      return { data: res.body, etag: requireEtag(this.#io, 'get', key, res) };
    });
  }

  /**
   * One `PUT` (objects are replaced atomically by S3): `If-None-Match: *` for
   * `ifNoneMatch`, `If-Match` for `ifMatch`, `x-amz-meta-litestream-timestamp` =
   * `timestamp` as RFC 3339 with ns (Go's time.RFC3339Nano, docs/formats.md §4.1),
   * `Content-Type` (default `application/octet-stream`), `Content-MD5`.
   * A conditional PUT that fails its precondition *after a retry* is checked with a HEAD:
   * if the object now holds exactly these bytes (ETag = MD5), the earlier attempt landed
   * and the write succeeded.
   * @returns the response ETag.
   * @throws LtxvfsError `LTXVFS_ERR_PRECONDITION` (412; with `ifMatch` also 404);
   *   `LTXVFS_ERR_STORAGE`; `LTXVFS_ERR_BAD_KEY`; `LTXVFS_ERR_USAGE` (both conditions,
   *   bad timestamp); `LTXVFS_ERR_CLOSED`.
   */
  async write(key: string, data: Uint8Array, options: WriteOptions = {}): Promise<{ etag: string }> {
    this.#io.checkOpen();
    this.checkKey(key);
    return putObject(this.#io, key, data, options, (k) => this.headObject(k));
  }

  /**
   * One `DELETE`, with `If-Match` when given. A missing key is fine without `ifMatch`
   * (S3 answers 204 anyway); with it, 404 and 412 fail the precondition — except a 404
   * after a retry, which means an earlier attempt already deleted it.
   * @throws LtxvfsError `LTXVFS_ERR_PRECONDITION`, `LTXVFS_ERR_STORAGE`, `LTXVFS_ERR_BAD_KEY`, `LTXVFS_ERR_CLOSED`.
   */
  async delete(key: string, options: { ifMatch?: string } = {}): Promise<void> {
    this.#io.checkOpen();
    this.checkKey(key);
    await deleteObject(this.#io, key, options);
  }

  /**
   * One `HEAD`: size, ETag, Last-Modified and user metadata.
   * @throws LtxvfsError `LTXVFS_ERR_NOT_FOUND`, `LTXVFS_ERR_STORAGE`, `LTXVFS_ERR_BAD_KEY`, `LTXVFS_ERR_CLOSED`.
   */
  async headObject(key: string): Promise<S3ObjectHead> {
    this.#io.checkOpen();
    this.checkKey(key);
    return this.#io.call({ op: 'head', method: 'HEAD', key }, key, (res) => {
      if (res.status !== 200) throw httpError(this.bucket, 'head', key, res);
      const metadata: Record<string, string> = {};
      for (const [name, value] of Object.entries(res.headers)) {
        if (name.startsWith('x-amz-meta-')) metadata[name.slice('x-amz-meta-'.length)] = value;
      }
      const lm = res.headers['last-modified'];
      return {
        size: Number(res.headers['content-length']),
        etag: res.headers.etag ?? '',
        lastModified: lm === undefined ? NaN : Date.parse(lm),
        metadata,
      };
    });
  }

  /**
   * The LTX header timestamp Litestream stored with an object (`litestream-timestamp`
   * metadata, ms since the epoch), falling back to `Last-Modified` as Litestream does.
   * One HEAD; listing does not call it unless asked (`useMetadata`).
   * @throws LtxvfsError as {@link headObject}; `LTXVFS_ERR_STORAGE` when neither time is readable.
   */
  async headTimestamp(key: string): Promise<number> {
    const head = await this.headObject(key);
    const meta = head.metadata[METADATA_KEY_TIMESTAMP];
    const t = meta === undefined ? undefined : parseRfc3339(meta);
    if (t !== undefined) return t;
    if (!Number.isNaN(head.lastModified)) return head.lastModified;
    throw new LtxvfsError('LTXVFS_ERR_STORAGE', `head ${this.#io.where(key)}: no readable ${METADATA_KEY_TIMESTAMP} or Last-Modified`, { key });
  }

  /** See `ReplicaClient.listKeys`: one ListObjectsV2 page of at most `limit` (≤ 1000) keys under `<prefix>/<folder>`. */
  async listKeys(prefix: string, limit: number): Promise<string[]> {
    this.#io.checkOpen();
    return listKeyPage(this.#io, this.objectKey(prefix.endsWith('/') ? prefix : `${prefix}/`), limit);
  }

  /** Request counts and bytes so far (a copy). */
  stats(): S3ClientStats {
    return this.#io.stats();
  }

  /**
   * Abort requests in flight, stop retries and give the connection pools back (the last
   * client of an origin closes its pool). Idempotent.
   */
  async close(): Promise<void> {
    await this.#io.close();
  }

  // ---- internals ----

  private levelPrefix(level: number): string {
    if (!Number.isSafeInteger(level) || level < 0) {
      throw new LtxvfsError('LTXVFS_ERR_USAGE', `bad level ${String(level)}: need an integer >= 0`);
    }
    return `${this.prefix}/${level.toString(16).padStart(4, '0')}/`;
  }

  /** Object keys: non-empty, ≤ 1024 bytes, inside the replica prefix, no `.`/`..` segments (intermediaries may resolve them). */
  private checkKey(key: string): void {
    const bad = (why: string) => new LtxvfsError('LTXVFS_ERR_BAD_KEY', `bad key ${JSON.stringify(key)}: ${why}`, { key });
    if (typeof key !== 'string' || key === '') throw bad('empty');
    if (Buffer.byteLength(key) > MAX_KEY_BYTES) throw bad(`longer than ${MAX_KEY_BYTES} bytes`);
    if (this.prefix !== '' && !key.startsWith(`${this.prefix}/`)) throw bad(`outside the replica prefix ${this.prefix}/`);
    if (key.split('/').some((s) => s === '.' || s === '..')) throw bad('has a . or .. segment');
  }
}

