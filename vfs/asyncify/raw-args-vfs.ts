/**
 * The in-process engine's VFS with the out-arguments of two per-transaction methods
 * written without wa-sqlite's proxies (issue 15 item 2, "cheap warm paths").
 *
 * wa-sqlite's `FacadeVFS` wraps the out-pointer of `xAccess` and of `xFileSize` in a
 * `DataViewProxy` (node_modules/@journeyapps/wa-sqlite/src/FacadeVFS.js,
 * `#makeTypedDataView`), which allocates an ArrayBuffer, a DataView and the proxy on every
 * call; the proxy re-reads the wasm memory in case it grows while a method waits. SQLite
 * calls both at the start of every read transaction (the hot-journal check and the file
 * size: https://sqlite.org/atomiccommit.html, 4.2), so in autocommit mode once per
 * statement — in a loop of warm prepared lookups the proxies took about 8% of the time (a
 * CPU profile on Node 20). {@link LtxAsyncVFS}'s `jAccess` and `jFileSize` answer
 * synchronously, so a plain DataView over the wasm memory, made at the call, is valid for
 * the whole call.
 */
import { LtxAsyncVFS } from './vfs.js';
import type { LtxAsyncVFSOptions } from './types.js';
import type { WaSqliteModule } from '../wasm/wa-sqlite-types.js';

/** {@link LtxAsyncVFS} whose `xAccess` and `xFileSize` write their results straight into wasm memory (module doc). */
export class RawArgsAsyncVFS extends LtxAsyncVFS {
  readonly #module: WaSqliteModule;

  constructor(module: WaSqliteModule, options: LtxAsyncVFSOptions = {}) {
    super(module, options);
    this.#module = module;
  }

  /** `xAccess` (https://sqlite.org/c3ref/vfs.html): `*pResOut` (an int) set by `jAccess`. */
  override xAccess(_pVfs: number, zName: number, flags: number, pResOut: number): number {
    return this.jAccess(this.#module.UTF8ToString(zName), flags, new DataView(this.#module.HEAPU8.buffer, pResOut, 4));
  }

  /** `xFileSize` (https://sqlite.org/c3ref/io_methods.html): `*pSize` (an sqlite3_int64) set by `jFileSize`. */
  override xFileSize(pFile: number, pSize: number): number {
    return this.jFileSize(pFile, new DataView(this.#module.HEAPU8.buffer, pSize, 8));
  }
}
