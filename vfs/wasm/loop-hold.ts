/**
 * Keeping Node's event loop running while a WebAssembly compile or instantiation is pending.
 *
 * `WebAssembly.compile` and `WebAssembly.instantiate` settle through V8 foreground tasks,
 * which Node's platform hands to the event loop over an unref'd async handle: a pending
 * compile does not keep the loop alive. When nothing else does (a directory replica's
 * listing done, no socket open), `uv_run` returns and Node's loop
 * (`SpinEventLoopInternal`, Node 20) calls
 * `NodePlatform::DrainTasks`, which runs foreground tasks — the compile's continuation,
 * and with it the rest of the open and the first query — and between them blocks until
 * every V8 background task has finished, the TurboFan tier-up of SQLite's hottest wasm
 * functions included. I/O that completes meanwhile (the query's page reads) waits for
 * that: measured on a directory replica in a fresh process (2 cores), the first point
 * lookup took 270–860 ms, and 16–56 ms with the loop held (docs/engines.md, "The first
 * query of a process").
 *
 * {@link holdEventLoop} keeps a ref'd timer for as long as the promise is pending, so
 * `uv_run` keeps running and the foreground task wakes it like any other event. The
 * timer never fires; it is cleared when the promise settles. {@link compileOnce} is the
 * compile-once-per-thread both wa-sqlite builds use, held so.
 */

/** Longest delay Node's timers take (2³¹−1 ms): the hold's timer never fires. */
const NEVER_MS = 2 ** 31 - 1;

/**
 * `pending` (a compile or an instantiation), with Node's event loop kept alive (a ref'd
 * timer) until it settles (module doc). Holding both mattered: with the compile held
 * alone, the instantiation still let the loop run dry in the same place.
 * @returns `pending` itself.
 */
export function holdEventLoop<T>(pending: Promise<T>): Promise<T> {
  const timer = setInterval(() => undefined, NEVER_MS);
  const release = (): void => clearInterval(timer);
  pending.then(release, release);
  return pending;
}

/** The one `WebAssembly` function used here (not in the ES lib typings); the module is opaque. */
const wasm = (globalThis as unknown as { WebAssembly: { compile(bytes: Uint8Array): Promise<object> } }).WebAssembly;

/**
 * A function that compiles the binary `readBytes` gives on its first call, in the
 * background with the event loop held ({@link holdEventLoop}), and gives every later call
 * the same `WebAssembly.Module` (one compile per thread, shared by its connections). A
 * failed read or compile (a broken install) is not kept: the next call tries again.
 */
export function compileOnce(readBytes: () => Promise<Uint8Array>): () => Promise<object> {
  let compiled: Promise<object> | undefined;
  return () => {
    if (compiled === undefined) {
      const compiling = holdEventLoop(readBytes().then((bytes) => wasm.compile(bytes)));
      compiled = compiling;
      compiling.catch(() => {
        if (compiled === compiling) compiled = undefined;
      });
    }
    return compiled;
  };
}
