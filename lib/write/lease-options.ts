/**
 * The options of a write lease (lib/write/lease.ts) and the settings they resolve to:
 * time to live, holder, the clock expiry is judged on, background renewal and its timer,
 * the retry delay of failed renewals, and whether replaces of `lock.json` need the
 * create-only guard (lib/write/lease-guard.ts) — read off the storage client's declared
 * `capabilities.leaseLock`, never off its URL.
 */
import { LtxvfsError } from '../../ltx/errors.js';
import type { ReplicaClient } from '../storage/types.js';
import { timerSchedule, type PollSchedule } from '../read/poll-backoff.js';
import { defaultLeaseOwner } from './lease-record.js';

/** Default time to live of a lease, ms (litestream `DefaultLeaseTTL`, 30 s). */
export const DEFAULT_LEASE_TTL_MS = 30_000;

/**
 * Runs `run` once after `ms` milliseconds; returns a function that cancels it — the
 * poller's timer shape (lib/read/poll-backoff.ts). Tests pass timers that fire when the
 * test says (test/helpers/clock-timers.ts).
 */
export type LeaseSchedule = PollSchedule;

/** The real timer: an unref'd `setTimeout`, so a lease never keeps Node alive (the poller's). */
export const leaseTimer: LeaseSchedule = timerSchedule;

/** Options of `Lease.acquire`. */
export interface LeaseOptions {
  /** Time to live, ms: `expires_at = now + ttlMs` at acquire and every renewal. Default 30 000. */
  ttlMs?: number;
  /** Holder written into `owner`. Default {@link defaultLeaseOwner}. */
  owner?: string;
  /** Clock, ms since the Unix epoch. Default `Date.now`. Expiry is always judged on this local clock. */
  now?: () => number;
  /** Renew in the background every `ttlMs / 3`. Default true. */
  renew?: boolean;
  /** The timer of background renewals and their retries. Default {@link leaseTimer}. */
  schedule?: LeaseSchedule;
  /**
   * Wait this long before retrying a renewal that failed with anything but a lost lease, ms.
   * Retries go on until the lease expires. Default `min(1000, ttlMs / 10)`.
   */
  renewRetryMs?: number;
  /**
   * Replace and delete `lock.json` only while holding the `lock.json.replace` guard
   * (lib/write/lease-guard.ts). Default: true when the client declares
   * `capabilities.leaseLock` `'replace-guard'` (a directory, whose if-match is not
   * atomic); false for `'conditional-write'` (S3 checks If-Match itself).
   */
  guardReplace?: boolean;
}

/** {@link LeaseOptions} resolved: every default filled in, every value checked. */
export interface LeaseSettings {
  owner: string;
  ttlMs: number;
  now: () => number;
  renew: boolean;
  schedule: LeaseSchedule;
  retryMs: number;
  guard: boolean;
}

/**
 * Resolve and check `options` for a lease on `client`.
 * @throws LtxvfsError `LTXVFS_ERR_USAGE` for a `ttlMs` that is not a positive number or a
 *   `renewRetryMs` below 0 (naming the option and value); `LTXVFS_ERR_UNSUPPORTED` (key =
 *   the replica URL) when the client declares `capabilities.leaseLock` `'none'`.
 */
export function leaseSettings(client: ReplicaClient, options: LeaseOptions): LeaseSettings {
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
    schedule: options.schedule ?? leaseTimer,
    retryMs,
    guard: options.guardReplace ?? leaseLock === 'replace-guard',
  };
}
