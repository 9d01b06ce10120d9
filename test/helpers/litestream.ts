/**
 * Drives the REAL Litestream VFS (npm `litestream-vfs-linux-amd64` 0.5.17) loaded into the
 * native `sqlite3` CLI, as the reference reader and writer of Litestream v0.5 replicas.
 *
 * How (observed with 0.5.17 on Debian sqlite3 3.40.1; see the fixture README "Driving the
 * real Litestream VFS in tests" and docs/formats.md §5.1, §6.1):
 *
 * - Every call is ONE child process: `sqlite3 -bail -init /dev/null`, fed on stdin
 *   `.bail on`, `.load '<so>' sqlite3_litestreamvfs_init`, `.open 'file:<dbName>?vfs=litestream'`,
 *   then the SQL. The VFS reads its configuration from the environment at process start,
 *   so each call gets its own environment: `LITESTREAM_REPLICA_URL`, `LITESTREAM_LOG_FILE`
 *   (a temp file; its content is returned and put into every error), for writes
 *   `LITESTREAM_WRITE_ENABLED=true` and `LITESTREAM_SYNC_INTERVAL`. Every `LITESTREAM_*`
 *   variable and `AWS_CA_BUNDLE` of this process are removed from the child's environment
 *   (with `AWS_CA_BUNDLE` set the extension's S3 client does not start).
 * - The database name in `.open` is cosmetic: the replica URL alone says where the LTX files
 *   are (`<dir>/ltx/<level>/…` for file://).
 * - Passing the URI as the CLI's database argument fails ("no such vfs"), and once the
 *   extension is loaded no non-litestream database can be opened in that process. So a
 *   process either talks to the replica only, or (copyDatabaseIntoLitestream) opens its
 *   native source database as the CLI's argument, which the CLI opens before `.load`.
 * - Writes: the VFS keeps dirty pages locally and uploads one LTX file per sync. These
 *   helpers set `LITESTREAM_SYNC_INTERVAL=24h` by default, so the only sync is the one at
 *   close: one process ⇒ one LTX file (TXID = previous + 1) holding everything the process
 *   committed. With shorter intervals a long-lived writer hits the 0.5.17 defect "database
 *   disk image is malformed" after a sync that grew the database (docs/formats.md §5.1).
 *   Statements in one `sql` string run in autocommit mode: if one fails, the earlier ones
 *   are still uploaded at exit (observed). Wrap them in `BEGIN; … COMMIT;` when they must
 *   be all-or-nothing; a failing statement inside BEGIN uploads nothing.
 * - Reads: opening a replica with no LTX files makes the VFS wait forever ("no backup files
 *   available yet, waiting"); `litestreamQuery` refuses empty file:// replicas up front, and
 *   every call has a time limit.
 * - Rows are read with `.mode json` (works the same under the VFS) after a sentinel line;
 *   see sqlite-cli.ts for the value mapping (BLOBs: select `hex(col)`). `PRAGMA
 *   litestream_txid` returns one column *named after its value*: prefer
 *   `SELECT litestream_txid() AS txid`.
 * - Errors raised by the litestream PRAGMAs arrive as a bare "SQL logic error" in 0.5.17;
 *   `litestream_set_time()` carries the message.
 * - `s3://` URLs are passed through unchanged (`?endpoint=http://127.0.0.1:PORT&forcePathStyle=true`);
 *   only file:// replicas can be listed here, so for s3 the checks use the VFS log.
 */
import { mkdtemp, readFile, readdir, rm, open, utimes, stat } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath, pathToFileURL } from 'node:url'
import { LITESTREAM_VFS_SO, requireLitestreamVfs } from './paths.js'
import {
  DEFAULT_SQLITE3_TIMEOUT_MS,
  type Row,
  type Sqlite3Run,
  clip,
  queryScript,
  runSqlite3,
  splitQueryOutput,
  terminate,
} from './sqlite-cli.js'

/** Options shared by every helper that starts a Litestream VFS process. */
export interface LitestreamProcessOptions {
  /** Extra environment for the child (`undefined` removes a variable), applied last. */
  env?: Record<string, string | undefined>
  /** Kill the child after this many milliseconds. Default 120 000. */
  timeoutMs?: number
  /** Name in `.open 'file:<dbName>?vfs=litestream'` (cosmetic, shows in the VFS log). Default `test.db`. */
  dbName?: string
}

export interface LitestreamWriteOptions extends LitestreamProcessOptions {
  /**
   * `LITESTREAM_SYNC_INTERVAL` (Go duration). Default `'24h'`: only the sync at close, so one
   * process writes exactly one LTX file. `null` leaves Litestream's default (1s).
   */
  syncInterval?: string | null
  /** Do not throw when the process uploaded no LTX file (e.g. a no-op UPDATE). Default false. */
  allowNoop?: boolean
}

/** What one Litestream write process did. */
export interface LitestreamWriteResult {
  /** TXIDs the VFS reported as "synced to remote", 16 lower-case hex digits each, in order. */
  txids: string[]
  /** file:// only: absolute paths of the LTX files that appeared (any level), sorted; [] for s3. */
  files: string[]
  /** Content of LITESTREAM_LOG_FILE. */
  log: string
  /** Standard output of the CLI (list mode). */
  stdout: string
  durationMs: number
}

/** Outcome of one raw Litestream VFS process (`litestreamRun`). */
export interface LitestreamRun extends Sqlite3Run {
  /** Content of LITESTREAM_LOG_FILE. */
  log: string
}

/** One LTX file of a file:// replica. */
export interface LtxFileEntry {
  level: number
  minTxid: bigint
  maxTxid: bigint
  name: string
  path: string
}

/** `file://` URL of a local replica directory (absolute path required). */
export function fileReplicaUrl(dir: string): string {
  return pathToFileURL(dir).href
}

/** The local directory of a `file://` replica URL, or undefined for other schemes. */
export function replicaDirOf(replicaUrl: string): string | undefined {
  return replicaUrl.startsWith('file://') ? fileURLToPath(replicaUrl) : undefined
}

/**
 * Lists the LTX files of a file:// replica directory, all levels (`ltx/<level>/<min>-<max>.ltx`,
 * docs/formats.md §4.1), sorted by level then minTXID. A missing directory lists as [].
 */
export async function listLtxFiles(replicaDir: string): Promise<LtxFileEntry[]> {
  const root = join(replicaDir, 'ltx')
  let levels: string[]
  try {
    levels = await readdir(root)
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return []
    throw e
  }
  const out: LtxFileEntry[] = []
  for (const lv of levels) {
    if (!/^\d+$/.test(lv)) continue
    for (const name of await readdir(join(root, lv))) {
      const m = /^([0-9a-f]{16})-([0-9a-f]{16})\.ltx$/.exec(name)
      if (!m) continue
      out.push({ level: Number(lv), minTxid: BigInt('0x' + m[1]), maxTxid: BigInt('0x' + m[2]), name, path: join(root, lv, name) })
    }
  }
  out.sort((a, b) => a.level - b.level || (a.minTxid < b.minTxid ? -1 : a.minTxid > b.minTxid ? 1 : 0))
  return out
}

/**
 * Sets every LTX file's mtime in a file:// replica to its header timestamp (ms at byte
 * offset 32, docs/formats.md §1.3). The file backend takes createdAt from the mtime, so time
 * travel on a copied or checked-out replica needs this (fixture README "File times matter").
 * Returns the number of files touched.
 */
export async function setLtxMtimesFromHeaders(replicaDir: string): Promise<number> {
  const files = await listLtxFiles(replicaDir)
  for (const f of files) {
    const fh = await open(f.path, 'r')
    try {
      const buf = Buffer.alloc(8)
      const { bytesRead } = await fh.read(buf, 0, 8, 32)
      if (bytesRead !== 8) throw new Error(`${f.path}: too short for an LTX header`)
      const when = new Date(Number(buf.readBigInt64BE(0)))
      await utimes(f.path, when, when)
    } finally {
      await fh.close()
    }
  }
  return files.length
}

/** Builds the child environment: ours minus AWS_CA_BUNDLE and LITESTREAM_*, plus `vars`, plus `extra`. */
function childEnv(vars: Record<string, string>, extra: Record<string, string | undefined> | undefined): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {}
  for (const [k, v] of Object.entries(process.env)) {
    if (k === 'AWS_CA_BUNDLE' || k.startsWith('LITESTREAM_')) continue
    env[k] = v
  }
  Object.assign(env, vars)
  for (const [k, v] of Object.entries(extra ?? {})) {
    if (v === undefined) delete env[k]
    else env[k] = v
  }
  return env
}

function checkUrl(replicaUrl: string): void {
  if (!/^(file|s3|abs|gs|sftp|webdavs?|nats):\/\//.test(replicaUrl)) throw new Error(`replica URL must be one of Litestream's schemes (file, s3, abs, gs, sftp, webdav[s], nats), got ${replicaUrl}`)
  if (replicaUrl.startsWith('file://') && !replicaDirOf(replicaUrl)!.startsWith('/')) {
    throw new Error(`file:// replica URL must hold an absolute path, got ${replicaUrl}`)
  }
}

/** Single-quoted argument of a CLI dot-command (no escapes inside single quotes). */
function dotArg(s: string): string {
  if (s.includes("'") || s.includes('\n')) throw new Error(`cannot pass ${JSON.stringify(s)} to a sqlite3 dot-command`)
  return `'${s}'`
}

function openCommand(dbName: string): string {
  if (/[?#]/.test(dbName)) throw new Error(`dbName must not contain ? or #: ${dbName}`)
  return `.open ${dotArg(`file:${dbName}?vfs=litestream`)}\n`
}

interface SpawnVfsOptions extends LitestreamProcessOptions {
  write?: boolean
  syncInterval?: string | null
  /** CLI arguments after `-bail -init /dev/null` (e.g. a native database to open before `.load`). */
  args?: string[]
}

/** Starts one sqlite3 process with the VFS loaded; `body` follows the `.load` line. */
async function spawnWithVfs(replicaUrl: string, body: string, opts: SpawnVfsOptions): Promise<LitestreamRun> {
  checkUrl(replicaUrl)
  requireLitestreamVfs()
  const logDir = await mkdtemp(join(tmpdir(), 'ltxvfs-litestream-log-'))
  const logFile = join(logDir, 'litestream.log')
  try {
    // TMPDIR: the VFS makes a `litestream-vfs-*` directory there (os.MkdirTemp) and leaves it
    // behind; under logDir it goes with the run (a test run left ~1,000 in /tmp before).
    const vars: Record<string, string> = { LITESTREAM_REPLICA_URL: replicaUrl, LITESTREAM_LOG_FILE: logFile, TMPDIR: logDir }
    if (opts.write) {
      vars.LITESTREAM_WRITE_ENABLED = 'true'
      const interval = opts.syncInterval === undefined ? '24h' : opts.syncInterval
      if (interval !== null) vars.LITESTREAM_SYNC_INTERVAL = interval
    }
    const run = await runSqlite3({
      args: opts.args,
      stdin: `.bail on\n.load ${dotArg(LITESTREAM_VFS_SO)} sqlite3_litestreamvfs_init\n${body}`,
      env: childEnv(vars, opts.env),
      timeoutMs: opts.timeoutMs ?? DEFAULT_SQLITE3_TIMEOUT_MS,
    })
    let log = ''
    try {
      log = await readFile(logFile, 'utf8')
    } catch {
      // The VFS creates the log lazily; no file means it logged nothing.
    }
    return { ...run, log }
  } finally {
    await rm(logDir, { recursive: true, force: true })
  }
}

/**
 * Runs a script (SQL and dot-commands) against the replica through the Litestream VFS in
 * one process, read-only unless `write` is set. Never throws for SQL errors: look at
 * `code`, `stderr`, `log`. For tests that expect the VFS to fail, or need raw output.
 */
export function litestreamRun(
  replicaUrl: string,
  script: string,
  opts: LitestreamProcessOptions & { write?: boolean; syncInterval?: string | null } = {},
): Promise<LitestreamRun> {
  return spawnWithVfs(replicaUrl, openCommand(opts.dbName ?? 'test.db') + terminate(script), opts)
}

function describe(run: LitestreamRun, extra = ''): string {
  return `--- stdout ---\n${clip(run.stdout, 2000)}\n--- litestream log ---\n${clip(run.log.trim() || '(empty)')}${extra}`
}

function failRun(what: string, run: LitestreamRun, sql: string, extra = ''): never {
  const how = run.timedOut ? `timed out after ${Math.round(run.durationMs)} ms` : run.signal ? `killed by ${run.signal}` : `exit ${run.code}`
  throw new Error(`${what} failed (${how}): ${run.stderr.trim() || '(no stderr)'}\n--- SQL ---\n${clip(sql)}\n${describe(run, extra)}`)
}

/** TXIDs from the VFS log's `msg="synced to remote" … txid=<hex>` lines. */
export function syncedTxids(log: string): string[] {
  const out: string[] = []
  for (const line of log.split('\n')) {
    if (!line.includes('msg="synced to remote"')) continue
    const m = /\btxid=([0-9a-f]{16})\b/.exec(line)
    if (m) out.push(m[1])
  }
  return out
}

/** Log lines at level ERROR (e.g. `failed to sync on close`, which still exits 0). */
export function logErrors(log: string): string[] {
  return log.split('\n').filter((l) => /\blevel=ERROR\b/.test(l))
}

async function finishWrite(
  what: string,
  replicaUrl: string,
  sql: string,
  before: LtxFileEntry[] | undefined,
  run: LitestreamRun,
  allowNoop: boolean,
): Promise<LitestreamWriteResult> {
  const dir = replicaDirOf(replicaUrl)
  let files: string[] = []
  if (dir !== undefined) {
    const known = new Set((before ?? []).map((f) => f.path))
    files = (await listLtxFiles(dir)).filter((f) => !known.has(f.path)).map((f) => f.path)
  }
  const txids = syncedTxids(run.log)
  const newFiles = files.length ? `\n--- new LTX files (uploaded before the failure, still in the replica) ---\n${files.join('\n')}` : ''
  if (run.code !== 0 || run.timedOut) failRun(what, run, sql, newFiles)
  const errors = logErrors(run.log)
  if (errors.length) throw new Error(`${what}: the Litestream VFS logged errors:\n${errors.join('\n')}\n--- SQL ---\n${clip(sql)}\n${describe(run, newFiles)}`)
  if (!allowNoop && txids.length === 0 && files.length === 0) {
    throw new Error(`${what}: no LTX file was uploaded (the SQL changed nothing?)\n--- SQL ---\n${clip(sql)}\n${describe(run)}`)
  }
  if (dir !== undefined) {
    const expected = txids.map((t) => `${t}-${t}.ltx`).sort()
    const got = files.map((p) => p.slice(p.lastIndexOf('/') + 1)).sort()
    if (JSON.stringify(expected) !== JSON.stringify(got)) {
      throw new Error(`${what}: the VFS log reports TXIDs [${txids.join(', ')}] but these LTX files appeared: [${got.join(', ')}]\n${describe(run)}`)
    }
  }
  return { txids, files, log: run.log, stdout: run.stdout, durationMs: run.durationMs }
}

/**
 * Runs `sql` in ONE write-mode Litestream VFS process and checks that it uploaded an LTX
 * file (one per process with the default sync interval; for file:// replicas the new file
 * `<txid>-<txid>.ltx` must appear). Throws with stderr and the VFS log when the SQL fails,
 * when the VFS logs an error, or when nothing was uploaded (unless `allowNoop`).
 *
 * Several statements in `sql` are separate autocommit transactions that end up in the same
 * LTX file; wrap them in `BEGIN; … COMMIT;` when a failure must leave nothing behind.
 */
export async function litestreamWrite(replicaUrl: string, sql: string, opts: LitestreamWriteOptions = {}): Promise<LitestreamWriteResult> {
  const dir = replicaDirOf(replicaUrl)
  const before = dir !== undefined ? await listLtxFiles(dir) : undefined
  const run = await spawnWithVfs(replicaUrl, openCommand(opts.dbName ?? 'test.db') + terminate(sql), { ...opts, write: true })
  return finishWrite('litestream write', replicaUrl, sql, before, run, opts.allowNoop ?? false)
}

/**
 * Runs each SQL string through `litestreamWrite`, one process after the other (so normally
 * one LTX file, one TXID, per string). `pauseMs` waits between processes (e.g. to give the
 * files distinct timestamps for time-travel tests). Stops at the first failure.
 */
export async function litestreamWriteMany(
  replicaUrl: string,
  sqls: readonly string[],
  opts: LitestreamWriteOptions & { pauseMs?: number } = {},
): Promise<LitestreamWriteResult[]> {
  const results: LitestreamWriteResult[] = []
  for (let k = 0; k < sqls.length; k++) {
    if (k > 0 && opts.pauseMs) await new Promise((r) => setTimeout(r, opts.pauseMs))
    try {
      results.push(await litestreamWrite(replicaUrl, sqls[k], opts))
    } catch (e) {
      throw new Error(`litestreamWriteMany: statement ${k + 1} of ${sqls.length} failed`, { cause: e })
    }
  }
  return results
}

export interface LitestreamQueryOptions extends LitestreamProcessOptions {
  /**
   * Statements run first, in the same process, whose output is discarded — e.g.
   * `PRAGMA litestream_time = '2026-11-21T09:51:52Z'` or `SELECT litestream_set_time('…')`.
   */
  pre?: readonly string[]
}

/**
 * Runs `sql` through the Litestream VFS (read-only, one process) and returns the rows
 * (`.mode json`, all statements' rows concatenated; `[]` for none). Throws with stderr and
 * the VFS log on failure. For a file:// replica without any LTX file it throws at once
 * (the VFS would wait forever for the first file). A process costs about 0.25 s here;
 * use `litestreamQueryMany` for many queries on the same state.
 */
export async function litestreamQuery(replicaUrl: string, sql: string, opts: LitestreamQueryOptions = {}): Promise<Row[]> {
  return (await litestreamQueryMany(replicaUrl, [sql], opts))[0]
}

/**
 * Runs several queries in ONE Litestream VFS process (so all see the state the VFS loaded
 * at open, unless the replica changes while it runs — the VFS polls every second) and
 * returns one row list per query. `pre` statements run first, once.
 */
export async function litestreamQueryMany(replicaUrl: string, sqls: readonly string[], opts: LitestreamQueryOptions = {}): Promise<Row[][]> {
  const dir = replicaDirOf(replicaUrl)
  if (dir !== undefined && (await listLtxFiles(dir)).length === 0) {
    throw new Error(`litestream query: replica ${dir} has no LTX files (the Litestream VFS would wait for one forever)`)
  }
  const pre = (opts.pre ?? []).map(terminate).join('')
  const body = `${openCommand(opts.dbName ?? 'test.db')}.mode json\n${pre}${queryScript(sqls)}`
  const run = await spawnWithVfs(replicaUrl, body, opts)
  const allSql = [...(opts.pre ?? []), ...sqls].join('\n')
  if (run.code !== 0 || run.timedOut) failRun('litestream query', run, allSql)
  try {
    return splitQueryOutput(run.stdout, sqls.length)
  } catch (e) {
    throw new Error(`litestream query: ${(e as Error).message}\n${describe(run)}`)
  }
}

/** Reads the 100-byte header of a local SQLite database file. */
async function readDbHeader(path: string): Promise<{ pageSize: number; writeVersion: number; readVersion: number }> {
  const fh = await open(path, 'r')
  try {
    const b = Buffer.alloc(100)
    const { bytesRead } = await fh.read(b, 0, 100, 0)
    if (bytesRead < 100 || b.toString('latin1', 0, 16) !== 'SQLite format 3\0') {
      throw new Error(`${path} is not a SQLite database file`)
    }
    const raw = b.readUInt16BE(16)
    return { pageSize: raw === 1 ? 65536 : raw, writeVersion: b[18], readVersion: b[19] }
  } finally {
    await fh.close()
  }
}

/**
 * Copies the local SQLite database `srcDbPath` into a NEW replica through the Litestream
 * VFS in write mode, so that the replica is written by Litestream itself: one LTX snapshot
 * file, TXID 1, holding every page.
 *
 * How: `sqlite3 -readonly <src>` (the CLI opens the native source before `.load`), then
 * `.load`, then `.backup main 'file:<dbName>?vfs=litestream'` — the CLI's backup API with a
 * litestream destination. About 0.1 s per 1 MiB here. (`.restore` into a litestream
 * connection does not work.) A WAL-mode source works too: the snapshot's page 1 then keeps
 * header bytes 18/19 = 2 (like replicas made by `litestream replicate`), and the Litestream
 * VFS reads it as journal mode `delete`.
 *
 * Requires page size 4096: with any other page size 0.5.17 fails at close ("encode page 3:
 * nonsequential page numbers in snapshot transaction") while the CLI still exits 0 — this
 * helper checks the source first. For file:// the replica must hold no LTX file; for s3
 * the VFS log must say it created a new database.
 */
export async function copyDatabaseIntoLitestream(
  srcDbPath: string,
  replicaUrl: string,
  opts: LitestreamProcessOptions = {},
): Promise<LitestreamWriteResult> {
  checkUrl(replicaUrl)
  const header = await readDbHeader(srcDbPath)
  if (header.pageSize !== 4096) {
    throw new Error(`copyDatabaseIntoLitestream: ${srcDbPath} has page size ${header.pageSize}; the Litestream 0.5.17 VFS only writes 4096-byte pages (VACUUM it with PRAGMA page_size = 4096 first)`)
  }
  const dir = replicaDirOf(replicaUrl)
  const before = dir !== undefined ? await listLtxFiles(dir) : undefined
  if (before && before.length) throw new Error(`copyDatabaseIntoLitestream: replica ${dir} is not empty (${before.length} LTX files)`)
  const name = opts.dbName ?? 'test.db'
  if (/[?#]/.test(name)) throw new Error(`dbName must not contain ? or #: ${name}`)
  const body = `.backup main ${dotArg(`file:${name}?vfs=litestream`)}\n`
  const size = (await stat(srcDbPath)).size
  const run = await spawnWithVfs(replicaUrl, body, {
    ...opts,
    write: true,
    args: ['-readonly', srcDbPath],
    // Generous: ~0.1 s/MiB observed; big bench databases must not hit the default.
    timeoutMs: opts.timeoutMs ?? Math.max(DEFAULT_SQLITE3_TIMEOUT_MS, (size / 2 ** 20) * 2000),
  })
  const what = `copyDatabaseIntoLitestream(${srcDbPath})`
  const result = await finishWrite(what, replicaUrl, `.backup main 'file:${name}?vfs=litestream'`, before, run, false)
  if (!run.log.includes('no existing database found, creating new database')) {
    throw new Error(`${what}: the replica already held a database; the copy was written on top of it as TXID ${result.txids.join(', ')}\n${describe(run)}`)
  }
  if (result.txids.length !== 1 || result.txids[0] !== '0000000000000001') {
    throw new Error(`${what}: expected one snapshot at TXID 1, the VFS synced [${result.txids.join(', ')}]\n${describe(run)}`)
  }
  return result
}
