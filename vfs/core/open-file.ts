/**
 * What the engine bindings share at `xOpen` and about files other than the database:
 * which kinds live in memory, the output flags of a main database (read-only unless it
 * has a sink: vfs/core/database-file.ts, "What SQLite does"), and the errors of opens
 * that are refused.
 */
import * as VFS from '@journeyapps/wa-sqlite/src/sqlite-constants.js';
import { LtxvfsError } from '../../ltx/errors.js';

/** SQLite's default sector size for these builds (`SQLITE_DEFAULT_SECTOR_SIZE=4096`). */
export const SECTOR_SIZE = 4096;

/** File kinds the wa-sqlite bindings keep in memory (docs/formats.md §7.3). */
export const MEMORY_FILE_FLAGS =
  VFS.SQLITE_OPEN_MAIN_JOURNAL | VFS.SQLITE_OPEN_TEMP_DB | VFS.SQLITE_OPEN_TEMP_JOURNAL | VFS.SQLITE_OPEN_SUBJOURNAL |
  VFS.SQLITE_OPEN_SUPER_JOURNAL | VFS.SQLITE_OPEN_TRANSIENT_DB | VFS.SQLITE_OPEN_DELETEONCLOSE;

/** What a memory file promises: appends and writes land in order and whole. */
export const MEMORY_FILE_IOCAP =
  VFS.SQLITE_IOCAP_SAFE_APPEND | VFS.SQLITE_IOCAP_SEQUENTIAL | VFS.SQLITE_IOCAP_POWERSAFE_OVERWRITE | VFS.SQLITE_IOCAP_UNDELETABLE_WHEN_OPEN;

/** The `xOpen` output flags of a main database: `flags` with the access the file really has. */
export function openOutputFlags(flags: number, writable: boolean): number {
  const access = writable ? VFS.SQLITE_OPEN_READWRITE : VFS.SQLITE_OPEN_READONLY;
  return (flags & ~(VFS.SQLITE_OPEN_READWRITE | VFS.SQLITE_OPEN_READONLY | VFS.SQLITE_OPEN_CREATE)) | access;
}

/** The error for an `xOpen` of a WAL or of a file of no kind a binding serves (answered `SQLITE_CANTOPEN`). */
export function unsupportedOpen(filename: string | null, flags: number): LtxvfsError {
  const what = flags & VFS.SQLITE_OPEN_WAL ? 'a WAL' : `a file with flags 0x${flags.toString(16)}`;
  return new LtxvfsError('LTXVFS_ERR_UNSUPPORTED', `cannot open ${what} (${filename ?? 'no name'}): replica databases are read in rollback-journal mode`, {
    key: filename ?? undefined,
  });
}

/** The error for a main database name no one added (answered `SQLITE_CANTOPEN`). */
export function unknownDatabase(name: string, vfsName: string): LtxvfsError {
  return new LtxvfsError('LTXVFS_ERR_NOT_FOUND', `no database "${name}" in VFS "${vfsName}"`, { key: name });
}
