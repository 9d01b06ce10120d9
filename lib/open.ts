/**
 * `openDatabase`: the main entry point. Resolves the replica URL (FORMATS.md §6:
 * `file://` URLs, plain paths, `LITESTREAM_REPLICA_URL` when none is given), opens the
 * replica's newest state, and runs SQLite (wa-sqlite's Asyncify build) over it.
 */
import { openReplicaClient } from './storage/url.js';
import { ReplicaReader, type ReplicaReaderOptions } from './replica-reader.js';
import { openAsyncifyDatabase } from '../vfs/asyncify-database.js';
import type { Database } from './database.js';

/** Options of {@link openDatabase}. */
export interface OpenOptions extends ReplicaReaderOptions {
  /** Bytes of decompressed pages kept in memory (alias of `cacheSizeBytes`). Default 64 MiB. */
  cacheSize?: number;
  /** Environment to read `LITESTREAM_REPLICA_URL` from. Default `process.env`. */
  env?: NodeJS.ProcessEnv;
}

/**
 * Open the database of a Litestream v0.5 replica, read-only, at its newest TXID.
 * @param url `file:///abs/dir`, a plain directory path, or undefined for `LITESTREAM_REPLICA_URL`.
 * @returns a {@link Database}; close it to release the replica.
 * @throws LtxvfsError `LTXVFS_ERR_BAD_URL`, `LTXVFS_ERR_NOT_FOUND`, `LTXVFS_ERR_EMPTY_REPLICA`,
 *   `LTXVFS_ERR_TXID_GAP`, `LTXVFS_ERR_OVERLAP`, `LTXVFS_ERR_PAGE_SIZE`, `LTXVFS_ERR_CORRUPT`,
 *   `LTXVFS_ERR_CHECKSUM`, `LTXVFS_ERR_STORAGE`.
 */
export async function openDatabase(url?: string, options: OpenOptions = {}): Promise<Database> {
  const client = await openReplicaClient(url, { env: options.env });
  let reader: ReplicaReader;
  try {
    reader = await ReplicaReader.open(client, { ...options, cacheSizeBytes: options.cacheSizeBytes ?? options.cacheSize });
  } catch (err) {
    await client.close();
    throw err;
  }
  try {
    return await openAsyncifyDatabase(reader, { label: client.url, statsProvider: () => reader.stats(), onClose: () => reader.close() });
  } catch (err) {
    await reader.close();
    throw err;
  }
}
