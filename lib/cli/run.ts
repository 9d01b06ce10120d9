/**
 * The `ltxvfs` command line. Arguments are parsed with Node's `util.parseArgs`; every
 * command is a small function over the library API. Exit codes: 0 ok, 1 error, 2 usage.
 * Errors are one line on stderr: `ltxvfs: <message>`.
 */
import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs, type ParseArgsConfig } from 'node:util';
import { isLtxvfsError, LtxvfsError } from '../../ltx/errors.js';
import { commands, type CliIO, type Command } from './commands.js';

/** The replica URL forms, in every help text. */
const URLS = `<url> is where the replica lives:
  file:///var/lib/app-replica       a directory, as a file:// URL
  /var/lib/app-replica              a directory, as a plain path (relative paths work too)
  s3://bucket/path?region=eu-west-1 S3 or an S3-compatible store (endpoint=, AWS_* variables;
                                    docs/s3.md)
  abs://account@container/path      Azure Blob Storage (LITESTREAM_AZURE_SAS_TOKEN or _ACCOUNT_KEY)
  gs://bucket/path                  Google Cloud Storage (application default credentials)
  sftp://user@host:22/path          SFTP (password in the URL, ?keyPath=, or SSH_AUTH_SOCK)
  webdavs://user:pass@host/path     WebDAV over https (webdav:// for http); read-only
  nats://user:pass@host:4222/bucket NATS JetStream object store (the bucket must exist)
  oss://bucket.oss-cn-hangzhou.aliyuncs.com/path
                                    Alibaba OSS through its S3 API (OSS_ACCESS_KEY_*); read-only
  ""                                the URL in LITESTREAM_REPLICA_URL
Backends and their settings: docs/usage.md.`;

/** Usage text, printed by `ltxvfs help` and on usage errors. */
export const USAGE = `usage: ltxvfs <command> [options]

commands:
  query <url> [<sql>|-]      run SQL against the replica's newest state, read-only (writes and
                             lease PRAGMAs are refused); SQL from stdin when it is - or missing
      --json                 print one JSON array of row objects (blobs as hex, integers exact)
      --csv                  print RFC 4180 CSV with a header line (default: an aligned table)
      --param <value>        bind a parameter, repeatable: positional (--param 42 --param abc)
                             or named (--param :name=abc, also @name= and $name=); a value that
                             reads as a number binds as INTEGER or REAL, anything else as TEXT;
                             quote it in single quotes to force TEXT (--param "'007'");
                             a value starting with - goes as --param=-5
      --stats                print read statistics on stderr
      --cache-size <bytes>   page cache size (default 64 MiB)
      --cache-dir <dir>      keep pages on disk across runs (default: LTXVFS_CACHE_DIR)
      --at <time|txid>       query a past state: RFC 3339, "5 minutes ago", or a TXID (not a future time)
  exec <url> [<sql>|-]       take the write lease, catch up to the newest TXID, run the statements
                             as one transaction, ship it as one LTX file. Exit 0: committed (one
                             TXID, printed) or no changes; 1: failed, nothing shipped; 2: refused,
                             nothing run — SQL with BEGIN/COMMIT/END/ROLLBACK/SAVEPOINT/RELEASE
      --create               create the replica (directory) if it does not exist
      --checksums            a new replica's files carry database checksums
      --attempts <n>         runs in all when another writer takes the commit's TXID (default 4)
      --wait <duration>      wait this long for a lease another writer holds (default 10s)
      --temp-max-age <dur>   at lease acquisition, remove half-written temp files this old (default 1h)
  import <sqlite-file> <url> write a SQLite database into an empty replica as a snapshot
  ls <url>                   list levels, LTX files, TXID ranges, sizes, timestamps
      --json                 print one JSON array: level, min_txid, max_txid, size, created_at, key
  restore <url> <out-file>   write the newest state as a plain SQLite file (verified)
      --force                replace <out-file> if it exists
      --at <time|txid>       restore a past state
  hydrate <url> <file>       restore the newest state into <file> with large range reads;
                             run again to resume an interrupted hydration
      --force                replace <file> if it exists and is not a hydration
      --concurrency <n>      range reads at once (default 4)
      --range-bytes <bytes>  largest range read (default 8 MiB)
  verify <url>               check every file's checksum, TXID continuity, checksum chain;
                             list half-written temp files left by killed writers
      --json                 print one JSON object: ok, txid, files_checked, bytes_read,
                             checksummed, problems, leftover_temp_files
  compact <url>              merge new level-0 files into level 1, write a level-9 snapshot,
                             delete level-0 files already in level 1 (Litestream's rules)
      --retention <duration> keep level-0 files this long after compaction (default 5m; ms or 30s, 1h)
      --no-snapshot          do not write the level-9 snapshot
      --temp-max-age <dur>   remove half-written temp files this old (default 1h; 0: all)
  demo [dir]                 make a small replica in dir (created if missing; default: a temp
                             dir) and query it
  help [command]             this text, or one command's
  --version                  print the version

Every command takes --help. Options without a default shown are off unless given.

${URLS}`;

/**
 * The help of one command: its lines of {@link USAGE} and the URL forms.
 * @returns undefined for a name that is not a command.
 */
export function commandHelp(name: string): string | undefined {
  const command = commands[name];
  if (command === undefined) return undefined;
  const lines = USAGE.split('\n');
  const start = lines.findIndex((l) => l.startsWith(`  ${name} `));
  let end = start + 1;
  while (end < lines.length && /^ {5,}/.test(lines[end])) end++;
  return `usage: ltxvfs ${command.synopsis}\n\n${lines.slice(start, end).join('\n')}\n\n${URLS}`;
}

/**
 * The version in ltxvfs's package.json, found from this module upwards (lib/cli/ in the
 * sources, dist/lib/cli/ when built, beside the bundle when bundled).
 * @throws LtxvfsError `LTXVFS_ERR_NOT_FOUND` when no ltxvfs package.json is found.
 */
export function version(): string {
  const start = dirname(fileURLToPath(import.meta.url));
  for (let dir = start; ; dir = dirname(dir)) {
    try {
      const pkg = JSON.parse(readFileSync(join(dir, 'package.json'), 'utf8')) as { name?: string; version?: string };
      if (pkg.name === 'ltxvfs' && typeof pkg.version === 'string') return pkg.version;
    } catch {
      // No package.json here, or not ltxvfs's: look further up.
    }
    if (dirname(dir) === dir) throw new LtxvfsError('LTXVFS_ERR_NOT_FOUND', `no ltxvfs package.json above ${start}`, { key: start });
  }
}

/**
 * Run the CLI.
 * @param argv arguments after the program name.
 * @returns the exit code: 0 ok, 1 error, 2 usage.
 */
export async function runCli(argv: string[], io: CliIO): Promise<number> {
  const [name, ...rest] = argv;
  if (name === 'help' && rest.length > 0) {
    const help = commandHelp(rest[0]);
    if (help === undefined) {
      io.stderr.write(`ltxvfs: unknown command "${rest[0]}"\n${USAGE}\n`);
      return 2;
    }
    io.stdout.write(`${help}\n`);
    return 0;
  }
  if (name === undefined || name === 'help' || name === '--help' || name === '-h') {
    (name === undefined ? io.stderr : io.stdout).write(`${USAGE}\n`);
    return name === undefined ? 2 : 0;
  }
  if (name === '--version' || name === '-V' || name === 'version') {
    io.stdout.write(`ltxvfs ${version()}\n`);
    return 0;
  }
  const command: Command | undefined = commands[name];
  if (command === undefined) {
    io.stderr.write(`ltxvfs: unknown command "${name}"\n${USAGE}\n`);
    return 2;
  }
  if (rest.includes('--help') || rest.includes('-h')) {
    io.stdout.write(`${commandHelp(name)}\n`);
    return 0;
  }
  let parsed: { values: Record<string, string | boolean | string[] | undefined>; positionals: string[] };
  try {
    parsed = parseArgs({ args: rest, options: command.options as ParseArgsConfig['options'], allowPositionals: true, strict: true }) as typeof parsed;
  } catch (err) {
    io.stderr.write(`ltxvfs ${name}: ${(err as Error).message}\n`);
    return 2;
  }
  const { positionals, values } = parsed;
  if (positionals.length < command.minArgs || positionals.length > command.maxArgs) {
    io.stderr.write(`ltxvfs ${name}: expected ${command.synopsis}\n`);
    return 2;
  }
  try {
    return await command.run(positionals, values, io);
  } catch (err) {
    if (err instanceof LtxvfsError && err.code === 'LTXVFS_ERR_USAGE') {
      io.stderr.write(`ltxvfs ${name}: ${err.message}\n`);
      return 2;
    }
    io.stderr.write(`ltxvfs: ${describe(err)}\n`);
    return 1;
  }
}

/**
 * One line for an error: its message and, for SQLite errors, the ltxvfs error behind it
 * (ltxvfs's own messages already name the key and the reason).
 */
function describe(err: unknown): string {
  // Commands only throw Errors; an ltxvfs error behind a SQLite error is its cause.
  const e = err as Error;
  const cause = isLtxvfsError(e, 'LTXVFS_ERR_SQLITE') && isLtxvfsError(e.cause) ? e.cause.message : undefined;
  const msg = cause === undefined ? e.message : `${e.message}: ${cause}`;
  return msg.replace(/\s*\n\s*/g, ' ');
}
