/**
 * The storage boundary: the {@link ReplicaClient} interface, the directory client, and
 * replica URLs. Knows bytes and keys only (DESIGN.md, read path 1).
 */
export type { LtxFileInfo, ReplicaClient, WriteOptions } from './types.js';
export { FileReplicaClient, openFileReplica, type FileReplicaOptions } from './file.js';
export { openReplicaClient, parseReplicaUrl, type ReplicaUrl } from './url.js';
