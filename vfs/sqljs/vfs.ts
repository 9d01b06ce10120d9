/**
 * Serving a replica database to sql.js (vfs/sqljs/index.ts): a VFS file spliced into sql.js's
 * SQLite at the C level.
 *
 * ## Why not sql.js's file system
 *
 * sql.js runs SQLite's unix VFS over Emscripten's in-memory file system, and has no VFS
 * hook. A custom FS node could serve reads, but (1) sql.js 1.16 no longer exports its FS
 * (`SQL.FS` is undefined: the minified build inlines it), and (2) behind the unix VFS a
 * file never learns where a read transaction starts: its locks are `fcntl` calls that
 * Emscripten answers without the FS, so snapshot isolation would hang on guesses about
 * read patterns. What sql.js does export is enough for a real VFS file:
 *
 * - `addFunction` puts JS functions into the wasm function table (sql.js uses it for
 *   `create_function`), so they can be SQLite callbacks;
 * - the module's `instantiateWasm` hook (which ltxvfs's `loadSqlJs` passes) hands over
 *   the instance, and with it the function table and the memory;
 * - `sqlite3_open` gives a connection whose first member is its `sqlite3_vfs*` (the
 *   layout of `struct sqlite3` has begun with `pVfs` since SQLite 3.5), so the default
 *   ("unix") VFS is found and checked by name.
 *
 * ## How a database is opened
 *
 * The unix VFS's `xOpen` is replaced by a JS function that forwards every open to the
 * original, except the one main-database open ltxvfs is waiting for: `new SQL.Database()`
 * runs synchronously inside {@link SqlJsVfsHook.openWith}, so the first `MAIN_DB` open
 * during it is this database's. That open still goes to the unix VFS first (so an empty
 * placeholder file of that name exists: journals derive their permissions from it, and
 * sql.js unlinks it at close), then the file's `pMethods` is pointed at ltxvfs's
 * `sqlite3_io_methods` (version 1: no shared memory, no mmap). Its methods are the core's
 * {@link DatabaseFile} (vfs/core/database-file.ts) over a synchronous source — as in the
 * worker and in-process engines — so locks pin versions, page 1 is patched, and writes
 * follow the lease exactly as there; misses block on the page bridge.
 * At `xClose` the original methods are put back and the unix file is closed.
 *
 * ## The hot-journal check
 *
 * At the start of every read transaction SQLite asks the VFS whether the database's
 * rollback journal exists (`xAccess(…-journal, SQLITE_ACCESS_EXISTS)`, pager.c
 * `hasHotJournal`). The unix VFS answers with `stat`, which Emscripten's file system
 * answers by throwing an error for a missing file: ~10 µs of a 14 µs autocommit lookup.
 * The VFS's `xAccess` is replaced too. A file of this instance's file system exists only
 * if something opened it through this VFS (sql.js no longer exports its FS), so for the
 * journal or WAL of a database served here whose name was never opened, the answer is
 * "no" at once; every other call goes to the unix VFS.
 *
 * PRAGMA results must be memory SQLite can `sqlite3_free`; `sqlite3_malloc` is not
 * exported, so the hook checks at install time that SQLite's allocator is the default
 * one (an 8-byte size header before each block, seen on an error message from
 * `sqlite3_exec`) and allocates that way; if not, PRAGMAs that return a value are left
 * to SQLite (the SQL functions give the same values). Each such string skews
 * `sqlite3_memory_used()` down by its size (it was never counted up).
 */
import * as VFS from '@journeyapps/wa-sqlite/src/sqlite-constants.js';
import { LtxvfsError } from '../../ltx/errors.js';
import { sqliteCodeForError } from '../core/error-codes.js';
import { DatabaseFile, SQLITE_FCNTL_PRAGMA, type SyncPageSink, type SyncPageSource } from '../core/database-file.js';
import { openOutputFlags, SECTOR_SIZE } from '../core/open-file.js';

type SyncDatabaseFile = DatabaseFile<'sync'>;

/** The parts of sql.js's module (its `SqlJsStatic`) the hook uses. */
export interface SqlJsModule {
  _malloc(size: number): number;
  _free(ptr: number): void;
  _sqlite3_open(zFilename: number, ppDb: number): number;
  _sqlite3_close_v2(db: number): number;
  _sqlite3_exec(db: number, zSql: number, callback: number, arg: number, pzErrMsg: number): number;
  _sqlite3_free(ptr: number): void;
  addFunction(fn: (...args: never[]) => unknown, signature: string): number;
  stringToNewUTF8(text: string): number;
  UTF8ToString(ptr: number): string;
}

/** The part of a `WebAssembly.Table` used here. */
export interface WasmTable {
  get(index: number): unknown;
}

/** The part of a `WebAssembly.Memory` used here (its buffer is replaced when it grows). */
export interface WasmMemory {
  readonly buffer: ArrayBuffer;
}

/** What the instantiation hook captured: the instance's function table and memory. */
export interface SqlJsInternals {
  table: WasmTable;
  memory: WasmMemory;
}

/** A database an open is waiting for (see {@link SqlJsVfsHook.openWith}). */
export interface SqlJsDatabaseSource {
  name: string;
  source: SyncPageSource;
  /** Where writes go; undefined for a read-only database. */
  sink: SyncPageSink | undefined;
  /** Answers PRAGMAs; see `SyncPragmaHandler` (vfs/worker/vfs.ts). */
  pragma?: (name: string, value: string | null, inTransaction: boolean) => string | null | undefined;
  /** Called once when SQLite closes the file. */
  onClose?: () => void;
}

/** One open replica file: the core and the unix VFS's own methods (put back at close). */
interface OpenFile {
  file: SyncDatabaseFile;
  origMethods: number;
  spec: SqlJsDatabaseSource;
  lastError: unknown;
  /** Its path in the instance's file system (as SQLite names its journal after it). */
  path: string;
  /** Hot-journal checks on it answered here (see the module doc). */
  journalChecksAnswered: number;
}

/** `struct sqlite3_vfs` offsets (sqlite3.h, 32-bit wasm). */
const VFS_ZNAME = 16;
const VFS_XOPEN = 24;
const VFS_XACCESS = 32;
const PATH_DECODER = new TextDecoder();
/** The files SQLite names after a database (pager.c: `zJournal`, `zWal`). */
const SIDE_FILE_SUFFIXES = ['-journal', '-wal'] as const;
/** `struct sqlite3_io_methods`, version 1: iVersion + 12 methods. */
const IO_METHODS_WORDS = 13;

/** Typed shapes of wasm table entries (the unix VFS's functions). */
type XOpen = (pVfs: number, zName: number, pFile: number, flags: number, pOutFlags: number) => number;
type XClose = (pFile: number) => number;
type XAccess = (pVfs: number, zName: number, flags: number, pResOut: number) => number;

/** The VFS splice of one sql.js instance. Install it with {@link SqlJsVfsHook.install}. */
export class SqlJsVfsHook {
  readonly #sql: SqlJsModule;
  readonly #internals: SqlJsInternals;
  readonly #files = new Map<number, OpenFile>();
  readonly #origXOpen: XOpen;
  #origXAccess: XAccess | undefined;
  /** Journal and WAL paths opened through this VFS (other names are not kept: plain sql.js databases come and go). */
  readonly #opened = new Set<string>();
  /** Databases served here, by path. */
  readonly #byPath = new Map<string, OpenFile>();
  readonly #ioMethods: number;
  readonly #sqliteMallocHeader: boolean;
  #pending: SqlJsDatabaseSource | undefined;
  /** The error behind the last failure, by database (see {@link takeLastError}). */
  readonly #lastErrors = new Map<SqlJsDatabaseSource, unknown>();

  private constructor(sql: SqlJsModule, internals: SqlJsInternals, origXOpen: XOpen, ioMethods: number, mallocHeader: boolean) {
    this.#sql = sql;
    this.#internals = internals;
    this.#origXOpen = origXOpen;
    this.#ioMethods = ioMethods;
    this.#sqliteMallocHeader = mallocHeader;
  }

  /**
   * Splice into the default VFS of a sql.js instance.
   * @throws LtxvfsError `LTXVFS_ERR_UNSUPPORTED` when the instance's SQLite does not look as expected.
   */
  static install(sql: SqlJsModule, internals: SqlJsInternals): SqlJsVfsHook {
    const { pVfs, mallocHeader } = probe(sql, internals);
    const heap32 = (): Uint32Array => new Uint32Array(internals.memory.buffer);
    const origIndex = heap32()[(pVfs + VFS_XOPEN) >> 2];
    const origXOpen = internals.table.get(origIndex) as XOpen;
    const ioMethods = sql._malloc(IO_METHODS_WORDS * 4);
    let hook!: SqlJsVfsHook;
    const fns: [(...args: never[]) => unknown, string][] = [
      [(pFile: number) => hook.#close(pFile), 'ii'],
      [(pFile: number, pBuf: number, iAmt: number, iOfst: bigint) => hook.#read(pFile, pBuf, iAmt, iOfst), 'iiiij'],
      [(pFile: number, pBuf: number, iAmt: number, iOfst: bigint) => hook.#write(pFile, pBuf, iAmt, iOfst), 'iiiij'],
      [(pFile: number, size: bigint) => hook.#call(pFile, VFS.SQLITE_IOERR_TRUNCATE, (f) => f.truncate(Number(size))), 'iij'],
      [(pFile: number, _flags: number) => hook.#call(pFile, VFS.SQLITE_IOERR_WRITE, (f) => f.sync()), 'iii'],
      [(pFile: number, pSize: number) => hook.#fileSize(pFile, pSize), 'iii'],
      [(pFile: number, level: number) => hook.#lock(pFile, level), 'iii'],
      [(pFile: number, level: number) => hook.#call(pFile, VFS.SQLITE_IOERR_UNLOCK, (f) => f.unlock(level)), 'iii'],
      [(_pFile: number, pResOut: number) => hook.#checkReservedLock(pResOut), 'iii'],
      [(pFile: number, op: number, pArg: number) => hook.#fileControl(pFile, op, pArg), 'iiii'],
      [(_pFile: number) => SECTOR_SIZE, 'ii'],
      [(pFile: number) => hook.#files.get(pFile)?.file.deviceCharacteristics ?? 0, 'ii'],
    ];
    heap32()[ioMethods >> 2] = 1;
    fns.forEach(([fn, sig], i) => {
      const index = sql.addFunction(fn, sig);
      heap32()[(ioMethods >> 2) + 1 + i] = index;
    });
    hook = new SqlJsVfsHook(sql, internals, origXOpen, ioMethods, mallocHeader);
    const xOpen = sql.addFunction(
      ((pVfsArg: number, zName: number, pFile: number, flags: number, pOutFlags: number) => hook.#open(pVfsArg, zName, pFile, flags, pOutFlags)) as (...args: never[]) => unknown,
      'iiiiii',
    );
    heap32()[(pVfs + VFS_XOPEN) >> 2] = xOpen;
    hook.#origXAccess = internals.table.get(heap32()[(pVfs + VFS_XACCESS) >> 2]) as XAccess;
    const xAccess = sql.addFunction(
      ((pVfsArg: number, zName: number, flags: number, pResOut: number) => hook.#access(pVfsArg, zName, flags, pResOut)) as (...args: never[]) => unknown,
      'iiiii',
    );
    heap32()[(pVfs + VFS_XACCESS) >> 2] = xAccess;
    return hook;
  }

  /**
   * Run `open` (which must construct one sql.js Database synchronously) so that its main
   * database is `spec`.
   * @throws LtxvfsError `LTXVFS_ERR_USAGE` when `open` opened no main database.
   */
  openWith<T>(spec: SqlJsDatabaseSource, open: () => T): T {
    this.#pending = spec;
    try {
      const result = open();
      if (this.#pending !== undefined) throw new LtxvfsError('LTXVFS_ERR_USAGE', `sql.js opened no database for ${spec.name}`);
      return result;
    } finally {
      this.#pending = undefined;
    }
  }

  /** The error behind the last failure on database `spec` (forgetting it). */
  takeLastError(spec: SqlJsDatabaseSource): unknown {
    const err = this.#lastErrors.get(spec);
    this.#lastErrors.delete(spec);
    return err;
  }

  /** Hot-journal checks on database `spec` answered without the unix VFS (module doc). */
  journalChecksAnswered(spec: SqlJsDatabaseSource): number {
    let n = 0;
    for (const f of this.#files.values()) if (f.spec === spec) n += f.journalChecksAnswered;
    return n;
  }

  /** Whether database `spec` has a read transaction open. */
  inTransaction(spec: SqlJsDatabaseSource): boolean {
    for (const f of this.#files.values()) if (f.spec === spec && f.file.inTransaction) return true;
    return false;
  }

  #heapView = new Uint8Array(0);

  /** The wasm memory as bytes (a new view only after the memory grew: reads are hot). */
  get #heap(): Uint8Array {
    const buffer = this.#internals.memory.buffer;
    if (this.#heapView.buffer !== buffer) this.#heapView = new Uint8Array(buffer);
    return this.#heapView;
  }

  #open(pVfs: number, zName: number, pFile: number, flags: number, pOutFlags: number): number {
    const spec = this.#pending;
    if (spec === undefined || !(flags & VFS.SQLITE_OPEN_MAIN_DB)) {
      // Remembered before the open: a journal that exists from here on is asked about where it is.
      if (zName !== 0) {
        const path = this.#path(zName);
        if (SIDE_FILE_SUFFIXES.some((suffix) => path.endsWith(suffix))) this.#opened.add(path);
      }
      return this.#origXOpen(pVfs, zName, pFile, flags, pOutFlags);
    }
    this.#pending = undefined;
    // The placeholder: the unix VFS opens (and creates) an empty file of that name.
    const rc = this.#origXOpen(pVfs, zName, pFile, flags, pOutFlags);
    if (rc !== VFS.SQLITE_OK) return rc;
    const words = new Uint32Array(this.#internals.memory.buffer);
    const origMethods = words[pFile >> 2];
    words[pFile >> 2] = this.#ioMethods;
    const sink = flags & VFS.SQLITE_OPEN_READWRITE ? spec.sink : undefined;
    const path = this.#path(zName);
    const open: OpenFile = { file: new DatabaseFile<'sync'>(spec.name, spec.source, sink), origMethods, spec, lastError: undefined, path, journalChecksAnswered: 0 };
    this.#files.set(pFile, open);
    this.#byPath.set(path, open);
    if (pOutFlags !== 0) new Int32Array(this.#internals.memory.buffer)[pOutFlags >> 2] = openOutputFlags(flags, sink !== undefined);
    return VFS.SQLITE_OK;
  }

  #close(pFile: number): number {
    const open = this.#files.get(pFile);
    if (open === undefined) return VFS.SQLITE_OK;
    this.#files.delete(pFile);
    if (this.#byPath.get(open.path) === open) this.#byPath.delete(open.path);
    let rc: number = VFS.SQLITE_OK;
    try {
      open.file.close();
    } catch (err) {
      rc = this.#fail(open, err, VFS.SQLITE_IOERR_CLOSE);
    }
    const words = new Uint32Array(this.#internals.memory.buffer);
    words[pFile >> 2] = open.origMethods;
    const xClose = this.#internals.table.get(words[(open.origMethods >> 2) + 1]) as XClose;
    xClose(pFile);
    open.spec.onClose?.();
    return rc;
  }

  /** The NUL-terminated file name at `ptr` (SQLite's names are UTF-8). */
  #path(ptr: number): string {
    const heap = this.#heap;
    const end = heap.indexOf(0, ptr);
    return PATH_DECODER.decode(heap.subarray(ptr, end < 0 ? heap.length : end));
  }

  /** `xAccess` of the VFS: the journal or WAL of a database served here, never opened, does not exist (module doc). */
  #access(pVfs: number, zName: number, flags: number, pResOut: number): number {
    if (flags === VFS.SQLITE_ACCESS_EXISTS && zName !== 0 && this.#byPath.size > 0) {
      const path = this.#path(zName);
      for (const suffix of SIDE_FILE_SUFFIXES) {
        if (!path.endsWith(suffix) || this.#opened.has(path)) continue;
        const open = this.#byPath.get(path.slice(0, -suffix.length));
        if (open === undefined) continue;
        open.journalChecksAnswered++;
        new Int32Array(this.#internals.memory.buffer)[pResOut >> 2] = 0;
        return VFS.SQLITE_OK;
      }
    }
    return this.#origXAccess!(pVfs, zName, flags, pResOut);
  }

  #read(pFile: number, pBuf: number, iAmt: number, iOfst: bigint): number {
    const open = this.#files.get(pFile);
    if (open === undefined) return VFS.SQLITE_IOERR_READ;
    try {
      return open.file.readInto(this.#heap, pBuf, iAmt, Number(iOfst));
    } catch (err) {
      return this.#fail(open, err, VFS.SQLITE_IOERR_READ);
    }
  }

  #write(pFile: number, pBuf: number, iAmt: number, iOfst: bigint): number {
    return this.#call(pFile, VFS.SQLITE_IOERR_WRITE, (f) => f.write(this.#heap.subarray(pBuf, pBuf + iAmt), Number(iOfst)));
  }

  #fileSize(pFile: number, pSize: number): number {
    return this.#call(pFile, VFS.SQLITE_IOERR_FSTAT, (f) => {
      new DataView(this.#internals.memory.buffer).setBigInt64(pSize, BigInt(f.fileSize()), true);
      return VFS.SQLITE_OK;
    });
  }

  #lock(pFile: number, level: number): number {
    const open = this.#files.get(pFile);
    // A new read transaction: an error SQLite got past earlier is no cause of later ones.
    if (open !== undefined && level === VFS.SQLITE_LOCK_SHARED && !open.file.inTransaction) this.#lastErrors.delete(open.spec);
    return this.#call(pFile, VFS.SQLITE_IOERR_LOCK, (f) => f.lock(level));
  }

  #checkReservedLock(pResOut: number): number {
    new Int32Array(this.#internals.memory.buffer)[pResOut >> 2] = 0;
    return VFS.SQLITE_OK;
  }

  #fileControl(pFile: number, op: number, pArg: number): number {
    const open = this.#files.get(pFile);
    if (open === undefined) return VFS.SQLITE_NOTFOUND;
    if (op === SQLITE_FCNTL_PRAGMA) return this.#pragma(open, pArg);
    return this.#call(pFile, VFS.SQLITE_IOERR_WRITE, (f) => f.fileControl(op));
  }

  #pragma(open: OpenFile, pArg: number): number {
    const handler = open.spec.pragma;
    if (handler === undefined) return VFS.SQLITE_NOTFOUND;
    const words = new Uint32Array(this.#internals.memory.buffer);
    const name = this.#sql.UTF8ToString(words[(pArg >> 2) + 1]).toLowerCase();
    const valuePtr = words[(pArg >> 2) + 2];
    const value = valuePtr === 0 ? null : this.#sql.UTF8ToString(valuePtr);
    // Without a way to hand SQLite a string it can free, only PRAGMAs that set are ours.
    if (!this.#sqliteMallocHeader && value === null) return VFS.SQLITE_NOTFOUND;
    let result: string | null | undefined;
    try {
      result = handler(name, value, open.file.inTransaction);
    } catch (err) {
      open.lastError = err;
      this.#lastErrors.set(open.spec, err);
      this.#setPragmaResult(pArg, err instanceof Error ? err.message : String(err));
      return VFS.SQLITE_ERROR;
    }
    if (result === undefined) return VFS.SQLITE_NOTFOUND;
    if (result !== null) this.#setPragmaResult(pArg, result);
    return VFS.SQLITE_OK;
  }

  /** Put `text` in memory `sqlite3_free` can free, as the PRAGMA's result or error message (pArg[0]). */
  #setPragmaResult(pArg: number, text: string): void {
    if (!this.#sqliteMallocHeader) return;
    const utf8 = new TextEncoder().encode(text);
    const rounded = (utf8.length + 1 + 7) & ~7;
    const block = this.#sql._malloc(rounded + 8);
    const view = new DataView(this.#internals.memory.buffer);
    view.setBigInt64(block, BigInt(rounded), true);
    const ptr = block + 8;
    const heap = this.#heap;
    heap.set(utf8, ptr);
    heap[ptr + utf8.length] = 0;
    new Uint32Array(this.#internals.memory.buffer)[pArg >> 2] = ptr;
  }

  #call(pFile: number, ioCode: number, body: (file: SyncDatabaseFile) => number): number {
    const open = this.#files.get(pFile);
    if (open === undefined) return ioCode;
    try {
      return body(open.file);
    } catch (err) {
      return this.#fail(open, err, ioCode);
    }
  }

  #fail(open: OpenFile, err: unknown, ioCode: number): number {
    open.lastError = err;
    this.#lastErrors.set(open.spec, err);
    return sqliteCodeForError(err, ioCode);
  }
}

/**
 * Find the default VFS of the instance (and check it is the unix VFS), and whether its
 * SQLite allocates with the default size header.
 */
function probe(sql: SqlJsModule, internals: SqlJsInternals): { pVfs: number; mallocHeader: boolean } {
  const scratch = sql._malloc(8);
  const name = sql.stringToNewUTF8(':memory:');
  const query = sql.stringToNewUTF8('SELECT * FROM "ltxvfs: no such table"');
  try {
    const rc = sql._sqlite3_open(name, scratch);
    const db = new Uint32Array(internals.memory.buffer)[scratch >> 2];
    if (rc !== VFS.SQLITE_OK || db === 0) throw new LtxvfsError('LTXVFS_ERR_UNSUPPORTED', `sql.js: sqlite3_open(":memory:") failed (${rc})`);
    try {
      const words = new Uint32Array(internals.memory.buffer);
      const pVfs = words[db >> 2];
      const vfsName = pVfs === 0 ? '' : sql.UTF8ToString(words[(pVfs + VFS_ZNAME) >> 2]);
      if (vfsName !== 'unix') {
        throw new LtxvfsError('LTXVFS_ERR_UNSUPPORTED', `sql.js: the default VFS is "${vfsName}", expected "unix" (an unsupported sql.js build)`);
      }
      // An error message is sqlite3_malloc'd: with the default allocator the 8 bytes
      // before it hold the block size, the string's length + 1 rounded up to 8.
      let mallocHeader = false;
      words[(scratch + 4) >> 2] = 0;
      sql._sqlite3_exec(db, query, 0, 0, scratch + 4);
      const msg = new Uint32Array(internals.memory.buffer)[(scratch + 4) >> 2];
      if (msg !== 0) {
        const length = new TextEncoder().encode(sql.UTF8ToString(msg)).length;
        const header = new DataView(internals.memory.buffer).getBigInt64(msg - 8, true);
        mallocHeader = header === BigInt((length + 1 + 7) & ~7);
        sql._sqlite3_free(msg);
      }
      return { pVfs, mallocHeader };
    } finally {
      sql._sqlite3_close_v2(db);
    }
  } finally {
    sql._free(scratch);
    sql._free(name);
    sql._free(query);
  }
}
