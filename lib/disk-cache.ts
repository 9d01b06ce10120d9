/**
 * DiskCache: the disk tier behind the memory {@link PageCache} (DESIGN.md read path 4),
 * for machines that start cold many times a day (serverless functions, auto-stopped
 * machines). Decompressed pages and decoded LTX page indexes are kept in a local
 * directory that survives restarts and is shared by every process that uses it.
 *
 * What an entry is keyed by (its *identity*, a string stored in the entry itself):
 * - a page: the frame it came from — replica URL, LTX key, file size, the file's stored
 *   fileChecksum (trailer, FORMATS.md §1.7, §2.4), frame offset and size, and pgno. A
 *   reader looks pages up by the frame its current page index points at, so an entry is
 *   used only while the index still points at that frame; pages a later LTX file
 *   replaced are simply never asked for again, and a file uploaded again under the same
 *   key with other content has another fileChecksum, so none of the old entries match.
 * - an LTX file's header, page index and trailer: replica URL, key, size and the
 *   listing's createdAt (file mtime for file://, LastModified for s3://), so a restart at
 *   the same TXID reads nothing from storage but the listing.
 * - "this file matched its file checksum" (lib/verifier.ts): replica URL, key, size and
 *   the stored fileChecksum; the payload is that checksum. So a file verified once is not
 *   read again to verify it after a restart.
 *
 * Layout: `<dir>/v1/pages/<2 hex>/<30 hex>` and `<dir>/v1/files/…` (the first 128 bits
 * of SHA-256 of the identity), `<dir>/v1/tmp/` for entries being written,
 * `<dir>/v1/scan.json` for the last eviction scan. An entry file is
 *
 *     0   4  magic            'LVP1' (page) / 'LVF1' (LTX file) / 'LVV1' (verified file)
 *     4   2  identity length  K (u16, big-endian like LTX)
 *     6   2  reserved         0
 *     8   4  pgno             page entries; 0 for file entries
 *     12  4  payload length   N
 *     16  8  checksum         page: LTX page checksum of pgno + data (FORMATS.md §2.2);
 *                             file, verified: CRC-64/GO-ISO of the payload with bit 63 set
 *     24  K  identity         UTF-8
 *     24+K N payload          page bytes / header ‖ trailer ‖ page index (§1.3, §1.7, §1.6) /
 *                             the file checksum (u64)
 *
 * Crash and concurrency safety: an entry is written under a unique name in `tmp/` and
 * renamed into place, so another process sees the old entry, the whole new one, or none
 * (never a torn one); entries are not fsynced — an entry torn by a power loss fails its
 * checksum. Every read checks magic, the exact length, the whole identity (not only the
 * hash in the name), pgno and the checksum; an entry that fails is deleted and reported
 * as a miss, so the page is fetched again: a bad entry is never returned. Two processes
 * writing the same entry write the same bytes; the later rename wins. A process that
 * deletes an entry another one is reading does not disturb the reader (POSIX unlink).
 *
 * Reads are synchronous (open, read, close of one small file: ~10 µs), so a disk hit
 * completes inside the VFS's xRead without an Asyncify unwind (see docs/usage.md, "Disk
 * cache"); writes are write-through from the memory cache and asynchronous, two at a
 * time, with a bounded queue: when it is full, writes are dropped (counted), never
 * queued without bound.
 *
 * Eviction (a soft bound, LRU-ish by mtime): an entry's mtime is when it was written,
 * or when a process last hit it (touched at most once per {@link TOUCH_AFTER_MS}). A
 * process scans the directory (stat of every entry, in the background) at its first write
 * when no process scanned in the last minute, and again after every `maxBytes / 16` bytes
 * it wrote; when the entries add up to more than `maxBytes`, the oldest are deleted until
 * 90 % remain. The directory can therefore exceed `maxBytes` by what processes wrote
 * since their last scans (at most `maxBytes / 16` each).
 */
import { createHash, randomBytes } from 'node:crypto';
import { channel } from 'node:diagnostics_channel';
import { closeSync, existsSync, fstatSync, mkdirSync, openSync, readSync, unlink, utimes } from 'node:fs';
import { mkdir, readdir, readFile, rename, stat, unlink as unlinkAsync, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import PQueue from 'p-queue';
import { CHECKSUM_FLAG, pageChecksum } from '../ltx/checksum.js';
import { crc64 } from '../ltx/crc64.js';
import { LtxvfsError } from '../ltx/errors.js';
import { decodeHeader, encodeHeader, HEADER_SIZE } from '../ltx/header.js';
import { checkPageIndexLayout, encodePageIndex, parsePageIndexEntries } from '../ltx/page-index.js';
import { decodeTrailer, encodeTrailer, TRAILER_SIZE } from '../ltx/trailer.js';
import { PAGE_HEADER_SIZE } from '../ltx/frame.js';
import type { LtxFileInfo } from './storage/types.js';
import { makeLtxFile, type FrameRef, type LtxFile } from './page-index.js';
import { PageCache } from './page-cache.js';
import { wasVerifiedWhole } from './verifier.js';

/** Default bound of a disk cache directory: 512 MiB. */
export const DEFAULT_DISK_CACHE_SIZE_BYTES = 512 * 1024 * 1024;

/** A hit refreshes an entry's mtime (its place in the eviction order) only if it is older than this. */
export const TOUCH_AFTER_MS = 10 * 60 * 1000;

/** Temporary files older than this are left over from a crash and removed by scans. */
const STALE_TMP_MS = 10 * 60 * 1000;

/** A scan at a process's first write is skipped if any process scanned this recently. */
const SCAN_STAMP_FRESH_MS = 60 * 1000;

const FORMAT_DIR = 'v1';
const ENTRY_HEADER_SIZE = 24;
const PAGE_MAGIC = 0x4c565031; // 'LVP1'
const FILE_MAGIC = 0x4c564631; // 'LVF1'
const VERIFIED_MAGIC = 0x4c565631; // 'LVV1'
const MAX_IDENTITY_BYTES = 0xffff;
/** Hashes remembered as present on disk (written or read by this process), before the set is cleared. */
const MAX_KNOWN = 200_000;

/** Options of {@link DiskCache}. */
export interface DiskCacheOptions {
  /** Soft bound on the bytes of entries in the directory (all replicas together). Default {@link DEFAULT_DISK_CACHE_SIZE_BYTES}. */
  maxBytes?: number;
  /** Bytes of entries waiting to be written before further writes are dropped. Default min(64 MiB, maxBytes). */
  maxPendingBytes?: number;
}

/** Counters of a {@link DiskCache} since it was made. */
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

interface EntryName {
  identity: Uint8Array;
  hash: string;
  path: string;
}

function hex64(v: bigint): string {
  return v.toString(16).padStart(16, '0');
}

/** A local directory of verified page and page-index entries for one replica URL. */
export class DiskCache {
  /** The directory given (entries live under `<dir>/v1`). */
  readonly dir: string;
  /** The replica URL all identities start with. */
  readonly replicaUrl: string;
  /** Soft bound, bytes. */
  readonly maxBytes: number;
  readonly #root: string;
  readonly #tmp: string;
  readonly #maxPendingBytes: number;
  readonly #queue = new PQueue({ concurrency: 2 });
  readonly #fileIds = new WeakMap<LtxFile, string>();
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
  readonly #stats: DiskCacheStats = {
    hits: 0, misses: 0, fileHits: 0, fileMisses: 0, rejected: 0, writes: 0, bytesWritten: 0, dropped: 0, evictions: 0, scans: 0,
  };

  /**
   * Open (creating) the cache directory `dir` for the replica `replicaUrl`.
   * @throws LtxvfsError `LTXVFS_ERR_USAGE` if the directory cannot be created or written, or `maxBytes` is not a non-negative number.
   */
  constructor(dir: string, replicaUrl: string, options: DiskCacheOptions = {}) {
    const maxBytes = options.maxBytes ?? DEFAULT_DISK_CACHE_SIZE_BYTES;
    if (!Number.isFinite(maxBytes) || maxBytes < 0) {
      throw new LtxvfsError('LTXVFS_ERR_USAGE', `disk cache size must be a non-negative number of bytes, got ${maxBytes}`);
    }
    this.dir = dir;
    this.replicaUrl = replicaUrl;
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

  /** Counters (a copy). */
  stats(): DiskCacheStats {
    return { ...this.#stats };
  }

  /** The path of the entry holding the page of `ref` (whether or not it exists). */
  pagePath(ref: FrameRef): string {
    return this.#pageName(ref).path;
  }

  /** The path of the entry holding the page index of the LTX file `info` (whether or not it exists). */
  filePath(info: LtxFileInfo): string {
    return this.#fileName(info).path;
  }

  /** True if an entry for the page of `ref` exists (not verified: {@link getPage} may still reject it). */
  hasPage(ref: FrameRef): boolean {
    const name = this.#pageName(ref);
    return this.#known.has(name.hash) || existsSync(name.path);
  }

  /**
   * The page of `ref` from disk, synchronously, or undefined (no entry, or a bad entry,
   * which is deleted). Never throws.
   * @param pageSize the replica's page size: an entry of another length is bad.
   */
  getPage(ref: FrameRef, pageSize: number): Uint8Array | undefined {
    const e = ref.file.entries[ref.entry];
    const name = this.#pageName(ref);
    const buf = this.#read(name, ENTRY_HEADER_SIZE + name.identity.length + pageSize);
    if (buf === undefined) {
      this.#stats.misses++;
      return undefined;
    }
    let bad = entryProblem(buf, PAGE_MAGIC, name.identity, e.pgno, pageSize);
    const data = buf.subarray(ENTRY_HEADER_SIZE + name.identity.length);
    if (bad === undefined && pageChecksum(e.pgno, data) !== readU64(buf, 16)) bad = 'page checksum mismatch';
    if (bad !== undefined) {
      this.#reject(name, bad);
      this.#stats.misses++;
      return undefined;
    }
    this.#stats.hits++;
    this.#remember(name.hash);
    return data;
  }

  /**
   * Keep the page of `ref` on disk (in the background; dropped when the write queue is
   * full). The page is copied: the caller may reuse its buffer at once (the fetcher
   * decodes every page into one scratch page).
   */
  putPage(ref: FrameRef, page: Uint8Array): void {
    if (this.#closed) return;
    const name = this.#pageName(ref);
    if (this.#known.has(name.hash)) return;
    const pgno = ref.file.entries[ref.entry].pgno;
    const data = page.slice();
    this.#enqueue(name, ENTRY_HEADER_SIZE + name.identity.length + data.byteLength,
      () => encodeEntry(PAGE_MAGIC, name.identity, pgno, data, pageChecksum(pgno, data)));
  }

  /**
   * The LTX file `info` with its header, page index and trailer from disk, synchronously,
   * or undefined (no entry, or a bad one, deleted). The result is a new {@link LtxFile}.
   */
  getFile(info: LtxFileInfo): LtxFile | undefined {
    const name = this.#fileName(info);
    const buf = this.#read(name, undefined);
    if (buf === undefined) {
      this.#stats.fileMisses++;
      return undefined;
    }
    let file: LtxFile | undefined;
    let bad = entryProblem(buf, FILE_MAGIC, name.identity, 0, undefined);
    if (bad === undefined) {
      const payload = buf.subarray(ENTRY_HEADER_SIZE + name.identity.length);
      if ((crc64(payload) | CHECKSUM_FLAG) !== readU64(buf, 16)) {
        bad = 'checksum mismatch';
      } else {
        try {
          file = decodeFilePayload(info, payload);
        } catch (err) {
          bad = (err as Error).message;
        }
      }
    }
    if (bad !== undefined || file === undefined) {
      this.#reject(name, bad ?? 'undecodable');
      this.#stats.fileMisses++;
      return undefined;
    }
    this.#stats.fileHits++;
    this.#remember(name.hash);
    return file;
  }

  /**
   * Keep the header, page index and trailer of `file` on disk (in the background), and
   * that it was verified if the loader read it whole (so a restart need not read it again).
   */
  putFile(file: LtxFile): void {
    if (this.#closed) return;
    if (wasVerifiedWhole(file)) this.putVerified(file);
    const name = this.#fileName(file.info);
    if (this.#known.has(name.hash)) return;
    let payload: Uint8Array;
    try {
      payload = encodeFilePayload(file);
    } catch {
      // A header the encoder refuses (e.g. a legacy generation): not worth caching.
      return;
    }
    this.#enqueue(name, ENTRY_HEADER_SIZE + name.identity.length + payload.length,
      () => encodeEntry(FILE_MAGIC, name.identity, 0, payload, crc64(payload) | CHECKSUM_FLAG));
  }

  /**
   * Whether an entry says `file` (same key, size and stored file checksum) matched its
   * file checksum. Synchronous; a bad entry is deleted and counts as no. Never throws.
   */
  isVerified(file: LtxFile): boolean {
    const name = this.#verifiedName(file);
    const buf = this.#read(name, ENTRY_HEADER_SIZE + name.identity.length + 8);
    if (buf === undefined) return false;
    let bad = entryProblem(buf, VERIFIED_MAGIC, name.identity, 0, 8);
    const payload = buf.subarray(ENTRY_HEADER_SIZE + name.identity.length);
    if (bad === undefined && ((crc64(payload) | CHECKSUM_FLAG) !== readU64(buf, 16) || readU64(payload, 0) !== file.trailer.fileChecksum)) {
      bad = 'checksum mismatch';
    }
    if (bad !== undefined) {
      this.#reject(name, bad);
      return false;
    }
    this.#remember(name.hash);
    return true;
  }

  /** Record that `file` matched its file checksum (in the background, as the other writes). */
  putVerified(file: LtxFile): void {
    if (this.#closed) return;
    const name = this.#verifiedName(file);
    if (this.#known.has(name.hash)) return;
    const payload = new Uint8Array(8);
    new DataView(payload.buffer).setBigUint64(0, file.trailer.fileChecksum);
    this.#enqueue(name, ENTRY_HEADER_SIZE + name.identity.length + payload.length,
      () => encodeEntry(VERIFIED_MAGIC, name.identity, 0, payload, crc64(payload) | CHECKSUM_FLAG));
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

  #pageName(ref: FrameRef): EntryName {
    const e = ref.file.entries[ref.entry];
    return this.#name('pages', `ltxvfs page\n${this.#fileId(ref.file)}\n${e.offset}\n${e.size}\n${e.pgno}`);
  }

  #verifiedName(file: LtxFile): EntryName {
    return this.#name('files', `ltxvfs verified ltx file\n${this.#fileId(file)}`);
  }

  #fileName(info: LtxFileInfo): EntryName {
    return this.#name('files', `ltxvfs ltx file\n${this.replicaUrl}\n${info.key}\n${info.size}\n${info.createdAt}`);
  }

  #fileId(file: LtxFile): string {
    let id = this.#fileIds.get(file);
    if (id === undefined) {
      id = `${this.replicaUrl}\n${file.info.key}\n${file.info.size}\n${hex64(file.trailer.fileChecksum)}`;
      this.#fileIds.set(file, id);
    }
    return id;
  }

  #name(kind: string, identity: string): EntryName {
    const hash = createHash('sha256').update(identity).digest('hex').slice(0, 32);
    return { identity: Buffer.from(identity, 'utf8'), hash, path: join(this.#root, kind, hash.slice(0, 2), hash.slice(2)) };
  }

  /**
   * The whole entry file, or undefined when it does not exist. With `size`, reads at most
   * `size + 1` bytes (a longer file then fails the length check). Touches the entry when
   * its mtime is old, so it moves back in the eviction order.
   */
  #read(name: EntryName, size: number | undefined): Uint8Array | undefined {
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

  #reject(name: EntryName, reason: string): void {
    this.#stats.rejected++;
    this.#known.delete(name.hash);
    unlink(name.path, () => undefined);
    if (diskChannel.hasSubscribers) {
      diskChannel.publish({ event: 'reject', dir: this.dir, path: name.path, reason } satisfies DiskCacheMessage);
    }
  }

  #remember(hash: string): void {
    if (this.#known.size >= MAX_KNOWN) this.#known.clear();
    this.#known.add(hash);
  }

  #enqueue(name: EntryName, bytes: number, encode: () => Uint8Array): void {
    if (name.identity.length > MAX_IDENTITY_BYTES || bytes > this.maxBytes || this.#pendingBytes + bytes > this.#maxPendingBytes) {
      this.#stats.dropped++;
      return;
    }
    this.#pendingBytes += bytes;
    this.#remember(name.hash);
    void this.#queue.add(async () => {
      try {
        await this.#write(name.path, encode());
      } catch {
        this.#known.delete(name.hash);
        this.#stats.dropped++;
      } finally {
        this.#pendingBytes -= bytes;
      }
    });
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
    this.#stats.writes++;
    this.#stats.bytesWritten += bytes.length;
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
    this.#stats.scans++;
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
      this.#stats.evictions += evicted;
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

/**
 * A {@link PageCache} whose pages are also written to a {@link DiskCache}: every page the
 * fetcher decodes, the loader reads whole, or the writer ships goes to memory and disk.
 * Lookups stay memory-only here; the reader asks the disk on a memory miss.
 */
export class TieredPageCache extends PageCache {
  /** The disk tier. */
  readonly disk: DiskCache;

  /** @param maxBytes as {@link PageCache}. @param disk the disk tier. @throws RangeError as {@link PageCache}. */
  constructor(maxBytes: number, disk: DiskCache) {
    super(maxBytes);
    this.disk = disk;
  }

  /** Cache a copy of `page` in memory (as {@link PageCache.set}) and on disk (unless already there); the caller keeps `page`. */
  override set(ref: FrameRef, page: Uint8Array): void {
    super.set(ref, page);
    this.disk.putPage(ref, page);
  }
}

function readU64(buf: Uint8Array, offset: number): bigint {
  return new DataView(buf.buffer, buf.byteOffset + offset, 8).getBigUint64(0);
}

function encodeEntry(magic: number, identity: Uint8Array, pgno: number, payload: Uint8Array, checksum: bigint): Uint8Array {
  const out = new Uint8Array(ENTRY_HEADER_SIZE + identity.length + payload.length);
  const view = new DataView(out.buffer);
  view.setUint32(0, magic);
  view.setUint16(4, identity.length);
  view.setUint32(8, pgno);
  view.setUint32(12, payload.length);
  view.setBigUint64(16, checksum);
  out.set(identity, ENTRY_HEADER_SIZE);
  out.set(payload, ENTRY_HEADER_SIZE + identity.length);
  return out;
}

/** Why `buf` is not the entry expected (magic, identity, pgno, exact length), or undefined. The checksum is checked by the caller. */
function entryProblem(buf: Uint8Array, magic: number, identity: Uint8Array, pgno: number, payloadLength: number | undefined): string | undefined {
  if (buf.length < ENTRY_HEADER_SIZE) return `truncated: ${buf.length} bytes`;
  const view = new DataView(buf.buffer, buf.byteOffset, ENTRY_HEADER_SIZE);
  if (view.getUint32(0) !== magic) return 'bad magic';
  if (view.getUint16(4) !== identity.length) return 'identity differs';
  if (view.getUint32(8) !== pgno) return `holds page ${view.getUint32(8)}, expected ${pgno}`;
  const n = view.getUint32(12);
  if (payloadLength !== undefined && n !== payloadLength) return `payload of ${n} bytes, expected ${payloadLength}`;
  if (buf.length !== ENTRY_HEADER_SIZE + identity.length + n) return `length ${buf.length}, expected ${ENTRY_HEADER_SIZE + identity.length + n}`;
  const stored = buf.subarray(ENTRY_HEADER_SIZE, ENTRY_HEADER_SIZE + identity.length);
  for (let i = 0; i < identity.length; i++) if (stored[i] !== identity[i]) return 'identity differs';
  return undefined;
}

function encodeFilePayload(file: LtxFile): Uint8Array {
  const header = encodeHeader(file.header);
  const index = encodePageIndex(file.entries);
  const out = new Uint8Array(HEADER_SIZE + TRAILER_SIZE + index.length);
  out.set(header, 0);
  out.set(encodeTrailer(file.trailer), HEADER_SIZE);
  out.set(index, HEADER_SIZE + TRAILER_SIZE);
  return out;
}

/** The LtxFile a file entry's payload describes, checked as the loader checks what it reads. */
function decodeFilePayload(info: LtxFileInfo, payload: Uint8Array): LtxFile {
  const key = info.key;
  const header = decodeHeader(payload, key);
  if (header.minTXID !== info.minTXID || header.maxTXID !== info.maxTXID) throw new Error('header TXIDs differ from the listing');
  const trailer = decodeTrailer(payload, key, HEADER_SIZE);
  const { entries, end } = parsePageIndexEntries(payload, HEADER_SIZE + TRAILER_SIZE, payload.length, key);
  if (end + 8 !== payload.length) throw new Error('page index length differs');
  const last = entries[entries.length - 1];
  const indexOffset = (last === undefined ? HEADER_SIZE : last.offset + last.size) + PAGE_HEADER_SIZE;
  checkPageIndexLayout(entries, indexOffset, key);
  if (indexOffset + 8 + TRAILER_SIZE > info.size) throw new Error('page index does not fit the file size');
  return makeLtxFile(info, header, trailer, entries);
}
