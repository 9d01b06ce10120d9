/**
 * ReplicaWriter: ships each committed transaction as one LTX file (docs/architecture.md, the write
 * path; docs/formats.md §5). A writer needs the replica's lease (lib/write/lease.ts). At commit it
 * encodes the transaction's pages as level-0 file `TXID-TXID` with TXID = current + 1,
 * uploads it create-only, and only then makes it the reader's current version, with its
 * pages in the cache. A create-only failure means another writer took that TXID: the
 * transaction fails with `LTXVFS_ERR_CONFLICT` (SQLITE_BUSY) and the reader catches up.
 *
 * Checksum mode follows the replica (docs/formats.md §2.5): on checksum-free files (all that
 * Litestream writes) the writer writes checksum-free files, because Litestream's restore
 * and compaction reject non-zero checksums; on a replica whose files carry database
 * checksums it keeps the chain (pre-apply = current post-apply; post-apply updated
 * incrementally from the old contents of the changed pages). A new replica is
 * checksum-free unless `checksums: true`.
 */
import { hostname } from 'node:os';
import { encodeLtxFile } from '../../ltx/encoder.js';
import { decodeHeader, HEADER_FLAG_NO_CHECKSUM } from '../../ltx/header.js';
import { readPageIndexFromTail, type FoundPageIndex } from '../../ltx/page-index.js';
import { incrementalDatabaseChecksum, lockPgno } from '../../ltx/checksum.js';
import { isLtxvfsError, LtxvfsError } from '../../ltx/errors.js';
import { formatTXID } from '../../ltx/filename.js';
import { Lease } from './lease.js';
import { WriteBehind, type WriteBehindStats } from './write-behind.js';
import { DEFAULT_TEMP_FILE_MAX_AGE_MS, removeTempFiles } from './temp-files.js';
import { makeLtxFile, type PageIndex } from '../replica/page-index.js';
import type { ReplicaReader } from '../read/replica-reader.js';

/** SQLite result codes the engine adapters map writer errors to. */
const SQLITE_BUSY = 5;
const SQLITE_READONLY = 8;

/** Options of {@link ReplicaWriter}. */
export interface WriterOptions {
  /** Take the lease at the first write instead of failing. Default false. */
  autoLease?: boolean;
  /** Lease time to live, ms. Default 30,000 (Litestream's). */
  leaseTtlMs?: number;
  /** Lease owner written into lock.json. Default `<hostname>:<pid>`. */
  leaseOwner?: string;
  /** For a new (empty) replica only: write files that carry database checksums. Default false (Litestream-compatible). */
  checksums?: boolean;
  /**
   * At lease acquisition, remove the replica's half-written temporary files at least this
   * old, ms (lib/write/temp-files.ts: writers killed mid-commit leave them). Default 1 hour: a
   * younger one may be another live writer's upload. 0 removes every one.
   */
  tempFileMaxAgeMs?: number;
  /**
   * Acknowledge a commit once its LTX file is staged in this process, and upload the staged
   * files behind it in TXID order (lib/write/write-behind.ts): the Litestream VFS's
   * acknowledgement (docs/formats.md §5.1), one file per transaction kept. Commits not yet
   * uploaded are lost if the process dies; `flush()` and closing the database wait for
   * them. An upload that fails for good poisons the reader and gives the lease back. Not
   * with `hydrate` (`LTXVFS_ERR_USAGE`). Default false: a commit returns once its file is
   * in the replica.
   */
  writeBehind?: boolean;
  /** With `writeBehind`: staged bytes beyond which a commit waits for uploads. Default 64 MiB. */
  writeBehindMaxBytes?: number;
}

/** A commit's checks done: what its LTX file holds and what it was checked against. */
interface CommitPlan {
  base: PageIndex;
  /** Database size in pages after the transaction. */
  commit: number;
  /** The lease held at the checks (asserted again before the file goes out). */
  lease: Lease;
  pageSize: number;
  /** Pages in ascending pgno, each `pageSize` bytes. */
  pages: { pgno: number; data: Uint8Array }[];
  /** Whether the file carries database checksums. */
  checksummed: boolean;
}

/** A transaction to ship: the pages it wrote and the database size after it. */
export interface Transaction {
  /** The version the transaction started from. */
  base: PageIndex;
  /** New contents of the pages written, by pgno. */
  pages: ReadonlyMap<number, Uint8Array>;
  /** Database size in pages after the transaction. */
  commit: number;
  /** Page size in bytes (taken from the pages for a new database). */
  pageSize: number;
}

const writers = new WeakMap<ReplicaReader, ReplicaWriter>();

/** The writer of `reader`, if a writable connection made one ({@link writerFor}). */
export function writerOf(reader: ReplicaReader): ReplicaWriter | undefined {
  return writers.get(reader);
}

/**
 * The writer of a reader (one per replica per process, like the reader), made with
 * `options` on first use; its lease is released when the reader closes.
 * @throws LtxvfsError `LTXVFS_ERR_USAGE` for a `writeBehind` that is not a boolean, or other than the existing writer's; a bad `writeBehindMaxBytes`, or one other than the existing writer's.
 */
export function writerFor(reader: ReplicaReader, options: WriterOptions = {}): ReplicaWriter {
  let writer = writers.get(reader);
  if (options.writeBehind !== undefined && typeof options.writeBehind !== 'boolean') {
    throw new LtxvfsError('LTXVFS_ERR_USAGE', `writeBehind ${JSON.stringify(options.writeBehind)} is not true or false (${reader.client.url})`, { key: reader.client.url });
  }
  if (writer !== undefined && writer.writeBehind !== (options.writeBehind === true)) {
    // A commit's acknowledgement must not depend on which open came first.
    throw new LtxvfsError('LTXVFS_ERR_USAGE',
      `${reader.client.url} is already open for writing in this process with writeBehind ${String(writer.writeBehind)}: ` +
        'open it with the same writeBehind, or with shared: false for a reader (and writer) of its own', { key: reader.client.url });
  }
  const maxBytes = writer?.writeBehindStats()?.maxBytes;
  if (maxBytes !== undefined && options.writeBehindMaxBytes !== undefined && options.writeBehindMaxBytes !== maxBytes) {
    throw new LtxvfsError('LTXVFS_ERR_USAGE',
      `${reader.client.url} is already open for writing in this process with writeBehindMaxBytes ${maxBytes}, not ${String(options.writeBehindMaxBytes)}: ` +
        'open it with the same value (or none), or with shared: false', { key: reader.client.url });
  }
  if (writer === undefined) {
    const w = new ReplicaWriter(reader, options);
    reader.beforeClose(() => w.releaseLease());
    writers.set(reader, (writer = w));
  }
  return writer;
}

/** Ships transactions of one replica. One per {@link ReplicaReader}. */
export class ReplicaWriter {
  readonly reader: ReplicaReader;
  readonly #options: WriterOptions;
  #lease: Lease | undefined;
  #leasing: Promise<Lease> | undefined;
  /** The connection holding the local write reservation (one writer at a time per process). */
  #reservedBy: object | undefined;
  /** The upload queue, with `writeBehind`. */
  readonly #behind: WriteBehind | undefined;
  /** Transactions committed (with `writeBehind`: staged, not necessarily uploaded yet). */
  commits = 0;

  /** @throws LtxvfsError `LTXVFS_ERR_USAGE` for a bad `writeBehindMaxBytes`. */
  constructor(reader: ReplicaReader, options: WriterOptions = {}) {
    this.reader = reader;
    this.#options = options;
    this.#behind = options.writeBehind === true ? new WriteBehind(reader.client, () => this.lease, (key, bytes, timestamp, txid) => this.#upload(key, bytes, timestamp, txid), options.writeBehindMaxBytes) : undefined;
    // An upload failed for good: this process's state (its staged commits) is no longer the
    // replica's, and a poll could apply another writer's files on top of it. The reader fails
    // every later read with the error, and the lease goes back so another writer can go on.
    this.#behind?.onFailure((error) => {
      reader.poison(error);
      const lease = this.#lease;
      this.#lease = undefined;
      void lease?.release().catch(() => undefined);
    });
  }

  /** Whether commits are acknowledged when staged (`writeBehind`). */
  get writeBehind(): boolean {
    return this.#behind !== undefined;
  }

  /**
   * With `writeBehind`, call `listener` once if uploads stop: the commits its error names
   * are not in the replica (lib/write/write-behind.ts). Without it, never.
   * @returns a function that removes it.
   */
  onUploadFailed(listener: (error: LtxvfsError) => void): () => void {
    return this.#behind?.onFailure(listener) ?? (() => undefined);
  }

  /** The write-behind queue's counters, with `writeBehind`. */
  writeBehindStats(): WriteBehindStats | undefined {
    return this.#behind?.stats();
  }

  /**
   * Resolves once every commit acknowledged before the call is in the replica (at once
   * without `writeBehind`, where a commit returns only then).
   * @returns the reader's TXID when called: the replica holds it once this resolves.
   * @throws LtxvfsError the write-behind upload failure that kept one of them out (lib/write/write-behind.ts).
   */
  async flush(): Promise<number> {
    const txid = this.reader.current.txid;
    await this.#behind?.flush();
    return txid;
  }

  /** The lease, while held. */
  get lease(): Lease | undefined {
    return this.#lease?.held === true ? this.#lease : undefined;
  }

  /**
   * Take the replica's write lease unless held (`PRAGMA litevfs_acquire_lease`), then catch
   * up to the replica's newest TXID, so that a transaction begun after this returns starts
   * from the state no lease-holding writer can move (a conflict now means a writer that
   * ignores the lease). A newly taken lease first removes half-written temporary files at
   * least `tempFileMaxAgeMs` old (lib/write/temp-files.ts).
   * @throws LtxvfsError `LTXVFS_ERR_LEASE_HELD` when another writer holds it; `LTXVFS_ERR_USAGE`
   *   (bad `tempFileMaxAgeMs`) and storage errors of the clean-up, after which the new lease is
   *   given back; the poll's error when catching up fails (the lease stays held).
   */
  async acquireLease(): Promise<Lease> {
    if (this.lease === undefined) {
      this.#leasing ??= this.#takeLease().finally(() => { this.#leasing = undefined; });
      this.#lease = await this.#leasing;
    }
    await this.catchUp();
    return this.#lease as Lease;
  }

  async #takeLease(): Promise<Lease> {
    const client = this.reader.client;
    const lease = await Lease.acquire(client, {
      ttlMs: this.#options.leaseTtlMs,
      owner: this.#options.leaseOwner ?? `${hostname()}:${process.pid}`,
    });
    try {
      await removeTempFiles(client, this.#options.tempFileMaxAgeMs ?? DEFAULT_TEMP_FILE_MAX_AGE_MS);
    } catch (err) {
      await lease.release().catch(() => undefined);
      throw err;
    }
    return lease;
  }

  /**
   * Move the reader to the replica's newest TXID now (one poll, or two when a poll begun
   * earlier was still running: it may have listed before the newest file existed).
   * @throws the poll's error (storage errors, a file that cannot be applied).
   */
  async catchUp(): Promise<void> {
    const { reader } = this;
    let failure: unknown;
    const onError = (err: unknown): void => { failure = err; };
    reader.on('poll-error', onError);
    try {
      const polls = reader.stats().polls;
      const poll = reader.poller.pollNow();
      const joined = reader.stats().polls === polls;
      await poll;
      if (joined) {
        failure = undefined;
        await reader.poller.pollNow();
      }
    } finally {
      reader.off('poll-error', onError);
    }
    if (failure !== undefined) throw failure;
  }

  /**
   * Give the lease back (`PRAGMA litevfs_release_lease`; also on close), once every staged
   * commit is uploaded (those staged while it waits too) or their upload failed. Idempotent.
   * @throws LtxvfsError the write-behind upload failure (after the lease is given back); the release's storage errors.
   */
  async releaseLease(): Promise<void> {
    let failure: unknown;
    try {
      while (this.#behind !== undefined && this.#behind.stats().staged > 0) await this.#behind.flush();
    } catch (err) {
      failure = err;
    }
    const lease = this.#lease;
    this.#lease = undefined;
    await lease?.release();
    if (failure !== undefined) throw failure;
  }

  /**
   * Reserve writing for `owner` (called when SQLite takes its RESERVED lock): checks the
   * lease (taking it when `autoLease`) and that no other connection of this process is writing.
   * Answers at once when the lease is held; a Promise only while `autoLease` takes it.
   * @throws LtxvfsError (thrown, or the Promise rejects) `LTXVFS_ERR_READONLY` (sqliteCode SQLITE_READONLY) without the lease, saying how
   *   to get it; `LTXVFS_ERR_CONFLICT` (SQLITE_BUSY) while another connection writes;
   *   `LTXVFS_ERR_LEASE_HELD` (SQLITE_BUSY) when `autoLease` finds it held by another writer; storage errors.
   */
  reserve(owner: object): void | Promise<void> {
    const failure = this.#behind?.failure;
    if (failure !== undefined) throw failure;
    if (this.#reservedBy !== undefined && this.#reservedBy !== owner) {
      throw new LtxvfsError('LTXVFS_ERR_CONFLICT', `${this.reader.client.url}: another connection of this process is writing`, {
        key: this.reader.client.url, sqliteCode: SQLITE_BUSY,
      });
    }
    if (this.lease !== undefined) {
      // Answered at once, so that SQLite's write lock costs no Asyncify unwind (vfs/core: a sync answer).
      this.#reservedBy = owner;
      return;
    }
    if (this.#options.autoLease !== true) {
      throw new LtxvfsError('LTXVFS_ERR_READONLY',
        `${this.reader.client.url}: writing needs the replica's write lease: run PRAGMA litevfs_acquire_lease, or open with { autoLease: true }`,
        { key: this.reader.client.url, sqliteCode: SQLITE_READONLY });
    }
    return this.acquireLease().then(() => {
      this.#reservedBy = owner;
    }, (err: unknown) => {
      // Another writer holds it: SQLITE_BUSY ("database is locked"), not an I/O error.
      if (!isLtxvfsError(err, 'LTXVFS_ERR_LEASE_HELD')) throw err;
      throw new LtxvfsError('LTXVFS_ERR_LEASE_HELD', err.message, { key: err.key, sqliteCode: SQLITE_BUSY, cause: err });
    });
  }

  /** End `owner`'s reservation (SQLite dropped below RESERVED). */
  unreserve(owner: object): void {
    if (this.#reservedBy === owner) this.#reservedBy = undefined;
  }

  /**
   * Ship one transaction: encode, upload create-only (with `writeBehind`: stage it and
   * queue its upload, after waiting for room), then make it current.
   * @returns the new version: at once (no Promise) with `writeBehind` when there is room to
   *   stage and the old pages the checksum needs are cached, else a Promise of it.
   * @throws LtxvfsError (thrown, or the Promise rejects) `LTXVFS_ERR_CONFLICT` (sqliteCode SQLITE_BUSY) when the replica moved past
   *   `tx.base` or another writer took the TXID (the reader then catches up); `LTXVFS_ERR_LEASE_LOST`
   *   (SQLITE_BUSY) when the lease is gone; storage errors; with `writeBehind`, the upload failure
   *   that stopped its queue. Nothing of a failed transaction stays.
   */
  commit(tx: Transaction): PageIndex | Promise<PageIndex> {
    // With write-behind and room to stage, and the old pages (for the checksum) cached, a
    // commit needs no wait: it is answered at once, so SQLite's commit costs no Asyncify
    // unwind and rewind (40 µs of a 200 µs INSERT with writeBehind on a directory).
    const behind = this.#behind;
    if (behind === undefined || !behind.hasRoom()) return this.#commitAfterRoom(tx);
    const plan = this.#plan(tx);
    const old = this.#oldPages(plan);
    return old instanceof Promise ? old.then((o) => this.#ship(plan, o)) : this.#ship(plan, old);
  }

  async #commitAfterRoom(tx: Transaction): Promise<PageIndex> {
    await this.#behind?.room();
    const plan = this.#plan(tx);
    return this.#ship(plan, await this.#oldPages(plan));
  }

  /** The checks before a commit, and the pages its file holds. */
  #plan(tx: Transaction): CommitPlan {
    const reader = this.reader;
    const url = reader.client.url;
    const base = tx.base;
    if (reader.current.txid !== base.txid) {
      throw new LtxvfsError('LTXVFS_ERR_CONFLICT',
        `${url}: the replica moved to TXID ${formatTXID(reader.current.txid)} during a transaction begun at ${formatTXID(base.txid)}`,
        { key: url, sqliteCode: SQLITE_BUSY });
    }
    const lease = this.lease;
    if (lease === undefined) {
      throw new LtxvfsError('LTXVFS_ERR_LEASE_LOST', `${url}: the write lease was lost before commit; run PRAGMA litevfs_acquire_lease`, {
        key: url, sqliteCode: SQLITE_BUSY,
      });
    }
    const pageSize = base.txid === 0 ? tx.pageSize : base.pageSize;
    const lock = lockPgno(pageSize);
    const written = new Map([...tx.pages].filter(([pgno]) => pgno <= tx.commit && pgno !== lock));
    // Pages the database gains but SQLite never wrote (free-list leaves it need not write)
    // are zeros: the file must hold every page above the base's size, or no one can read it.
    for (let pgno = base.commit + 1; pgno <= tx.commit; pgno++) {
      if (pgno !== lock && !written.has(pgno)) written.set(pgno, new Uint8Array(pageSize));
    }
    const pages = [...written.entries()]
      .sort((a, b) => a[0] - b[0])
      .map(([pgno, data]) => ({ pgno, data }));
    const checksummed = base.txid === 0 ? this.#options.checksums === true : base.checksummed;
    return { base, commit: tx.commit, lease, pageSize, pages, checksummed };
  }

  /** Old contents of the pages that change or disappear, for the checksum: from the cache at once when it holds them all. */
  #oldPages(plan: CommitPlan): Map<number, Uint8Array> | Promise<Map<number, Uint8Array>> {
    const old = new Map<number, Uint8Array>();
    if (!plan.checksummed) return old;
    const { base } = plan;
    const needed = plan.pages.map((p) => p.pgno).filter((p) => p <= base.commit);
    for (let q = plan.commit + 1; q <= base.commit; q++) needed.push(q);
    const waits: Promise<void>[] = [];
    for (const pgno of needed) {
      const page = this.reader.readPage(base, pgno);
      if (page instanceof Promise) waits.push(page.then((p) => void old.set(pgno, p)));
      else old.set(pgno, page);
    }
    return waits.length === 0 ? old : Promise.all(waits).then(() => old);
  }

  /**
   * Encode the file, stage it (write-behind) or upload it, then make it current: at once
   * with write-behind, after the upload without.
   */
  #ship(plan: CommitPlan, old: Map<number, Uint8Array>): PageIndex | Promise<PageIndex> {
    const { base, pageSize, pages, checksummed, lease } = plan;
    const reader = this.reader;
    const url = reader.client.url;
    const txid = base.txid + 1;
    let post = 0n;
    if (checksummed) {
      post = incrementalDatabaseChecksum({
        preApplyChecksum: base.txid === 0 ? 1n << 63n : base.postApplyChecksum,
        pageSize, oldCommit: base.commit, newCommit: plan.commit, pages, getOldPage: (p) => old.get(p)!,
      });
    }
    const timestamp = Date.now();
    const bytes = encodeLtxFile({
      header: {
        flags: checksummed ? 0 : HEADER_FLAG_NO_CHECKSUM, pageSize, commit: plan.commit, minTXID: txid, maxTXID: txid, timestamp,
        preApplyChecksum: checksummed && txid > 1 ? base.postApplyChecksum : 0n, walOffset: 0, walSize: 0, walSalt1: 0, walSalt2: 0, nodeID: 0,
      },
      pages,
      postApplyChecksum: post,
    });
    const key = reader.client.ltxKey(0, txid, txid);
    try {
      lease.assertHeld();
    } catch (err) {
      // Lost while the old pages were read: SQLITE_BUSY like a lease lost before commit.
      throw new LtxvfsError('LTXVFS_ERR_LEASE_LOST', `${url}: ${(err as Error).message}`, { key: url, sqliteCode: SQLITE_BUSY, cause: err });
    }
    if (this.#behind !== undefined) {
      // Write-behind: staged now (the reader lists and reads it), uploaded in order behind.
      this.#behind.stage({ level: 0, minTXID: txid, maxTXID: txid, size: bytes.length, createdAt: timestamp, key }, bytes, timestamp);
      return this.#adopt(plan, key, bytes, timestamp);
    }
    return this.#upload(key, bytes, timestamp, txid).then(() => this.#adopt(plan, key, bytes, timestamp));
  }

  /** In the replica (or staged for it): make it current, with its pages cached (they need no read). */
  #adopt(plan: CommitPlan, key: string, bytes: Uint8Array, timestamp: number): PageIndex {
    const txid = plan.base.txid + 1;
    const header = decodeHeader(bytes, key);
    const found = readPageIndexFromTail(bytes, 0, bytes.length, key) as FoundPageIndex;
    const file = makeLtxFile({ level: 0, minTXID: txid, maxTXID: txid, size: bytes.length, createdAt: timestamp, key }, header, found.trailer, found.entries);
    const version = plan.base.apply(file);
    this.reader.adopt(version, file, plan.pages.map((p) => p.data));
    this.commits++;
    return version;
  }

  /** Upload one commit's LTX file create-only. @throws LtxvfsError `LTXVFS_ERR_CONFLICT` when the key exists; storage errors. */
  async #upload(key: string, bytes: Uint8Array, timestamp: number, txid: number): Promise<void> {
    try {
      await this.reader.client.write(key, bytes, { ifNoneMatch: true, timestamp });
    } catch (err) {
      if (!isLtxvfsError(err, 'LTXVFS_ERR_PRECONDITION')) throw err;
      void this.reader.poller.pollNow();
      throw new LtxvfsError('LTXVFS_ERR_CONFLICT', `${key}: another writer committed TXID ${formatTXID(txid)} first`, {
        key, sqliteCode: SQLITE_BUSY, cause: err,
      });
    }
  }
}
