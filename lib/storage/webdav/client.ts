/**
 * The webdav:// client: a Litestream v0.5 replica in a WebDAV collection, laid out as
 * Litestream's webdav backend writes it (webdav/replica_client.go, `litestream.LTXFilePath`):
 *
 * ```
 * http[s]://HOST[:PORT]/<path>/ltx/<level decimal>/<min %016x>-<max %016x>.ltx
 * ```
 *
 * Keys are `/`-separated paths relative to the replica collection (`ltx/0/…`,
 * `lock.json`), as on a directory. Reads are ranged GETs (`Range: bytes=a-b`); the answer's
 * `Content-Range` says where its bytes start (webdav-server clamps a range past the end to
 * the last byte, so the start is checked, not assumed). Listings are one PROPFIND depth 1
 * per level (listing.ts). Writes PUT the bytes under `<key>.tmp-<random hex>` (with
 * Content-Length, creating missing collections with MKCOL, as Litestream's `MkdirAll`) and
 * MOVE that onto the key (`Overwrite: T`), so a lister never sees half an LTX file; the
 * temporary name is no LTX file name for ltxvfs or Litestream.
 *
 * ETags are content hashes (`"<first 32 hex digits of SHA-256>"`, as file://): WebDAV
 * servers derive `getetag` from the modification time (webdav-server) or the inode, and
 * ltxvfs needs equal bytes → equal ETag only; nothing is conditional here.
 *
 * No conditional writes: `If-None-Match: *` on PUT (RFC 9110 §13.1.2) and the `If` header
 * (RFC 4918 §10.4) are what WebDAV offers, but webdav-server 2.6 overwrites under
 * `If-None-Match: *`, and its `If` parser passes every condition (and crashes on a
 * tagged list), so neither can be relied on; `ifNoneMatch`/`ifMatch` are refused with
 * `LTXVFS_ERR_UNSUPPORTED`, and the capabilities say `'none'`, which makes lib/write/lease.ts
 * refuse the write lease naming the replica. What would make it safe: a server that
 * honours `If-None-Match: *` atomically (Apache mod_dav and SabreDAV document it), or a
 * create-only `MOVE` with `Overwrite: F` done atomically, checked by a conformance run
 * against that server before the capability is declared.
 */

import { randomBytes } from 'node:crypto';
import { LtxvfsError } from '../../../ltx/errors.js';
import { etagOf } from '../etag.js';
import { checkReadRange, ltxFileKey, ltxLevelPrefix } from '../layout.js';
import { StrayLog } from '../strays.js';
import type { LtxFileInfo, ReplicaCapabilities, ReplicaClient, StrayEntry, WriteOptions } from '../types.js';
import type { WebdavConfig } from './config.js';
import { statusOf } from './errors.js';
import { listKeysUnder, listLevel } from './listing.js';
import { WebdavTransport, type DavClient, type WebdavClientStats } from './transport.js';

/** Ranged GETs; no conditional writes and so no lease; remote latency; no local temporary files. */
export const WEBDAV_CAPABILITIES: ReplicaCapabilities = Object.freeze({
  rangeReads: true,
  conditionalWrites: 'none',
  leaseLock: 'none',
  latency: 'remote',
  tempFileRoot: undefined,
});

/** A {@link ReplicaClient} over a WebDAV collection. Create it with `openWebdavReplica` (index.ts). */
export class WebdavReplicaClient implements ReplicaClient {
  /** {@link WEBDAV_CAPABILITIES}. */
  readonly capabilities: ReplicaCapabilities = WEBDAV_CAPABILITIES;
  /** `webdav[s]://host[:port]/<path>`, without the user and password. */
  readonly url: string;
  readonly #io: WebdavTransport;
  readonly #strays = new StrayLog();
  /** The replica collection is known to exist (checked once, when a level is missing). */
  #rootSeen: boolean;

  /** Use `openWebdavReplica`, which builds the configuration and the vendor client. */
  constructor(config: WebdavConfig, dav: DavClient) {
    this.#io = new WebdavTransport(config, dav);
    this.url = config.url;
    this.#rootSeen = config.path === '';
  }

  /**
   * `ltx/<level>/<min>-<max>.ltx`, level in decimal (Litestream's `LTXFilePath`).
   * @throws LtxvfsError `LTXVFS_ERR_USAGE` for a level that is not an integer ≥ 0 or a bad TXID range.
   */
  ltxKey(level: number, minTXID: number, maxTXID: number): string {
    return ltxFileKey('', level, minTXID, maxTXID);
  }

  /**
   * The key of a replica-level object such as `lock.json`: `name` itself, relative to the collection.
   * @throws LtxvfsError `LTXVFS_ERR_BAD_KEY` for a name {@link checkKey} refuses.
   */
  objectKey(name: string): string {
    checkKey(name);
    return name;
  }

  /**
   * The LTX files of `ltx/<level>/` from one PROPFIND depth 1, sorted by (minTXID,
   * maxTXID); `createdAt` is `getlastmodified` (whole seconds, the upload time — with or
   * without `useMetadata`: WebDAV has no other time, and Litestream reads the same).
   * A missing level gives `[]`; the first time one is missing, the replica collection is
   * checked too (one PROPFIND depth 0).
   * @throws LtxvfsError `LTXVFS_ERR_NOT_FOUND` "replica collection does not exist: <url>";
   *   `LTXVFS_ERR_STORAGE` (wrong credentials: "authentication failed"; I/O after retries);
   *   `LTXVFS_ERR_USAGE` (bad level); `LTXVFS_ERR_CLOSED`.
   */
  async listLtxFiles(level: number, options: { seekTXID?: number; useMetadata?: boolean } = {}): Promise<LtxFileInfo[]> {
    this.#io.checkOpen();
    const dirKey = ltxLevelPrefix('', level).slice(0, -1);
    const files = await listLevel(this.#io, dirKey, level, options.seekTXID ?? 0, this.#strays);
    if (files !== undefined) {
      this.#rootSeen = true;
      return files;
    }
    if (!this.#rootSeen) await this.checkRoot();
    return [];
  }

  /** LTX-shaped names listings left out because they cannot be LTX files, with the reason. */
  strays(): StrayEntry[] {
    return this.#strays.list();
  }

  /**
   * Exactly `length` bytes of `key` from `offset`: one GET with `Range: bytes=offset-(offset+length−1)`.
   * A server that ignores the range (200) costs the whole object. `length` 0 costs a
   * PROPFIND depth 0 (to report a missing key like any other read).
   * @throws LtxvfsError `LTXVFS_ERR_NOT_FOUND`; `LTXVFS_ERR_STORAGE` ("short read of <where>:
   *   got n of length bytes at offset o" when the object ends early, or I/O after retries);
   *   `LTXVFS_ERR_BAD_KEY`; `LTXVFS_ERR_USAGE` (bad range); `LTXVFS_ERR_CLOSED`.
   */
  async readRange(key: string, offset: number, length: number, into?: Uint8Array): Promise<Uint8Array> {
    this.#io.checkOpen();
    checkKey(key);
    checkReadRange(key, offset, length);
    const remote = this.#io.remote(key);
    if (length === 0) {
      await this.#io.call('stat', key, (dav, signal) => dav.stat(remote, signal));
      return new Uint8Array(0);
    }
    const headers = { Range: `bytes=${offset}-${offset + length - 1}` };
    const bytes = await this.#io.call('read', key, async (dav, signal) => {
      try {
        const res = await dav.get(remote, headers, signal);
        this.#io.countRead(res.data.byteLength);
        const start = res.status === 206 ? rangeStart(res.headers['content-range']) : 0;
        if (start === undefined || start > offset) {
          throw new LtxvfsError('LTXVFS_ERR_STORAGE', `read ${this.#io.where(key)}: the server answered Content-Range ${String(res.headers['content-range'])} to ${headers.Range}`, { key, status: res.status });
        }
        return res.data.subarray(offset - start, offset - start + length);
      } catch (err) {
        if (statusOf(err) === 416) return new Uint8Array(0);
        throw err;
      }
    });
    if (bytes.byteLength < length) {
      throw new LtxvfsError('LTXVFS_ERR_STORAGE', `short read of ${this.#io.where(key)}: got ${bytes.byteLength} of ${length} bytes at offset ${offset}`, { key });
    }
    if (into === undefined || into.length < length) return bytes;
    into.set(bytes);
    return into.subarray(0, length);
  }

  /**
   * The whole object (one GET) and its ETag (content hash, module doc).
   * @throws LtxvfsError `LTXVFS_ERR_NOT_FOUND`, `LTXVFS_ERR_STORAGE`, `LTXVFS_ERR_BAD_KEY`, `LTXVFS_ERR_CLOSED`.
   */
  async read(key: string): Promise<{ data: Uint8Array; etag: string }> {
    this.#io.checkOpen();
    checkKey(key);
    const data = await this.#io.call('read', key, async (dav, signal) => (await dav.get(this.#io.remote(key), {}, signal)).data);
    this.#io.countRead(data.byteLength);
    return { data, etag: etagOf(data) };
  }

  /**
   * Write `key` atomically: PUT `<key>.tmp-<hex>` (MKCOL of missing collections on 409 / 404,
   * then the PUT again), MOVE it onto `key`; the temporary name is deleted if the MOVE fails.
   * `timestamp` is checked but cannot be kept: `getlastmodified` is the server's (module
   * doc of listing.ts), as with Litestream's uploads.
   * @returns the new ETag (content hash).
   * @throws LtxvfsError `LTXVFS_ERR_UNSUPPORTED` for `ifNoneMatch` / `ifMatch` (no conditional
   *   writes, module doc); `LTXVFS_ERR_USAGE` (both conditions; bad timestamp);
   *   `LTXVFS_ERR_STORAGE`; `LTXVFS_ERR_BAD_KEY`; `LTXVFS_ERR_CLOSED`.
   */
  async write(key: string, data: Uint8Array, options: WriteOptions = {}): Promise<{ etag: string }> {
    this.#io.checkOpen();
    checkKey(key);
    const { ifNoneMatch = false, ifMatch, timestamp, contentType = 'application/octet-stream' } = options;
    if (ifNoneMatch && ifMatch !== undefined) {
      throw new LtxvfsError('LTXVFS_ERR_USAGE', `write ${key}: ifNoneMatch and ifMatch cannot both be given`, { key });
    }
    if (ifNoneMatch || ifMatch !== undefined) this.refuseConditional('write', key, ifNoneMatch ? 'ifNoneMatch' : 'ifMatch');
    if (timestamp !== undefined && !(Number.isSafeInteger(timestamp) && timestamp >= 0)) {
      throw new LtxvfsError('LTXVFS_ERR_USAGE', `write ${key}: bad timestamp ${String(timestamp)}`, { key });
    }
    const temp = `${key}.tmp-${randomBytes(8).toString('hex')}`;
    const put = (dav: DavClient, signal: AbortSignal) => dav.put(this.#io.remote(temp), data, contentType, signal);
    await this.#io.call('write', temp, async (dav, signal) => {
      try {
        await put(dav, signal);
      } catch (err) {
        if (statusOf(err) !== 409 && statusOf(err) !== 404) throw err;
        await this.makeCollections(key);
        await put(dav, signal);
      }
    });
    try {
      await this.#io.call('move', key, async (dav, signal, attempt) => {
        try {
          await dav.move(this.#io.remote(temp), this.#io.remote(key), signal);
        } catch (err) {
          // A retried MOVE whose temporary name is gone: the earlier attempt moved it.
          if (!(statusOf(err) === 404 && attempt.attempt > 1)) throw err;
        }
      });
    } catch (err) {
      await this.#io.call('delete', temp, (dav, signal) => dav.delete(this.#io.remote(temp), signal)).catch(() => undefined);
      throw err;
    }
    return { etag: etagOf(data) };
  }

  /**
   * DELETE `key`; a missing key is fine.
   * @throws LtxvfsError `LTXVFS_ERR_UNSUPPORTED` with `ifMatch`; `LTXVFS_ERR_STORAGE`; `LTXVFS_ERR_BAD_KEY`; `LTXVFS_ERR_CLOSED`.
   */
  async delete(key: string, options: { ifMatch?: string } = {}): Promise<void> {
    this.#io.checkOpen();
    checkKey(key);
    if (options.ifMatch !== undefined) this.refuseConditional('delete', key, 'ifMatch');
    await this.#io.call('delete', key, async (dav, signal) => {
      try {
        await dav.delete(this.#io.remote(key), signal);
      } catch (err) {
        if (statusOf(err) !== 404) throw err;
      }
    });
  }

  /** See `ReplicaClient.listKeys`: files under the folder `prefix`, depth first (PROPFIND depth 1 per collection). */
  async listKeys(prefix: string, limit: number): Promise<string[]> {
    this.#io.checkOpen();
    const folder = prefix.replace(/\/+$/, '');
    checkKey(folder);
    return listKeysUnder(this.#io, folder, limit);
  }

  /** Requests and bytes so far (a copy). */
  stats(): WebdavClientStats {
    return this.#io.stats();
  }

  /** Abort requests in flight and close the connections. Idempotent; later calls fail with `LTXVFS_ERR_CLOSED`. */
  async close(): Promise<void> {
    this.#io.close();
  }

  // ---- internals ----

  /** PROPFIND depth 0 of the replica collection: `LTXVFS_ERR_NOT_FOUND` naming the replica when it is missing. */
  private async checkRoot(): Promise<void> {
    const root = `/${this.#io.config.path}/`;
    try {
      await this.#io.call('stat', '', (dav, signal) => dav.stat(root, signal));
    } catch (err) {
      if ((err as LtxvfsError).code !== 'LTXVFS_ERR_NOT_FOUND') throw err;
      throw new LtxvfsError('LTXVFS_ERR_NOT_FOUND', `replica collection does not exist: ${this.url}`, { key: this.url, cause: err });
    }
    this.#rootSeen = true;
  }

  /** MKCOL every collection from the server root down to the parent of `key` (405: it exists). */
  private async makeCollections(key: string): Promise<void> {
    const segments = this.#io.remote(key).split('/').filter((s) => s !== '');
    for (let i = 1; i < segments.length; i++) {
      const dir = `/${segments.slice(0, i).join('/')}`;
      await this.#io.call('mkcol', key, async (dav, signal) => {
        try {
          await dav.mkcol(dir, signal);
        } catch (err) {
          if (statusOf(err) !== 405) throw err;
        }
      });
    }
  }

  private refuseConditional(op: string, key: string, option: string): never {
    throw new LtxvfsError(
      'LTXVFS_ERR_UNSUPPORTED',
      `${op} ${this.#io.where(key)}: ${option} is not supported: WebDAV servers do not reliably honour If-None-Match or If (webdav-server ignores both), so ${this.url} has no conditional writes and no write lease`,
      { key },
    );
  }
}


/**
 * Keys: non-empty `/`-paths relative to the replica collection, without control
 * characters, backslashes, empty, `.` or `..` segments (a server or proxy may resolve
 * them out of the replica).
 * @throws LtxvfsError `LTXVFS_ERR_BAD_KEY` "bad key <json>: <why>".
 */
function checkKey(key: string): void {
  const bad = (why: string) => new LtxvfsError('LTXVFS_ERR_BAD_KEY', `bad key ${JSON.stringify(key)}: ${why}`, { key });
  if (typeof key !== 'string' || key === '') throw bad('empty');
  // eslint-disable-next-line no-control-regex
  if (/[\u0000-\u001f\u007f\\]/.test(key)) throw bad('contains a control character or a backslash');
  if (key.split('/').some((s) => s === '' || s === '.' || s === '..')) throw bad('has an empty, . or .. segment');
}

/** The first byte of a `Content-Range: bytes a-b/n` value. */
function rangeStart(value: string | undefined): number | undefined {
  const m = /^bytes (\d+)-\d+\/(\d+|\*)$/.exec(value?.trim() ?? '');
  return m === null ? undefined : Number(m[1]);
}
