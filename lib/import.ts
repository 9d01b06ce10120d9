/**
 * Import: turn a plain SQLite database file into a new replica holding one snapshot LTX
 * file (`0000000000000001-0000000000000001.ltx` in level 0, as Litestream's first sync
 * writes it), checksum-free like every file Litestream writes so Litestream can restore
 * and compact it (FORMATS.md §1.4, §2.5). The snapshot holds pages 1…commit except the
 * lock page (§7.2).
 */
import { open, stat } from 'node:fs/promises';
import { encodeLtxFile } from '../ltx/encoder.js';
import { HEADER_FLAG_NO_CHECKSUM } from '../ltx/header.js';
import { lockPgno } from '../ltx/checksum.js';
import { LtxvfsError } from '../ltx/errors.js';
import type { ReplicaClient } from './storage/types.js';
import { listReplica } from './replica.js';

/** SQLite's file magic (FORMATS.md §7.1). */
const SQLITE_MAGIC = 'SQLite format 3\0';

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
}

/** Options of {@link importDatabase}. */
export interface ImportOptions {
  /** Called as pages are read: pages done, pages in all. */
  onProgress?: (done: number, total: number) => void;
  /** Header timestamp, ms since the epoch. Default now. */
  timestamp?: number;
}

/**
 * Import the SQLite database at `dbPath` into the empty replica behind `client`.
 * @throws LtxvfsError `LTXVFS_ERR_NOT_FOUND` (no such file), `LTXVFS_ERR_CORRUPT` (not a SQLite
 *   database, or its size is not a whole number of pages), `LTXVFS_ERR_UNSUPPORTED` (a WAL-mode
 *   database whose `-wal` file still holds frames: checkpoint it first), `LTXVFS_ERR_USAGE`
 *   (`dbPath` is not a regular file, or the replica already has LTX files),
 *   `LTXVFS_ERR_PRECONDITION` (another writer created the file meanwhile).
 */
export async function importDatabase(dbPath: string, client: ReplicaClient, options: ImportOptions = {}): Promise<ImportResult> {
  const fh = await open(dbPath, 'r').catch((err: NodeJS.ErrnoException) => {
    throw new LtxvfsError(err.code === 'ENOENT' ? 'LTXVFS_ERR_NOT_FOUND' : 'LTXVFS_ERR_STORAGE',
      `${dbPath}: cannot open database file (${err.code})`, { key: dbPath, cause: err });
  });
  try {
    const st = await fh.stat();
    if (!st.isFile()) {
      throw new LtxvfsError('LTXVFS_ERR_USAGE', `${dbPath}: not a regular file (a directory or a device), so not a database`, { key: dbPath });
    }
    const size = st.size;
    const header = new Uint8Array(100);
    await fh.read(header, 0, 100, 0);
    if (size < 100 || new TextDecoder().decode(header.subarray(0, 16)) !== SQLITE_MAGIC) {
      throw new LtxvfsError('LTXVFS_ERR_CORRUPT', `${dbPath}: not a SQLite database (bad header magic)`, { key: dbPath });
    }
    const raw = (header[16] << 8) | header[17];
    const pageSize = raw === 1 ? 65536 : raw;
    if (pageSize < 512 || pageSize > 65536 || (pageSize & (pageSize - 1)) !== 0) {
      throw new LtxvfsError('LTXVFS_ERR_CORRUPT', `${dbPath}: invalid page size ${raw} in the database header`, { key: dbPath });
    }
    if (size % pageSize !== 0) {
      throw new LtxvfsError('LTXVFS_ERR_CORRUPT', `${dbPath}: file size ${size} is not a multiple of the page size ${pageSize}`, { key: dbPath });
    }
    if (header[18] === 2 || header[19] === 2) {
      const walSize = await stat(`${dbPath}-wal`).then((s) => s.size, () => 0);
      if (walSize > 0) {
        throw new LtxvfsError('LTXVFS_ERR_UNSUPPORTED',
          `${dbPath}: WAL-mode database with ${walSize} bytes in ${dbPath}-wal; checkpoint it first (PRAGMA wal_checkpoint(TRUNCATE))`,
          { key: dbPath });
      }
    }
    const existing = await listReplica(client);
    if (existing.length > 0) {
      throw new LtxvfsError('LTXVFS_ERR_USAGE', `${client.url}: replica is not empty (${existing.length} LTX files); import needs an empty replica`, { key: client.url });
    }
    const commit = size / pageSize;
    const lock = lockPgno(pageSize);
    const pages: { pgno: number; data: Uint8Array }[] = [];
    const slabPages = Math.max(1, Math.floor((4 << 20) / pageSize));
    for (let first = 1; first <= commit; first += slabPages) {
      const count = Math.min(slabPages, commit - first + 1);
      const slab = new Uint8Array(count * pageSize);
      await fh.read(slab, 0, slab.byteLength, (first - 1) * pageSize);
      for (let i = 0; i < count; i++) {
        if (first + i !== lock) pages.push({ pgno: first + i, data: slab.subarray(i * pageSize, (i + 1) * pageSize) });
      }
      options.onProgress?.(first + count - 1, commit);
    }
    const timestamp = options.timestamp ?? Date.now();
    const bytes = encodeLtxFile({
      header: {
        flags: HEADER_FLAG_NO_CHECKSUM, pageSize, commit, minTXID: 1, maxTXID: 1, timestamp,
        preApplyChecksum: 0n, walOffset: 0, walSize: 0, walSalt1: 0, walSalt2: 0, nodeID: 0,
      },
      pages,
      postApplyChecksum: 0n,
    });
    const key = client.ltxKey(0, 1, 1);
    await client.write(key, bytes, { ifNoneMatch: true, timestamp });
    return { key, pageSize, commit, bytesWritten: bytes.byteLength };
  } finally {
    await fh.close();
  }
}
