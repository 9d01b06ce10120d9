/**
 * A `Database.transaction()` driven from outside its callback, for query builders whose
 * drivers begin, use and end a transaction in separate calls (lib/kysely, lib/drizzle).
 *
 * A Database refuses a bare `BEGIN` (one flow's open transaction would take in every
 * other flow's statements), and a call joins a transaction only when made inside its
 * callback. So the callback stays open and runs the statements handed to
 * {@link TransactionRun.run}, one after another, inside the transaction, until
 * {@link TransactionRun.end} commits (the callback returns) or rolls back (it throws).
 */

/** Thrown inside the callback to roll the transaction back; never reaches a caller. */
const ROLLBACK = Symbol('ltxvfs rollback');

type Job = () => Promise<void>;
type Item = Job | { commit: boolean };

/** One running transaction whose statements arrive from outside its callback. @internal */
export class TransactionRun {
  readonly #items: Item[] = [];
  #wake: (() => void) | undefined;
  readonly #done: Promise<void>;

  /**
   * `start(body)` begins the transaction around `body` (e.g. `body => db.transaction(body, { mode })`,
   * or a savepoint: `body => outer.run(() => db.transaction(body))`).
   */
  private constructor(start: (body: () => Promise<void>) => Promise<void>, started: () => void) {
    this.#done = start(async () => {
      started();
      for (;;) {
        const next = await this.#next();
        if (typeof next !== 'function') {
          if (next.commit) return;
          throw ROLLBACK;
        }
        await next();
      }
    });
  }

  /** Begin: resolves once the transaction has begun (its callback runs); rejects with BEGIN's error. */
  static async begin(start: (body: () => Promise<void>) => Promise<void>): Promise<TransactionRun> {
    let run: TransactionRun | undefined;
    await new Promise<void>((resolve, reject) => {
      run = new TransactionRun(start, resolve);
      run.#done.catch(reject);
    });
    return run!;
  }

  /** Run `op` inside the transaction, after the statements handed over before it. */
  run<T>(op: () => Promise<T>): Promise<T> {
    return new Promise<T>((resolve, reject) => this.#push(() => op().then(resolve, reject)));
  }

  /** Commit (`true`) or roll back after the statements handed over; rejects with COMMIT's error (then it rolled back). */
  end(commit: boolean): Promise<void> {
    this.#push({ commit });
    return this.#done.catch((err: unknown) => {
      if (err !== ROLLBACK) throw err;
    });
  }

  #push(item: Item): void {
    this.#items.push(item);
    this.#wake?.();
  }

  async #next(): Promise<Item> {
    while (this.#items.length === 0) await new Promise<void>((resolve) => (this.#wake = resolve));
    this.#wake = undefined;
    return this.#items.shift()!;
  }
}
