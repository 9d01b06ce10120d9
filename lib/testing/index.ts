/**
 * `ltxvfs/testing`: Litestream v0.5 replicas as fixtures for other projects' tests
 * (docs/testing.md). {@link makeReplica} makes a replica from a SQLite file or from SQL
 * transactions with chosen timestamps, in a directory or on an in-process S3 server that
 * {@link startS3Server} starts (`s3rver`, an optional peer dependency); each hands back
 * the URL and the environment to pass to ltxvfs or to the Litestream VFS, and a
 * `cleanup()` / `stop()`.
 */
export { makeReplica, type MakeReplicaOptions, type ReplicaTime, type ReplicaTransaction, type TestReplica } from './replica.js';
export { startS3Server, S3RVER_CREDENTIALS, type S3Server, type S3ServerOptions } from './s3-server.js';
