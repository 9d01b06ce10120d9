/**
 * Retries with capped exponential backoff and full jitter, bounded by a time budget and
 * an attempt cap. Storage-agnostic: the operation itself says what is worth retrying by
 * throwing a {@link TransientError}; any other error ends the retries at once.
 *
 * Full jitter ("Exponential Backoff And Jitter", AWS Architecture Blog, 2015; the AWS
 * SDKs' standard retry mode): before retry n (n = 1, 2, …) sleep a uniform random time in
 * [0, min(maxDelayMs, baseDelayMs · 2^(n−1))). Clients that fail together then come back
 * spread out instead of in waves.
 *
 * The budget bounds the time spent *starting* attempts: no retry starts later than
 * `budgetMs` after the first one, so with a per-attempt timeout T the whole operation
 * ends within about `budgetMs + T`.
 */

import { LtxvfsError } from '../../ltx/errors.js';

/** How often and how long to retry. All times in ms. */
export interface RetryPolicy {
  /** Most attempts in all, the first included. ≥ 1. */
  maxAttempts: number;
  /** No retry starts later than this after the first attempt started. ≥ 0. */
  budgetMs: number;
  /** Backoff ceiling of the first retry; doubles with each retry. > 0. */
  baseDelayMs: number;
  /** Backoff ceiling never exceeds this. ≥ baseDelayMs. */
  maxDelayMs: number;
}

/**
 * Defaults for object storage: up to 10 attempts (Litestream's S3 client allows 10,
 * `transportRetryMaxAttempts` in s3/replica_client.go) within 30 s, backoff from 100 ms
 * (the AWS SDKs' base) to at most 5 s per wait.
 */
export const DEFAULT_RETRY_POLICY: Readonly<RetryPolicy> = Object.freeze({
  maxAttempts: 10,
  budgetMs: 30_000,
  baseDelayMs: 100,
  maxDelayMs: 5_000,
});

/**
 * The request deadline and retry options of the networked backends (s3://, gs://, …), as
 * users pass them; each backend turns them into its {@link RetryPolicy}. Times in ms.
 */
export interface RequestRetryOptions {
  /** Deadline of one HTTP request, headers and body, ms. Default 10 000. */
  requestTimeoutMs?: number;
  /** No retry starts later than this after the first attempt, ms. Default 30 000. */
  retryBudgetMs?: number;
  /** Most attempts per request, the first included. Default 10. */
  maxAttempts?: number;
  /** Backoff ceiling of the first retry, ms; doubles per retry. Default 100. */
  retryBaseDelayMs?: number;
  /** Largest backoff ceiling, ms. Default 5 000. */
  retryMaxDelayMs?: number;
}

/**
 * The {@link RetryPolicy} of a networked backend from the {@link RequestRetryOptions} a user
 * passed, each unset field from {@link DEFAULT_RETRY_POLICY} (an unset `retryMaxDelayMs` is
 * at least `retryBaseDelayMs`), checked by {@link checkRetryPolicy}.
 * @param where the replica or backend, for the message (`gs://bucket/path`).
 * @throws LtxvfsError `LTXVFS_ERR_USAGE` "<where>: bad <field> <value>: need …" for the first bad field.
 */
export function retryPolicyOf(options: RequestRetryOptions, where: string): RetryPolicy {
  const policy: RetryPolicy = {
    maxAttempts: options.maxAttempts ?? DEFAULT_RETRY_POLICY.maxAttempts,
    budgetMs: options.retryBudgetMs ?? DEFAULT_RETRY_POLICY.budgetMs,
    baseDelayMs: options.retryBaseDelayMs ?? DEFAULT_RETRY_POLICY.baseDelayMs,
    maxDelayMs: options.retryMaxDelayMs ?? Math.max(DEFAULT_RETRY_POLICY.maxDelayMs, options.retryBaseDelayMs ?? 0),
  };
  const bad = checkRetryPolicy(policy);
  if (bad !== undefined) throw new LtxvfsError('LTXVFS_ERR_USAGE', `${where}: ${bad}`, { key: where });
  return policy;
}

/** Thrown by an operation to ask for a retry; `error` is what the caller sees if retries run out. */
export class TransientError extends Error {
  override readonly name = 'TransientError';
  /** The error to report when no retry is left. */
  readonly error: Error;
  constructor(error: Error) {
    super(error.message, { cause: error });
    this.error = error;
  }
}

/** Thrown by {@link withRetry} when the last attempt failed transiently and no retry is left. */
export class RetryExhaustedError extends Error {
  override readonly name = 'RetryExhaustedError';
  /** The last attempt's error ({@link TransientError.error}). */
  readonly last: Error;
  /** Attempts made. */
  readonly attempts: number;
  /** Time from the first attempt's start to giving up, ms. */
  readonly elapsedMs: number;
  constructor(last: Error, attempts: number, elapsedMs: number) {
    super(`${last.message} (gave up after ${attempts} attempt${attempts === 1 ? '' : 's'} in ${formatMs(elapsedMs)})`, { cause: last });
    this.last = last;
    this.attempts = attempts;
    this.elapsedMs = elapsedMs;
  }
}

/** What an attempt knows about itself. */
export interface RetryAttempt {
  /** 1 for the first attempt. */
  attempt: number;
  /** The previous attempt's transient error, for attempts after the first. */
  previous: Error | undefined;
}

/** Hooks and injectable clocks (tests). */
export interface RetryHooks {
  /** Called before each retry's sleep with the error that caused it and the delay chosen. */
  onRetry?: (error: Error, attempt: number, delayMs: number) => void;
  /** Uniform random number in [0, 1). Default `Math.random`. */
  random?: () => number;
  /** Current time in ms. Default `performance.now`. */
  now?: () => number;
  /** Aborts a backoff sleep; the sleep then rejects with `signal.reason`. */
  signal?: AbortSignal;
}

/**
 * The backoff before retry `retry` (1 for the first retry), full jitter:
 * `random · min(maxDelayMs, baseDelayMs · 2^(retry−1))`, in ms.
 */
export function backoffDelayMs(retry: number, policy: RetryPolicy, random: () => number = Math.random): number {
  const ceiling = Math.min(policy.maxDelayMs, policy.baseDelayMs * 2 ** Math.min(retry - 1, 52));
  return random() * ceiling;
}

/**
 * Check a policy's numbers.
 * @returns a message naming the first bad field, or undefined when all are good.
 */
export function checkRetryPolicy(policy: RetryPolicy): string | undefined {
  const { maxAttempts, budgetMs, baseDelayMs, maxDelayMs } = policy;
  if (!Number.isSafeInteger(maxAttempts) || maxAttempts < 1) return `bad maxAttempts ${String(maxAttempts)}: need an integer >= 1`;
  if (!(budgetMs >= 0) || !Number.isFinite(budgetMs)) return `bad retryBudgetMs ${String(budgetMs)}: need a finite number >= 0`;
  if (!(baseDelayMs > 0) || !Number.isFinite(baseDelayMs)) return `bad baseDelayMs ${String(baseDelayMs)}: need a finite number > 0`;
  if (!(maxDelayMs >= baseDelayMs) || !Number.isFinite(maxDelayMs)) {
    return `bad maxDelayMs ${String(maxDelayMs)}: need a finite number >= baseDelayMs`;
  }
  return undefined;
}

/**
 * Run `op` until it succeeds, throws something other than a {@link TransientError}, or
 * the policy allows no further attempt.
 * @returns what `op` returned.
 * @throws whatever `op` threw that was not a TransientError (at once, unchanged);
 *   {@link RetryExhaustedError} when the attempts or the budget ran out;
 *   `hooks.signal.reason` when aborted during a backoff sleep.
 */
export async function withRetry<T>(
  op: (attempt: RetryAttempt) => Promise<T>,
  policy: RetryPolicy = DEFAULT_RETRY_POLICY,
  hooks: RetryHooks = {},
): Promise<T> {
  const now = hooks.now ?? (() => performance.now());
  const random = hooks.random ?? Math.random;
  const start = now();
  let previous: Error | undefined;
  let attempt = 0;
  for (;;) {
    attempt++;
    try {
      return await op({ attempt, previous });
    } catch (err) {
      if (!(err instanceof TransientError)) throw err;
      previous = err.error;
    }
    const delay = backoffDelayMs(attempt, policy, random);
    if (attempt >= policy.maxAttempts || now() - start + delay > policy.budgetMs) break;
    hooks.onRetry?.(previous, attempt, delay);
    await sleep(delay, hooks.signal);
  }
  throw new RetryExhaustedError(previous, attempt, now() - start);
}

/** Resolve after `ms`, or reject with `signal.reason` when it aborts first. */
export function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal?.aborted === true) {
      reject(signal.reason);
      return;
    }
    const onAbort = () => {
      clearTimeout(timer);
      reject(signal?.reason);
    };
    const timer = setTimeout(() => {
      signal?.removeEventListener('abort', onAbort);
      resolve();
    }, ms);
    signal?.addEventListener('abort', onAbort, { once: true });
  });
}

function formatMs(ms: number): string {
  return ms < 1000 ? `${Math.round(ms)} ms` : `${(ms / 1000).toFixed(1)} s`;
}
