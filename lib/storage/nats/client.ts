/**
 * The nats:// replica client: a Litestream v0.5 replica in a NATS JetStream object store
 * bucket, through the `nats` library's `ObjectStore` (one connection per client, opened by
 * index.ts). Layout as Litestream's nats/replica_client.go writes it: objects
 * `ltx/<level decimal>/<min %016x>-<max %016x>.ltx` at the bucket root (the URL's path is
 * the bucket; no prefix), the LTX header time in the object header `Litestream-Timestamp`.
 *
 * - **Reads**: the object store has no ranged read — a `get` streams every 128 KiB chunk
 *   of the object (Litestream's `OpenLTXFile` reads from the start and discards up to the
 *   offset). So `rangeReads: false`, and `readRange` serves ranges out of a small bounded
 *   cache of whole objects (object-cache.ts): the fetcher's many range reads of one LTX
 *   file cost one `get` while the file stays cached. `read` always fetches afresh (the
 *   lease reads `lock.json` through it). The library checks each object's SHA-256 digest.
 * - **Conditional writes** (`'atomic'`): the object store's put publishes the chunks and
 *   then one metadata message; the library's `previousRevision` sends that message with
 *   `Nats-Expected-Last-Subject-Sequence`, which the server checks in the same step as it
 *   stores it (JetStream's optimistic concurrency). Create-only expects the sequence of the
 *   key's last metadata message (0 for a name never used, the delete marker's for a deleted
 *   one); if-match reads the current metadata, compares the ETag (the object's digest,
 *   `SHA-256=…`: equal bytes, equal ETag), and expects that revision — so a writer that
 *   replaced the object in between makes the put fail (`err_code` 10071, "wrong last
 *   sequence"), and the loser's chunks are purged by the library. Conditional delete
 *   writes the delete marker the same way (conditional.ts). That makes the write path
 *   and the lease (`leaseLock: 'conditional-write'`) safe among ltxvfs writers; Litestream
 *   itself takes no lease on NATS.
 * - **Faults**: every attempt has a deadline (`requestTimeoutMs`); timeouts, a connection
 *   that is down (the library reconnects without end, as Litestream's client does) and 5xx
 *   JetStream answers are retried within `retryBudgetMs` (../retry.ts). Final errors name
 *   `nats://host:port/bucket/<key>` and never the credentials.
 */
import { createHash } from 'node:crypto';
import { LtxvfsError } from '../../../ltx/errors.js';
import { checkReadRange, ltxFileKey, ltxLevelPrefix } from '../layout.js';
import { formatRfc3339Nano } from '../rfc3339.js';
import { checkRetryPolicy, withRetry, type RetryAttempt, type RetryPolicy } from '../retry.js';
import { StrayLog } from '../strays.js';
import type { LtxFileInfo, ReplicaCapabilities, ReplicaClient, StrayEntry, WriteOptions } from '../types.js';
import { conditionalDelete, type NatsParts } from './conditional.js';
import { DeadlineError, hasJsErrCode, JS_WRONG_LAST_SEQUENCE, retryable, storageError } from './errors.js';
import { HEADER_TIMESTAMP, listObjects, ltxFilesOf, type MetaWatch, type ObjectMetaRecord } from './listing.js';
import { ObjectCache, type CachedObject } from './object-cache.js';

/** Timeouts, retries and the object cache of a {@link NatsReplicaClient}; times in ms. */
export interface NatsClientSettings {
  /** Deadline of one attempt of one operation (a whole `get` stream included). */
  requestTimeoutMs: number;
  /** Retries of transient failures. */
  retry: RetryPolicy;
  /** Bytes of whole objects kept for `readRange`. */
  objectCacheBytes: number;
}

/** Requests a client made (for stats and measurements). */
export interface NatsClientStats {
  /** Object `get`s (each streams a whole object). */
  gets: number;
  /** Bucket listings (`watch` over the metadata subjects). */
  lists: number;
  /** Metadata look-ups (`info`). */
  infos: number;
  /** Puts and deletes. */
  writes: number;
  /** Object bytes received by `get`s. */
  bytesRead: number;
  /** Range reads served by the whole-object cache (or a `get` already in flight). */
  cacheHits: number;
}

/** What every nats:// client declares (module doc). */
export const NATS_CAPABILITIES: ReplicaCapabilities = Object.freeze({
  rangeReads: false,
  conditionalWrites: 'atomic',
  leaseLock: 'conditional-write',
  latency: 'remote',
  tempFileRoot: undefined,
});

/** A {@link ReplicaClient} over a NATS JetStream object store bucket. Create it with `openNatsReplica` (index.ts). */
export class NatsReplicaClient implements ReplicaClient {
  /** {@link NATS_CAPABILITIES}. */
  readonly capabilities: ReplicaCapabilities = NATS_CAPABILITIES;
  /** `nats://host:port/bucket`, never with credentials. */
  readonly url: string;
  private readonly strayLog = new StrayLog();
  private readonly cache: ObjectCache;
  private readonly counts = { gets: 0, lists: 0, infos: 0, writes: 0, bytesRead: 0 };
  private closed = false;
  readonly #nats: NatsParts;
  readonly #settings: NatsClientSettings;

  /**
   * Use `openNatsReplica`, which connects and checks the bucket.
   * @throws LtxvfsError `LTXVFS_ERR_USAGE` for a bad setting.
   */
  constructor(url: string, nats: NatsParts, settings: NatsClientSettings) {
    this.url = url;
    this.#nats = nats;
    this.#settings = settings;
    const bad = checkRetryPolicy(settings.retry);
    if (bad !== undefined) throw new LtxvfsError('LTXVFS_ERR_USAGE', `${url}: ${bad}`);
    this.cache = new ObjectCache(settings.objectCacheBytes);
  }

  /** `ltx/<level decimal>/<min>-<max>.ltx` (litestream `LTXFilePath` with an empty path). @throws LtxvfsError `LTXVFS_ERR_USAGE` for a bad level or TXID range. */
  ltxKey(level: number, minTXID: number, maxTXID: number): string {
    return ltxFileKey('', level, minTXID, maxTXID);
  }

  /** `name` itself: replica-level objects (`lock.json`) live at the bucket root. @throws LtxvfsError `LTXVFS_ERR_BAD_KEY`. */
  objectKey(name: string): string {
    this.checkKey(name);
    return name;
  }

  /**
   * The LTX files of one level from one listing of the whole bucket (module doc of
   * listing.ts); `createdAt` is always the `Litestream-Timestamp` header (the listing
   * carries it), so `useMetadata` costs nothing more.
   * @throws LtxvfsError `LTXVFS_ERR_USAGE` (bad level), `LTXVFS_ERR_STORAGE`, `LTXVFS_ERR_CLOSED`.
   */
  async listLtxFiles(level: number, options: { seekTXID?: number; useMetadata?: boolean } = {}): Promise<LtxFileInfo[]> {
    this.checkOpen();
    const prefix = ltxLevelPrefix('', level);
    const objects = await this.listAll(prefix);
    return ltxFilesOf(objects, level, prefix, options.seekTXID ?? 0, this.strayLog, this.url);
  }

  /** See `ReplicaClient.listKeys`: names under `prefix/` from one listing of the bucket. */
  async listKeys(prefix: string, limit: number): Promise<string[]> {
    this.checkOpen();
    const folder = prefix.endsWith('/') ? prefix : `${prefix}/`;
    this.checkKey(folder.slice(0, -1));
    return (await this.listAll(folder)).map((o) => o.name).filter((n) => n.startsWith(folder)).slice(0, limit);
  }

  /** LTX-shaped names listings left out because they cannot be LTX files, with the reason. */
  strays(): StrayEntry[] {
    return this.strayLog.list();
  }

  /**
   * Exactly `length` bytes of `key` from `offset`, cut from the whole object (one `get`
   * unless it is cached or being fetched). `into` is not used (the object is kept whole).
   * @throws LtxvfsError `LTXVFS_ERR_NOT_FOUND`, `LTXVFS_ERR_STORAGE` ("short read", I/O),
   *   `LTXVFS_ERR_BAD_KEY`, `LTXVFS_ERR_USAGE` (bad range), `LTXVFS_ERR_CLOSED`.
   */
  async readRange(key: string, offset: number, length: number): Promise<Uint8Array> {
    this.checkOpen();
    this.checkKey(key);
    checkReadRange(key, offset, length);
    const { data } = await this.cache.get(key, () => this.fetch(key));
    const end = Math.min(data.byteLength, offset + length);
    const got = Math.max(0, end - offset);
    if (got < length) {
      throw new LtxvfsError('LTXVFS_ERR_STORAGE', `short read of ${this.where(key)}: got ${got} of ${length} bytes at offset ${offset}`, { key });
    }
    return data.slice(offset, end); // a copy: callers may reuse it, the cached object stays intact
  }

  /**
   * The whole object and its ETag (digest), always from the server.
   * @throws LtxvfsError `LTXVFS_ERR_NOT_FOUND`, `LTXVFS_ERR_STORAGE`, `LTXVFS_ERR_BAD_KEY`, `LTXVFS_ERR_CLOSED`.
   */
  async read(key: string): Promise<{ data: Uint8Array; etag: string }> {
    this.checkOpen();
    this.checkKey(key);
    return this.fetch(key);
  }

  /**
   * One object store put (chunks, then the metadata message that makes it visible): header
   * `Litestream-Timestamp` = `timestamp` as RFC 3339 with ns; `ifNoneMatch` / `ifMatch` as
   * the module doc says. `contentType` is not stored (objects have no content type). A
   * conditional put that fails after a retry counts as done when the object now holds
   * exactly these bytes (an earlier attempt landed).
   * @returns the ETag: `SHA-256=<base64url digest>`.
   * @throws LtxvfsError `LTXVFS_ERR_PRECONDITION`, `LTXVFS_ERR_STORAGE`, `LTXVFS_ERR_BAD_KEY`,
   *   `LTXVFS_ERR_USAGE` (both conditions, bad timestamp), `LTXVFS_ERR_CLOSED`.
   */
  async write(key: string, data: Uint8Array, options: WriteOptions = {}): Promise<{ etag: string }> {
    this.checkOpen();
    this.checkKey(key);
    const { ifNoneMatch = false, ifMatch, timestamp } = options;
    if (ifNoneMatch && ifMatch !== undefined) {
      throw new LtxvfsError('LTXVFS_ERR_USAGE', `write ${key}: ifNoneMatch and ifMatch cannot both be given`, { key });
    }
    const hdrs = this.#nats.headers();
    if (timestamp !== undefined) {
      try {
        hdrs.set(HEADER_TIMESTAMP, formatRfc3339Nano(timestamp));
      } catch {
        throw new LtxvfsError('LTXVFS_ERR_USAGE', `write ${key}: bad timestamp ${String(timestamp)}`, { key });
      }
    }
    const digest = digestOf(data);
    const condition = ifNoneMatch ? 'if-none-match *' : `if-match ${String(ifMatch)}`;
    this.cache.invalidate(key);
    try {
      return await this.attempts('put', key, async (attempt) => {
        let previousRevision: number | undefined;
        if (ifNoneMatch || ifMatch !== undefined) {
          const info = await this.info(key);
          const live = info !== null && !info.deleted;
          const landed = attempt.attempt > 1 && live && info.digest === digest;
          if (landed) return { etag: digest };
          if (ifNoneMatch && live) throw this.precondition(key, 'object exists', condition);
          if (ifMatch !== undefined && !live) throw this.precondition(key, 'object does not exist', condition);
          if (ifMatch !== undefined && info?.digest !== ifMatch) throw this.precondition(key, 'etag differs', condition);
          previousRevision = info?.revision ?? 0;
        }
        this.counts.writes++;
        try {
          const put = await this.#nats.os.putBlob({ name: key, headers: hdrs }, data, previousRevision === undefined ? undefined : { previousRevision });
          return { etag: put.digest };
        } catch (err) {
          if (hasJsErrCode(err, JS_WRONG_LAST_SEQUENCE)) throw this.precondition(key, 'object changed while written', condition);
          return retryable(err);
        }
      });
    } finally {
      this.cache.invalidate(key);
    }
  }

  /**
   * Delete `key` (the library's delete marker, then a purge of the chunks); a missing key is
   * fine unless `ifMatch` is given. With `ifMatch` the marker is written only over the
   * revision whose digest matched (conditional.ts).
   * @throws LtxvfsError `LTXVFS_ERR_PRECONDITION`, `LTXVFS_ERR_STORAGE`, `LTXVFS_ERR_BAD_KEY`, `LTXVFS_ERR_CLOSED`.
   */
  async delete(key: string, options: { ifMatch?: string } = {}): Promise<void> {
    this.checkOpen();
    this.checkKey(key);
    const { ifMatch } = options;
    this.cache.invalidate(key);
    await this.attempts('delete', key, async (attempt) => {
      if (ifMatch === undefined) {
        this.counts.writes++;
        await this.#nats.os.delete(key).catch(retryable);
        return;
      }
      const info = await this.info(key);
      const condition = `if-match ${ifMatch}`;
      if (info === null || info.deleted) {
        if (attempt.attempt > 1) return; // an earlier attempt deleted it
        throw this.precondition(key, 'object does not exist', condition);
      }
      if (info.digest !== ifMatch) throw this.precondition(key, 'etag differs', condition);
      this.counts.writes++;
      try {
        await conditionalDelete(this.#nats, key, info, this.#settings.requestTimeoutMs);
      } catch (err) {
        if (hasJsErrCode(err, JS_WRONG_LAST_SEQUENCE)) throw this.precondition(key, 'object changed while deleted', condition);
        retryable(err);
      }
    });
  }

  /** Requests made so far (a copy). */
  stats(): NatsClientStats {
    return { ...this.counts, cacheHits: this.cache.hits };
  }

  /** Close the connection (requests in flight fail). Idempotent; later calls fail with `LTXVFS_ERR_CLOSED`. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    this.cache.clear();
    await this.#nats.nc.close().catch(() => undefined);
  }

  // ---- internals ----

  /** Run `op` with a deadline per attempt and retries of transient failures; final errors mapped (errors.ts). */
  private async attempts<T>(verb: string, key: string, op: (attempt: RetryAttempt, signal: AbortSignal) => Promise<T>): Promise<T> {
    const ms = this.#settings.requestTimeoutMs;
    try {
      return await withRetry((attempt) => {
        this.checkOpen();
        return deadline(ms, (signal) => op(attempt, signal)).catch(retryable);
      }, this.#settings.retry);
    } catch (err) {
      this.checkOpen();
      throw storageError(verb, this.url, key, err);
    }
  }

  /** The whole object, one `get` (the library checks its digest). */
  private fetch(key: string): Promise<CachedObject> {
    return this.attempts('get', key, async (_attempt, signal) => {
      this.counts.gets++;
      const result = await this.#nats.os.get(key);
      if (result === null) throw new LtxvfsError('LTXVFS_ERR_NOT_FOUND', `object does not exist: ${this.where(key)}`, { key });
      const reader = result.data.getReader();
      // Past the deadline the stream is abandoned: stop its consumer.
      signal.addEventListener('abort', () => void reader.cancel().catch(() => undefined), { once: true });
      const parts: Uint8Array[] = [];
      let size = 0;
      try {
        for (;;) {
          const { done, value } = await reader.read();
          if (done) break;
          parts.push(value);
          size += value.byteLength;
        }
        await result.error;
      } catch (err) {
        await reader.cancel().catch(() => undefined);
        throw err;
      }
      this.counts.bytesRead += size;
      return { data: parts.length === 1 ? parts[0] : Buffer.concat(parts, size), etag: result.info.digest };
    });
  }

  /** The current metadata of `key` (`null` if never written), with its revision. */
  private async info(key: string) {
    this.counts.infos++;
    return this.#nats.os.info(key);
  }

  /** Every live object whose name starts with `prefix` (one listing of the bucket). */
  private listAll(prefix: string): Promise<ObjectMetaRecord[]> {
    return this.attempts('list', prefix, async (_attempt, signal) => {
      this.counts.lists++;
      const watch = () => this.#nats.os.watch({ includeHistory: true, ignoreDeletes: true }) as unknown as Promise<MetaWatch>;
      return listObjects(watch, signal);
    });
  }

  private precondition(key: string, why: string, condition: string): LtxvfsError {
    return new LtxvfsError('LTXVFS_ERR_PRECONDITION', `precondition failed for ${this.where(key)}: ${why} (${condition})`, { key });
  }

  private where(key: string): string {
    return `${this.url}/${key}`;
  }

  private checkOpen(): void {
    if (this.closed) throw new LtxvfsError('LTXVFS_ERR_CLOSED', `replica client is closed: ${this.url}`);
  }

  /**
   * Object names: non-empty, no control characters, no `.`/`..` segment, not starting with
   * `/`, and only characters up to U+00FF (the library names the metadata subject by
   * base64 of the name's Latin-1 bytes and cannot encode others; metaSubject).
   */
  private checkKey(key: string): void {
    const bad = (why: string) => new LtxvfsError('LTXVFS_ERR_BAD_KEY', `bad key ${JSON.stringify(key)}: ${why}`, { key });
    if (typeof key !== 'string' || key === '') throw bad('empty');
    // eslint-disable-next-line no-control-regex
    if (/[\u0000-\u001f\u007f]/.test(key)) throw bad('has a control character');
    if (key.startsWith('/')) throw bad('starts with /');
    if (key.split('/').some((s) => s === '.' || s === '..')) throw bad('has a . or .. segment');
    if (/[^\u0000-\u00ff]/.test(key)) throw bad('has a character above U+00FF, which the nats library cannot name');
  }
}

/** The object store's digest of `data` as the library writes it: `SHA-256=` and base64url with padding. */
export function digestOf(data: Uint8Array): string {
  return `SHA-256=${createHash('sha256').update(data).digest('base64').replace(/\+/g, '-').replace(/\//g, '_')}`;
}

/**
 * `run(signal)`, or a {@link DeadlineError} after `ms`; the attempt is then abandoned
 * (`signal` aborts so that it stops its stream or listing; retries decide what follows).
 * The signal also aborts when `run` ends, so listeners never outlive the attempt.
 */
async function deadline<T>(ms: number, run: (signal: AbortSignal) => Promise<T>): Promise<T> {
  const ac = new AbortController();
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new DeadlineError(`no answer within ${ms} ms`)), ms);
  });
  try {
    return await Promise.race([run(ac.signal), late]);
  } finally {
    clearTimeout(timer);
    ac.abort();
  }
}
