/**
 * The sftp:// replica client: a Litestream v0.5 replica in a directory of an SFTP server,
 * laid out as Litestream's sftp backend writes it (sftp/replica_client.go,
 * docs/formats.md §4.1): `/PATH/ltx/<level decimal>/<min %016x>-<max %016x>.ltx`. Keys are
 * `/`-paths relative to `/PATH`, as for file:// (`ltx/0/…`, `lock.json`).
 *
 * Paths: `/PATH` is absolute, where Litestream's replicator writes; Litestream's VFS reads
 * PATH relative to the login directory instead. The two agree when the login directory is
 * `/` (docs/backends/sftp.md).
 *
 * Timestamps: `createdAt` is the file's mtime, which Litestream sets to the LTX header
 * timestamp — in whole seconds, as SFTP v3 attributes carry them (`uint32` seconds), so
 * time travel over SFTP resolves seconds, as Litestream's own does. `write({ timestamp })`
 * sets it the same way.
 *
 * Reads: OPEN then READ at the offset (ranged); read handles are kept (at most
 * `maxOpenFiles`, least recently used closed first) since LTX files are immutable under
 * their name, so a cold page costs one READ round trip after the first (handles.ts). Listings
 * are one READDIR of the level directory, whose entries carry size and mtime.
 *
 * Writes (module doc of index.ts for why this is safe): the bytes go to
 * `<name>.tmp-<hex>`, its mtime is set, then it is put in place — create-only by
 * `hardlink@openssh.com` (link(2): fails when the name exists, atomically) and the
 * temporary name removed; a replace by `posix-rename@openssh.com` (rename(2)); `ifMatch`
 * compares the current content hash first (not atomic; the lease guards its replaces, as
 * on a directory). ETags are content hashes, as file://'s. Whole-file reads and the atomic
 * put: files.ts; the SFTP requests themselves: ops.ts; the connection and retries: connection.ts.
 */
import * as posix from 'node:path/posix';
import { debuglog } from 'node:util';
import { LtxvfsError } from '../../../ltx/errors.js';
import { formatLtxFilename } from '../../../ltx/filename.js';
import { etagOf } from '../etag.js';
import { classifyLtxName, StrayLog } from '../strays.js';
import type { LtxFileInfo, ReplicaCapabilities, ReplicaClient, StrayEntry, WriteOptions } from '../types.js';
import { sftpStatus, STATUS, type SftpConnection, type SftpLink } from './connection.js';
import { checkEtag, putAtomically, readWhole, type SftpTarget } from './files.js';
import { ReadHandles } from './handles.js';
import * as ops from './ops.js';

const debug = debuglog('ltxvfs');

/** Largest mtime SFTP v3 can carry (uint32 seconds), in ms. */
const MAX_TIMESTAMP_MS = (2 ** 32 - 1) * 1000;

/** A {@link ReplicaClient} over a directory of an SFTP server. Create it with `openSftpReplica` (index.ts). */
export class SftpReplicaClient implements ReplicaClient {
  /** `sftp://user@host[:port]/PATH`, never the password. */
  readonly url: string;
  /** Ranged reads; create-only and the lease's replace guard when the server has `hardlink@openssh.com` and `posix-rename@openssh.com`, else none; remote. */
  readonly capabilities: ReplicaCapabilities;
  /** The absolute replica directory on the server, `/PATH`. */
  readonly root: string;

  private readonly strayLog = new StrayLog();
  /** Kept read handles (handles.ts). */
  private readonly handles: ReadHandles;
  private readonly madeDirs = new Set<string>();
  private closed = false;

  /** Use `openSftpReplica`; `link` is the connection opened there (its extensions decide the capabilities). */
  constructor(url: string, root: string, private readonly conn: SftpConnection, link: SftpLink, maxOpenFiles: number) {
    this.url = url;
    this.root = root;
    this.handles = new ReadHandles(maxOpenFiles);
    const safe = link.extensions.has('hardlink@openssh.com') && link.extensions.has('posix-rename@openssh.com');
    this.capabilities = Object.freeze({
      rangeReads: true,
      conditionalWrites: safe ? 'create-only' : 'none',
      leaseLock: safe ? 'replace-guard' : 'none',
      latency: 'remote',
      tempFileRoot: undefined,
    });
  }

  /**
   * `ltx/<level>/<min>-<max>.ltx`, level in decimal (docs/formats.md §4.1).
   * @throws LtxvfsError `LTXVFS_ERR_USAGE` for a bad level or TXID range.
   */
  ltxKey(level: number, minTXID: number, maxTXID: number): string {
    return `${levelDir(level)}/${formatLtxFilename(minTXID, maxTXID)}`;
  }

  /**
   * `name` itself, relative to `/PATH` (the lease's `lock.json`, docs/formats.md §5.2).
   * @throws LtxvfsError `LTXVFS_ERR_BAD_KEY` for an empty name, one with NUL, or one that leaves `/PATH`.
   */
  objectKey(name: string): string {
    this.pathOf(name);
    return name;
  }

  /** LTX-shaped names listings left out, with the reason. */
  strays(): StrayEntry[] {
    return this.strayLog.list();
  }

  /**
   * The LTX files of `ltx/<level>/` from one READDIR, sorted by (minTXID, maxTXID), `size`
   * and `createdAt` (mtime, whole seconds) from the entries' attributes; `useMetadata`
   * changes nothing (the mtime is the header timestamp). A missing directory gives `[]`.
   * Entries that are not regular files are strays.
   * @throws LtxvfsError `LTXVFS_ERR_STORAGE`, `LTXVFS_ERR_CLOSED`, `LTXVFS_ERR_USAGE` (bad level).
   */
  async listLtxFiles(level: number, options: { seekTXID?: number; useMetadata?: boolean } = {}): Promise<LtxFileInfo[]> {
    this.checkOpen();
    const dirKey = levelDir(level);
    const seek = options.seekTXID ?? 0;
    const entries = await this.conn.run(dirKey, async ({ sftp }) => {
      try {
        return (await ops.readdir(sftp, this.pathOf(dirKey))) ?? [];
      } catch (err) {
        throw ops.statusError('list', dirKey, this.where(dirKey), err);
      }
    });
    const files: LtxFileInfo[] = [];
    for (const { filename, attrs } of entries) {
      const key = `${dirKey}/${filename}`;
      const found = classifyLtxName(filename);
      const problem = found.kind === 'stray' ? found.reason : found.kind === 'ltx' && !ops.isRegular(attrs) ? 'not a regular file' : undefined;
      if (problem !== undefined) {
        if (this.strayLog.add({ key, reason: problem })) debug('sftp: stray entry %s in %s: %s', key, this.url, problem);
      } else if (found.kind === 'ltx' && found.minTXID >= seek) {
        files.push({ level, minTXID: found.minTXID, maxTXID: found.maxTXID, size: attrs.size, createdAt: attrs.mtime * 1000, key });
      }
    }
    files.sort((a, b) => a.minTXID - b.minTXID || a.maxTXID - b.maxTXID);
    return files;
  }

  /**
   * Exactly `length` bytes of `key` from `offset`: READ requests on a kept handle (OPEN the first time).
   * @param into read into it when it has `length` bytes (a view of it is returned).
   * @throws LtxvfsError `LTXVFS_ERR_NOT_FOUND`; `LTXVFS_ERR_STORAGE` ("short read", I/O, the
   *   connection failing beyond the retry budget); `LTXVFS_ERR_BAD_KEY`; `LTXVFS_ERR_USAGE` (bad range); `LTXVFS_ERR_CLOSED`.
   */
  async readRange(key: string, offset: number, length: number, into?: Uint8Array): Promise<Uint8Array> {
    this.checkOpen();
    const p = this.pathOf(key);
    if (!Number.isSafeInteger(offset) || offset < 0 || !Number.isSafeInteger(length) || length < 0) {
      throw new LtxvfsError('LTXVFS_ERR_USAGE', `read ${this.where(key)}: bad range offset ${String(offset)} length ${String(length)}`, { key });
    }
    const out = into !== undefined && into.length >= length ? into.subarray(0, length) : new Uint8Array(length);
    const buf = Buffer.from(out.buffer, out.byteOffset, length);
    const done = await this.conn.run(key, async (link) => {
      let got = 0;
      try {
        const handle = await this.handles.of(link, key, p);
        while (got < length) {
          const n = await ops.read(link.sftp, handle, buf, got, length - got, offset + got);
          if (n === 0) break;
          got += n;
        }
      } catch (err) {
        if (sftpStatus(err) !== undefined) this.handles.forget(key);
        throw sftpStatus(err) === undefined ? err : ops.statusError('read', key, this.where(key), err);
      }
      return got;
    });
    if (done < length) {
      throw new LtxvfsError('LTXVFS_ERR_STORAGE', `short read of ${this.where(key)}: got ${done} of ${length} bytes at offset ${offset}`, { key });
    }
    return out;
  }

  /**
   * The whole object (OPEN, FSTAT, READs, CLOSE) and its ETag (content hash).
   * @throws LtxvfsError `LTXVFS_ERR_NOT_FOUND`, `LTXVFS_ERR_STORAGE`, `LTXVFS_ERR_BAD_KEY`, `LTXVFS_ERR_CLOSED`.
   */
  async read(key: string): Promise<{ data: Uint8Array; etag: string }> {
    this.checkOpen();
    const p = this.pathOf(key);
    const data = await this.conn.run(key, ({ sftp }) => readWhole(sftp, this.target(key, p)));
    if (data === undefined) throw new LtxvfsError('LTXVFS_ERR_NOT_FOUND', `object does not exist: ${this.where(key)}`, { key });
    return { data, etag: etagOf(data) };
  }

  /**
   * Write atomically (module doc): temporary file, mtime = `timestamp` (whole seconds),
   * then hardlink (create-only) or posix-rename (replace); parent directories are created.
   * A create-only write whose first attempt may have landed (the connection failed) and
   * whose retry finds the name taken succeeds when the object there holds these bytes.
   * @returns the new ETag (content hash).
   * @throws LtxvfsError `LTXVFS_ERR_PRECONDITION` (create-only and the key exists; if-match
   *   and the key is missing or has another ETag); `LTXVFS_ERR_UNSUPPORTED` (a condition on a
   *   server without the extensions); `LTXVFS_ERR_STORAGE`; `LTXVFS_ERR_BAD_KEY`;
   *   `LTXVFS_ERR_USAGE` (both conditions, a timestamp SFTP cannot carry); `LTXVFS_ERR_CLOSED`.
   */
  async write(key: string, data: Uint8Array, options: WriteOptions = {}): Promise<{ etag: string }> {
    this.checkOpen();
    const p = this.pathOf(key);
    const { ifNoneMatch = false, ifMatch, timestamp } = options;
    if (ifNoneMatch && ifMatch !== undefined) {
      throw new LtxvfsError('LTXVFS_ERR_USAGE', `write ${this.where(key)}: ifNoneMatch and ifMatch cannot both be given`, { key });
    }
    if (timestamp !== undefined && !(Number.isFinite(timestamp) && timestamp >= 0 && timestamp <= MAX_TIMESTAMP_MS)) {
      throw new LtxvfsError('LTXVFS_ERR_USAGE', `write ${this.where(key)}: bad timestamp ${String(timestamp)}`, { key });
    }
    if ((ifNoneMatch || ifMatch !== undefined) && this.capabilities.conditionalWrites === 'none') {
      throw new LtxvfsError('LTXVFS_ERR_UNSUPPORTED', `write ${this.where(key)}: conditional writes need the SFTP extensions hardlink@openssh.com and posix-rename@openssh.com, which this server does not offer`, { key });
    }
    const etag = etagOf(data);
    this.handles.forget(key);
    await this.conn.run(key, (link, attempt) => putAtomically(link, {
      ...this.target(key, p), data, timestamp, ifNoneMatch, ifMatch, landed: ifNoneMatch && attempt.attempt > 1 ? etag : undefined,
    }, this.madeDirs));
    return { etag };
  }

  /**
   * Delete `key` (REMOVE); a missing key is fine unless `ifMatch` is given, which compares the content hash first (best effort).
   * @throws LtxvfsError `LTXVFS_ERR_PRECONDITION`, `LTXVFS_ERR_STORAGE`, `LTXVFS_ERR_BAD_KEY`, `LTXVFS_ERR_CLOSED`.
   */
  async delete(key: string, options: { ifMatch?: string } = {}): Promise<void> {
    this.checkOpen();
    const p = this.pathOf(key);
    this.handles.forget(key);
    await this.conn.run(key, async ({ sftp }) => {
      try {
        if (options.ifMatch !== undefined) await checkEtag(sftp, this.target(key, p), options.ifMatch);
        await ops.remove(sftp, p);
      } catch (err) {
        if (sftpStatus(err) === STATUS.NO_SUCH_FILE && options.ifMatch === undefined) return;
        throw sftpStatus(err) === undefined ? err : ops.statusError('delete', key, this.where(key), err);
      }
    });
  }

  /** See `ReplicaClient.listKeys`: files under the folder `prefix`, depth first. */
  async listKeys(prefix: string, limit: number): Promise<string[]> {
    this.checkOpen();
    const start = prefix.replace(/\/+$/, '');
    this.pathOf(start);
    return this.conn.run(start, async ({ sftp }) => {
      const keys: string[] = [];
      const walk = async (dirKey: string): Promise<void> => {
        const entries = await ops.readdir(sftp, this.pathOf(dirKey)).catch((err: unknown) => {
          throw sftpStatus(err) === undefined ? err : ops.statusError('list', dirKey, this.where(dirKey), err);
        });
        for (const { filename, attrs } of entries ?? []) {
          if (keys.length >= limit) return;
          if ((attrs.mode & 0o170000) === 0o040000) await walk(`${dirKey}/${filename}`);
          else if (ops.isRegular(attrs)) keys.push(`${dirKey}/${filename}`);
        }
      };
      await walk(start);
      return keys;
    });
  }

  /** End the SSH connection. Later calls fail with `LTXVFS_ERR_CLOSED`. Idempotent. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    this.handles.clear();
    await this.conn.close();
  }

  /** `sftp://user@host/PATH/key` for messages. */
  private where(key: string): string {
    return `${this.url}/${key}`;
  }

  /** What files.ts needs of `key`: its server path `p` and its name in messages. */
  private target(key: string, p: string): SftpTarget {
    return { key, path: p, where: this.where(key) };
  }

  private checkOpen(): void {
    if (this.closed) throw new LtxvfsError('LTXVFS_ERR_CLOSED', `replica client is closed: ${this.url}`);
  }

  /** The absolute server path of `key`, which must stay strictly inside `/PATH`. */
  private pathOf(key: string): string {
    if (typeof key !== 'string' || key === '' || key.includes('\0')) {
      throw new LtxvfsError('LTXVFS_ERR_BAD_KEY', `bad key ${JSON.stringify(key)}: empty or contains NUL`, { key });
    }
    const rel = posix.normalize(key);
    if (key.startsWith('/') || rel === '..' || rel.startsWith('../') || rel === '.' || rel === './') {
      throw new LtxvfsError('LTXVFS_ERR_BAD_KEY', `key escapes the replica root: ${key}`, { key });
    }
    return posix.join(this.root, rel);
  }
}

/** `ltx/<level>` for a level that is an integer ≥ 0. */
function levelDir(level: number): string {
  if (!Number.isSafeInteger(level) || level < 0) {
    throw new LtxvfsError('LTXVFS_ERR_USAGE', `bad level ${String(level)}: need an integer >= 0`);
  }
  return `ltx/${level}`;
}
