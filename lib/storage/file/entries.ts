/**
 * The entries of a directory replica as the file client reads them (client.ts): read
 * handles of LTX files kept open for `readRange` (at most `maxOpenFiles`, least recently
 * used closed first, a handle in use closed when its last reader is done), and the checks
 * every open makes — a regular file, opened without blocking (a FIFO would block a plain
 * open) and checked with `fstat` before any byte is read, and no symbolic link that leaves
 * the root or dangles (issue 12 item 5). Also the errno helpers both modules use.
 */
import { constants as fsConstants, promises as fs } from 'node:fs';
import type { BigIntStats } from 'node:fs';
import type { FileHandle } from 'node:fs/promises';
import * as path from 'node:path';
import { LtxvfsError } from '../../../ltx/errors.js';

/** Open read handles of one replica root, and the entry checks. */
export class FileEntries {
  /** Open handles for readRange, keyed by absolute path; Map order is least recently used first. */
  private readonly handles = new Map<string, HandleEntry>();
  /** The root with symbolic links resolved, for the symlink check (resolved on first use). */
  private realRoot: Promise<string> | undefined;

  /**
   * @param root absolute path of the replica directory.
   * @param maxOpenFiles most handles kept open (an integer ≥ 1, checked by the client).
   */
  constructor(private readonly root: string, private readonly maxOpenFiles: number) {}

  /**
   * Open `abs` for reading without blocking (a FIFO would block a plain open) and check
   * that it is a regular file inside the root.
   * @throws LtxvfsError `LTXVFS_ERR_BAD_KEY` naming `key` and what it is; errno errors as thrown by `open`.
   */
  async openChecked(abs: string, key: string): Promise<FileHandle> {
    const fh = await fs.open(abs, fsConstants.O_RDONLY | fsConstants.O_NONBLOCK);
    try {
      const problem = notRegular(await fh.stat()) ?? (await this.symlinkProblem(abs));
      if (problem !== undefined) throw unreadableError(key, problem);
      return fh;
    } catch (err) {
      await fh.close().catch(() => undefined);
      throw err;
    }
  }

  /**
   * What a listing needs of the entry `key` (at `abs`): its stat — of the link itself when
   * it cannot be read — and, when it cannot be read as an LTX file, why (not a regular
   * file, a symbolic link leaving the root or dangling). Undefined when it is gone.
   * @param dirKey the level directory being listed, for messages.
   * @throws LtxvfsError `LTXVFS_ERR_STORAGE` when the entry cannot be examined.
   */
  async inspect(abs: string, key: string, dirKey: string): Promise<{ st: BigIntStats; problem: string | undefined } | undefined> {
    let lst: BigIntStats;
    try {
      lst = await fs.lstat(abs, { bigint: true });
    } catch (err) {
      if (errnoCode(err) === 'ENOENT') return undefined;
      throw new LtxvfsError('LTXVFS_ERR_STORAGE', `list ${dirKey}: stat ${key}: ${reason(err)}`, { key, cause: err });
    }
    let st = lst;
    let problem: string | undefined;
    if (lst.isSymbolicLink()) {
      problem = await this.symlinkProblem(abs);
      if (problem === undefined) {
        try {
          st = await fs.stat(abs, { bigint: true });
        } catch (err) {
          problem = `a symbolic link that cannot be followed (${reason(err)})`;
        }
      }
    }
    problem ??= notRegular(st);
    return { st: problem === undefined ? st : lst, problem };
  }

  /** Why `abs` (any path under the root) resolves outside the root, or undefined when it stays inside (or is no link at all). */
  private async symlinkProblem(abs: string): Promise<string | undefined> {
    this.realRoot ??= fs.realpath(this.root).catch(() => this.root);
    const root = await this.realRoot;
    let target: string;
    try {
      target = await fs.realpath(abs);
    } catch (err) {
      if (errnoCode(err) !== 'ENOENT') return undefined;
      // Removed since it was opened (a lease released, a file compacted away): the open
      // handle still reads what was asked for. Only a link that is still there dangles.
      const link = await fs.readlink(abs).catch(() => undefined);
      return link === undefined ? undefined : `a dangling symbolic link (to ${link})`;
    }
    const rel = path.relative(root, target);
    if (rel === '' || rel === '..' || rel.startsWith(`..${path.sep}`) || path.isAbsolute(rel)) {
      return `a symbolic link leaving the replica root (to ${target})`;
    }
    return undefined;
  }

  /** Run `fn` with a cached read handle of `abs`, opening it on first use. */
  async withHandle(abs: string, fn: (fh: FileHandle) => Promise<void>): Promise<void> {
    let entry = this.handles.get(abs);
    if (entry === undefined) {
      const opened = this.openChecked(abs, path.relative(this.root, abs).split(path.sep).join('/'));
      const created: HandleEntry = { handle: opened, refs: 0, evicted: false };
      entry = created;
      // A failed open is not cached: the next read tries again.
      opened.catch(() => {
        if (this.handles.get(abs) === created) this.handles.delete(abs);
      });
      this.handles.set(abs, created);
      this.evictIdle();
    } else {
      this.handles.delete(abs);
      this.handles.set(abs, entry);
    }
    entry.refs++;
    try {
      await fn(await entry.handle);
    } finally {
      entry.refs--;
      if (entry.evicted && entry.refs === 0) await closeEntry(entry);
    }
  }

  /** Close the least recently used handles beyond `maxOpenFiles` (those in use close when released). */
  private evictIdle(): void {
    for (const [abs] of this.handles) {
      if (this.handles.size <= this.maxOpenFiles) break;
      void this.invalidate(abs);
    }
  }

  /** Forget the cached handle of `abs`; close it now if idle, else when its last reader is done. */
  async invalidate(abs: string): Promise<void> {
    const entry = this.handles.get(abs);
    if (entry === undefined) return;
    this.handles.delete(abs);
    entry.evicted = true;
    if (entry.refs === 0) await closeEntry(entry);
  }

  /** Forget every cached handle, closing each once idle. */
  async closeAll(): Promise<void> {
    await Promise.all([...this.handles.keys()].map((abs) => this.invalidate(abs)));
  }
}

interface HandleEntry {
  handle: Promise<FileHandle>;
  /** Readers currently using the handle. */
  refs: number;
  /** Removed from the cache; close when `refs` drops to 0. */
  evicted: boolean;
}

async function closeEntry(entry: HandleEntry): Promise<void> {
  try {
    await (await entry.handle).close();
  } catch {
    // A handle that never opened, or fails to close, has nothing left to release.
  }
}

/** What a stat says an entry is, when it is not a regular file. */
function notRegular(st: { isFile(): boolean; isDirectory(): boolean; isFIFO(): boolean; isCharacterDevice(): boolean; isBlockDevice(): boolean; isSocket(): boolean }): string | undefined {
  if (st.isFile()) return undefined;
  if (st.isDirectory()) return 'a directory';
  if (st.isFIFO()) return 'a FIFO';
  if (st.isCharacterDevice()) return 'a character device';
  if (st.isBlockDevice()) return 'a block device';
  if (st.isSocket()) return 'a socket';
  return 'not a regular file';
}

/** The `LTXVFS_ERR_BAD_KEY` every read of an unreadable entry gets, naming it and what it is. */
export function unreadableError(key: string, what: string): LtxvfsError {
  return new LtxvfsError('LTXVFS_ERR_BAD_KEY', `replica entry ${key} is ${what}, not a regular LTX file`, { key });
}

/**
 * The error of a failed read of `key`: `LTXVFS_ERR_NOT_FOUND` for a missing entry, else
 * `LTXVFS_ERR_STORAGE` with errno's reason.
 */
export function readError(key: string, err: unknown): LtxvfsError {
  const code = errnoCode(err);
  if (code === 'ENOENT' || code === 'ENOTDIR') {
    return new LtxvfsError('LTXVFS_ERR_NOT_FOUND', `object does not exist: ${key}`, { key, cause: err });
  }
  return new LtxvfsError('LTXVFS_ERR_STORAGE', `read ${key}: ${reason(err)}`, { key, cause: err });
}

/** The errno code (`ENOENT`, …) of a Node error, if any. */
export function errnoCode(err: unknown): string | undefined {
  return (err as NodeJS.ErrnoException | undefined)?.code;
}

/** "EACCES: permission denied" from Node's "EACCES: permission denied, open '/…'" (the path is already in our message). */
export function reason(err: unknown): string {
  return (err as Error).message.split(', ')[0];
}
