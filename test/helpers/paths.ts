/**
 * Locations the tests depend on: the repository, the fixtures in `fixtures/`, the real
 * Litestream VFS extension (npm `litestream-vfs-linux-amd64`), and the native `sqlite3` CLI.
 *
 * Nothing here touches the network or installs anything; `requireSqlite3()` only checks.
 */
import { spawnSync } from 'node:child_process'
import { existsSync } from 'node:fs'
import { createRequire } from 'node:module'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'

/** Absolute path of the repository root (the directory holding package.json), no trailing slash. */
export const REPO_ROOT: string = fileURLToPath(new URL('../../', import.meta.url)).replace(/\/$/, '')

/**
 * Absolute path of the repository's fixtures (`fixtures/`, copied from files Litestream wrote; provenance in each README), with a
 * trailing slash. Layout: `litestream-0.5.17/` (real LTX files, see its README) and
 * `chinook/Chinook_Sqlite.sqlite`. Treat everything in it as read-only: copy before writing.
 */
export const SHARED_FIXTURES: string = fileURLToPath(new URL('../../fixtures/', import.meta.url))

/** The real replica of five transactions written by the Litestream 0.5.17 VFS (a `file://` replica root). */
export const LITESTREAM_FIXTURE_REPLICA: string = join(SHARED_FIXTURES, 'litestream-0.5.17', 'replica')

/** The Chinook sample database (about 1 MiB, page size 4096, rollback journal). Copy it before use. */
export const CHINOOK_DB: string = join(SHARED_FIXTURES, 'chinook', 'Chinook_Sqlite.sqlite')

const require = createRequire(import.meta.url)

/**
 * Absolute path of `litestream-vfs.so` from the devDependency `litestream-vfs-linux-amd64`
 * (0.5.17, linux/amd64, glibc). Load it with entry point `sqlite3_litestreamvfs_init`
 * (docs/formats.md §6.1). Resolved through the package's package.json, so it works from any cwd.
 */
export const LITESTREAM_VFS_SO: string = join(
  dirname(require.resolve('litestream-vfs-linux-amd64/package.json')),
  'litestream-vfs.so',
)

/** Name of the native SQLite shell, looked up on PATH (Debian package `sqlite3`, 3.40.1 here). */
export const SQLITE3_BIN = 'sqlite3'

let sqlite3Version: string | undefined

/**
 * Checks that the `sqlite3` CLI runs and returns its version line (e.g.
 * `3.40.1 2022-12-28 …`). Throws an Error telling how to install it when it is missing;
 * CI installs it in `.ci/run`. The result is memoised.
 */
export function requireSqlite3(): string {
  if (sqlite3Version !== undefined) return sqlite3Version
  const r = spawnSync(SQLITE3_BIN, ['-version'], { encoding: 'utf8', timeout: 10_000 })
  if (r.error || r.status !== 0) {
    const why = r.error ? r.error.message : `exit ${r.status}: ${r.stderr}`
    throw new Error(
      `the native sqlite3 CLI is required by this test but could not be run (${why}); ` +
        'install it with `apt-get install -y sqlite3` (Debian/Ubuntu)',
    )
  }
  sqlite3Version = r.stdout.trim()
  return sqlite3Version
}

/** Throws a clear error when the Litestream VFS extension file is missing (e.g. `npm ci --omit=dev`). */
export function requireLitestreamVfs(): string {
  if (!existsSync(LITESTREAM_VFS_SO)) {
    throw new Error(`litestream VFS extension not found at ${LITESTREAM_VFS_SO}; run \`npm ci\` (devDependency litestream-vfs-linux-amd64)`)
  }
  return LITESTREAM_VFS_SO
}
