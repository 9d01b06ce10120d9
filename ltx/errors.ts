/**
 * The one error class of ltxvfs. Every failure that ltxvfs itself detects is an
 * `LtxvfsError` with a stable `code` (modelled on undici's `UND_ERR_*` codes, see
 * docs/STYLE.md) and, where it is about one object, the `key` (replica key, file path or
 * LTX file name) it concerns. Messages are one line: what is wrong, then where.
 */

/** Stable error codes. Callers switch on these, never on message text. */
export type LtxvfsErrorCode =
  /** An LTX file breaks a structural rule of FORMATS.md §1 (bad magic, flags, sizes, frames, index). */
  | 'LTXVFS_ERR_CORRUPT'
  /** A file, page or database checksum does not match (FORMATS.md §2). */
  | 'LTXVFS_ERR_CHECKSUM'
  /** The LTX files of a replica leave a hole in the TXID sequence (FORMATS.md §4.4). */
  | 'LTXVFS_ERR_TXID_GAP'
  /** Two files of one level cover overlapping TXID ranges. */
  | 'LTXVFS_ERR_OVERLAP'
  /** Files of one replica disagree on the page size, or a caller's page size does not match. */
  | 'LTXVFS_ERR_PAGE_SIZE'
  /** A replica, level, object or file does not exist. */
  | 'LTXVFS_ERR_NOT_FOUND'
  /** The replica exists but holds no LTX files, or no state at the requested point. */
  | 'LTXVFS_ERR_EMPTY_REPLICA'
  /** A key is not valid for the replica (escapes the root, bad characters). */
  | 'LTXVFS_ERR_BAD_KEY'
  /** A replica URL or option cannot be understood. */
  | 'LTXVFS_ERR_BAD_URL'
  /** Storage failed (I/O error, short read, unreachable after retries). */
  | 'LTXVFS_ERR_STORAGE'
  /** A create-only or if-match write found the object in another state. */
  | 'LTXVFS_ERR_PRECONDITION'
  /** SQLite returned an error; `sqliteCode` holds its result code. */
  | 'LTXVFS_ERR_SQLITE'
  /** A write was attempted on a read-only view. */
  | 'LTXVFS_ERR_READONLY'
  /** The object was used after `close()`. */
  | 'LTXVFS_ERR_CLOSED'
  /** A bad argument from the caller (CLI usage, option values). */
  | 'LTXVFS_ERR_USAGE'
  /** Input that is valid but not supported (e.g. a live WAL on import, LTX v1 files). */
  | 'LTXVFS_ERR_UNSUPPORTED'
  /** The replica could not be polled, or stopped advancing, for longer than the staleness bound. */
  | 'LTXVFS_ERR_STALE'
  /** Another writer holds the replica's write lease (FORMATS.md §5.2). */
  | 'LTXVFS_ERR_LEASE_HELD'
  /** This writer's lease expired, was released, or was taken over. */
  | 'LTXVFS_ERR_LEASE_LOST'
  /** Another writer committed the TXID this transaction needed: retry on the new state. */
  | 'LTXVFS_ERR_CONFLICT';

/** Options of {@link LtxvfsError}. */
export interface LtxvfsErrorOptions {
  /** Replica key, file path or LTX file name the error is about. */
  key?: string;
  /** The underlying error. */
  cause?: unknown;
  /** SQLite result code, for `LTXVFS_ERR_SQLITE` (and errors surfaced through the VFS). */
  sqliteCode?: number;
  /** HTTP status, for storage errors from object storage. */
  status?: number;
}

/** Base error class of ltxvfs: a stable `code`, the `key` involved, and `cause`. */
export class LtxvfsError extends Error {
  override readonly name = 'LtxvfsError';
  readonly code: LtxvfsErrorCode;
  readonly key: string | undefined;
  readonly sqliteCode: number | undefined;
  readonly status: number | undefined;

  constructor(code: LtxvfsErrorCode, message: string, options: LtxvfsErrorOptions = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.code = code;
    this.key = options.key;
    this.sqliteCode = options.sqliteCode;
    this.status = options.status;
  }
}

/** True if `err` is an {@link LtxvfsError}, optionally with the given code. */
export function isLtxvfsError(err: unknown, code?: LtxvfsErrorCode): err is LtxvfsError {
  return err instanceof LtxvfsError && (code === undefined || err.code === code);
}
