/**
 * A value or a Promise of it: what the warm path's calls answer (lib/sql/sqlite-ops.ts
 * `stepNow`), so that a lookup that never waits makes no promise per layer it passes.
 */

/** `T` itself when it was ready, else a Promise of it. */
export type Now<T> = T | Promise<T>;

/** `f(value)` at once when `value` is ready, else when it resolves. */
export function then<T, U>(value: Now<T>, f: (v: T) => Now<U>): Now<U> {
  return value instanceof Promise ? value.then(f) : f(value);
}
