/**
 * The gs:// replica client: a Litestream v0.5 replica in a Google Cloud Storage bucket,
 * through the vendor's `@google-cloud/storage` (JSON API; loaded only when a gs:// URL is
 * opened, vendor.ts).
 *
 * Layout (litestream gs/replica_client.go, `litestream.go` LTXFilePath): an LTX file is the
 * object `<prefix>/ltx/<level decimal>/<min %016x>-<max %016x>.ltx` (`ltx/<level>/…` at
 * the bucket root), and Litestream stores the LTX header time as the object metadata
 * `litestream-timestamp` (RFC 3339 with ns). A listing page carries each object's metadata,
 * so `createdAt` is that timestamp without a request per file (the object's `timeCreated`
 * where it is absent, as Litestream falls back to the creation time): listing.ts.
 *
 * Reads are JSON-API media GETs with a `Range` header (one request per range; a range the
 * server ignores — 200 with the whole object — is cut, one starting past the end — 416 —
 * is a short read): media.ts. Writes are single-request uploads (`uploadType=multipart`)
 * with the MD5 for the server to check. ETags are the MD5 of the bytes (hex), so equal bytes have
 * equal ETags as on S3 and file://. Conditions are Cloud Storage's generation
 * preconditions, checked by the store in the request: create-only is
 * `ifGenerationMatch=0`; `ifMatch` reads the object's metadata (its MD5 and generation)
 * and writes or deletes with `ifGenerationMatch=<that generation>`, so a replacement in
 * between fails the precondition — a compare-and-swap, hence `conditionalWrites: 'atomic'`
 * and the lease's `'conditional-write'` lock (two requests per conditional replace).
 *
 * Faults: every request has a deadline (`requestTimeoutMs`); 408, 429, 5xx and
 * connection failures are retried with full-jitter backoff within `retryBudgetMs`
 * (../retry.ts; the vendor's own retries are off); the rest fail at once (errors.ts).
 * Nothing partial is returned.
 */
import { createHash } from 'node:crypto';
import type { Bucket, Storage } from '@google-cloud/storage';
import { LtxvfsError } from '../../../ltx/errors.js';
import { formatTXID } from '../../../ltx/filename.js';
import { RetryExhaustedError, TransientError, withRetry, type RetryAttempt } from '../retry.js';
import { formatRfc3339Nano } from '../rfc3339.js';
import { checkReadRange, ltxFileKey, ltxLevelPrefix, prefixedKey, sortByTxidRange } from '../layout.js';
import { classifyLtxName, StrayLog } from '../strays.js';
import type { LtxFileInfo, ReplicaCapabilities, ReplicaClient, StrayEntry, WriteOptions } from '../types.js';
import type { GsConfig } from './config.js';
import { classify, gsError, statusOf } from './errors.js';
import { GS_METADATA_KEY_TIMESTAMP, listObjects, objectCreatedAt, type ObjectMetadata } from './listing.js';
import { mediaGet } from './media.js';
import type { GcsModule } from './vendor.js';
/** Cloud Storage's limit on object names, bytes of UTF-8. */
const MAX_KEY_BYTES = 1024;

/**
 * What a gs:// client can do: ranged media GETs; generation preconditions checked by the
 * store (create-only and compare-and-swap), which is also the lease's lock; remote
 * latency; uploads leave no temporary objects.
 */
export const GS_CAPABILITIES: ReplicaCapabilities = Object.freeze({
  rangeReads: true,
  conditionalWrites: 'atomic',
  leaseLock: 'conditional-write',
  latency: 'remote',
  tempFileRoot: undefined,
});

/** Request counts of a gs:// client. */
export interface GsClientStats {
  /** Requests sent (each attempt counts). */
  requests: number;
  /** Attempts that were retries. */
  retries: number;
  /** Operations that failed in the end. */
  failures: number;
  /** Body bytes received by reads. */
  bytesRead: number;
}

/** A {@link ReplicaClient} over a Cloud Storage bucket prefix. Create it with `openGsReplica`. */
export class GsReplicaClient implements ReplicaClient {
  /** {@link GS_CAPABILITIES}. */
  readonly capabilities: ReplicaCapabilities = GS_CAPABILITIES;
  /** `gs://bucket/prefix`, plus `?endpoint=…` when the URL gave one; never credentials. */
  readonly url: string;
  readonly bucketName: string;
  /** Object name prefix, `''` for the bucket root. */
  readonly prefix: string;
  readonly #config: GsConfig;
  readonly #bucket: Bucket;
  readonly #closing = new AbortController();
  readonly #strays = new StrayLog();
  readonly #stats: GsClientStats = { requests: 0, retries: 0, failures: 0, bytesRead: 0 };
  #closed = false;

  /** Use `openGsReplica`. @param lib the loaded `@google-cloud/storage` module. */
  constructor(config: GsConfig, lib: GcsModule) {
    this.#config = config;
    this.bucketName = config.bucket;
    this.prefix = config.prefix;
    this.url = `gs://${config.bucket}/${config.prefix}${config.endpointOrigin === 'url' ? `?endpoint=${config.endpoint}` : ''}`;
    const storage: Storage = new lib.Storage({
      apiEndpoint: config.endpoint,
      keyFilename: config.keyFilename,
      // Google's own endpoint is always signed, even with a STORAGE_EMULATOR_HOST in process.env.
      useAuthWithCustomEndpoint: !config.customEndpoint || config.useAuthWithCustomEndpoint,
      retryOptions: { autoRetry: false },
      timeout: config.requestTimeoutMs,
    });
    // The vendor takes its base URL from process.env.STORAGE_EMULATOR_HOST when set; the endpoint resolved from `env` wins.
    (storage as unknown as { baseUrl: string }).baseUrl = `${config.endpoint}/storage/v1`;
    this.#bucket = storage.bucket(config.bucket);
  }

  /** LTX-shaped names listings left out because they cannot be LTX files, with the reason. */
  strays(): StrayEntry[] {
    return this.#strays.list();
  }

  /** Request counts so far (a copy). */
  stats(): GsClientStats {
    return { ...this.#stats };
  }

  /**
   * `<prefix>/ltx/<level>/<min>-<max>.ltx` (`ltx/<level>/…` at the bucket root).
   * @throws LtxvfsError `LTXVFS_ERR_USAGE` for a bad level or TXID range.
   */
  ltxKey(level: number, minTXID: number, maxTXID: number): string {
    return ltxFileKey(this.prefix, level, minTXID, maxTXID);
  }

  /** `<prefix>/<name>`, or `name` at the bucket root (litestream's lock key). */
  objectKey(name: string): string {
    return prefixedKey(this.prefix, name);
  }

  /**
   * The LTX files of one level, sorted by (minTXID, maxTXID), from listing pages of
   * `listPageSize` objects (prefix `<level prefix>`, delimiter `/`, `startOffset` at the seek).
   * `createdAt` is the `litestream-timestamp` metadata the listing carries (the creation
   * time where absent), with or without `useMetadata`.
   * @throws LtxvfsError `LTXVFS_ERR_NOT_FOUND` (no such bucket); `LTXVFS_ERR_STORAGE`; `LTXVFS_ERR_CLOSED`; `LTXVFS_ERR_USAGE` (bad level).
   */
  async listLtxFiles(level: number, options: { seekTXID?: number; useMetadata?: boolean } = {}): Promise<LtxFileInfo[]> {
    this.checkOpen();
    const prefix = ltxLevelPrefix(this.prefix, level);
    const seek = options.seekTXID ?? 0;
    const files: LtxFileInfo[] = [];
    const request = <T>(key: string, op: () => Promise<T>) => this.call('list', key, op);
    for await (const item of listObjects(this.#bucket, request, prefix, this.#config.listPageSize, seek > 0 ? `${prefix}${formatTXID(seek)}` : undefined)) {
      const meta = item.metadata as ObjectMetadata;
      const name = item.name.slice(prefix.length);
      if (!item.name.startsWith(prefix) || name.includes('/')) continue;
      const found = classifyLtxName(name);
      if (found.kind === 'stray') this.#strays.add({ key: item.name, reason: found.reason });
      if (found.kind !== 'ltx' || found.minTXID < seek) continue;
      const createdAt = objectCreatedAt(item.name, this.where(item.name), meta);
      files.push({ level, minTXID: found.minTXID, maxTXID: found.maxTXID, size: Number(meta.size), createdAt, key: item.name });
    }
    return sortByTxidRange(files);
  }

  /** See `ReplicaClient.listKeys`: one listing page of at most `limit` (≤ 1000) names under `<prefix>/<folder>`. */
  async listKeys(prefix: string, limit: number): Promise<string[]> {
    this.checkOpen();
    const folder = this.objectKey(prefix.endsWith('/') ? prefix : `${prefix}/`);
    const [items] = await this.call('list', folder, () => this.#bucket.getFiles({ prefix: folder, autoPaginate: false, maxResults: Math.min(limit, 1000) }));
    return items.map((f) => f.name).slice(0, limit);
  }

  /**
   * Exactly `length` bytes of `key` from `offset`: one media GET with
   * `Range: bytes=offset-(offset+length−1)`; `length` 0 costs a metadata GET (a missing key
   * is still reported). With `into` of at least `length` bytes, a view of it is returned.
   * @throws LtxvfsError `LTXVFS_ERR_NOT_FOUND`; `LTXVFS_ERR_STORAGE` ("short read" or I/O);
   *   `LTXVFS_ERR_BAD_KEY`; `LTXVFS_ERR_USAGE` (bad range); `LTXVFS_ERR_CLOSED`.
   */
  async readRange(key: string, offset: number, length: number, into?: Uint8Array): Promise<Uint8Array> {
    this.checkOpen();
    this.checkKey(key);
    checkReadRange(key, offset, length);
    if (length === 0) {
      await this.metadataOf('read', key);
      return new Uint8Array(0);
    }
    let body: Buffer;
    try {
      body = await this.call('read', key, () => this.media(key, offset, length));
    } catch (err) {
      if (!(err instanceof LtxvfsError) || err.status !== 416) throw err;
      body = Buffer.alloc(0);
    }
    if (body.length < length) {
      throw new LtxvfsError('LTXVFS_ERR_STORAGE', `short read of ${this.where(key)}: got ${body.length} of ${length} bytes at offset ${offset}`, { key });
    }
    if (into === undefined || into.length < length) return new Uint8Array(body.buffer, body.byteOffset, length);
    into.set(body.subarray(0, length));
    return into.subarray(0, length);
  }

  /**
   * The whole object (one media GET) and its ETag (the MD5 of the bytes, hex).
   * @throws LtxvfsError `LTXVFS_ERR_NOT_FOUND`, `LTXVFS_ERR_STORAGE`, `LTXVFS_ERR_BAD_KEY`, `LTXVFS_ERR_CLOSED`.
   */
  async read(key: string): Promise<{ data: Uint8Array; etag: string }> {
    this.checkOpen();
    this.checkKey(key);
    const body = await this.call('read', key, () => this.media(key, 0, undefined));
    return { data: new Uint8Array(body.buffer, body.byteOffset, body.length), etag: md5Hex(body) };
  }

  /**
   * One upload (objects are replaced atomically by Cloud Storage), with
   * `metadata.litestream-timestamp` = `timestamp` as RFC 3339 with ns, `contentType`
   * (default `application/octet-stream`) and `md5Hash`; `ifNoneMatch` is
   * `ifGenerationMatch=0`, `ifMatch` a metadata GET then `ifGenerationMatch=<generation>`.
   * A conditional upload that fails its precondition after a retry is checked: if the
   * object now holds exactly these bytes, the earlier attempt landed and the write succeeded.
   * @returns the ETag (MD5 of `data`, hex).
   * @throws LtxvfsError `LTXVFS_ERR_PRECONDITION` (the object exists / has another ETag /
   *   does not exist with `ifMatch`); `LTXVFS_ERR_STORAGE`; `LTXVFS_ERR_BAD_KEY`;
   *   `LTXVFS_ERR_USAGE` (both conditions, bad timestamp); `LTXVFS_ERR_CLOSED`.
   */
  async write(key: string, data: Uint8Array, options: WriteOptions = {}): Promise<{ etag: string }> {
    this.checkOpen();
    this.checkKey(key);
    const { ifNoneMatch = false, ifMatch, timestamp, contentType = 'application/octet-stream' } = options;
    if (ifNoneMatch && ifMatch !== undefined) {
      throw new LtxvfsError('LTXVFS_ERR_USAGE', `write ${key}: ifNoneMatch and ifMatch cannot both be given`, { key });
    }
    const custom: Record<string, string> = {};
    if (timestamp !== undefined) {
      try {
        custom[GS_METADATA_KEY_TIMESTAMP] = formatRfc3339Nano(timestamp);
      } catch {
        throw new LtxvfsError('LTXVFS_ERR_USAGE', `write ${key}: bad timestamp ${String(timestamp)}`, { key });
      }
    }
    const buf = Buffer.from(data.buffer, data.byteOffset, data.byteLength);
    const md5 = createHash('md5').update(buf).digest();
    const etag = md5.toString('hex');
    const generation = ifMatch === undefined ? (ifNoneMatch ? 0 : undefined) : await this.generationOf('write', key, ifMatch);
    const condition = ifNoneMatch ? 'if-none-match *' : `if-match ${String(ifMatch)}`;
    const file = this.#bucket.file(key);
    try {
      await this.call('write', key, () => file.save(buf, {
        resumable: false,
        validation: false,
        contentType,
        metadata: { contentType, md5Hash: md5.toString('base64'), ...(timestamp === undefined ? {} : { metadata: custom }) },
        ...(generation === undefined ? {} : { preconditionOpts: { ifGenerationMatch: generation } }),
      }), async (err, attempt) => {
        if (statusOf(err) !== 412 || attempt.attempt === 1) return false;
        const now = await this.metadataOf('write', key).catch(() => undefined);
        return now?.md5Hash !== undefined && Buffer.from(now.md5Hash, 'base64').equals(md5);
      });
    } catch (err) {
      if (err instanceof LtxvfsError && err.code === 'LTXVFS_ERR_PRECONDITION') {
        throw new LtxvfsError('LTXVFS_ERR_PRECONDITION', `precondition failed for ${this.where(key)}: ${ifNoneMatch ? 'object exists' : 'etag differs'} (${condition})`, {
          key, status: 412, cause: err,
        });
      }
      throw err;
    }
    return { etag };
  }

  /**
   * Delete an object; a missing one is fine without `ifMatch`. With `ifMatch`: a metadata
   * GET, then a delete with `ifGenerationMatch=<generation>`.
   * @throws LtxvfsError `LTXVFS_ERR_PRECONDITION`, `LTXVFS_ERR_STORAGE`, `LTXVFS_ERR_BAD_KEY`, `LTXVFS_ERR_CLOSED`.
   */
  async delete(key: string, options: { ifMatch?: string } = {}): Promise<void> {
    this.checkOpen();
    this.checkKey(key);
    const { ifMatch } = options;
    const generation = ifMatch === undefined ? undefined : await this.generationOf('delete', key, ifMatch);
    const file = this.#bucket.file(key);
    try {
      await this.call('delete', key, () => file.delete(generation === undefined ? {} : { ifGenerationMatch: generation }), (err, attempt) =>
        statusOf(err) === 404 && (ifMatch === undefined || attempt.attempt > 1));
    } catch (err) {
      if (err instanceof LtxvfsError && err.code === 'LTXVFS_ERR_PRECONDITION') {
        throw new LtxvfsError('LTXVFS_ERR_PRECONDITION', `precondition failed for ${this.where(key)}: etag differs (if-match ${String(ifMatch)})`, { key, status: 412, cause: err });
      }
      if (err instanceof LtxvfsError && err.code === 'LTXVFS_ERR_NOT_FOUND' && ifMatch !== undefined && !/bucket does not exist/.test(err.message)) {
        throw new LtxvfsError('LTXVFS_ERR_PRECONDITION', `precondition failed for ${this.where(key)}: object does not exist (if-match ${ifMatch})`, { key, status: 404, cause: err });
      }
      throw err;
    }
  }

  /** Stop retries and fail later calls with `LTXVFS_ERR_CLOSED`. Idempotent. */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    this.#closing.abort(this.closedError());
  }

  // ---- internals ----

  private where(key: string): string {
    return `gs://${this.bucketName}/${key}`;
  }

  /** Names: non-empty, ≤ 1024 bytes, inside the replica prefix, no `.`/`..` segments. */
  private checkKey(key: string): void {
    const bad = (why: string) => new LtxvfsError('LTXVFS_ERR_BAD_KEY', `bad key ${JSON.stringify(key)}: ${why}`, { key });
    if (typeof key !== 'string' || key === '') throw bad('empty');
    if (Buffer.byteLength(key) > MAX_KEY_BYTES) throw bad(`longer than ${MAX_KEY_BYTES} bytes`);
    if (this.prefix !== '' && !key.startsWith(`${this.prefix}/`)) throw bad(`outside the replica prefix ${this.prefix}/`);
    if (key.split('/').some((s) => s === '.' || s === '..')) throw bad('has a . or .. segment');
    if (/[\r\n]/.test(key)) throw bad('has a line break (Cloud Storage refuses it)');
  }

  private checkOpen(): void {
    if (this.#closed) throw this.closedError();
  }

  private closedError(): LtxvfsError {
    return new LtxvfsError('LTXVFS_ERR_CLOSED', `replica client is closed: ${this.url}`);
  }

  /** One metadata GET. @throws LtxvfsError `LTXVFS_ERR_NOT_FOUND` and what {@link call} throws. */
  private async metadataOf(verb: string, key: string): Promise<ObjectMetadata> {
    const [meta] = await this.call(verb, key, () => this.#bucket.file(key).getMetadata());
    return meta as ObjectMetadata;
  }

  /** The generation of `key` when its MD5 is `etag`. @throws LtxvfsError `LTXVFS_ERR_PRECONDITION` otherwise (or when missing). */
  private async generationOf(verb: string, key: string, etag: string): Promise<number> {
    let meta: ObjectMetadata;
    try {
      meta = await this.metadataOf(verb, key);
    } catch (err) {
      if (err instanceof LtxvfsError && err.code === 'LTXVFS_ERR_NOT_FOUND' && !/bucket does not exist/.test(err.message)) {
        throw new LtxvfsError('LTXVFS_ERR_PRECONDITION', `precondition failed for ${this.where(key)}: object does not exist (if-match ${etag})`, { key, status: 404 });
      }
      throw err;
    }
    const current = meta.md5Hash === undefined ? undefined : Buffer.from(meta.md5Hash, 'base64').toString('hex');
    if (current !== etag || meta.generation === undefined) {
      throw new LtxvfsError('LTXVFS_ERR_PRECONDITION', `precondition failed for ${this.where(key)}: etag differs (if-match ${etag})`, { key, status: 412 });
    }
    return Number(meta.generation);
  }

  /** One media GET (media.ts) within the request deadline, aborted by close; its bytes are counted. */
  private media(key: string, offset: number, length: number | undefined): Promise<Buffer> {
    return mediaGet(this.#bucket.file(key), offset, length, {
      timeoutMs: this.#config.requestTimeoutMs,
      closing: this.#closing.signal,
      received: (bytes) => (this.#stats.bytesRead += bytes),
    });
  }

  /**
   * Run one vendor call with retries. `accept(err, attempt)` may turn a final failure into
   * success (a 404 delete, a write whose earlier attempt landed).
   */
  private async call<T>(verb: string, key: string, op: () => Promise<T>, accept?: (err: unknown, attempt: RetryAttempt) => boolean | Promise<boolean>): Promise<T> {
    try {
      return await withRetry(async (attempt) => {
        this.checkOpen();
        this.#stats.requests++;
        try {
          return await op();
        } catch (err) {
          if (accept !== undefined && await accept(err, attempt)) return undefined as T;
          throw classify(verb, this.bucketName, key, err);
        }
      }, this.#config.retry, {
        signal: this.#closing.signal,
        onRetry: () => {
          this.#stats.retries++;
        },
      });
    } catch (err) {
      this.#stats.failures++;
      if (this.#closed) throw this.closedError();
      if (err instanceof RetryExhaustedError) {
        const last = err.last as LtxvfsError;
        throw new LtxvfsError(last.code, err.message, { key: last.key, status: last.status, cause: last });
      }
      if (err instanceof TransientError) throw err.error;
      if (err instanceof LtxvfsError) throw err;
      throw gsError(verb, this.bucketName, key, err);
    }
  }
}

function md5Hex(data: Uint8Array): string {
  return createHash('md5').update(data).digest('hex');
}
