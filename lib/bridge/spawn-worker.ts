/**
 * Start a worker thread on one of ltxvfs's own modules. Installed, the modules are
 * compiled JavaScript and the worker starts on the `.js` file. Run from the TypeScript
 * sources (tests, `tsx bench/…`), the entry is a `.ts` file: tap's loader (`--import`)
 * is inherited by workers, but tsx registers its hooks in the main thread only, so under
 * tsx the worker first registers them itself (`tsx/esm/api`).
 *
 * In an app bundled with esbuild (ltx/bundled.ts) the spawning code lives in the bundle
 * and no module is next to it: the caller passes the copy of its module that the package
 * build embedded (the worker engine passes vfs/worker/main-embedded.ts), and the worker
 * starts from it as a `data:` URL module (docs/deploy.md). Other workers (the sql.js
 * engine's fetch thread) are not embedded: their absence is an `LTXVFS_ERR_UNSUPPORTED`
 * error naming the missing file. (The embedded copy is the caller's, so that this module
 * imports nothing above the bridge.)
 */
import { fileURLToPath } from 'node:url';
import { Worker, type WorkerOptions } from 'node:worker_threads';
import { IN_BUNDLE } from '../../ltx/bundled.js';
import { LtxvfsError } from '../../ltx/errors.js';

/** The URL of module `name` (without extension) next to `base` (an `import.meta.url`), `.ts` when `base` is. */
export function siblingModule(base: string, name: string): URL {
  return new URL(`./${name}${base.endsWith('.ts') ? '.ts' : '.js'}`, base);
}

/**
 * Start a worker on `entry` (see the module comment): the module file, or in a bundle
 * `embedded`, the build's copy of that module.
 * @param embedded the module's embedded text (undefined: none, or a build without it).
 * @throws LtxvfsError `LTXVFS_ERR_UNSUPPORTED` in a bundle when `embedded` is undefined
 *   (the sql.js engine's fetch thread), naming the file.
 */
export function spawnWorker(entry: URL, options: WorkerOptions = {}, embedded?: string): Worker {
  if (IN_BUNDLE) return new Worker(embeddedWorker(entry, embedded), options);
  if (entry.pathname.endsWith('.ts') && process.execArgv.some((a) => a.includes('/tsx/'))) {
    const api = import.meta.resolve('tsx/esm/api');
    const boot = `import(${JSON.stringify(api)}).then((tsx) => { tsx.register(); return import(${JSON.stringify(entry.href)}); })
      .catch((err) => { setImmediate(() => { throw err; }); });`;
    return new Worker(boot, { ...options, eval: true });
  }
  return new Worker(entry, options);
}

/** The embedded copy `code` of the module `entry` names, as a `data:` URL. */
function embeddedWorker(entry: URL, code: string | undefined): URL {
  if (code === undefined) {
    const path = fileURLToPath(entry);
    throw new LtxvfsError('LTXVFS_ERR_UNSUPPORTED',
      `${path}: worker module missing; an app bundled with esbuild carries only the worker engine's thread (engine: 'worker'), not the sql.js engine's fetch thread — run openSqlJs from an installed ltxvfs (docs/deploy.md)`,
      { key: path });
  }
  return new URL(`data:text/javascript;base64,${Buffer.from(code).toString('base64')}`);
}
