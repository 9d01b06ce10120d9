/**
 * The blocking end of the page bridge (lib/bridge/protocol.ts), for the thread that runs
 * SQLite: a {@link SyncPageSource} and {@link SyncPageSink} whose every call returns at
 * once or blocks the thread on `Atomics.wait` until the fetch side answers — never
 * longer than `timeoutMs`.
 *
 * - Pages come from a {@link LocalPageCache} first: a hit sends no message. Then, for the
 *   worker engine with hydration, from the hydrated file read in place when it holds the
 *   version ({@link HydratedFile}, vfs/bridge/hydrated-file.ts): no message either.
 * - A read transaction starts on the version the client already holds when the server
 *   publishes that same version as current and fresh: no message either. Otherwise one
 *   `acquire` round trip, whose answer says which cached pages to drop.
 * - A miss sends one `read`; from the third consecutive page of a sequential run on, the
 *   answer also carries the following pages (those the fetch side has cached, and the
 *   first it has not, whose read it starts), so a scan crosses once per batch.
 * - Errors come back as data and are rethrown here as `LtxvfsError`s (code, key,
 *   message, `sqliteCode`); the VFS turns them into SQLite codes and keeps them as the
 *   `cause` the Database API reports.
 * - A request without an answer within `timeoutMs` fails with `LTXVFS_ERR_STORAGE`
 *   ("… timed out after N ms", SQLITE_IOERR_READ); the local cache is dropped and the
 *   next transaction asks for its version, since what the server did meanwhile is unknown.
 *   The deadline is kept on an injectable clock (`now`), so a test decides when time is up;
 *   `Atomics.wait` is given the time left on that clock.
 */
import { LtxvfsError } from '../../ltx/errors.js';
import type { PageVersion } from '../../lib/read/page-source.js';
import type { SqlArg } from '../../lib/connection/sql-surface.js';
import {
  CONTROL_BYTES, CTL, DEFAULT_BRIDGE_TIMEOUT_MS, FRESH_UNTIL_INDEX, STATE, STATUS, deserializeError, fromWire, toWire,
  type BridgeChannel, type BridgeRequest, type CallAnswer, type SerializedError, type VersionAnswer, type VersionInfo,
} from '../../lib/bridge/protocol.js';
import { LocalPageCache } from './local-page-cache.js';
import { HydratedFile, type HydratedFileSpec } from './hydrated-file.js';
import type { SyncPageSink, SyncPageSource } from '../core/database-file.js';

/** Options of {@link BridgeClient}. */
export interface BridgeClientOptions {
  /** Longest wait for one answer, ms (default 45,000: {@link DEFAULT_BRIDGE_TIMEOUT_MS}). */
  timeoutMs?: number;
  /** Bytes of the thread-local page cache (default 64 MiB; 0 sends every read across). */
  localCacheSizeBytes?: number;
  /** What messages call the database (e.g. the replica URL). */
  label?: string;
  /** Monotonic clock of the request deadlines and `blockedMs`, ms (default `performance.now()`; tests inject one). */
  now?: () => number;
  /**
   * Wall clock compared with the fetch side's fresh-until stamp (ms since the epoch,
   * written with its `Date.now()`), ms since the epoch (default `Date.now()`; tests inject one).
   */
  wallClock?: () => number;
  /**
   * The main thread's hydrated file, read in place while it holds the connection's version
   * (vfs/bridge/hydrated-file.ts). A file that cannot be opened is done without.
   */
  hydrated?: HydratedFileSpec;
}

/** Counters of a {@link BridgeClient}. */
export interface BridgeClientCounters {
  /** Messages sent to the fetch side (every kind). */
  messages: number;
  /** `read` requests (local cache misses). */
  reads: number;
  /** Pages received (a read answer may carry several). */
  pagesReceived: number;
  /** Read transactions started with an `acquire` round trip. */
  acquires: number;
  /** Read transactions started on the held version without a message. */
  fastAcquires: number;
  /** Requests that timed out. */
  timeouts: number;
  /** Time spent blocked waiting for answers, ms. */
  blockedMs: number;
  /** Pages read in place from the hydrated file (no message). */
  hydratedReads: number;
}

/** The default size of the thread-local page cache: 64 MiB (as the reader's own). */
export const DEFAULT_LOCAL_CACHE_BYTES = 64 * 1024 * 1024;

/** A version as the client holds it. */
interface ClientVersion extends PageVersion {
  readonly id: number;
}

const decoder = new TextDecoder();

/** The client end of one channel. Not thread-safe: one SQLite connection per client. */
export class BridgeClient implements SyncPageSource, SyncPageSink {
  readonly cache: LocalPageCache;
  readonly counters: BridgeClientCounters = { messages: 0, reads: 0, pagesReceived: 0, acquires: 0, fastAcquires: 0, timeouts: 0, blockedMs: 0, hydratedReads: 0 };
  readonly label: string;
  readonly #channel: BridgeChannel;
  readonly #ctl: Int32Array;
  readonly #control64: BigInt64Array;
  readonly #payload: Uint8Array;
  readonly #timeoutMs: number;
  readonly #now: () => number;
  readonly #wallClock: () => number;
  #seq = 0;
  /** The version the server holds for this client (the last acquired or committed). */
  #base: ClientVersion | undefined;
  /** Set after a timeout: the server's state is unknown until the next acquire. */
  #mustAsk = false;
  /** Last page number received, and how many misses in a row continued the one before. */
  #lastPgno = -2;
  #run = 0;
  #closed = false;
  readonly #hydrated: HydratedFile | undefined;
  /** The page {@link readPageInto} just found in no local place: {@link readPage} does not look again. */
  #missed = 0;
  /** A request of the transaction in progress crossed the bridge: its end is told (`ended`). */
  #crossed = false;

  constructor(channel: BridgeChannel, options: BridgeClientOptions = {}) {
    this.#channel = channel;
    this.#ctl = new Int32Array(channel.buffer, 0, CONTROL_BYTES / 4);
    this.#control64 = new BigInt64Array(channel.buffer, 0, CONTROL_BYTES / 8);
    this.#payload = new Uint8Array(channel.buffer, CONTROL_BYTES);
    this.#timeoutMs = options.timeoutMs ?? DEFAULT_BRIDGE_TIMEOUT_MS;
    this.cache = new LocalPageCache(options.localCacheSizeBytes ?? DEFAULT_LOCAL_CACHE_BYTES);
    this.label = options.label ?? 'database';
    this.#now = options.now ?? (() => performance.now());
    this.#wallClock = options.wallClock ?? Date.now;
    this.#hydrated = options.hydrated === undefined ? undefined : openHydrated(options.hydrated);
  }

  /** See {@link SyncPageSource.acquire}: the held version when the server says it is still current. */
  acquire(): PageVersion {
    const base = this.#base;
    if (base !== undefined && !this.#mustAsk && Atomics.load(this.#ctl, CTL.PUBLISHED) === base.id
      && this.#wallClock() < Number(Atomics.load(this.#control64, FRESH_UNTIL_INDEX))) {
      this.counters.fastAcquires++;
      return base;
    }
    this.counters.acquires++;
    this.#crossed = true;
    const answer = this.#json<VersionAnswer>({ op: 'acquire', seq: 0 });
    this.#mustAsk = false;
    return this.#moveTo(answer);
  }

  /**
   * The server keeps the version pinned until the next acquire. A transaction that sent a
   * request tells the server it ended (`ended`, no answer), so that the reader stops its
   * read-ahead and lets go of idle receive buffers (lib/bridge/page-server.ts); one served
   * from this thread's cache sends nothing.
   */
  release(_version: PageVersion): void {
    if (!this.#crossed || this.#closed) return;
    this.#crossed = false;
    this.#post({ op: 'ended' });
  }

  /** See {@link SyncPageSource.readPage}. */
  readPage(version: PageVersion, pgno: number): Uint8Array {
    const base = this.#base;
    if (version !== base) {
      throw new LtxvfsError('LTXVFS_ERR_USAGE', `${this.label}: read of page ${pgno} from a version this connection does not hold`);
    }
    if (this.#missed !== pgno) {
      const hit = this.cache.get(pgno);
      if (hit !== undefined) return hit;
    }
    this.#missed = 0;
    this.counters.reads++;
    this.#crossed = true;
    // Batches from the third consecutive page on: a B-tree descent that happens to step
    // to the next page (a point lookup reading page 2 after page 1) is not a scan.
    this.#run = pgno === this.#lastPgno + 1 ? this.#run + 1 : 0;
    const sequential = this.#run >= 2;
    const pageSize = base.pageSize;
    return this.#exchange({ op: 'read', seq: 0, versionId: base.id, pgno, sequential }, (length, count) => {
      if (length !== count * pageSize || count < 1) {
        throw new LtxvfsError('LTXVFS_ERR_CORRUPT', `${this.label}: read of page ${pgno}: answer of ${length} bytes for ${count} pages of ${pageSize}`);
      }
      let first: Uint8Array | undefined;
      for (let i = 0; i < count; i++) {
        const page = this.#payload.slice(i * pageSize, (i + 1) * pageSize);
        this.cache.set(pgno + i, page);
        first ??= page;
      }
      this.counters.pagesReceived += count;
      this.#lastPgno = pgno + count - 1;
      return first!;
    });
  }

  /**
   * See {@link SyncPageSource.readPageInto}: page `pgno` of `version` copied into `dst` from
   * the local cache, else read in place from the hydrated file; false (and no message) when
   * neither has it — then {@link readPage} asks the bridge.
   */
  readPageInto(version: PageVersion, pgno: number, dst: Uint8Array): boolean {
    if (version !== this.#base) return false;
    const hit = this.cache.get(pgno);
    if (hit !== undefined) {
      dst.set(hit);
      return true;
    }
    if (this.#hydrated?.readInto(version, pgno, dst) === true) {
      this.counters.hydratedReads++;
      return true;
    }
    this.#missed = pgno;
    return false;
  }

  /** See {@link SyncPageSink.reserve} (blocks while the lease is taken). */
  reserve(): void {
    this.#crossed = true;
    this.#json({ op: 'reserve', seq: 0 });
  }

  /**
   * See {@link SyncPageSink.unreserve}. Blocks for the answer: a posted message without one
   * could be overtaken by another connection's `reserve` on its own port, which then met
   * "another connection of this process is writing" after this one's COMMIT had returned
   * (seen in a clean-clone CI run of the sql.js engine).
   */
  unreserve(): void {
    if (this.#closed) return; // closing the server ends the reservation too
    this.#json({ op: 'unreserve', seq: 0 });
  }

  /** See {@link SyncPageSink.commit}: blocks until the transaction is durable in the replica (or failed). */
  commit(base: PageVersion, pages: ReadonlyMap<number, Uint8Array>, commit: number, pageSize: number): PageVersion {
    if (base !== this.#base) throw new LtxvfsError('LTXVFS_ERR_USAGE', `${this.label}: commit on a version this connection does not hold`);
    const answer = this.#json<VersionAnswer>({ op: 'commit', seq: 0, versionId: this.#base.id, pages: [...pages], commit, pageSize });
    return this.#moveTo(answer);
  }

  /**
   * A PRAGMA answered by the fetch side: text (one row), `null` (no row), or undefined
   * when the connection does not handle `name` (SQLite does).
   */
  pragma(name: string, value: string | null, inTransaction: boolean): string | null | undefined {
    const answer = this.#json<CallAnswer>({ op: 'pragma', seq: 0, name, value, inTransaction });
    if (answer.unhandled === true) return undefined;
    return answer.result === null ? null : String(answer.result);
  }

  /** Call one of the connection's SQL functions on the fetch side. */
  callFunction(name: string, args: readonly SqlArg[], inTransaction: boolean): SqlArg {
    const answer = this.#json<CallAnswer>({ op: 'function', seq: 0, name, args: args.map(toWire), inTransaction });
    return fromWire(answer.result) as SqlArg;
  }

  /** The fetch side's counters for this connection (the reader's `stats()`; one round trip). */
  stats<T>(): T {
    return this.#json<T>({ op: 'stats', seq: 0 });
  }

  /**
   * Block until the fetch side has verified every file it served (lib/read/verifier.ts, at
   * most `timeoutMs`): its integrity failure (`LTXVFS_ERR_CHECKSUM` naming the file), or
   * undefined when there is none. @throws LtxvfsError `LTXVFS_ERR_STORAGE` on timeout.
   */
  verified(): Error | undefined {
    const failure = this.#json<SerializedError | null>({ op: 'verified', seq: 0 });
    return failure === null ? undefined : deserializeError(failure);
  }

  /** Tell the fetch side the connection is gone (it releases the version it holds). Idempotent. */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#post({ op: 'close' });
    this.cache.clear();
    this.#hydrated?.close();
  }

  #moveTo(answer: VersionAnswer): ClientVersion {
    const { version, evict } = answer;
    if (evict === 'all') this.cache.clear();
    else for (const pgno of evict) this.cache.delete(pgno);
    this.#lastPgno = -2;
    this.#run = 0;
    if (this.#base?.id !== version.id) this.#base = clientVersion(version);
    return this.#base!;
  }

  #post(req: BridgeRequest): void {
    this.counters.messages++;
    this.#channel.port.postMessage(req);
  }

  /** A request answered with JSON. */
  #json<T>(req: BridgeRequest): T {
    return this.#exchange(req, (length) => JSON.parse(decoder.decode(this.#payload.subarray(0, length))) as T);
  }

  /**
   * Send `req` with a new sequence number and block until its answer (then `consume` the
   * payload) or the timeout. @throws the error the fetch side answered, or the timeout.
   */
  #exchange<T>(req: BridgeRequest, consume: (length: number, count: number) => T): T {
    if (this.#closed) throw new LtxvfsError('LTXVFS_ERR_CLOSED', `${this.label}: the page bridge is closed`);
    const ctl = this.#ctl;
    const seq = (this.#seq = (this.#seq + 1) | 0);
    Atomics.store(ctl, CTL.REQ_SEQ, seq);
    Atomics.store(ctl, CTL.STATE, STATE.WAITING);
    this.#post({ ...req, seq } as BridgeRequest);
    const started = this.#now();
    const deadline = started + this.#timeoutMs;
    try {
      for (;;) {
        const state = Atomics.load(ctl, CTL.STATE);
        if (state === STATE.DONE) break;
        if (state === STATE.WRITING) {
          // The server is copying the answer in: a bounded memcpy.
          Atomics.wait(ctl, CTL.STATE, STATE.WRITING, 5);
          continue;
        }
        const remaining = deadline - this.#now();
        if (remaining <= 0) {
          if (Atomics.compareExchange(ctl, CTL.STATE, STATE.WAITING, STATE.IDLE) !== STATE.WAITING) continue;
          throw this.#timedOut(req.op);
        }
        Atomics.wait(ctl, CTL.STATE, STATE.WAITING, remaining);
      }
    } finally {
      this.counters.blockedMs += this.#now() - started;
    }
    try {
      const length = ctl[CTL.LENGTH];
      if (ctl[CTL.STATUS] === STATUS.ERROR) {
        const serialized = JSON.parse(decoder.decode(this.#payload.subarray(0, length))) as SerializedError;
        throw deserializeError(serialized);
      }
      return consume(length, ctl[CTL.COUNT]);
    } finally {
      Atomics.store(ctl, CTL.STATE, STATE.IDLE);
    }
  }

  #timedOut(op: string): LtxvfsError {
    this.counters.timeouts++;
    this.#mustAsk = true;
    this.cache.clear();
    return new LtxvfsError('LTXVFS_ERR_STORAGE',
      `${this.label}: page bridge: ${op} timed out after ${this.#timeoutMs} ms (the fetch thread did not answer)`, { key: this.label });
  }
}

/** The hydrated file opened in this thread, or undefined when it cannot be (reads then cross the bridge). */
function openHydrated(spec: HydratedFileSpec): HydratedFile | undefined {
  try {
    return new HydratedFile(spec);
  } catch {
    return undefined;
  }
}

function clientVersion(v: VersionInfo): ClientVersion {
  return { id: v.id, txid: v.txid, pageSize: v.pageSize, commit: v.commit, timestamp: v.timestamp };
}
