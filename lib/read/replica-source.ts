/**
 * A replica as a {@link PageSource}, for callers that bring their own wa-sqlite instance
 * (`registerLtxVFS`, docs/usage.md "Bringing your own wa-sqlite"): the public face of the
 * replica reader (lib/read/replica-reader.ts), without its internals (page index, poller,
 * caches), which stay free to change.
 */
import type { PageSource } from './page-source.js';
import { ReplicaReader, type ReplicaReaderOptions, type ReplicaStats } from './replica-reader.js';
import type { ReplicaClient } from '../storage/types.js';

/** What {@link openReplicaSource} gives: pages of the replica's newest version (kept current by polling), its counters, and close. */
export interface ReplicaSource extends PageSource {
  /** The storage client it reads through. */
  readonly client: ReplicaClient;
  /** The reader's counters (the same figures `db.stats()` reports). */
  stats(): ReplicaStats;
  /** Stop polling and release the cache; the client is closed too. Idempotent. */
  close(): Promise<void>;
}

/**
 * Open a replica as a page source: lists the replica, loads the page indexes of its
 * restore plan and starts polling. Add it to a VFS with `vfs.addDatabase(name, source)`.
 * @param client from `openReplicaClient(url)`.
 * @param options cache size, poll interval, verification and the other reader options (docs/usage.md).
 * @throws LtxvfsError as `openDatabase` does when it opens a replica (`LTXVFS_ERR_NOT_FOUND`,
 *   `LTXVFS_ERR_EMPTY_REPLICA`, `LTXVFS_ERR_TXID_GAP`, `LTXVFS_ERR_CORRUPT`, `LTXVFS_ERR_STORAGE`, …).
 */
export function openReplicaSource(client: ReplicaClient, options: ReplicaReaderOptions = {}): Promise<ReplicaSource> {
  return ReplicaReader.open(client, options);
}
