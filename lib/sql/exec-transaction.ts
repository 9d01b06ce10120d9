/**
 * Run a script as exactly one written transaction, with an outcome that says exactly what
 * was shipped: what `ltxvfs exec` does (docs/usage.md, "exec").
 *
 * 1. SQL that controls transactions itself (BEGIN, COMMIT, END, ROLLBACK, SAVEPOINT,
 *    RELEASE outside a trigger body; lib/sql/statements.ts) is refused before anything
 *    runs: inside it, a COMMIT would ship part of the script and leave the rest to run on
 *    its own, so "the script's transaction" would not be one thing that happened or not.
 * 2. Take the write lease, waiting up to `leaseWaitMs` while another writer holds it
 *    (retrying with jittered back-off), then catch up to the newest TXID
 *    (`PRAGMA litevfs_acquire_lease`, lib/write/writer.ts).
 * 3. `BEGIN IMMEDIATE; <script>; COMMIT`. A commit another writer beat to its TXID
 *    (`LTXVFS_ERR_CONFLICT`: a writer that ignores the lease) or a lease lost before the
 *    commit rolls back; the script runs again after catching up, at most `attempts` times
 *    in all. Each attempt either ships one LTX file or nothing, so a failure ships nothing.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { isLtxvfsError, LtxvfsError } from '../../ltx/errors.js';
import { formatTXID } from '../../ltx/filename.js';
import type { Database, DatabaseStats } from './database.js';
import { findTransactionControl } from './statements.js';

/** Attempts at a commit by default (the first and three retries after catching up). */
export const DEFAULT_EXEC_ATTEMPTS = 4;
/** How long to wait for a lease another writer holds by default, ms. */
export const DEFAULT_LEASE_WAIT_MS = 10_000;

/** Options of {@link execTransaction}. */
export interface ExecTransactionOptions {
  /** Runs of the script in all when its commit conflicts, ≥ 1. Default 4. */
  attempts?: number;
  /** Wait at most this long for a lease held by another writer, ms; 0 = do not wait. Default 10,000. */
  leaseWaitMs?: number;
  /** Clock for the lease wait, ms. Default `Date.now`. */
  now?: () => number;
  /** Pause between lease attempts, ms. Default a timer. */
  sleep?: (ms: number) => Promise<void>;
}

/** What {@link execTransaction} did. */
export interface ExecOutcome {
  /** The TXID shipped, or undefined when the script changed nothing (no file written). */
  shipped: number | undefined;
  /** The replica's TXID as this connection sees it afterwards. */
  txid: number;
  /** Runs of the script (1 unless commits conflicted). */
  attempts: number;
  /** Conflicts retried (`attempts - 1`), each naming the TXID lost. */
  conflicts: string[];
}

/**
 * Run `sql` on `db` (a writable replica connection) as one transaction, as the module doc
 * says, and report what was shipped.
 * @throws LtxvfsError `LTXVFS_ERR_USAGE` (transaction control in `sql`, an unterminated
 *   comment or string, bad options; nothing ran); `LTXVFS_ERR_LEASE_HELD` when another
 *   writer held the lease for all of `leaseWaitMs` (naming the holder and the wait);
 *   `LTXVFS_ERR_CONFLICT` naming the TXID when every attempt's commit lost it;
 *   `LTXVFS_ERR_SQLITE` for an error of the script (nothing shipped); storage errors.
 */
export async function execTransaction(db: Database<DatabaseStats>, sql: string, options: ExecTransactionOptions = {}): Promise<ExecOutcome> {
  const { attempts = DEFAULT_EXEC_ATTEMPTS, leaseWaitMs = DEFAULT_LEASE_WAIT_MS, now = Date.now } = options;
  if (!Number.isSafeInteger(attempts) || attempts < 1) {
    throw new LtxvfsError('LTXVFS_ERR_USAGE', `bad attempts ${String(attempts)}: need an integer >= 1`);
  }
  if (typeof leaseWaitMs !== 'number' || Number.isNaN(leaseWaitMs) || leaseWaitMs < 0) {
    throw new LtxvfsError('LTXVFS_ERR_USAGE', `bad lease wait ${String(leaseWaitMs)}: need ms >= 0`);
  }
  checkOneTransaction(sql);
  await takeLease(db, leaseWaitMs, now, options.sleep ?? ((ms) => sleep(ms)));
  const conflicts: string[] = [];
  for (let attempt = 1; ; attempt++) {
    const before = db.stats().txid;
    try {
      await db.exec(`BEGIN IMMEDIATE;\n${sql}\n;COMMIT;`);
    } catch (err) {
      await db.exec('ROLLBACK').catch(() => undefined);
      const lost = retryable(err);
      if (lost === undefined) throw err;
      conflicts.push(lost.message);
      if (attempt >= attempts) {
        throw new LtxvfsError(lost.code, `${lost.message} (gave up after ${attempts} attempt${attempts === 1 ? '' : 's'}, each after catching up to the newest TXID; nothing shipped)`, {
          key: lost.key, cause: err,
        });
      }
      // Catch up (and take the lease again if it was lost), then run the script on the new state.
      await db.exec('PRAGMA litevfs_acquire_lease');
      continue;
    }
    const txid = db.stats().txid;
    return { shipped: txid === before ? undefined : txid, txid, attempts: attempt, conflicts };
  }
}

/**
 * Refuse SQL that controls transactions itself (module doc, step 1).
 * @throws LtxvfsError `LTXVFS_ERR_USAGE` naming the statement (its position and text), or
 *   an unterminated comment or string (lib/sql/statements.ts).
 */
export function checkOneTransaction(sql: string): void {
  const control = findTransactionControl(sql);
  if (control !== undefined) {
    throw new LtxvfsError('LTXVFS_ERR_USAGE',
      `statement ${control.index} (${excerpt(control.text)}) controls transactions itself: exec runs the whole SQL as one ` +
      'transaction and ships it as one LTX file, so BEGIN, COMMIT, END, ROLLBACK, SAVEPOINT and RELEASE are refused; nothing was run or shipped');
  }
}

/**
 * `PRAGMA litevfs_acquire_lease` until it succeeds or `waitMs` has passed; back-off from
 * 10 ms doubling to 250 ms, each pause jittered (0.5–1×) so waiting writers spread out.
 */
async function takeLease(db: Database<DatabaseStats>, waitMs: number, now: () => number, pause: (ms: number) => Promise<void>): Promise<void> {
  const start = now();
  for (let delay = 10; ; delay = Math.min(250, delay * 2)) {
    try {
      await db.exec('PRAGMA litevfs_acquire_lease');
      return;
    } catch (err) {
      const held = ltxvfsErrorOf(err, 'LTXVFS_ERR_LEASE_HELD');
      if (held === undefined) throw err;
      const waited = now() - start;
      if (waited >= waitMs) {
        throw new LtxvfsError('LTXVFS_ERR_LEASE_HELD', `${held.message}; gave up after waiting ${waited} ms for it`, { key: held.key, cause: err });
      }
      await pause(Math.min(waitMs - waited, delay * (0.5 + Math.random() / 2)));
    }
  }
}

/**
 * The ltxvfs error with `code` behind `err`: its cause when `err` is the SQLite error it
 * surfaced as (whose `ltxvfsCode` names it, but whose `code` and message are SQLite's and
 * carry the wrapped SQL), else `err` itself.
 */
function ltxvfsErrorOf(err: unknown, code: 'LTXVFS_ERR_LEASE_HELD' | 'LTXVFS_ERR_CONFLICT' | 'LTXVFS_ERR_LEASE_LOST'): LtxvfsError | undefined {
  const cause = (err as { cause?: unknown } | undefined)?.cause;
  if (isLtxvfsError(cause, code) && cause.code === code) return cause;
  return isLtxvfsError(err, code) && err.code === code ? err : undefined;
}

/** The conflict or lost lease behind a failed commit: worth another attempt after catching up. */
function retryable(err: unknown): LtxvfsError | undefined {
  return ltxvfsErrorOf(err, 'LTXVFS_ERR_CONFLICT') ?? ltxvfsErrorOf(err, 'LTXVFS_ERR_LEASE_LOST');
}

function excerpt(text: string): string {
  const flat = text.replace(/\s+/g, ' ');
  return flat.length > 60 ? `${flat.slice(0, 60)}…` : flat;
}

/** `committed TXID …` or `no changes; …`: the line `ltxvfs exec` prints for an outcome. */
export function describeOutcome(outcome: ExecOutcome): string {
  const retried = outcome.conflicts.length === 0 ? '' : ` (after ${outcome.conflicts.length} conflict${outcome.conflicts.length === 1 ? '' : 's'} with other writers)`;
  return outcome.shipped === undefined
    ? `no changes; replica stays at TXID ${formatTXID(outcome.txid)}`
    : `committed TXID ${formatTXID(outcome.shipped)}${retried}`;
}
