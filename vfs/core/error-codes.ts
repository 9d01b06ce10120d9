/**
 * The SQLite result code a VFS returns for an error it caught (docs/architecture.md, "Errors the
 * engine sees"). Engine-independent: every engine adapter maps errors through
 * {@link sqliteCodeForError} and keeps the error itself for the Database API to rethrow
 * as `cause`.
 */
import { isLtxvfsError } from '../../ltx/errors.js';

/** `SQLITE_IOERR`: an I/O error of no more specific kind. */
export const SQLITE_IOERR = 10;
/** `SQLITE_IOERR_READ`: a read failed (storage unreachable after retries, object missing). */
export const SQLITE_IOERR_READ = 266;
/** `SQLITE_CORRUPT`: the data failed a checksum or structure check. */
export const SQLITE_CORRUPT = 11;
/** `SQLITE_READONLY`: a write to a read-only view. */
export const SQLITE_READONLY = 8;

/**
 * The SQLite code for `err`:
 * - an `LtxvfsError` carrying `sqliteCode` → that code;
 * - else by its `ltxvfsCode`:
 * - `LTXVFS_ERR_CORRUPT`, `LTXVFS_ERR_CHECKSUM` → `SQLITE_CORRUPT` (the page is never served);
 * - `LTXVFS_ERR_STORAGE`, `LTXVFS_ERR_NOT_FOUND` → `ioCode` (default `SQLITE_IOERR_READ`);
 * - `LTXVFS_ERR_READONLY` → `SQLITE_READONLY`;
 * - anything else → `SQLITE_IOERR`.
 */
export function sqliteCodeForError(err: unknown, ioCode: number = SQLITE_IOERR_READ): number {
  if (!isLtxvfsError(err)) return SQLITE_IOERR;
  if (err.sqliteCode !== undefined) return err.sqliteCode;
  switch (err.ltxvfsCode) {
    case 'LTXVFS_ERR_CORRUPT':
    case 'LTXVFS_ERR_CHECKSUM':
      return SQLITE_CORRUPT;
    case 'LTXVFS_ERR_STORAGE':
    case 'LTXVFS_ERR_NOT_FOUND':
      return ioCode;
    case 'LTXVFS_ERR_READONLY':
      return SQLITE_READONLY;
    default:
      return SQLITE_IOERR;
  }
}
