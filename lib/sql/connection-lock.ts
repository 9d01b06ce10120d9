/**
 * How the async flows of a process share one SQLite connection (issue 14 item 1): a
 * transaction holds the connection exclusively while its callback runs, every other call
 * goes to the engine in call order.
 *
 * {@link ConnectionLock}: `shared` calls are handed to the engine at once (the engine runs
 * them one at a time in the order it got them), unless an `exclusive` holder (a
 * transaction) is running or waiting: then they wait for it, in call order. An exclusive
 * holder starts once every call made before it has been handed over.
 *
 * {@link transactionLeftOpen} decides, with the statement splitter of
 * lib/sql/statements.ts, whether a script run outside `transaction()` would leave a
 * transaction open after it returns: the case where another flow's statements would run
 * inside it.
 */
import type { Now } from './now.js';
import { splitStatements, TRANSACTION_CONTROL, type SqlStatement } from './statements.js';

/** One level of the lock: the connection's, or a transaction's for the calls inside it. */
export class ConnectionLock {
  /** Settles when the last exclusive holder requested so far has finished. */
  #barrier: Promise<void> = Promise.resolve();
  /** Exclusive holders not finished and calls waiting behind them. */
  #waiting = 0;

  /** No exclusive holder running or waiting: a `shared` call is handed over at once. */
  get idle(): boolean {
    return this.#waiting === 0;
  }

  /** Hand `op` to the engine now (then its answer is returned as it is), or after the exclusive holders requested before it. */
  shared<T>(op: () => Promise<T>): Promise<T>;
  shared<T>(op: () => Now<T>): Now<T>;
  shared<T>(op: () => Now<T>): Now<T> {
    if (this.#waiting === 0) return op();
    this.#waiting++;
    return this.#barrier.then(() => {
      this.#waiting--;
      return op();
    });
  }

  /** Run `body` alone: after every call made before it is handed over, and before any made after it. */
  exclusive<T>(body: () => Promise<T>): Promise<T> {
    this.#waiting++;
    const run = this.#barrier.then(body);
    const release = (): void => {
      this.#waiting--;
    };
    this.#barrier = run.then(release, release);
    return run;
  }
}

/** First words of statements that never leave a transaction open by themselves. */
const CLOSERS = new Set(['COMMIT', 'END']);

/**
 * The statement that opens a transaction `sql` leaves open when it runs in autocommit
 * mode, or undefined when every transaction it begins it also ends (or it has no
 * transaction control). Follows lib/sql/statements.ts's split: BEGIN opens; COMMIT, END
 * and ROLLBACK (not ROLLBACK TO) close; SAVEPOINT outside a transaction opens one that
 * the RELEASE of that savepoint closes.
 * @throws LtxvfsError `LTXVFS_ERR_USAGE` as `splitStatements` (an unterminated string or comment).
 */
export function transactionLeftOpen(sql: string): SqlStatement | undefined {
  let opener: SqlStatement | undefined;
  /** Savepoint names, outermost first, while a transaction is open. */
  let savepoints: string[] = [];
  let bySavepoint = false;
  for (const s of splitStatements(sql)) {
    if (!TRANSACTION_CONTROL.has(s.firstWord)) continue;
    const words = s.text.split(/\s+/).map((w) => w.toUpperCase());
    if (s.firstWord === 'BEGIN') {
      opener ??= s;
    } else if (CLOSERS.has(s.firstWord) || (s.firstWord === 'ROLLBACK' && !words.includes('TO'))) {
      opener = undefined;
      savepoints = [];
      bySavepoint = false;
    } else if (s.firstWord === 'SAVEPOINT') {
      if (opener === undefined) {
        opener = s;
        bySavepoint = true;
      }
      savepoints.push(words[words.length - 1]);
    } else if (s.firstWord === 'RELEASE') {
      const at = savepoints.lastIndexOf(words[words.length - 1]);
      if (at >= 0) savepoints = savepoints.slice(0, at);
      if (bySavepoint && savepoints.length === 0) {
        opener = undefined;
        bySavepoint = false;
      }
    }
  }
  return opener;
}

/** The first statement of `sql` that controls transactions, or undefined (cached per SQL text: this runs on every call). */
export function transactionControlOf(sql: string): SqlStatement | undefined {
  let hit = controlCache.get(sql);
  if (hit === undefined) {
    hit = splitStatements(sql).find((s) => TRANSACTION_CONTROL.has(s.firstWord)) ?? null;
    if (controlCache.size >= CONTROL_CACHE_SIZE) controlCache.clear();
    controlCache.set(sql, hit);
  }
  return hit ?? undefined;
}

const CONTROL_CACHE_SIZE = 512;
const controlCache = new Map<string, SqlStatement | null>();
