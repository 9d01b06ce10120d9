import t from 'tap';
import {
  backoffDelayMs, checkRetryPolicy, DEFAULT_RETRY_POLICY, RetryExhaustedError, sleep, TransientError, withRetry, type RetryPolicy,
} from '../../../lib/storage/retry.js';

const FAST: RetryPolicy = { maxAttempts: 5, budgetMs: 10_000, baseDelayMs: 1, maxDelayMs: 4 };

t.test('defaults: 10 attempts within 30 s, backoff 100 ms doubling to 5 s', async (t) => {
  t.same({ ...DEFAULT_RETRY_POLICY }, { maxAttempts: 10, budgetMs: 30_000, baseDelayMs: 100, maxDelayMs: 5_000 });
  t.ok(Object.isFrozen(DEFAULT_RETRY_POLICY));
  t.equal(checkRetryPolicy(DEFAULT_RETRY_POLICY), undefined);
});

t.test('full jitter: uniform below min(max, base * 2^(n-1))', async (t) => {
  const p = DEFAULT_RETRY_POLICY;
  t.equal(backoffDelayMs(1, p, () => 0), 0);
  t.equal(backoffDelayMs(1, p, () => 0.5), 50);
  t.equal(backoffDelayMs(3, p, () => 0.5), 200);
  t.equal(backoffDelayMs(7, p, () => 0.5), 2500, 'capped at maxDelayMs');
  t.equal(backoffDelayMs(2000, p, () => 0.5), 2500, 'no overflow for huge retry counts');
  const d = backoffDelayMs(2, p);
  t.ok(d >= 0 && d < 200, 'Math.random by default');
});

t.test('the first success is returned; attempts are numbered and see the previous error', async (t) => {
  const seen: Array<[number, string | undefined]> = [];
  const retried: Array<[string, number]> = [];
  const result = await withRetry(async ({ attempt, previous }) => {
    seen.push([attempt, previous?.message]);
    if (attempt < 3) throw new TransientError(new Error(`flaky ${attempt}`));
    return 'ok';
  }, FAST, { onRetry: (err, n) => void retried.push([err.message, n]) });
  t.equal(result, 'ok');
  t.same(seen, [[1, undefined], [2, 'flaky 1'], [3, 'flaky 2']]);
  t.same(retried, [['flaky 1', 1], ['flaky 2', 2]]);
});

t.test('a permanent error ends at once, unchanged', async (t) => {
  let calls = 0;
  const boom = new Error('permanent');
  await t.rejects(withRetry(async () => {
    calls++;
    throw boom;
  }, FAST), boom);
  t.equal(calls, 1);
});

t.test('attempts run out: RetryExhaustedError with the last error, count and time', async (t) => {
  let calls = 0;
  const err = await withRetry(async () => {
    calls++;
    throw new TransientError(new Error(`try ${calls}`));
  }, { ...FAST, maxAttempts: 3 }).catch((e: unknown) => e);
  t.equal(calls, 3);
  t.ok(err instanceof RetryExhaustedError);
  const e = err as RetryExhaustedError;
  t.equal(e.last.message, 'try 3');
  t.equal(e.attempts, 3);
  t.match(e.message, /^try 3 \(gave up after 3 attempts in \d+ ms\)$/);
  t.equal(e.cause, e.last);

  const one = await withRetry(async () => {
    throw new TransientError(new Error('x'));
  }, { ...FAST, maxAttempts: 1 }).catch((e: unknown) => e as RetryExhaustedError);
  t.match(one.message, /gave up after 1 attempt in/);
});

t.test('the budget bounds when retries may start (injected clock)', async (t) => {
  let clock = 0;
  let calls = 0;
  const err = await withRetry(async () => {
    calls++;
    clock += 400; // each attempt "takes" 400 ms
    throw new TransientError(new Error('slow'));
  }, { maxAttempts: 100, budgetMs: 1000, baseDelayMs: 1, maxDelayMs: 1 }, { now: () => clock, random: () => 0.5 }).catch((e: unknown) => e as RetryExhaustedError);
  t.equal(calls, 3, 'attempts start at 0, 400, 800; one at 1200 would exceed 1000');
  t.equal(err.elapsedMs, 1200);
  t.match(err.message, /gave up after 3 attempts in 1\.2 s/);
});

t.test('an abort during a backoff sleep ends the retries with the abort reason', async (t) => {
  const ac = new AbortController();
  const reason = new Error('closed');
  const p = withRetry(async () => {
    setTimeout(() => ac.abort(reason), 5);
    throw new TransientError(new Error('down'));
  }, { maxAttempts: 5, budgetMs: 60_000, baseDelayMs: 10_000, maxDelayMs: 10_000 }, { signal: ac.signal, random: () => 0.9 });
  await t.rejects(p, reason);
});

t.test('sleep resolves, or rejects with the reason of an already aborted signal', async (t) => {
  await sleep(1);
  await sleep(1, new AbortController().signal);
  const ac = new AbortController();
  ac.abort(new Error('gone'));
  await t.rejects(sleep(10, ac.signal), { message: 'gone' });
});

t.test('checkRetryPolicy names the bad field', async (t) => {
  t.equal(checkRetryPolicy({ ...FAST, maxAttempts: 0 }), 'bad maxAttempts 0: need an integer >= 1');
  t.equal(checkRetryPolicy({ ...FAST, maxAttempts: 1.5 }), 'bad maxAttempts 1.5: need an integer >= 1');
  t.equal(checkRetryPolicy({ ...FAST, budgetMs: -1 }), 'bad retryBudgetMs -1: need a finite number >= 0');
  t.equal(checkRetryPolicy({ ...FAST, budgetMs: Infinity }), 'bad retryBudgetMs Infinity: need a finite number >= 0');
  t.equal(checkRetryPolicy({ ...FAST, baseDelayMs: 0 }), 'bad baseDelayMs 0: need a finite number > 0');
  t.equal(checkRetryPolicy({ ...FAST, baseDelayMs: NaN }), 'bad baseDelayMs NaN: need a finite number > 0');
  t.equal(checkRetryPolicy({ ...FAST, baseDelayMs: Infinity, maxDelayMs: Infinity }), 'bad baseDelayMs Infinity: need a finite number > 0');
  t.equal(checkRetryPolicy({ ...FAST, maxDelayMs: 0.5 }), 'bad maxDelayMs 0.5: need a finite number >= baseDelayMs');
  t.equal(checkRetryPolicy({ ...FAST, baseDelayMs: 1, maxDelayMs: Infinity }), 'bad maxDelayMs Infinity: need a finite number >= baseDelayMs');
});
