/**
 * Builds {@link PageIndex} versions for a reader (docs/architecture.md read path 3): loads
 * the header and page index of every LTX file of a plan or a poll's chain, many at once,
 * reusing the files of the current version (so frames they cached stay valid) and indexes
 * kept in the disk tier, applies them in order, and caches the pages of files that were
 * read whole. It remembers the files of the version the reader made current last.
 */
import PQueue from 'p-queue';
import { LtxvfsError } from '../../ltx/errors.js';
import { formatTXID } from '../../ltx/filename.js';
import type { LtxFileInfo, ReplicaClient } from '../storage/types.js';
import { PageIndex, type FrameRef, type LtxFile } from '../replica/page-index.js';
import { loadLtxFile, type LoadedLtxFile } from '../replica/ltx-loader.js';
import type { PageCache, DiskCache } from '../cache/index.js';
import type { Fetcher, ReadCounters } from './fetcher.js';

/** Loads LTX files and applies them into versions, for one reader. */
export class VersionBuilder {
  readonly #client: ReplicaClient;
  readonly #cache: PageCache;
  readonly #disk: DiskCache | undefined;
  readonly #fetcher: Fetcher;
  readonly #counters: ReadCounters;
  readonly #queue: PQueue;
  readonly #headBytes: number | undefined;
  /**
   * Files not verified yet whose head pages were cached at load, with those pages and the
   * head's bytes: a page of theirs served from the cache starts their verification
   * (`ReplicaReader.readPage` calls {@link use}), as a fetch would.
   */
  readonly unverifiedHeads = new Map<LtxFile, { head: Uint8Array; pages: Map<number, Uint8Array>; fed?: boolean }>();
  /** LTX files of the current version, by key: reused by rebuilds so their cached frames stay valid. */
  #files = new Map<string, LtxFile>();
  /** The version remembered last. */
  #remembered: PageIndex | undefined;

  /**
   * @param indexConcurrency LTX files whose header and index are read at once.
   * @param headBytes bytes read from the start of a file read in ranges (lib/replica/ltx-loader.ts `HEAD_BYTES` when undefined).
   * @throws LtxvfsError `LTXVFS_ERR_USAGE` naming `headBytes` when it is not a non-negative integer.
   */
  constructor(
    client: ReplicaClient, cache: PageCache, disk: DiskCache | undefined, fetcher: Fetcher, counters: ReadCounters,
    indexConcurrency: number, headBytes: number | undefined,
  ) {
    this.#client = client;
    this.#cache = cache;
    this.#disk = disk;
    this.#fetcher = fetcher;
    this.#counters = counters;
    this.#queue = new PQueue({ concurrency: indexConcurrency });
    if (headBytes !== undefined && (!Number.isSafeInteger(headBytes) || headBytes < 0)) {
      throw new LtxvfsError('LTXVFS_ERR_USAGE', `${client.url}: option headBytes ${String(headBytes)} is not a non-negative integer number of bytes`, { key: 'headBytes' });
    }
    this.#headBytes = headBytes;
  }

  /**
   * Build the version a plan describes: load every file's page index in parallel, apply
   * them in order onto `base`, and cache the pages of files that were read whole and are
   * current in it.
   * @throws LtxvfsError as {@link PageIndex.applyAll} and {@link loadLtxFile}; `LTXVFS_ERR_CORRUPT`
   *   when pages below commit are in no file (a plan that does not describe a whole database).
   */
  async build(plan: LtxFileInfo[], base: PageIndex = PageIndex.empty()): Promise<PageIndex> {
    const version = await this.extend(base, plan);
    const missing = version.missingPages();
    if (missing.length > 0) {
      throw new LtxvfsError('LTXVFS_ERR_CORRUPT',
        `${this.#client.url}: pages ${missing.join(', ')} of ${version.commit} are in no LTX file of the plan at TXID ${formatTXID(version.txid)}`,
        { key: this.#client.url });
    }
    return version;
  }

  /** `base` with the files of `chain` loaded and applied in order; pages of files read whole cached. */
  async extend(base: PageIndex, chain: LtxFileInfo[]): Promise<PageIndex> {
    const loaded = await this.#load(chain);
    const version = base.applyAll(loaded.map((l) => l.file));
    this.#cacheCurrentPages(version, loaded);
    return version;
  }

  /**
   * A page of `file` is served from the cache: if it is a file whose head pages were
   * cached unverified, its verification starts (or, after a failed one, starts again), fed
   * the head's frames so it reads on from the first frame the head did not hold. Once the
   * file is verified it is forgotten here.
   */
  use(file: LtxFile): void {
    const held = this.unverifiedHeads.get(file);
    if (held === undefined) return;
    const verifier = this.#fetcher.verifier;
    if (verifier.isVerified(file)) {
      this.unverifiedHeads.delete(file);
      return;
    }
    // Fed once, and again to each verification this call starts (after a failed one): while
    // one runs every cache hit on the file comes here, and sorting the head's pages for each
    // (ignored by `observe` after the first time) was 5% of a cold scan's profile.
    if (!verifier.use(file) && held.fed) return;
    held.fed = true;
    for (const [entry, page] of [...held.pages].sort((a, b) => a[0] - b[0])) {
      verifier.observe(file, entry, held.head.subarray(file.entries.offsets[entry], file.entries.end(entry)), page);
    }
  }

  /**
   * Remember the files of `version`, which became current, and forget the others. A
   * version that only appends files to the one remembered last (a poll's or a commit's:
   * `PageIndex.applyAll` keeps the base's files first) adds just those, found in one step
   * per file (`PageIndex.filesSince`): rebuilding the map of every file took 80 µs a commit
   * once a writer's replica held 2,000 level-0 files, and comparing the lists 40 µs at 3,000.
   */
  remember(version: PageIndex): void {
    const appended = this.#remembered === undefined ? undefined : version.filesSince(this.#remembered);
    if (appended !== undefined) {
      for (const f of appended) this.#files.set(f.info.key, f);
    } else {
      const keep = new Map<string, LtxFile>();
      for (const f of version.files) keep.set(f.info.key, f);
      this.#files = keep;
    }
    this.#remembered = version;
    for (const f of this.unverifiedHeads.keys()) if (this.#files.get(f.info.key) !== f) this.unverifiedHeads.delete(f);
  }

  /**
   * Load the LTX files of `infos` in parallel; files of the current version are reused
   * (with `pages` undefined), so frames they cached stay valid.
   */
  async #load(infos: LtxFileInfo[]): Promise<LoadedLtxFile[]> {
    const run = <T>(task: () => Promise<T>): Promise<T> => this.#queue.add(task);
    const verifier = this.#fetcher.verifier;
    return Promise.all(infos.map(async (info) => {
      const known = this.#files.get(info.key);
      if (known !== undefined && known.info.size === info.size) return { file: known, pages: undefined };
      // A small file's index from disk is used only if the file was verified (else it is read whole).
      const cached = verifier.usableIndex(this.#disk?.getFile(info), this.#fetcher.wholeFileBytes);
      if (cached !== undefined) return { file: cached, pages: undefined };
      // Not remembered until a version that uses it becomes current: a file that failed to
      // apply (e.g. a wrong pre-apply checksum) is read afresh once it is replaced.
      const loaded = await loadLtxFile(this.#client, info, this.#counters, run, this.#fetcher.wholeFileBytes, undefined, this.#headBytes);
      this.#disk?.putFile(loaded.file);
      return loaded;
    }));
  }

  /**
   * Cache the pages that came with the files' loads (files read whole; the head of a file
   * read in ranges) and that `version` serves: they cost no second read. A cached page is
   * served without the fetcher, so a file not verified at load is noted in
   * {@link unverifiedHeads}, and its verification starts when one of them is served
   * ({@link use}; lib/read/verifier.ts: from its first use).
   */
  #cacheCurrentPages(version: PageIndex, loaded: LoadedLtxFile[]): void {
    for (const { file, pages, headPages, head } of loaded) {
      const entries: Iterable<[number, Uint8Array]> = pages?.entries() ?? headPages ?? [];
      let cached = false;
      for (const [entry, page] of entries) {
        const ref: FrameRef = { file, entry };
        if (!version.isCurrent(ref)) continue;
        this.#cache.set(ref, page);
        cached = true;
      }
      if (cached && headPages !== undefined && head !== undefined) this.unverifiedHeads.set(file, { head, pages: headPages });
    }
  }
}
