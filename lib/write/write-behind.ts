/**
 * Write-behind: a commit is acknowledged once its LTX file is staged in this process
 * (lib/storage/staging.ts), and the staged files are uploaded behind it, one at a time in
 * TXID order, create-only, under the lease — so the replica only ever holds a prefix of
 * the acknowledged commits, never a gap.
 *
 * This is the acknowledgement of the Litestream VFS's write mode (docs/formats.md §5.1: a
 * commit returns when SQLite has committed locally; the replica gets it at the next sync),
 * with one LTX file per transaction kept: commits this process acknowledged but had not
 * uploaded are lost if it dies. {@link WriteBehind.flush} (and closing the database) waits
 * until every acknowledged commit is in the replica.
 *
 * An upload that fails (after the storage client's own retries; lib/storage/retry.ts)
 * stops the queue for good: the commit it carried and every later one are not in the
 * replica. The writer (lib/write/writer.ts) then fails its reader with the error — every
 * later read, write, `flush()` and close reject with it, naming the first TXID that did not
 * reach the replica and why — and gives the lease back.
 */
import { LtxvfsError } from '../../ltx/errors.js';
import { formatTXID } from '../../ltx/filename.js';
import type { StagingClient } from '../storage/staging.js';
import type { LtxFileInfo } from '../storage/types.js';
import type { Lease } from './lease.js';

/** Default of `writeBehindMaxBytes`: staged bytes beyond which a commit waits for uploads (64 MiB). */
export const DEFAULT_WRITE_BEHIND_MAX_BYTES = 64 * 1024 * 1024;

/** Counters of a write-behind queue. */
export interface WriteBehindStats {
  /** Files staged and not yet in the replica. */
  staged: number;
  /** Their bytes. */
  stagedBytes: number;
  /** Files uploaded since the writer started. */
  uploaded: number;
  /** TXID of the newest acknowledged commit in the replica (0 before the first upload). */
  uploadedTXID: number;
  /** Commits that waited for room (staged bytes at `writeBehindMaxBytes`). */
  waits: number;
  /** `writeBehindMaxBytes`: staged bytes beyond which a commit waits. */
  maxBytes: number;
  /** Why uploads stopped (the error's message), when they did. */
  failure: string | undefined;
}

/** Upload the LTX file of TXID `txid` at `key`, create-only (lib/write/writer.ts). */
export type UploadLtx = (key: string, bytes: Uint8Array, timestamp: number, txid: number) => Promise<void>;

interface Pending {
  info: LtxFileInfo;
  bytes: Uint8Array;
  timestamp: number;
}

/** The upload queue of one writer (module doc). */
export class WriteBehind {
  readonly #client: StagingClient;
  readonly #lease: () => Lease | undefined;
  readonly #write: UploadLtx;
  readonly #maxBytes: number;
  readonly #queue: Pending[] = [];
  #bytes = 0;
  #uploaded = 0;
  #uploadedTXID = 0;
  #waits = 0;
  #failure: LtxvfsError | undefined;
  #draining: Promise<void> | undefined;
  /** Resolved (and replaced) each time an upload ends. */
  #progress = deferred();
  readonly #failed = new Set<(error: LtxvfsError) => void>();

  /**
   * @param client the reader's staging client: files are staged in it and uploaded through it.
   * @param lease the writer's lease while held (checked before every upload).
   * @param write the writer's upload of one commit's file (create-only; `LTXVFS_ERR_CONFLICT` when the TXID is taken).
   * @param maxBytes staged bytes beyond which {@link WriteBehind.room} waits; > 0.
   * @throws LtxvfsError `LTXVFS_ERR_USAGE` naming `writeBehindMaxBytes` when it is not a positive number.
   */
  constructor(client: StagingClient, lease: () => Lease | undefined, write: UploadLtx, maxBytes = DEFAULT_WRITE_BEHIND_MAX_BYTES) {
    if (typeof maxBytes !== 'number' || !(maxBytes > 0)) {
      throw new LtxvfsError('LTXVFS_ERR_USAGE', `writeBehindMaxBytes ${String(maxBytes)} is not a positive number of bytes (${client.url})`, { key: client.url });
    }
    this.#client = client;
    this.#lease = lease;
    this.#write = write;
    this.#maxBytes = maxBytes;
  }

  /**
   * Call `listener` once if uploads stop (with the error `flush()` would reject with).
   * @returns a function that removes it.
   */
  onFailure(listener: (error: LtxvfsError) => void): () => void {
    this.#failed.add(listener);
    return () => { this.#failed.delete(listener); };
  }

  /** The error that stopped uploads, if any. */
  get failure(): LtxvfsError | undefined {
    return this.#failure;
  }

  /** Counters (see {@link WriteBehindStats}). */
  stats(): WriteBehindStats {
    return { staged: this.#queue.length, stagedBytes: this.#bytes, uploaded: this.#uploaded, uploadedTXID: this.#uploadedTXID, waits: this.#waits, maxBytes: this.#maxBytes, failure: this.#failure?.message };
  }

  /** Whether a commit may be staged now, without waiting: uploads have not stopped and the staged bytes are below `maxBytes` ({@link WriteBehind.room} waits otherwise). */
  hasRoom(): boolean {
    return this.#failure === undefined && this.#bytes < this.#maxBytes;
  }

  /**
   * Resolves once a new commit may be staged: uploads are running and fewer than
   * `writeBehindMaxBytes` bytes are staged (one file is always allowed, however large).
   * @throws LtxvfsError the upload failure, once uploads stopped.
   */
  async room(): Promise<void> {
    let waited = false;
    for (;;) {
      if (this.#failure !== undefined) throw this.#failure;
      if (this.#bytes < this.#maxBytes) return;
      if (!waited) this.#waits++;
      waited = true;
      await this.#progress.promise;
    }
  }

  /**
   * Stage `bytes` as the LTX file `info` names and queue its upload (after every file
   * staged before it). The caller has checked {@link WriteBehind.room} and holds the lease.
   * @throws LtxvfsError the upload failure, once uploads stopped.
   */
  stage(info: LtxFileInfo, bytes: Uint8Array, timestamp: number): void {
    if (this.#failure !== undefined) throw this.#failure;
    this.#client.stage(info, bytes);
    this.#queue.push({ info, bytes, timestamp });
    this.#bytes += bytes.length;
    this.#draining ??= this.#drain();
  }

  /**
   * Resolves once every file staged before the call is in the replica.
   * @returns the TXID of the newest one uploaded.
   * @throws LtxvfsError the upload failure that left one of them out.
   */
  async flush(): Promise<number> {
    const last = this.#queue.at(-1)?.info.maxTXID;
    while (last !== undefined && this.#uploadedTXID < last) {
      if (this.#failure !== undefined) throw this.#failure;
      await this.#progress.promise;
    }
    return this.#uploadedTXID;
  }

  async #drain(): Promise<void> {
    try {
      while (this.#queue.length > 0 && this.#failure === undefined) {
        const next = this.#queue[0];
        try {
          await this.#upload(next);
        } catch (err) {
          const failure = notShipped(next.info, this.#queue.at(-1)!.info.maxTXID, this.#client.url, err);
          this.#failure = failure;
          for (const listener of [...this.#failed]) {
            try {
              listener(failure);
            } catch (thrown) {
              // A listener's own error, as EventEmitter would throw it: out of this loop, not into it.
              process.nextTick(() => { throw thrown; });
            }
          }
          break;
        }
        this.#queue.shift();
        this.#bytes -= next.bytes.length;
        this.#client.unstage(next.info.key);
        this.#uploaded++;
        this.#uploadedTXID = next.info.maxTXID;
        this.#wake();
      }
    } finally {
      this.#draining = undefined;
      this.#wake();
    }
  }

  /** One upload, under the lease: the writer's create-only write (`upload`). */
  async #upload(file: Pending): Promise<void> {
    const lease = this.#lease();
    if (lease === undefined) {
      throw new LtxvfsError('LTXVFS_ERR_LEASE_LOST', `${this.#client.url}: the write lease was released with commits still to upload`, { key: this.#client.url });
    }
    lease.assertHeld();
    await this.#write(file.info.key, file.bytes, file.timestamp, file.info.maxTXID);
  }

  #wake(): void {
    const done = this.#progress;
    this.#progress = deferred();
    done.resolve();
  }
}

/** The error for acknowledged commits `info.minTXID`…`last` that an upload failure keeps out of the replica. */
function notShipped(info: LtxFileInfo, last: number, url: string, err: unknown): LtxvfsError {
  const cause = err instanceof LtxvfsError ? err : undefined;
  const range = last === info.maxTXID ? `TXID ${formatTXID(info.minTXID)}` : `TXIDs ${formatTXID(info.minTXID)}–${formatTXID(last)}`;
  return new LtxvfsError(cause?.ltxvfsCode ?? 'LTXVFS_ERR_STORAGE',
    `${info.key}: write-behind upload failed, so ${range}, acknowledged to their callers, are not in ${url} ` +
      `(this process still reads them; it takes no more writes): ${err instanceof Error ? err.message : String(err)}`,
    { key: info.key, cause: err });
}

function deferred(): { promise: Promise<void>; resolve: () => void } {
  let resolve!: () => void;
  const promise = new Promise<void>((r) => { resolve = r; });
  return { promise, resolve };
}
