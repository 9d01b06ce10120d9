/**
 * The database-file core's view of its engine: a source of versions and pages and a sink
 * for transactions that answer either at once (`'sync'`: the worker's blocking page
 * bridge, sql.js) or possibly later (`'async'`: the in-process replica reader). See
 * vfs/core/database-file.ts, "Completing synchronously or not".
 */
import type { PageVersion } from '../../lib/read/page-source.js';

/** How an engine's page reads and commits complete: at once (blocking), or possibly later. */
export type Completion = 'sync' | 'async';

/** `T` for a `'sync'` file; `T` or a Promise of it for an `'async'` one. */
export type Answer<T, C extends Completion> = C extends 'sync' ? T : T | Promise<T>;

/** Where a {@link DatabaseFile} gets its versions and pages (lib/read/page-source.ts's `PageSource` is the `'async'` one). */
export interface CorePageSource<C extends Completion> {
  /** Pin the newest version (a new read transaction); paired with one {@link release}. */
  acquire(): PageVersion;
  /** Unpin a version. */
  release(version: PageVersion): void;
  /**
   * Page `pgno` (1-based, ≤ `version.commit`) of `version`, exactly `pageSize` bytes, not
   * to be modified.
   * @throws LtxvfsError `LTXVFS_ERR_STORAGE` (I/O, bridge timeout), `LTXVFS_ERR_CORRUPT` / `LTXVFS_ERR_CHECKSUM`.
   */
  readPage(version: PageVersion, pgno: number): Answer<Uint8Array, C>;
  /** Copy page `pgno` into `dst` if it is at hand (a cache hit) and say whether it did; optional. */
  readPageInto?(version: PageVersion, pgno: number, dst: Uint8Array): boolean;
}

/** Where a writable {@link DatabaseFile} ships transactions (lib/read/page-source.ts's `PageSink` is the `'async'` one). */
export interface CorePageSink<C extends Completion> {
  /** @throws LtxvfsError with `sqliteCode` SQLITE_READONLY (no lease, time travel) / SQLITE_BUSY. */
  reserve(): Answer<void, C>;
  unreserve(): void;
  /**
   * Ship a transaction read on `base`; returns the new version, pinned for the caller,
   * who releases `base` as usual.
   * @throws LtxvfsError with `sqliteCode` SQLITE_BUSY on a conflict or a lost lease; storage errors.
   */
  commit(base: PageVersion, pages: ReadonlyMap<number, Uint8Array>, commit: number, pageSize: number): Answer<PageVersion, C>;
}

/** A page source whose reads complete synchronously (blocking on a miss). */
export type SyncPageSource = CorePageSource<'sync'>;
/** A sink whose calls complete synchronously. */
export type SyncPageSink = CorePageSink<'sync'>;
