/**
 * `SQLITE_FCNTL_PRAGMA` in wa-sqlite's memory (the Asyncify and the worker engine): the
 * argument is `char*[3]` — [0] the result or error message (out, memory SQLite will
 * `sqlite3_free`), [1] the PRAGMA's name, [2] its argument or NULL
 * (https://sqlite.org/c3ref/c_fcntl_begin_atomic_write.html#sqlitefcntlpragma).
 */
import type { WaSqliteModule } from '../wasm/wa-sqlite-types.js';

/** The module members these functions use. */
export type PragmaMemory = Pick<WaSqliteModule, 'HEAPU8' | 'UTF8ToString' | '_sqlite3_malloc'>;

/** The PRAGMA at `pArg` (a byte address in `module.HEAPU8`): its name in lower case and its argument or `null`. */
export function readPragma(module: PragmaMemory, pArg: number): { name: string; value: string | null } {
  const slots = new DataView(module.HEAPU8.buffer, pArg, 12);
  const name = module.UTF8ToString(slots.getUint32(4, true)).toLowerCase();
  const valuePtr = slots.getUint32(8, true);
  return { name, value: valuePtr === 0 ? null : module.UTF8ToString(valuePtr) };
}

/** Store `text` as the PRAGMA's result (or error message) at `pArg`, in memory SQLite frees. */
export function setPragmaResult(module: PragmaMemory, pArg: number, text: string): void {
  const utf8 = new TextEncoder().encode(text);
  const ptr = module._sqlite3_malloc(utf8.length + 1);
  // The malloc may have grown (and replaced) the wasm memory: take HEAPU8 afresh.
  module.HEAPU8.set(utf8, ptr);
  module.HEAPU8[ptr + utf8.length] = 0;
  new DataView(module.HEAPU8.buffer).setUint32(pArg, ptr, true);
}
