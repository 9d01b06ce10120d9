/**
 * Start a worker thread on one of ltxvfs's own modules. Installed, the modules are
 * compiled JavaScript and the worker starts on the `.js` file. Run from the TypeScript
 * sources (tests, `tsx bench/…`), the entry is a `.ts` file: tap's loader (`--import`)
 * is inherited by workers, but tsx registers its hooks in the main thread only, so under
 * tsx the worker first registers them itself (`tsx/esm/api`).
 *
 * In an app bundled with esbuild (ltx/bundled.ts) the spawning code lives in the bundle
 * and no module is next to it: the worker engine's thread then starts from the copy of `worker-main` the
 * package build embedded (vfs/worker-main-embedded.ts), as a `data:` URL module
 * (docs/deploy.md). Other workers (the sql.js engine's fetch thread) are not embedded:
 * their absence is an `LTXVFS_ERR_UNSUPPORTED` error naming the missing file.
 */
import { fileURLToPath } from 'node:url';
import { Worker, type WorkerOptions } from 'node:worker_threads';
import { IN_BUNDLE } from '../../ltx/bundled.js';
import { LtxvfsError } from '../../ltx/errors.js';
import { EMBEDDED as WORKER_MAIN } from '../../vfs/worker-main-embedded.js';

/** Worker modules a bundle carries, by module name (without extension). */
const EMBEDDED_WORKERS: Readonly<Record<string, string | undefined>> = { 'worker-main': WORKER_MAIN };

/** The URL of module `name` (without extension) next to `base` (an `import.meta.url`), `.ts` when `base` is. */
export function siblingModule(base: string, name: string): URL {
  return new URL(`./${name}${base.endsWith('.ts') ? '.ts' : '.js'}`, base);
}

/**
 * Start a worker on `entry` (see the module comment): the module file, or in a bundle
 * the embedded copy of that module.
 * @throws LtxvfsError `LTXVFS_ERR_UNSUPPORTED` in a bundle that carries no copy of
 *   `entry` (the sql.js engine's fetch thread), naming the file.
 */
export function spawnWorker(entry: URL, options: WorkerOptions = {}): Worker {
  if (IN_BUNDLE) return new Worker(embeddedWorker(entry), options);
  if (entry.pathname.endsWith('.ts') && process.execArgv.some((a) => a.includes('/tsx/'))) {
    const api = import.meta.resolve('tsx/esm/api');
    const boot = `import(${JSON.stringify(api)}).then((tsx) => { tsx.register(); return import(${JSON.stringify(entry.href)}); })
      .catch((err) => { setImmediate(() => { throw err; }); });`;
    return new Worker(boot, { ...options, eval: true });
  }
  return new Worker(entry, options);
}

/** The embedded copy of the module `entry` names, as a `data:` URL. */
function embeddedWorker(entry: URL): URL {
  const name = (entry.pathname.split('/').pop() ?? '').replace(/\.[cm]?[jt]s$/, '');
  const code = Object.hasOwn(EMBEDDED_WORKERS, name) ? EMBEDDED_WORKERS[name] : undefined;
  if (code === undefined) {
    const path = fileURLToPath(entry);
    throw new LtxvfsError('LTXVFS_ERR_UNSUPPORTED',
      `${path}: worker module missing; an app bundled with esbuild carries only the worker engine's thread (engine: 'worker'), not the sql.js engine's fetch thread — run openSqlJs from an installed ltxvfs (docs/deploy.md)`,
      { key: path });
  }
  return new URL(`data:text/javascript;base64,${Buffer.from(code).toString('base64')}`);
}
