/**
 * ReplicaReader: the read path of one replica put together (docs/architecture.md read path 1–7).
 * It lists the replica, computes the restore plan (docs/formats.md §4.4), loads the page
 * indexes of the plan's files in parallel, builds the {@link PageIndex} version, and
 * serves pages to engine adapters through the {@link PageSource} interface: from the
 * {@link PageCache} when it can (synchronously), else through the {@link Fetcher}. A
 * {@link Poller} moves it to newer versions; each read transaction pins the version it
 * started with (snapshot isolation), and versions nobody pins are dropped.
 *
 * One reader is shared by every connection to the same replica in a process (see
 * lib/read/registry.ts), so they share its cache, fetcher and poller.
 */
import { EventEmitter } from 'node:events';
import { lockPgno } from '../../ltx/checksum.js';
import { isLtxvfsError, LtxvfsError } from '../../ltx/errors.js';
import { formatTXID } from '../../ltx/filename.js';
import type { ReplicaClient } from '../storage/types.js';
import { StagingClient } from '../storage/staging.js';
import { computePlan, listReplica, type PlanTarget } from '../replica/plan.js';
import { PageIndex, type FrameRef, type LtxFile } from '../replica/page-index.js';
import type { LtxFileInfo } from '../storage/types.js';
import { DEFAULT_CACHE_SIZE_BYTES, PageCache } from '../cache/index.js';
import { Fetcher, newReadCounters, type ReadCounters } from './fetcher.js';
import { Poller } from './poller.js';
import type { PollEvents, PollTarget } from './poll-target.js';
import { VersionBuilder } from './version-builder.js';
import type { PageSource, PageVersion } from './page-source.js';
import { DiskCache, TieredPageCache } from '../cache/index.js';
import type { Hydrator } from '../hydrate/hydrator.js';
import type { ReplicaReaderOptions, ReplicaStats } from './reader-options.js';

export type { ReplicaReaderOptions, ReplicaStats };

/** Events of a {@link ReplicaReader}: the poll's ({@link PollEvents}: `poll-error`, `stale`, `fresh`) and these. */
export interface ReplicaReaderEvents extends PollEvents {
  /** A newer version became current. */
  version: [version: PageIndex];
  /**
   * A file failed its checksum (or the newest file seen is gone): results returned before
   * may be wrong, and every later transaction fails with this error.
   */
  corrupt: [error: LtxvfsError];
}

/** Serves the pages of one replica and keeps up with it. */
export class ReplicaReader extends EventEmitter<ReplicaReaderEvents> implements PageSource {
  /**
   * The replica's storage, with the LTX files this process's write-behind writer has
   * staged but not yet uploaded (lib/storage/staging.ts): to the reader they are in the replica.
   */
  readonly client: StagingClient;
  readonly #cache: PageCache;
  readonly #fetcher: Fetcher;
  readonly #counters: ReadCounters;
  readonly #poller: Poller;
  readonly #builder: VersionBuilder;
  #current: PageIndex;
  /** Pin counts of versions held by read transactions. */
  readonly #pins = new Map<PageVersion, number>();
  /** Pins held now by open transactions, over all versions (a parked pin, {@link park}, is not counted). */
  #pinCount = 0;
  #zeroPage: Uint8Array | undefined;
  #closed = false;
  readonly #beforeClose: (() => Promise<void>)[] = [];
  /** Versions whose files were removed, and the same state rebuilt from other files. */
  readonly #substitutes = new WeakMap<PageVersion, PageIndex>();
  /** The disk tier, when `cacheDir` is set. */
  readonly #disk: DiskCache | undefined;
  /** The hydration, when `hydrate` is set (started once the first version is current). */
  #hydrator: Hydrator | undefined;

  private constructor(client: StagingClient, cache: PageCache, fetcher: Fetcher, counters: ReadCounters, options: ReplicaReaderOptions) {
    super();
    this.client = client;
    this.#cache = cache;
    this.#disk = cache instanceof TieredPageCache ? cache.disk : undefined;
    this.#fetcher = fetcher;
    this.#counters = counters;
    this.#current = PageIndex.empty();
    this.#builder = new VersionBuilder(client, cache, this.#disk, fetcher, counters, options.indexConcurrency ?? 32, options.headBytes);
    this.#poller = new Poller(this.#pollTarget(), options);
    fetcher.verifier.onFailure = (err) => this.emit('corrupt', err);
  }

  /**
   * Open the newest state of the replica behind `client`, and start polling it.
   * @throws LtxvfsError `LTXVFS_ERR_NOT_FOUND` (no replica), `LTXVFS_ERR_EMPTY_REPLICA` (no files),
   *   `LTXVFS_ERR_TXID_GAP` / `LTXVFS_ERR_OVERLAP` (bad file set), `LTXVFS_ERR_PAGE_SIZE`,
   *   `LTXVFS_ERR_CORRUPT` / `LTXVFS_ERR_CHECKSUM` (bad files), storage errors;
   *   `LTXVFS_ERR_USAGE` for a `cacheDir` that cannot be created, or a `hydrate` path that
   *   another live process hydrates or that holds a file no hydration made.
   */
  static async open(storage: ReplicaClient, options: ReplicaReaderOptions = {}): Promise<ReplicaReader> {
    const client = new StagingClient(storage);
    const counters = newReadCounters();
    const cacheBytes = options.cacheSizeBytes ?? DEFAULT_CACHE_SIZE_BYTES;
    const cache = options.cacheDir === undefined
      ? new PageCache(cacheBytes)
      : new TieredPageCache(cacheBytes, new DiskCache(options.cacheDir, client.url, { maxBytes: options.cacheDirSizeBytes }));
    const fetcher = new Fetcher(client, cache, counters, options);
    const reader = new ReplicaReader(client, cache, fetcher, counters, options);
    let version: PageIndex;
    try {
      version = await reader.versionAt(undefined);
    } catch (err) {
      if (options.allowEmpty !== true || !isLtxvfsError(err, 'LTXVFS_ERR_EMPTY_REPLICA')) throw err;
      version = PageIndex.empty(options.pageSize ?? 0);
    }
    if (options.pageSize !== undefined && version.txid > 0 && options.pageSize !== version.pageSize) {
      throw new LtxvfsError('LTXVFS_ERR_PAGE_SIZE',
        `${client.url}: replica page size ${version.pageSize} does not match the expected ${options.pageSize}`, { key: client.url });
    }
    reader.#advance(version);
    if (options.hydrate !== undefined) {
      try {
        // Loaded only when hydrating (lib/api/lazy-entries.ts says why).
        const { Hydrator } = await import('../hydrate/hydrator.js');
        reader.#hydrator = Hydrator.start({
          client,
          get current() { return reader.current; },
          on: (event, listener) => reader.on(event, listener),
          off: (event, listener) => reader.off(event, listener),
          peek: (ref) => (cache.has(ref) ? cache.get(ref) : undefined),
          verification: fetcher.verifier,
        }, options.hydrate, options.hydrateOptions);
      } catch (err) {
        await reader.close();
        throw err;
      }
    }
    reader.#poller.start();
    return reader;
  }

  /** The newest version. */
  get current(): PageIndex {
    return this.#current;
  }

  /** The hydration started by the `hydrate` option, if any. */
  get hydration(): Hydrator | undefined {
    return this.#hydrator;
  }

  /** The disk tier made for the `cacheDir` option, if any. */
  get diskCache(): DiskCache | undefined {
    return this.#disk;
  }

  /**
   * The error every transaction fails with since a served file failed its checksum
   * (`LTXVFS_ERR_CHECKSUM`) or the newest file seen vanished; undefined while intact.
   */
  get integrityFailure(): LtxvfsError | undefined {
    return this.#fetcher.verifier.failure;
  }

  /**
   * Fail the reader for good with `error` (the poller's: the newest file it applied is
   * gone from every level): every later transaction and page read throws it, and
   * `corrupt` is emitted once. The first failure wins.
   */
  poison(error: LtxvfsError): void {
    this.#fetcher.verifier.poison(error);
  }

  /** The poller (for `pollNow()` and its counters). */
  get poller(): Poller {
    return this.#poller;
  }

  /**
   * Pin the newest version (see {@link PageSource.acquire}).
   * @throws LtxvfsError `LTXVFS_ERR_STALE` when the reader is past its staleness bound, `LTXVFS_ERR_CLOSED`.
   */
  acquire(): PageVersion {
    if (this.#closed) throw new LtxvfsError('LTXVFS_ERR_CLOSED', `${this.client.url}: replica reader is closed`, { key: this.client.url });
    this.#fetcher.verifier.check();
    // Engines that can wait poll first (Poller.beforeTransaction); for the others, a due poll starts now.
    this.#poller.pollIfDue();
    this.#poller.checkFresh();
    return this.pin(this.#current);
  }

  /** Pin a given version (e.g. a time-travel view's). Paired with {@link release}. */
  pin(version: PageVersion): PageVersion {
    this.#pins.set(version, (this.#pins.get(version) ?? 0) + 1);
    if (this.#pinCount++ === 0) this.#fetcher.transactionsOpen(true);
    return version;
  }

  /**
   * Unpin a version (see {@link PageSource.release}); an unpinned old version is garbage once
   * nothing else refers to it. When the last pin goes (no transaction open), the fetcher lets
   * go of a scan's idle receive buffers but one (lib/read/receive-buffers.ts).
   */
  release(version: PageVersion): void {
    const n = this.#pins.get(version);
    if (n === undefined) return;
    if (n <= 1) this.#pins.delete(version);
    else this.#pins.set(version, n - 1);
    if (--this.#pinCount === 0) this.#fetcher.transactionsOpen(false);
  }

  /**
   * A pin kept between transactions stops counting as an open transaction. The page
   * bridge keeps its client's version pinned from one transaction to the next
   * (lib/bridge/page-server.ts), so without this its reader would never see "no
   * transaction open". With no other transaction open, read-ahead stops and idle receive
   * buffers go, as at the end of an in-process transaction ({@link release}). The version
   * stays pinned. Paired with one {@link unpark}, which must come before that pin's
   * {@link release}.
   */
  park(): void {
    if (this.#pinCount > 0 && --this.#pinCount === 0) this.#fetcher.transactionsOpen(false);
  }

  /** A parked pin ({@link park}) counts as an open transaction again. */
  unpark(): void {
    if (this.#pinCount++ === 0) this.#fetcher.transactionsOpen(true);
  }

  /** See {@link PageSource.readPage}. */
  readPage(version: PageVersion, pgno: number): Uint8Array | Promise<Uint8Array> {
    this.#fetcher.verifier.check();
    const index = this.#substitutes.get(version) ?? (version as PageIndex);
    const ref = index.get(pgno);
    if (ref === undefined) return this.#missing(index, pgno);
    const hit = this.#cache.get(ref);
    if (hit !== undefined) {
      if (this.#builder.unverifiedHeads.size > 0) this.#builder.use(ref.file);
      return hit;
    }
    const local = this.#readLocal(index, ref, pgno);
    if (local !== undefined) return local;
    return this.#fetcher.fetch(index, ref).catch((err: unknown) => this.#refetch(err, version, index, pgno));
  }

  /**
   * Page `pgno` of `version` if it is here without a read of storage: in the memory cache,
   * the hydrated file or the disk tier; undefined otherwise (nothing is fetched). For
   * background work that must not act as a query (the interior-page warm-up: a miss through
   * {@link readPage} counts as SQLite's and moves a scan's read-ahead).
   * @throws LtxvfsError as {@link readPage} when a file's verification has failed.
   */
  cachedPage(version: PageVersion, pgno: number): Uint8Array | undefined {
    this.#fetcher.verifier.check();
    const index = this.#substitutes.get(version) ?? (version as PageIndex);
    const ref = index.get(pgno);
    if (ref === undefined) return undefined;
    const hit = this.#cache.get(ref);
    if (hit === undefined) return this.#readLocal(index, ref, pgno);
    if (this.#builder.unverifiedHeads.size > 0) this.#builder.use(ref.file);
    return hit;
  }

  /**
   * See {@link PageSource.readPageInto}: a memory-cache hit copied into `dst`, else the
   * page read from the hydrated file straight into `dst` (no page allocated: see
   * `Hydrator.readPageInto`).
   */
  readPageInto(version: PageVersion, pgno: number, dst: Uint8Array): boolean {
    const index = this.#substitutes.get(version) ?? (version as PageIndex);
    const ref = index.get(pgno);
    if (ref === undefined || this.#fetcher.verifier.failure !== undefined) return false;
    if (this.#cache.copyTo(ref, dst)) {
      if (this.#builder.unverifiedHeads.size > 0) this.#builder.use(ref.file);
      return true;
    }
    if (this.#hydrator?.readPageInto(index, ref, pgno, dst) !== true) return false;
    this.#fetcher.verifier.use(ref.file);
    return true;
  }

  /**
   * A memory miss served locally, synchronously: from the hydrated file, else from the
   * disk tier (promoted to memory). Undefined when neither has it.
   */
  #readLocal(index: PageIndex, ref: FrameRef, pgno: number): Uint8Array | undefined {
    const hydrated = this.#hydrator?.readPage(index, ref, pgno);
    if (hydrated !== undefined) {
      this.#fetcher.verifier.use(ref.file);
      return hydrated;
    }
    const page = this.#disk?.getPage(ref, index.pageSize);
    if (page !== undefined) {
      this.#fetcher.verifier.use(ref.file);
      this.#cache.set(ref, page);
    }
    return page;
  }

  /**
   * A file of `index` is gone from storage (compaction removed level-0 files it had
   * merged): the same state is still in the replica, in other files. Rebuild the version
   * at the same TXID from the plan, serve this and later reads of `version` from it, and
   * move the current version off the removed files.
   */
  async #refetch(err: unknown, version: PageVersion, index: PageIndex, pgno: number): Promise<Uint8Array> {
    // Only once per version: a substitute whose files vanish too is not chased further.
    if (!isLtxvfsError(err, 'LTXVFS_ERR_NOT_FOUND') || this.#closed || index !== version) throw err;
    const same = await this.versionAt({ txid: index.txid }).catch(() => undefined);
    if (same === undefined || same.txid !== index.txid) throw err;
    this.#substitutes.set(version, same);
    if (this.#current === index) this.#advance(same);
    return this.readPage(version, pgno);
  }

  /**
   * Read pages of `version` into the cache in the background: coalesced range reads of
   * the frames not cached yet (see {@link Fetcher.prefetch}). Never throws.
   * @returns pages read and reads that failed.
   */
  prefetchPages(version: PageIndex, pgnos: readonly number[]): Promise<{ pages: number; failures: number }> {
    const refs: FrameRef[] = [];
    for (const pgno of pgnos) {
      const ref = version.get(pgno);
      // Pages on disk are read from there when asked for: not worth a range read.
      if (ref !== undefined && this.#disk?.hasPage(ref) !== true) refs.push(ref);
    }
    return this.#fetcher.prefetch(version, refs);
  }

  #missing(index: PageIndex, pgno: number): Uint8Array {
    // The lock page is never stored (docs/formats.md §7.2); SQLite never reads beyond commit,
    // but a zero page is the right answer for a hole it might probe.
    if (pgno === lockPgno(index.pageSize) || pgno > index.commit) {
      if (this.#zeroPage?.byteLength !== index.pageSize) this.#zeroPage = new Uint8Array(index.pageSize);
      return this.#zeroPage;
    }
    throw new LtxvfsError('LTXVFS_ERR_CORRUPT',
      `${this.client.url}: page ${pgno} is in no LTX file of the plan at TXID ${formatTXID(index.txid)}`, { key: this.client.url });
  }

  /**
   * Build the version a target names: the newest state (`undefined`), or the state at a
   * TXID or before a time (time travel, docs/formats.md §4.4), from a fresh listing.
   * @throws LtxvfsError as {@link computePlan} (`LTXVFS_ERR_EMPTY_REPLICA` "transaction not
   *   available" for a time before the retained history) and {@link VersionBuilder.build}.
   */
  async versionAt(target: PlanTarget | undefined): Promise<PageIndex> {
    // A time target compares header times, which object stores only give per object (docs/formats.md §4.3).
    const files = await listReplica(this.client, { useMetadata: target?.time !== undefined });
    return this.#builder.build(computePlan(files, target, this.client.url));
  }

  /** What the poller sees of this reader (lib/read/poll-target.ts). */
  #pollTarget(): PollTarget {
    const reader = this;
    return {
      client: this.client,
      storage: this.client.inner,
      staged: (seekTXID) => this.client.staged(0, seekTXID),
      get current() { return reader.#current; },
      get integrityFailure() { return reader.integrityFailure; },
      poison: (error) => this.poison(error),
      extend: (base, chain) => this.#builder.extend(base, chain),
      rebuild: () => this.versionAt(undefined),
      advance: (version) => this.#advance(version),
      // PollEvents is a subset of ReplicaReaderEvents: TypeScript cannot see it through the generic.
      notify: (event, ...args) => { (this.emit as (event: keyof PollEvents, ...args: unknown[]) => boolean)(event, ...args); },
    };
  }

  /**
   * Make `version` the newest (it must not be older than the current one), and forget
   * loaded files no current version refers to.
   */
  #advance(version: PageIndex): void {
    if (version.txid < this.#current.txid) {
      throw new LtxvfsError('LTXVFS_ERR_TXID_GAP',
        `${this.client.url}: replica went back from TXID ${formatTXID(this.#current.txid)} to ${formatTXID(version.txid)}`, { key: this.client.url });
    }
    const changed = version !== this.#current;
    this.#current = version;
    this.#builder.remember(version);
    if (changed) this.emit('version', version);
  }

  /**
   * Make a version this process wrote current (lib/write/writer.ts): `file` is the LTX file it
   * uploaded, `pages` its decompressed pages in index order (cached: they need no read).
   */
  adopt(version: PageIndex, file: LtxFile, pages: readonly Uint8Array[]): void {
    this.#fetcher.verifier.trust(file);
    for (let n = 0; n < pages.length; n++) this.#cache.set({ file, entry: n }, pages[n]);
    this.#advance(version);
  }

  /** Storage, cache and poll counters, and the newest version's position. */
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
      timestamp: this.#current.timestamp,
      pinnedVersions: this.#pins.size,
      receiveBufferBytes: this.#fetcher.buffers.bytes,
      ...this.#poller.stats(),
      ...(this.#disk === undefined ? {} : { diskCache: this.#disk.stats() }),
      ...(this.#hydrator === undefined ? {} : { hydration: this.#hydrator.stats() }),
      verification: this.#fetcher.verifier.stats(),
    };
  }

  /**
   * Resolves once every LTX file this reader has served pages from is verified against
   * its file checksum (lib/read/verifier.ts); one-shot commands await it before printing.
   * @throws LtxvfsError `LTXVFS_ERR_CHECKSUM` naming the file that failed; a storage error
   *   that stopped a verification; `LTXVFS_ERR_CLOSED` if the reader closed first.
   */
  verified(): Promise<void> {
    return this.#fetcher.verifier.verified();
  }

  /**
   * Verify every file of `files` not verified yet (as if a page of each had been served)
   * and resolve once all are: for commands that read files other than through pages
   * served (`ltxvfs hydrate`). Files read whole at load are verified already; larger ones
   * cost one more read of the file, in ranges (lib/read/verifier.ts).
   * @throws as {@link verified}.
   */
  verifyFiles(files: readonly LtxFile[]): Promise<void> {
    for (const f of files) this.#fetcher.verifier.use(f);
    return this.verified();
  }

  /** Run `fn` when the reader closes, before its storage client does (e.g. to release a lease). */
  beforeClose(fn: () => Promise<void>): void {
    this.#beforeClose.push(fn);
  }

  /** Stop polling, drop the cache and release the storage client (idempotent). */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    this.#poller.stop();
    await this.#fetcher.close();
    for (const fn of this.#beforeClose) await fn().catch(() => undefined);
    await this.#hydrator?.close();
    await this.#disk?.close();
    this.#cache.clear();
    await this.client.close();
  }
}
