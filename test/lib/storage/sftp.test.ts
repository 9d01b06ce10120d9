/**
 * The sftp:// client against a real SFTP server (ssh2's Server over a temporary directory,
 * test/helpers/sftp-server.ts): the storage conformance suite on an OpenSSH-like server
 * (hardlink and posix-rename extensions), capabilities on a bare one, authentication and
 * host key checks, faults (the server stopped mid-read, a server that stops answering),
 * and a missing ssh2 package.
 */
import t from 'tap';
import { createHmac } from 'node:crypto';
import { promises as fs } from 'node:fs';
import * as path from 'node:path';
import { openDatabase } from '../../../lib/api/open.js';
import { Lease } from '../../../lib/write/lease.js';
import { openReplicaClient } from '../../../lib/storage/url.js';
import type { SftpReplicaOptions } from '../../../lib/storage/sftp/index.js';
import { ed25519KeyPair, startSftpServer, type SftpServer } from '../../helpers/sftp-server.js';
import { storageConformance } from './conformance.js';
import { waitFor } from '../../helpers/polling.js';

const FAST: Omit<SftpReplicaOptions, 'env'> = { retryBaseDelayMs: 2, retryMaxDelayMs: 20, retryBudgetMs: 300, requestTimeoutMs: 2000, connectTimeoutMs: 2000 };
const enc = (s: string) => new TextEncoder().encode(s);

let server: SftpServer;
t.before(async () => {
  server = await startSftpServer();
});
t.teardown(() => server?.close());

const urlOf = (s: SftpServer, dir: string, auth = `${s.user}:${s.password}`) => `sftp://${auth}@${s.host}:${s.port}/${dir}?hostKey=${s.fingerprint}`;

let dirs = 0;
storageConformance(t, 'sftp', {
  open: () => openReplicaClient(urlOf(server, `conformance-${++dirs}`), { env: {}, sftp: FAST }),
  capabilities: { rangeReads: true, conditionalWrites: 'create-only', leaseLock: 'replace-guard', latency: 'remote', tempFileRoot: undefined },
  readsIntoBuffer: true,
  timestampResolutionMs: 1000,
});

t.test('sftp: files live at /PATH/ltx/<level>/ with mtime = the header timestamp (seconds)', async (t) => {
  const c = await openReplicaClient(urlOf(server, 'deep/replica'), { env: {}, sftp: FAST });
  t.teardown(() => c.close());
  t.equal(c.url, `sftp://${server.user}@127.0.0.1:${server.port}/deep/replica`, 'no password in the URL');
  await c.write(c.ltxKey(0, 1, 1), enc('ltx'), { timestamp: 1795254709256 });
  const st = await fs.stat(path.join(server.root, 'deep/replica/ltx/0/0000000000000001-0000000000000001.ltx'));
  t.equal(st.mtimeMs, 1795254709000);
  t.same(await fs.readdir(path.join(server.root, 'deep/replica/ltx/0')), ['0000000000000001-0000000000000001.ltx'], 'no temporary file left');
  await t.rejects(c.write(c.ltxKey(0, 2, 2), enc('x'), { timestamp: 2 ** 32 * 1000 }), { code: 'LTXVFS_ERR_USAGE', message: /bad timestamp/ }, 'past uint32 seconds');
  await fs.mkdir(path.join(server.root, 'deep/replica/ltx/0/0000000000000003-0000000000000003.ltx'));
  t.same((await c.listLtxFiles(0)).map((f) => f.minTXID), [1], 'a directory under an LTX name is left out');
  t.match(c.strays?.(), [{ key: 'ltx/0/0000000000000003-0000000000000003.ltx', reason: 'not a regular file' }]);
});

t.test('sftp: a bare ssh2 server (no OpenSSH extensions) is read-only: no conditional writes, the lease refused naming the replica', async (t) => {
  const bare = await startSftpServer({ extensions: false });
  t.teardown(() => bare.close());
  const c = await openReplicaClient(urlOf(bare, 'bare'), { env: {}, sftp: FAST });
  t.teardown(() => c.close());
  t.match(c.capabilities, { conditionalWrites: 'none', leaseLock: 'none', rangeReads: true });
  const key = c.ltxKey(0, 1, 1);
  await c.write(key, enc('one'));
  await c.write(key, enc('two'));
  t.equal(new TextDecoder().decode((await c.read(key)).data), 'two', 'a plain write replaces (RENAME after REMOVE)');
  await t.rejects(c.write(c.objectKey('lock.json'), enc('x'), { ifNoneMatch: true }), {
    code: 'LTXVFS_ERR_UNSUPPORTED', message: /conditional writes need the SFTP extensions hardlink@openssh.com/,
  });
  await t.rejects(Lease.acquire(c), { code: 'LTXVFS_ERR_UNSUPPORTED', message: `${c.url}: this storage has no conditional writes, so no write lease can be held on it` });
});

t.test('sftp: credentials and host keys', async (t) => {
  const dir = t.testdir({ home: { '.ssh': {} } });
  const home = path.join(dir, 'home');
  const plain = `sftp://${server.user}:${server.password}@127.0.0.1:${server.port}/creds`;
  const where = `sftp://${server.user}@127.0.0.1:${server.port}/creds`;

  await t.rejects(openReplicaClient(`sftp://${server.user}:wrong@127.0.0.1:${server.port}/creds?hostKey=${server.fingerprint}`, { env: {}, sftp: FAST }), {
    code: 'LTXVFS_ERR_STORAGE', message: new RegExp(`^${where}: authentication failed for user litestream at 127.0.0.1:${server.port} \\(tried password\\)`),
  }, 'wrong password');
  await t.rejects(openReplicaClient(`sftp://${server.user}@127.0.0.1:${server.port}/creds`, { env: {}, sftp: FAST }), {
    code: 'LTXVFS_ERR_USAGE', message: `${where}: no SSH credentials: put the password in the URL (sftp://user:password@host/path), give a private key (?keyPath=), or run an ssh-agent (SSH_AUTH_SOCK)`,
  }, 'no password, key or agent');
  await t.rejects(openReplicaClient(`${plain}?keyPath=${dir}/missing-key`, { env: {} }), { code: 'LTXVFS_ERR_USAGE', message: /cannot read private key file .*missing-key/ });

  await t.rejects(openReplicaClient(plain, { env: { HOME: home }, sftp: FAST }), {
    code: 'LTXVFS_ERR_USAGE', message: new RegExp(`^${where}: cannot read known_hosts file ${home}/.ssh/known_hosts`),
  }, 'no known_hosts file');
  await fs.writeFile(path.join(home, '.ssh/known_hosts'), '# nothing yet\nexample.org ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIE\n');
  const unknown = await openReplicaClient(plain, { env: { HOME: home }, sftp: FAST }).catch((err: unknown) => err);
  t.match(unknown, {
    code: 'LTXVFS_ERR_STORAGE',
    message: `${where}: unknown host [127.0.0.1]:${server.port}: its key ${server.fingerprint} is not in ${home}/.ssh/known_hosts; if it is the right host, add it: ssh-keyscan -p ${server.port} 127.0.0.1 >> ${home}/.ssh/known_hosts, or give ?hostKey=${server.fingerprint}`,
  }, 'an unknown host names host, fingerprint and how to accept it');

  await fs.appendFile(path.join(home, '.ssh/known_hosts'), `${server.knownHostsLine}\n`);
  const ok = await openReplicaClient(plain, { env: { HOME: home }, sftp: FAST });
  await ok.close();
  t.pass('accepted once ~/.ssh/known_hosts lists it');

  const other = ed25519KeyPair().public.trim().split(/\s+/).slice(0, 2).join(' ');
  const hashedName = (salt: Buffer) => `|1|${salt.toString('base64')}|${createHmac('sha1', salt).update(`[127.0.0.1]:${server.port}`).digest('base64')}`;
  const changed = path.join(dir, 'changed_hosts');
  await fs.writeFile(changed, `${hashedName(Buffer.alloc(20, 7))} ${other}\n`);
  await t.rejects(openReplicaClient(`${plain}?knownHosts=${changed}`, { env: {}, sftp: FAST }), {
    code: 'LTXVFS_ERR_STORAGE', message: new RegExp(`host key of \\[127.0.0.1\\]:${server.port} is ${server.fingerprint.replace(/[+/]/g, '\\$&')}, which does not match the key ${changed} lists`),
  }, 'a changed key (hashed entry) is refused');
  await fs.writeFile(changed, `@revoked * ${server.knownHostsLine.split(' ').slice(1).join(' ')}\n${server.knownHostsLine}\n`);
  await t.rejects(openReplicaClient(`${plain}?known-hosts=${changed}`, { env: {}, sftp: FAST }), { code: 'LTXVFS_ERR_STORAGE', message: /is marked @revoked/ });

  await t.rejects(openReplicaClient(`${plain}?hostKey=SHA256:${'A'.repeat(43)}`, { env: {}, sftp: FAST }), {
    code: 'LTXVFS_ERR_STORAGE', message: `${where}: host key of [127.0.0.1]:${server.port} is ${server.fingerprint}, not the hostKey SHA256:${'A'.repeat(43)} given`,
  });
  await t.rejects(openReplicaClient(`${plain}?host-key=MD5:ab`, { env: {} }), { code: 'LTXVFS_ERR_USAGE', key: 'hostKey', message: /bad hostKey "MD5:ab"/ });
  await t.rejects(openReplicaClient(`${plain}?hostKey=${server.fingerprint}`, { env: {}, sftp: { requestTimeoutMs: 0 } }), { code: 'LTXVFS_ERR_USAGE', message: /requestTimeoutMs 0/ });
});

t.test('sftp: a directory that does not exist is an empty replica, named', async (t) => {
  const url = urlOf(server, 'no/such/dir');
  await t.rejects(openDatabase(url, { env: {}, shared: false, sftp: FAST }), {
    code: 'LTXVFS_ERR_EMPTY_REPLICA', message: `replica has no LTX files: sftp://${server.user}@127.0.0.1:${server.port}/no/such/dir`,
  });
});

t.test('sftp: private key authentication (?keyPath=)', async (t) => {
  const keys = ed25519KeyPair();
  const keyed = await startSftpServer({ authorizedKey: keys.public });
  t.teardown(() => keyed.close());
  const dir = t.testdir({ id_ed25519: keys.private });
  const c = await openReplicaClient(`sftp://${keyed.user}@127.0.0.1:${keyed.port}/k?keyPath=${dir}/id_ed25519&hostKey=${keyed.fingerprint}`, { env: {}, sftp: FAST });
  await c.write(c.objectKey('a'), enc('by key'));
  t.equal(new TextDecoder().decode((await c.read(c.objectKey('a'))).data), 'by key');
  await c.close();
});

t.test('sftp: faults: a stopped server fails reads with LTXVFS_ERR_STORAGE naming the key; reads recover when it is back', async (t) => {
  const s = await startSftpServer();
  t.teardown(() => s.close());
  // The first attempt after the stop meets the SSH connection the server dropped ('No response
  // from server'); only a retry connects and is refused. FAST's 300 ms budget let a loaded
  // machine give up before that retry: 2 s, which the refused retries never use.
  const c = await openReplicaClient(urlOf(s, 'faults'), { env: {}, sftp: { ...FAST, retryBudgetMs: 2000 } });
  t.teardown(() => c.close());
  const key = c.ltxKey(0, 1, 1);
  await c.write(key, enc('0123456789'));
  t.equal(new TextDecoder().decode(await c.readRange(key, 2, 3)), '234');
  await s.stop();
  await t.rejects(c.readRange(key, 0, 4), { code: 'LTXVFS_ERR_STORAGE', key, message: new RegExp(`^${c.url}/${key}: cannot connect to 127.0.0.1:${s.port}: .*ECONNREFUSED.*\\(gave up after \\d+ attempts? in`) });
  await s.start();
  t.equal(new TextDecoder().decode(await c.readRange(key, 0, 4)), '0123', 'a new connection after the server is back');

  const slow = await openReplicaClient(urlOf(s, 'faults'), { env: {}, sftp: { ...FAST, requestTimeoutMs: 300, retryBudgetMs: 0 } });
  t.teardown(() => slow.close());
  s.freeze(true);
  await t.rejects(slow.readRange(key, 0, 4), { code: 'LTXVFS_ERR_STORAGE', key, message: new RegExp(`no answer from 127.0.0.1:${s.port} within 300 ms`) }, 'an unanswered request ends at the deadline');
  s.freeze(false);
  // Its deadline is 300 ms with no retry: a loaded machine's healthy server may miss it too,
  // so the reconnection is awaited, not its speed.
  const again = await waitFor('a read of the same client after the freeze', () => slow.readRange(key, 6, 4).catch(() => undefined), 20_000, 50);
  t.equal(new TextDecoder().decode(again), '6789', 'and a later request reconnects');
});

t.test('sftp: a missing ssh2 package is LTXVFS_ERR_USAGE naming it', async (t) => {
  const missing = Object.assign(new Error("Cannot find package 'ssh2' imported from lib/storage/sftp/index.ts"), { code: 'ERR_MODULE_NOT_FOUND' });
  // The package is imported by name (lib/storage/optional.ts): its import is made to fail as Node fails it.
  const optional = await import('../../../lib/storage/optional.js');
  const { openSftpReplica } = await t.mockImport<typeof import('../../../lib/storage/sftp/index.js')>('../../../lib/storage/sftp/index.js', {
    '../../../lib/storage/optional.js': { loadOptional: (pkg: string, scheme: string) => optional.loadOptional(pkg, scheme, () => Promise.reject(missing)) },
  });
  const url = { scheme: 'sftp' as const, user: 'u', password: 'p', host: '127.0.0.1', port: 22, path: 'x', params: { hostKey: server.fingerprint } };
  await t.rejects(openSftpReplica(url, { env: {} }), {
    code: 'LTXVFS_ERR_USAGE', key: 'ssh2', message: 'sftp:// replicas need the optional package ssh2, which is not installed: npm install ssh2',
  });
});
