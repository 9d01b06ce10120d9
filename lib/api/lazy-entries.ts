/**
 * Entry points of the package whose modules load on their first call: the tools (compact,
 * import, restore, verify) and the sql.js adapter. `import('ltxvfs')` is most of a cold
 * start on a directory replica — 137 modules, 100–120 ms of a fresh process's 245 ms to
 * the first row (docs/bench.md, "Cold process with the library's loading counted") — and a
 * service that only calls `openDatabase` needs none of these. Each wrapper has the type of
 * the function it forwards to; its docs are that function's.
 */
import type * as Compact from '../tools/compact.js';
import type * as Import from '../tools/import.js';
import type * as Restore from '../tools/restore.js';
import type * as Verify from '../tools/verify.js';
import type * as SqlJs from '../../vfs/sqljs/index.js';
import { LtxvfsError } from '../../ltx/errors.js';

/** See lib/tools/compact.ts `compactReplica`. */
export const compactReplica: typeof Compact.compactReplica = async (...args) => (await import('../tools/compact.js')).compactReplica(...args);

/** See lib/tools/import.ts `importDatabase`. */
export const importDatabase: typeof Import.importDatabase = async (...args) => (await import('../tools/import.js')).importDatabase(...args);

/** See lib/tools/restore.ts `restoreDatabase`. */
export const restoreDatabase: typeof Restore.restoreDatabase = async (...args) => (await import('../tools/restore.js')).restoreDatabase(...args);

/** See lib/tools/verify.ts `verifyReplica`. */
export const verifyReplica: typeof Verify.verifyReplica = async (...args) => (await import('../tools/verify.js')).verifyReplica(...args);

/** The sql.js adapter once loaded: by `loadSqlJs`, which every sql.js database comes from. */
let sqljs: typeof SqlJs | undefined;

async function sqlJsAdapter(): Promise<typeof SqlJs> {
  return (sqljs ??= await import('../../vfs/sqljs/index.js'));
}

/** See vfs/sqljs/index.ts `loadSqlJs`. */
export const loadSqlJs: typeof SqlJs.loadSqlJs = async (...args) => (await sqlJsAdapter()).loadSqlJs(...args);

/** See vfs/sqljs/index.ts `openSqlJs`. */
export const openSqlJs: typeof SqlJs.openSqlJs = async (...args) => (await sqlJsAdapter()).openSqlJs(...args);

/**
 * See vfs/sqljs/index.ts `sqlJsStats`. Before the adapter is loaded no database can come
 * from `openSqlJs` (it needs `loadSqlJs`'s module).
 * @throws LtxvfsError `LTXVFS_ERR_USAGE` for a database that is not from `openSqlJs`.
 */
export const sqlJsStats: typeof SqlJs.sqlJsStats = (...args) => {
  if (sqljs === undefined) throw new LtxvfsError('LTXVFS_ERR_USAGE', 'not a database from openSqlJs');
  return sqljs.sqlJsStats(...args);
};
