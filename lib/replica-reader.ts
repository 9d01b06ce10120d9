/**
 * ReplicaReader: the read path of one replica put together (DESIGN.md read path 1–5).
 * It lists the replica, computes the restore plan (FORMATS.md §4.4), loads the page
 * indexes of the plan's files in parallel, builds the {@link PageIndex} version, and
 * serves pages to an engine adapter through the {@link PageSource} interface: from the
 * {@link PageCache} when it can (synchronously), else through the {@link Fetcher}.
 */
import { lockPgno } from '../ltx/checksum.js';
import { LtxvfsError } from '../ltx/errors.js';
import { formatTXID } from '../ltx/filename.js';
import type { ReplicaClient, LtxFileInfo } from './storage/types.js';
import { computePlan, listReplica } from './replica.js';
import { PageIndex, type FrameRef } from './page-index.js';
import { DEFAULT_CACHE_SIZE_BYTES, PageCache } from './page-cache.js';
import { Fetcher, newReadCounters, type FetcherOptions, type ReadCounters } from './fetcher.js';
import { loadLtxFile } from './ltx-loader.js';
import type { PageSource, PageVersion } from './page-source.js';

/** Options of {@link ReplicaReader.open}. */
export interface ReplicaReaderOptions extends FetcherOptions {
  /** Bytes of decompressed pages kept in memory. Default 64 MiB. */
  cacheSizeBytes?: number;
  /** Expected page size in bytes; opening fails with `LTXVFS_ERR_PAGE_SIZE` if the replica's differs. */
  pageSize?: number;
}

/** Counters of a {@link ReplicaReader} (and of the Database API's `stats()`). */
export interface ReplicaStats {
  /** Pages decoded from storage. */
  pagesFetched: number;
  /** Bytes received from storage. */
  bytesRead: number;
  /** Storage read requests. */
  readRequests: number;
  /** Page reads served from the page cache. */
  cacheHits: number;
  /** Page reads that went to storage. */
  cacheMisses: number;
  /** Bytes of decompressed pages in the page cache now. */
  cacheBytes: number;
  /** TXID of the newest version. */
  txid: number;
  /** Page size in bytes. */
  pageSize: number;
  /** Database size in pages at the newest version. */
  commit: number;
}

/** Serves the pages of one replica. */
export class ReplicaReader implements PageSource {
  readonly client: ReplicaClient;
  readonly #cache: PageCache;
  readonly #fetcher: Fetcher;
  readonly #counters: ReadCounters;
  #current: PageIndex;
  #zeroPage: Uint8Array | undefined;

  private constructor(client: ReplicaClient, cache: PageCache, fetcher: Fetcher, counters: ReadCounters, current: PageIndex) {
    this.client = client;
    this.#cache = cache;
    this.#fetcher = fetcher;
    this.#counters = counters;
    this.#current = current;
  }

  /**
   * Open the newest state of the replica behind `client`.
   * @throws LtxvfsError `LTXVFS_ERR_NOT_FOUND` (no replica), `LTXVFS_ERR_EMPTY_REPLICA` (no files),
   *   `LTXVFS_ERR_TXID_GAP` / `LTXVFS_ERR_OVERLAP` (bad file set), `LTXVFS_ERR_PAGE_SIZE`,
   *   `LTXVFS_ERR_CORRUPT` / `LTXVFS_ERR_CHECKSUM` (bad files), storage errors.
   */
  static async open(client: ReplicaClient, options: ReplicaReaderOptions = {}): Promise<ReplicaReader> {
    const counters = newReadCounters();
    const cache = new PageCache(options.cacheSizeBytes ?? DEFAULT_CACHE_SIZE_BYTES, options.pageSize ?? 4096);
    const fetcher = new Fetcher(client, cache, counters, options);
    const files = await listReplica(client);
    const plan = computePlan(files, undefined, client.url);
    const version = await buildVersion(client, plan, cache, fetcher, counters);
    if (options.pageSize !== undefined && options.pageSize !== version.pageSize) {
      throw new LtxvfsError('LTXVFS_ERR_PAGE_SIZE',
        `${client.url}: replica page size ${version.pageSize} does not match the expected ${options.pageSize}`, { key: client.url });
    }
    return new ReplicaReader(client, cache, fetcher, counters, version);
  }

  /** The newest version. */
  get current(): PageIndex {
    return this.#current;
  }

  /** Pin the newest version (see {@link PageSource.acquire}). */
  acquire(): PageVersion {
    return this.#current;
  }

  /** Unpin a version (see {@link PageSource.release}). */
  release(_version: PageVersion): void {
    // Versions are plain immutable objects: an unpinned one is garbage once nothing refers to it.
  }

  /** See {@link PageSource.readPage}. */
  readPage(version: PageVersion, pgno: number): Uint8Array | Promise<Uint8Array> {
    const index = version as PageIndex;
    const ref = index.get(pgno);
    if (ref === undefined) return this.#missing(index, pgno);
    const hit = this.#cache.get(ref);
    if (hit !== undefined) return hit;
    return this.#fetcher.fetch(index, ref);
  }

  #missing(index: PageIndex, pgno: number): Uint8Array {
    // The lock page is never stored (FORMATS.md §7.2); SQLite never reads beyond commit,
    // but a zero page is the right answer for a hole it might probe.
    if (pgno === lockPgno(index.pageSize) || pgno > index.commit) {
      if (this.#zeroPage?.byteLength !== index.pageSize) this.#zeroPage = new Uint8Array(index.pageSize);
      return this.#zeroPage;
    }
    throw new LtxvfsError('LTXVFS_ERR_CORRUPT',
      `${this.client.url}: page ${pgno} is in no LTX file of the plan at TXID ${formatTXID(index.txid)}`, { key: this.client.url });
  }

  /** Storage and cache counters, and the newest version's position. */
  stats(): ReplicaStats {
    const c = this.#cache.stats();
    return {
      pagesFetched: this.#counters.pagesFetched,
      bytesRead: this.#counters.bytesRead,
      readRequests: this.#counters.readRequests,
      cacheHits: c.hits,
      cacheMisses: c.misses,
      cacheBytes: c.bytes,
      txid: this.#current.txid,
      pageSize: this.#current.pageSize,
      commit: this.#current.commit,
    };
  }

  /** Drop the cache and release the storage client. */
  async close(): Promise<void> {
    this.#cache.clear();
    await this.client.close();
  }
}

/**
 * Build the version a plan describes: load every file's page index in parallel (bounded
 * by the fetcher's queue), apply them in order, and cache the pages of files that were
 * read whole and are still current.
 * @throws LtxvfsError as {@link PageIndex.apply} and {@link loadLtxFile}; `LTXVFS_ERR_CORRUPT`
 *   when pages below commit are in no file (a plan that does not describe a whole database).
 */
export async function buildVersion(
  client: ReplicaClient, plan: LtxFileInfo[], cache: PageCache, fetcher: Fetcher, counters: ReadCounters,
): Promise<PageIndex> {
  const run = <T>(task: () => Promise<T>): Promise<T> => fetcher.queue.add(task);
  const loaded = await Promise.all(plan.map((info) => loadLtxFile(client, info, counters, run)));
  let version = PageIndex.empty();
  for (const { file } of loaded) version = version.apply(file);
  for (const { file, pages } of loaded) {
    if (pages === undefined) continue;
    for (let n = 0; n < pages.length; n++) {
      const ref: FrameRef = { file, entry: n };
      if (version.isCurrent(ref)) cache.set(ref, pages[n]);
    }
  }
  const missing = version.missingPages();
  if (missing.length > 0) {
    throw new LtxvfsError('LTXVFS_ERR_CORRUPT',
      `${client.url}: pages ${missing.join(', ')} of ${version.commit} are in no LTX file of the plan at TXID ${formatTXID(version.txid)}`,
      { key: client.url });
  }
  return version;
}
