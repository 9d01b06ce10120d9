/**
 * The commands of `ltxvfs`: each takes positionals and parsed options and returns an
 * exit code; failures throw (LtxvfsError with `LTXVFS_ERR_USAGE` means exit 2).
 */
import { mkdir, mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { isLtxvfsError, LtxvfsError } from '../../ltx/errors.js';
import { formatChecksum } from '../../ltx/checksum.js';
import { formatTXID } from '../../ltx/filename.js';
import { openReplicaClient } from '../storage/url.js';
import type { ReplicaClient } from '../storage/types.js';
import { listReplica } from '../replica/plan.js';
import { openDatabase, readVerified, type DatabaseReplicaStats } from '../api/open.js';
import { parseTarget } from '../replica/time.js';
import { importDatabase } from '../tools/import.js';
import { restoreDatabase } from '../tools/restore.js';
import { verifyReplica } from '../tools/verify.js';
import { compactReplica } from '../tools/compact.js';
import { checkOneTransaction, describeOutcome, execTransaction } from '../sql/exec-transaction.js';
import { DEFAULT_TEMP_FILE_MAX_AGE_MS } from '../write/temp-files.js';
import { makeDemoDatabase } from './demo-data.js';
import { formatBytes, formatCsv, formatJson, formatTable, plural } from './format.js';
import { parseParams, readSql } from './sql-input.js';
import { Progress } from './progress.js';
import { hydrateCommand } from './hydrate-command.js';

import type { CliIO, Command, CommandValues as Values } from './command.js';

export type { CliIO, Command } from './command.js';

/**
 * Run `body` with the replica client `url` names (`io.env` for its settings), and with a
 * progress line on stderr when `progress` names one (label and unit); both are closed
 * afterwards, whatever `body` does.
 * @param create create a directory replica that does not exist yet (`import`, `demo`).
 */
async function withClient<T>(
  url: string | undefined,
  io: CliIO,
  options: { create?: boolean; progress?: [label: string, unit: string] },
  body: (client: ReplicaClient, progress: Progress | undefined) => Promise<T>,
): Promise<T> {
  const client = await openReplicaClient(url, { create: options.create === true, env: io.env });
  const progress = options.progress === undefined ? undefined : new Progress(io.stderr, ...options.progress);
  try {
    return await body(client, progress);
  } finally {
    progress?.stop();
    await client.close();
  }
}

function byteOption(values: Values, name: string): number | undefined {
  const v = values[name];
  if (typeof v !== 'string') return undefined;
  const n = Number(v);
  if (!Number.isSafeInteger(n) || n < 0) {
    throw new LtxvfsError('LTXVFS_ERR_USAGE', `--${name} takes a whole number of bytes, got "${v}"`);
  }
  return n;
}

const DURATION_UNITS: Record<string, number> = { ns: 1e-6, us: 1e-3, 'µs': 1e-3, ms: 1, s: 1000, m: 60_000, h: 3_600_000 };

/**
 * A time span in ms: a bare number of ms (`300000`), or a Go duration as Litestream's
 * configuration takes it (`5m`, `1h30m`, `1.5s`, `250ms`, `0`).
 * @throws LtxvfsError `LTXVFS_ERR_USAGE` naming `what` for anything else.
 */
export function parseDurationMs(text: string, what: string): number {
  const bad = () => new LtxvfsError('LTXVFS_ERR_USAGE', `${what} takes ms or a duration like 5m, 1h30m, 30s, got "${text}"`);
  if (/^\d+(\.\d+)?$/.test(text)) return Number(text);
  if (!/^((\d+(\.\d+)?|\.\d+)(ns|us|µs|ms|s|m|h))+$/.test(text)) throw bad();
  let ms = 0;
  for (const [, n, unit] of text.matchAll(/(\d*\.?\d+)(ns|us|µs|ms|s|m|h)/g)) ms += Number(n) * DURATION_UNITS[unit];
  return ms;
}

/** A whole number ≥ 1 option (`--attempts 4`). @throws LtxvfsError `LTXVFS_ERR_USAGE` naming the option and value. */
function countOption(values: Values, name: string): number | undefined {
  const v = values[name];
  if (typeof v !== 'string') return undefined;
  const n = Number(v);
  if (!/^\d+$/.test(v) || !Number.isSafeInteger(n) || n < 1) {
    throw new LtxvfsError('LTXVFS_ERR_USAGE', `--${name} takes a whole number >= 1, got "${v}"`);
  }
  return n;
}

/** `--temp-max-age`: remove half-written temp files at least this old (lib/write/temp-files.ts); default 1h. */
function tempMaxAgeOption(values: Values): number {
  const v = values['temp-max-age'];
  return typeof v === 'string' ? parseDurationMs(v, '--temp-max-age') : DEFAULT_TEMP_FILE_MAX_AGE_MS;
}

/** A span for messages: `45 s`, `12 min`, `3 h`. */
function formatAge(ms: number): string {
  if (ms < 120_000) return `${Math.floor(ms / 1000)} s`;
  if (ms < 7_200_000) return `${Math.floor(ms / 60_000)} min`;
  return `${Math.floor(ms / 3_600_000)} h`;
}

/** `undefined` for an empty URL argument, so LITESTREAM_REPLICA_URL applies. */
function urlArg(arg: string): string | undefined {
  return arg === '' ? undefined : arg;
}

async function query(url: string | undefined, sql: string, values: Values, io: CliIO): Promise<number> {
  if (values.json === true && values.csv === true) throw new LtxvfsError('LTXVFS_ERR_USAGE', '--json and --csv exclude each other: give one');
  const params = parseParams(values.param);
  const at = typeof values.at === 'string' ? values.at : undefined;
  // A one-shot query needs no polling.
  // The disk tier: --cache-dir, else LTXVFS_CACHE_DIR (docs/usage.md, "Disk cache").
  const cacheDir = typeof values['cache-dir'] === 'string' ? values['cache-dir'] : io.env.LTXVFS_CACHE_DIR || undefined;
  const db = await openDatabase(url, {
    env: io.env, cacheSizeBytes: byteOption(values, 'cache-size'), at, pollIntervalMs: 0, shared: false, cacheDir,
    // Read-only means read-only: no writes and no lease PRAGMAs (lib/connection/sql-surface.ts refuses them).
    readOnly: true,
    // Every integer exact, whatever its size (lib/cli/format.ts prints bigints as digits).
    intMode: 'bigint',
  });
  try {
    const { columns, rows } = await db.query(sql, params);
    // Nothing is printed before every file the rows came from matched its checksum.
    await readVerified(db);
    if (values.json === true) {
      io.stdout.write(`${formatJson(rows)}\n`);
    } else if (values.csv === true) {
      io.stdout.write(formatCsv(columns, rows));
    } else if (columns.length > 0) {
      io.stdout.write(`${formatTable(columns, rows)}\n(${plural(rows.length, 'row')})\n`);
    }
    if (values.stats === true) io.stderr.write(`${formatStats(db.stats())}\n`);
  } finally {
    await db.close();
  }
  return 0;
}

/**
 * A SQLite error of `exec` as the user wrote the SQL: SQLite's message and the user's
 * statements, without the `BEGIN IMMEDIATE; … ;COMMIT;` that execTransaction wraps them in.
 */
function withoutWrapper(err: unknown): unknown {
  if (!isLtxvfsError(err, 'LTXVFS_ERR_SQLITE')) return err;
  const message = err.message.replace(/: BEGIN IMMEDIATE; ?/, ': ').replace(/ ?;COMMIT;$/, '');
  return new LtxvfsError('LTXVFS_ERR_SQLITE', message, { sqliteCode: err.sqliteCode, cause: err.cause });
}

/** The stats line of `query --stats` and `demo`. */
export function formatStats(s: DatabaseReplicaStats): string {
  return `stats: txid=${formatTXID(s.txid)} pages_fetched=${s.pagesFetched} bytes_read=${s.bytesRead} read_requests=${s.readRequests} ` +
    `cache_hits=${s.cacheHits} cache_misses=${s.cacheMisses} cache_bytes=${s.cacheBytes} lag_ms=${s.lagMs} time_travel=${s.timeTravel}` +
    (s.diskCache === undefined ? '' : ` disk_hits=${s.diskCache.hits} disk_misses=${s.diskCache.misses} disk_index_hits=${s.diskCache.fileHits}`);
}

/** The table of commands. */
export const commands: Record<string, Command> = {
  query: {
    synopsis: 'query <url> [<sql>|-] [--json|--csv] [--param <value>]... [--stats] [--cache-size <bytes>] [--cache-dir <dir>] [--at <time|txid>]',
    minArgs: 1,
    maxArgs: 2,
    options: {
      json: { type: 'boolean' }, csv: { type: 'boolean' }, param: { type: 'string', multiple: true }, stats: { type: 'boolean' }, 'cache-size': { type: 'string' }, 'cache-dir': { type: 'string' }, at: { type: 'string' },
    },
    run: async ([url, sql], values, io) => query(urlArg(url), await readSql(sql, io), values, io),
  },

  import: {
    synopsis: 'import <sqlite-file> <url>',
    minArgs: 2,
    maxArgs: 2,
    options: {},
    async run([file, url], _values, io) {
      return withClient(urlArg(url), io, { create: true, progress: ['import', 'pages'] }, async (client, progress) => {
        const r = await importDatabase(file, client, { onProgress: (done, total) => progress?.update(done, total) });
        progress?.stop();
        io.stdout.write(`imported ${file}: ${r.commit} pages of ${r.pageSize} bytes as ${r.key} (${formatBytes(r.bytesWritten)})\n`);
        return 0;
      });
    },
  },

  ls: {
    synopsis: 'ls <url> [--json]',
    minArgs: 1,
    maxArgs: 1,
    options: { json: { type: 'boolean' } },
    async run([url], values, io) {
      return withClient(urlArg(url), io, {}, async (client) => {
        const files = await listReplica(client);
        const rows = files.map((f) => ({
          level: f.level,
          min_txid: formatTXID(f.minTXID),
          max_txid: formatTXID(f.maxTXID),
          size: f.size,
          created_at: new Date(f.createdAt).toISOString(),
        }));
        if (values.json === true) {
          // docs/usage.md, "ls --json": TXIDs as Litestream's 16 hex digits, size in bytes, the key in the replica.
          io.stdout.write(`${JSON.stringify(rows.map((r, i) => ({ ...r, key: files[i].key })))}\n`);
          return 0;
        }
        io.stdout.write(`${formatTable(['level', 'min_txid', 'max_txid', 'size', 'created_at'], rows)}\n`);
        const total = files.reduce((n, f) => n + f.size, 0);
        // An empty replica is no error (one just created has no files yet), but it is said plainly.
        io.stdout.write(files.length === 0
          ? `(empty replica: no LTX files in ${client.url}; nothing to read until Litestream or an ltxvfs writer adds one)\n`
          : `(${plural(files.length, 'file')}, ${formatBytes(total)})\n`);
        return 0;
      });
    },
  },

  restore: {
    synopsis: 'restore <url> <out-file> [--force] [--at <time|txid>]',
    minArgs: 2,
    maxArgs: 2,
    options: { force: { type: 'boolean' }, at: { type: 'string' } },
    async run([url, out], values, io) {
      return withClient(urlArg(url), io, { progress: ['restore', 'bytes'] }, async (client, progress) => {
        const target = typeof values.at === 'string' ? parseTarget(values.at) : 'latest';
        const r = await restoreDatabase(client, out, {
          overwrite: values.force === true,
          target: target === 'latest' ? undefined : target,
          onProgress: (_done, _total, bytesRead, bytesTotal) => progress?.update(bytesRead, bytesTotal),
        });
        progress?.stop();
        const verified = r.checksum === undefined ? 'file checksums verified' : `database checksum ${formatChecksum(r.checksum)} verified`;
        io.stdout.write(`restored TXID ${formatTXID(r.txid)} to ${out}: ${r.commit} pages of ${r.pageSize} bytes from ${r.files.length} LTX files (${verified})\n`);
        return 0;
      });
    },
  },

  hydrate: hydrateCommand,

  verify: {
    synopsis: 'verify <url> [--json]',
    minArgs: 1,
    maxArgs: 1,
    options: { json: { type: 'boolean' } },
    async run([url], values, io) {
      return withClient(urlArg(url), io, { progress: ['verify', 'files'] }, async (client, progress) => {
        const r = await verifyReplica(client, { onProgress: (done, total) => progress?.update(done, total) });
        progress?.stop();
        if (values.json === true) {
          // docs/usage.md, "verify --json".
          io.stdout.write(`${JSON.stringify({
            ok: r.problems.length === 0, txid: formatTXID(r.txid), files_checked: r.filesChecked, bytes_read: r.bytesRead,
            checksummed: r.checksummed, problems: r.problems,
            leftover_temp_files: r.tempFiles.map((f) => ({ key: f.key, size: f.size, age_ms: f.ageMs })),
          })}\n`);
          return r.problems.length === 0 ? 0 : 1;
        }
        for (const p of r.problems) io.stdout.write(`FAIL ${p}\n`);
        for (const f of r.tempFiles) {
          io.stdout.write(`leftover ${f.key}: half-written temporary file, ${formatBytes(f.size)}, ${formatAge(f.ageMs)} old ` +
            `(exec and compact remove it once ${formatAge(DEFAULT_TEMP_FILE_MAX_AGE_MS)} old)\n`);
        }
        const chain = r.checksummed ? 'checksum chain verified' : 'files carry no database checksums';
        io.stdout.write(r.problems.length === 0
          ? `ok: ${r.filesChecked} files, ${formatBytes(r.bytesRead)}, TXID ${formatTXID(r.txid)} (${chain})\n`
          : `${plural(r.problems.length, 'problem')} in ${r.filesChecked} files\n`);
        return r.problems.length === 0 ? 0 : 1;
      });
    },
  },

  compact: {
    synopsis: 'compact <url> [--retention <ms|duration>] [--no-snapshot] [--temp-max-age <duration>]',
    minArgs: 1,
    maxArgs: 1,
    options: { retention: { type: 'string' }, 'no-snapshot': { type: 'boolean' }, 'temp-max-age': { type: 'string' } },
    async run([url], values, io) {
      const retentionMs = typeof values.retention === 'string' ? parseDurationMs(values.retention, '--retention') : undefined;
      const tempFileMaxAgeMs = tempMaxAgeOption(values);
      return withClient(urlArg(url), io, {}, async (client) => {
        const r = await compactReplica(client, { retentionMs, snapshot: values['no-snapshot'] !== true, tempFileMaxAgeMs });
        const c = r.compacted;
        io.stdout.write(c === undefined
          ? `nothing new to compact (level 1 ends at TXID ${formatTXID(r.txid)})\n`
          : `compacted ${r.merged.length} level-0 file${r.merged.length === 1 ? '' : 's'} (TXID ${formatTXID(c.minTXID)}-${formatTXID(c.maxTXID)}) into ${c.key} (${formatBytes(c.size)})\n`);
        if (r.snapshot !== undefined) io.stdout.write(`snapshot ${r.snapshot.key} (${formatBytes(r.snapshot.size)})\n`);
        for (const key of r.deleted) io.stdout.write(`deleted ${key}\n`);
        for (const key of r.tempFilesRemoved) io.stdout.write(`removed half-written ${key}\n`);
        io.stdout.write(`read ${formatBytes(r.bytesRead)}, wrote ${formatBytes(r.bytesWritten)}, deleted ${plural(r.deleted.length, 'file')}\n`);
        return 0;
      });
    },
  },

  exec: {
    synopsis: 'exec <url> [<sql>|-] [--create] [--checksums] [--attempts <n>] [--wait <duration>] [--temp-max-age <duration>]',
    minArgs: 1,
    maxArgs: 2,
    options: {
      create: { type: 'boolean' }, checksums: { type: 'boolean' }, attempts: { type: 'string' }, wait: { type: 'string' }, 'temp-max-age': { type: 'string' },
    },
    async run([url, sqlArg], values, io) {
      const sql = await readSql(sqlArg, io);
      // Checked before opening, so that bad SQL or options touch nothing (exit 2).
      const attempts = countOption(values, 'attempts');
      const leaseWaitMs = typeof values.wait === 'string' ? parseDurationMs(values.wait, '--wait') : undefined;
      checkOneTransaction(sql);
      const db = await openDatabase(urlArg(url), {
        env: io.env, pollIntervalMs: 0, shared: false, create: values.create === true, checksums: values.checksums === true,
        tempFileMaxAgeMs: tempMaxAgeOption(values),
      });
      try {
        const outcome = await execTransaction(db, sql, { attempts, leaseWaitMs }).catch((err: unknown) => {
          throw withoutWrapper(err);
        });
        // What shipped is a fact; exit 0 only once every file the transaction read matched its checksum.
        io.stdout.write(`${describeOutcome(outcome)}\n`);
        await readVerified(db);
      } finally {
        await db.close();
      }
      return 0;
    },
  },

  demo: {
    synopsis: 'demo [dir]',
    minArgs: 0,
    maxArgs: 1,
    options: {},
    async run([dir], _values, io) {
      const root = dir ?? (await mkdtemp(join(tmpdir(), 'ltxvfs-demo-')));
      await mkdir(root, { recursive: true });
      const dbPath = join(root, 'demo.db');
      const replica = join(root, 'replica');
      await makeDemoDatabase(dbPath);
      io.stdout.write(`made ${dbPath} and imported it into ${replica}\n`);
      await withClient(replica, io, { create: true }, (client) => importDatabase(dbPath, client));
      const sql = 'SELECT c.name, c.city, count(*) AS orders, round(sum(o.total), 2) AS spent FROM customers c JOIN orders o ON o.customer_id = c.id WHERE c.id = 42 GROUP BY c.id';
      io.stdout.write(`$ ltxvfs query ${replica} "${sql}" --stats\n`);
      return query(replica, sql, { stats: true }, io);
    },
  },
};
