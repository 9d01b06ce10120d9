/**
 * Host key checking of the sftp:// client, as OpenSSH's `StrictHostKeyChecking yes` does
 * it (sshd(8) "SSH_KNOWN_HOSTS FILE FORMAT"): the key the server shows must be listed for
 * the host in a known_hosts file (`~/.ssh/known_hosts` by default), or match the SHA-256
 * fingerprint given as `hostKey` (`SHA256:<base64>`, as `ssh-keygen -lf` prints it).
 * Litestream itself never checks host keys (`ssh.InsecureIgnoreHostKey` unless its config
 * has `host-key`); ltxvfs does, since a replica read from an impostor is a wrong database.
 *
 * known_hosts lines read: `[marker] patterns keytype base64-key [comment]`, patterns
 * comma-separated, each a host name or `[host]:port` (ports other than 22), with `*` and
 * `?` wildcards, `!` negation, or hashed (`|1|<salt>|<HMAC-SHA1>`, `HashKnownHosts`).
 * `@revoked` keys are refused; `@cert-authority` lines are skipped (no certificates).
 */
import { createHash, createHmac } from 'node:crypto';
import { promises as fs } from 'node:fs';
import { LtxvfsError } from '../../../ltx/errors.js';

/** What the host key must match: a fingerprint, or the keys a known_hosts file lists. */
export type HostKeyPolicy =
  | { kind: 'fingerprint'; fingerprint: string }
  | { kind: 'known-hosts'; file: string; lines: string[] };

/** The fingerprint of a host key blob (SSH wire format) as `ssh-keygen -lf` prints it: `SHA256:<base64, no padding>`. */
export function fingerprintOf(key: Uint8Array): string {
  return `SHA256:${createHash('sha256').update(key).digest('base64').replace(/=+$/, '')}`;
}

/** The name known_hosts lists a host under: `host` for port 22, else `[host]:port`. */
export function knownHostName(host: string, port: number): string {
  return port === 22 ? host : `[${host}]:${port}`;
}

/**
 * Load the policy: `hostKey` when given (checked for form), else the lines of `knownHostsFile`.
 * @throws LtxvfsError `LTXVFS_ERR_USAGE` for a `hostKey` that is not `SHA256:<43 base64 characters>`;
 *   `LTXVFS_ERR_USAGE` when the known_hosts file cannot be read, naming it and how to add the host.
 */
export async function loadHostKeyPolicy(hostKey: string | undefined, knownHostsFile: string, where: string): Promise<HostKeyPolicy> {
  if (hostKey !== undefined) {
    // A URL's query decodes `+` as a space; a fingerprint has no spaces, so they are `+` again.
    const fingerprint = hostKey.replace(/ /g, '+').replace(/=+$/, '');
    if (!/^SHA256:[A-Za-z0-9+/]{43}$/.test(fingerprint)) {
      throw new LtxvfsError('LTXVFS_ERR_USAGE', `${where}: bad hostKey ${JSON.stringify(hostKey)}: need a SHA-256 fingerprint SHA256:<base64> as ssh-keygen -lf prints it`, { key: 'hostKey' });
    }
    return { kind: 'fingerprint', fingerprint };
  }
  let text: string;
  try {
    text = await fs.readFile(knownHostsFile, 'utf8');
  } catch (err) {
    throw new LtxvfsError('LTXVFS_ERR_USAGE',
      `${where}: cannot read known_hosts file ${knownHostsFile} (${(err as Error).message}): add the host's key with ssh-keyscan, or give its fingerprint as ?hostKey=SHA256:…`,
      { key: knownHostsFile, cause: err });
  }
  return { kind: 'known-hosts', file: knownHostsFile, lines: text.split(/\r?\n/) };
}

/** Does `pattern` (one known_hosts host pattern, `*` and `?` wildcards) match `name`? */
function patternMatches(pattern: string, name: string): boolean {
  if (pattern.startsWith('|1|')) {
    const [, , salt, hash] = pattern.split('|');
    if (salt === undefined || hash === undefined) return false;
    return createHmac('sha1', Buffer.from(salt, 'base64')).update(name).digest('base64') === hash;
  }
  const re = new RegExp(`^${pattern.replace(/[.+^${}()|\\]/g, '\\$&').replace(/\*/g, '.*').replace(/\?/g, '.').replace(/\[/g, '\\[').replace(/\]/g, '\\]')}$`, 'i');
  return re.test(name);
}

/** Does the comma-separated pattern list match `name` (a negated match wins)? */
function hostsMatch(patterns: string, name: string): boolean {
  let matched = false;
  for (const p of patterns.split(',')) {
    if (p.startsWith('!')) {
      if (patternMatches(p.slice(1), name)) return false;
    } else if (patternMatches(p, name)) {
      matched = true;
    }
  }
  return matched;
}

/**
 * Check the server's host key blob against the policy.
 * @returns undefined when it is accepted, else the reason it is not (for the error message).
 */
export function checkHostKey(policy: HostKeyPolicy, host: string, port: number, key: Uint8Array): string | undefined {
  const fingerprint = fingerprintOf(key);
  const name = knownHostName(host, port);
  if (policy.kind === 'fingerprint') {
    return fingerprint === policy.fingerprint ? undefined : `host key of ${name} is ${fingerprint}, not the hostKey ${policy.fingerprint} given`;
  }
  const blob = Buffer.from(key).toString('base64');
  let listed = false;
  for (const raw of policy.lines) {
    const line = raw.trim();
    if (line === '' || line.startsWith('#')) continue;
    const fields = line.split(/\s+/);
    const marker = fields[0].startsWith('@') ? fields.shift() : undefined;
    const [patterns, , keyText] = fields;
    if (patterns === undefined || keyText === undefined || marker === '@cert-authority') continue;
    if (!hostsMatch(patterns, name)) continue;
    if (marker === '@revoked' && keyText === blob) return `host key ${fingerprint} of ${name} is marked @revoked in ${policy.file}`;
    if (marker === undefined) {
      listed = true;
      if (keyText === blob) return undefined;
    }
  }
  const accept = `if it is the right host, add it: ssh-keyscan -p ${port} ${host} >> ${policy.file}, or give ?hostKey=${fingerprint}`;
  return listed
    ? `host key of ${name} is ${fingerprint}, which does not match the key ${policy.file} lists for it (the host key changed, or another host answers); ${accept}`
    : `unknown host ${name}: its key ${fingerprint} is not in ${policy.file}; ${accept}`;
}
