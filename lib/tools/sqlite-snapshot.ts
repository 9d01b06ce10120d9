/**
 * One consistent state of a SQLite database file that other processes may be writing,
 * read without SQLite and without its locks (Node has no `fcntl` locks, and none of the
 * engines at hand opens a file on disk with them): for `ltxvfs import` of a live database.
 *
 * The state is the database file overlaid with the write-ahead log's frames up to its last
 * commit frame, as SQLite's own WAL recovery finds them (sqlite.org/fileformat2.html §4:
 * WAL header and frame header layout, salts, the cumulative checksum; a frame whose
 * "database size" field is not 0 ends a transaction). A read is optimistic: the pages are
 * read, then the file is checked for every way a writer could have changed what was read,
 * and a changed read is thrown away and done again:
 *
 * - rollback journal: the header's file change counter (offset 24, incremented by every
 *   commit in rollback mode) is the same before and after, and no journal is hot at either
 *   end (`-journal` missing, empty, or its header zeroed: DELETE, TRUNCATE, PERSIST modes);
 * - WAL: the WAL header (its salts change when the log restarts) is the same before and
 *   after; in the `-shm` wal-index (sqlite wal.c: `WalIndexHdr`, `WalCkptInfo`) the header
 *   carries the same salts (a restart changes them there first) and `nBackfillAttempted`,
 *   which a checkpoint raises before it copies a frame into the database file, has not
 *   passed the last commit frame read, so the database file holds nothing newer;
 * - without a WAL, also: the database file's size, mtime and ctime are the same before and after.
 */
import { open, type FileHandle } from 'node:fs/promises';
import { endianness } from 'node:os';
import { LtxvfsError } from '../../ltx/errors.js';

/** SQLite's file magic (sqlite.org/fileformat2.html §1.3). */
const SQLITE_MAGIC = 'SQLite format 3\0';
const WAL_HEADER_SIZE = 32;
const WAL_FRAME_HEADER_SIZE = 24;
/** `WalIndexHdr` is 48 bytes, stored twice, then `WalCkptInfo`: nBackfill, aReadMark[5], aLock[8], nBackfillAttempted. */
const SHM_HEADER_SIZE = 48;
const SHM_BACKFILL_ATTEMPTED = 96 + 4 + 20 + 8;

/** Where a page of the state comes from: the database file, or a WAL frame's data at this offset. */
export interface SnapshotLayout {
  /** Page size in bytes. */
  pageSize: number;
  /** Database size in pages. */
  commit: number;
  /** Offset in the WAL of the newest committed copy of each page held there. */
  walPages: Map<number, number>;
}

/** What a read saw of the files, compared after the pages are read. */
interface Marks {
  db: string;
  changeCounter: number;
  journalHot: boolean;
  walHeader: string;
  /** Frames up to and including the last commit frame. */
  walFrames: number;
}

/**
 * A SQLite database file and its `-wal`, `-shm` and `-journal` companions, read as one
 * state (module doc). Open with {@link LiveDatabase.open}; close when done.
 */
export class LiveDatabase {
  readonly path: string;
  readonly #db: FileHandle;

  private constructor(path: string, db: FileHandle) {
    this.path = path;
    this.#db = db;
  }

  /**
   * Open the database file read-only and check that it is a SQLite database.
   * @throws LtxvfsError `LTXVFS_ERR_NOT_FOUND` (no such file), `LTXVFS_ERR_STORAGE` (cannot
   *   open it), `LTXVFS_ERR_USAGE` (a directory or a device), `LTXVFS_ERR_CORRUPT` (no SQLite
   *   header magic, or an invalid page size), each naming the path.
   */
  static async open(path: string): Promise<LiveDatabase> {
    const fh = await open(path, 'r').catch((err: NodeJS.ErrnoException) => {
      throw new LtxvfsError(err.code === 'ENOENT' ? 'LTXVFS_ERR_NOT_FOUND' : 'LTXVFS_ERR_STORAGE',
        `${path}: cannot open database file (${err.code})`, { key: path, cause: err });
    });
    try {
      const st = await fh.stat();
      if (!st.isFile()) {
        throw new LtxvfsError('LTXVFS_ERR_USAGE', `${path}: not a regular file (a directory or a device), so not a database`, { key: path });
      }
      const header = new Uint8Array(100);
      const { bytesRead } = await fh.read(header, 0, 100, 0);
      if (bytesRead < 100 || new TextDecoder().decode(header.subarray(0, 16)) !== SQLITE_MAGIC) {
        throw new LtxvfsError('LTXVFS_ERR_CORRUPT', `${path}: not a SQLite database (bad header magic)`, { key: path });
      }
      pageSizeOf(header, path);
      return new LiveDatabase(path, fh);
    } catch (err) {
      await fh.close();
      throw err;
    }
  }

  /**
   * Read one consistent state: `onStart` is called with its layout, then `onPage` for every
   * page 1…commit in order (`data` valid during the call only); if a writer changed the
   * files meanwhile, `onStart` is called again and the pages are read again, at most
   * `attempts` times.
   * @returns the layout of the state read and the attempts it took.
   * @throws LtxvfsError `LTXVFS_ERR_CORRUPT` (a database size that is not a whole number of
   *   pages, a WAL whose page size differs), `LTXVFS_ERR_CONFLICT` (changed during every
   *   attempt), `LTXVFS_ERR_STORAGE` (I/O), each naming the path.
   */
  async read(
    onStart: (layout: SnapshotLayout) => void | Promise<void>,
    onPage: (pgno: number, data: Uint8Array) => void | Promise<void>,
    attempts = 5,
  ): Promise<SnapshotLayout & { attempts: number }> {
    for (let attempt = 1; ; attempt++) {
      const before = await this.#marks();
      const layout = await this.#layout(before);
      await onStart(layout);
      const whole = await this.#readPages(layout, onPage);
      const after = await this.#marks();
      if (whole && (await this.#unchanged(before, after))) return { ...layout, attempts: attempt };
      if (attempt >= attempts) {
        throw new LtxvfsError('LTXVFS_ERR_CONFLICT',
          `${this.path}: the database changed while it was read, ${attempts} times (a writer committing in rollback-journal mode, or checkpointing); try again`,
          { key: this.path });
      }
    }
  }

  /** Close the files. */
  async close(): Promise<void> {
    await this.#db.close();
  }

  async #marks(): Promise<Marks> {
    const st = await this.#db.stat({ bigint: true });
    const head = new Uint8Array(100);
    await this.#db.read(head, 0, 100, 0);
    const wal = await readPrefix(`${this.path}-wal`, WAL_HEADER_SIZE);
    const journal = await readPrefix(`${this.path}-journal`, 28);
    return {
      db: `${st.ino}:${st.size}:${st.mtimeNs}:${st.ctimeNs}`,
      changeCounter: new DataView(head.buffer).getUint32(24),
      journalHot: journal !== undefined && journal.some((b) => b !== 0),
      walHeader: wal === undefined || wal.length < WAL_HEADER_SIZE ? '' : Buffer.from(wal).toString('hex'),
      walFrames: 0,
    };
  }

  /** The database size and the WAL's committed pages; records the frames read in `marks`. */
  async #layout(marks: Marks): Promise<SnapshotLayout> {
    const head = new Uint8Array(100);
    await this.#db.read(head, 0, 100, 0);
    const pageSize = pageSizeOf(head, this.path);
    const size = Number((await this.#db.stat()).size);
    if (size % pageSize !== 0) {
      throw new LtxvfsError('LTXVFS_ERR_CORRUPT', `${this.path}: file size ${size} is not a multiple of the page size ${pageSize}`, { key: this.path });
    }
    const walPages = new Map<number, number>();
    let commit = size / pageSize;
    if (marks.walHeader !== '') {
      const wal = await scanWal(`${this.path}-wal`, pageSize, this.path);
      if (wal.commit !== undefined) {
        commit = wal.commit;
        for (const [pgno, offset] of wal.pages) walPages.set(pgno, offset);
      }
      marks.walFrames = wal.frames;
    }
    return { pageSize, commit, walPages };
  }

  /**
   * Read the pages of `layout` to `onPage`. Returns false, having read nothing, when the WAL
   * the layout points into is gone: its last connection checkpointed and deleted it between
   * the layout and this read (seen in CI), so the state changed and the read is done again.
   */
  async #readPages(layout: SnapshotLayout, onPage: (pgno: number, data: Uint8Array) => void | Promise<void>): Promise<boolean> {
    const { pageSize, commit, walPages } = layout;
    let wal: FileHandle | undefined;
    if (walPages.size > 0) {
      try {
        wal = await open(`${this.path}-wal`, 'r');
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code === 'ENOENT') return false;
        throw new LtxvfsError('LTXVFS_ERR_STORAGE', `${this.path}-wal: cannot open the write-ahead log (${(err as NodeJS.ErrnoException).code})`, { key: this.path, cause: err });
      }
    }
    try {
      const slabPages = Math.max(1, Math.floor((1 << 20) / pageSize));
      const slab = new Uint8Array(slabPages * pageSize);
      for (let first = 1; first <= commit; first += slabPages) {
        const count = Math.min(slabPages, commit - first + 1);
        // Pages past the end of the file (the WAL grew the database) read as zeros until the WAL's copy replaces them.
        slab.fill(0);
        await this.#db.read(slab, 0, count * pageSize, (first - 1) * pageSize);
        for (let i = 0; i < count; i++) {
          const page = slab.subarray(i * pageSize, (i + 1) * pageSize);
          const offset = walPages.get(first + i);
          if (offset !== undefined) await wal!.read(page, 0, pageSize, offset);
          await onPage(first + i, page);
        }
      }
      return true;
    } finally {
      await wal?.close();
    }
  }

  async #unchanged(before: Marks, after: Marks): Promise<boolean> {
    if (before.walHeader !== after.walHeader || before.journalHot || after.journalHot) return false;
    // Without a WAL, any write to the database file counts; with one, only a checkpoint past the frames read (below).
    if (before.walHeader === '') return before.db === after.db && before.changeCounter === after.changeCounter;
    const shm = await readPrefix(`${this.path}-shm`, SHM_BACKFILL_ATTEMPTED + 4);
    if (shm === undefined || shm.length < SHM_BACKFILL_ATTEMPTED + 4) return true; // no connection has the WAL open
    const copy1 = Buffer.from(shm.subarray(0, SHM_HEADER_SIZE));
    if (!copy1.equals(shm.subarray(SHM_HEADER_SIZE, 2 * SHM_HEADER_SIZE))) return false; // caught mid-update
    if (copy1[12] === 0) return true; // isInit: the wal-index is not built yet, so no checkpoint ran
    // aSalt (offset 32) holds the WAL header's salt bytes as they are; the counters are native-endian.
    if (!copy1.subarray(32, 40).equals(Buffer.from(after.walHeader.slice(32, 48), 'hex'))) return false;
    const view = new DataView(shm.buffer, shm.byteOffset, shm.byteLength);
    return view.getUint32(SHM_BACKFILL_ATTEMPTED, endianness() === 'LE') <= before.walFrames;
  }
}

/** The page size in a database header (offset 16; 1 means 65536). */
function pageSizeOf(header: Uint8Array, path: string): number {
  const raw = (header[16] << 8) | header[17];
  const pageSize = raw === 1 ? 65536 : raw;
  if (pageSize < 512 || pageSize > 65536 || (pageSize & (pageSize - 1)) !== 0) {
    throw new LtxvfsError('LTXVFS_ERR_CORRUPT', `${path}: invalid page size ${raw} in the database header`, { key: path });
  }
  return pageSize;
}

/** Up to `n` bytes from the start of `path`, or undefined if it does not exist. */
async function readPrefix(path: string, n: number): Promise<Uint8Array | undefined> {
  let fh: FileHandle;
  try {
    fh = await open(path, 'r');
  } catch {
    return undefined;
  }
  try {
    const buf = new Uint8Array(n);
    const { bytesRead } = await fh.read(buf, 0, n, 0);
    return buf.subarray(0, bytesRead);
  } finally {
    await fh.close();
  }
}

/**
 * The committed frames of a WAL (module doc): frames whose salts match the header and
 * whose cumulative checksum holds, up to the last frame that ends a transaction.
 * @returns `commit`: the database size in pages at that frame (undefined: no committed
 *   frame); `pages`: the offset of each page's newest committed copy; `frames`: the count.
 */
async function scanWal(walPath: string, pageSize: number, dbPath: string): Promise<{ commit: number | undefined; pages: Map<number, number>; frames: number }> {
  const pages = new Map<number, number>();
  const none = { commit: undefined, pages, frames: 0 };
  let fh: FileHandle;
  try {
    fh = await open(walPath, 'r');
  } catch {
    return none;
  }
  try {
    const header = new Uint8Array(WAL_HEADER_SIZE);
    if ((await fh.read(header, 0, WAL_HEADER_SIZE, 0)).bytesRead < WAL_HEADER_SIZE) return none;
    const hv = new DataView(header.buffer);
    const magic = hv.getUint32(0);
    if (magic !== 0x377f0682 && magic !== 0x377f0683) return none;
    const bigEndian = (magic & 1) === 1;
    const sum = walChecksum(bigEndian, header, 0, 24, 0, 0);
    if (sum[0] !== hv.getUint32(24) || sum[1] !== hv.getUint32(28)) return none;
    if (hv.getUint32(8) !== pageSize) {
      throw new LtxvfsError('LTXVFS_ERR_CORRUPT', `${walPath}: WAL page size ${hv.getUint32(8)} differs from the database's ${pageSize}`, { key: dbPath });
    }
    const salt1 = hv.getUint32(16);
    const salt2 = hv.getUint32(20);
    const frameSize = WAL_FRAME_HEADER_SIZE + pageSize;
    const batch = Math.max(1, Math.floor((1 << 20) / frameSize));
    const buf = new Uint8Array(batch * frameSize);
    const view = new DataView(buf.buffer);
    const pending = new Map<number, number>();
    let commit: number | undefined;
    let frames = 0;
    let s = sum;
    for (let offset = WAL_HEADER_SIZE; ; ) {
      const { bytesRead } = await fh.read(buf, 0, buf.length, offset);
      const whole = Math.floor(bytesRead / frameSize);
      for (let i = 0; i < whole; i++, offset += frameSize) {
        const at = i * frameSize;
        if (view.getUint32(at + 8) !== salt1 || view.getUint32(at + 12) !== salt2) return { commit, pages, frames };
        s = walChecksum(bigEndian, buf, at, 8, s[0], s[1]);
        s = walChecksum(bigEndian, buf, at + WAL_FRAME_HEADER_SIZE, pageSize, s[0], s[1]);
        if (s[0] !== view.getUint32(at + 16) || s[1] !== view.getUint32(at + 20)) return { commit, pages, frames };
        pending.set(view.getUint32(at), offset + WAL_FRAME_HEADER_SIZE);
        const size = view.getUint32(at + 4);
        if (size !== 0) {
          for (const [pgno, o] of pending) pages.set(pgno, o);
          pending.clear();
          commit = size;
          frames = (offset - WAL_HEADER_SIZE) / frameSize + 1;
        }
      }
      if (whole < batch) return { commit, pages, frames };
    }
  } finally {
    await fh.close();
  }
}

/** The WAL checksum (fileformat2 §4.3) of `n` bytes (a multiple of 8) from `at`, continuing from s0, s1. */
function walChecksum(bigEndian: boolean, buf: Uint8Array, at: number, n: number, s0: number, s1: number): [number, number] {
  const view = new DataView(buf.buffer, buf.byteOffset + at, n);
  const le = !bigEndian;
  for (let i = 0; i < n; i += 8) {
    s0 = (s0 + view.getUint32(i, le) + s1) >>> 0;
    s1 = (s1 + view.getUint32(i + 4, le) + s0) >>> 0;
  }
  return [s0, s1];
}
