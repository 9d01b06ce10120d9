/**
 * The options of an sftp:// client, apart from the client so that the public types (the
 * package's `.d.ts`) do not reach the optional `ssh2` package's types.
 */
import type { RequestRetryOptions } from '../retry.js';

/** Options of an sftp:// client. Times in ms. */
export interface SftpReplicaOptions extends RequestRetryOptions {
  /** Environment: `SSH_AUTH_SOCK` (agent), `HOME` (for `~/.ssh/known_hosts`); default `process.env`. */
  env?: NodeJS.ProcessEnv;
  /** Password, when the URL has none. */
  password?: string;
  /** A private key (OpenSSH or PEM text), instead of `keyPath`. */
  privateKey?: string;
  /** Path of a private key file; the URL's `keyPath` / `key-path` wins. */
  keyPath?: string;
  /** Passphrase of an encrypted private key. */
  passphrase?: string;
  /** ssh-agent socket; default `SSH_AUTH_SOCK`; `false`: no agent. */
  agent?: string | false;
  /** known_hosts file to check the host key against; the URL's `knownHosts` wins. Default `$HOME/.ssh/known_hosts`. */
  knownHosts?: string;
  /** The host key's fingerprint `SHA256:…` (ssh-keygen -lf), instead of a known_hosts file; the URL's `hostKey` wins. */
  hostKey?: string;
  /** SSH handshake and authentication deadline. Default 10 000. */
  connectTimeoutMs?: number;
  /** Deadline of one SFTP request; past it the connection is dropped and the request retried. Default 10 000. */
  requestTimeoutMs?: number;
  /** Read handles kept open. Default 64. */
  maxOpenFiles?: number;
}
