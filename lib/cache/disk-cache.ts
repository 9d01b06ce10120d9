/**
 * DiskCache: the disk tier behind the memory `PageCache` (docs/architecture.md read path 4),
 * for machines that start cold many times a day (serverless functions, auto-stopped
 * machines). Decompressed pages and decoded LTX page indexes are kept in a local
 * directory that survives restarts and is shared by every process that uses it.
 *
 * What an entry is keyed by (its *identity*, a string stored in the entry itself):
 * - a page: the frame it came from — replica URL, LTX key, file size, the file's stored
 *   fileChecksum (trailer, docs/formats.md §1.7, §2.4), frame offset and size, and pgno. A
 *   reader looks pages up by the frame its current page index points at, so an entry is
 *   used only while the index still points at that frame; pages a later LTX file
 *   replaced are simply never asked for again, and a file uploaded again under the same
 *   key with other content has another fileChecksum, so none of the old entries match.
 * - an LTX file's header, page index and trailer: replica URL, key, size and the
 *   listing's createdAt (file mtime for file://, LastModified for s3://), so a restart at
 *   the same TXID reads nothing from storage but the listing.
 * - "this file matched its file checksum" (lib/read/verifier.ts): replica URL, key, size and
 *   the stored fileChecksum; the payload is that checksum. So a file verified once is not
 *   read again to verify it after a restart.
 *
 * This module is the API the reader uses (pages and LTX files); the entry format, the
 * directory with its eviction, and the verified record are its neighbours in lib/cache/
 * (lib/cache/index.ts lists them).
 */
import { existsSync } from 'node:fs';
import { pageChecksum } from '../../ltx/checksum.js';
import type { LtxFileInfo } from '../storage/types.js';
import type { FrameRef, LtxFile } from '../replica/page-index.js';
import {
  checkedPayload, decodeFilePayload, encodeEntry, encodeFilePayload, ENTRY_HEADER_SIZE, entryProblem, FILE_MAGIC, fileIdentity,
  ltxFileIdentity, PAGE_MAGIC, pageIdentity, payloadChecksum, readU64, type EntryName,
} from './disk-entry.js';
import { DiskStore, type DiskCacheOptions, type DiskCacheScan, type DiskCacheStats } from './disk-store.js';
import { VerifiedFiles, wasVerifiedWhole } from './verified-files.js';

/** A local directory of verified page and page-index entries for one replica URL. */
export class DiskCache {
  /** The directory given (entries live under `<dir>/v1`). */
  readonly dir: string;
  /** The replica URL all identities start with. */
  readonly replicaUrl: string;
  /** Soft bound, bytes. */
  readonly maxBytes: number;
  readonly #store: DiskStore;
  readonly #verified: VerifiedFiles;
  readonly #fileIds = new WeakMap<LtxFile, string>();

  /**
   * Open (creating) the cache directory `dir` for the replica `replicaUrl`.
   * @throws LtxvfsError `LTXVFS_ERR_USAGE` if the directory cannot be created or written, or `maxBytes` is not a non-negative number.
   */
  constructor(dir: string, replicaUrl: string, options: DiskCacheOptions = {}) {
    this.#store = new DiskStore(dir, options);
    this.dir = dir;
    this.replicaUrl = replicaUrl;
    this.maxBytes = this.#store.maxBytes;
    this.#verified = new VerifiedFiles(this.#store, (file) => this.#fileId(file));
  }

  /** Counters (a copy). */
  stats(): DiskCacheStats {
    return { ...this.#store.counters };
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
    return this.#store.knows(name) || existsSync(name.path);
  }

  /**
   * The page of `ref` from disk, synchronously, or undefined (no entry, or a bad entry,
   * which is deleted). Never throws.
   * @param pageSize the replica's page size: an entry of another length is bad.
   */
  getPage(ref: FrameRef, pageSize: number): Uint8Array | undefined {
    const pgno = ref.file.entries.pgnos[ref.entry];
    const name = this.#pageName(ref);
    const counters = this.#store.counters;
    const buf = this.#store.read(name, ENTRY_HEADER_SIZE + name.identity.length + pageSize);
    if (buf === undefined) {
      counters.misses++;
      return undefined;
    }
    let bad = entryProblem(buf, PAGE_MAGIC, name.identity, pgno, pageSize);
    const data = buf.subarray(ENTRY_HEADER_SIZE + name.identity.length);
    if (bad === undefined && pageChecksum(pgno, data) !== readU64(buf, 16)) bad = 'page checksum mismatch';
    if (bad !== undefined) {
      this.#store.reject(name, bad);
      counters.misses++;
      return undefined;
    }
    counters.hits++;
    this.#store.remember(name);
    return data;
  }

  /**
   * Keep the page of `ref` on disk (in the background; dropped when the write queue is
   * full). The page is copied: the caller may reuse its buffer at once (the fetcher
   * decodes every page into one scratch page).
   */
  putPage(ref: FrameRef, page: Uint8Array): void {
    if (this.#store.closed) return;
    const name = this.#pageName(ref);
    if (this.#store.knows(name)) return;
    const pgno = ref.file.entries.pgnos[ref.entry];
    const data = page.slice();
    this.#store.enqueue(name, ENTRY_HEADER_SIZE + name.identity.length + data.byteLength,
      () => encodeEntry(PAGE_MAGIC, name.identity, pgno, data, pageChecksum(pgno, data)));
  }

  /**
   * The LTX file `info` with its header, page index and trailer from disk, synchronously,
   * or undefined (no entry, or a bad one, deleted). The result is a new {@link LtxFile}.
   */
  getFile(info: LtxFileInfo): LtxFile | undefined {
    const name = this.#fileName(info);
    const counters = this.#store.counters;
    const buf = this.#store.read(name, undefined);
    if (buf === undefined) {
      counters.fileMisses++;
      return undefined;
    }
    let file: LtxFile | undefined;
    let bad: string | undefined;
    const payload = checkedPayload(buf, FILE_MAGIC, name.identity, undefined);
    if (typeof payload === 'string') {
      bad = payload;
    } else {
      try {
        file = decodeFilePayload(info, payload);
      } catch (err) {
        bad = (err as Error).message;
      }
    }
    if (bad !== undefined || file === undefined) {
      this.#store.reject(name, bad ?? 'undecodable');
      counters.fileMisses++;
      return undefined;
    }
    counters.fileHits++;
    this.#store.remember(name);
    return file;
  }

  /**
   * Keep the header, page index and trailer of `file` on disk (in the background), and
   * that it was verified if the loader read it whole (so a restart need not read it again).
   */
  putFile(file: LtxFile): void {
    if (this.#store.closed) return;
    if (wasVerifiedWhole(file)) this.putVerified(file);
    const name = this.#fileName(file.info);
    if (this.#store.knows(name)) return;
    let payload: Uint8Array;
    try {
      payload = encodeFilePayload(file);
    } catch {
      // A header the encoder refuses (e.g. a legacy generation): not worth caching.
      return;
    }
    this.#store.enqueue(name, ENTRY_HEADER_SIZE + name.identity.length + payload.length,
      () => encodeEntry(FILE_MAGIC, name.identity, 0, payload, payloadChecksum(payload)));
  }

  /**
   * Whether an entry says `file` (same key, size and stored file checksum) matched its
   * file checksum. Synchronous; a bad entry is deleted and counts as no. Never throws.
   */
  isVerified(file: LtxFile): boolean {
    return this.#verified.has(file);
  }

  /** Record that `file` matched its file checksum (in the background, as the other writes). */
  putVerified(file: LtxFile): void {
    this.#verified.add(file);
  }

  /** Resolves once every write queued so far is done. */
  flush(): Promise<void> {
    return this.#store.flush();
  }

  /**
   * Measure the directory and evict the oldest entries (by mtime) down to 90 % of
   * `maxBytes` if it holds more; remove temporary files left by crashes. Joins a scan
   * already running in this process. Never throws (unreadable entries are skipped).
   */
  scan(): Promise<DiskCacheScan> {
    return this.#store.scan();
  }

  /** Finish queued writes and stop accepting new ones (idempotent). */
  close(): Promise<void> {
    return this.#store.close();
  }

  #pageName(ref: FrameRef): EntryName {
    return this.#store.name('pages', pageIdentity(this.#fileId(ref.file), ref.file.entries.at(ref.entry)!));
  }

  #fileName(info: LtxFileInfo): EntryName {
    return this.#store.name('files', ltxFileIdentity(this.replicaUrl, info));
  }

  #fileId(file: LtxFile): string {
    let id = this.#fileIds.get(file);
    if (id === undefined) {
      id = fileIdentity(this.replicaUrl, file);
      this.#fileIds.set(file, id);
    }
    return id;
  }
}
