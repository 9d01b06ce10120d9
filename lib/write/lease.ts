/**
 * The replica's write lease: Litestream's `lock.json` protocol (docs/formats.md §5.2, litestream
 * s3/leaser.go and leaser.go at 63225f1), over any {@link ReplicaClient}.
 *
 * The lease is one small JSON object beside the levels, `client.objectKey('lock.json')`
 * (its encoding and parsing: lib/write/lease-record.ts):
 *
 * ```
 * {"generation":6,"expires_at":"2026-02-06T18:26:54.123Z","owner":"web-1:4242"}
 * ```
 *
 * - **Acquire**: read it. Absent ⇒ create it with `If-None-Match: *`, generation 1. Present
 *   and `now ≤ expires_at` (local clock) ⇒ refuse, `LTXVFS_ERR_LEASE_HELD`, nothing
 *   written. Present and expired ⇒ replace it with `If-Match: <the ETag read>`, generation
 *   + 1. A failed precondition means another writer won the race: re-read it for the message.
 * - **Renew**: same generation, new `expires_at`, `If-Match: <current ETag>`. A failed
 *   precondition means the lease was taken over or deleted: it is lost.
 * - **Release**: delete with `If-Match: <current ETag>`; already gone or taken over is fine.
 *
 * Only `LTXVFS_ERR_PRECONDITION` (S3's 412 PreconditionFailed, or an if-match on a missing
 * object) counts as a conflict; any other failure is a plain error (acquire and release
 * throw it, background renewal retries until the lease expires).
 *
 * Which lock a replica gets is the client's declared `capabilities.leaseLock`
 * (`'conditional-write'` on S3, `'replace-guard'` on a directory, `'none'` refused).
 * On a directory the same file and fields are used through `FileReplicaClient`, whose
 * create-only write is atomic (`link`) but whose if-match replace and delete compare the
 * ETag and then rename/unlink — two processes could both pass the comparison. So there,
 * every replace and delete of `lock.json` (takeover, renewal, release) first takes a
 * create-only guard object `lock.json.replace` (lib/write/lease-guard.ts). Litestream has
 * no directory leaser, so nothing else writes there. The options and their defaults are
 * lib/write/lease-options.ts.
 */
import { channel } from 'node:diagnostics_channel';
import { EventEmitter } from 'node:events';
import { isLtxvfsError, LtxvfsError } from '../../ltx/errors.js';
import { formatRfc3339Nano } from '../storage/rfc3339.js';
import type { ReplicaClient } from '../storage/types.js';
import { encodeLeaseRecord, LEASE_OBJECT_NAME, readLease, type LeaseRecord } from './lease-record.js';
import { guarded } from './lease-guard.js';
import { leaseSettings, type LeaseOptions, type LeaseSchedule, type LeaseSettings } from './lease-options.js';

export { decodeLeaseRecord, defaultLeaseOwner, encodeLeaseRecord, LEASE_OBJECT_NAME, readLease, type LeaseRecord } from './lease-record.js';

export { DEFAULT_LEASE_TTL_MS, leaseTimer, type LeaseOptions, type LeaseSchedule } from './lease-options.js';

/** Events of a {@link Lease}. */
export interface LeaseEvents {
  /** A renewal succeeded: the lease now runs until `lease.expiresAt`. */
  renewed: [lease: Lease];
  /** The lease is gone (taken over, deleted, or expired while renewals failed); `error` says why (`LTXVFS_ERR_LEASE_LOST`). */
  lost: [error: LtxvfsError];
}

/** Published on diagnostics channel `ltxvfs:lease` at every change of a lease. */
export interface LeaseMessage {
  event: 'acquired' | 'renewed' | 'renew-failed' | 'lost' | 'released';
  /** Replica URL. */
  url: string;
  key: string;
  owner: string;
  generation: number;
  /** ms since the epoch. */
  expiresAtMs: number;
  error?: unknown;
}

const leaseChannel = channel('ltxvfs:lease');

type LeaseState = 'held' | 'lost' | 'released';

/**
 * A write lease on one replica. Create with {@link Lease.acquire}. While `held`, a
 * background timer renews it every `ttlMs / 3` (unref'd, so it never keeps Node alive);
 * call {@link Lease.assertHeld} right before every write that needs it.
 */
export class Lease extends EventEmitter<LeaseEvents> {
  /** The lease object's key, `client.objectKey('lock.json')`. */
  readonly key: string;
  /** The holder written into `owner`. */
  readonly owner: string;
  /** Time to live, ms. */
  readonly ttlMs: number;
  readonly #client: ReplicaClient;
  readonly #now: () => number;
  readonly #retryMs: number;
  readonly #guard: boolean;
  #generation: number;
  #etag: string;
  #expiresAtMs: number;
  #state: LeaseState = 'held';
  #lostError: LtxvfsError | undefined;
  #lastRenewError: unknown;
  readonly #timers: LeaseSchedule;
  /** Cancels the pending renewal timer; undefined when none is pending. */
  #cancelTimer: (() => void) | undefined;
  #renewing: Promise<void> | undefined;

  private constructor(client: ReplicaClient, key: string, settings: LeaseSettings, generation: number, etag: string, expiresAtMs: number) {
    super();
    this.#client = client;
    this.key = key;
    this.owner = settings.owner;
    this.ttlMs = settings.ttlMs;
    this.#now = settings.now;
    this.#retryMs = settings.retryMs;
    this.#guard = settings.guard;
    this.#timers = settings.schedule;
    this.#generation = generation;
    this.#etag = etag;
    this.#expiresAtMs = expiresAtMs;
  }

  /**
   * Take the lease of the replica behind `client` (docs/formats.md §5.2 "Acquire"): one read,
   * then one conditional write. Does not retry; a caller that wants to wait for the holder
   * retries after `expiresAt`.
   * @throws LtxvfsError `LTXVFS_ERR_LEASE_HELD` ("lease already held by <owner> until
   *   <expires_at> (generation <n>, <key>)", key = the lock key) when a live lease exists or
   *   another writer won the race; `LTXVFS_ERR_CORRUPT` when `lock.json` is not a lease
   *   record; `LTXVFS_ERR_USAGE` for bad options; `LTXVFS_ERR_UNSUPPORTED` (naming the
   *   replica) when the client declares `capabilities.leaseLock` `'none'`; storage errors of the client.
   */
  static async acquire(client: ReplicaClient, options: LeaseOptions = {}): Promise<Lease> {
    const settings = leaseSettings(client, options);
    const key = client.objectKey(LEASE_OBJECT_NAME);
    const existing = await readLease(client);
    if (existing !== undefined && settings.now() <= existing.record.expiresAtMs) {
      throw heldError(key, existing.record);
    }
    const generation = existing === undefined ? 1 : existing.record.generation + 1;
    const expiresAtMs = settings.now() + settings.ttlMs;
    const body = encodeLeaseRecord({ generation, expiresAtMs, owner: settings.owner });
    let etag: string;
    try {
      if (existing === undefined) {
        ({ etag } = await client.write(key, body, { ifNoneMatch: true, contentType: 'application/json' }));
      } else {
        const ifMatch = existing.etag;
        ({ etag } = await guarded(client, key, settings, () => client.write(key, body, { ifMatch, contentType: 'application/json' })));
      }
    } catch (err) {
      if (isLtxvfsError(err, 'LTXVFS_ERR_PRECONDITION')) {
        const now = await readLease(client).catch(() => undefined);
        throw now === undefined
          ? new LtxvfsError('LTXVFS_ERR_LEASE_HELD', `lease taken by another writer while acquiring it (${key} changed)`, { key, cause: err })
          : heldError(key, now.record, err);
      }
      if (isLtxvfsError(err, 'LTXVFS_ERR_CONFLICT')) {
        throw new LtxvfsError('LTXVFS_ERR_LEASE_HELD', `lease being taken over by another writer: ${err.message}`, { key, cause: err });
      }
      throw err;
    }
    const lease = new Lease(client, key, settings, generation, etag, expiresAtMs);
    lease.#publish('acquired');
    if (settings.renew) lease.#schedule(settings.ttlMs / 3);
    return lease;
  }

  /** The generation this lease holds. */
  get generation(): number {
    return this.#generation;
  }

  /** When the lease runs out unless renewed (local clock). */
  get expiresAt(): Date {
    return new Date(this.#expiresAtMs);
  }

  /** The ETag of `lock.json` as this lease last wrote it. */
  get etag(): string {
    return this.#etag;
  }

  /** Why the last renewal failed, while renewals are failing (reset by a successful one). */
  get lastRenewError(): unknown {
    return this.#lastRenewError;
  }

  /** True while the lease is neither lost nor released and has not expired on the local clock. */
  get held(): boolean {
    return this.#state === 'held' && this.#now() <= this.#expiresAtMs;
  }

  /**
   * Throw unless {@link held}. Call it right before each write that needs the lease.
   * @throws LtxvfsError `LTXVFS_ERR_LEASE_LOST` saying why (taken over, expired, released)
   *   and how to get it back (acquire it again), key = the lock key.
   */
  assertHeld(): void {
    if (this.held) return;
    if (this.#state === 'held') this.#expire();
    if (this.#state === 'released') throw new LtxvfsError('LTXVFS_ERR_LEASE_LOST', `lease ${this.key} was released; acquire it again to write`, { key: this.key });
    throw this.#lostError as LtxvfsError;
  }

  /**
   * Renew now (the background timer calls this): same generation, `expires_at = now + ttlMs`,
   * `If-Match` the current ETag. Concurrent calls share one request.
   * @throws LtxvfsError `LTXVFS_ERR_LEASE_LOST` (also emitted as `lost`) when the lease was
   *   taken over or deleted (precondition failed), had already expired, or was released;
   *   storage errors otherwise (the lease stays held until it expires).
   */
  renew(): Promise<void> {
    this.#renewing ??= this.#renewOnce().finally(() => {
      this.#renewing = undefined;
    });
    return this.#renewing;
  }

  /**
   * Give the lease back: stop renewing, then delete `lock.json` with `If-Match` the current
   * ETag. Idempotent. A lease that is already gone (deleted, lost, taken over, released)
   * only stops renewing.
   * @returns true if this call deleted the lease object.
   * @throws storage errors of the client (the lease then counts as released here and runs
   *   out at `expiresAt` on the replica).
   */
  async release(): Promise<boolean> {
    if (this.#state === 'released') return false;
    const wasHeld = this.#state === 'held';
    this.#state = 'released';
    this.#stopTimer();
    await this.#renewing?.catch(() => undefined);
    if (!wasHeld || this.#lostError !== undefined) return false;
    const ifMatch = this.#etag;
    try {
      await guarded(this.#client, this.key, this.#settings(), () => this.#client.delete(this.key, { ifMatch }));
    } catch (err) {
      if (isLtxvfsError(err, 'LTXVFS_ERR_PRECONDITION')) return false;
      throw err;
    }
    this.#publish('released');
    return true;
  }

  async #renewOnce(): Promise<void> {
    this.assertHeld();
    const expiresAtMs = this.#now() + this.ttlMs;
    const body = encodeLeaseRecord({ generation: this.#generation, expiresAtMs, owner: this.owner });
    const ifMatch = this.#etag;
    let etag: string;
    try {
      ({ etag } = await guarded(this.#client, this.key, this.#settings(), () =>
        this.#client.write(this.key, body, { ifMatch, contentType: 'application/json' })));
    } catch (err) {
      if (isLtxvfsError(err, 'LTXVFS_ERR_PRECONDITION')) {
        // Released meanwhile: the release decides; otherwise another writer replaced or deleted it.
        if (this.#state === 'held') this.#markLost(`taken over or deleted by another writer (${this.key} no longer has ETag ${ifMatch})`, err);
        this.assertHeld();
      }
      this.#lastRenewError = err;
      this.#publish('renew-failed', err);
      throw err;
    }
    this.#etag = etag;
    this.#lastRenewError = undefined;
    if (this.#state !== 'held') return;
    this.#expiresAtMs = expiresAtMs;
    this.#publish('renewed');
    this.emit('renewed', this);
  }

  #schedule(delayMs: number): void {
    this.#cancelTimer = this.#timers(() => this.#tick(), delayMs);
  }

  async #tick(): Promise<void> {
    this.#cancelTimer = undefined;
    try {
      await this.renew();
      if (this.#state === 'held') this.#schedule(this.ttlMs / 3);
    } catch {
      if (!this.held) {
        if (this.#state === 'held') this.#expire();
        return;
      }
      // Retry, but look again no later than just after expiry.
      this.#schedule(Math.max(1, Math.min(this.#retryMs, this.#expiresAtMs - this.#now() + 1)));
    }
  }

  #stopTimer(): void {
    this.#cancelTimer?.();
    this.#cancelTimer = undefined;
  }

  #expire(): void {
    const last = this.#lastRenewError === undefined ? '' : ` (last renewal: ${(this.#lastRenewError as Error).message})`;
    this.#markLost(`expired at ${formatRfc3339Nano(this.#expiresAtMs)} without a successful renewal${last}`, this.#lastRenewError);
  }

  #markLost(why: string, cause?: unknown): void {
    this.#state = 'lost';
    this.#stopTimer();
    this.#lostError = new LtxvfsError(
      'LTXVFS_ERR_LEASE_LOST',
      `lease ${this.key} (generation ${this.#generation}, owner ${this.owner}) lost: ${why}; acquire it again to write`,
      { key: this.key, cause },
    );
    this.#publish('lost', this.#lostError);
    this.emit('lost', this.#lostError);
  }

  #settings(): LeaseSettings {
    return {
      owner: this.owner, ttlMs: this.ttlMs, now: this.#now, renew: false, schedule: this.#timers, retryMs: this.#retryMs, guard: this.#guard,
    };
  }

  #publish(event: LeaseMessage['event'], error?: unknown): void {
    if (!leaseChannel.hasSubscribers) return;
    const message: LeaseMessage = {
      event, url: this.#client.url, key: this.key, owner: this.owner, generation: this.#generation, expiresAtMs: this.#expiresAtMs,
    };
    if (error !== undefined) message.error = error;
    leaseChannel.publish(message);
  }
}

function heldError(key: string, record: LeaseRecord, cause?: unknown): LtxvfsError {
  const by = record.owner === '' ? '' : ` by ${record.owner}`;
  return new LtxvfsError(
    'LTXVFS_ERR_LEASE_HELD',
    `lease already held${by} until ${record.expiresAt} (generation ${record.generation}, ${key})`,
    { key, cause },
  );
}
