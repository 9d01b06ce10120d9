/**
 * ltxvfs: SQLite over Litestream v0.5 replicas, paged in on demand.
 *
 * Start with {@link openDatabase}; docs/usage.md describes the options, docs/engines.md
 * the engine paths (`engine: 'worker'`, and {@link openSqlJs} for a synchronous sql.js
 * Database). Callers that bring their own wa-sqlite instance use {@link registerLtxVFS}
 * with a {@link ReplicaReader} (or a {@link ConnectionView} of one) as the page source.
 */
export { openDatabase, warmupOf, type OpenOptions, type DatabaseReplicaStats } from './open.js';
export { Database, type Row, type SqlValue, type BindValue, type Params, type RunResult, type DatabaseStats } from './database.js';
export { ReplicaReader, type ReplicaReaderOptions, type ReplicaStats, type ReplicaReaderEvents } from './replica-reader.js';
export { ConnectionView } from './connection-view.js';
export { ReplicaWriter, writerFor, type WriterOptions } from './writer.js';
export { Lease, readLease, type LeaseOptions, type LeaseRecord } from './lease.js';
export { compactReplica } from './compact.js';
export { openReplicaClient, parseReplicaUrl } from './storage/url.js';
export type { ReplicaClient, LtxFileInfo, WriteOptions } from './storage/types.js';
export type { PageSource, PageVersion, PageSink, WritablePageSource } from './page-source.js';
export { PageIndex, type LtxFile, type FrameRef } from './page-index.js';
export { computePlan, listReplica, type PlanTarget } from './replica.js';
export { importDatabase, type ImportOptions, type ImportResult } from './import.js';
export { restoreDatabase, type RestoreOptions, type RestoreResult } from './restore.js';
export { verifyReplica, type VerifyOptions, type VerifyReport } from './verify.js';
export { parseTime, parseTarget, formatTime } from './time.js';
export { LtxvfsError, isLtxvfsError, type LtxvfsErrorCode } from '../ltx/errors.js';
export { registerLtxVFS, LtxAsyncVFS } from '../vfs/asyncify-vfs.js';
export { WorkerDatabase, type WorkerEngineOptions, type WorkerCounters } from '../vfs/worker-database.js';
export { loadSqlJs, openSqlJs, sqlJsStats, type LoadSqlJsOptions, type SqlJsOpenOptions, type SqlJsStats } from '../vfs/sqljs.js';
export type { SqlJsStatic, SqlJsDatabase, SqlJsStatement, SqlJsStatementIterator, SqlJsValue, SqlJsBindParams, SqlJsParamsObject, SqlJsQueryExecResult } from '../vfs/sqljs-types.js';
export type { SqliteVfs, VfsRegistrar, WaSqliteModule } from '../vfs/wa-sqlite-types.js';
