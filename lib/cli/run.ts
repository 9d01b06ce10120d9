/**
 * The `ltxvfs` command line. Arguments are parsed with Node's `util.parseArgs`; every
 * command is a small function over the library API. Exit codes: 0 ok, 1 error, 2 usage.
 * Errors are one line on stderr: `ltxvfs: <message>`.
 */
import { parseArgs, type ParseArgsConfig } from 'node:util';
import { isLtxvfsError, LtxvfsError } from '../../ltx/errors.js';
import { commands, type CliIO, type Command } from './commands.js';

/** Usage text, printed by `ltxvfs help` and on usage errors. */
export const USAGE = `usage: ltxvfs <command> [options]

commands:
  query <url> <sql>          run SQL against the replica's newest state, read-only (writes and
                             lease PRAGMAs are refused)
      --json                 print one JSON array of row objects (blobs as hex)
      --stats                print read statistics on stderr
      --cache-size <bytes>   page cache size (default 64 MiB)
      --cache-dir <dir>      keep pages on disk across runs (default: LTXVFS_CACHE_DIR)
      --at <time|txid>       query a past state: RFC 3339, "5 minutes ago", or a TXID (not a future time)
  exec <url> <sql>           take the write lease, catch up to the newest TXID, run the statements
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
  compact <url>              merge new level-0 files into level 1, write a level-9 snapshot,
                             delete level-0 files already in level 1 (Litestream's rules)
      --retention <duration> keep level-0 files this long after compaction (default 5m; ms or 30s, 1h)
      --no-snapshot          do not write the level-9 snapshot
      --temp-max-age <dur>   remove half-written temp files this old (default 1h; 0: all)
  demo [dir]                 make a small replica (default: a temp dir) and query it
  help                       this text

<url> is file:///path, a plain directory path, or "" to use LITESTREAM_REPLICA_URL.`;

/**
 * Run the CLI.
 * @param argv arguments after the program name.
 * @returns the exit code: 0 ok, 1 error, 2 usage.
 */
export async function runCli(argv: string[], io: CliIO): Promise<number> {
  const [name, ...rest] = argv;
  if (name === undefined || name === 'help' || name === '--help' || name === '-h') {
    (name === undefined ? io.stderr : io.stdout).write(`${USAGE}\n`);
    return name === undefined ? 2 : 0;
  }
  const command: Command | undefined = commands[name];
  if (command === undefined) {
    io.stderr.write(`ltxvfs: unknown command "${name}"\n${USAGE}\n`);
    return 2;
  }
  let parsed: { values: Record<string, string | boolean | undefined>; positionals: string[] };
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
