/**
 * The directory behind a disk cache (lib/cache/disk-cache.ts has the overview): entries
 * read synchronously, written in the background, and evicted. It knows entries by name
 * and bytes only (lib/cache/disk-entry.ts says what they hold).
 *
 * Crash and concurrency safety: an entry is written under a unique name in `tmp/` and
 * renamed into place, so another process sees the old entry, the whole new one, or none
 * (never a torn one); entries are not fsynced — an entry torn by a power loss fails its
 * checksum. A caller that finds an entry bad {@link DiskStore.reject}s it: it is deleted
 * and the lookup is a miss, so a bad entry is never returned. Two processes writing the
 * same entry write the same bytes; the later rename wins. A process that deletes an
 * entry another one is reading does not disturb the reader (POSIX unlink).
 *
 * Reads are synchronous (open, read, close of one small file: ~10 µs), so a disk hit
 * completes inside the VFS's xRead without an Asyncify unwind (see docs/usage.md, "Disk
 * cache"); writes are asynchronous, two at a time, with a bounded queue: when it is full,
 * writes are dropped (counted), never queued without bound.
 *
 * Eviction (a soft bound, LRU-ish by mtime): an entry's mtime is when it was written,
 * or when a process last hit it (touched at most once per {@link TOUCH_AFTER_MS}). A
 * process scans the directory (stat of every entry, in the background) at its first write
 * when no process scanned in the last minute, and again after every `maxBytes / 16` bytes
 * it wrote; when the entries add up to more than `maxBytes`, the oldest are deleted until
 * 90 % remain. The directory can therefore exceed `maxBytes` by what processes wrote
 * since their last scans (at most `maxBytes / 16` each).
 */
import { randomBytes } from 'node:crypto';
import { channel } from 'node:diagnostics_channel';
import { closeSync, fstatSync, mkdirSync, openSync, readSync, unlink, utimes } from 'node:fs';
import { mkdir, readdir, readFile, rename, stat, unlink as unlinkAsync, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import PQueue from 'p-queue';
import { LtxvfsError } from '../../ltx/errors.js';
import { entryName, FORMAT_DIR, MAX_IDENTITY_BYTES, type EntryKind, type EntryName } from './disk-entry.js';

/** Default bound of a disk cache directory: 512 MiB. */
export const DEFAULT_DISK_CACHE_SIZE_BYTES = 512 * 1024 * 1024;

/** A hit refreshes an entry's mtime (its place in the eviction order) only if it is older than this. */
export const TOUCH_AFTER_MS = 10 * 60 * 1000;

/** Temporary files older than this are left over from a crash and removed by scans. */
const STALE_TMP_MS = 10 * 60 * 1000;

/** A scan at a process's first write is skipped if any process scanned this recently. */
const SCAN_STAMP_FRESH_MS = 60 * 1000;

/** Hashes remembered as present on disk (written or read by this process), before the set is cleared. */
const MAX_KNOWN = 200_000;

/** Options of a disk cache. */
export interface DiskCacheOptions {
  /** Soft bound on the bytes of entries in the directory (all replicas together). Default {@link DEFAULT_DISK_CACHE_SIZE_BYTES}. */
  maxBytes?: number;
  /** Bytes of entries waiting to be written before further writes are dropped. Default min(64 MiB, maxBytes). */
  maxPendingBytes?: number;
}

/** Counters of a disk cache since it was made. */
export interface DiskCacheStats {
  /** Page lookups answered from disk. */
  hits: number;
  /** Page lookups that found no entry. */
  misses: number;
  /** LTX page indexes answered from disk. */
  fileHits: number;
  /** LTX page index lookups that found no entry. */
  fileMisses: number;
  /** Entries found bad (torn, truncated, wrong identity or checksum), deleted and treated as misses. */
  rejected: number;
  /** Entries written. */
  writes: number;
  /** Bytes of entries written. */
  bytesWritten: number;
  /** Writes dropped because the queue was full, or failed. */
  dropped: number;
  /** Entries deleted by eviction scans of this process. */
  evictions: number;
  /** Eviction scans run by this process. */
  scans: number;
}

/** What an eviction scan found and did. */
export interface DiskCacheScan {
  /** Bytes of entries before eviction. */
  bytes: number;
  /** Entries before eviction. */
  entries: number;
  /** Entries deleted. */
  evicted: number;
  /** Bytes of entries after eviction. */
  bytesAfter: number;
}

/** Message published on the `ltxvfs:disk-cache` diagnostics channel. */
export interface DiskCacheMessage {
  /** `reject`: a bad entry was deleted; `evict`: a scan deleted entries. */
  event: 'reject' | 'evict';
  /** The cache directory. */
  dir: string;
  /** For `reject`: the entry's path and why. */
  path?: string;
  reason?: string;
  /** For `evict`: entries deleted and bytes left. */
  evicted?: number;
  bytesAfter?: number;
}

const diskChannel = channel('ltxvfs:disk-cache');

/** A cache directory: synchronous reads, queued atomic writes, eviction scans (see the module comment). */
export class DiskStore {
  /** The directory given (entries live under `<dir>/v1`). */
  readonly dir: string;
  /** Soft bound, bytes. */
  readonly maxBytes: number;
  /** Counters, updated in place by the store and by the cache that uses it. */
  readonly counters: DiskCacheStats = {
    hits: 0, misses: 0, fileHits: 0, fileMisses: 0, rejected: 0, writes: 0, bytesWritten: 0, dropped: 0, evictions: 0, scans: 0,
  };
  readonly #root: string;
  readonly #tmp: string;
  readonly #maxPendingBytes: number;
  readonly #queue = new PQueue({ concurrency: 2 });
  /** Hashes of entries this process wrote or read (so a promoted hit is not written again). */
  readonly #known = new Set<string>();
  readonly #madeDirs = new Set<string>();
  #pendingBytes = 0;
  #bytesSinceScan = 0;
  #wroteOnce = false;
  #scanning: Promise<DiskCacheScan> | undefined;
  #tmpSeq = 0;
  readonly #tmpPrefix = `${process.pid}-${randomBytes(4).toString('hex')}`;
  #closed = false;

  /**
   * Open (creating) the cache directory `dir`.
   * @throws LtxvfsError `LTXVFS_ERR_USAGE` if the directory cannot be created or written, or `maxBytes` is not a non-negative number.
   */
  constructor(dir: string, options: DiskCacheOptions = {}) {
    const maxBytes = options.maxBytes ?? DEFAULT_DISK_CACHE_SIZE_BYTES;
    if (!Number.isFinite(maxBytes) || maxBytes < 0) {
      throw new LtxvfsError('LTXVFS_ERR_USAGE', `disk cache size must be a non-negative number of bytes, got ${maxBytes}`);
    }
    this.dir = dir;
    this.maxBytes = maxBytes;
    this.#maxPendingBytes = options.maxPendingBytes ?? Math.min(64 * 1024 * 1024, maxBytes);
    this.#root = join(dir, FORMAT_DIR);
    this.#tmp = join(this.#root, 'tmp');
    try {
      mkdirSync(this.#tmp, { recursive: true });
    } catch (err) {
      throw new LtxvfsError('LTXVFS_ERR_USAGE', `cannot use cache directory ${dir}: ${(err as Error).message}`, { key: dir, cause: err });
    }
  }

  /** True once {@link close} was called: writes are no longer accepted. */
  get closed(): boolean {
    return this.#closed;
  }

  /** The name of the entry of kind `kind` with identity `identity` in this directory. */
  name(kind: EntryKind, identity: string): EntryName {
    return entryName(this.#root, kind, identity);
  }

  /** True if this process wrote or read the entry `name` (and has not seen it rejected or evicted since). */
  knows(name: EntryName): boolean {
    return this.#known.has(name.hash);
  }

  /** Note that the entry `name` is on disk (it passed its checks). */
  remember(name: EntryName): void {
    if (this.#known.size >= MAX_KNOWN) this.#known.clear();
    this.#known.add(name.hash);
  }

  /**
   * The whole entry file, or undefined when it does not exist. With `size`, reads at most
   * `size + 1` bytes (a longer file then fails the length check). Touches the entry when
   * its mtime is old, so it moves back in the eviction order. Never throws.
   */
  read(name: EntryName, size: number | undefined): Uint8Array | undefined {
    let fd: number;
    try {
      fd = openSync(name.path, 'r');
    } catch {
      return undefined;
    }
    try {
      const st = fstatSync(fd);
      const cap = size === undefined ? st.size : Math.min(st.size, size + 1);
      const buf = Buffer.allocUnsafeSlow(cap);
      let n = 0;
      while (n < cap) {
        const r = readSync(fd, buf, n, cap - n, n);
        if (r === 0) break;
        n += r;
      }
      if (Date.now() - st.mtimeMs > TOUCH_AFTER_MS) {
        const now = new Date();
        utimes(name.path, now, now, () => undefined);
      }
      return new Uint8Array(buf.buffer, buf.byteOffset, n);
    } catch {
      return undefined;
    } finally {
      closeSync(fd);
    }
  }

  /** Count, delete (in the background) and publish the bad entry `name`, found bad for `reason`. */
  reject(name: EntryName, reason: string): void {
    this.counters.rejected++;
    this.#known.delete(name.hash);
    unlink(name.path, () => undefined);
    if (diskChannel.hasSubscribers) {
      diskChannel.publish({ event: 'reject', dir: this.dir, path: name.path, reason } satisfies DiskCacheMessage);
    }
  }

  /**
   * Write the entry `name` of `bytes` bytes, made by `encode`, in the background; dropped
   * (counted) when its identity is too long, it is larger than `maxBytes`, or the queue
   * holds `maxPendingBytes` already.
   */
  enqueue(name: EntryName, bytes: number, encode: () => Uint8Array): void {
    if (name.identity.length > MAX_IDENTITY_BYTES || bytes > this.maxBytes || this.#pendingBytes + bytes > this.#maxPendingBytes) {
      this.counters.dropped++;
      return;
    }
    this.#pendingBytes += bytes;
    this.remember(name);
    void this.#queue.add(async () => {
      try {
        await this.#write(name.path, encode());
      } catch {
        this.#known.delete(name.hash);
        this.counters.dropped++;
      } finally {
        this.#pendingBytes -= bytes;
      }
    });
  }

  /** Resolves once every write queued so far is done. */
  flush(): Promise<void> {
    return this.#queue.onIdle();
  }

  /**
   * Measure the directory and evict the oldest entries (by mtime) down to 90 % of
   * `maxBytes` if it holds more; remove temporary files left by crashes. Joins a scan
   * already running in this process. Never throws (unreadable entries are skipped).
   */
  scan(): Promise<DiskCacheScan> {
    this.#scanning ??= this.#scan().finally(() => {
      this.#scanning = undefined;
    });
    return this.#scanning;
  }

  /** Finish queued writes and stop accepting new ones (idempotent). */
  async close(): Promise<void> {
    this.#closed = true;
    await this.#queue.onIdle();
    await this.#scanning;
  }

  async #write(path: string, bytes: Uint8Array): Promise<void> {
    const dir = dirname(path);
    if (!this.#madeDirs.has(dir)) {
      await mkdir(dir, { recursive: true });
      this.#madeDirs.add(dir);
    }
    const tmp = join(this.#tmp, `${this.#tmpPrefix}-${++this.#tmpSeq}`);
    try {
      await writeFile(tmp, bytes);
      await rename(tmp, path);
    } catch (err) {
      await unlinkAsync(tmp).catch(() => undefined);
      throw err;
    }
    this.counters.writes++;
    this.counters.bytesWritten += bytes.length;
    this.#bytesSinceScan += bytes.length;
    this.#afterWrite();
  }

  #afterWrite(): void {
    if (this.#scanning !== undefined) return;
    if (!this.#wroteOnce) {
      this.#wroteOnce = true;
      void this.#scanIfStale();
    } else if (this.#bytesSinceScan >= Math.max(this.maxBytes / 16, 1)) {
      void this.scan();
    }
  }

  async #scanIfStale(): Promise<void> {
    try {
      const stamp = JSON.parse(await readFile(join(this.#root, 'scan.json'), 'utf8')) as { at?: unknown };
      if (typeof stamp.at === 'number' && Date.now() - stamp.at < SCAN_STAMP_FRESH_MS) return;
    } catch {
      // No stamp (or a bad one): scan.
    }
    await this.scan();
  }

  async #scan(): Promise<DiskCacheScan> {
    this.counters.scans++;
    this.#bytesSinceScan = 0;
    const entries: { path: string; hash: string; size: number; mtimeMs: number }[] = [];
    for (const kind of ['pages', 'files']) {
      const base = join(this.#root, kind);
      const shards = await readdir(base).catch(() => [] as string[]);
      for (const shard of shards) {
        const names = await readdir(join(base, shard)).catch(() => [] as string[]);
        const stats = await Promise.all(names.map((n) => stat(join(base, shard, n)).catch(() => undefined)));
        stats.forEach((st, i) => {
          if (st?.isFile()) entries.push({ path: join(base, shard, names[i]), hash: shard + names[i], size: st.size, mtimeMs: st.mtimeMs });
        });
      }
    }
    const now = Date.now();
    const tmps = await readdir(this.#tmp).catch(() => [] as string[]);
    await Promise.all(tmps.map(async (n) => {
      const st = await stat(join(this.#tmp, n)).catch(() => undefined);
      if (st !== undefined && now - st.mtimeMs > STALE_TMP_MS) await unlinkAsync(join(this.#tmp, n)).catch(() => undefined);
    }));
    const bytes = entries.reduce((n, e) => n + e.size, 0);
    let left = bytes;
    let evicted = 0;
    if (bytes > this.maxBytes) {
      entries.sort((a, b) => a.mtimeMs - b.mtimeMs);
      const target = this.maxBytes * 0.9;
      for (const e of entries) {
        if (left <= target) break;
        await unlinkAsync(e.path).catch(() => undefined);
        this.#known.delete(e.hash);
        left -= e.size;
        evicted++;
      }
      this.counters.evictions += evicted;
      if (diskChannel.hasSubscribers) {
        diskChannel.publish({ event: 'evict', dir: this.dir, evicted, bytesAfter: left } satisfies DiskCacheMessage);
      }
    }
    const stampTmp = join(this.#tmp, `${this.#tmpPrefix}-scan-${++this.#tmpSeq}`);
    await writeFile(stampTmp, JSON.stringify({ at: now, bytes: left, entries: entries.length - evicted }))
      .then(() => rename(stampTmp, join(this.#root, 'scan.json')))
      .catch(() => unlinkAsync(stampTmp).catch(() => undefined));
    return { bytes, entries: entries.length, evicted, bytesAfter: left };
  }
}
