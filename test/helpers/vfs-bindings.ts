/**
 * The three engine bindings of the database-file core (vfs/core/database-file.ts) in this
 * thread, over a source and sink the test holds — the shape of wa-sqlite's
 * `configureTests(factory)`: one suite (test/vfs/core-suite.ts) runs against each.
 *
 * - `asyncify`: `LtxAsyncVFS` over wa-sqlite's Asyncify build;
 * - `worker`: `LtxSyncVFS` (the worker engine's VFS) over wa-sqlite's non-Asyncify build,
 *   here in the main thread: its source answers synchronously, as the page bridge does;
 * - `sqljs`: `SqlJsVfsHook` spliced into a sql.js instance of its own; its methods are
 *   called through SQLite's `sqlite3_io_methods` in the wasm function table, as SQLite
 *   calls them.
 *
 * Each gives a {@link MethodDriver} (one VFS method at a time, every answer awaited as
 * Asyncify would) and a {@link SqlRunner} (SQL through the engine's own SQLite).
 */
import { createRequire } from 'node:module';
import * as SQLite from '@journeyapps/wa-sqlite';
import type { SqlJsStatic } from 'sql.js';
import type { PageSink, PageVersion, WritablePageSource } from '../../lib/read/page-source.js';
import { Database, type Row } from '../../lib/sql/database.js';
import { LtxAsyncVFS, type Thenable } from '../../vfs/asyncify/vfs.js';
import type { SyncPageSink, SyncPageSource } from '../../vfs/core/database-file.js';
import { loadSqlJs, resolveSqlJs } from '../../vfs/sqljs/index.js';
import { SqlJsVfsHook, type SqlJsDatabaseSource, type SqlJsModule, type SqlJsInternals, type WasmMemory, type WasmTable } from '../../vfs/sqljs/vfs.js';
import { loadAsyncifyModule, withEmptyBlobs } from '../../vfs/wasm/wa-sqlite.js';
import { loadSyncModule } from '../../vfs/wasm/wa-sqlite-sync.js';
import { LtxSyncVFS } from '../../vfs/worker/vfs.js';
import type { WaSqliteModule } from '../../vfs/wasm/wa-sqlite-types.js';
import { BytesSource } from './bytes-source.js';
import { ENGINES, type EngineName } from './engines.js';

export { ENGINES, type EngineName };

/** An in-memory replica the bindings serve: a {@link BytesSource} whose sink applies transactions. */
export class MemoryReplica {
  readonly commits: Array<{ pages: number[]; commit: number }> = [];
  reserved = 0;
  unreserved = 0;
  /** When set, `reserve` throws it (a refused lease). */
  refuseReserve: Error | undefined;
  /** When set, the next `commit` throws it (a conflict, a storage failure), then clears. */
  failCommit: Error | undefined;
  constructor(readonly source: BytesSource) {}

  reserve(): void {
    if (this.refuseReserve !== undefined) throw this.refuseReserve;
    this.reserved++;
  }

  unreserve(): void {
    this.unreserved++;
  }

  /** Apply `pages` on `base` as the new newest version, pinned for the caller. */
  commit(base: PageVersion, pages: ReadonlyMap<number, Uint8Array>, commit: number, pageSize: number): PageVersion {
    const failure = this.failCommit;
    this.failCommit = undefined;
    if (failure !== undefined) throw failure;
    const current = this.source.current;
    if (base.txid !== current.txid) throw new Error(`commit on TXID ${base.txid}, source at ${current.txid}`);
    const bytes = new Uint8Array(commit * pageSize);
    bytes.set(current.bytes.subarray(0, Math.min(bytes.length, current.bytes.length)));
    for (const [pgno, data] of pages) if (pgno <= commit) bytes.set(data, (pgno - 1) * pageSize);
    this.commits.push({ pages: [...pages.keys()].sort((x, y) => x - y), commit });
    this.source.setBytes(bytes);
    return this.source.acquire();
  }

  /** The replica as the Asyncify engine takes it: reads as the source answers them, commits as Promises. */
  asyncSource(writable: boolean): WritablePageSource {
    const sink: PageSink = {
      reserve: () => this.reserve(),
      unreserve: () => this.unreserve(),
      commit: async (base, pages, commit, pageSize) => this.commit(base, pages, commit, pageSize),
    };
    return {
      sink: writable ? sink : undefined,
      acquire: () => this.source.acquire(),
      release: (v) => this.source.release(v),
      readPage: (v, p) => this.source.readPage(v, p),
    };
  }

  /** The replica as the synchronous engines take it. */
  syncSource(): SyncPageSource {
    return {
      acquire: () => this.source.acquire(),
      release: (v) => this.source.release(v),
      readPage: (v, p) => {
        const page = this.source.readPage(v, p);
        if (page instanceof Promise) throw new Error('a synchronous engine was given a source that misses');
        return page;
      },
    };
  }

  syncSink(): SyncPageSink {
    return this;
  }
}

/** One VFS method at a time on one engine's binding; every answer is awaited as Asyncify would. */
export interface MethodDriver {
  readonly engine: EngineName;
  /** Whether the binding serves several databases by name (`xOpen` of an unknown name fails). */
  readonly byName: boolean;
  /** Whether the binding keeps SQLite's other files (journals, TEMP) itself. */
  readonly memoryFiles: boolean;
  /** `xOpen` of `name` with `flags`: the code, the output flags and the handle for the other calls. */
  open(name: string, flags: number): Promise<{ code: number; outFlags: number; file: number }>;
  read(file: number, dest: Uint8Array, offset: number): Promise<number>;
  write(file: number, data: Uint8Array, offset: number): Promise<number>;
  truncate(file: number, size: number): Promise<number>;
  sync(file: number): Promise<number>;
  fileSize(file: number): Promise<{ code: number; size: number }>;
  lock(file: number, level: number): Promise<number>;
  unlock(file: number, level: number): Promise<number>;
  fileControl(file: number, op: number): Promise<number>;
  deviceCharacteristics(file: number): Promise<number>;
  close(file: number): Promise<number>;
  /** The error behind the last failure, forgetting it. */
  takeLastError(): unknown;
}

/** SQL through one engine's own SQLite, over the binding. */
export interface SqlRunner {
  all(sql: string): Promise<Row[]>;
  exec(sql: string): Promise<void>;
  /** Run `fn` in a transaction (sql.js: BEGIN … COMMIT around it; else `Database.transaction`). */
  transaction(fn: () => Promise<void>): Promise<void>;
  close(): Promise<void>;
}

const SQLITE_OPEN_EXRESCODE = 0x0200_0000;
let names = 0;

function settle(r: number | Thenable<number> | Promise<number>): Promise<number> {
  return typeof r === 'number' ? Promise.resolve(r) : new Promise<number>((resolve) => void r.then(resolve));
}

/** The per-method driver of `engine` over `replica`, its database called `name` (read-only: `writable` false). */
export async function methodDriver(engine: EngineName, replica: MemoryReplica, name: string, writable = true): Promise<MethodDriver> {
  if (engine === 'sqljs') return sqlJsDriver(replica, name, writable);
  const out = new DataView(new ArrayBuffer(8));
  let j: LtxAsyncVFS | LtxSyncVFS;
  let read: (file: number, dest: Uint8Array, offset: number) => Promise<number>;
  let fileSize: (file: number) => Promise<{ code: number; size: number }>;
  if (engine === 'asyncify') {
    const { module } = await loadAsyncifyModule();
    const vfs = new LtxAsyncVFS(module, { name: `methods-${++names}` });
    vfs.addDatabase(name, replica.asyncSource(writable));
    j = vfs;
    read = (file, dest, offset) => settle(vfs.jRead(file, dest, offset));
    fileSize = async (file) => ({ code: vfs.jFileSize(file, out), size: Number(out.getBigInt64(0, true)) });
  } else {
    // The worker engine's VFS reads raw (pointers into its memory), as its SQLite calls it.
    const { module } = await loadSyncModule();
    const vfs = new LtxSyncVFS(module, { name: `methods-${++names}` });
    vfs.addDatabase(name, replica.syncSource(), writable ? replica.syncSink() : undefined);
    j = vfs;
    read = async (file, dest, offset) => {
      const ptr = module._sqlite3_malloc(Math.max(8, dest.length));
      try {
        const code = vfs.xRead(file, ptr, dest.length, offset % 0x1_0000_0000, Math.floor(offset / 0x1_0000_0000));
        dest.set(module.HEAPU8.subarray(ptr, ptr + dest.length));
        return code;
      } finally {
        module._sqlite3_free(ptr);
      }
    };
    fileSize = async (file) => {
      const ptr = module._sqlite3_malloc(8);
      try {
        const code = vfs.xFileSize(file, ptr);
        return { code, size: Number(new DataView(module.HEAPU8.buffer).getBigInt64(ptr, true)) };
      } finally {
        module._sqlite3_free(ptr);
      }
    };
  }
  let next = 100;
  const vfs = j as LtxAsyncVFS;
  return {
    engine,
    byName: true,
    memoryFiles: true,
    async open(openName, flags) {
      const file = ++next;
      const code = vfs.jOpen(openName, file, flags, out);
      return { code, outFlags: out.getInt32(0, true), file };
    },
    read,
    write: async (file, data, offset) => vfs.jWrite(file, data, offset),
    truncate: async (file, size) => vfs.jTruncate(file, size),
    sync: (file) => settle(vfs.jSync(file, 0)),
    fileSize,
    lock: (file, level) => settle(vfs.jLock(file, level)),
    unlock: async (file, level) => vfs.jUnlock(file, level),
    fileControl: (file, op) => settle(vfs.jFileControl(file, op, out)),
    deviceCharacteristics: async (file) => vfs.jDeviceCharacteristics(file),
    close: async (file) => vfs.jClose(file),
    takeLastError: () => vfs.takeLastError(),
  };
}

/** A sql.js instance of its own with the hook spliced in, and its table and memory. */
async function hookedSqlJs(): Promise<{ SQL: SqlJsStatic; hook: SqlJsVfsHook; internals: SqlJsInternals }> {
  const require = createRequire(import.meta.url);
  const path = resolveSqlJs('sql.js');
  const shared = require.cache[path];
  delete require.cache[path];
  let fresh: (config?: object) => Promise<SqlJsStatic>;
  try {
    fresh = require(path) as (config?: object) => Promise<SqlJsStatic>;
  } finally {
    if (shared !== undefined) require.cache[path] = shared;
    else delete require.cache[path];
  }
  let exports: Record<string, unknown> = {};
  type Receive = (instance: { exports: Record<string, unknown> }, module: object) => void;
  type Config = { instantiateWasm(imports: object, receive: Receive): object };
  const SQL = await loadSqlJs({
    init: (config) => fresh({
      ...config,
      instantiateWasm: (imports: object, receive: Receive) => (config as Config).instantiateWasm(imports, (instance, module) => {
        exports = instance.exports;
        receive(instance, module);
      }),
    }),
  });
  const values = Object.values(exports);
  const wasm = (globalThis as unknown as { WebAssembly: { Table: abstract new () => object; Memory: abstract new () => object } }).WebAssembly;
  const internals = {
    table: values.find((v) => v instanceof wasm.Table) as WasmTable,
    memory: values.find((v) => v instanceof wasm.Memory) as WasmMemory,
  };
  return { SQL, hook: SqlJsVfsHook.install(SQL as unknown as SqlJsModule, internals), internals };
}

/** `sqlite3_io_methods` (version 1) slots after iVersion. */
const IO = { close: 0, read: 1, write: 2, truncate: 3, sync: 4, fileSize: 5, lock: 6, unlock: 7, fileControl: 9, deviceCharacteristics: 11 };

async function sqlJsDriver(replica: MemoryReplica, name: string, writable: boolean): Promise<MethodDriver> {
  const { SQL, hook, internals } = await hookedSqlJs();
  const sql = SQL as unknown as SqlJsModule & { _sqlite3_open(z: number, pp: number): number };
  const words = (): Uint32Array => new Uint32Array(internals.memory.buffer);
  const heap = (): Uint8Array => new Uint8Array(internals.memory.buffer);
  const fn = (index: number) => internals.table.get(index) as (...args: Array<number | bigint>) => number;
  // The default (unix) VFS, found as the hook finds it: the first member of a connection.
  const scratch = sql._malloc(16);
  const memory = sql.stringToNewUTF8(':memory:');
  sql._sqlite3_open(memory, scratch);
  const db = words()[scratch >> 2];
  const pVfs = words()[db >> 2];
  sql._sqlite3_close_v2(db);
  const szOsFile = words()[(pVfs + 4) >> 2];
  const xOpen = fn(words()[(pVfs + 24) >> 2]);
  const spec: SqlJsDatabaseSource = { name, source: replica.syncSource(), sink: writable ? replica.syncSink() : undefined };
  const method = (file: number, slot: number) => fn(words()[(words()[file >> 2] >> 2) + 1 + slot]);
  const withBuffer = async (bytes: number, body: (ptr: number) => number, after?: (ptr: number) => void): Promise<number> => {
    const ptr = sql._malloc(Math.max(8, bytes));
    try {
      const code = body(ptr);
      after?.(ptr);
      return code;
    } finally {
      sql._free(ptr);
    }
  };
  return {
    engine: 'sqljs',
    byName: false,
    memoryFiles: false,
    async open(openName, flags) {
      const file = sql._malloc(szOsFile + 8);
      heap().fill(0, file, file + szOsFile);
      // A name as xFullPathname makes it (NUL-terminated, no URI parameters after it); kept for the file's life.
      const path = new TextEncoder().encode(`/${openName}`);
      const zName = sql._malloc(path.length + 8);
      heap().fill(0, zName, zName + path.length + 8);
      heap().set(path, zName);
      const pOut = scratch + 8;
      const code = hook.openWith(spec, () => xOpen(pVfs, zName, file, flags, pOut));
      return { code, outFlags: new Int32Array(internals.memory.buffer)[pOut >> 2], file };
    },
    read: (file, dest, offset) => withBuffer(dest.length, (ptr) => method(file, IO.read)(file, ptr, dest.length, BigInt(offset)),
      (ptr) => dest.set(heap().subarray(ptr, ptr + dest.length))),
    write: (file, data, offset) => withBuffer(data.length, (ptr) => {
      heap().set(data, ptr);
      return method(file, IO.write)(file, ptr, data.length, BigInt(offset));
    }),
    truncate: async (file, size) => method(file, IO.truncate)(file, BigInt(size)),
    sync: async (file) => method(file, IO.sync)(file, 0),
    fileSize: async (file) => {
      let size = 0;
      const code = await withBuffer(8, (ptr) => method(file, IO.fileSize)(file, ptr), (ptr) => {
        size = Number(new DataView(internals.memory.buffer).getBigInt64(ptr, true));
      });
      return { code, size };
    },
    lock: async (file, level) => method(file, IO.lock)(file, level),
    unlock: async (file, level) => method(file, IO.unlock)(file, level),
    fileControl: (file, op) => withBuffer(16, (ptr) => method(file, IO.fileControl)(file, op, ptr)),
    deviceCharacteristics: async (file) => method(file, IO.deviceCharacteristics)(file),
    close: async (file) => method(file, IO.close)(file),
    takeLastError: () => hook.takeLastError(spec),
  };
}

/** SQL over `replica` through `engine`'s own SQLite and binding, the database opened read-write. */
export async function sqlRunner(engine: EngineName, replica: MemoryReplica, name: string): Promise<SqlRunner> {
  if (engine === 'sqljs') {
    const { SQL, hook } = await hookedSqlJs();
    const spec: SqlJsDatabaseSource = { name, source: replica.syncSource(), sink: replica.syncSink() };
    const db = hook.openWith(spec, () => new SQL.Database());
    return {
      async all(sql) {
        const stmt = db.prepare(sql);
        try {
          const rows: Row[] = [];
          while (stmt.step()) rows.push(stmt.getAsObject() as Row);
          return rows;
        } finally {
          stmt.free();
        }
      },
      async exec(sql) {
        db.exec(sql);
      },
      async transaction(fn) {
        db.exec('BEGIN');
        await fn();
        db.exec('COMMIT');
      },
      async close() {
        db.close();
      },
    };
  }
  let module: WaSqliteModule;
  let sqlite3: SQLiteAPI;
  let vfs: LtxAsyncVFS | LtxSyncVFS;
  if (engine === 'asyncify') {
    ({ module, sqlite3 } = await loadAsyncifyModule());
    const asyncVfs = new LtxAsyncVFS(module, { name: `sql-${++names}` });
    asyncVfs.addDatabase(name, replica.asyncSource(true));
    vfs = asyncVfs;
  } else {
    ({ module, sqlite3 } = await loadSyncModule());
    const syncVfs = new LtxSyncVFS(module, { name: `sql-${++names}` });
    syncVfs.addDatabase(name, replica.syncSource(), replica.syncSink());
    vfs = syncVfs;
  }
  sqlite3.vfs_register(vfs, false);
  const handle = await sqlite3.open_v2(name, SQLite.SQLITE_OPEN_READWRITE | SQLITE_OPEN_EXRESCODE, vfs.name);
  const db = new Database({ sqlite3: withEmptyBlobs(sqlite3, module), db: handle, vfs, statsProvider: () => ({}) as never });
  return { all: (sql) => db.all(sql), exec: (sql) => db.exec(sql), transaction: (fn) => db.transaction(fn), close: () => db.close() };
}
