/**
 * Self-signed TLS certificates for local test servers (Azurite behind the CONNECT proxy as
 * `*.blob.core.windows.net`, webdav-server over https on 127.0.0.1), made with the `openssl`
 * CLI (Debian's openssl; .ci/run installs it when missing) into a temporary directory.
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

/** A certificate and its key, PEM; `certFile` is a path for `NODE_EXTRA_CA_CERTS`. */
export interface TestCertificate {
  key: string;
  cert: string;
  /** The certificate written to a file (removed by `dispose`). */
  certFile: string;
  dispose(): void;
}

/**
 * A self-signed certificate (RSA 2048, 2 days) for `names`: DNS names (wildcards allowed)
 * and IP addresses, all in subjectAltName; the first is also the subject CN.
 */
export function selfSignedCertificate(names: readonly string[]): TestCertificate {
  const dir = mkdtempSync(join(tmpdir(), 'ltxvfs-tls-'));
  const san = names.map((n) => (/^[\d.]+$|:/.test(n) ? `IP:${n}` : `DNS:${n}`)).join(',');
  const keyFile = join(dir, 'key.pem');
  const certFile = join(dir, 'cert.pem');
  writeFileSync(join(dir, 'openssl.cnf'), '[req]\ndistinguished_name=dn\n[dn]\n');
  execFileSync('openssl', [
    'req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-days', '2',
    '-keyout', keyFile, '-out', certFile,
    '-subj', `/CN=${names[0]}`,
    '-addext', `subjectAltName=${san}`,
    '-addext', 'basicConstraints=critical,CA:TRUE',
    '-config', join(dir, 'openssl.cnf'),
  ], { stdio: 'pipe' });
  return {
    key: readFileSync(keyFile, 'utf8'),
    cert: readFileSync(certFile, 'utf8'),
    certFile,
    dispose: () => rmSync(dir, { recursive: true, force: true }),
  };
}
