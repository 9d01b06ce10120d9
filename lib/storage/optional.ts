/**
 * Load a backend's vendor library, an optional peer dependency of ltxvfs, only when a
 * replica of its scheme is opened. A missing package is a usage error that names it and the
 * command that installs it, not Node's bare `ERR_MODULE_NOT_FOUND`.
 *
 * The package is imported by a name held in a variable, not a literal `import('pkg')`: a
 * bundler (esbuild) resolves literal specifiers at build time and fails on an optional
 * package the app did not install, although the app never opens that scheme. So the
 * backends' libraries stay outside a bundle and are loaded from `node_modules` at run time
 * (docs/deploy.md).
 */
import { LtxvfsError } from '../../ltx/errors.js';

/**
 * `import(pkg)`, or `load()` when given (tests pass a failing one).
 * @param pkg the npm package name: imported, and named in the message.
 * @param scheme the URL scheme that needs it, for the message.
 * @throws LtxvfsError `LTXVFS_ERR_USAGE` "<scheme>:// replicas need the optional package <pkg>,
 *   which is not installed: npm install <pkg>" when the package (not one of its own imports) is missing.
 */
export async function loadOptional<T>(pkg: string, scheme: string, load: () => Promise<T> = () => importByName<T>(pkg)): Promise<T> {
  try {
    return await load();
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    const message = (err as Error).message ?? '';
    if ((code === 'ERR_MODULE_NOT_FOUND' || code === 'MODULE_NOT_FOUND') && message.includes(`'${pkg}'`)) {
      throw new LtxvfsError('LTXVFS_ERR_USAGE', `${scheme}:// replicas need the optional package ${pkg}, which is not installed: npm install ${pkg}`, {
        key: pkg,
        cause: err,
      });
    }
    throw err;
  }
}

/** `import(name)` with the specifier in a variable, which bundlers leave to run time (module doc). */
function importByName<T>(name: string): Promise<T> {
  return import(name) as Promise<T>;
}
