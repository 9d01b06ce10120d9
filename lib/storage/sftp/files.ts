/**
 * Whole-file operations of the sftp:// client on one SFTP session: reading a file whole
 * (OPEN, FSTAT, READs, CLOSE), the ETag comparison of `ifMatch`, and the atomic put of
 * `write` (module doc of client.ts; why it is safe: index.ts): the bytes go to
 * `<name>.tmp-<hex>` (exclusive create, parent directories made), its mtime is set to the
 * LTX header timestamp in whole seconds (SFTP v3 attributes), then it is put in place —
 * create-only by `hardlink@openssh.com` (link(2) fails when the name exists) and the
 * temporary name removed, a replace by `posix-rename@openssh.com` (rename(2)), or on a
 * server without it by RENAME after REMOVE (not atomic). Status answers become ltxvfs
 * errors through ops.ts; nothing here retries (connection.ts does).
 */
import { randomBytes } from 'node:crypto';
import * as posix from 'node:path/posix';
import type { SFTPWrapper } from 'ssh2';
import { LtxvfsError } from '../../../ltx/errors.js';
import { etagOf } from '../etag.js';
import { sftpStatus, STATUS, type SftpLink } from './connection.js';
import * as ops from './ops.js';

/** The file a put or read is about: its key, its server path, and how messages name it (`sftp://user@host/PATH/key`). */
export interface SftpTarget {
  key: string;
  path: string;
  where: string;
}

/** What {@link putAtomically} writes, and how. */
export interface PutRequest extends SftpTarget {
  data: Uint8Array;
  /** LTX header timestamp, ms (already checked to fit SFTP's uint32 seconds). */
  timestamp: number | undefined;
  ifNoneMatch: boolean;
  ifMatch: string | undefined;
  /**
   * Create-only retry after a failed connection: the ETag of `data`, so a name already
   * holding these bytes (the first attempt landed) counts as success.
   */
  landed: string | undefined;
}

/**
 * The whole file, or undefined when there is none.
 * @throws LtxvfsError from ops.statusError (`LTXVFS_ERR_STORAGE`, …) naming the key; connection failures unchanged.
 */
export async function readWhole(sftp: SFTPWrapper, t: SftpTarget): Promise<Uint8Array | undefined> {
  let handle: Buffer;
  try {
    handle = await ops.open(sftp, t.path, ops.OPEN.READ);
  } catch (err) {
    if (sftpStatus(err) === STATUS.NO_SUCH_FILE) return undefined;
    throw sftpStatus(err) === undefined ? err : ops.statusError('read', t.key, t.where, err);
  }
  try {
    const { size } = await ops.fstat(sftp, handle);
    const chunks: Buffer[] = [];
    let total = 0;
    for (;;) {
      const buf = Buffer.alloc(Math.max(size - total, 65_536));
      const n = await ops.read(sftp, handle, buf, 0, buf.length, total);
      if (n === 0) break;
      chunks.push(buf.subarray(0, n));
      total += n;
    }
    return new Uint8Array(Buffer.concat(chunks, total));
  } catch (err) {
    throw sftpStatus(err) === undefined ? err : ops.statusError('read', t.key, t.where, err);
  } finally {
    await ops.close(sftp, handle).catch(() => undefined);
  }
}

/**
 * Compare the current content hash of the file with `expected` (best effort: not atomic with what follows).
 * @throws LtxvfsError `LTXVFS_ERR_PRECONDITION` when the file is missing or has another ETag.
 */
export async function checkEtag(sftp: SFTPWrapper, t: SftpTarget, expected: string): Promise<void> {
  const current = await readWhole(sftp, t);
  if (current === undefined) {
    throw new LtxvfsError('LTXVFS_ERR_PRECONDITION', `precondition failed for ${t.where}: object does not exist (if-match ${expected})`, { key: t.key });
  }
  const etag = etagOf(current);
  if (etag !== expected) throw new LtxvfsError('LTXVFS_ERR_PRECONDITION', `precondition failed for ${t.where}: etag is ${etag}, not ${expected}`, { key: t.key });
}

/**
 * Write `r.data` to `r.path` atomically (module doc). `madeDirs` remembers directories
 * known to exist (per client).
 * @throws LtxvfsError `LTXVFS_ERR_PRECONDITION` (create-only and the name is taken; if-match
 *   failed); SFTP status errors as ops.statusError gives them (`write`, naming the key);
 *   connection failures unchanged.
 */
export async function putAtomically(link: SftpLink, r: PutRequest, madeDirs: Set<string>): Promise<void> {
  const { sftp, extensions } = link;
  try {
    if (r.ifMatch !== undefined) await checkEtag(sftp, r, r.ifMatch);
    const tmp = `${r.path}.tmp-${randomBytes(8).toString('hex')}`;
    await writeTemp(sftp, tmp, r.data, r.timestamp, madeDirs);
    try {
      if (r.ifNoneMatch) await linkCreateOnly(sftp, r, tmp);
      else if (extensions.has('posix-rename@openssh.com')) await ops.posixRename(sftp, tmp, r.path);
      else await replaceBare(sftp, tmp, r.path);
    } finally {
      if (r.ifNoneMatch) await ops.remove(sftp, tmp).catch(() => undefined);
    }
  } catch (err) {
    throw sftpStatus(err) === undefined ? err : ops.statusError('write', r.key, r.where, err);
  }
}

/** Write `data` to the new file `tmp` (exclusive create), mtime set, creating parent directories. */
async function writeTemp(sftp: SFTPWrapper, tmp: string, data: Uint8Array, timestamp: number | undefined, madeDirs: Set<string>): Promise<void> {
  let handle: Buffer;
  try {
    handle = await ops.open(sftp, tmp, ops.OPEN.WRITE | ops.OPEN.CREAT | ops.OPEN.EXCL);
  } catch (err) {
    if (sftpStatus(err) !== STATUS.NO_SUCH_FILE) throw err;
    await mkdirs(sftp, posix.dirname(tmp), madeDirs);
    handle = await ops.open(sftp, tmp, ops.OPEN.WRITE | ops.OPEN.CREAT | ops.OPEN.EXCL);
  }
  try {
    if (data.length > 0) await ops.writeAll(sftp, handle, data);
    if (timestamp !== undefined) {
      const s = Math.floor(timestamp / 1000);
      await ops.fsetstat(sftp, handle, { atime: s, mtime: s } as never);
    }
  } catch (err) {
    await ops.close(sftp, handle).catch(() => undefined);
    await ops.remove(sftp, tmp).catch(() => undefined);
    throw err;
  }
  await ops.close(sftp, handle);
}

/** MKDIR `dir` and its missing parents (an existing one is fine). */
async function mkdirs(sftp: SFTPWrapper, dir: string, madeDirs: Set<string>): Promise<void> {
  if (dir === '/' || madeDirs.has(dir)) return;
  const st = await ops.stat(sftp, dir);
  if (st === undefined) {
    await mkdirs(sftp, posix.dirname(dir), madeDirs);
    await ops.mkdir(sftp, dir).catch(async (err: unknown) => {
      if ((await ops.stat(sftp, dir)) === undefined) throw err;
    });
  }
  madeDirs.add(dir);
}

/** Create-only: hardlink `tmp` to the target; a taken name is the precondition failing (unless it holds `landed`'s bytes). */
async function linkCreateOnly(sftp: SFTPWrapper, r: PutRequest, tmp: string): Promise<void> {
  try {
    await ops.hardlink(sftp, tmp, r.path);
  } catch (err) {
    if (sftpStatus(err) === undefined || (await ops.stat(sftp, r.path)) === undefined) throw err;
    if (r.landed !== undefined) {
      const current = await readWhole(sftp, r);
      if (current !== undefined && etagOf(current) === r.landed) return;
    }
    throw new LtxvfsError('LTXVFS_ERR_PRECONDITION', `precondition failed for ${r.where}: object exists`, { key: r.key, cause: err });
  }
}

/** Replace without posix-rename: RENAME, and when the target exists REMOVE it first (not atomic: a reader may miss the key between). */
async function replaceBare(sftp: SFTPWrapper, tmp: string, p: string): Promise<void> {
  try {
    await ops.rename(sftp, tmp, p);
  } catch (err) {
    if (sftpStatus(err) === undefined || (await ops.stat(sftp, p)) === undefined) throw err;
    await ops.remove(sftp, p);
    await ops.rename(sftp, tmp, p);
  }
}
