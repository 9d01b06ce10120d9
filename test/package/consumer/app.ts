// A consumer's TypeScript over every public export of ltxvfs, ltxvfs/ltx and ltxvfs/testing,
// type-checked by test/package/consumer.test.ts with `tsc --strict`, module nodenext and no
// skipLibCheck against the installed tarball. Not run: the .mjs/.cjs files next to it run.
import {
  openDatabase, warmupOf, Database, ReplicaReader, ConnectionView, ReplicaWriter, writerFor, Lease, readLease,
  compactReplica, openReplicaClient, parseReplicaUrl, PageIndex, computePlan, listReplica, importDatabase,
  restoreDatabase, verifyReplica, parseTime, parseTarget, formatTime, LtxvfsError, isLtxvfsError, registerLtxVFS,
  LtxAsyncVFS, WorkerDatabase, loadSqlJs, openSqlJs, sqlJsStats,
  type OpenOptions, type DatabaseReplicaStats, type Row, type SqlValue, type BindValue, type Params, type RunResult,
  type DatabaseStats, type ReplicaReaderOptions, type ReplicaStats, type ReplicaReaderEvents, type WriterOptions,
  type LeaseOptions, type LeaseRecord, type ReplicaClient, type LtxFileInfo, type WriteOptions, type PageSource,
  type PageVersion, type PageSink, type WritablePageSource, type LtxFile, type FrameRef, type PlanTarget,
  type ImportOptions, type ImportResult, type RestoreOptions, type RestoreResult, type VerifyOptions, type VerifyReport,
  type LtxvfsErrorCode, type WorkerEngineOptions, type WorkerCounters, type LoadSqlJsOptions, type SqlJsOpenOptions,
  type SqlJsStats, type SqlJsStatic, type SqlJsDatabase, type SqlJsStatement, type SqlJsStatementIterator,
  type SqlJsValue, type SqlJsBindParams, type SqlJsParamsObject, type SqlJsQueryExecResult, type SqliteVfs,
  type VfsRegistrar, type WaSqliteModule,
} from 'ltxvfs';
import * as ltx from 'ltxvfs/ltx';
import {
  makeReplica, startS3Server, S3RVER_CREDENTIALS,
  type MakeReplicaOptions, type ReplicaTime, type ReplicaTransaction, type TestReplica, type S3Server, type S3ServerOptions,
} from 'ltxvfs/testing';

interface Track {
  TrackId: number;
  Name: string;
}

export async function typedQueries(url: string): Promise<string> {
  const options: OpenOptions = { cacheSize: 8 << 20, engine: 'worker' };
  const db: Database<DatabaseReplicaStats> = await openDatabase(url, options);
  const one: Track | undefined = await db.get<Track>('SELECT TrackId, Name FROM Track WHERE TrackId = ?', [1]);
  const many: Track[] = await db.all<Track>('SELECT TrackId, Name FROM Track LIMIT 3');
  const plain: Row[] = await db.all('SELECT 1 AS x');
  const value: SqlValue = plain[0]?.x ?? null;
  const { columns, rows } = await db.query<Track>('SELECT TrackId, Name FROM Track LIMIT 1');
  const run: RunResult = await db.run('SELECT 1');
  const stats: DatabaseStats = db.stats();
  await db.close();
  return `${one?.Name} ${many.length} ${String(value)} ${columns.join()} ${rows[0]?.TrackId} ${run.changes} ${stats.txid}`;
}

export async function sqlJs(url: string): Promise<SqlJsQueryExecResult[]> {
  const options: LoadSqlJsOptions = {};
  const SQL: SqlJsStatic = await loadSqlJs(options);
  const open: SqlJsOpenOptions = { bridgeTimeoutMs: 1000 };
  const db: SqlJsDatabase = await openSqlJs(SQL, url, open);
  const stmt: SqlJsStatement = db.prepare('SELECT ?');
  const params: SqlJsBindParams = [1 satisfies SqlJsValue];
  const obj: SqlJsParamsObject = stmt.getAsObject(params);
  const it: SqlJsStatementIterator = db.iterateStatements('SELECT 1; SELECT 2');
  const stats: SqlJsStats = sqlJsStats(db);
  stmt.free();
  console.log(obj, it.getRemainingSQL(), stats.bridge);
  const result = db.exec('SELECT 1');
  db.close();
  return result;
}

export function errors(err: unknown): LtxvfsErrorCode | undefined {
  if (err instanceof LtxvfsError) return err.code;
  return isLtxvfsError(err) ? err.code : undefined;
}

export async function storage(url: string, out: string, sqliteFile: string): Promise<void> {
  const parsed = parseReplicaUrl(url);
  const client: ReplicaClient = await openReplicaClient(url, { create: true });
  const files: LtxFileInfo[] = await listReplica(client);
  const plan: LtxFileInfo[] = computePlan(files, { txid: 1 } satisfies PlanTarget);
  const imported: ImportResult = await importDatabase(sqliteFile, client, {} satisfies ImportOptions);
  const restored: RestoreResult = await restoreDatabase(client, out, {} satisfies RestoreOptions);
  const report: VerifyReport = await verifyReplica(client, {} satisfies VerifyOptions);
  await compactReplica(client);
  const lease: { record: LeaseRecord } | LeaseRecord | undefined | null | unknown = await readLease(client);
  console.log(parsed, plan.length, imported, restored, report, lease);
  await client.close();
}

export function time(): string {
  const target = parseTarget('latest');
  return `${JSON.stringify(parseTime('2026-01-01T00:00:00Z'))} ${JSON.stringify(target)} ${formatTime(0)}`;
}

export function engines(api: VfsRegistrar, module: WaSqliteModule, source: PageSource): SqliteVfs {
  const vfs: LtxAsyncVFS = registerLtxVFS(api, module, { name: 'consumer' });
  vfs.addDatabase('db', source);
  return vfs;
}

export async function fixtures(sqliteFile: string): Promise<TestReplica> {
  const at: ReplicaTime = new Date(0);
  const tx: ReplicaTransaction = { sql: 'CREATE TABLE t (x)', at };
  const options: MakeReplicaOptions = { from: sqliteFile };
  const s3Options: S3ServerOptions = {};
  const server: S3Server = await startS3Server(s3Options);
  await server.stop();
  console.log(tx, S3RVER_CREDENTIALS.accessKeyId);
  return makeReplica(options);
}

export function codec(bytes: Uint8Array): number {
  const header: ltx.LtxHeader = ltx.decodeHeader(bytes, 'file.ltx');
  const name: string = ltx.formatLtxFilename(header.minTXID, header.maxTXID);
  const err: ltx.LtxvfsError | undefined = ltx.isLtxvfsError(bytes) ? bytes : undefined;
  return name.length + (err === undefined ? 0 : 1) + Number(ltx.crc64(bytes));
}

/** Names that stand for themselves: classes, options and records the code above does not reach. */
export const values: readonly unknown[] = [
  warmupOf, Database, ReplicaReader, ConnectionView, ReplicaWriter, writerFor, Lease, PageIndex, WorkerDatabase,
];
export type Types = [
  BindValue, Params, ReplicaReaderOptions, ReplicaStats, ReplicaReaderEvents, WriterOptions, LeaseOptions, WriteOptions,
  PageVersion, PageSink, WritablePageSource, LtxFile, FrameRef, WorkerEngineOptions, WorkerCounters,
];
