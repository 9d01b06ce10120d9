/**
 * The one error class of ltxvfs. Every failure that ltxvfs itself detects is an
 * `LtxvfsError` with a stable `code` (modelled on undici's `UND_ERR_*` codes, see
 * nodejs/undici lib/core/errors.js) and, where it is about one object, the `key` (replica key, file path or
 * LTX file name) it concerns. Messages are one line: what is wrong, then where.
 */

/** Stable error codes. Callers switch on these, never on message text. */
export type LtxvfsErrorCode =
  /** An LTX file breaks a structural rule of docs/formats.md §1 (bad magic, flags, sizes, frames, index). */
  | 'LTXVFS_ERR_CORRUPT'
  /** A file, page or database checksum does not match (docs/formats.md §2). */
  | 'LTXVFS_ERR_CHECKSUM'
  /** The LTX files of a replica leave a hole in the TXID sequence (docs/formats.md §4.4). */
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
  /** Another writer holds the replica's write lease (docs/formats.md §5.2). */
  | 'LTXVFS_ERR_LEASE_HELD'
  /** This writer's lease expired, was released, or was taken over. */
  | 'LTXVFS_ERR_LEASE_LOST'
  /** Another writer committed the TXID this transaction needed: retry on the new state. */
  | 'LTXVFS_ERR_CONFLICT'
  /** A wait ran out before what it waited for happened (`waitForTxid`: the TXID was not applied in time). */
  | 'LTXVFS_ERR_TIMEOUT';

/**
 * SQLite's name of a result code, as better-sqlite3 puts it in `code`: the extended name
 * where SQLite has one (`'SQLITE_IOERR_READ'`, `'SQLITE_CONSTRAINT_UNIQUE'`), else the
 * primary one (`'SQLITE_READONLY'`, `'SQLITE_BUSY'`).
 */
export type SqliteErrorName = `SQLITE_${string}`;

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

/** SQLite's primary result codes by number (sqlite.org/rescode.html). */
const PRIMARY_NAMES = [
  'OK', 'ERROR', 'INTERNAL', 'PERM', 'ABORT', 'BUSY', 'LOCKED', 'NOMEM', 'READONLY', 'INTERRUPT',
  'IOERR', 'CORRUPT', 'NOTFOUND', 'FULL', 'CANTOPEN', 'PROTOCOL', 'EMPTY', 'SCHEMA', 'TOOBIG',
  'CONSTRAINT', 'MISMATCH', 'MISUSE', 'NOLFS', 'AUTH', 'FORMAT', 'RANGE', 'NOTADB', 'NOTICE', 'WARNING',
];

/** SQLite's extended result codes: `primary + (n << 8)` → the name's suffix (sqlite.org/rescode.html, SQLite 3.46). */
const EXTENDED_NAMES: Readonly<Record<string, readonly string[]>> = {
  ERROR: ['', 'MISSING_COLLSEQ', 'RETRY', 'SNAPSHOT'],
  IOERR: ['', 'READ', 'SHORT_READ', 'WRITE', 'FSYNC', 'DIR_FSYNC', 'TRUNCATE', 'FSTAT', 'UNLOCK', 'RDLOCK',
    'DELETE', 'BLOCKED', 'NOMEM', 'ACCESS', 'CHECKRESERVEDLOCK', 'LOCK', 'CLOSE', 'DIR_CLOSE', 'SHMOPEN',
    'SHMSIZE', 'SHMLOCK', 'SHMMAP', 'SEEK', 'DELETE_NOENT', 'MMAP', 'GETTEMPPATH', 'CONVPATH', 'VNODE',
    'AUTH', 'BEGIN_ATOMIC', 'COMMIT_ATOMIC', 'ROLLBACK_ATOMIC', 'DATA', 'CORRUPTFS', 'IN_PAGE'],
  LOCKED: ['', 'SHAREDCACHE', 'VTAB'],
  BUSY: ['', 'RECOVERY', 'SNAPSHOT', 'TIMEOUT'],
  CANTOPEN: ['', 'NOTEMPDIR', 'ISDIR', 'FULLPATH', 'CONVPATH', 'DIRTYWAL', 'SYMLINK'],
  CORRUPT: ['', 'VTAB', 'SEQUENCE', 'INDEX'],
  READONLY: ['', 'RECOVERY', 'CANTLOCK', 'ROLLBACK', 'DBMOVED', 'CANTINIT', 'DIRECTORY'],
  ABORT: ['', '', 'ROLLBACK'],
  CONSTRAINT: ['', 'CHECK', 'COMMITHOOK', 'FOREIGNKEY', 'FUNCTION', 'NOTNULL', 'PRIMARYKEY', 'TRIGGER',
    'UNIQUE', 'VTAB', 'ROWID', 'PINNED', 'DATATYPE'],
  NOTICE: ['', 'RECOVER_WAL', 'RECOVER_ROLLBACK', 'RBU'],
  WARNING: ['', 'AUTOINDEX'],
  AUTH: ['', 'USER'],
  OK: ['', 'LOAD_PERMANENTLY', 'SYMLINK'],
};

/**
 * SQLite's name of result code `rc` (extended or primary): `266` → `'SQLITE_IOERR_READ'`,
 * `8` → `'SQLITE_READONLY'`. An extended code SQLite does not define gets its primary
 * code's name; a number that is no result code at all gets `'SQLITE_ERROR'`.
 */
export function sqliteErrorName(rc: number): SqliteErrorName {
  const primary = PRIMARY_NAMES[rc & 0xff];
  if (primary === undefined || !Number.isInteger(rc) || rc < 0) return 'SQLITE_ERROR';
  const suffix = EXTENDED_NAMES[primary]?.[rc >> 8];
  return suffix ? `SQLITE_${primary}_${suffix}` : `SQLITE_${primary}`;
}

/**
 * Base error class of ltxvfs: a stable `code`, the `key` involved, and `cause`.
 *
 * Two kinds, one rule (docs/usage.md, "Errors"):
 * - an error ltxvfs detects has its `LTXVFS_ERR_*` code in `code` and in `ltxvfsCode`;
 * - an error SQLite returned (built with `LTXVFS_ERR_SQLITE`, or with a SQLite name, and a
 *   `sqliteCode`) has SQLite's name in `code` (`'SQLITE_READONLY'`, `'SQLITE_IOERR_READ'`:
 *   {@link sqliteErrorName}, as better-sqlite3 reports it), the number in `sqliteCode`,
 *   and in `ltxvfsCode` the code of the ltxvfs error behind it when there is one
 *   (`cause`: `LTXVFS_ERR_STALE`, `LTXVFS_ERR_READONLY`, `LTXVFS_ERR_CHECKSUM`, …), else
 *   `LTXVFS_ERR_SQLITE`. Its message ends with that error's message (what to do: take
 *   the lease, since when the replica is stale, which TXIDs exist) unless it has it
 *   already, and `key` defaults to that error's key.
 */
export class LtxvfsError extends Error {
  override readonly name = 'LtxvfsError';
  /** The `LTXVFS_ERR_*` code, or SQLite's name for an error SQLite returned. */
  readonly code: LtxvfsErrorCode | SqliteErrorName;
  /** The `LTXVFS_ERR_*` code: `code` itself, or for an error SQLite returned the reason ltxvfs knows behind it. */
  readonly ltxvfsCode: LtxvfsErrorCode;
  readonly key: string | undefined;
  readonly sqliteCode: number | undefined;
  readonly status: number | undefined;

  /**
   * @param code an `LTXVFS_ERR_*` code; `LTXVFS_ERR_SQLITE` or a `SQLITE_*` name (from a
   *   serialized error) with `options.sqliteCode` for an error SQLite returned.
   */
  constructor(code: LtxvfsErrorCode | SqliteErrorName, message: string, options: LtxvfsErrorOptions = {}) {
    const rc = options.sqliteCode;
    const fromSqlite = rc !== undefined && (code === 'LTXVFS_ERR_SQLITE' || code.startsWith('SQLITE_'));
    const behind = fromSqlite ? reasonBehind(options.cause) : undefined;
    const text = behind !== undefined && !message.includes(behind.message) ? `${message}: ${behind.message}` : message;
    super(text, options.cause === undefined ? undefined : { cause: options.cause });
    if (fromSqlite) {
      this.code = sqliteErrorName(rc);
      this.ltxvfsCode = behind?.ltxvfsCode ?? 'LTXVFS_ERR_SQLITE';
    } else {
      // A SQLite name without a result code (never built by ltxvfs) counts as LTXVFS_ERR_SQLITE.
      this.code = code;
      this.ltxvfsCode = code.startsWith('SQLITE_') ? 'LTXVFS_ERR_SQLITE' : code as LtxvfsErrorCode;
    }
    this.key = options.key ?? behind?.key;
    this.sqliteCode = options.sqliteCode;
    this.status = options.status;
  }
}

/** The ltxvfs error behind an error SQLite returned: `cause` when it is one ltxvfs detected. */
function reasonBehind(cause: unknown): LtxvfsError | undefined {
  return cause instanceof LtxvfsError && cause.ltxvfsCode !== 'LTXVFS_ERR_SQLITE' ? cause : undefined;
}

/**
 * True if `err` is an {@link LtxvfsError}, optionally with the given code: its `code` or
 * its `ltxvfsCode` (so `LTXVFS_ERR_STALE` matches a `SQLITE_IOERR_READ` caused by
 * staleness); `LTXVFS_ERR_SQLITE` matches every error SQLite returned.
 */
export function isLtxvfsError(err: unknown, code?: LtxvfsErrorCode): err is LtxvfsError {
  if (!(err instanceof LtxvfsError)) return false;
  if (code === undefined || err.code === code || err.ltxvfsCode === code) return true;
  return code === 'LTXVFS_ERR_SQLITE' && err.code.startsWith('SQLITE_');
}
