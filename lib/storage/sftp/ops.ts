/**
 * The SFTP requests the sftp:// client sends, as promises over ssh2's callback API, and
 * the mapping of SFTP status answers to ltxvfs errors. Nothing here retries: the
 * connection (connection.ts) does.
 */
import type { Attributes, FileEntryWithStats, SFTPWrapper } from 'ssh2';
import { LtxvfsError } from '../../../ltx/errors.js';
import { sftpStatus, STATUS } from './connection.js';

/** ssh2's OPEN flags (utils.sftp.OPEN_MODE, SFTP v3 `SSH_FXF_*`). */
export const OPEN = Object.freeze({ READ: 1, WRITE: 2, CREAT: 8, TRUNC: 16, EXCL: 32 });

const call = <T>(fn: (cb: (err: Error | undefined | null, value: T) => void) => void): Promise<T> =>
  new Promise<T>((resolve, reject) => fn((err, value) => (err !== undefined && err !== null ? reject(err) : resolve(value))));

/** OPEN: a handle. */
export const open = (sftp: SFTPWrapper, p: string, flags: number): Promise<Buffer> => call((cb) => sftp.open(p, flags, cb));
/** CLOSE. */
export const close = (sftp: SFTPWrapper, handle: Buffer): Promise<void> => call((cb) => sftp.close(handle, (err) => cb(err, undefined)));
/** FSTAT. */
export const fstat = (sftp: SFTPWrapper, handle: Buffer): Promise<Attributes> => call((cb) => sftp.fstat(handle, cb as never));
/** STAT: attributes, or undefined when there is no such file. */
export async function stat(sftp: SFTPWrapper, p: string): Promise<Attributes | undefined> {
  try {
    return await call<Attributes>((cb) => sftp.stat(p, cb as never));
  } catch (err) {
    if (sftpStatus(err) === STATUS.NO_SUCH_FILE) return undefined;
    throw err;
  }
}
/** FSETSTAT. */
export const fsetstat = (sftp: SFTPWrapper, handle: Buffer, attrs: Attributes): Promise<void> =>
  call((cb) => sftp.fsetstat(handle, attrs, (err) => cb(err, undefined)));
/** REMOVE. */
export const remove = (sftp: SFTPWrapper, p: string): Promise<void> => call((cb) => sftp.unlink(p, (err) => cb(err, undefined)));
/** RENAME (SFTP v3: fails when the target exists on OpenSSH). */
export const rename = (sftp: SFTPWrapper, from: string, to: string): Promise<void> => call((cb) => sftp.rename(from, to, (err) => cb(err, undefined)));
/** `posix-rename@openssh.com`: rename(2), replaces the target atomically. */
export const posixRename = (sftp: SFTPWrapper, from: string, to: string): Promise<void> =>
  call((cb) => sftp.ext_openssh_rename(from, to, (err) => cb(err, undefined)));
/** `hardlink@openssh.com`: link(2) — fails when `to` exists, atomically. */
export const hardlink = (sftp: SFTPWrapper, from: string, to: string): Promise<void> =>
  call((cb) => sftp.ext_openssh_hardlink(from, to, (err) => cb(err, undefined)));
/** MKDIR. */
export const mkdir = (sftp: SFTPWrapper, p: string): Promise<void> => call((cb) => sftp.mkdir(p, (err) => cb(err, undefined)));

/** READDIR of a whole directory (OPENDIR, READDIR until EOF, CLOSE), with attributes; undefined when it does not exist. */
export async function readdir(sftp: SFTPWrapper, p: string): Promise<FileEntryWithStats[] | undefined> {
  try {
    return await call<FileEntryWithStats[]>((cb) => sftp.readdir(p, cb));
  } catch (err) {
    if (sftpStatus(err) === STATUS.NO_SUCH_FILE) return undefined;
    throw err;
  }
}

/** READ at `position` into `buf[offset…offset+length)`: the bytes read, 0 at the end of the file. */
export function read(sftp: SFTPWrapper, handle: Buffer, buf: Buffer, offset: number, length: number, position: number): Promise<number> {
  return new Promise((resolve, reject) => {
    sftp.read(handle, buf, offset, length, position, (err, bytesRead) => {
      if (err === undefined || err === null) resolve(bytesRead);
      else if (sftpStatus(err) === STATUS.EOF) resolve(0);
      else reject(err);
    });
  });
}

/** WRITE all of `data` at offset 0 on, in requests of at most 32 KiB (ssh2 splits larger ones itself). */
export async function writeAll(sftp: SFTPWrapper, handle: Buffer, data: Uint8Array): Promise<void> {
  const buf = Buffer.from(data.buffer, data.byteOffset, data.byteLength);
  await call((cb) => sftp.write(handle, buf, 0, buf.length, 0, (err) => cb(err, undefined)));
}

/** A regular file per the mode bits of `attrs` (S_IFREG). */
export function isRegular(attrs: Attributes): boolean {
  return (attrs.mode & 0o170000) === 0o100000;
}

/** The final error of an SFTP status answer for `key` (`where` is the full sftp:// location). */
export function statusError(verb: string, key: string, where: string, err: unknown): LtxvfsError {
  if (err instanceof LtxvfsError) return err;
  const status = sftpStatus(err);
  const message = (err as Error).message;
  if (status === STATUS.NO_SUCH_FILE) return new LtxvfsError('LTXVFS_ERR_NOT_FOUND', `object does not exist: ${where}`, { key, cause: err });
  if (status === STATUS.PERMISSION_DENIED) return new LtxvfsError('LTXVFS_ERR_STORAGE', `${verb} ${where}: permission denied (${message})`, { key, cause: err });
  return new LtxvfsError('LTXVFS_ERR_STORAGE', `${verb} ${where}: ${message}`, { key, cause: err });
}
