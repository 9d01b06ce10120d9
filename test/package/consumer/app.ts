// A consumer's TypeScript over every public export of ltxvfs, ltxvfs/ltx and ltxvfs/testing,
// type-checked by test/package/consumer.test.ts with `tsc --strict`, module nodenext and no
// skipLibCheck against the installed tarball. Not run: the .mjs/.cjs files next to it run.
import {
  openDatabase, warmupOf, compactReplica, openReplicaClient, parseReplicaUrl, importDatabase, restoreDatabase,
  verifyReplica, LtxvfsError, isLtxvfsError, registerLtxVFS, openReplicaSource, loadSqlJs, openSqlJs, sqlJsStats,
  type OpenOptions, type DatabaseReplicaStats, type WarmupResult, type Database, type Row, type SqlValue, type BindValue,
  type Params, type RunResult, type DatabaseStats, type ReplicaReaderOptions, type ReplicaStats, type FetchClock, type PollSchedule, type WriterOptions, type WriteBehindStats,
  type WorkerEngineOptions, type HydrateOptions, type HydrationStats, type DiskCacheStats, type VerificationStats,
  type S3ReplicaOptions, type S3Credentials, type LtxvfsErrorCode, type ReplicaUrl, type ReplicaClient,
  type ReplicaCapabilities, type LtxFileInfo, type WriteOptions, type StrayEntry, type CompactOptions,
  type CompactReport, type CompactOutput, type ImportOptions, type ImportResult, type RestoreOptions,
  type RestoreResult, type PlanTarget, type VerifyOptions, type VerifyReport, type TempFileInfo, type LtxAsyncVFS,
  type LtxAsyncVFSCounters, type RegisterLtxVFSOptions, type PragmaHandler, type PragmaResult, type ReplicaSource,
  type PageSource, type PageVersion, type SqliteVfs, type VfsRegistrar, type WaSqliteModule, type LoadSqlJsOptions,
  type SqlJsOpenOptions, type SqlJsStats, type BridgeClientCounters, type SqlJsStatic, type SqlJsDatabase,
  type SqlJsStatement, type SqlJsStatementIterator, type SqlJsValue, type SqlJsBindParams, type SqlJsParamsObject,
  type SqlJsQueryExecResult, type ReplicaDatabase, type ReplicaFreshness, type ReplicaDatabaseEvents,
  type ReplicaPosition, type WaitForTxidOptions, type DatabaseOptions, type Transaction, type TransactionOptions,
  type Statement, type IntMode, type TransactionMode, type BatchStatement, type SqliteErrorName, type ReadPoolStats,
  type ReplicaScheme, type OpenReplicaClientOptions, type BackendOptions, type AbsReplicaOptions, type GsReplicaOptions,
  type SftpReplicaOptions, type WebdavReplicaOptions, type NatsReplicaOptions,
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
  const options: OpenOptions = { cacheSizeBytes: 8 << 20, engine: 'worker', readConnections: 2, s3: { maxAttempts: 3 } satisfies S3ReplicaOptions };
  const db: Database<DatabaseReplicaStats & ReadPoolStats> = await openDatabase(url, options);
  const one: Track | undefined = await db.get<Track>('SELECT TrackId, Name FROM Track WHERE TrackId = ?', [1]);
  const many: Track[] = await db.all<Track>('SELECT TrackId, Name FROM Track LIMIT 3');
  const plain: Row[] = await db.all('SELECT 1 AS x');
  const value: SqlValue = plain[0]?.x ?? null;
  const { columns, rows } = await db.query<Track>('SELECT TrackId, Name FROM Track LIMIT 1');
  const run: RunResult = await db.run('SELECT 1');
  const stats: DatabaseStats = db.stats();
  const pool: ReadPoolStats = db.stats();
  if (pool.readConnections < 1) throw new Error('no read connection');
  const warm: WarmupResult | undefined = await warmupOf(db);
  await db.close();
  return `${one?.Name} ${many.length} ${String(value)} ${columns.join()} ${rows[0]?.TrackId} ${run.changes} ${stats.txid} ${warm?.interiorPages}`;
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
  const bridge: BridgeClientCounters = stats.bridge;
  stmt.free();
  console.log(obj, it.getRemainingSQL(), bridge);
  const result = db.exec('SELECT 1');
  db.close();
  return result;
}

export function errors(err: unknown): LtxvfsError['code'] | undefined {
  const notFound: LtxvfsErrorCode = 'LTXVFS_ERR_NOT_FOUND';
  if (err instanceof LtxvfsError) return err.code;
  return isLtxvfsError(err, notFound) ? err.code : undefined;
}

export async function storage(url: string, out: string, sqliteFile: string): Promise<void> {
  const parsed: ReplicaUrl = parseReplicaUrl(url);
  const backends: OpenReplicaClientOptions & BackendOptions = {
    create: true,
    abs: {} satisfies AbsReplicaOptions,
    gs: {} satisfies GsReplicaOptions,
    sftp: {} satisfies SftpReplicaOptions,
    webdav: {} satisfies WebdavReplicaOptions,
    nats: {} satisfies NatsReplicaOptions,
  };
  const scheme: ReplicaScheme = parsed.scheme;
  void scheme;
  const client: ReplicaClient = await openReplicaClient(url, backends);
  const caps: ReplicaCapabilities = client.capabilities;
  const strays: StrayEntry[] = client.strays?.() ?? [];
  const files: LtxFileInfo[] = await client.listLtxFiles(0);
  const imported: ImportResult = await importDatabase(sqliteFile, client, {} satisfies ImportOptions);
  const target: PlanTarget = { txid: 1 };
  console.log(imported.key);
  const restored: RestoreResult = await restoreDatabase(client, out, { target } satisfies RestoreOptions);
  const report: VerifyReport = await verifyReplica(client, {} satisfies VerifyOptions);
  const temps: TempFileInfo[] = report.tempFiles;
  const compacted: CompactReport = await compactReplica(client, {} satisfies CompactOptions);
  const snapshot: CompactOutput | undefined = compacted.snapshot;
  console.log(parsed, caps, strays, files.length, restored, temps, snapshot);
  await client.close();
}

export function engines(api: VfsRegistrar, module: WaSqliteModule, source: PageSource): SqliteVfs {
  const pragmaHandler: PragmaHandler = (name): PragmaResult => (name === 'app_version' ? '1' : undefined);
  const options: RegisterLtxVFSOptions = { name: 'consumer', pragmaHandler };
  const vfs: LtxAsyncVFS = registerLtxVFS(api, module, options);
  vfs.addDatabase('db', source);
  const counters: LtxAsyncVFSCounters = vfs.counters;
  console.log(counters.reads);
  return vfs;
}

export async function pageSource(url: string): Promise<ReplicaSource> {
  const options: ReplicaReaderOptions = { cacheSizeBytes: 1 << 20 };
  const source: ReplicaSource = await openReplicaSource(await openReplicaClient(url), options);
  const version: PageVersion = source.acquire();
  source.release(version);
  const stats: ReplicaStats = source.stats();
  const hydration: HydrationStats | undefined = stats.hydration;
  const disk: DiskCacheStats | undefined = stats.diskCache;
  const verification: VerificationStats = stats.verification;
  console.log(hydration, disk, verification.filesVerified);
  return source;
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

/** Option and record types the code above does not reach. */
export type Types = [
  BindValue, Params, WriterOptions, WorkerEngineOptions, HydrateOptions, S3Credentials, WriteOptions, Database<DatabaseReplicaStats>, FetchClock, PollSchedule,
];

export async function transactionsAndFreshness(url: string): Promise<number> {
  const intMode: IntMode = 'bigint';
  const dbOptions: DatabaseOptions = { intMode };
  const db: ReplicaDatabase = await openDatabase(url, { ...dbOptions, autoLease: true });
  const freshness: ReplicaFreshness = db;
  freshness.on('version', (position: ReplicaPosition) => console.log(position.txid));
  const event: keyof ReplicaDatabaseEvents = 'stale';
  freshness.once(event, (err) => console.log(err.code));
  const mode: TransactionMode = 'immediate';
  const txOptions: TransactionOptions = { mode };
  const batch: BatchStatement[] = [{ sql: 'INSERT INTO t (v) VALUES (?)', params: [1] }];
  await db.transaction(async (tx: Transaction) => {
    await tx.batch(batch);
  }, txOptions);
  const statement: Statement<Row> = await db.prepare('SELECT v FROM t');
  console.log(await statement.all());
  await statement.finalize();
  const busy: SqliteErrorName = 'SQLITE_BUSY';
  const wait: WaitForTxidOptions = { timeoutMs: 1000 };
  const txid = await db.waitForTxid(db.stats().txid, wait).catch((err: unknown) => (err instanceof LtxvfsError && err.code === busy ? 0 : -1));
  await db.close();
  const behind: ReplicaDatabase = await openDatabase(url, { autoLease: true, writeBehind: true, writeBehindMaxBytes: 1 << 20, shared: false });
  await behind.run('INSERT INTO t (v) VALUES (?)', [2]);
  const queue: WriteBehindStats | undefined = behind.stats().writeBehind;
  const flushed: number = await behind.flush();
  await behind.close();
  return txid + flushed + (queue?.staged ?? 0);
}
