/**
 * The storage boundary of ltxvfs: a replica is a set of objects under keys. A
 * `ReplicaClient` knows bytes and keys only — nothing of SQLite, and of LTX only the
 * file-name convention of docs/formats.md §1.10 / §4.1 (which keys hold which TXID range).
 * Modelled on Litestream's `replica_client.go` (list a level from a TXID, read a byte
 * range, write, delete).
 */

/** One LTX file as a listing reports it (docs/formats.md §4.3). */
export interface LtxFileInfo {
  /** Compaction level: 0 = one file per transaction batch, 1–8 compactions, 9 snapshots. */
  level: number;
  /** First TXID covered (from the file name). */
  minTXID: number;
  /** Last TXID covered (from the file name). */
  maxTXID: number;
  /** Object size in bytes. */
  size: number;
  /** Creation time, ms since the Unix epoch: file mtime (file://) or the `litestream-timestamp` metadata / LastModified (s3://). */
  createdAt: number;
  /** The key of the object inside the replica, as `ReplicaClient.ltxKey` gives it. */
  key: string;
}

/** A name in a replica level that looks like an LTX file but cannot be one (lib/storage/strays.ts). */
export interface StrayEntry {
  /** The key of the entry. */
  key: string;
  /** Why it cannot be an LTX file. */
  reason: string;
}

/** Options of `ReplicaClient.write`. */
export interface WriteOptions {
  /** Create-only: fail with `LTXVFS_ERR_PRECONDITION` if the key exists (S3 `If-None-Match: *`). */
  ifNoneMatch?: boolean;
  /** Replace only if the current object has this ETag (S3 `If-Match`); a missing object fails the precondition too. */
  ifMatch?: string;
  /** LTX header timestamp in ms: kept as file mtime / `litestream-timestamp` metadata (docs/formats.md §4.1). */
  timestamp?: number;
  /** MIME type for object stores. */
  contentType?: string;
}

/**
 * What a backend can do, declared by its client (issue 13 item 4) so that the layers above
 * choose by capability and never by the URL's scheme or the client's class. A wrapper of a
 * client (counting, fault injection) passes its inner client's capabilities on.
 */
export interface ReplicaCapabilities {
  /**
   * `readRange` fetches only the bytes asked for (a `pread` on a directory, an HTTP `Range`
   * GET on S3). False for a store that can only return whole objects, where every range
   * read costs the whole file.
   */
  readonly rangeReads: boolean;
  /**
   * How `write`/`delete` conditions are enforced:
   * - `'atomic'`: the store itself checks `ifNoneMatch` and `ifMatch` in the write (S3's
   *   `If-None-Match: *` / `If-Match`, RFC 9110 §13.1);
   * - `'create-only'`: create-only is atomic (a directory's `link`), `ifMatch` is a
   *   comparison followed by the replace, so two writers can both pass it;
   * - `'none'`: no conditional writes (the lease and the write path cannot be made safe).
   */
  readonly conditionalWrites: 'atomic' | 'create-only' | 'none';
  /**
   * How the lease (lib/write/lease.ts) makes its replace and delete of `lock.json` exclusive:
   * `'conditional-write'`: the store's own `If-Match` (litestream s3/leaser.go);
   * `'replace-guard'`: each replace or delete first creates the `lock.json.replace` guard
   * create-only (needs `conditionalWrites` at least `'create-only'`); `'none'`: no lease.
   */
  readonly leaseLock: 'conditional-write' | 'replace-guard' | 'none';
  /**
   * Round-trip class of one request: `'local'` (a directory: microseconds) or `'remote'`
   * (object storage: tens of ms). Remote stores get interior-page warm-up by default
   * (`warmInterior`, lib/api/open.ts), since each cold B-tree level costs a round trip there.
   */
  readonly latency: 'local' | 'remote';
  /**
   * The local directory whose `*.tmp-<hex>` files are this client's half-finished writes
   * (lib/write/temp-files.ts removes old ones); `undefined` for stores whose writes are atomic
   * uploads that leave nothing behind (S3's PUT).
   */
  readonly tempFileRoot: string | undefined;
}

/** A Litestream v0.5 replica's storage: a directory (`file://`) or an S3 bucket prefix (`s3://`). */
export interface ReplicaClient {
  /** The replica URL for messages and stats, never with credentials. */
  readonly url: string;
  /** What the backend can do: range reads, conditional writes, lease lock kind, latency class, temp files. */
  readonly capabilities: ReplicaCapabilities;
  /** The key of an LTX file: `ltx/<level>/<min>-<max>.ltx` for file://, `<path>/<%04x level>/<min>-<max>.ltx` for s3:// (docs/formats.md §4.1). */
  ltxKey(level: number, minTXID: number, maxTXID: number): string;
  /**
   * The key of a replica-level object that is not an LTX file, such as the lease's
   * `lock.json` (docs/formats.md §5.2): `<name>` under the root for file://, `<path>/<name>`
   * (`<name>` at the bucket root) for s3:// (litestream s3/leaser.go `lockKey`).
   * @throws LtxvfsError `LTXVFS_ERR_BAD_KEY` for a name the backend cannot hold.
   */
  objectKey(name: string): string;
  /**
   * The LTX files of one level, sorted by (minTXID, maxTXID); names that are not LTX
   * file names are ignored, names shaped like one that cannot be one are left out and
   * reported by {@link strays}; a level that does not exist gives `[]`.
   * `seekTXID`: only files with `minTXID >= seekTXID`. `useMetadata`: `createdAt` must be the
   * LTX header timestamp even where the listing itself gives the upload time (S3: one HEAD
   * per file for the `litestream-timestamp` metadata, docs/formats.md §4.3); needed for time travel.
   * @throws LtxvfsError `LTXVFS_ERR_NOT_FOUND` when the replica itself does not exist; `LTXVFS_ERR_STORAGE` on I/O failure.
   */
  listLtxFiles(level: number, options?: { seekTXID?: number; useMetadata?: boolean }): Promise<LtxFileInfo[]>;
  /**
   * Up to `limit` keys of the objects under the folder `prefix` (relative to the replica
   * root, e.g. `generations/`), at any depth; a missing folder gives `[]`. For probing
   * layouts that are not LTX levels (Litestream ≤ 0.3's `generations/`, lib/replica/plan.ts);
   * a client without it is not probed.
   * @throws LtxvfsError `LTXVFS_ERR_BAD_KEY`, `LTXVFS_ERR_STORAGE`, `LTXVFS_ERR_CLOSED`.
   */
  listKeys?(prefix: string, limit: number): Promise<string[]>;
  /**
   * Exactly `length` bytes of `key` from byte `offset`.
   * @param into a buffer of at least `length` bytes the client may read into and return a
   *   view of (saving a buffer per read: the fetcher reuses one for its range reads); a
   *   client may ignore it and return a new array. Its contents are undefined after a
   *   failed read, and the caller must not touch it until the returned promise settles.
   * @throws LtxvfsError `LTXVFS_ERR_NOT_FOUND` (no such key), `LTXVFS_ERR_STORAGE` (I/O, or fewer bytes than asked), `LTXVFS_ERR_BAD_KEY`.
   */
  readRange(key: string, offset: number, length: number, into?: Uint8Array): Promise<Uint8Array>;
  /**
   * The whole object.
   * @throws LtxvfsError `LTXVFS_ERR_NOT_FOUND`, `LTXVFS_ERR_STORAGE`, `LTXVFS_ERR_BAD_KEY`.
   */
  read(key: string): Promise<{ data: Uint8Array; etag: string }>;
  /**
   * Write an object atomically (readers see the old object or the whole new one).
   * @returns the new ETag.
   * ETags are opaque strings, compared only for equality (file://: a content hash; s3://: the response ETag).
   * @throws LtxvfsError `LTXVFS_ERR_PRECONDITION` when `ifNoneMatch`/`ifMatch` fails (with
   *   `ifMatch` also when the object does not exist — the S3 client maps S3's 404 to this);
   *   `LTXVFS_ERR_STORAGE`; `LTXVFS_ERR_BAD_KEY`; `LTXVFS_ERR_USAGE` (both conditions given).
   */
  write(key: string, data: Uint8Array, options?: WriteOptions): Promise<{ etag: string }>;
  /**
   * Delete an object; deleting a missing key is not an error unless `ifMatch` is given.
   * @throws LtxvfsError `LTXVFS_ERR_PRECONDITION` (with `ifMatch`: another ETag, or no object),
   *   `LTXVFS_ERR_STORAGE`, `LTXVFS_ERR_BAD_KEY`.
   */
  delete(key: string, options?: { ifMatch?: string }): Promise<void>;
  /** Stray names seen by listings so far (LTX-shaped, impossible), with the reason; not fatal to the rest. */
  strays?(): StrayEntry[];
  /** Release connections and handles. Idempotent; afterwards every other method fails with `LTXVFS_ERR_CLOSED`. */
  close(): Promise<void>;
}
