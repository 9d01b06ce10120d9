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
 * create-only guard object `lock.json.replace` (holder and expiry inside, removed
 * afterwards; a guard left by a crashed process is cleared once it expires). That makes
 * the comparison and the rename one step for everyone who follows this protocol.
 * Litestream has no directory leaser, so nothing else writes there.
 */
import { channel } from 'node:diagnostics_channel';
import { EventEmitter } from 'node:events';
import { isLtxvfsError, LtxvfsError } from '../../ltx/errors.js';
import { formatRfc3339Nano } from '../storage/rfc3339.js';
import type { ReplicaClient } from '../storage/types.js';
import { decodeLeaseRecord, defaultLeaseOwner, encodeLeaseRecord, LEASE_OBJECT_NAME, readLease, type LeaseRecord } from './lease-record.js';

export { decodeLeaseRecord, defaultLeaseOwner, encodeLeaseRecord, LEASE_OBJECT_NAME, readLease, type LeaseRecord } from './lease-record.js';

/** Default time to live of a lease, ms (litestream `DefaultLeaseTTL`, 30 s). */
export const DEFAULT_LEASE_TTL_MS = 30_000;

/** Options of {@link Lease.acquire}. */
export interface LeaseOptions {
  /** Time to live, ms: `expires_at = now + ttlMs` at acquire and every renewal. Default 30 000. */
  ttlMs?: number;
  /** Holder written into `owner`. Default {@link defaultLeaseOwner}. */
  owner?: string;
  /** Clock, ms since the Unix epoch. Default `Date.now`. Expiry is always judged on this local clock. */
  now?: () => number;
  /** Renew in the background every `ttlMs / 3` (an unref'd timer). Default true. */
  renew?: boolean;
  /**
   * Wait this long before retrying a renewal that failed with anything but a lost lease, ms.
   * Retries go on until the lease expires. Default `min(1000, ttlMs / 10)`.
   */
  renewRetryMs?: number;
  /**
   * Replace and delete `lock.json` only while holding the `lock.json.replace` guard (module
   * doc). Default: true when the client declares `capabilities.leaseLock` `'replace-guard'`
   * (a directory, whose if-match is not atomic); false for `'conditional-write'` (S3 checks
   * If-Match itself).
   */
  guardReplace?: boolean;
}

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
  #timer: NodeJS.Timeout | undefined;
  #renewing: Promise<void> | undefined;

  private constructor(client: ReplicaClient, key: string, settings: Settings, generation: number, etag: string, expiresAtMs: number) {
    super();
    this.#client = client;
    this.key = key;
    this.owner = settings.owner;
    this.ttlMs = settings.ttlMs;
    this.#now = settings.now;
    this.#retryMs = settings.retryMs;
    this.#guard = settings.guard;
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
    const settings = settingsOf(client, options);
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
    this.#timer = setTimeout(() => void this.#tick(), delayMs);
    this.#timer.unref();
  }

  async #tick(): Promise<void> {
    this.#timer = undefined;
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
    if (this.#timer !== undefined) clearTimeout(this.#timer);
    this.#timer = undefined;
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

  #settings(): Settings {
    return { owner: this.owner, ttlMs: this.ttlMs, now: this.#now, renew: false, retryMs: this.#retryMs, guard: this.#guard };
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

interface Settings {
  owner: string;
  ttlMs: number;
  now: () => number;
  renew: boolean;
  retryMs: number;
  guard: boolean;
}

function settingsOf(client: ReplicaClient, options: LeaseOptions): Settings {
  const ttlMs = options.ttlMs ?? DEFAULT_LEASE_TTL_MS;
  if (!Number.isFinite(ttlMs) || ttlMs <= 0) {
    throw new LtxvfsError('LTXVFS_ERR_USAGE', `bad lease ttlMs ${String(ttlMs)}: need a positive number of ms`);
  }
  const retryMs = options.renewRetryMs ?? Math.min(1000, ttlMs / 10);
  if (!Number.isFinite(retryMs) || retryMs < 0) {
    throw new LtxvfsError('LTXVFS_ERR_USAGE', `bad lease renewRetryMs ${String(retryMs)}: need a number of ms >= 0`);
  }
  const { leaseLock } = client.capabilities;
  if (leaseLock === 'none') {
    throw new LtxvfsError('LTXVFS_ERR_UNSUPPORTED', `${client.url}: this storage has no conditional writes, so no write lease can be held on it`, {
      key: client.url,
    });
  }
  return {
    owner: options.owner ?? defaultLeaseOwner(),
    ttlMs,
    now: options.now ?? Date.now,
    renew: options.renew ?? true,
    retryMs,
    guard: options.guardReplace ?? leaseLock === 'replace-guard',
  };
}

function heldError(key: string, record: LeaseRecord, cause?: unknown): LtxvfsError {
  const by = record.owner === '' ? '' : ` by ${record.owner}`;
  return new LtxvfsError(
    'LTXVFS_ERR_LEASE_HELD',
    `lease already held${by} until ${record.expiresAt} (generation ${record.generation}, ${key})`,
    { key, cause },
  );
}

/**
 * Run `fn` (a replace or delete of `key`) while holding the create-only guard
 * `<key>.replace` when `settings.guard` (module doc). A guard that is held and not expired
 * makes this fail with `LTXVFS_ERR_CONFLICT`; an expired one (its holder died) is removed first.
 */
async function guarded<T>(client: ReplicaClient, key: string, settings: Settings, fn: () => Promise<T>): Promise<T> {
  if (!settings.guard) return fn();
  const guardKey = `${key}.replace`;
  const body = encodeLeaseRecord({ generation: 1, expiresAtMs: settings.now() + settings.ttlMs, owner: settings.owner });
  let etag: string | undefined;
  for (let attempt = 0; etag === undefined; attempt++) {
    try {
      ({ etag } = await client.write(guardKey, body, { ifNoneMatch: true, contentType: 'application/json' }));
    } catch (err) {
      if (!isLtxvfsError(err, 'LTXVFS_ERR_PRECONDITION')) throw err;
      const held = await client.read(guardKey).catch((e: unknown) => {
        if (isLtxvfsError(e, 'LTXVFS_ERR_NOT_FOUND')) return undefined;
        throw e;
      });
      const record = held === undefined ? undefined : decodeLeaseRecord(held.data, guardKey);
      if (attempt > 0 || (record !== undefined && settings.now() <= record.expiresAtMs)) {
        throw new LtxvfsError('LTXVFS_ERR_CONFLICT', `${key} is being replaced by ${record?.owner ?? 'another writer'} (guard ${guardKey})`, {
          key: guardKey,
          cause: err,
        });
      }
      if (held !== undefined) await client.delete(guardKey, { ifMatch: held.etag }).catch(() => undefined);
    }
  }
  try {
    return await fn();
  } finally {
    await client.delete(guardKey, { ifMatch: etag }).catch(() => undefined);
  }
}
