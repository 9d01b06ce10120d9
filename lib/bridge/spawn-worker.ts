/**
 * Start a worker thread on one of ltxvfs's own modules. Installed, the modules are
 * compiled JavaScript and the worker starts on the `.js` file. Run from the TypeScript
 * sources (tests, `tsx bench/…`), the entry is a `.ts` file: tap's loader (`--import`)
 * is inherited by workers, but tsx registers its hooks in the main thread only, so under
 * tsx the worker first registers them itself (`tsx/esm/api`).
 */
import { Worker, type WorkerOptions } from 'node:worker_threads';

/** The URL of module `name` (without extension) next to `base` (an `import.meta.url`), `.ts` when `base` is. */
export function siblingModule(base: string, name: string): URL {
  return new URL(`./${name}${base.endsWith('.ts') ? '.ts' : '.js'}`, base);
}

/** Start a worker on `entry` (see the module comment). */
export function spawnWorker(entry: URL, options: WorkerOptions = {}): Worker {
  if (entry.pathname.endsWith('.ts') && process.execArgv.some((a) => a.includes('/tsx/'))) {
    const api = import.meta.resolve('tsx/esm/api');
    const boot = `import(${JSON.stringify(api)}).then((tsx) => { tsx.register(); return import(${JSON.stringify(entry.href)}); })
      .catch((err) => { setImmediate(() => { throw err; }); });`;
    return new Worker(boot, { ...options, eval: true });
  }
  return new Worker(entry, options);
}
