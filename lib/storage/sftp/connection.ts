/**
 * The one SSH connection of an sftp:// client and its SFTP channel (ssh2's `Client` and
 * `sftp()`), opened at open time, reopened when it drops, and the request discipline
 * around it:
 *
 * - every SFTP request has a deadline (`requestTimeoutMs`); a request the server leaves
 *   unanswered ends the connection (its other requests are as stuck) and is retried on a
 *   new one;
 * - connection failures (refused, reset, closed, handshake timeout) are transient and
 *   retried with full-jitter backoff within `retryBudgetMs` (../retry.ts); SFTP status
 *   answers (no such file, permission denied, failure) are final and the caller maps them;
 * - authentication and host key failures are final and name the replica.
 *
 * ssh2 is the vendor library (an optional peer dependency, loaded by index.ts); this
 * module receives its `Client` class.
 */
import type { Client as SshClient, ConnectConfig, SFTPWrapper } from 'ssh2';
import { LtxvfsError } from '../../../ltx/errors.js';
import { RetryExhaustedError, TransientError, withRetry, type RetryAttempt, type RetryPolicy } from '../retry.js';
import { checkHostKey, type HostKeyPolicy } from './known-hosts.js';

/** One live SSH connection with its SFTP channel. */
export interface SftpLink {
  readonly sftp: SFTPWrapper;
  /** Extensions the server advertised in its SFTP VERSION packet (`hardlink@openssh.com`, …). */
  readonly extensions: ReadonlySet<string>;
  /** False once the connection closed or was ended. */
  alive: boolean;
}

/** How to reach and authenticate to the server. */
export interface SftpConnectSettings {
  host: string;
  port: number;
  user: string;
  password: string | undefined;
  privateKey: Buffer | undefined;
  passphrase: string | undefined;
  /** ssh-agent socket (`SSH_AUTH_SOCK`), or undefined. */
  agent: string | undefined;
  hostKeys: HostKeyPolicy;
  connectTimeoutMs: number;
  requestTimeoutMs: number;
  retry: RetryPolicy;
  /** For messages: the replica URL without credentials. */
  where: string;
}

type ClientClass = new () => SshClient;

/** An SFTP status answer from the server (ssh2 sets `code` to the SFTP status number). */
export function sftpStatus(err: unknown): number | undefined {
  const code = (err as { code?: unknown }).code;
  return typeof code === 'number' ? code : undefined;
}

/** SFTP v3 status codes (draft-ietf-secsh-filexfer-02 §7). */
export const STATUS = Object.freeze({ EOF: 1, NO_SUCH_FILE: 2, PERMISSION_DENIED: 3, FAILURE: 4, OP_UNSUPPORTED: 8 });

/** The connection manager: one link at a time, reopened on demand. */
export class SftpConnection {
  private current: Promise<SftpLink> | undefined;
  private link: { link: SftpLink; client: SshClient } | undefined;
  private closed = false;

  constructor(private readonly Client: ClientClass, private readonly settings: SftpConnectSettings) {}

  /** Connect now (open time), so that credentials and host keys fail at open. */
  async open(): Promise<SftpLink> {
    return this.run(undefined, async (link) => link);
  }

  /**
   * Run `op` on a live link within the request deadline, retrying transient failures on a new connection.
   * @param key the key the operation is about, for messages.
   * @throws LtxvfsError `LTXVFS_ERR_STORAGE` ("… connection failed/timed out …, gave up after n attempts") naming `key`;
   *   whatever `op` throws that is not a connection failure (its SFTP status errors), unchanged.
   */
  async run<T>(key: string | undefined, op: (link: SftpLink, attempt: RetryAttempt) => Promise<T>): Promise<T> {
    const what = key === undefined ? this.settings.where : `${this.settings.where}/${key}`;
    try {
      return await withRetry(async (attempt) => {
        const link = await this.connected(what);
        let timer: NodeJS.Timeout | undefined;
        const deadline = new Promise<never>((_, reject) => {
          timer = setTimeout(() => {
            this.drop(link);
            reject(new TransientError(new LtxvfsError('LTXVFS_ERR_STORAGE', `${what}: no answer from ${this.settings.host}:${this.settings.port} within ${this.settings.requestTimeoutMs} ms`, { key })));
          }, this.settings.requestTimeoutMs);
        });
        try {
          return await Promise.race([op(link, attempt), deadline]);
        } catch (err) {
          if (err instanceof TransientError || err instanceof LtxvfsError || sftpStatus(err) !== undefined) throw err;
          // Not an SFTP status: the channel or the connection failed.
          this.drop(link);
          throw new TransientError(new LtxvfsError('LTXVFS_ERR_STORAGE', `${what}: connection failed: ${(err as Error).message}`, { key, cause: err }));
        } finally {
          clearTimeout(timer);
        }
      }, this.settings.retry);
    } catch (err) {
      if (err instanceof RetryExhaustedError) {
        throw new LtxvfsError('LTXVFS_ERR_STORAGE', err.message, { key, cause: err.last });
      }
      throw err;
    }
  }

  /** End the connection; later calls fail (the client checks `closed` first). */
  async close(): Promise<void> {
    this.closed = true;
    const link = this.link;
    this.link = undefined;
    this.current = undefined;
    if (link !== undefined) {
      link.link.alive = false;
      link.client.end();
    }
  }

  private drop(link: SftpLink): void {
    if (this.link?.link !== link) return;
    link.alive = false;
    const { client } = this.link;
    this.link = undefined;
    this.current = undefined;
    client.destroy();
  }

  private connected(what: string): Promise<SftpLink> {
    if (this.closed) return Promise.reject(new LtxvfsError('LTXVFS_ERR_CLOSED', `replica client is closed: ${this.settings.where}`));
    if (this.current === undefined) {
      const attempt = this.connect(what);
      this.current = attempt;
      attempt.catch(() => {
        if (this.current === attempt) this.current = undefined;
      });
    }
    return this.current;
  }

  private connect(what: string): Promise<SftpLink> {
    const s = this.settings;
    const client = new this.Client();
    let hostKeyProblem: string | undefined;
    const config: ConnectConfig = {
      host: s.host,
      port: s.port,
      username: s.user,
      password: s.password,
      privateKey: s.privateKey,
      passphrase: s.passphrase,
      agent: s.agent,
      readyTimeout: s.connectTimeoutMs,
      keepaliveInterval: Math.max(1000, Math.floor(s.requestTimeoutMs / 2)),
      keepaliveCountMax: 2,
      hostVerifier: (key: Buffer) => {
        hostKeyProblem = checkHostKey(s.hostKeys, s.host, s.port, key);
        return hostKeyProblem === undefined;
      },
    };
    return new Promise<SftpLink>((resolve, reject) => {
      let ready = false;
      client.on('error', (err: Error & { level?: string }) => {
        if (ready) return;
        if (hostKeyProblem !== undefined) {
          reject(new LtxvfsError('LTXVFS_ERR_STORAGE', `${s.where}: ${hostKeyProblem}`, { key: s.where, cause: err }));
        } else if (err.level === 'client-authentication') {
          reject(new LtxvfsError('LTXVFS_ERR_STORAGE', `${s.where}: authentication failed for user ${s.user} at ${s.host}:${s.port} (tried ${this.methods()}): ${err.message}`, { key: s.where, cause: err }));
        } else if ((err as NodeJS.ErrnoException).code === 'ENOTFOUND') {
          reject(new LtxvfsError('LTXVFS_ERR_STORAGE', `${s.where}: host not found: ${s.host}`, { key: s.where, cause: err }));
        } else {
          reject(new TransientError(new LtxvfsError('LTXVFS_ERR_STORAGE', `${what}: cannot connect to ${s.host}:${s.port}: ${err.message}`, { key: s.where, cause: err })));
        }
      });
      client.on('close', () => {
        if (!ready) reject(new TransientError(new LtxvfsError('LTXVFS_ERR_STORAGE', `${what}: connection to ${s.host}:${s.port} closed during the handshake`, { key: s.where })));
        if (this.link?.client === client) {
          this.link.link.alive = false;
          this.link = undefined;
          this.current = undefined;
        }
      });
      client.on('ready', () => {
        client.sftp((err, sftp) => {
          if (err !== undefined && err !== null) {
            client.destroy();
            reject(new LtxvfsError('LTXVFS_ERR_STORAGE', `${s.where}: the server refused the SFTP subsystem: ${err.message}`, { key: s.where, cause: err }));
            return;
          }
          ready = true;
          const extensions = new Set(Object.keys((sftp as unknown as { _extensions?: Record<string, string> })._extensions ?? {}));
          const link: SftpLink = { sftp, extensions, alive: true };
          this.link = { link, client };
          if (this.closed) {
            void this.close();
            reject(new LtxvfsError('LTXVFS_ERR_CLOSED', `replica client is closed: ${s.where}`));
            return;
          }
          resolve(link);
        });
      });
      client.connect(config);
    });
  }

  private methods(): string {
    const s = this.settings;
    const m = [s.password !== undefined ? 'password' : undefined, s.privateKey !== undefined ? 'private key' : undefined, s.agent !== undefined ? 'ssh-agent' : undefined];
    return m.filter((x) => x !== undefined).join(', ');
  }
}
