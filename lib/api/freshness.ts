/**
 * Freshness a user can see and wait for, on a database `openDatabase` returns (either
 * engine: the replica's reader and poller live in this thread for both): `sync()` polls
 * now, `waitForTxid()` waits until the reader has applied a TXID ("read your own write
 * from another process"), `flush()` waits for write-behind uploads, and
 * `on('version' | 'stale' | 'fresh' | 'corrupt' | 'upload-failed', …)` forwards
 * the shared reader's events for as long as the database is open (lib/read/poller.ts says
 * when each fires).
 */
import { EventEmitter } from 'node:events';
import { LtxvfsError } from '../../ltx/errors.js';
import { formatTXID } from '../../ltx/filename.js';
import type { Database, ReadPoolStats } from '../sql/database.js';
import type { ReplicaReader } from '../read/replica-reader.js';

export type { DatabaseReplicaStats } from '../connection/connect.js';
import type { DatabaseReplicaStats } from '../connection/connect.js';


/** What a `version` or `fresh` event tells: the reader's newest version. */
export interface ReplicaPosition {
  /** TXID of the newest version the reader applied. */
  txid: number;
  /** Timestamp (ms since the epoch) of the newest applied LTX file; 0 for an empty replica. */
  timestamp: number;
}

/** Events of a replica database, with their listener arguments. */
export interface ReplicaDatabaseEvents {
  /** A newer version became current (a poll applied files, or this process committed). */
  version: [position: ReplicaPosition];
  /** The replica passed its staleness bound: new read transactions fail with `LTXVFS_ERR_STALE` (this error). */
  stale: [error: LtxvfsError];
  /** A poll brought a stale replica back within the bound: read transactions run again. */
  fresh: [position: ReplicaPosition];
  /** A file failed its checksum, or the newest file applied vanished: every later transaction fails with this error. */
  corrupt: [error: LtxvfsError];
  /**
   * With `writeBehind`: an upload failed for good, so the acknowledged commits this error
   * names are not in the replica; every later read, write, `flush()` and `close()` fail
   * with it (the reader is poisoned, so `corrupt` follows), and the lease is given back.
   */
  'upload-failed': [error: LtxvfsError];
}

/** Options of {@link ReplicaFreshness.waitForTxid}. */
export interface WaitForTxidOptions {
  /**
   * ms to wait after the first poll before rejecting with `LTXVFS_ERR_TIMEOUT`. Default
   * 30,000. 0: poll once and answer (resolve if the TXID is applied, else reject).
   */
  timeoutMs?: number;
}

/** The freshness API of a replica database (see the module comment). */
export interface ReplicaFreshness {
  /**
   * Poll the replica now (after a poll already running, so the answer is at least as new
   * as the call) and resolve with the TXID the reader has applied.
   * @throws LtxvfsError the poll's error (`LTXVFS_ERR_STORAGE`, `LTXVFS_ERR_NOT_FOUND`, …);
   *   the reader's integrity failure (`LTXVFS_ERR_CHECKSUM`); `LTXVFS_ERR_CLOSED`.
   */
  sync(): Promise<number>;
  /**
   * Resolve with the reader's TXID once it is ≥ `txid` (polling at the poll interval, or
   * every second when polling is off; a commit of this process counts at once). New
   * transactions of this database see it, unless the connection is fixed at a past state.
   * @throws LtxvfsError `LTXVFS_ERR_USAGE` (`txid` not a non-negative safe integer, bad
   *   `timeoutMs`); `LTXVFS_ERR_TIMEOUT` naming both TXIDs when `timeoutMs` ran out;
   *   the reader's integrity failure; `LTXVFS_ERR_CLOSED`.
   */
  waitForTxid(txid: number, options?: WaitForTxidOptions): Promise<number>;
  /**
   * Resolve once every commit this process acknowledged before the call is in the replica.
   * With `writeBehind` (lib/write/write-behind.ts) commits are acknowledged when staged and
   * uploaded behind; without it a commit returns only once uploaded, so this resolves at
   * once. `close()` flushes too.
   * @returns the TXID this database's reader is at.
   * @throws LtxvfsError the upload failure that kept an acknowledged commit out of the
   *   replica (its message names the TXIDs); `LTXVFS_ERR_CLOSED`.
   */
  flush(): Promise<number>;
  /** Listen to an event of the replica (until the database closes). */
  on<E extends keyof ReplicaDatabaseEvents>(event: E, listener: (...args: ReplicaDatabaseEvents[E]) => void): this;
  /** Listen once. */
  once<E extends keyof ReplicaDatabaseEvents>(event: E, listener: (...args: ReplicaDatabaseEvents[E]) => void): this;
  /** Stop listening. */
  off<E extends keyof ReplicaDatabaseEvents>(event: E, listener: (...args: ReplicaDatabaseEvents[E]) => void): this;
}

/** What `openDatabase` returns: a {@link Database} with the replica's stats (and its read pool's: lib/sql/read-pool.ts) and {@link ReplicaFreshness}. */
export type ReplicaDatabase = Database<DatabaseReplicaStats & ReadPoolStats> & ReplicaFreshness;

/** Default of {@link WaitForTxidOptions.timeoutMs}. */
export const DEFAULT_WAIT_TIMEOUT_MS = 30_000;

/** Poll period of `waitForTxid` when the reader does not poll (`pollIntervalMs: 0`), ms. */
const IDLE_POLL_MS = 1000;

/** What the freshness API needs of the replica's writer (lib/write/writer.ts `ReplicaWriter`). */
export interface ShippingWriter {
  /** Resolves with the reader's TXID once every commit acknowledged before the call is in the replica. */
  flush(): Promise<number>;
  /** Listen for the write-behind upload failure; returns the unsubscribe. */
  onUploadFailed(listener: (error: LtxvfsError) => void): () => void;
}

/**
 * Give `db` the {@link ReplicaFreshness} API over `reader`, with `writerOf` giving the
 * replica's writer in this process, if any (lib/write/writer.ts `writerOf`). The reader's listeners are removed when
 * `db` closes (the reader is shared, and outlives it).
 */
export function withFreshness(db: Database<DatabaseReplicaStats & ReadPoolStats>, reader: ReplicaReader, writerOf: () => ShippingWriter | undefined): ReplicaDatabase {
  const events = new EventEmitter<ReplicaDatabaseEvents>();
  const position = (): ReplicaPosition => ({ txid: reader.current.txid, timestamp: reader.current.timestamp });
  const forward = {
    version: () => events.emit('version', position()),
    fresh: () => events.emit('fresh', position()),
    stale: (err: LtxvfsError) => events.emit('stale', err),
    corrupt: (err: LtxvfsError) => events.emit('corrupt', err),
  };
  reader.on('version', forward.version);
  reader.on('fresh', forward.fresh);
  reader.on('stale', forward.stale);
  reader.on('corrupt', forward.corrupt);
  const offUploadFailed = writerOf()?.onUploadFailed((err) => events.emit('upload-failed', err));
  const close = db.close;
  const open = (): void => {
    if (db.closed) throw new LtxvfsError('LTXVFS_ERR_CLOSED', 'the database is closed');
  };
  const api: ReplicaFreshness & { close(): Promise<void> } = {
    sync: async () => {
      open();
      return reader.poller.sync();
    },
    waitForTxid: async (txid, options = {}) => {
      open();
      return waitForTxid(reader, txid, options.timeoutMs ?? DEFAULT_WAIT_TIMEOUT_MS);
    },
    flush: async () => {
      open();
      // The replica's writer, whichever connection of this process made it (a read-only one too).
      return writerOf()?.flush() ?? reader.current.txid;
    },
    on(event, listener) {
      events.on(event, listener as never);
      return this;
    },
    once(event, listener) {
      events.once(event, listener as never);
      return this;
    },
    off(event, listener) {
      events.off(event, listener as never);
      return this;
    },
    close: () => {
      reader.off('version', forward.version);
      reader.off('fresh', forward.fresh);
      reader.off('stale', forward.stale);
      reader.off('corrupt', forward.corrupt);
      offUploadFailed?.();
      events.removeAllListeners();
      return close.call(db);
    },
  };
  // Methods, not enumerable data: the object reads as the Database it is.
  for (const [name, value] of Object.entries(api)) {
    const fn = value as (...args: unknown[]) => unknown;
    Object.defineProperty(db, name, {
      value: name === 'on' || name === 'once' || name === 'off' ? (...args: unknown[]) => { fn.apply(db, args); return db; } : fn,
      writable: true,
      configurable: true,
    });
  }
  return db as ReplicaDatabase;
}

/**
 * Resolve with `reader`'s TXID once it is ≥ `txid`: poll now, then wait for a `version`
 * event or the next poll, for at most `timeoutMs` after the first poll.
 * @throws LtxvfsError as {@link ReplicaFreshness.waitForTxid}.
 */
export async function waitForTxid(reader: ReplicaReader, txid: number, timeoutMs: number): Promise<number> {
  const url = reader.client.url;
  if (!Number.isSafeInteger(txid) || txid < 0) {
    throw new LtxvfsError('LTXVFS_ERR_USAGE', `waitForTxid: TXID ${String(txid)} is not a non-negative safe integer (${url})`, { key: url });
  }
  if (!Number.isFinite(timeoutMs) || timeoutMs < 0) {
    throw new LtxvfsError('LTXVFS_ERR_USAGE', `waitForTxid: timeoutMs ${String(timeoutMs)} is not a non-negative number of ms (${url})`, { key: url });
  }
  const check = (): number | undefined => {
    const failure = reader.integrityFailure;
    if (failure !== undefined) throw failure;
    return reader.current.txid >= txid ? reader.current.txid : undefined;
  };
  const reached = check();
  if (reached !== undefined) return reached;
  await reader.poller.pollNow();
  const polled = check();
  if (polled !== undefined) return polled;
  const lastError = (): string => {
    const e = reader.stats().lastPollError;
    return e === undefined ? '' : `; the last poll failed: ${e}`;
  };
  const timeout = (): LtxvfsError => new LtxvfsError('LTXVFS_ERR_TIMEOUT',
    `${url}: TXID ${formatTXID(txid)} not applied within ${timeoutMs} ms: this reader is at TXID ${formatTXID(reader.current.txid)}${lastError()}`,
    { key: url });
  if (timeoutMs === 0) throw timeout();
  const period = reader.poller.intervalMs > 0 ? reader.poller.intervalMs : IDLE_POLL_MS;
  return new Promise<number>((resolve, reject) => {
    let next: NodeJS.Timeout | undefined;
    let done = false;
    const finish = (outcome: () => number): void => {
      done = true;
      clearTimeout(deadline);
      clearTimeout(next);
      reader.off('version', onChange);
      reader.off('corrupt', onChange);
      try {
        resolve(outcome());
      } catch (err) {
        reject(err);
      }
    };
    const onChange = (): void => {
      try {
        const r = check();
        if (r !== undefined) finish(() => r);
      } catch (err) {
        finish(() => { throw err; });
      }
    };
    const deadline = setTimeout(() => finish(() => { throw timeout(); }), timeoutMs);
    const poll = (): void => {
      void reader.poller.pollNow().then(() => {
        onChange();
        if (!done) next = setTimeout(poll, period);
      });
    };
    reader.on('version', onChange);
    reader.on('corrupt', onChange);
    next = setTimeout(poll, period);
  });
}
