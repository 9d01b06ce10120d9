/**
 * What a failed statement means once verification has its say (issue 12): SQLite reporting
 * a damaged or unreadable database is explained by the LTX file that failed its file
 * checksum (lib/read/verifier.ts), when one did. Used by every engine's error path.
 */
import { isLtxvfsError, LtxvfsError } from '../../ltx/errors.js';

/** SQLite primary result codes a damaged, unreadable or vanished file can cause: IOERR, CORRUPT, NOTADB. */
const SUSPECT_SQLITE_CODES = new Set([10, 11, 26]);

/** Where a failed statement's error is checked against verification: a reader (lib/read/replica-reader.ts). */
export interface IntegritySource {
  /** Resolves once every file served so far is verified; its rejection is not used here. */
  verified(): Promise<void>;
  /** The error every transaction fails with since a served file failed (or the newest file vanished). */
  readonly integrityFailure: LtxvfsError | undefined;
}

/**
 * Whether `err` is SQLite reporting a damaged or unreadable database (`LTXVFS_ERR_SQLITE`
 * with SQLITE_IOERR, SQLITE_CORRUPT or SQLITE_NOTADB, extended codes included): an error
 * that a file failing its verification explains.
 */
export function isSuspectSqliteError(err: unknown): boolean {
  return isLtxvfsError(err, 'LTXVFS_ERR_SQLITE') && SUSPECT_SQLITE_CODES.has((err.sqliteCode ?? 0) & 0xff);
}

/**
 * The integrity failure as the error of a statement or open that failed with `err`:
 * same code, message and key (the file), `err` as cause.
 */
export function integrityError(failure: LtxvfsError, err: unknown): LtxvfsError {
  return new LtxvfsError(failure.code, failure.message, { key: failure.key, cause: err });
}

/**
 * The error to report for `err`, a failed statement or open (issue 12): when SQLite
 * reported a damaged or unreadable database ({@link isSuspectSqliteError}), waits for the
 * verification of every file the reader served (at most the rest of a background
 * verification, see the module comment) and, if one failed, returns the integrity
 * failure — `LTXVFS_ERR_CHECKSUM` (or `LTXVFS_ERR_NOT_FOUND` for a vanished newest file)
 * naming the file — with `err` as cause; else `err` itself. Never rejects.
 */
export async function explainFailure(err: unknown, source: IntegritySource): Promise<unknown> {
  if (!isSuspectSqliteError(err)) return err;
  await source.verified().catch(() => undefined);
  const failure = source.integrityFailure;
  return failure === undefined ? err : integrityError(failure, err);
}
