/**
 * ltxvfs: SQLite over Litestream v0.5 replicas, paged in on demand.
 *
 * The public surface, deliberately (issue 13 item 6; test/lib/index.test.ts lists it):
 * - {@link openDatabase} and its options, the {@link Database} it returns (read its
 *   counters with `db.stats()`), and the interior-page warm-up it may start ({@link warmupOf});
 * - errors: {@link LtxvfsError}, its codes and {@link isLtxvfsError};
 * - the engines (docs/engines.md): `engine: 'worker'`, {@link openSqlJs} / {@link loadSqlJs}
 *   for a synchronous sql.js Database (whose counters {@link sqlJsStats} reads, as a sql.js
 *   Database has no `stats()`), and {@link registerLtxVFS} for callers with their own
 *   wa-sqlite, fed by {@link openReplicaSource};
 * - the tools (docs/usage.md): {@link importDatabase}, {@link restoreDatabase},
 *   {@link verifyReplica}, {@link compactReplica} over a client from {@link openReplicaClient}.
 *
 * Everything else (page index, plans, writer, lease, caches, time parsing) is internal:
 * import a module directly inside this repository, never through this file.
 */
export { openDatabase, warmupOf, type OpenOptions, type DatabaseReplicaStats } from './api/open.js';
export type { ReplicaDatabase, ReplicaFreshness, ReplicaDatabaseEvents, ReplicaPosition, WaitForTxidOptions } from './api/freshness.js';
export type { WarmupResult } from './read/warmup.js';
export type { Database, Row, SqlValue, BindValue, Params, RunResult, DatabaseStats, DatabaseOptions, Transaction, TransactionOptions, Statement, IntMode, TransactionMode, BatchStatement, ReadPoolStats } from './sql/database.js';
export type { ReplicaReaderOptions, ReplicaStats } from './read/replica-reader.js';
export type { FetchClock } from './read/fetch-queue.js';
export type { PollSchedule } from './read/poll-backoff.js';
export type { WriterOptions } from './write/writer.js';
export type { WriteBehindStats } from './write/write-behind.js';
export type { HydrateOptions, HydrationStats } from './hydrate/index.js';
export type { DiskCacheStats } from './cache/index.js';
export type { VerificationStats } from './read/verifier.js';
export { openReplicaSource, type ReplicaSource } from './read/replica-source.js';
export type { PageSource, PageVersion } from './read/page-source.js';
export { openReplicaClient, parseReplicaUrl, type ReplicaUrl, type ReplicaScheme, type OpenReplicaClientOptions, type BackendOptions } from './storage/url.js';
export type { AbsReplicaOptions } from './storage/abs/options.js';
export type { GsReplicaOptions } from './storage/gs/config.js';
export type { SftpReplicaOptions } from './storage/sftp/options.js';
export type { WebdavReplicaOptions } from './storage/webdav/config.js';
export type { NatsReplicaOptions } from './storage/nats/options.js';
export type { ReplicaClient, ReplicaCapabilities, LtxFileInfo, WriteOptions, StrayEntry } from './storage/types.js';
export type { S3ReplicaOptions, S3Credentials } from './storage/s3/index.js';
export type { CompactOptions, CompactReport, CompactOutput } from './tools/compact.js';
export type { ImportOptions, ImportResult } from './tools/import.js';
export type { RestoreOptions, RestoreResult } from './tools/restore.js';
export type { VerifyOptions, VerifyReport } from './tools/verify.js';
// Loaded on their first call, with the sql.js adapter: a service that only opens databases does not load them (lib/api/lazy-entries.ts).
export { compactReplica, importDatabase, restoreDatabase, verifyReplica, loadSqlJs, openSqlJs, sqlJsStats } from './api/lazy-entries.js';
export type { TempFileInfo } from './write/temp-files.js';
export type { PlanTarget } from './replica/plan.js';
export { LtxvfsError, isLtxvfsError, type LtxvfsErrorCode, type SqliteErrorName } from '../ltx/errors.js';
export {
  registerLtxVFS,
  type LtxAsyncVFS,
  type LtxAsyncVFSCounters,
  type RegisterLtxVFSOptions,
  type PragmaHandler,
  type PragmaResult,
} from '../vfs/asyncify/vfs.js';
export type { WorkerEngineOptions } from '../vfs/worker/database.js';
export type { BridgeClientCounters } from '../vfs/bridge/client.js';
export type { LoadSqlJsOptions, SqlJsOpenOptions, SqlJsStats } from '../vfs/sqljs/index.js';
export type { SqlJsStatic, SqlJsDatabase, SqlJsStatement, SqlJsStatementIterator, SqlJsValue, SqlJsBindParams, SqlJsParamsObject, SqlJsQueryExecResult } from '../vfs/sqljs/types.js';
export type { SqliteVfs, VfsRegistrar, WaSqliteModule } from '../vfs/wasm/wa-sqlite-types.js';
