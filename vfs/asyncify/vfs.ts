/**
 * LtxAsyncVFS: the SQLite VFS of the in-process engine (wa-sqlite's Asyncify build). It
 * serves the pages of replica databases ({@link PageSource}) to SQLite and keeps every
 * other file SQLite wants in memory.
 *
 * What SQLite does with a replica database, the page-1 rules, lock ↔ version pinning, the
 * write path and the codes failures answer are the core's: vfs/core/database-file.ts
 * (its opening essay), shared with the worker engine and sql.js. This module is the
 * Asyncify binding of that core: names → sources, memory files, PRAGMAs, and how a call
 * that waits completes.
 *
 * The engine's public types (options, counters, the PRAGMA handler,
 * `TransactionStartSource`) are in vfs/asyncify/types.ts and exported from here too.
 *
 * ## Reads and Asyncify
 *
 * `xRead` can wait (a page not in the page cache is fetched); so can `xFileControl` (an
 * asynchronous PRAGMA such as `litestream_time`, a commit), `xLock` (taking the lease, or
 * the source's `beforeTransaction`: see below) and `xSync` (a commit). Only these four are
 * declared asynchronous to Asyncify. An asynchronous VFS method is called through
 * `Asyncify.handleAsync(() => jRead(…))`, which runs `jRead(…).then(wakeUp)` and unwinds
 * the wasm stack only if `wakeUp` was not called before `then` returned. When every page
 * of a read is cached, the core answers a number and `jRead` returns a thenable that
 * calls `wakeUp` synchronously: the read completes with no unwind and no Promise. On a
 * miss the core answers a real Promise and the stack unwinds once. The other three answer
 * the same way: a synchronous thenable unless they really wait. Every other method is a
 * plain function and never unwinds.
 *
 * ## Yielding
 *
 * A read served from cache completes without an unwind, so a statement whose pages are all
 * cached (a scan right behind its read-ahead, a loop of lookups in one transaction) would
 * hold the event loop until it ends: other flows' queries, timers and the poller would
 * wait. Every 128th such read looks at the clock; once the reads have been continuous
 * (each check within `yieldEveryMs` of the one before) for `yieldEveryMs`, that read
 * suspends SQLite anyway and resumes it from `setImmediate`, after the event loop's I/O
 * and timers. A gap between two checks longer than that (the loop was idle or busy
 * elsewhere), or a read that really waited, starts the count again. A yield costs one
 * unwind and one loop turn, 0.2–0.6 ms measured on a warm scan (the default's docstring
 * in ./types.ts), at most once per `yieldEveryMs` of SQLite work.
 *
 * ## Read transactions and polling
 *
 * At `xLock(SHARED)` — a read transaction starting — a source with `beforeTransaction`
 * ({@link TransactionStartSource}) may make the lock wait before the core pins a version:
 * the replica's poll when one is due (lib/read/poller.ts), so that back-to-back queries, which
 * never give the event loop a turn, still see new LTX files.
 *
 * ## Errors
 *
 * Nothing throws across the wasm boundary. Every method catches, remembers the error
 * ({@link LtxAsyncVFS.lastError} / {@link LtxAsyncVFS.takeLastError}, which the
 * Database API rethrows as `cause`) and returns the code {@link sqliteCodeForError}
 * gives (the table is in vfs/core/database-file.ts).
 */
/// <reference types="@journeyapps/wa-sqlite" />
import * as VFS from '@journeyapps/wa-sqlite/src/sqlite-constants.js';
import { LtxvfsError } from '../../ltx/errors.js';
import type { PageSource, WritablePageSource } from '../../lib/read/page-source.js';
import { DatabaseFile, SQLITE_FCNTL_PRAGMA } from '../core/database-file.js';
import { MEMORY_FILE_FLAGS, MEMORY_FILE_IOCAP, openOutputFlags, SECTOR_SIZE, unknownDatabase, unsupportedOpen } from '../core/open-file.js';
import { readPragma, setPragmaResult } from '../core/pragma.js';
import { sqliteCodeForError } from '../core/error-codes.js';
import { MemoryFile } from '../core/memory-file.js';
import { FacadeVFS, type Thenable } from '../core/facade-vfs.js';
import type { VfsRegistrar, WaSqliteModule } from '../wasm/wa-sqlite-types.js';
import { DEFAULT_VFS_NAME, DEFAULT_YIELD_EVERY_MS, type LtxAsyncVFSCounters, type LtxAsyncVFSOptions, type PragmaHandler, type PragmaResult, type TransactionStartSource } from './types.js';

export type { FacadeVFSConstructor, FacadeVFSInstance, Thenable } from '../core/facade-vfs.js';
export { DEFAULT_VFS_NAME, DEFAULT_YIELD_EVERY_MS, type LtxAsyncVFSCounters, type LtxAsyncVFSOptions, type PragmaHandler, type PragmaResult, type TransactionStartSource } from './types.js';

/** Reads of at most this many bytes that are not one whole cached page go to a buffer of their own (`xRead`). */
const SMALL_READ_BYTES = 512;

/** Longest database name in bytes (`mxPathname`). */
const MAX_PATHNAME = 1024;

/** An open replica database: the core's state machine over an asynchronous source. */
type AsyncDatabaseFile = DatabaseFile<'async'>;

type OpenFile = AsyncDatabaseFile | MemoryFile;

/** Thenables that complete a call synchronously, one per result code (no allocation per call). */
const completed = new Map<number, Thenable<number>>();
function completedWith(code: number): Thenable<number> {
  let thenable = completed.get(code);
  if (thenable === undefined) {
    thenable = {
      then(onFulfilled) {
        return onFulfilled(code);
      },
    };
    completed.set(code, thenable);
  }
  return thenable;
}

/**
 * The VFS over replica databases. Register it with {@link registerLtxVFS} (or
 * `sqlite3.vfs_register`), add databases by name, and open them with this VFS's name.
 */
export class LtxAsyncVFS extends FacadeVFS {
  /** Counters since construction. */
  readonly counters: LtxAsyncVFSCounters = { reads: 0, suspendedReads: 0, yields: 0 };
  readonly #module: WaSqliteModule;
  readonly #databases = new Map<string, PageSource>();
  readonly #files = new Map<number, OpenFile>();
  readonly #pragmaHandler: PragmaHandler | undefined;
  readonly #syncCacheHits: boolean;
  readonly #yieldEveryMs: number;
  readonly #now: () => number;
  /** Reads served synchronously since the last yield or wait (see "Yielding"). */
  #syncReads = 0;
  /** When the current stretch of synchronous reads began, and when it was last looked at, ms. */
  #stretchStart = 0;
  #lastCheck = -Infinity;
  #lastError: unknown;

  constructor(module: WaSqliteModule, options: LtxAsyncVFSOptions = {}) {
    super(options.name ?? DEFAULT_VFS_NAME, module);
    // Names are keys, not paths, but callers may use long ones (wa-sqlite's default is 64).
    this.mxPathname = MAX_PATHNAME;
    this.#module = module;
    this.#pragmaHandler = options.pragmaHandler;
    this.#syncCacheHits = options.syncCacheHits ?? true;
    this.#yieldEveryMs = options.yieldEveryMs ?? DEFAULT_YIELD_EVERY_MS;
    if (!(this.#yieldEveryMs >= 0)) {
      throw new LtxvfsError('LTXVFS_ERR_USAGE', `yieldEveryMs ${String(options.yieldEveryMs)} is not a number of milliseconds ≥ 0`, { key: 'yieldEveryMs' });
    }
    this.#now = options.now ?? (() => performance.now());
  }

  /**
   * Serve `source` as the main database file called `name` (what `sqlite3_open_v2` and
   * `ATTACH` are given with this VFS). A `WritablePageSource` with a sink is writable
   * when opened read-write.
   * @throws LtxvfsError `LTXVFS_ERR_USAGE` if `name` is already added.
   */
  addDatabase(name: string, source: PageSource): void {
    if (this.#databases.has(name)) {
      throw new LtxvfsError('LTXVFS_ERR_USAGE', `database "${name}" is already added to VFS "${this.name}"`, { key: name });
    }
    this.#databases.set(name, source);
  }

  /**
   * Stop serving `name` to new opens; connections already open keep their source.
   * @returns whether `name` was added.
   */
  removeDatabase(name: string): boolean {
    return this.#databases.delete(name);
  }

  /** The last error a VFS method caught (and turned into a SQLite code), if any. */
  lastError(): unknown {
    return this.#lastError;
  }

  /** The last error caught, forgetting it. */
  takeLastError(): unknown {
    const err = this.#lastError;
    this.#lastError = undefined;
    return err;
  }

  /**
   * `xRead`, `xFileControl`, `xLock` and `xSync` may wait (see the top of this module);
   * each answers with a synchronous thenable when it need not, which costs no stack unwind.
   */
  override hasAsyncMethod(methodName: string): boolean {
    return methodName === 'xRead' || methodName === 'xFileControl' || methodName === 'xLock' || methodName === 'xSync';
  }

  override jOpen(filename: string | null, pFile: number, flags: number, pOutFlags: DataView): number {
    return this.#guard(() => {
      if (flags & VFS.SQLITE_OPEN_MAIN_DB) {
        const name = databaseName(filename, flags);
        const source = this.#databases.get(name);
        if (source === undefined) return this.#refuse(unknownDatabase(name, this.name), VFS.SQLITE_CANTOPEN);
        const sink = flags & VFS.SQLITE_OPEN_READWRITE ? (source as Partial<WritablePageSource>).sink : undefined;
        this.#files.set(pFile, new DatabaseFile<'async'>(name, source, sink));
        pOutFlags.setInt32(0, openOutputFlags(flags, sink !== undefined), true);
        return VFS.SQLITE_OK;
      }
      if (flags & MEMORY_FILE_FLAGS && !(flags & VFS.SQLITE_OPEN_WAL)) {
        this.#files.set(pFile, new MemoryFile());
        pOutFlags.setInt32(0, flags, true);
        return VFS.SQLITE_OK;
      }
      return this.#refuse(unsupportedOpen(filename, flags), VFS.SQLITE_CANTOPEN);
    }, VFS.SQLITE_CANTOPEN);
  }

  override jDelete(_filename: string, _syncDir: number): number {
    // Memory files vanish at close; replica databases are never deleted.
    return VFS.SQLITE_OK;
  }

  override jAccess(filename: string, _flags: number, pResOut: DataView): number {
    return this.#guard(() => {
      pResOut.setInt32(0, this.#databases.has(filename) ? 1 : 0, true);
      return VFS.SQLITE_OK;
    }, VFS.SQLITE_IOERR_ACCESS);
  }

  override jClose(pFile: number): number {
    return this.#guard(() => {
      const file = this.#files.get(pFile);
      // SQLite closes a file whose xOpen failed, too: nothing to do then.
      if (file === undefined) return VFS.SQLITE_OK;
      this.#files.delete(pFile);
      if (file instanceof DatabaseFile) file.close();
      return VFS.SQLITE_OK;
    }, VFS.SQLITE_IOERR_CLOSE);
  }

  /**
   * `xRead` (https://sqlite.org/c3ref/io_methods.html): a whole cached page is copied straight
   * into SQLite's buffer (`DatabaseFile.readCachedInto`); anything else goes through
   * wa-sqlite's `FacadeVFS.xRead` to {@link jRead}. FacadeVFS wraps the buffer in a
   * `Uint8ArrayProxy` that survives the wasm memory growing while a read waits — three
   * objects per call, 5% of a cold scan's profile (2026-12-07) — which a read that cannot
   * wait does not need.
   */
  override xRead(pFile: number, pData: number, iAmt: number, iOffsetLo: number, iOffsetHi: number): number | Promise<number> {
    const file = this.#files.get(pFile);
    if (file instanceof DatabaseFile) {
      let hit = false;
      try {
        hit = file.readCachedInto(this.#module.HEAPU8, pData, iAmt, iOffsetHi * 0x1_0000_0000 + (iOffsetLo >>> 0));
      } catch {
        // The full path below meets the same error and turns it into a code.
      }
      if (hit) {
        this.counters.reads++;
        // A thenable: this method is declared asynchronous (see the top of this module).
        return this.#answered(VFS.SQLITE_OK) as unknown as Promise<number>;
      }
      if (iAmt <= SMALL_READ_BYTES) {
        // Part of a page, above all page 1's 16 change-counter bytes at every transaction
        // start (pager.c `pagerSharedLock`): into an array of its own, copied into SQLite's
        // buffer once read — through the memory as it is then, should it have grown while the
        // read waited. 2 objects where FacadeVFS's proxy makes 3 and reads through a getter.
        const own = new Uint8Array(iAmt);
        const copied = (code: number): number => {
          this.#module.HEAPU8.set(own, pData);
          return code;
        };
        const read = this.jRead(pFile, own, iOffsetHi * 0x1_0000_0000 + (iOffsetLo >>> 0));
        if (typeof read === 'number') return completedWith(copied(read)) as unknown as Promise<number>;
        if (read instanceof Promise) return read.then(copied);
        return completedWith(read.then(copied) as number) as unknown as Promise<number>;
      }
    }
    return super.xRead(pFile, pData, iAmt, iOffsetLo, iOffsetHi);
  }

  override jRead(pFile: number, pData: Uint8Array, iOffset: number): number | Thenable<number> {
    this.counters.reads++;
    let code: number | Promise<number>;
    try {
      const file = this.#file(pFile);
      code = file instanceof DatabaseFile ? file.read(pData, iOffset) : file.read(pData.subarray(0, pData.length), iOffset);
    } catch (err) {
      code = this.#fail(err, VFS.SQLITE_IOERR_READ);
    }
    if (typeof code === 'number') return this.#answered(code);
    this.counters.suspendedReads++;
    this.#lastCheck = -Infinity; // SQLite waits: the event loop turns, a new stretch begins
    // A rejection must become a code too: Asyncify waits for fulfilment only, and would
    // leave SQLite suspended forever.
    return code.catch((err: unknown) => this.#fail(err, VFS.SQLITE_IOERR_READ));
  }

  /** A read's `code`, at once (a synchronous thenable) unless this read yields (see "Yielding"). */
  #answered(code: number): Thenable<number> | Promise<number> {
    if (!this.#syncCacheHits) return Promise.resolve(code);
    if ((++this.#syncReads & 127) !== 0) return completedWith(code);
    const now = this.#now();
    if (now - this.#lastCheck > this.#yieldEveryMs) this.#stretchStart = now;
    this.#lastCheck = now;
    if (now - this.#stretchStart < this.#yieldEveryMs) return completedWith(code);
    this.#lastCheck = -Infinity;
    this.counters.yields++;
    return new Promise((resolve) => setImmediate(resolve, code));
  }

  override jWrite(pFile: number, pData: Uint8Array, iOffset: number): number {
    return this.#guard(() => {
      const file = this.#file(pFile);
      if (file instanceof DatabaseFile) return file.write(pData.subarray(0, pData.length), iOffset);
      file.write(pData.subarray(0, pData.length), iOffset);
      return VFS.SQLITE_OK;
    }, VFS.SQLITE_IOERR_WRITE);
  }

  override jTruncate(pFile: number, size: number): number {
    return this.#guard(() => {
      const file = this.#file(pFile);
      if (file instanceof DatabaseFile) return file.truncate(size);
      file.truncate(size);
      return VFS.SQLITE_OK;
    }, VFS.SQLITE_IOERR_TRUNCATE);
  }

  /**
   * The commit point of a transaction SQLite writes without a batch (see
   * `DatabaseFile.sync`); `SQLITE_FCNTL_SYNC` comes first and normally ships the pages
   * already. A memory file has nothing to sync.
   */
  override jSync(pFile: number, _flags: number): Thenable<number> | Promise<number> {
    return this.#settle(() => {
      const file = this.#files.get(pFile);
      return file instanceof DatabaseFile ? file.sync() : VFS.SQLITE_OK;
    }, VFS.SQLITE_IOERR_WRITE);
  }

  override jFileSize(pFile: number, pSize: DataView): number {
    return this.#guard(() => {
      const file = this.#file(pFile);
      const size = file instanceof DatabaseFile ? file.fileSize() : file.size;
      pSize.setBigInt64(0, BigInt(size), true);
      return VFS.SQLITE_OK;
    }, VFS.SQLITE_IOERR_FSTAT);
  }

  /**
   * SHARED pins a version — after the source's `beforeTransaction` when a read transaction
   * starts; RESERVED asks the sink whether this connection may write (the lease, possibly
   * taken now).
   */
  override jLock(pFile: number, lockType: number): Thenable<number> | Promise<number> {
    // At every read transaction: no closure per call (see #settled).
    let code: number | Promise<number>;
    try {
      const file = this.#file(pFile);
      if (!(file instanceof DatabaseFile)) {
        code = VFS.SQLITE_OK;
      } else {
        const starting = lockType >= VFS.SQLITE_LOCK_SHARED && !file.inTransaction;
        const wait = starting ? (file.source as TransactionStartSource).beforeTransaction?.() : undefined;
        code = wait === undefined ? file.lock(lockType) : wait.then(() => file.lock(lockType));
      }
    } catch (err) {
      code = this.#fail(err, VFS.SQLITE_IOERR_LOCK);
    }
    return this.#settled(code, VFS.SQLITE_IOERR_LOCK);
  }

  override jUnlock(pFile: number, lockType: number): number {
    return this.#guard(() => {
      const file = this.#file(pFile);
      return file instanceof DatabaseFile ? file.unlock(lockType) : VFS.SQLITE_OK;
    }, VFS.SQLITE_IOERR_UNLOCK);
  }

  override jCheckReservedLock(_pFile: number, pResOut: DataView): number {
    pResOut.setInt32(0, 0, true);
    return VFS.SQLITE_OK;
  }

  override jFileControl(pFile: number, op: number, pArg: DataView): Thenable<number> | Promise<number> {
    return this.#settle(() => {
      const file = this.#file(pFile);
      if (!(file instanceof DatabaseFile)) return VFS.SQLITE_NOTFOUND;
      if (op === SQLITE_FCNTL_PRAGMA) {
        return this.#pragmaHandler === undefined
          ? VFS.SQLITE_NOTFOUND
          : this.#pragma(file, this.#pragmaHandler, pArg.byteOffset - this.#module.HEAPU8.byteOffset);
      }
      return file.fileControl(op);
    }, VFS.SQLITE_IOERR_WRITE);
  }

  override jSectorSize(_pFile: number): number {
    return SECTOR_SIZE;
  }

  override jDeviceCharacteristics(pFile: number): number {
    const file = this.#files.get(pFile);
    if (file instanceof MemoryFile) return MEMORY_FILE_IOCAP;
    return file?.deviceCharacteristics ?? 0;
  }

  #pragma(file: AsyncDatabaseFile, handler: PragmaHandler, pArg: number): number | Promise<number> {
    const module = this.#module;
    const { name, value } = readPragma(module, pArg);
    const fail = (err: unknown): number => {
      this.#lastError = err;
      setPragmaResult(module, pArg, err instanceof Error ? err.message : String(err));
      return VFS.SQLITE_ERROR;
    };
    const answer = (result: PragmaResult): number => {
      if (result === undefined) return VFS.SQLITE_NOTFOUND;
      if (result !== null) setPragmaResult(module, pArg, result);
      return VFS.SQLITE_OK;
    };
    let result: PragmaResult | Promise<PragmaResult>;
    try {
      result = handler(name, value, file.name);
    } catch (err) {
      return fail(err);
    }
    // A rejection must become a code too, or SQLite would stay suspended (see jRead).
    return result instanceof Promise ? result.then(answer, fail) : answer(result);
  }

  #file(pFile: number): OpenFile {
    const file = this.#files.get(pFile);
    if (file === undefined) throw new LtxvfsError('LTXVFS_ERR_USAGE', `VFS "${this.name}" has no open file ${pFile}`);
    return file;
  }

  /** Run a VFS method body; a throw becomes a remembered error and a code. */
  #guard(body: () => number, ioCode: number): number {
    try {
      return body();
    } catch (err) {
      return this.#fail(err, ioCode);
    }
  }

  /**
   * Run the body of a method Asyncify may suspend on: a synchronous answer (or throw)
   * becomes a synchronous thenable (no unwind), a Promise one whose rejection is a code.
   */
  #settle(body: () => number | Promise<number>, ioCode: number): Thenable<number> | Promise<number> {
    let code: number | Promise<number>;
    try {
      code = body();
    } catch (err) {
      code = this.#fail(err, ioCode);
    }
    return this.#settled(code, ioCode);
  }

  /** A code as Asyncify takes it: a synchronous thenable, or a Promise whose rejection is a code. */
  #settled(code: number | Promise<number>, ioCode: number): Thenable<number> | Promise<number> {
    return typeof code === 'number' ? completedWith(code) : code.catch((err: unknown) => this.#fail(err, ioCode));
  }

  /** Remember `err`, caught from a method whose I/O error code is `ioCode`; the code for it. */
  #fail(err: unknown, ioCode: number): number {
    this.#lastError = err;
    return sqliteCodeForError(err, ioCode);
  }

  /** Remember `err`, an operation this VFS refuses, and answer `code`. */
  #refuse(err: LtxvfsError, code: number): number {
    this.#lastError = err;
    return code;
  }
}

/** The name a main database was added under: the open name without URI parameters. */
function databaseName(filename: string | null, flags: number): string {
  const name = filename ?? '';
  if (flags & VFS.SQLITE_OPEN_URI) {
    const query = name.indexOf('?');
    if (query >= 0) return name.slice(0, query);
  }
  return name;
}

/** Options of {@link registerLtxVFS}. */
export interface RegisterLtxVFSOptions extends LtxAsyncVFSOptions {
  /** Make it SQLite's default VFS (default `false`). */
  makeDefault?: boolean;
}

/**
 * Create an {@link LtxAsyncVFS} and register it with a wa-sqlite instance of the Asyncify
 * build that the caller brought (`sqlite3` = `SQLite.Factory(module)`). Add databases to
 * the returned VFS, then `sqlite3.open_v2(name, SQLITE_OPEN_READONLY, vfs.name)`.
 * @throws the wa-sqlite error if SQLite refuses the registration.
 */
export function registerLtxVFS(sqlite3: VfsRegistrar, module: WaSqliteModule, options: RegisterLtxVFSOptions = {}): LtxAsyncVFS {
  const vfs = new LtxAsyncVFS(module, options);
  sqlite3.vfs_register(vfs, options.makeDefault ?? false);
  return vfs;
}
