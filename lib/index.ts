/**
 * ltxvfs: SQLite over Litestream v0.5 replicas, paged in on demand.
 *
 * Start with {@link openDatabase}. Callers that bring their own wa-sqlite instance use
 * `registerLtxVFS` with a {@link ReplicaReader} as the page source.
 */
export { openDatabase, type OpenOptions } from './open.js';
export { Database } from './database.js';
export { ReplicaReader, type ReplicaReaderOptions, type ReplicaStats } from './replica-reader.js';
export { openReplicaClient, parseReplicaUrl } from './storage/url.js';
export type { ReplicaClient, LtxFileInfo, WriteOptions } from './storage/types.js';
export type { PageSource, PageVersion } from './page-source.js';
export { PageIndex, type LtxFile, type FrameRef } from './page-index.js';
export { computePlan, listReplica } from './replica.js';
export { importDatabase, type ImportOptions, type ImportResult } from './import.js';
export { restoreDatabase, type RestoreOptions, type RestoreResult } from './restore.js';
export { verifyReplica, type VerifyOptions, type VerifyReport } from './verify.js';
export { LtxvfsError, isLtxvfsError, type LtxvfsErrorCode } from '../ltx/errors.js';
export { registerLtxVFS, LtxAsyncVFS } from '../vfs/asyncify-vfs.js';
