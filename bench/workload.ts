/**
 * What every engine is asked to do, so the columns of a table measure the same work:
 * the SQL texts, the keys (deterministic, from the dataset seed), the sample counts, and
 * the result shape each engine's runner returns.
 *
 * A {@link ReplicaLocation} is where a replica is read from: a URL and the environment
 * the reader needs (credentials, endpoints). The ltxvfs and Litestream runners take one,
 * so another location (e.g. S3 behind a latency-adding proxy) is one more entry in
 * bench/run.ts, not a rewrite.
 */
import { Prng } from '../test/helpers/datagen.js';
import { keyOf } from './dataset.js';

/** Where a replica is read from. */
export interface ReplicaLocation {
  /** Short label for table headers, e.g. `file://` or `s3 (+20 ms)`. */
  name: string;
  /** Replica URL as ltxvfs and Litestream take it (`file:///…`, `s3://bucket/path?endpoint=…`). */
  url: string;
  /** Extra environment for the reader processes (e.g. AWS_ACCESS_KEY_ID); merged over this process's. */
  env: Record<string, string>;
}

/** The statements, with `?` parameters (the CLI runners inline them). */
export const SQL = {
  /** What `openDatabase` runs to read the schema; the CLI runners run it after `.open`. */
  schema: 'SELECT 1 FROM sqlite_schema LIMIT 1',
  /** Point lookup by INTEGER PRIMARY KEY. */
  point: 'SELECT name FROM items WHERE id = ?',
  /** Point lookup through the secondary index, then the table. */
  byIndex: 'SELECT id, name FROM items WHERE k = ?',
  /** 1,000 consecutive rows by primary key, aggregated (no row transfer cost). */
  range: 'SELECT count(*) AS n, sum(length(body)) AS bytes FROM items WHERE id BETWEEN ? AND ?',
  /** Many primary-key lookups in one statement, the ids a JSON array (`?`): SQLite's own rate, no per-call cost. */
  lookupsInStatement: 'SELECT count(*) AS n, sum(length(i.name)) AS bytes FROM json_each(?) AS j JOIN items AS i ON i.id = j.value',
  /** Full table scan reading every row's text. */
  scan: 'SELECT count(*) AS n, sum(length(body)) AS bytes FROM items',
} as const;

/** Rows per range read. */
export const RANGE_ROWS = 1000;

/**
 * One statement doing `count` primary-key lookups on pseudo-random ids (a join of a
 * generated key list with `items`): the B-tree lookup rate without per-call API cost.
 */
export function inStatementSql(count: number, rows: number): string {
  return `WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c WHERE x < ${count})
SELECT count(*) AS n, sum(length(i.name)) AS chars FROM c CROSS JOIN items AS i ON i.id = 1 + (c.x * 2654435761) % ${rows}`;
}

/** The statement with its `?` parameters replaced by integer literals (for the CLI). */
export function inline(sql: string, params: readonly number[]): string {
  let i = 0;
  return sql.replace(/\?/g, () => String(params[i++]));
}

/** Sample counts and keys of one run. */
export interface Workload {
  /** Rows of `items` (ids 1…rows). */
  rows: number;
  /** Bytes of the database file (the numerator of scan MiB/s). */
  dbBytes: number;
  /** Fresh opens per cold measurement (median reported). */
  coldSamples: number;
  /** Ids for cold point lookups, one per sample. */
  coldIds: number[];
  /** `k` values (of existing rows) for cold secondary-index lookups, one per sample. */
  coldKs: number[];
  /** First ids of cold ranges, one per sample. */
  rangeStarts: number[];
  /** Ids looked up (untimed) before warm timings. */
  warmupIds: number[];
  /** Ids of the timed warm lookups. */
  warmIds: number[];
  /** Lookups in the one-statement lookup measurement. */
  inStatementLookups: number;
  /** Timed full scans per measurement. */
  scanSamples: number;
  /** Rounds of the ltxvfs warm measurements and on/off comparisons (median reported). */
  internalsRounds: number;
  /** Rounds of the CLI engines' warm measurements (median reported; the Litestream VFS is slow here). */
  cliWarmRounds: number;
}

/** The workload for a dataset; `quick` shrinks the counts for a smoke run. */
export function makeWorkload(rows: number, dbBytes: number, seed: number, quick: boolean): Workload {
  const prng = new Prng(seed * 7919 + 17);
  const id = (): number => 1 + prng.int(rows);
  const coldSamples = quick ? 5 : 9;
  const coldIds = Array.from({ length: coldSamples }, id);
  const coldKs = Array.from({ length: coldSamples }, () => keyOf(seed, id()));
  const rangeStarts = Array.from({ length: coldSamples }, () => 1 + prng.int(Math.max(1, rows - RANGE_ROWS)));
  const warmupIds = Array.from({ length: quick ? 1000 : 2000 }, id);
  const warmIds = Array.from({ length: quick ? 5000 : 10000 }, id);
  return {
    rows,
    dbBytes,
    coldSamples,
    coldIds,
    coldKs,
    rangeStarts,
    warmupIds,
    warmIds,
    inStatementLookups: quick ? 20000 : 100000,
    scanSamples: quick ? 2 : 3,
    internalsRounds: quick ? 3 : 7,
    cliWarmRounds: 3,
  };
}

/** Time, and the storage counters where the engine has them, of one operation (medians of samples). */
export interface Measured {
  ms: number;
  /** The fastest sample, when there were several. */
  minMs?: number;
  /** Storage read requests. */
  requests?: number;
  /** Pages decoded from storage. */
  pages?: number;
  /** Bytes read from storage. */
  bytesRead?: number;
}

/** What an engine runner returns; fields an engine cannot measure are left out. */
export interface EngineResult {
  /** Column title. */
  title: string;
  /** The first open in a fresh process (ltxvfs: wasm compile included; CLI: after start-up and `.load`). */
  firstOpen?: Measured;
  /** The first point lookup on that first connection. */
  firstLookup?: Measured;
  /** Open + schema read on a fresh instance / re-open in a warm process (median). */
  open: Measured;
  coldPoint: Measured;
  coldIndex: Measured;
  coldRange: Measured;
  /** Warm point lookups, one call (API call or CLI statement) each, per second. */
  warmPointPerSec: number;
  /** Lookups per second inside one statement (warm). */
  inStatementPerSec: number;
  coldScan: Measured;
  warmScan: Measured;
  /** Peak resident set of the process, bytes. */
  peakRssBytes?: number;
  /** Resident set before the first open (runtime and code), bytes. */
  startRssBytes?: number;
  /** What `SQL.scan` returned, to check that the engines agree. */
  scanResult?: string;
  /** Footnotes specific to this engine. */
  notes: string[];
}

/** The S3 section's statements beyond {@link SQL}. */
export const S3_SQL = {
  /** The scan of a prefix of the table by rowid: the bounded "full scan" every engine can finish. */
  prefixScan: 'SELECT count(*) AS n, sum(length(body)) AS bytes FROM items WHERE id <= ?',
} as const;

/** Sample counts and keys of the S3 section (bench/s3.ts). */
export interface S3Workload {
  rows: number;
  /** Bytes of the database file. */
  dbBytes: number;
  /** Bytes of the `items` table's pages (what a full scan reads). */
  tableBytes: number;
  /** Cold samples of ltxvfs and native SQLite (fresh instances / connections). */
  coldSamples: number;
  /** Cold samples of the Litestream VFS: each needs a fresh `.open`, seconds over S3 with many L0 files. */
  litestreamColdSamples: number;
  /** Ids for cold point lookups, one per sample. */
  coldIds: number[];
  /** First ids of cold 1,000-row ranges, one per sample. */
  rangeStarts: number[];
  /** The prefix scan covers ids 1…prefixRows. */
  prefixRows: number;
  /** Estimated bytes of table pages the prefix covers (`tableBytes × prefixRows / rows`: rows are alike in size on average). */
  prefixBytes: number;
  /** Cold prefix scans of ltxvfs and native (the Litestream VFS does one: it is slow). */
  prefixSamples: number;
  /** The hot set of the warm point lookups: distinct ids, looked up once untimed, then timed. */
  hotIds: number[];
  /** Passes over the hot set per timed round. */
  hotPasses: number;
  /** Untimed passes before the timed rounds (ltxvfs: JIT and wasm tier-up, which take ~10,000 lookups). */
  hotWarmupPasses: number;
  /** Timed rounds of warm lookups (median reported). */
  hotRounds: number;
}

/**
 * The S3 section's workload: `prefixMiB` is the size of the table prefix scanned by every
 * engine (the Litestream VFS reads one page per request: at 10 ms a full scan of 200 MiB
 * would take 9 minutes on S3, 11–14 on the bench's stack).
 */
export function makeS3Workload(
  d: { rows: number; bytes: number; tableBytes: number }, seed: number, quick: boolean, prefixMiB: number,
): S3Workload {
  const prng = new Prng(seed * 104729 + 31);
  const id = (): number => 1 + prng.int(d.rows);
  const coldSamples = quick ? 3 : 5;
  const prefixRows = Math.min(d.rows, Math.max(1, Math.round((prefixMiB * 2 ** 20 * d.rows) / d.tableBytes)));
  const hot = new Set<number>();
  const hotCount = Math.min(d.rows, quick ? 200 : 500);
  while (hot.size < hotCount) hot.add(id());
  return {
    rows: d.rows,
    dbBytes: d.bytes,
    tableBytes: d.tableBytes,
    coldSamples,
    litestreamColdSamples: quick ? 2 : 3,
    coldIds: Array.from({ length: coldSamples }, id),
    rangeStarts: Array.from({ length: coldSamples }, () => 1 + prng.int(Math.max(1, d.rows - RANGE_ROWS))),
    prefixRows,
    prefixBytes: (d.tableBytes * prefixRows) / d.rows,
    prefixSamples: quick ? 1 : 2,
    hotIds: [...hot],
    hotPasses: 10,
    hotWarmupPasses: Math.ceil((quick ? 10000 : 20000) / hotCount),
    hotRounds: quick ? 3 : 5,
  };
}
