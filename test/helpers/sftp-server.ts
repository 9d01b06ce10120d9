/**
 * A real SFTP server for tests: ssh2's `Server` with the SFTP subsystem (protocol v3)
 * serving a temporary directory, on loopback at a random port, password authentication
 * (and public-key authentication for a key given), a generated ed25519 host key.
 *
 * Paths: the login directory is `/`, mapped onto the temporary root (chroot-like), so the
 * Litestream VFS (which reads PATH relative to the login directory) and its replicator
 * (which writes `/PATH`) meet the same files, and so does ltxvfs (which uses `/PATH`).
 *
 * Every request runs on the real filesystem: OPEN/READ/WRITE/CLOSE/STAT/LSTAT/FSTAT/
 * SETSTAT/FSETSTAT/OPENDIR/READDIR/REMOVE/RMDIR/RENAME/MKDIR/REALPATH, and the OpenSSH
 * extensions `posix-rename@openssh.com` (rename(2), replaces), `hardlink@openssh.com`
 * (link(2), fails when the target exists) and `fsync@openssh.com`. RENAME is OpenSSH's:
 * a regular file is link(2)ed then unlink(2)ed, so it fails when the target exists (SFTP
 * v3). ssh2's server sends a VERSION without extensions; with `extensions: true` (the
 * default) the helper replaces that one packet with OpenSSH's list, as an OpenSSH
 * sftp-server would advertise it; `extensions: false` is a bare ssh2 server.
 *
 * Faults: `stop()` closes the listener and cuts every connection; `start()` listens again
 * on the same port; `freeze(true)` keeps connections open but leaves every SFTP request
 * unanswered. `requests` counts SFTP requests by type.
 */
import { constants as fsc, promises as fs } from 'node:fs';
import type { FileHandle } from 'node:fs/promises';
import { createHash } from 'node:crypto';
import type { Socket } from 'node:net';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import ssh2 from 'ssh2';
import type { Attributes, Connection, SFTPWrapper } from 'ssh2';

const { Server, utils } = ssh2;
const { OPEN_MODE, STATUS_CODE } = utils.sftp;

/** Options of {@link startSftpServer}. */
export interface SftpServerOptions {
  user?: string;
  password?: string;
  /** An OpenSSH public key line accepted for `user` (public-key authentication). */
  authorizedKey?: string;
  /** Advertise OpenSSH's extensions (hardlink, posix-rename, fsync). Default true. */
  extensions?: boolean;
}

/** A running server; `close()` stops it and removes its directory. */
export interface SftpServer {
  readonly host: string;
  readonly port: number;
  readonly user: string;
  readonly password: string;
  /** The directory `/` maps to. */
  readonly root: string;
  /** The host key's fingerprint as ssh-keygen prints it, `SHA256:<base64 without padding>`. */
  readonly fingerprint: string;
  /** The host key line for a known_hosts file: `[127.0.0.1]:PORT ssh-ed25519 AAAA…`. */
  readonly knownHostsLine: string;
  /** SFTP requests served, by type (`READ`, `OPEN`, …). */
  readonly requests: Map<string, number>;
  /** Cut every connection and stop listening. */
  stop(): Promise<void>;
  /** Listen again on the same port. */
  start(): Promise<void>;
  /** Leave every SFTP request unanswered (true) or answer again (false). */
  freeze(on: boolean): void;
  close(): Promise<void>;
}

const EXTENSIONS: Array<[string, string]> = [['posix-rename@openssh.com', '1'], ['hardlink@openssh.com', '1'], ['fsync@openssh.com', '1']];

/** The VERSION packet (v3) with `extensions`. */
function versionPacket(extensions: Array<[string, string]>): Buffer {
  const parts = [Buffer.from([2, 0, 0, 0, 3])];
  for (const [name, data] of extensions) {
    for (const s of [name, data]) {
      const len = Buffer.alloc(4);
      len.writeUInt32BE(Buffer.byteLength(s));
      parts.push(len, Buffer.from(s));
    }
  }
  const body = Buffer.concat(parts);
  const len = Buffer.alloc(4);
  len.writeUInt32BE(body.length);
  return Buffer.concat([len, body]);
}

function statusOf(err: unknown): number {
  const code = (err as NodeJS.ErrnoException).code;
  if (code === 'ENOENT' || code === 'ENOTDIR') return STATUS_CODE.NO_SUCH_FILE;
  if (code === 'EACCES' || code === 'EPERM') return STATUS_CODE.PERMISSION_DENIED;
  return STATUS_CODE.FAILURE;
}

function attrsOf(st: import('node:fs').Stats): Attributes {
  return { mode: st.mode, uid: st.uid, gid: st.gid, size: st.size, atime: Math.floor(st.atimeMs / 1000), mtime: Math.floor(st.mtimeMs / 1000) };
}

function openFlags(flags: number): number {
  let f = 0;
  const rw = (flags & OPEN_MODE.READ) !== 0 && (flags & OPEN_MODE.WRITE) !== 0;
  f |= rw ? fsc.O_RDWR : (flags & OPEN_MODE.WRITE) !== 0 ? fsc.O_WRONLY : fsc.O_RDONLY;
  if ((flags & OPEN_MODE.APPEND) !== 0) f |= fsc.O_APPEND;
  if ((flags & OPEN_MODE.CREAT) !== 0) f |= fsc.O_CREAT;
  if ((flags & OPEN_MODE.TRUNC) !== 0) f |= fsc.O_TRUNC;
  if ((flags & OPEN_MODE.EXCL) !== 0) f |= fsc.O_EXCL;
  return f;
}

/** Serve one SFTP session over `root`. */
function serveSftp(sftp: SFTPWrapper, root: string, server: { frozen: boolean; requests: Map<string, number> }): void {
  const local = (p: string) => path.join(root, path.posix.resolve('/', p));
  const files = new Map<string, FileHandle>();
  const dirs = new Map<string, { entries: string[]; dir: string; done: boolean }>();
  let next = 0;
  const newHandle = () => {
    const b = Buffer.alloc(4);
    b.writeUInt32BE(next++);
    return b;
  };
  const on = (type: string, fn: (reqid: number, ...args: never[]) => Promise<void>) => {
    sftp.on(type as 'OPEN', ((reqid: number, ...args: never[]) => {
      server.requests.set(type, (server.requests.get(type) ?? 0) + 1);
      if (server.frozen) return;
      fn(reqid, ...args).catch((err: unknown) => sftp.status(reqid, statusOf(err), (err as Error).message));
    }) as never);
  };
  const ok = (reqid: number) => sftp.status(reqid, STATUS_CODE.OK);

  on('OPEN', async (reqid, filename: string, flags: number, attrs: Attributes) => {
    const fh = await fs.open(local(filename), openFlags(flags), attrs.mode ?? 0o644);
    const h = newHandle();
    files.set(h.toString('hex'), fh);
    sftp.handle(reqid, h);
  });
  on('READ', async (reqid, handle: Buffer, offset: number, length: number) => {
    const fh = files.get(handle.toString('hex'));
    if (fh === undefined) return void sftp.status(reqid, STATUS_CODE.FAILURE, 'bad handle');
    const buf = Buffer.alloc(length);
    const { bytesRead } = await fh.read(buf, 0, length, offset);
    if (bytesRead === 0) return void sftp.status(reqid, STATUS_CODE.EOF);
    sftp.data(reqid, buf.subarray(0, bytesRead));
  });
  on('WRITE', async (reqid, handle: Buffer, offset: number, data: Buffer) => {
    const fh = files.get(handle.toString('hex'));
    if (fh === undefined) return void sftp.status(reqid, STATUS_CODE.FAILURE, 'bad handle');
    await fh.write(data, 0, data.length, offset);
    ok(reqid);
  });
  on('CLOSE', async (reqid, handle: Buffer) => {
    const id = handle.toString('hex');
    const fh = files.get(id);
    files.delete(id);
    dirs.delete(id);
    await fh?.close();
    ok(reqid);
  });
  on('FSTAT', async (reqid, handle: Buffer) => {
    const fh = files.get(handle.toString('hex'));
    if (fh === undefined) return void sftp.status(reqid, STATUS_CODE.FAILURE, 'bad handle');
    sftp.attrs(reqid, attrsOf(await fh.stat()));
  });
  on('STAT', async (reqid, p: string) => void sftp.attrs(reqid, attrsOf(await fs.stat(local(p)))));
  on('LSTAT', async (reqid, p: string) => void sftp.attrs(reqid, attrsOf(await fs.lstat(local(p)))));
  const setattrs = async (target: string | FileHandle, attrs: Attributes) => {
    if (attrs.mode !== undefined) await (typeof target === 'string' ? fs.chmod(target, attrs.mode) : target.chmod(attrs.mode));
    if (attrs.size !== undefined) await (typeof target === 'string' ? fs.truncate(target, attrs.size) : target.truncate(attrs.size));
    if (attrs.mtime !== undefined) {
      const atime = attrs.atime ?? attrs.mtime;
      await (typeof target === 'string' ? fs.utimes(target, atime as number, attrs.mtime as number) : target.utimes(atime as number, attrs.mtime as number));
    }
  };
  on('SETSTAT', async (reqid, p: string, attrs: Attributes) => {
    await setattrs(local(p), attrs);
    ok(reqid);
  });
  on('FSETSTAT', async (reqid, handle: Buffer, attrs: Attributes) => {
    const fh = files.get(handle.toString('hex'));
    if (fh === undefined) return void sftp.status(reqid, STATUS_CODE.FAILURE, 'bad handle');
    await setattrs(fh, attrs);
    ok(reqid);
  });
  on('OPENDIR', async (reqid, p: string) => {
    const dir = local(p);
    const entries = await fs.readdir(dir);
    const h = newHandle();
    dirs.set(h.toString('hex'), { entries, dir, done: false });
    sftp.handle(reqid, h);
  });
  on('READDIR', async (reqid, handle: Buffer) => {
    const d = dirs.get(handle.toString('hex'));
    if (d === undefined) return void sftp.status(reqid, STATUS_CODE.FAILURE, 'bad handle');
    if (d.done) return void sftp.status(reqid, STATUS_CODE.EOF);
    d.done = true;
    const names = [];
    for (const filename of d.entries) {
      const st = await fs.lstat(path.join(d.dir, filename)).catch(() => undefined);
      if (st !== undefined) names.push({ filename, longname: filename, attrs: attrsOf(st) });
    }
    if (names.length === 0) return void sftp.status(reqid, STATUS_CODE.EOF);
    sftp.name(reqid, names);
  });
  on('REMOVE', async (reqid, p: string) => {
    await fs.unlink(local(p));
    ok(reqid);
  });
  on('RMDIR', async (reqid, p: string) => {
    await fs.rmdir(local(p));
    ok(reqid);
  });
  on('MKDIR', async (reqid, p: string) => {
    await fs.mkdir(local(p));
    ok(reqid);
  });
  on('RENAME', async (reqid, from: string, to: string) => {
    // OpenSSH sftp-server: a regular file is linked then unlinked, so an existing target fails.
    const st = await fs.lstat(local(from));
    if (st.isFile()) {
      await fs.link(local(from), local(to));
      await fs.unlink(local(from));
    } else {
      await fs.rename(local(from), local(to));
    }
    ok(reqid);
  });
  on('REALPATH', async (reqid, p: string) => {
    const abs = path.posix.resolve('/', p);
    sftp.name(reqid, [{ filename: abs, longname: abs, attrs: {} as Attributes }]);
  });
  on('EXTENDED', async (reqid, name: string, data: Buffer | undefined) => {
    const strings: string[] = [];
    for (let p = 0; data !== undefined && p < data.length;) {
      const len = data.readUInt32BE(p);
      strings.push(data.subarray(p + 4, p + 4 + len).toString());
      p += 4 + len;
    }
    if (name === 'posix-rename@openssh.com') await fs.rename(local(strings[0]), local(strings[1]));
    else if (name === 'hardlink@openssh.com') await fs.link(local(strings[0]), local(strings[1]));
    else if (name === 'fsync@openssh.com') await files.get(Buffer.from(strings[0], 'latin1').toString('hex'))?.sync();
    else return void sftp.status(reqid, STATUS_CODE.OP_UNSUPPORTED);
    ok(reqid);
  });
  sftp.on('close', () => {
    for (const fh of files.values()) void fh.close().catch(() => undefined);
  });
}

/**
 * A new ed25519 key pair from ssh2, generated again until ssh2 parses both halves: about 1
 * in 256 of its pairs has a public key stripped of a leading zero byte, which its own
 * `parseKey` (and so `new Server`) then rejects as malformed (mscdex/ssh2#1390, #1513; met
 * once in a clean-clone CI run as "Cannot parse privateKey: Malformed OpenSSH private key").
 */
export function ed25519KeyPair(): { public: string; private: string } {
  for (;;) {
    const keys = utils.generateKeyPairSync('ed25519');
    if (!(utils.parseKey(keys.public) instanceof Error) && !(utils.parseKey(keys.private) instanceof Error)) return keys;
  }
}

/** Start a server on 127.0.0.1 over a new temporary directory. */
export async function startSftpServer(options: SftpServerOptions = {}): Promise<SftpServer> {
  const user = options.user ?? 'litestream';
  const password = options.password ?? 'sftp-test-password';
  const root = await fs.mkdtemp(path.join(tmpdir(), 'ltxvfs-sftp-'));
  const keys = ed25519KeyPair();
  const publicBlob = Buffer.from(keys.public.trim().split(/\s+/)[1], 'base64');
  const fingerprint = `SHA256:${createHash('sha256').update(publicBlob).digest('base64').replace(/=+$/, '')}`;
  const authorized = options.authorizedKey === undefined ? undefined : utils.parseKey(options.authorizedKey);
  const state = { frozen: false, requests: new Map<string, number>() };
  const version = versionPacket(options.extensions === false ? [] : EXTENSIONS);
  const sockets = new Set<Socket>();
  const conns = new Set<Connection>();

  const server = new Server({ hostKeys: [keys.private] }, (conn) => {
    conns.add(conn);
    const socket = (conn as unknown as { _sock: Socket })._sock;
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
    conn.on('close', () => conns.delete(conn));
    conn.on('error', () => undefined);
    conn.on('authentication', (ctx) => {
      if (ctx.username !== user) return ctx.reject();
      if (ctx.method === 'password' && ctx.password === password) return ctx.accept();
      if (ctx.method === 'publickey' && authorized !== undefined && !(authorized instanceof Error)) {
        const key = Array.isArray(authorized) ? authorized[0] : authorized;
        if (ctx.key.algo === key.type && ctx.key.data.equals(key.getPublicSSH())) {
          if (ctx.signature === undefined || ctx.blob === undefined) return ctx.accept();
          if (key.verify(ctx.blob, ctx.signature, ctx.hashAlgo) === true) return ctx.accept();
        }
      }
      ctx.reject(['password', 'publickey']);
    });
    conn.on('ready', () => {
      conn.on('session', (accept) => {
        const session = accept();
        session.on('sftp', (acceptSftp) => {
          const sftp = acceptSftp();
          const proto = (sftp as unknown as { _protocol: { channelData(id: number, data: Buffer): void } })._protocol;
          const outgoingId = (sftp as unknown as { outgoing: { id: number } }).outgoing.id;
          const channelData = proto.channelData.bind(proto);
          proto.channelData = (id: number, data: Buffer) => {
            if (id === outgoingId && data.length === 9 && data[4] === 2) return channelData(id, version);
            return channelData(id, data);
          };
          serveSftp(sftp, root, state);
        });
      });
    });
  });
  let listening = false;
  const listen = (port: number) => new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, '127.0.0.1', () => {
      server.off('error', reject);
      listening = true;
      resolve();
    });
  });
  await listen(0);
  const port = (server.address() as { port: number }).port;
  const stop = async () => {
    for (const s of sockets) s.destroy();
    for (const c of conns) c.end();
    listening = false;
    await new Promise<void>((resolve) => server.close(() => resolve()));
  };
  let closed = false;
  return {
    host: '127.0.0.1',
    port,
    user,
    password,
    root,
    fingerprint,
    knownHostsLine: `[127.0.0.1]:${port} ${keys.public.trim().split(/\s+/).slice(0, 2).join(' ')}`,
    requests: state.requests,
    stop,
    start: () => listen(port),
    freeze: (on) => void (state.frozen = on),
    close: async () => {
      if (closed) return;
      closed = true;
      if (listening) await stop();
      else for (const s of sockets) s.destroy();
      await fs.rm(root, { recursive: true, force: true });
    },
  };
}
