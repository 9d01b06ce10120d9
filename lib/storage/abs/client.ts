/**
 * The abs:// replica client: a Litestream v0.5 replica in an Azure Blob Storage container,
 * through Microsoft's `@azure/storage-blob` (an optional peer dependency, loaded by
 * index.ts only when an abs:// replica is opened).
 *
 * Layout (litestream abs/replica_client.go, `litestream.LTXFilePath`): an LTX file is the
 * blob `PATH/ltx/<level decimal>/<min %016x>-<max %016x>.ltx` (`ltx/…` at the container
 * root); the LTX header timestamp is the blob metadata `litestreamtimestamp` (RFC 3339
 * with ns, Go's time.RFC3339Nano — Azure metadata names cannot hold `-`). Listings ask for
 * metadata, so one List Blobs request per page of 5000 gives every file's timestamp (no
 * request per file, unlike S3's HEADs): listing.ts.
 *
 * Requests: ranged reads are Get Blob with `x-ms-range` (`download(offset, count)`),
 * writes are one Put Blob (`upload`) with `If-None-Match: *` or `If-Match: <ETag>`, which
 * Azure checks atomically (409 BlobAlreadyExists / 412 ConditionNotMet) — so conditional
 * writes are `'atomic'` and the lease (lib/write/lease.ts) uses them as on S3
 * (`'conditional-write'`); what a refused condition means: conditions.ts. Litestream
 * itself uploads without conditions.
 *
 * Faults: the SDK's own retries are off (one try); every request runs under
 * ../retry.ts `withRetry` with a per-attempt deadline (`requestTimeoutMs`, headers and
 * body: an abort signal that the SDK's HTTP client turns into a destroyed socket), and
 * errors.ts decides what is transient. Nothing partial is returned. `close()` aborts
 * requests in flight; later calls fail with `LTXVFS_ERR_CLOSED`.
 */
import type { AbsClientTuning } from './options.js';
import { createHash } from 'node:crypto';
import type { BlockBlobClient, ContainerClient } from '@azure/storage-blob';
import { LtxvfsError } from '../../../ltx/errors.js';
import { RetryExhaustedError, retryPolicyOf, TransientError, withRetry, type RetryAttempt, type RetryPolicy } from '../retry.js';
import { formatRfc3339Nano } from '../rfc3339.js';
import { checkReadRange, ltxFileKey, ltxLevelPrefix, prefixedKey, sortByTxidRange } from '../layout.js';
import { classifyLtxName, StrayLog } from '../strays.js';
import type { LtxFileInfo, ReplicaCapabilities, ReplicaClient, StrayEntry, WriteOptions } from '../types.js';
import type { AbsConfig } from './config.js';
import { blobState, failedCondition, preconditionError, type BlobState } from './conditions.js';
import { azureErrorCode, sdkError, statusOf } from './errors.js';
import { ABS_METADATA_KEY_TIMESTAMP, blobCreatedAt, listBlobs } from './listing.js';

/** Ranged reads, atomic conditional Put Blob (the lease's lock too), remote latency, no temporary blobs. */
export const ABS_CAPABILITIES: ReplicaCapabilities = Object.freeze({
  rangeReads: true,
  conditionalWrites: 'atomic',
  leaseLock: 'conditional-write',
  latency: 'remote',
  tempFileRoot: undefined,
});


export type { AbsClientTuning } from './options.js';

/** Requests sent so far by one client, by kind. */
export interface AbsClientStats {
  requests: { list: number; get: number; head: number; put: number; delete: number };
  /** Body bytes received by reads. */
  bytesDownloaded: number;
}

type Op = keyof AbsClientStats['requests'];

/** Azure's limit on blob names, characters. */
const MAX_KEY_CHARS = 1024;

/** A {@link ReplicaClient} over an Azure Blob container prefix. Create it with `openAbsReplica` (index.ts). */
export class AbsReplicaClient implements ReplicaClient {
  /** {@link ABS_CAPABILITIES}. */
  readonly capabilities: ReplicaCapabilities = ABS_CAPABILITIES;
  /** `abs://[account@]container/path`, plus `?endpoint=…` when one was given; never a credential. */
  readonly url: string;
  /** The container. */
  readonly container: string;
  /** Blob name prefix, `''` for the container root. */
  readonly prefix: string;

  readonly #blobs: ContainerClient;
  readonly #account: string;
  readonly #policy: RetryPolicy;
  readonly #timeoutMs: number;
  readonly #listPageSize: number;
  readonly #closing = new AbortController();
  readonly #strays = new StrayLog();
  readonly #stats: AbsClientStats = { requests: { list: 0, get: 0, head: 0, put: 0, delete: 0 }, bytesDownloaded: 0 };
  #closed = false;

  /**
   * Use `openAbsReplica`, which resolves the configuration and the SDK client.
   * @throws LtxvfsError `LTXVFS_ERR_USAGE` for a tuning option out of range.
   */
  constructor(config: AbsConfig, blobs: ContainerClient, tuning: AbsClientTuning = {}) {
    this.url = config.url;
    this.container = config.container;
    this.prefix = config.prefix;
    this.#account = config.account ?? blobs.accountName;
    this.#blobs = blobs;
    const int = (name: string, v: number | undefined, dflt: number, min: number, max: number) => {
      const value = v ?? dflt;
      if (!Number.isSafeInteger(value) || value < min || value > max) {
        throw new LtxvfsError('LTXVFS_ERR_USAGE', `${this.url}: bad ${name} ${String(value)}: need an integer in ${min}…${max}`);
      }
      return value;
    };
    this.#timeoutMs = int('requestTimeoutMs', tuning.requestTimeoutMs, 10_000, 1, 2 ** 31 - 1);
    this.#listPageSize = int('listPageSize', tuning.listPageSize, 5000, 1, 5000);
    this.#policy = retryPolicyOf(tuning, this.url);
  }

  /** `<path>/ltx/<level>/<min>-<max>.ltx` (`ltx/…` at the container root), as Litestream names it. */
  ltxKey(level: number, minTXID: number, maxTXID: number): string {
    return ltxFileKey(this.prefix, level, minTXID, maxTXID);
  }

  /** `<path>/<name>`, or `name` at the container root (the lease's `lock.json`). */
  objectKey(name: string): string {
    return prefixedKey(this.prefix, name);
  }

  /**
   * The LTX files of one level from List Blobs pages with metadata (`createdAt` is the
   * `litestreamtimestamp` metadata, else Last-Modified — with or without `useMetadata`,
   * at no extra cost). Sorted by (minTXID, maxTXID); names deeper than the level or not
   * LTX file names are skipped; LTX-shaped impossible names go to {@link strays}.
   * @throws LtxvfsError `LTXVFS_ERR_NOT_FOUND` (no such container), `LTXVFS_ERR_STORAGE`, `LTXVFS_ERR_CLOSED`, `LTXVFS_ERR_USAGE` (bad level).
   */
  async listLtxFiles(level: number, options: { seekTXID?: number; useMetadata?: boolean } = {}): Promise<LtxFileInfo[]> {
    this.checkOpen();
    const prefix = ltxLevelPrefix(this.prefix, level);
    const seek = options.seekTXID ?? 0;
    const files: LtxFileInfo[] = [];
    for await (const item of this.listBlobs(prefix, Infinity)) {
      const name = item.name.slice(prefix.length);
      if (name.includes('/')) continue;
      const found = classifyLtxName(name);
      if (found.kind === 'stray') this.#strays.add({ key: item.name, reason: found.reason });
      if (found.kind !== 'ltx' || found.minTXID < seek) continue;
      const createdAt = blobCreatedAt(item, this.where(item.name));
      files.push({ level, minTXID: found.minTXID, maxTXID: found.maxTXID, size: item.properties.contentLength ?? 0, createdAt, key: item.name });
    }
    return sortByTxidRange(files);
  }

  /** See `ReplicaClient.listKeys`: blob names under `<path>/<prefix>/`, at most `limit`. */
  async listKeys(prefix: string, limit: number): Promise<string[]> {
    this.checkOpen();
    const keys: string[] = [];
    for await (const item of this.listBlobs(this.objectKey(prefix.endsWith('/') ? prefix : `${prefix}/`), limit)) keys.push(item.name);
    return keys;
  }

  /**
   * Exactly `length` bytes of `key` from `offset`: one Get Blob with a range. `length` 0
   * costs a Get Blob Properties (a missing key is still missing).
   * @throws LtxvfsError `LTXVFS_ERR_NOT_FOUND`; `LTXVFS_ERR_STORAGE` ("short read" when the
   *   blob ends first, or I/O); `LTXVFS_ERR_BAD_KEY`; `LTXVFS_ERR_USAGE` (bad range); `LTXVFS_ERR_CLOSED`.
   */
  async readRange(key: string, offset: number, length: number, into?: Uint8Array): Promise<Uint8Array> {
    this.checkOpen();
    this.checkKey(key);
    checkReadRange(key, offset, length);
    if (length === 0) {
      await this.call('head', key, (signal) => this.blob(key).getProperties({ abortSignal: signal }));
      return new Uint8Array(0);
    }
    const shortRead = (got: number, size: number | undefined) =>
      new LtxvfsError('LTXVFS_ERR_STORAGE', `short read of ${this.where(key)}: got ${got} of ${length} bytes at offset ${offset}${size === undefined ? '' : ` (object is ${size} bytes)`}`, { key });
    return this.call('get', key, async (signal) => {
      let res;
      try {
        res = await this.blob(key).download(offset, length, { abortSignal: signal, maxRetryRequests: 0 });
      } catch (err) {
        // Real Azure answers 416 InvalidRange for a range starting at or after the end.
        if (statusOf(err) === 416) throw shortRead(0, undefined);
        throw err;
      }
      const body = await this.readBody(res.readableStreamBody, into, length);
      if (body.length >= length) return body.subarray(0, length);
      const total = /\/(\d+)$/.exec(res.contentRange ?? '')?.[1];
      const size = total === undefined ? undefined : Number(total);
      if ((size !== undefined && offset + body.length >= size) || body.length === res.contentLength) throw shortRead(body.length, size);
      throw new TransientError(new LtxvfsError('LTXVFS_ERR_STORAGE', `get ${this.where(key)}: body has ${body.length} of ${length} bytes at offset ${offset}`, { key }));
    });
  }

  /**
   * The whole blob and its ETag (one Get Blob).
   * @throws LtxvfsError `LTXVFS_ERR_NOT_FOUND`, `LTXVFS_ERR_STORAGE`, `LTXVFS_ERR_BAD_KEY`, `LTXVFS_ERR_CLOSED`.
   */
  async read(key: string): Promise<{ data: Uint8Array; etag: string }> {
    this.checkOpen();
    this.checkKey(key);
    return this.call('get', key, async (signal) => {
      const res = await this.blob(key).download(0, undefined, { abortSignal: signal, maxRetryRequests: 0 });
      const data = await this.readBody(res.readableStreamBody, undefined, 0);
      if (res.contentLength !== undefined && data.length !== res.contentLength) {
        throw new TransientError(new LtxvfsError('LTXVFS_ERR_STORAGE', `get ${this.where(key)}: body has ${data.length} of ${res.contentLength} bytes`, { key }));
      }
      return { data, etag: this.requireEtag('get', key, res.etag) };
    });
  }

  /**
   * One Put Blob (block blob, replaced atomically): `If-None-Match: *` for `ifNoneMatch`,
   * `If-Match` for `ifMatch`, metadata `litestreamtimestamp` = `timestamp` (RFC 3339 with
   * ns), the content type (default `application/octet-stream`) and the MD5 as the blob's
   * Content-MD5. A conditional write that fails *after a retry* checks whether the blob
   * now holds these bytes (its Content-MD5): then the earlier attempt landed.
   * @returns the new ETag.
   * @throws LtxvfsError `LTXVFS_ERR_PRECONDITION` (409 BlobAlreadyExists, 412; with
   *   `ifMatch` also a missing blob); `LTXVFS_ERR_STORAGE`; `LTXVFS_ERR_BAD_KEY`;
   *   `LTXVFS_ERR_USAGE` (both conditions, bad timestamp); `LTXVFS_ERR_CLOSED`.
   */
  async write(key: string, data: Uint8Array, options: WriteOptions = {}): Promise<{ etag: string }> {
    this.checkOpen();
    this.checkKey(key);
    const { ifNoneMatch = false, ifMatch, timestamp, contentType = 'application/octet-stream' } = options;
    if (ifNoneMatch && ifMatch !== undefined) {
      throw new LtxvfsError('LTXVFS_ERR_USAGE', `write ${key}: ifNoneMatch and ifMatch cannot both be given`, { key });
    }
    const metadata: Record<string, string> = {};
    if (timestamp !== undefined) {
      try {
        metadata[ABS_METADATA_KEY_TIMESTAMP] = formatRfc3339Nano(timestamp);
      } catch {
        throw new LtxvfsError('LTXVFS_ERR_USAGE', `write ${key}: bad timestamp ${String(timestamp)}`, { key });
      }
    }
    const md5 = createHash('md5').update(data).digest();
    const conditions = ifNoneMatch ? { ifNoneMatch: '*' } : ifMatch === undefined ? undefined : { ifMatch };
    const body = Buffer.from(data.buffer, data.byteOffset, data.byteLength);
    return this.call('put', key, async (signal, attempt) => {
      try {
        const res = await this.blob(key).upload(body, body.length, {
          abortSignal: signal,
          metadata,
          conditions,
          blobHTTPHeaders: { blobContentType: contentType, blobContentMD5: md5 },
        });
        return { etag: this.requireEtag('put', key, res.etag) };
      } catch (err) {
        if (conditions === undefined || !failedCondition(err)) throw err;
        if (attempt.attempt > 1) {
          const landed = await this.properties(key, signal);
          if (landed !== undefined && landed.md5 === md5.toString('base64')) return { etag: landed.etag };
        }
        throw await preconditionError(key, this.where(key), ifNoneMatch ? 'if-none-match *' : `if-match ${String(ifMatch)}`, () => this.properties(key, signal), err);
      }
    });
  }

  /**
   * Delete a blob (with `If-Match` when given). A missing blob is fine without `ifMatch`;
   * with it, a missing blob or another ETag fails the precondition — except a missing blob
   * after a retry, which an earlier attempt deleted.
   * @throws LtxvfsError `LTXVFS_ERR_PRECONDITION`, `LTXVFS_ERR_STORAGE`, `LTXVFS_ERR_BAD_KEY`, `LTXVFS_ERR_CLOSED`.
   */
  async delete(key: string, options: { ifMatch?: string } = {}): Promise<void> {
    this.checkOpen();
    this.checkKey(key);
    const { ifMatch } = options;
    await this.call('delete', key, async (signal, attempt) => {
      try {
        await this.blob(key).delete({ abortSignal: signal, conditions: ifMatch === undefined ? undefined : { ifMatch } });
      } catch (err) {
        const missing = statusOf(err) === 404 && azureErrorCode(err) !== 'ContainerNotFound';
        if (missing && (ifMatch === undefined || attempt.attempt > 1)) return;
        if (ifMatch === undefined || !failedCondition(err)) throw err;
        if (attempt.attempt > 1 && (await this.properties(key, signal)) === undefined) return;
        throw await preconditionError(key, this.where(key), `if-match ${ifMatch}`, () => this.properties(key, signal), err);
      }
    });
  }

  /** LTX-shaped names listings left out because they cannot be LTX files, with the reason. */
  strays(): StrayEntry[] {
    return this.#strays.list();
  }

  /** Requests and bytes so far (a copy). */
  stats(): AbsClientStats {
    return { requests: { ...this.#stats.requests }, bytesDownloaded: this.#stats.bytesDownloaded };
  }

  /** Abort requests in flight and stop retries. Idempotent. */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    this.#closing.abort(this.closedError());
  }

  // ---- internals ----

  /**
   * Run one request under the retry policy, each attempt with its own deadline; SDK
   * failures become errors.ts's errors, a closed client `LTXVFS_ERR_CLOSED`.
   */
  private async call<T>(op: Op, key: string, attemptFn: (signal: AbortSignal, attempt: RetryAttempt) => Promise<T>): Promise<T> {
    try {
      return await withRetry(async (attempt) => {
        this.checkOpen();
        const deadline = new AbortController();
        const timer = setTimeout(() => deadline.abort(), this.#timeoutMs);
        this.#stats.requests[op]++;
        try {
          return await attemptFn(AbortSignal.any([this.#closing.signal, deadline.signal]), attempt);
        } catch (err) {
          if (this.#closed) throw this.closedError();
          if (err instanceof LtxvfsError || err instanceof TransientError) throw err;
          throw sdkError(err, op, key, this.where(key), this.container, deadline.signal.aborted, this.#timeoutMs);
        } finally {
          clearTimeout(timer);
        }
      }, this.#policy, { signal: this.#closing.signal });
    } catch (err) {
      if (this.#closed) throw this.closedError();
      if (err instanceof RetryExhaustedError) {
        const last = err.last as LtxvfsError;
        throw new LtxvfsError(last.code, err.message, { key: last.key, status: last.status, cause: last });
      }
      throw err;
    }
  }

  /** The blobs under `prefix` (with metadata), each page one retried `list` request; stops after `limit` (listing.ts). */
  private listBlobs(prefix: string, limit: number) {
    return listBlobs(this.#blobs, (key, attemptFn) => this.call('list', key, attemptFn), prefix, limit, this.#listPageSize);
  }

  /** A response body (`length` 0: any size) collected, into `into` when it fits. */
  private async readBody(stream: NodeJS.ReadableStream | undefined, into: Uint8Array | undefined, length: number): Promise<Uint8Array> {
    const chunks: Buffer[] = [];
    let total = 0;
    for await (const chunk of stream ?? []) {
      const b = typeof chunk === 'string' ? Buffer.from(chunk) : (chunk as Buffer);
      chunks.push(b);
      total += b.length;
    }
    this.#stats.bytesDownloaded += total;
    if (into !== undefined && length > 0 && total <= into.length) {
      let at = 0;
      for (const c of chunks) {
        into.set(c, at);
        at += c.length;
      }
      return into.subarray(0, total);
    }
    return chunks.length === 1 ? chunks[0] : Buffer.concat(chunks, total);
  }

  /** ETag and Content-MD5 (base64) of `key`, or undefined when it does not exist: one Get Blob Properties, counted. */
  private properties(key: string, signal: AbortSignal): Promise<BlobState | undefined> {
    this.#stats.requests.head++;
    return blobState(this.blob(key), signal);
  }

  private blob(key: string): BlockBlobClient {
    return this.#blobs.getBlockBlobClient(key);
  }

  private where(key: string): string {
    return `abs://${this.#account}@${this.container}/${key}`;
  }

  /** Blob names: non-empty, ≤ 1024 characters, inside the replica prefix, no `.`/`..` segments (URLs would resolve them). */
  private checkKey(key: string): void {
    const bad = (why: string) => new LtxvfsError('LTXVFS_ERR_BAD_KEY', `bad key ${JSON.stringify(key)}: ${why}`, { key });
    if (typeof key !== 'string' || key === '') throw bad('empty');
    if (key.length > MAX_KEY_CHARS) throw bad(`longer than ${MAX_KEY_CHARS} characters`);
    if (this.prefix !== '' && !key.startsWith(`${this.prefix}/`)) throw bad(`outside the replica prefix ${this.prefix}/`);
    if (key.split('/').some((s) => s === '.' || s === '..')) throw bad('has a . or .. segment');
  }

  private requireEtag(op: string, key: string, etag: string | undefined): string {
    if (etag === undefined || etag === '') throw new LtxvfsError('LTXVFS_ERR_STORAGE', `${op} ${this.where(key)}: response has no ETag`, { key });
    return etag;
  }

  private checkOpen(): void {
    if (this.#closed) throw this.closedError();
  }

  private closedError(): LtxvfsError {
    return new LtxvfsError('LTXVFS_ERR_CLOSED', `replica client is closed: ${this.url}`);
  }
}
