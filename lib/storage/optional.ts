/**
 * Load a backend's vendor library, an optional peer dependency of ltxvfs, only when a
 * replica of its scheme is opened. A missing package is a usage error that names it and the
 * command that installs it, not Node's bare `ERR_MODULE_NOT_FOUND`.
 */
import { LtxvfsError } from '../../ltx/errors.js';

/**
 * `import(pkg)` through the given loader (a literal `() => import('pkg')` at the call site,
 * so bundlers see the specifier).
 * @param pkg the npm package name, for the message.
 * @param scheme the URL scheme that needs it, for the message.
 * @throws LtxvfsError `LTXVFS_ERR_USAGE` "<scheme>:// replicas need the optional package <pkg>,
 *   which is not installed: npm install <pkg>" when the package (not one of its own imports) is missing.
 */
export async function loadOptional<T>(pkg: string, scheme: string, load: () => Promise<T>): Promise<T> {
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
