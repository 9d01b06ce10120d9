/**
 * The configuration of a webdav:// client: the options, their defaults and checks, and
 * the HTTP agents — where the TLS trust of a webdavs:// replica comes from.
 *
 * Like Litestream (webdav/replica_client.go `NewReplicaClientFromURL`) the server is
 * `http://HOST[:PORT]` for webdav:// and `https://…` for webdavs://, the user and password
 * are the URL's (Basic auth, or Digest when the server asks for it), and no environment
 * variable names the server or the credentials. TLS trust: Node's CA store plus
 * `NODE_EXTRA_CA_CERTS` (as Node reads it at start), plus — when given — the
 * `NODE_EXTRA_CA_CERTS` file of `options.env` and the `ca` option (PEM), which are added
 * to Node's bundled roots (`tls.rootCertificates`), not put in their place. Go's
 * Litestream reads the system store and `SSL_CERT_FILE` instead.
 */

import { readFileSync } from 'node:fs';
import * as http from 'node:http';
import * as https from 'node:https';
import * as tls from 'node:tls';
import { LtxvfsError } from '../../../ltx/errors.js';
import { retryPolicyOf, type RetryPolicy } from '../retry.js';
import type { ReplicaUrl } from '../replica-url.js';

/** Options of a webdav[s]:// client. Times in ms. */
export interface WebdavReplicaOptions {
  /**
   * Environment; default `process.env`. Only `NODE_EXTRA_CA_CERTS` is read (a PEM file of
   * CAs trusted for webdavs:// besides Node's roots); Litestream reads nothing for WebDAV.
   */
  env?: NodeJS.ProcessEnv;
  /** Extra CA certificates (PEM) trusted for webdavs://, added to Node's roots (self-signed test servers). */
  ca?: string | Buffer | ReadonlyArray<string | Buffer>;
  /** Deadline of one HTTP request, answer and body, ms. Default 10 000. */
  requestTimeoutMs?: number;
  /** No retry starts later than this after the first attempt, ms. Default 30 000. */
  retryBudgetMs?: number;
  /** Most attempts per request, the first included. Default 10. */
  maxAttempts?: number;
  /** Backoff ceiling of the first retry, ms; doubles per retry. Default 100. */
  retryBaseDelayMs?: number;
  /** Largest backoff ceiling, ms. Default 5 000. */
  retryMaxDelayMs?: number;
}

/** Everything a client needs, checked. */
export interface WebdavConfig {
  /** `http://host[:port]` or `https://…`. */
  origin: string;
  /** The replica collection without leading or trailing `/`; `''` for the server root. */
  path: string;
  /** `webdav[s]://host[:port]/path`, never with credentials. */
  url: string;
  user: string | undefined;
  password: string | undefined;
  requestTimeoutMs: number;
  retry: RetryPolicy;
  /** The agent for the origin's protocol (keep-alive; TLS trust for https). */
  agent: http.Agent;
}

const DEFAULT_REQUEST_TIMEOUT_MS = 10_000;

/**
 * Check the options and build the configuration of `parsed`.
 * @throws LtxvfsError `LTXVFS_ERR_USAGE` naming a bad option (a timeout or retry number out
 *   of range), or a `NODE_EXTRA_CA_CERTS` file that cannot be read (naming the file).
 */
export function webdavConfig(parsed: Extract<ReplicaUrl, { scheme: 'webdav' }>, options: WebdavReplicaOptions): WebdavConfig {
  const scheme = parsed.secure ? 'webdavs' : 'webdav';
  const host = parsed.host.includes(':') ? `[${parsed.host}]` : parsed.host;
  const authority = parsed.port === undefined ? host : `${host}:${parsed.port}`;
  const requestTimeoutMs = options.requestTimeoutMs ?? DEFAULT_REQUEST_TIMEOUT_MS;
  if (!Number.isFinite(requestTimeoutMs) || requestTimeoutMs <= 0) {
    throw new LtxvfsError('LTXVFS_ERR_USAGE', `bad webdav requestTimeoutMs ${String(requestTimeoutMs)}: need a positive number of ms`);
  }
  const retry = retryPolicyOf(options, 'webdav options');
  return {
    origin: `${parsed.secure ? 'https' : 'http'}://${authority}`,
    path: parsed.path,
    url: `${scheme}://${authority}/${parsed.path}`,
    user: parsed.user,
    password: parsed.password,
    requestTimeoutMs,
    retry,
    agent: parsed.secure ? httpsAgent(options) : new http.Agent({ keepAlive: true }),
  };
}

/** A keep-alive https agent trusting Node's store, plus `env.NODE_EXTRA_CA_CERTS` and `ca` when given. */
function httpsAgent(options: WebdavReplicaOptions): https.Agent {
  const extra: Array<string | Buffer> = [];
  const file = (options.env ?? process.env).NODE_EXTRA_CA_CERTS;
  if (file !== undefined && file !== '') {
    try {
      extra.push(readFileSync(file));
    } catch (err) {
      throw new LtxvfsError('LTXVFS_ERR_USAGE', `cannot read NODE_EXTRA_CA_CERTS file ${file}: ${(err as Error).message}`, { key: file, cause: err });
    }
  }
  if (options.ca !== undefined) extra.push(...(typeof options.ca === 'string' || Buffer.isBuffer(options.ca) ? [options.ca] : options.ca));
  return new https.Agent({ keepAlive: true, ...(extra.length === 0 ? {} : { ca: [...tls.rootCertificates, ...extra] }) });
}
