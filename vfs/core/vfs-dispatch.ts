/**
 * A faster relay from wa-sqlite's wasm side to a JavaScript VFS. wa-sqlite's glue calls
 * every VFS method through `adapters_support(key, methodNamePtr, …args)`, which decodes
 * the method's name from wasm memory (`UTF8ToString`) on every call to find it on the VFS
 * object: a TextDecoder call per page read. When the registered receiver is a function
 * instead, the glue calls it with the name pointer as first argument, undecoded. The
 * names are static C strings, so {@link installVfsDispatch} registers a function that
 * decodes each pointer once and then dispatches from a map. Both builds' glue relays this
 * way: the Asyncify build's passes the dispatcher's answer (a number or a thenable) to
 * `Asyncify.handleAsync` for the methods the VFS declares asynchronous, as it would the
 * method's own, so the in-process engine (vfs/asyncify/database.ts) installs it too.
 *
 * It relies on the glue of @journeyapps/wa-sqlite 2.x (`Module.getCallback` /
 * `Module.setCallback`, keyed by the `sqlite3_vfs*` that `sqlite3_vfs_find` returns) and
 * checks that first: with other glue it leaves the registration alone.
 */

/** The members of wa-sqlite's Emscripten module the dispatch needs. */
interface DispatchModule {
  UTF8ToString(ptr: number): string;
  ccall(name: string, returnType: 'number', argTypes: 'string'[], args: string[]): unknown;
  getCallback?: (key: number) => unknown;
  setCallback?: (key: number, target: unknown) => void;
}

/**
 * Replace the glue's receiver of `vfs` (registered under `vfs.name`) by a dispatching
 * function. @returns whether it was installed.
 */
export function installVfsDispatch(module: object, vfs: { name: string }): boolean {
  const m = module as DispatchModule;
  if (typeof m.getCallback !== 'function' || typeof m.setCallback !== 'function') return false;
  const key = m.ccall('sqlite3_vfs_find', 'number', ['string'], [vfs.name]) as number;
  if (key === 0 || m.getCallback(key) !== vfs) return false;
  const methods = new Map<number, (...args: unknown[]) => unknown>();
  const target = vfs as unknown as Record<string, (...args: unknown[]) => unknown>;
  m.setCallback(key, function dispatch(namePtr: number, ...args: unknown[]): unknown {
    let method = methods.get(namePtr);
    if (method === undefined) {
      const name = m.UTF8ToString(namePtr);
      const f = target[name];
      if (typeof f !== 'function') throw new Error(`VFS "${vfs.name}" has no method ${name}`);
      method = f.bind(vfs);
      methods.set(namePtr, method);
    }
    return method(...args);
  });
  return true;
}
