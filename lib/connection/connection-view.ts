/**
 * ConnectionView: what one connection sees of a shared {@link ReplicaReader}. Normally
 * the newest version at the start of each read transaction; after a time-travel request
 * (`PRAGMA litestream_time = …`, docs/formats.md §6.1) a fixed past version instead, until
 * `latest` is asked for. Each connection has its own view; they share the reader's
 * cache, fetcher and poller.
 */
import { isLtxvfsError, LtxvfsError } from '../../ltx/errors.js';
import { formatTXID } from '../../ltx/filename.js';
import { listReplica } from '../replica/plan.js';
import type { PageIndex } from '../replica/page-index.js';
import type { PageSource, PageVersion } from '../read/page-source.js';
import type { ReplicaReader } from '../read/replica-reader.js';
import { parseTarget, parseTime } from '../replica/time.js';

/** A past state a view is fixed at. */
export interface TimeTravelTarget {
  /** The instant asked for (files created strictly before it count), ms; undefined for a TXID target. */
  time: number | undefined;
  /** The TXID asked for; undefined for a time target. */
  txid: number | undefined;
  /** The version built for it. */
  version: PageIndex;
}

/** A connection's view of a replica: a {@link PageSource} with an optional time-travel target. */
export class ConnectionView implements PageSource {
  readonly reader: ReplicaReader;
  #target: TimeTravelTarget | undefined;
  /** The version this connection's open read transaction pinned (the last acquired), and the pin count. */
  #pinned: PageIndex | undefined;
  #pins = 0;

  constructor(reader: ReplicaReader) {
    this.reader = reader;
  }

  /** The time-travel target, or undefined when following the newest state. */
  get target(): TimeTravelTarget | undefined {
    return this.#target;
  }

  /** The version new read transactions see now (without pinning it). */
  get version(): PageIndex {
    return this.#target?.version ?? this.reader.current;
  }

  /**
   * The version this connection sees now: the one its open read transaction pinned, else
   * {@link version}. `litestream_txid` and `litestream_time` report this one, so inside
   * `BEGIN … COMMIT` they stay with the rows the transaction sees.
   */
  get visible(): PageIndex {
    return this.#pinned ?? this.version;
  }

  /**
   * Called when a read transaction starts, before {@link acquire} (see
   * `Poller.beforeTransaction`): a promise to wait for when the reader's poll is due, so
   * the transaction sees every LTX file the replica had when it started; undefined to go
   * ahead. A time-travel view never waits (its version is fixed).
   */
  beforeTransaction(): Promise<void> | undefined {
    return this.#target === undefined ? this.reader.poller.beforeTransaction() : undefined;
  }

  /** See {@link PageSource.acquire}: the target's version, else the reader's newest. */
  acquire(): PageVersion {
    const version = this.#target === undefined ? this.reader.acquire() : this.reader.pin(this.#target.version);
    this.#pinned = version as PageIndex;
    this.#pins++;
    return version;
  }

  /**
   * Pin `version` (one this connection just committed) for its open transaction, as
   * {@link acquire} would: paired with one {@link release}, and what {@link visible} shows.
   */
  pin(version: PageIndex): PageVersion {
    this.reader.pin(version);
    this.#pinned = version;
    this.#pins++;
    return version;
  }

  /** See {@link PageSource.release}. */
  release(version: PageVersion): void {
    this.reader.release(version);
    if (--this.#pins === 0) this.#pinned = undefined;
  }

  /** See {@link PageSource.readPage}. */
  readPage(version: PageVersion, pgno: number): Uint8Array | Promise<Uint8Array> {
    return this.reader.readPage(version, pgno);
  }

  /** See {@link PageSource.readPageInto}. */
  readPageInto(version: PageVersion, pgno: number, dst: Uint8Array): boolean {
    return this.reader.readPageInto(version, pgno, dst);
  }

  /**
   * Travel to a time (or back to `latest`): `text` as docs/formats.md §6.2 describes.
   * @throws LtxvfsError `LTXVFS_ERR_USAGE` (unparseable), `LTXVFS_ERR_EMPTY_REPLICA`
   *   ("transaction not available": before the retained history), storage errors.
   */
  async setTime(text: string): Promise<void> {
    const t = parseTime(text);
    if (t === 'latest') {
      this.#target = undefined;
      return;
    }
    this.#target = { time: t, txid: undefined, version: await this.reader.versionAt({ time: t }) };
  }

  /**
   * Travel to the state right after TXID `txid`.
   * @throws LtxvfsError `LTXVFS_ERR_USAGE` (not a TXID), `LTXVFS_ERR_EMPTY_REPLICA` (not
   *   available; the message says which TXIDs the replica's LTX files cover).
   */
  async setTxid(txid: number): Promise<void> {
    const version = await this.reader.versionAt({ txid }).catch(async (err: unknown) => {
      throw isLtxvfsError(err, 'LTXVFS_ERR_EMPTY_REPLICA') ? await this.#withAvailable(err) : err;
    });
    this.#target = { time: undefined, txid, version };
  }

  /** `err` ("transaction not available") with the TXIDs the replica's files cover, from a listing (the error path only). */
  async #withAvailable(err: LtxvfsError): Promise<LtxvfsError> {
    const files = await listReplica(this.reader.client).catch(() => []);
    const available = files.length === 0
      ? 'the replica holds no LTX files'
      : `the replica's LTX files cover TXIDs ${formatTXID(Math.min(...files.map((f) => f.minTXID)))}–${formatTXID(Math.max(...files.map((f) => f.maxTXID)))}`;
    return new LtxvfsError(err.ltxvfsCode, `${err.message}; ${available}`, { key: err.key, cause: err });
  }

  /**
   * Point the view at a target given as text: a TXID (decimal, or 16 hex digits as
   * Litestream prints them) or anything {@link setTime} accepts.
   */
  async setAt(at: string): Promise<void> {
    const target = parseTarget(at);
    if (target === 'latest') this.#target = undefined;
    else if ('txid' in target) await this.setTxid(target.txid);
    else this.#target = { time: target.time, txid: undefined, version: await this.reader.versionAt(target) };
  }

  /** Refuse writes on a time-travel view. @throws LtxvfsError `LTXVFS_ERR_READONLY`. */
  assertWritable(): void {
    if (this.#target !== undefined) {
      throw new LtxvfsError('LTXVFS_ERR_READONLY', `${this.reader.client.url}: a time-travel view is read-only (PRAGMA litestream_time = 'latest' to return)`, {
        key: this.reader.client.url,
      });
    }
  }
}

/**
 * A view whose `visible` version (what `litestream_txid()`/`litestream_time()` report)
 * is set by the bridge: the client's open transaction's version during a call made
 * inside a transaction, else the version a new transaction would read. (The bridge keeps
 * the client's version pinned between transactions, so the view's own pin cannot say.)
 */
export class BridgedView extends ConnectionView {
  /** The version of the client's open transaction, during a call made inside one. */
  transactionVersion: PageIndex | undefined;

  override get visible(): PageIndex {
    return this.transactionVersion ?? this.version;
  }
}
