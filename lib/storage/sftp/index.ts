/**
 * The sftp:// backend (SFTP v3 over SSH), entered through {@link openSftpReplica}: the
 * client (client.ts) over one SSH connection (connection.ts, reopened when it fails), the
 * SFTP requests (ops.ts) and host key checking (known-hosts.ts). The vendor library is
 * `ssh2` (its `Client` and `sftp()`), an optional peer dependency loaded only here.
 *
 * URL: `sftp://USER[:PASSWORD]@HOST[:PORT]/PATH`, as Litestream's (port 22), plus the
 * ltxvfs parameters `keyPath` (`key-path`), `knownHosts` (`known-hosts`) and `hostKey`
 * (`host-key`), which Litestream ignores. The replica is the absolute directory `/PATH`,
 * where Litestream's replicator writes (its VFS reads PATH relative to the login directory:
 * the same place only when that is `/`; docs/backends/sftp.md).
 *
 * Authentication, every method given is offered: the URL's password (or `password`), a
 * private key (`privateKey`, `keyPath` / `?keyPath=`, with `passphrase`), and the ssh-agent
 * at `SSH_AUTH_SOCK`. Host keys are checked (known-hosts.ts): against `hostKey` when given,
 * else `knownHosts`, else `$HOME/.ssh/known_hosts`.
 *
 * Writes and the lease: create-only needs an atomic "create this name only if it does not
 * exist". SFTP v3's RENAME should fail on an existing target, and OpenSSH's does (link +
 * unlink), but not everywhere: OpenSSH falls back to stat + rename (racy) on filesystems
 * without hard links, and other servers (Go's pkg/sftp) rename over the target; a client
 * cannot tell. `hardlink@openssh.com` is link(2) on the server, which fails on an existing
 * name atomically and never falls back. So a server that advertises `hardlink@openssh.com`
 * and `posix-rename@openssh.com` (OpenSSH ≥ 5.7) gets `conditionalWrites: 'create-only'` and
 * `leaseLock: 'replace-guard'` — the same guarantees as a directory (file://) — and any other
 * (a bare ssh2 `Server`) gets `'none'`: reads only, the lease and ltxvfs's write path refused.
 */
import { homedir } from 'node:os';
import { promises as fs } from 'node:fs';
import * as path from 'node:path';
import { LtxvfsError } from '../../../ltx/errors.js';
import { loadOptional } from '../optional.js';
import { retryPolicyOf, type RequestRetryOptions } from '../retry.js';
import type { ReplicaUrl } from '../replica-url.js';
import { SftpReplicaClient } from './client.js';
import { SftpConnection } from './connection.js';
import { loadHostKeyPolicy } from './known-hosts.js';

export { SftpReplicaClient } from './client.js';
export { fingerprintOf } from './known-hosts.js';
export type { SftpReplicaOptions } from './options.js';
import type { SftpReplicaOptions } from './options.js';


const positive = (name: string, value: number | undefined, fallback: number): number => {
  const v = value ?? fallback;
  if (!Number.isFinite(v) || v <= 0) throw new LtxvfsError('LTXVFS_ERR_USAGE', `bad sftp option ${name} ${String(v)}: need a positive number`, { key: name });
  return v;
};

/**
 * Open an sftp:// replica: load ssh2, read the key and known_hosts files, connect and
 * authenticate (so a wrong password or an unknown host fails here), and see which SFTP
 * extensions the server offers (they decide the capabilities, module doc).
 * @throws LtxvfsError `LTXVFS_ERR_USAGE` (ssh2 not installed, naming it; no password, key
 *   or agent; an unreadable key or known_hosts file; a bad `hostKey`; bad options);
 *   `LTXVFS_ERR_STORAGE` naming the replica (authentication failed; unknown or changed host
 *   key, with its fingerprint and how to accept it; the server unreachable beyond the retry budget).
 */
export async function openSftpReplica(url: Extract<ReplicaUrl, { scheme: 'sftp' }>, options: SftpReplicaOptions = {}): Promise<SftpReplicaClient> {
  const env = options.env ?? process.env;
  const root = `/${url.path}`;
  const port = url.port === 22 ? '' : `:${url.port}`;
  const host = url.host.includes(':') ? `[${url.host}]` : url.host;
  const where = `sftp://${encodeURIComponent(url.user)}@${host}${port}${root === '/' ? '' : root}`;
  const param = (a: string, b: string): string | undefined => url.params[a] ?? url.params[b];

  const keyPath = param('keyPath', 'key-path') ?? options.keyPath;
  let privateKey: Buffer | undefined = options.privateKey === undefined ? undefined : Buffer.from(options.privateKey);
  if (keyPath !== undefined) {
    try {
      privateKey = await fs.readFile(keyPath);
    } catch (err) {
      throw new LtxvfsError('LTXVFS_ERR_USAGE', `${where}: cannot read private key file ${keyPath}: ${(err as Error).message}`, { key: keyPath, cause: err });
    }
  }
  const password = url.password ?? options.password;
  const agent = options.agent === false ? undefined : options.agent ?? (env.SSH_AUTH_SOCK === '' ? undefined : env.SSH_AUTH_SOCK);
  if (password === undefined && privateKey === undefined && agent === undefined) {
    throw new LtxvfsError('LTXVFS_ERR_USAGE',
      `${where}: no SSH credentials: put the password in the URL (sftp://user:password@host/path), give a private key (?keyPath=), or run an ssh-agent (SSH_AUTH_SOCK)`,
      { key: where });
  }
  const knownHosts = param('knownHosts', 'known-hosts') ?? options.knownHosts ?? path.join(env.HOME ?? homedir(), '.ssh', 'known_hosts');
  const hostKeys = await loadHostKeyPolicy(param('hostKey', 'host-key') ?? options.hostKey, knownHosts, where);
  const retry = retryPolicyOf(options, where);
  const connectTimeoutMs = positive('connectTimeoutMs', options.connectTimeoutMs, 10_000);
  const requestTimeoutMs = positive('requestTimeoutMs', options.requestTimeoutMs, 10_000);
  const maxOpenFiles = positive('maxOpenFiles', options.maxOpenFiles, 64);

  const ssh2 = await loadOptional<typeof import('ssh2')>('ssh2', 'sftp');
  const Client = ssh2.Client ?? (ssh2 as unknown as { default: typeof ssh2 }).default.Client;
  const conn = new SftpConnection(Client, {
    host: url.host, port: url.port, user: url.user, password, privateKey, passphrase: options.passphrase, agent, hostKeys,
    connectTimeoutMs, requestTimeoutMs, retry, where,
  });
  const link = await conn.open();
  return new SftpReplicaClient(where, root, conn, link, maxOpenFiles);
}
