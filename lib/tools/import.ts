/**
 * Import: turn a SQLite database file into a new replica holding one snapshot LTX
 * file (`0000000000000001-0000000000000001.ltx` in level 0, as Litestream's first sync
 * writes it), checksum-free like every file Litestream writes so Litestream can restore
 * and compact it (docs/formats.md §1.4, §2.5). The snapshot holds pages 1…commit except the
 * lock page (§7.2).
 *
 * The database may be in use: it is read as one committed state, WAL included, and read
 * again if a writer changed it meanwhile (lib/tools/sqlite-snapshot.ts). Memory stays bounded:
 * pages are read 1 MiB at a time and encoded as they come ({@link LtxStreamEncoder}) into a
 * temporary file on local disk, which is handed to the storage client in one piece at the
 * end (its `write` takes bytes), so the peak is about the LTX file's size, not several
 * copies of the database.
 */
import { mkdtemp, open, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { LtxStreamEncoder } from '../../ltx/encoder.js';
import { HEADER_FLAG_NO_CHECKSUM } from '../../ltx/header.js';
import { lockPgno } from '../../ltx/checksum.js';
import { LtxvfsError } from '../../ltx/errors.js';
import type { ReplicaClient } from '../storage/types.js';
import { listReplica } from '../replica/plan.js';
import { LiveDatabase } from './sqlite-snapshot.js';

/** What {@link importDatabase} wrote. */
export interface ImportResult {
  /** Key of the snapshot written. */
  key: string;
  /** Page size in bytes. */
  pageSize: number;
  /** Pages in the snapshot's database (commit). */
  commit: number;
  /** Size of the LTX file in bytes. */
  bytesWritten: number;
  /** Reads of the database it took to get one unchanged by writers (1 when nobody wrote). */
  attempts: number;
  /** Pages that came from the `-wal` file rather than the database file. */
  walPages: number;
}

/** Options of {@link importDatabase}. */
export interface ImportOptions {
  /** Called as pages are read: pages done, pages in all (starts again from 0 if a read is repeated). */
  onProgress?: (done: number, total: number) => void;
  /** Header timestamp, ms since the epoch. Default now. */
  timestamp?: number;
  /** Reads of a database that writers keep changing before giving up, ≥ 1. Default 5. */
  attempts?: number;
  /** Directory for the temporary LTX file. Default the OS's temporary directory. */
  tempDir?: string;
}

/**
 * Import the SQLite database at `dbPath` into the empty replica behind `client` (module doc).
 * @throws LtxvfsError `LTXVFS_ERR_NOT_FOUND` (no such file), `LTXVFS_ERR_CORRUPT` (not a SQLite
 *   database, or its size is not a whole number of pages), `LTXVFS_ERR_USAGE`
 *   (`dbPath` is not a regular file, or the replica already has LTX files),
 *   `LTXVFS_ERR_CONFLICT` (writers changed the database during every read),
 *   `LTXVFS_ERR_PRECONDITION` (another writer created the file meanwhile).
 */
export async function importDatabase(dbPath: string, client: ReplicaClient, options: ImportOptions = {}): Promise<ImportResult> {
  const source = await LiveDatabase.open(dbPath);
  const dir = await mkdtemp(join(options.tempDir ?? tmpdir(), 'ltxvfs-import-'));
  const ltxPath = join(dir, 'snapshot.ltx');
  try {
    const existing = await listReplica(client);
    if (existing.length > 0) {
      throw new LtxvfsError('LTXVFS_ERR_USAGE', `${client.url}: replica is not empty (${existing.length} LTX files); import needs an empty replica`, { key: client.url });
    }
    const timestamp = options.timestamp ?? Date.now();
    const out = await open(ltxPath, 'w');
    let encoder: LtxStreamEncoder | undefined;
    let size = 0;
    let lock = 0;
    const write = async (bytes: Uint8Array): Promise<void> => {
      await out.write(bytes, 0, bytes.length, size);
      size += bytes.length;
    };
    let total = 0;
    let result: Awaited<ReturnType<LiveDatabase['read']>>;
    try {
      const layout = await source.read(async ({ pageSize, commit }) => {
        // A first read, or a repeated one: the file starts again.
        size = 0;
        await out.truncate(0);
        lock = lockPgno(pageSize);
        total = commit;
        encoder = new LtxStreamEncoder({
          flags: HEADER_FLAG_NO_CHECKSUM, pageSize, commit, minTXID: 1, maxTXID: 1, timestamp,
          preApplyChecksum: 0n, walOffset: 0, walSize: 0, walSalt1: 0, walSalt2: 0, nodeID: 0,
        });
        await write(encoder.headerBytes);
        options.onProgress?.(0, commit);
      }, async (pgno, data) => {
        if (pgno !== lock) await write(encoder!.page(pgno, data));
        if (pgno % 256 === 0) options.onProgress?.(pgno, total);
      }, options.attempts);
      await write(encoder!.finish(0n));
      options.onProgress?.(layout.commit, layout.commit);
      result = layout;
    } finally {
      await out.close();
    }
    // The client's write takes bytes: the finished file, read once.
    const bytes = await readFile(ltxPath);
    await rm(ltxPath);
    const key = client.ltxKey(0, 1, 1);
    await client.write(key, bytes, { ifNoneMatch: true, timestamp });
    return { key, pageSize: result.pageSize, commit: result.commit, bytesWritten: bytes.byteLength, attempts: result.attempts, walPages: result.walPages.size };
  } finally {
    await source.close();
    await rm(dir, { recursive: true, force: true });
  }
}
