/**
 * The directory (`file://`) replica client: a Litestream v0.5 replica laid out as
 * Litestream's file backend writes it (docs/formats.md §4.1):
 *
 * ```
 * <root>/ltx/<level decimal>/<min %016x>-<max %016x>.ltx     e.g. ltx/0/0000000000000001-0000000000000001.ltx
 * ```
 *
 * Keys are `/`-separated paths relative to the root. `createdAt` of a file is its mtime,
 * which Litestream sets to the LTX header timestamp; `write({ timestamp })` does the same,
 * so time travel (docs/formats.md §4.3, §4.4) works on replicas ltxvfs writes.
 *
 * ETags are content hashes, `"<first 32 hex digits of SHA-256>"` — equal bytes, equal ETag,
 * like S3's MD5 ETags. They cost a hash of the object on `read`, `write` and on every
 * `ifMatch` check; the objects that need ETags (the lease) are small.
 *
 * Keys are confined to the root lexically: a key that is absolute or whose `..` segments
 * climb out of the root is refused with `LTXVFS_ERR_BAD_KEY`. Symbolic links inside the
 * replica are followed while they stay inside it (the operator's choice).
 *
 * Strict entries (issue 12 item 5): an entry under an LTX file name that is not a regular
 * file (a FIFO, a device, a directory, a socket), a dangling symbolic link, or one whose
 * target leaves the root is still listed — so a plan that needs that TXID range does not
 * quietly serve an older state — but every read of it fails with `LTXVFS_ERR_BAD_KEY`
 * naming the entry and what it is. Files are opened non-blocking and checked with `fstat`
 * before any byte is read, so a FIFO never blocks a reader. A name that looks like an LTX
 * file but cannot be one (min > max, TXID 0, upper-case hex, a TXID above 2^53 − 1) is a
 * stray: left out of the listing, logged (`NODE_DEBUG=ltxvfs`) and reported by
 * {@link FileReplicaClient.strays}, not fatal to the rest of the replica.
 *
 * The entry checks and the cache of open read handles are in entries.ts, atomic
 * writes in write.ts, keys, paths and times in keys.ts; this module holds the client:
 * listing, reads, writes and deletes.
 */

import { promises as fs } from 'node:fs';
import type { FileHandle } from 'node:fs/promises';
import * as path from 'node:path';
import { pathToFileURL } from 'node:url';
import { debuglog } from 'node:util';
import { LtxvfsError } from '../../../ltx/errors.js';
import { formatLtxFilename } from '../../../ltx/filename.js';
import type { LtxFileInfo, ReplicaCapabilities, ReplicaClient, StrayEntry, WriteOptions } from '../types.js';
import { classifyLtxName, StrayLog } from '../strays.js';
import { checkEtag, writeAtomically } from './write.js';
import { etagOf } from '../etag.js';
import { errnoCode, FileEntries, readError, reason, unreadableError } from './entries.js';
import { checkReplicaDirectory, levelDir, mtimeToMs, resolveKey } from './keys.js';

const debug = debuglog('ltxvfs');

/** Options of {@link openFileReplica}. */
export interface FileReplicaOptions {
  /** Create the replica directory (and its parents) if it does not exist. Default false. */
  create?: boolean;
  /** At most this many LTX files are kept open for `readRange` (least recently used are closed). Default 64. */
  maxOpenFiles?: number;
}

const DEFAULT_MAX_OPEN_FILES = 64;

/**
 * Open a directory replica.
 * @param root the replica directory (absolute or relative to the working directory).
 * @throws LtxvfsError `LTXVFS_ERR_NOT_FOUND` ("replica directory does not exist: <path>",
 *   or "… is not a directory") unless `create`; `LTXVFS_ERR_STORAGE` if it cannot be
 *   created or examined.
 */
export async function openFileReplica(root: string, options: FileReplicaOptions = {}): Promise<FileReplicaClient> {
  const abs = path.resolve(root);
  if (options.create === true) {
    try {
      await fs.mkdir(abs, { recursive: true });
    } catch (err) {
      if (errnoCode(err) !== 'EEXIST' && errnoCode(err) !== 'ENOTDIR') {
        throw new LtxvfsError('LTXVFS_ERR_STORAGE', `cannot create replica directory ${abs}: ${reason(err)}`, {
          key: abs,
          cause: err,
        });
      }
    }
  }
  await checkReplicaDirectory(abs);
  return new FileReplicaClient(abs, options);
}

/** A {@link ReplicaClient} over a local directory. Create it with {@link openFileReplica}. */
export class FileReplicaClient implements ReplicaClient {
  /** `file://` URL of the root directory. */
  readonly url: string;
  /** Absolute path of the replica directory. */
  readonly root: string;
  /**
   * Range reads by `pread`; create-only by `link` (atomic), if-match compared then renamed
   * (not atomic, so the lease guards its replaces); local latency; temporary files under the root.
   */
  readonly capabilities: ReplicaCapabilities;

  /** Listed entries that cannot be read (not a regular file, a symlink out of the root), by key: the error every read gets. */
  private readonly unreadable = new Map<string, LtxvfsError>();
  private readonly strayLog = new StrayLog();
  /** Read handles of LTX files and the entry checks (entries.ts). */
  private readonly files: FileEntries;
  private closed = false;

  /** Use {@link openFileReplica}, which checks that `root` exists; this constructor does not. */
  constructor(root: string, options: FileReplicaOptions = {}) {
    this.root = path.resolve(root);
    this.url = pathToFileURL(this.root).href;
    this.capabilities = Object.freeze({
      rangeReads: true,
      conditionalWrites: 'create-only',
      leaseLock: 'replace-guard',
      latency: 'local',
      tempFileRoot: this.root,
    });
    const max = options.maxOpenFiles ?? DEFAULT_MAX_OPEN_FILES;
    if (!Number.isSafeInteger(max) || max < 1) {
      throw new LtxvfsError('LTXVFS_ERR_USAGE', `bad maxOpenFiles ${String(max)}: need an integer >= 1`);
    }
    this.files = new FileEntries(this.root, max);
  }

  /**
   * `ltx/<level>/<min>-<max>.ltx`, level in decimal without padding (docs/formats.md §4.1).
   * @throws LtxvfsError `LTXVFS_ERR_USAGE` for a level that is not an integer ≥ 0 or a bad TXID range.
   */
  ltxKey(level: number, minTXID: number, maxTXID: number): string {
    return `${levelDir(level)}/${formatLtxFilename(minTXID, maxTXID)}`;
  }

  /**
   * The key of a replica-level object such as the lease's `lock.json` (docs/formats.md §5.2):
   * `name` itself, a path relative to the root.
   * @throws LtxvfsError `LTXVFS_ERR_BAD_KEY` for an empty name, one with NUL, or one that leaves the root.
   */
  objectKey(name: string): string {
    resolveKey(this.root, name);
    return name;
  }

  /**
   * The LTX files of `ltx/<level>/`, sorted by (minTXID, maxTXID), `size` and `createdAt`
   * (mtime, ms, see {@link mtimeToMs}) from `stat`. Names that are not LTX file names
   * (temporary files, `lock.json`, …) are ignored; names that look like LTX file names but
   * cannot be one are strays ({@link strays}); entries under an LTX name that are not
   * regular files inside the root are listed (size 0 when there is none) and fail at read
   * (module doc). Files deleted between the directory read and their `stat` are left out.
   * A missing level directory gives `[]`.
   * @throws LtxvfsError `LTXVFS_ERR_NOT_FOUND` if the replica directory itself is gone;
   *   `LTXVFS_ERR_STORAGE` on I/O errors.
   */
  async listLtxFiles(level: number, options: { seekTXID?: number } = {}): Promise<LtxFileInfo[]> {
    this.checkOpen();
    const dirKey = levelDir(level);
    const seek = options.seekTXID ?? 0;
    let names: string[];
    try {
      names = await fs.readdir(path.join(this.root, dirKey));
    } catch (err) {
      if (errnoCode(err) === 'ENOENT') {
        await checkReplicaDirectory(this.root);
        return [];
      }
      throw new LtxvfsError('LTXVFS_ERR_STORAGE', `list ${dirKey}: ${reason(err)}`, { key: dirKey, cause: err });
    }

    const wanted: Array<{ key: string; minTXID: number; maxTXID: number }> = [];
    for (const name of names) {
      const key = `${dirKey}/${name}`;
      const found = classifyLtxName(name);
      if (found.kind === 'stray') {
        if (this.strayLog.add({ key, reason: found.reason })) debug('file: stray entry %s in %s: %s', key, this.url, found.reason);
      } else if (found.kind === 'ltx' && found.minTXID >= seek) {
        wanted.push({ key, minTXID: found.minTXID, maxTXID: found.maxTXID });
      }
    }

    const infos = await Promise.all(
      wanted.map(async ({ key, minTXID, maxTXID }): Promise<LtxFileInfo | undefined> => {
        const entry = await this.files.inspect(path.join(this.root, key), key, dirKey);
        if (entry === undefined) return undefined;
        const { problem, st } = entry;
        if (problem !== undefined) {
          this.unreadable.set(key, unreadableError(key, problem));
          debug('file: unreadable entry %s in %s: %s', key, this.url, problem);
          return { level, minTXID, maxTXID, size: 0, createdAt: mtimeToMs(st.mtimeNs), key };
        }
        this.unreadable.delete(key);
        return { level, minTXID, maxTXID, size: Number(st.size), createdAt: mtimeToMs(st.mtimeNs), key };
      }),
    );
    const files = infos.filter((f): f is LtxFileInfo => f !== undefined);
    files.sort((a, b) => a.minTXID - b.minTXID || a.maxTXID - b.maxTXID);
    return files;
  }

  /**
   * Names seen in level directories that look like LTX file names but cannot be one
   * (`…-ffffffffffffffff.ltx`, min > max), with the reason; left out of listings. The most
   * recent {@link StrayLog.LIMIT} distinct ones.
   */
  strays(): StrayEntry[] {
    return this.strayLog.list();
  }

  /**
   * Exactly `length` bytes of `key` from `offset`. Handles are cached (at most
   * `maxOpenFiles`, least recently used closed first) because LTX files are immutable
   * under their name; a file replaced behind ltxvfs's back by another process keeps
   * being read through the old handle until it is evicted or {@link write}/{@link delete}
   * touch that key.
   * @param into read into its first `length` bytes when it has that many (see `ReplicaClient.readRange`).
   * @throws LtxvfsError `LTXVFS_ERR_NOT_FOUND` (no such key), `LTXVFS_ERR_STORAGE`
   *   ("short read" when the file ends early, or I/O), `LTXVFS_ERR_BAD_KEY` (a bad key, or
   *   an entry that is not a regular file inside the root, naming it), `LTXVFS_ERR_USAGE` (bad range).
   */
  async readRange(key: string, offset: number, length: number, into?: Uint8Array): Promise<Uint8Array> {
    this.checkOpen();
    const abs = resolveKey(this.root, key);
    const bad = this.unreadable.get(key);
    if (bad !== undefined) throw bad;
    if (!Number.isSafeInteger(offset) || offset < 0 || !Number.isSafeInteger(length) || length < 0) {
      throw new LtxvfsError('LTXVFS_ERR_USAGE', `read ${key}: bad range offset ${String(offset)} length ${String(length)}`, {
        key,
      });
    }
    const buf = into !== undefined && into.length >= length ? into.subarray(0, length) : new Uint8Array(length);
    let done = 0;
    try {
      await this.files.withHandle(abs, async (fh) => {
        while (done < length) {
          const { bytesRead } = await fh.read(buf, done, length - done, offset + done);
          if (bytesRead === 0) break;
          done += bytesRead;
        }
      });
    } catch (err) {
      if (err instanceof LtxvfsError) throw err;
      throw readError(key, err);
    }
    if (done < length) {
      throw new LtxvfsError(
        'LTXVFS_ERR_STORAGE',
        `short read of ${key}: got ${done} of ${length} bytes at offset ${offset}`,
        { key },
      );
    }
    return buf;
  }

  /**
   * The whole object and its ETag (content hash).
   * @throws LtxvfsError `LTXVFS_ERR_NOT_FOUND`, `LTXVFS_ERR_STORAGE`, `LTXVFS_ERR_BAD_KEY`
   *   (as {@link readRange}).
   */
  async read(key: string): Promise<{ data: Uint8Array; etag: string }> {
    this.checkOpen();
    const abs = resolveKey(this.root, key);
    const bad = this.unreadable.get(key);
    if (bad !== undefined) throw bad;
    let data: Uint8Array;
    let fh: FileHandle | undefined;
    try {
      fh = await this.files.openChecked(abs, key);
      data = await fh.readFile();
    } catch (err) {
      if (err instanceof LtxvfsError) throw err;
      throw readError(key, err);
    } finally {
      await fh?.close().catch(() => undefined);
    }
    return { data, etag: etagOf(data) };
  }

  /**
   * Write atomically: the bytes go to `<name>.tmp-<random>` in the same directory, are
   * fsynced, get their mtime set to `timestamp` (before they become visible, so a lister
   * never sees a wrong `createdAt`), then:
   * - plain: `rename` over the key;
   * - `ifNoneMatch`: `link` into place, which fails if the key exists (atomic create-only),
   *   then the temporary name is removed;
   * - `ifMatch`: the current object's ETag is compared, then `rename`. Best effort: a
   *   writer that replaces the object between the comparison and the rename wins
   *   silently. Cross-process exclusion on a directory needs a lock file (the lease).
   * Parent directories are created; the directory is fsynced after the rename where the
   * platform allows it. `contentType` is ignored.
   * @returns the new ETag.
   * @throws LtxvfsError `LTXVFS_ERR_PRECONDITION` (create-only and the key exists; if-match
   *   and the key is missing or has another ETag); `LTXVFS_ERR_STORAGE` (I/O, including a
   *   filesystem without hard links for `ifNoneMatch`); `LTXVFS_ERR_BAD_KEY`;
   *   `LTXVFS_ERR_USAGE` (both conditions, bad timestamp).
   */
  async write(key: string, data: Uint8Array, options: WriteOptions = {}): Promise<{ etag: string }> {
    this.checkOpen();
    const abs = resolveKey(this.root, key);
    try {
      return await writeAtomically(abs, key, data, options);
    } finally {
      void this.files.invalidate(abs);
    }
  }

  /**
   * Delete `key`. A missing key is fine unless `ifMatch` is given; with `ifMatch` the
   * ETag is compared first (best effort, as in {@link write}).
   * @throws LtxvfsError `LTXVFS_ERR_PRECONDITION` (if-match and the key is missing or has
   *   another ETag), `LTXVFS_ERR_STORAGE`, `LTXVFS_ERR_BAD_KEY`.
   */
  async delete(key: string, options: { ifMatch?: string } = {}): Promise<void> {
    this.checkOpen();
    const abs = resolveKey(this.root, key);
    try {
      if (options.ifMatch !== undefined) await checkEtag(abs, key, options.ifMatch);
      await fs.unlink(abs);
    } catch (err) {
      if (err instanceof LtxvfsError) throw err;
      if (errnoCode(err) === 'ENOENT') {
        if (options.ifMatch === undefined) return;
        throw new LtxvfsError('LTXVFS_ERR_PRECONDITION', `precondition failed for ${key}: object does not exist (if-match ${options.ifMatch})`, {
          key,
          cause: err,
        });
      }
      throw new LtxvfsError('LTXVFS_ERR_STORAGE', `delete ${key}: ${reason(err)}`, { key, cause: err });
    } finally {
      void this.files.invalidate(abs);
    }
  }

  /** See `ReplicaClient.listKeys`: files under the folder `prefix`, depth first, in directory order. */
  async listKeys(prefix: string, limit: number): Promise<string[]> {
    this.checkOpen();
    const keys: string[] = [];
    const walk = async (dirKey: string): Promise<void> => {
      let entries;
      try {
        entries = await fs.readdir(resolveKey(this.root, dirKey), { withFileTypes: true });
      } catch (err) {
        if (err instanceof LtxvfsError) throw err;
        if (errnoCode(err) === 'ENOENT' || errnoCode(err) === 'ENOTDIR') return;
        throw new LtxvfsError('LTXVFS_ERR_STORAGE', `list ${dirKey}: ${reason(err)}`, { key: dirKey, cause: err });
      }
      for (const entry of entries) {
        if (keys.length >= limit) return;
        const key = `${dirKey}/${entry.name}`;
        if (entry.isDirectory()) await walk(key);
        else if (entry.isFile()) keys.push(key);
      }
    };
    await walk(prefix.replace(/\/+$/, ''));
    return keys;
  }

  /** Close the cached file handles. Later calls of any method fail with `LTXVFS_ERR_CLOSED`. Idempotent. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    await this.files.closeAll();
  }

  private checkOpen(): void {
    if (this.closed) throw new LtxvfsError('LTXVFS_ERR_CLOSED', `replica client is closed: ${this.url}`);
  }
}
