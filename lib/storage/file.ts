/**
 * The directory (`file://`) replica client: a Litestream v0.5 replica laid out as
 * Litestream's file backend writes it (FORMATS.md §4.1):
 *
 * ```
 * <root>/ltx/<level decimal>/<min %016x>-<max %016x>.ltx     e.g. ltx/0/0000000000000001-0000000000000001.ltx
 * ```
 *
 * Keys are `/`-separated paths relative to the root. `createdAt` of a file is its mtime,
 * which Litestream sets to the LTX header timestamp; `write({ timestamp })` does the same,
 * so time travel (FORMATS.md §4.3, §4.4) works on replicas ltxvfs writes.
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
 */

import { createHash, randomBytes } from 'node:crypto';
import { constants as fsConstants, promises as fs } from 'node:fs';
import type { FileHandle } from 'node:fs/promises';
import * as path from 'node:path';
import { pathToFileURL } from 'node:url';
import { debuglog } from 'node:util';
import { LtxvfsError } from '../../ltx/errors.js';
import { formatLtxFilename } from '../../ltx/filename.js';
import type { LtxFileInfo, ReplicaCapabilities, ReplicaClient, StrayEntry, WriteOptions } from './types.js';
import { classifyLtxName, StrayLog } from './strays.js';

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

  private readonly maxOpenFiles: number;
  /** Open handles for readRange, keyed by absolute path; Map order is least recently used first. */
  private readonly handles = new Map<string, HandleEntry>();
  /** Listed entries that cannot be read (not a regular file, a symlink out of the root), by key: the error every read gets. */
  private readonly unreadable = new Map<string, LtxvfsError>();
  private readonly strayLog = new StrayLog();
  /** The root with symbolic links resolved, for the symlink check (resolved on first use). */
  private realRoot: Promise<string> | undefined;
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
    this.maxOpenFiles = max;
  }

  /**
   * `ltx/<level>/<min>-<max>.ltx`, level in decimal without padding (FORMATS.md §4.1).
   * @throws LtxvfsError `LTXVFS_ERR_USAGE` for a level that is not an integer ≥ 0 or a bad TXID range.
   */
  ltxKey(level: number, minTXID: number, maxTXID: number): string {
    return `${levelDir(level)}/${formatLtxFilename(minTXID, maxTXID)}`;
  }

  /**
   * The key of a replica-level object such as the lease's `lock.json` (FORMATS.md §5.2):
   * `name` itself, a path relative to the root.
   * @throws LtxvfsError `LTXVFS_ERR_BAD_KEY` for an empty name, one with NUL, or one that leaves the root.
   */
  objectKey(name: string): string {
    this.resolveKey(name);
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
        const abs = path.join(this.root, key);
        let lst;
        try {
          lst = await fs.lstat(abs, { bigint: true });
        } catch (err) {
          if (errnoCode(err) === 'ENOENT') return undefined;
          throw new LtxvfsError('LTXVFS_ERR_STORAGE', `list ${dirKey}: stat ${key}: ${reason(err)}`, { key, cause: err });
        }
        let st = lst;
        let problem: string | undefined;
        if (lst.isSymbolicLink()) {
          problem = await this.symlinkProblem(abs);
          if (problem === undefined) {
            try {
              st = await fs.stat(abs, { bigint: true });
            } catch (err) {
              problem = `a symbolic link that cannot be followed (${reason(err)})`;
            }
          }
        }
        problem ??= notRegular(st);
        if (problem !== undefined) {
          this.unreadable.set(key, unreadableError(key, problem));
          debug('file: unreadable entry %s in %s: %s', key, this.url, problem);
          return { level, minTXID, maxTXID, size: 0, createdAt: mtimeToMs(lst.mtimeNs), key };
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
    const abs = this.resolveKey(key);
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
      await this.withHandle(abs, async (fh) => {
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
    const abs = this.resolveKey(key);
    const bad = this.unreadable.get(key);
    if (bad !== undefined) throw bad;
    let data: Uint8Array;
    let fh: FileHandle | undefined;
    try {
      fh = await this.openChecked(abs, key);
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
    const abs = this.resolveKey(key);
    const { ifNoneMatch = false, ifMatch, timestamp } = options;
    if (ifNoneMatch && ifMatch !== undefined) {
      throw new LtxvfsError('LTXVFS_ERR_USAGE', `write ${key}: ifNoneMatch and ifMatch cannot both be given`, { key });
    }
    if (timestamp !== undefined && !Number.isFinite(timestamp)) {
      throw new LtxvfsError('LTXVFS_ERR_USAGE', `write ${key}: bad timestamp ${String(timestamp)}`, { key });
    }
    const dir = path.dirname(abs);
    const tmp = `${abs}.tmp-${randomBytes(6).toString('hex')}`;
    let tmpExists = false;
    try {
      await fs.mkdir(dir, { recursive: true });
      const fh = await fs.open(tmp, 'wx');
      tmpExists = true;
      try {
        await fh.writeFile(data);
        await fh.sync();
      } finally {
        await fh.close();
      }
      if (timestamp !== undefined) await fs.utimes(tmp, timestamp / 1000, timestamp / 1000);
      if (ifNoneMatch) {
        try {
          await fs.link(tmp, abs);
        } catch (err) {
          if (errnoCode(err) === 'EEXIST') {
            throw new LtxvfsError('LTXVFS_ERR_PRECONDITION', `precondition failed for ${key}: object already exists (create-only write)`, {
              key,
              cause: err,
            });
          }
          throw err;
        }
      } else {
        if (ifMatch !== undefined) await this.checkEtag(abs, key, ifMatch);
        await fs.rename(tmp, abs);
        tmpExists = false;
      }
    } catch (err) {
      if (err instanceof LtxvfsError) throw err;
      throw new LtxvfsError('LTXVFS_ERR_STORAGE', `write ${key}: ${reason(err)}`, { key, cause: err });
    } finally {
      if (tmpExists) await fs.rm(tmp, { force: true }).catch(() => undefined);
      void this.invalidate(abs);
    }
    await syncDirectory(dir);
    return { etag: etagOf(data) };
  }

  /**
   * Delete `key`. A missing key is fine unless `ifMatch` is given; with `ifMatch` the
   * ETag is compared first (best effort, as in {@link write}).
   * @throws LtxvfsError `LTXVFS_ERR_PRECONDITION` (if-match and the key is missing or has
   *   another ETag), `LTXVFS_ERR_STORAGE`, `LTXVFS_ERR_BAD_KEY`.
   */
  async delete(key: string, options: { ifMatch?: string } = {}): Promise<void> {
    this.checkOpen();
    const abs = this.resolveKey(key);
    try {
      if (options.ifMatch !== undefined) await this.checkEtag(abs, key, options.ifMatch);
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
      void this.invalidate(abs);
    }
  }

  /** See `ReplicaClient.listKeys`: files under the folder `prefix`, depth first, in directory order. */
  async listKeys(prefix: string, limit: number): Promise<string[]> {
    this.checkOpen();
    const keys: string[] = [];
    const walk = async (dirKey: string): Promise<void> => {
      let entries;
      try {
        entries = await fs.readdir(this.resolveKey(dirKey), { withFileTypes: true });
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
    await Promise.all([...this.handles.keys()].map((abs) => this.invalidate(abs)));
  }

  private checkOpen(): void {
    if (this.closed) throw new LtxvfsError('LTXVFS_ERR_CLOSED', `replica client is closed: ${this.url}`);
  }

  /**
   * The absolute path of `key`, which must be a relative `/`-path without NUL that names
   * something strictly inside the root after resolving `.` and `..`.
   */
  private resolveKey(key: string): string {
    if (typeof key !== 'string' || key === '' || key.includes('\0')) {
      throw new LtxvfsError('LTXVFS_ERR_BAD_KEY', `bad key ${JSON.stringify(key)}: empty or contains NUL`, { key });
    }
    const abs = path.resolve(this.root, key);
    const rel = path.relative(this.root, abs);
    if (path.isAbsolute(key) || rel === '..' || rel.startsWith(`..${path.sep}`) || path.isAbsolute(rel)) {
      throw new LtxvfsError('LTXVFS_ERR_BAD_KEY', `key escapes the replica root: ${key}`, { key });
    }
    if (rel === '') {
      throw new LtxvfsError('LTXVFS_ERR_BAD_KEY', `key names the replica root itself: ${key}`, { key });
    }
    return abs;
  }

  private async checkEtag(abs: string, key: string, expected: string): Promise<void> {
    let current: Uint8Array;
    try {
      current = await fs.readFile(abs);
    } catch (err) {
      if (errnoCode(err) === 'ENOENT') {
        throw new LtxvfsError('LTXVFS_ERR_PRECONDITION', `precondition failed for ${key}: object does not exist (if-match ${expected})`, {
          key,
          cause: err,
        });
      }
      throw err;
    }
    const etag = etagOf(current);
    if (etag !== expected) {
      throw new LtxvfsError('LTXVFS_ERR_PRECONDITION', `precondition failed for ${key}: etag is ${etag}, not ${expected}`, {
        key,
      });
    }
  }

  /**
   * Open `abs` for reading without blocking (a FIFO would block a plain open) and check
   * that it is a regular file inside the root.
   * @throws LtxvfsError `LTXVFS_ERR_BAD_KEY` naming `key` and what it is; errno errors as thrown by `open`.
   */
  private async openChecked(abs: string, key: string): Promise<FileHandle> {
    const fh = await fs.open(abs, fsConstants.O_RDONLY | fsConstants.O_NONBLOCK);
    try {
      const problem = notRegular(await fh.stat()) ?? (await this.symlinkProblem(abs));
      if (problem !== undefined) throw unreadableError(key, problem);
      return fh;
    } catch (err) {
      await fh.close().catch(() => undefined);
      throw err;
    }
  }

  /** Why `abs` (any path under the root) resolves outside the root, or undefined when it stays inside (or is no link at all). */
  private async symlinkProblem(abs: string): Promise<string | undefined> {
    this.realRoot ??= fs.realpath(this.root).catch(() => this.root);
    const root = await this.realRoot;
    let target: string;
    try {
      target = await fs.realpath(abs);
    } catch (err) {
      if (errnoCode(err) !== 'ENOENT') return undefined;
      // Removed since it was opened (a lease released, a file compacted away): the open
      // handle still reads what was asked for. Only a link that is still there dangles.
      const link = await fs.readlink(abs).catch(() => undefined);
      return link === undefined ? undefined : `a dangling symbolic link (to ${link})`;
    }
    const rel = path.relative(root, target);
    if (rel === '' || rel === '..' || rel.startsWith(`..${path.sep}`) || path.isAbsolute(rel)) {
      return `a symbolic link leaving the replica root (to ${target})`;
    }
    return undefined;
  }

  /** Run `fn` with a cached read handle of `abs`, opening it on first use. */
  private async withHandle(abs: string, fn: (fh: FileHandle) => Promise<void>): Promise<void> {
    let entry = this.handles.get(abs);
    if (entry === undefined) {
      const opened = this.openChecked(abs, path.relative(this.root, abs).split(path.sep).join('/'));
      const created: HandleEntry = { handle: opened, refs: 0, evicted: false };
      entry = created;
      // A failed open is not cached: the next read tries again.
      opened.catch(() => {
        if (this.handles.get(abs) === created) this.handles.delete(abs);
      });
      this.handles.set(abs, created);
      this.evictIdle();
    } else {
      this.handles.delete(abs);
      this.handles.set(abs, entry);
    }
    entry.refs++;
    try {
      await fn(await entry.handle);
    } finally {
      entry.refs--;
      if (entry.evicted && entry.refs === 0) await closeEntry(entry);
    }
  }

  /** Close the least recently used handles beyond `maxOpenFiles` (those in use close when released). */
  private evictIdle(): void {
    for (const [abs] of this.handles) {
      if (this.handles.size <= this.maxOpenFiles) break;
      void this.invalidate(abs);
    }
  }

  /** Forget the cached handle of `abs`; close it now if idle, else when its last reader is done. */
  private async invalidate(abs: string): Promise<void> {
    const entry = this.handles.get(abs);
    if (entry === undefined) return;
    this.handles.delete(abs);
    entry.evicted = true;
    if (entry.refs === 0) await closeEntry(entry);
  }
}

interface HandleEntry {
  handle: Promise<FileHandle>;
  /** Readers currently using the handle. */
  refs: number;
  /** Removed from the cache; close when `refs` drops to 0. */
  evicted: boolean;
}

async function closeEntry(entry: HandleEntry): Promise<void> {
  try {
    await (await entry.handle).close();
  } catch {
    // A handle that never opened, or fails to close, has nothing left to release.
  }
}

/**
 * mtime in ns → ms since the epoch, rounded down, but tolerating 1 µs below a whole
 * millisecond: `utimes` takes seconds as a double, which near 2026 resolves only ~240 ns,
 * so a timestamp written as 1795254709256 ms may read back as …255.99998 ms.
 * Litestream sets exact milliseconds, which this maps to themselves.
 */
export function mtimeToMs(mtimeNs: bigint): number {
  return Number((mtimeNs + 1000n) / 1_000_000n);
}

/** `ltx/<level>` for a level that is an integer ≥ 0. */
function levelDir(level: number): string {
  if (!Number.isSafeInteger(level) || level < 0) {
    throw new LtxvfsError('LTXVFS_ERR_USAGE', `bad level ${String(level)}: need an integer >= 0`);
  }
  return `ltx/${level}`;
}

async function checkReplicaDirectory(abs: string): Promise<void> {
  let st;
  try {
    st = await fs.stat(abs);
  } catch (err) {
    const code = errnoCode(err);
    if (code === 'ENOENT' || code === 'ENOTDIR') {
      throw new LtxvfsError('LTXVFS_ERR_NOT_FOUND', `replica directory does not exist: ${abs}`, { key: abs, cause: err });
    }
    throw new LtxvfsError('LTXVFS_ERR_STORAGE', `cannot open replica directory ${abs}: ${reason(err)}`, {
      key: abs,
      cause: err,
    });
  }
  if (!st.isDirectory()) {
    throw new LtxvfsError('LTXVFS_ERR_NOT_FOUND', `replica path is not a directory: ${abs}`, { key: abs });
  }
}

/** fsync a directory so a rename in it is durable; not every platform allows it (Windows), so failures are ignored. */
async function syncDirectory(dir: string): Promise<void> {
  let fh: FileHandle | undefined;
  try {
    fh = await fs.open(dir, 'r');
    await fh.sync();
  } catch {
    // Durability of the directory entry is best effort.
  } finally {
    await fh?.close().catch(() => undefined);
  }
}

function etagOf(data: Uint8Array): string {
  return `"${createHash('sha256').update(data).digest('hex').slice(0, 32)}"`;
}

/** What a stat says an entry is, when it is not a regular file. */
function notRegular(st: { isFile(): boolean; isDirectory(): boolean; isFIFO(): boolean; isCharacterDevice(): boolean; isBlockDevice(): boolean; isSocket(): boolean }): string | undefined {
  if (st.isFile()) return undefined;
  if (st.isDirectory()) return 'a directory';
  if (st.isFIFO()) return 'a FIFO';
  if (st.isCharacterDevice()) return 'a character device';
  if (st.isBlockDevice()) return 'a block device';
  if (st.isSocket()) return 'a socket';
  return 'not a regular file';
}

function unreadableError(key: string, what: string): LtxvfsError {
  return new LtxvfsError('LTXVFS_ERR_BAD_KEY', `replica entry ${key} is ${what}, not a regular LTX file`, { key });
}

function readError(key: string, err: unknown): LtxvfsError {
  const code = errnoCode(err);
  if (code === 'ENOENT' || code === 'ENOTDIR') {
    return new LtxvfsError('LTXVFS_ERR_NOT_FOUND', `object does not exist: ${key}`, { key, cause: err });
  }
  return new LtxvfsError('LTXVFS_ERR_STORAGE', `read ${key}: ${reason(err)}`, { key, cause: err });
}

function errnoCode(err: unknown): string | undefined {
  return (err as NodeJS.ErrnoException | undefined)?.code;
}

/** "EACCES: permission denied" from Node's "EACCES: permission denied, open '/…'" (the path is already in our message). */
function reason(err: unknown): string {
  return (err as Error).message.split(', ')[0];
}
