/**
 * The usage errors of the SQL API (lib/sql/): a closed database, a call on a transaction
 * whose callback has settled, and a statement that controls transactions where the
 * Database controls them — each naming the SQL and saying what to do instead.
 */
import { LtxvfsError } from '../../ltx/errors.js';
import { excerpt } from './statement.js';

/** `LTXVFS_ERR_CLOSED`: a call after `close()`. */
export function closedError(): LtxvfsError {
  return new LtxvfsError('LTXVFS_ERR_CLOSED', 'the database is closed');
}

/** `LTXVFS_ERR_USAGE`: a call on a transaction whose callback has settled. */
export function endedError(sql: string): LtxvfsError {
  return new LtxvfsError('LTXVFS_ERR_USAGE', `the transaction has ended (its callback settled): ${excerpt(sql)}`);
}

/** `LTXVFS_ERR_USAGE`: a statement that controls transactions, inside `transaction()` or left open by one call. */
export function controlError(statement: string, inTransaction: boolean): LtxvfsError {
  const what = excerpt(statement);
  return new LtxvfsError('LTXVFS_ERR_USAGE', inTransaction
    ? `${what}: inside transaction() the transaction is the callback's: it commits when the callback returns, ` +
      'rolls back when it throws; use tx.transaction(fn) for a savepoint'
    : `${what}: a transaction left open by one call would take in the statements of every other async flow ` +
      'on this Database: use db.transaction(async (tx) => …, { mode }) (one exec() script may BEGIN … COMMIT within itself)');
}
