/**
 * The vendor library of the webdav:// backend, npm `webdav` (5.x, an optional peer
 * dependency), loaded only when a webdav:// or webdavs:// replica is opened, and adapted to
 * the few calls the backend makes ({@link DavClient}, transport.ts): PROPFIND depth 1 and 0,
 * GET with headers, PUT with Content-Length, MKCOL, MOVE (`Overwrite: T`), DELETE — each
 * with the request's `AbortSignal`.
 */
import type * as http from 'node:http';
import { loadOptional } from '../optional.js';
import type { DavBody, DavClient, DavEntry } from './transport.js';

/** What {@link connectDav} needs. */
export interface DavConnection {
  /** `http[s]://host[:port]`. */
  origin: string;
  user: string | undefined;
  password: string | undefined;
  /** The keep-alive agent (TLS trust for https). */
  agent: http.Agent;
}

/**
 * Load `webdav` and make a {@link DavClient} for `connection`: Basic auth when the URL has
 * a user (the package switches to Digest when the server asks for it).
 * @throws LtxvfsError `LTXVFS_ERR_USAGE` "webdav:// replicas need the optional package
 *   webdav, which is not installed: npm install webdav" (../optional.ts).
 */
export async function connectDav(connection: DavConnection): Promise<DavClient> {
  const { createClient } = await loadOptional<typeof import('webdav')>('webdav', 'webdav');
  const secure = connection.origin.startsWith('https:');
  const dav = createClient(connection.origin, {
    ...(connection.user === undefined ? {} : { username: connection.user, password: connection.password ?? '' }),
    ...(secure ? { httpsAgent: connection.agent } : { httpAgent: connection.agent }),
  });
  const entry = (s: { basename: string; type: 'file' | 'directory'; size: number; lastmod: string }): DavEntry => ({
    basename: s.basename,
    type: s.type,
    size: s.size,
    lastmod: s.lastmod,
  });
  return {
    list: async (path, signal) => (await dav.getDirectoryContents(path, { signal, details: false })).map(entry),
    stat: async (path, signal) => {
      const stat = await dav.stat(path, { signal, details: false });
      return entry('data' in stat ? stat.data : stat);
    },
    get: async (path, headers, signal): Promise<DavBody> => {
      const res = await dav.getFileContents(path, { format: 'binary', details: true, headers, signal });
      if (typeof res === 'string' || !('data' in res) || typeof res.data === 'string') throw new Error(`GET ${path}: the webdav package returned no binary body`);
      const body = res.data;
      const data = body instanceof ArrayBuffer ? new Uint8Array(body) : new Uint8Array(body.buffer, body.byteOffset, body.byteLength);
      return { status: res.status, headers: res.headers, data };
    },
    put: async (path, data, contentType, signal) => {
      await dav.putFileContents(path, Buffer.from(data.buffer, data.byteOffset, data.byteLength), {
        overwrite: true,
        contentLength: data.byteLength,
        headers: { 'Content-Type': contentType },
        signal,
      });
    },
    mkcol: (path, signal) => dav.createDirectory(path, { signal }),
    move: (from, to, signal) => dav.moveFile(from, to, { overwrite: true, signal }),
    delete: (path, signal) => dav.deleteFile(path, { signal }),
  };
}
