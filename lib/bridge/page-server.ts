/**
 * The fetch side of the page bridge (lib/bridge/protocol.ts): answers one channel's
 * requests from a {@link ServedConnection} — in practice a connection's view of a shared
 * ReplicaReader (lib/bridge/served-connection.ts), on whichever thread holds the reader
 * (the main thread for the worker engine, a fetch worker for the sql.js adapter).
 *
 * Per channel it pins exactly one version, the client's current one (the last acquired
 * or committed), from one `acquire` to the next: between transactions the client may
 * start a new one on it without asking (see "Versions without a round trip"), so its pin
 * must outlive the transaction. `stats().pinnedVersions` therefore counts one version per
 * open bridged connection. Between transactions that pin is parked: the client says when a
 * transaction that crossed the bridge ended (`ended`), and the reader then counts the pin
 * as no open transaction (lib/read/replica-reader.ts `park`), so read-ahead stops and idle
 * receive buffers go as they do at the end of an in-process transaction. The next request
 * that reads, pins or writes counts it again.
 *
 * Requests are answered as they complete (a page already cached answers at once, a miss
 * when its fetch settles). Only the answer to the request the client is still waiting
 * for is ever written (the protocol's compare-and-swap), so a late answer is dropped.
 *
 * What a channel serves, {@link ServedConnection}, is declared in
 * lib/bridge/served-connection.ts; writing answers into the shared buffer (the
 * compare-and-swap, sizes, errors) is lib/bridge/reply-slot.ts; the wire format
 * lib/bridge/protocol.ts. This module holds the dispatch and the version pin.
 */
import { LtxvfsError } from '../../ltx/errors.js';
import type { PageSink, PageVersion } from '../read/page-source.js';
import type { SqlArg } from '../connection/sql-surface.js';
import {
  CONTROL_BYTES, CTL, FRESH_UNTIL_INDEX, FRESH_WINDOW_MS, STATUS, fromWire, serializeError, toWire,
  type BridgeChannel, type BridgeRequest, type CallAnswer, type Evictions, type VersionAnswer, type VersionInfo,
} from './protocol.js';
import { ReplySlot } from './reply-slot.js';
import type { ServedConnection } from './served-connection.js';

export type { ServedConnection } from './served-connection.js';

/** Requests a {@link ChannelServer} has answered, by kind. */
export interface ChannelServerCounters {
  /** Messages received (every request). */
  requests: number;
  /** `read` requests. */
  reads: number;
  /** Pages sent (a read answer may carry several). */
  pagesSent: number;
  /** `acquire` requests. */
  acquires: number;
  /** Answers dropped because the client no longer waited for them (timed out). */
  dropped: number;
  /** `ended` messages: transactions of the client that ended after sending a request. */
  ended: number;
}

/**
 * Default most pages in one read answer: 256, what the default 1 MiB payload holds of 4 KiB
 * pages. A scan's answers stop at the first page not cached anyway. With 32, a full scan of
 * the bench's 256 MiB database on the worker engine (directory replica) crossed the bridge
 * 2,660 times and took 2.70–2.90 s; with 256 it crossed 760 times and took 2.39–2.71 s (five
 * alternating pairs, 2026-12-07). A 1,000-key range query took the same time either way.
 */
export const DEFAULT_MAX_PAGES_PER_READ = 256;

/** Options of {@link ChannelServer}. */
export interface ChannelServerOptions {
  /** Most pages one read answer carries (default {@link DEFAULT_MAX_PAGES_PER_READ}; the buffer's capacity bounds it too). */
  maxPagesPerRead?: number;
  /** Called once after the channel closed (by a `close` request or the port closing). */
  onClosed?: () => void;
}

/** Ids of versions, process-wide: what crosses the bridge instead of the object. */
const versionIds = new WeakMap<PageVersion, number>();
let nextVersionId = 1;

function idOf(version: PageVersion): number {
  let id = versionIds.get(version);
  if (id === undefined) {
    id = nextVersionId++;
    versionIds.set(version, id);
  }
  return id;
}

/** Serves one channel. Create it with the server's end of the channel. */
export class ChannelServer {
  readonly counters: ChannelServerCounters = { requests: 0, reads: 0, pagesSent: 0, acquires: 0, dropped: 0, ended: 0 };
  readonly #channel: BridgeChannel;
  readonly #conn: ServedConnection;
  readonly #ctl: Int32Array;
  readonly #control64: BigInt64Array;
  /** Where answers go (reply-slot.ts). */
  readonly #slot: ReplySlot;
  readonly #maxPages: number;
  readonly #onClosed: (() => void) | undefined;
  readonly #unsubscribe: (() => void) | undefined;
  /** The client's current version, pinned; guarded by the request order of one client. */
  #base: PageVersion | undefined;
  #reserved = false;
  /** The pin of {@link #base} is parked: the client has no transaction open that crossed the bridge. */
  #parked = false;
  #closed: Promise<void> | undefined;

  constructor(channel: BridgeChannel, conn: ServedConnection, options: ChannelServerOptions = {}) {
    this.#channel = channel;
    this.#conn = conn;
    this.#slot = new ReplySlot(channel.buffer, () => this.counters.dropped++);
    this.#ctl = this.#slot.ctl;
    this.#control64 = new BigInt64Array(channel.buffer, 0, CONTROL_BYTES / 8);
    this.#maxPages = options.maxPagesPerRead ?? DEFAULT_MAX_PAGES_PER_READ;
    this.#onClosed = options.onClosed;
    channel.port.on('message', this.#onMessage);
    // Whoever closes on purpose awaits close() and gets its error (a write-behind upload
    // failure: lib/connection/connect.ts `release`); these starts must not leave it unhandled.
    channel.port.on('close', () => void this.close().catch(() => undefined));
    this.#unsubscribe = conn.onChange?.(() => this.#publish());
    this.#publish();
  }

  /** The version the client holds now (for tests and stats). */
  get base(): PageVersion | undefined {
    return this.#base;
  }

  /** Stop serving: release the pinned version and the write reservation (idempotent). */
  close(): Promise<void> {
    this.#closed ??= (async () => {
      this.#channel.port.off?.('message', this.#onMessage);
      this.#unsubscribe?.();
      Atomics.store(this.#ctl, CTL.PUBLISHED, 0);
      if (this.#reserved) {
        this.#reserved = false;
        this.#conn.sink?.unreserve();
      }
      if (this.#base !== undefined) {
        this.#resume();
        const base = this.#base;
        this.#base = undefined;
        this.#conn.release(base);
      }
      try {
        await this.#conn.close?.();
      } finally {
        this.#channel.port.close?.();
        this.#onClosed?.();
      }
    })();
    return this.#closed;
  }

  readonly #onMessage = (value: unknown): void => {
    const req = value as BridgeRequest;
    this.counters.requests++;
    switch (req.op) {
      case 'acquire':
      case 'read':
      case 'reserve':
      case 'commit':
        this.#resume(); // a transaction reads, pins or writes
        break;
      case 'ended':
        this.counters.ended++;
        if (this.#base !== undefined && !this.#parked) {
          this.#parked = true;
          this.#conn.transactionOpen?.(false);
        }
        return;
      default:
        break;
    }
    switch (req.op) {
      case 'acquire':
        this.counters.acquires++;
        this.#slot.reply(req.seq, () => this.#acquire());
        break;
      case 'read':
        this.counters.reads++;
        this.#read(req.seq, req.versionId, req.pgno, req.sequential);
        break;
      case 'reserve':
        this.#slot.reply(req.seq, () => this.#reserve());
        break;
      case 'unreserve':
        // Answered: another connection's reserve arrives on its own port, and must not overtake this.
        this.#slot.reply(req.seq, async () => {
          if (this.#reserved) {
            this.#reserved = false;
            this.#conn.sink?.unreserve();
          }
          return null;
        });
        break;
      case 'commit':
        this.#slot.reply(req.seq, () => this.#commit(req.versionId, req.pages, req.commit, req.pageSize));
        break;
      case 'pragma':
        this.#slot.reply(req.seq, () => this.#call(req.inTransaction, async () => this.#conn.pragma?.(req.name, req.value)));
        break;
      case 'function':
        this.#slot.reply(req.seq, () => this.#call(req.inTransaction, () => this.#function(req.name, req.args)));
        break;
      case 'stats':
        this.#slot.reply(req.seq, () => this.#conn.stats?.() ?? null);
        break;
      case 'verified':
        this.#slot.reply(req.seq, async () => {
          const failure = await this.#conn.verified?.();
          return failure === undefined ? null : serializeError(failure);
        });
        break;
      case 'close':
        void this.close().catch(() => undefined);
        break;
      default:
        break;
    }
  };

  /** The parked pin counts as an open transaction again. */
  #resume(): void {
    if (!this.#parked) return;
    this.#parked = false;
    this.#conn.transactionOpen?.(true);
  }

  /** Publish the id of the version a new transaction would get (0 when closed). */
  #publish(): void {
    if (this.#closed !== undefined) return;
    let id = 0;
    try {
      id = idOf(this.#conn.peek());
    } catch {
      // A closed reader has no version to publish: the client asks, and gets the error.
    }
    Atomics.store(this.#ctl, CTL.PUBLISHED, id);
  }

  #acquire(): VersionAnswer {
    const version = this.#conn.acquire();
    const answer = this.#moveTo(version);
    // The reader was fresh just now (acquire checks the staleness bound).
    Atomics.store(this.#control64, FRESH_UNTIL_INDEX, BigInt(Date.now() + FRESH_WINDOW_MS));
    this.#publish();
    return answer;
  }

  /** Make `version` (pinned by the caller) the client's; what its cache must drop. */
  #moveTo(version: PageVersion): VersionAnswer {
    const from = this.#base;
    let evict: Evictions;
    if (from === undefined) evict = 'all';
    else if (from === version) evict = [];
    else evict = this.#conn.changedPages?.(from, version) ?? 'all';
    this.#base = version;
    if (from !== undefined) this.#conn.release(from);
    return { version: infoOf(version), evict };
  }

  async #reserve(): Promise<null> {
    const sink = this.#conn.sink;
    if (sink === undefined) {
      throw new LtxvfsError('LTXVFS_ERR_READONLY', 'the database is read-only', { sqliteCode: 8 });
    }
    await sink.reserve();
    this.#reserved = true;
    return null;
  }

  async #commit(versionId: number, pages: [number, Uint8Array][], commit: number, pageSize: number): Promise<VersionAnswer> {
    const base = this.#baseFor(versionId);
    const sink = this.#conn.sink;
    if (sink === undefined) throw new LtxvfsError('LTXVFS_ERR_READONLY', 'the database is read-only', { sqliteCode: 8 });
    const version = await sink.commit(base, new Map(pages), commit, pageSize);
    const answer = this.#moveTo(version);
    this.#publish();
    return answer;
  }

  async #call(inTransaction: boolean, body: () => Promise<unknown>): Promise<CallAnswer> {
    this.#conn.setTransactionVersion?.(inTransaction ? this.#base : undefined);
    try {
      const result = await body();
      return result === undefined ? { result: null, unhandled: true } : { result: toWire(result) };
    } finally {
      this.#conn.setTransactionVersion?.(undefined);
      // A time-travel PRAGMA or function changes what the next transaction reads.
      this.#publish();
    }
  }

  async #function(name: string, args: unknown[]): Promise<SqlArg> {
    const spec = this.#conn.functions?.find((f) => f.name === name);
    if (spec === undefined) throw new LtxvfsError('LTXVFS_ERR_USAGE', `no SQL function ${name} on this connection`);
    const values = args.map(fromWire) as SqlArg[];
    if (spec.call !== undefined) return spec.call(values);
    return spec.callAsync!(values);
  }

  #baseFor(versionId: number): PageVersion {
    const base = this.#base;
    if (base === undefined || idOf(base) !== versionId) {
      throw new LtxvfsError('LTXVFS_ERR_USAGE', `bridge: request for version ${versionId}, but the connection holds ${base === undefined ? 'none' : idOf(base)}`);
    }
    return base;
  }

  #read(seq: number, versionId: number, pgno: number, sequential: boolean): void {
    let version: PageVersion;
    let first: Uint8Array | Promise<Uint8Array>;
    try {
      version = this.#baseFor(versionId);
      first = this.#conn.readPage(version, pgno);
    } catch (err) {
      this.#slot.error(seq, err);
      return;
    }
    if (first instanceof Uint8Array) {
      this.#sendPages(seq, version, pgno, first, sequential);
    } else {
      first.then(
        (page) => this.#sendPages(seq, version, pgno, page, sequential),
        (err: unknown) => this.#slot.error(seq, err),
      );
    }
  }

  /**
   * Answer a read: page `pgno`, then (for a sequential read) the following pages already at
   * hand, each copied straight into the payload where the connection can
   * (`readPageInto`: no page allocated per page sent). Before, every page came as a copy
   * of its own, then was copied again: on a worker-engine scan the main thread's page
   * cache `get` and the payload write were 14% of its profile. The first page not at hand
   * ends the answer; its read, started here, is the scan's prefetch.
   */
  #sendPages(seq: number, version: PageVersion, pgno: number, first: Uint8Array, sequential: boolean): void {
    const pageSize = version.pageSize;
    const conn = this.#conn;
    let sent = 0;
    const written = this.#slot.write(seq, (payload) => {
      const fit = sequential ? Math.max(1, Math.min(this.#maxPages, Math.floor(payload.length / pageSize))) : 1;
      let count = 0;
      for (let p = pgno; p <= version.commit && count < fit; p++, count++) {
        const dst = payload.subarray(count * pageSize, (count + 1) * pageSize);
        let page: Uint8Array | Promise<Uint8Array> | undefined = p === pgno ? first : undefined;
        try {
          if (page === undefined && conn.readPageInto?.(version, p, dst) === true) continue;
          page ??= conn.readPage(version, p);
        } catch {
          break; // not the first page: that one is answered, this one's error is for its own read
        }
        if (!(page instanceof Uint8Array)) {
          // Not at hand: the read it started is the scan's prefetch; its outcome is for later.
          page.catch(() => undefined);
          break;
        }
        if (page.length !== pageSize) {
          throw new LtxvfsError('LTXVFS_ERR_CORRUPT', `page of ${page.length} bytes, expected ${pageSize}`);
        }
        dst.set(page);
      }
      sent = count;
      return { status: STATUS.OK, length: count * pageSize, count };
    });
    if (written) this.counters.pagesSent += sent;
  }

}

function infoOf(version: PageVersion): VersionInfo {
  return { id: idOf(version), txid: version.txid, pageSize: version.pageSize, commit: version.commit, timestamp: version.timestamp };
}
