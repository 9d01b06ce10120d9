/**
 * A real WebDAV server for the webdav:// and webdavs:// tests: npm `webdav-server` 2.6
 * (v2 API) with a `PhysicalFileSystem` over a temporary directory, HTTP Basic auth for
 * one user with all rights, on 127.0.0.1 at a port the system chooses. With `secure` it
 * serves HTTPS with a self-signed certificate for 127.0.0.1 (test/helpers/tls.ts), whose
 * PEM file is `certFile` (for `ca`, `NODE_EXTRA_CA_CERTS` and Go's `SSL_CERT_FILE`).
 *
 * `stop()` closes the listener and destroys every open connection (a server that went
 * away mid-request); `restart()` listens again on the same port over the same directory.
 * The server keeps nothing but the directory (no autosave), so a restart sees the same
 * files with their mtimes as `getlastmodified`.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import type * as http from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import webdavServer from 'webdav-server';
import { selfSignedCertificate, type TestCertificate } from './tls.js';

const { v2: webdav } = webdavServer;

/** The user every test server knows. */
export const WEBDAV_USER = 'litestream';
/**
 * Its password, with an `@` a URL must escape. webdav-server's Basic auth parser cuts the
 * password at a second `:` and accepts only base64 without `+` or `/`, so this one avoids both.
 */
export const WEBDAV_PASSWORD = 'S3cret-w@rd';

/** A running WebDAV server. */
export interface WebdavServerHandle {
  /** `http://127.0.0.1:PORT` or `https://…`. */
  origin: string;
  port: number;
  /** The directory the server serves as `/`. */
  directory: string;
  /** The certificate's PEM file when `secure` (else undefined). */
  certFile: string | undefined;
  /** The certificate PEM when `secure`. */
  ca: string | undefined;
  /** `webdav[s]://litestream:<password>@127.0.0.1:PORT/<path>` (credentials percent-encoded; `user: false` leaves them out). */
  url(path: string, credentials?: { user: string; password?: string } | false): string;
  /** Close the listener and destroy open connections. Idempotent. */
  stop(): Promise<void>;
  /** Listen again on the same port over the same directory (after `stop`). */
  restart(): Promise<void>;
  /** Requests answered so far, by method (PROPFIND, GET, PUT, …); `reset` sets them to zero. */
  requests(reset?: boolean): Record<string, number>;
  /** Stop and remove the directory and certificate. Idempotent. */
  close(): Promise<void>;
}

/** Start a WebDAV server on 127.0.0.1 over a new temporary directory. */
export async function startWebdavServer(options: { secure?: boolean } = {}): Promise<WebdavServerHandle> {
  const directory = mkdtempSync(join(tmpdir(), 'ltxvfs-webdav-'));
  const cert: TestCertificate | undefined = options.secure === true ? selfSignedCertificate(['127.0.0.1']) : undefined;
  let port = 0;
  let server: InstanceType<typeof webdav.WebDAVServer> | undefined;
  let listener: http.Server | undefined;
  let counts: Record<string, number> = {};

  const listen = async (): Promise<void> => {
    const users = new webdav.SimpleUserManager();
    const user = users.addUser(WEBDAV_USER, WEBDAV_PASSWORD, false);
    const privileges = new webdav.SimplePathPrivilegeManager();
    privileges.setRights(user, '/', ['all']);
    server = new webdav.WebDAVServer({
      hostname: '127.0.0.1',
      port,
      requireAuthentification: true,
      httpAuthentication: new webdav.HTTPBasicAuthentication(users, 'ltxvfs test'),
      privilegeManager: privileges,
      rootFileSystem: new webdav.PhysicalFileSystem(directory),
      ...(cert === undefined ? {} : { https: { key: cert.key, cert: cert.cert } }),
    });
    server.afterRequest((ctx, next) => {
      const method = ctx.request.method ?? '?';
      counts[method] = (counts[method] ?? 0) + 1;
      next();
    });
    listener = await server.startAsync(port);
    port = (listener.address() as AddressInfo).port;
  };
  await listen();

  const scheme = cert === undefined ? 'webdav' : 'webdavs';
  const stop = async (): Promise<void> => {
    const l = listener;
    listener = undefined;
    if (l === undefined) return;
    const closed = new Promise<void>((resolve) => l.close(() => resolve()));
    l.closeAllConnections();
    await closed;
    server = undefined;
  };
  return {
    origin: `${cert === undefined ? 'http' : 'https'}://127.0.0.1:${port}`,
    port,
    directory,
    certFile: cert?.certFile,
    ca: cert?.cert,
    url(path, credentials = { user: WEBDAV_USER, password: WEBDAV_PASSWORD }) {
      const auth = credentials === false
        ? ''
        : `${encodeURIComponent(credentials.user)}${credentials.password === undefined ? '' : `:${encodeURIComponent(credentials.password)}`}@`;
      return `${scheme}://${auth}127.0.0.1:${port}/${path}`;
    },
    stop,
    requests(reset = false) {
      const now = { ...counts };
      if (reset) counts = {};
      return now;
    },
    async restart() {
      if (listener === undefined) await listen();
    },
    async close() {
      await stop();
      rmSync(directory, { recursive: true, force: true });
      cert?.dispose();
    },
  };
}
