/**
 * The native `sqlite3` CLI as a test oracle: run SQL on a local database file in a child
 * process and get rows back as objects.
 *
 * Every call is one `sqlite3 -bail -init /dev/null` process fed on standard input; a
 * `~/.sqliterc` cannot change the output. Rows come from `.mode json`, which in 3.40
 * prints nothing for a statement that returns no rows — the helpers turn that into `[]`.
 *
 * Value mapping (what a row object holds):
 * - INTEGER → `number`, or `bigint` when outside ±(2^53−1) (the CLI prints all 64 bits;
 *   this parser keeps them).
 * - REAL → `number`. The CLI prints `%!.20g`, which round-trips every double exactly;
 *   ±Infinity prints as `±1e999`; NaN is NULL in SQLite; `-0.0` prints as `0.0`.
 * - TEXT → `string`.
 * - NULL → `null`.
 * - BLOB → **not usable**: the CLI prints the raw bytes inside a JSON string (bytes that
 *   are not UTF-8 become U+FFFD), indistinguishable from TEXT. Oracle queries select
 *   blobs as `hex(col)` (or `length(col)`, `hex(substr(col, …))`); `blobSafeColumn()`
 *   builds that expression. Compare hex strings, never the raw column.
 *
 * Column names are the keys; a result with two columns of the same name throws (alias
 * them). Several statements in one call concatenate their rows. Keys that look like
 * array indexes (`SELECT 1` gives key `"1"`) are reordered by JavaScript; compare rows
 * with deep equality, not key order.
 */
import { spawn } from 'node:child_process'
import { SQLITE3_BIN, requireSqlite3 } from './paths.js'

/** A result row: column name → value (see the module comment for the type mapping). */
export type Row = Record<string, unknown>

/** Outcome of one sqlite3 process. `code` is null when the process was killed. */
export interface Sqlite3Run {
  code: number | null
  signal: NodeJS.Signals | null
  stdout: string
  stderr: string
  timedOut: boolean
  durationMs: number
}

export interface Sqlite3SpawnOptions {
  /** Extra CLI arguments placed after `-bail -init /dev/null` (e.g. `['-readonly', dbPath]`). */
  args?: string[]
  /** Text fed on standard input (dot-commands and SQL); stdin is closed afterwards. */
  stdin?: string
  /** Complete environment of the child (defaults to this process's environment). */
  env?: NodeJS.ProcessEnv
  /** Kill the child (SIGKILL) after this many milliseconds. Default 120 000. */
  timeoutMs?: number
  cwd?: string
}

/** Default per-process time limit of the CLI helpers, in milliseconds. */
export const DEFAULT_SQLITE3_TIMEOUT_MS = 120_000

/**
 * Runs one `sqlite3` process and collects its output. Never throws for a non-zero exit
 * (look at `code`, `stderr`); rejects only when the binary cannot be started.
 */
export function runSqlite3(opts: Sqlite3SpawnOptions = {}): Promise<Sqlite3Run> {
  requireSqlite3()
  const timeoutMs = opts.timeoutMs ?? DEFAULT_SQLITE3_TIMEOUT_MS
  const started = performance.now()
  return new Promise((resolve, reject) => {
    const child = spawn(SQLITE3_BIN, ['-bail', '-init', '/dev/null', ...(opts.args ?? [])], {
      env: opts.env ?? process.env,
      cwd: opts.cwd,
      stdio: ['pipe', 'pipe', 'pipe'],
    })
    const out: Buffer[] = []
    const err: Buffer[] = []
    let timedOut = false
    const timer = setTimeout(() => {
      timedOut = true
      child.kill('SIGKILL')
    }, timeoutMs)
    child.stdout.on('data', (b: Buffer) => out.push(b))
    child.stderr.on('data', (b: Buffer) => err.push(b))
    // The child may exit (e.g. -bail) before it read all of stdin: EPIPE is expected then.
    child.stdin.on('error', () => {})
    child.on('error', (e) => {
      clearTimeout(timer)
      reject(e)
    })
    child.on('close', (code, signal) => {
      clearTimeout(timer)
      resolve({
        code,
        signal,
        stdout: Buffer.concat(out).toString('utf8'),
        stderr: Buffer.concat(err).toString('utf8'),
        timedOut,
        durationMs: performance.now() - started,
      })
    })
    child.stdin.end(opts.stdin ?? '')
  })
}

/** Prefix of the line printed with `.print` before each query's rows; output before the first is ignored. */
export const ROWS_MARKER = '@@ltxvfs-test-rows@@'

/**
 * The part of a CLI script that runs `sqls` as separate queries in JSON mode, each preceded
 * by a marker line, so that `splitQueryOutput` can tell their rows apart (and an empty
 * result from a missing one).
 */
export function queryScript(sqls: readonly string[]): string {
  return '.mode json\n' + sqls.map((sql, k) => `.print ${ROWS_MARKER} ${k}\n${terminate(sql)}`).join('')
}

/**
 * Splits the standard output of a `queryScript` run into one row list per query. Throws
 * when a marker is missing (the script stopped early) or the output is not the CLI's JSON.
 */
export function splitQueryOutput(stdout: string, count: number): Row[][] {
  const marks: { at: number; start: number }[] = []
  let from = 0
  for (let k = 0; k < count; k++) {
    const line = `${ROWS_MARKER} ${k}\n`
    // Newlines inside JSON strings are escaped, so a marker can only be a line of its own.
    const at = stdout.indexOf(line, from)
    if (at < 0 || (at > 0 && stdout[at - 1] !== '\n')) {
      throw new Error(`sqlite3 output lacks the marker of query ${k + 1} of ${count}; stdout was:\n${clip(stdout)}`)
    }
    from = at + line.length
    marks.push({ at, start: from })
  }
  return marks.map((m, k) => parseJsonRows(stdout.slice(m.start, k + 1 < count ? marks[k + 1].at : stdout.length)))
}

/**
 * Parses the output of the sqlite3 CLI's JSON mode: zero or more arrays of flat objects
 * (`[{"a":1},\n{"a":2}]`), one array per statement that returned rows. Integers outside
 * the safe range become `bigint`; duplicate column names throw.
 */
export function parseJsonRows(text: string): Row[] {
  const rows: Row[] = []
  let i = 0
  const n = text.length
  const fail = (what: string): never => {
    throw new Error(`unexpected sqlite3 JSON output (${what}) at offset ${i}: ${clip(text.slice(Math.max(0, i - 40), i + 80))}`)
  }
  const skip = (): void => {
    while (i < n) {
      const c = text.charCodeAt(i)
      if (c === 0x20 || c === 0x0a || c === 0x0d || c === 0x09) i++
      else break
    }
  }
  const readString = (): string => {
    // text[i] is the opening quote; find the closing one, skipping escapes.
    let j = i + 1
    while (j < n) {
      const c = text[j]
      if (c === '\\') j += 2
      else if (c === '"') break
      else j++
    }
    if (j >= n) fail('unterminated string')
    const s = JSON.parse(text.slice(i, j + 1)) as string
    i = j + 1
    return s
  }
  const numberRe = /-?\d+(\.\d+)?([eE][+-]?\d+)?/y
  const readValue = (): unknown => {
    const c = text[i]
    if (c === '"') return readString()
    if (text.startsWith('null', i)) {
      i += 4
      return null
    }
    numberRe.lastIndex = i
    const m = numberRe.exec(text)
    if (!m) return fail('expected a value')
    i += m[0].length
    if (m[1] === undefined && m[2] === undefined) {
      const v = Number(m[0])
      return Number.isSafeInteger(v) ? v : BigInt(m[0])
    }
    return Number(m[0])
  }
  skip()
  while (i < n) {
    const c = text[i]
    if (c === '[' || c === ']' || c === ',') {
      i++
    } else if (c === '{') {
      i++
      const row: Row = {}
      skip()
      if (text[i] === '}') i++
      else {
        for (;;) {
          skip()
          if (text[i] !== '"') fail('expected a column name')
          const key = readString()
          skip()
          if (text[i] !== ':') fail('expected ":"')
          i++
          skip()
          if (Object.prototype.hasOwnProperty.call(row, key)) {
            throw new Error(`query returns two columns named ${JSON.stringify(key)}; give them distinct aliases`)
          }
          row[key] = readValue()
          skip()
          if (text[i] === ',') {
            i++
            continue
          }
          if (text[i] === '}') {
            i++
            break
          }
          fail('expected "," or "}"')
        }
      }
      rows.push(row)
    } else {
      fail('expected a row')
    }
    skip()
  }
  return rows
}

export interface SqliteCliOptions {
  /** Open the database with `-readonly`. Default false. */
  readonly?: boolean
  /** Per-process limit in milliseconds. Default 120 000. */
  timeoutMs?: number
}

/**
 * Runs `sql` with the native sqlite3 CLI on the local database file `dbPath` and returns
 * the rows (all statements' rows, concatenated; `[]` when none). Throws on any SQL error,
 * with the CLI's stderr in the message.
 */
export async function sqliteQuery(dbPath: string, sql: string, opts: SqliteCliOptions = {}): Promise<Row[]> {
  return (await sqliteQueryMany(dbPath, [sql], opts))[0]
}

/**
 * Runs several queries in ONE sqlite3 process (cheaper than one process each) and returns
 * one row list per query, in order. Stops at the first failing query and throws.
 */
export async function sqliteQueryMany(dbPath: string, sqls: readonly string[], opts: SqliteCliOptions = {}): Promise<Row[][]> {
  const run = await runSqlite3({
    args: [...(opts.readonly ? ['-readonly'] : []), dbPath],
    stdin: `.bail on\n${queryScript(sqls)}`,
    timeoutMs: opts.timeoutMs,
  })
  checkRun(run, `sqlite3 query on ${dbPath}`, sqls.join('\n'))
  return splitQueryOutput(run.stdout, sqls.length)
}

/**
 * Executes `sql` (any number of statements and dot-commands) with the native sqlite3 CLI on
 * `dbPath`, stopping at the first error (`-bail`); throws with stderr in the message.
 * Statements run in autocommit mode unless the SQL has its own BEGIN/COMMIT. Returns the
 * CLI's standard output (list mode).
 */
export async function sqliteExec(dbPath: string, sql: string, opts: SqliteCliOptions = {}): Promise<string> {
  const run = await runSqlite3({
    args: [...(opts.readonly ? ['-readonly'] : []), dbPath],
    stdin: `.bail on\n${terminate(sql)}`,
    timeoutMs: opts.timeoutMs,
  })
  checkRun(run, `sqlite3 exec on ${dbPath}`, sql)
  return run.stdout
}

/**
 * An expression for column `name` that is safe to compare through the CLI: BLOBs become
 * `X'…'` text (hex), every other value is returned unchanged. Example:
 * `SELECT ${blobSafeColumn('payload')} FROM t`.
 */
export function blobSafeColumn(name: string): string {
  const q = quoteIdent(name)
  return `CASE WHEN typeof(${q}) = 'blob' THEN 'X''' || hex(${q}) || '''' ELSE ${q} END AS ${q}`
}

/** Quotes an SQL identifier with double quotes. */
export function quoteIdent(name: string): string {
  return `"${name.replaceAll('"', '""')}"`
}

/** Quotes an SQL string literal with single quotes. */
export function quoteLiteral(value: string): string {
  return `'${value.replaceAll("'", "''")}'`
}

/** Throws when a run failed (non-zero exit, killed, or timed out). */
export function checkRun(run: Sqlite3Run, what: string, sql: string, extra = ''): void {
  if (run.code === 0 && !run.timedOut) return
  const how = run.timedOut ? `timed out after ${Math.round(run.durationMs)} ms` : run.signal ? `killed by ${run.signal}` : `exit ${run.code}`
  throw new Error(
    `${what} failed (${how}): ${run.stderr.trim() || '(no stderr)'}\n--- SQL ---\n${clip(sql)}` + (extra ? `\n${extra}` : ''),
  )
}

/** Makes sure the last statement is terminated and the script ends with a newline. */
export function terminate(sql: string): string {
  const t = sql.trimEnd()
  if (t === '' || t.endsWith(';') || /\n\.[^\n]*$/.test('\n' + t)) return t + '\n'
  // On its own line, so that a trailing `-- comment` cannot swallow it.
  return t + '\n;\n'
}

/** Shortens long text for error messages. */
export function clip(s: string, max = 4000): string {
  return s.length <= max ? s : `${s.slice(0, max / 2)}\n… (${s.length - max} characters omitted) …\n${s.slice(-max / 2)}`
}
