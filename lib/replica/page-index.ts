/**
 * PageIndex: one immutable version of the database as a map `pgno → frame`, built by
 * applying LTX files in TXID order (docs/formats.md §4.4 "Applying a plan": write each file's
 * pages, then truncate to its commit). Applying a file yields a new version that shares
 * every untouched chunk with the old one, so versions pinned by open read transactions
 * cost memory only for the chunks that changed since (the structural sharing of
 * ncruces/litestream's index snapshots).
 */
import { HEADER_FLAG_NO_CHECKSUM, type LtxHeader } from '../../ltx/header.js';
import type { LtxTrailer } from '../../ltx/trailer.js';
import { PageIndexTable, type PageIndexEntry } from '../../ltx/page-index.js';
import { formatChecksum, lockPgno } from '../../ltx/checksum.js';
import { LtxvfsError } from '../../ltx/errors.js';
import type { LtxFileInfo } from '../storage/types.js';
import type { PageVersion } from './page-version.js';

/**
 * An LTX file of the replica with its page index, as read from the file's tail (or from
 * the whole file when small). Shared by every version that points into it.
 */
export interface LtxFile {
  /** Where the file is: level, TXID range, size, key. */
  readonly info: LtxFileInfo;
  /** The decoded 100-byte header. */
  readonly header: LtxHeader;
  /** Post-apply and file checksums. */
  readonly trailer: LtxTrailer;
  /** The file's page index: frames in ascending pgno (and so ascending offset). */
  readonly entries: PageIndexTable;
  /** Process-unique number, used to key cached frames. */
  readonly id: number;
}

let nextFileId = 1;

/**
 * Give an LTX file its process-unique id (see {@link LtxFile.id}); an index given as
 * objects (a decoded file's) is turned into a table.
 * @throws LtxvfsError `LTXVFS_ERR_USAGE` as `PageIndexTable.from`.
 */
export function makeLtxFile(info: LtxFileInfo, header: LtxHeader, trailer: LtxTrailer, entries: PageIndexTable | readonly PageIndexEntry[]): LtxFile {
  const table = entries instanceof PageIndexTable ? entries : PageIndexTable.from(entries);
  return { info, header, trailer, entries: table, id: nextFileId++ };
}

/** A page of one version: the file that holds it and the position of its frame in that file's index. */
export interface FrameRef {
  readonly file: LtxFile;
  /** Index into `file.entries`. */
  readonly entry: number;
}

/** Pages per chunk of the persistent array: 256 (4096 made a writer copy 48 KiB of slots at every commit, most of its garbage). */
const CHUNK_SHIFT = 8;
const CHUNK_SIZE = 1 << CHUNK_SHIFT;
const CHUNK_MASK = CHUNK_SIZE - 1;

/** One chunk: for each slot the file (or undefined) and the entry number. */
interface Chunk {
  readonly files: (LtxFile | undefined)[];
  readonly entries: Int32Array;
}

function newChunk(): Chunk {
  return { files: new Array<LtxFile | undefined>(CHUNK_SIZE).fill(undefined), entries: new Int32Array(CHUNK_SIZE) };
}

function copyChunk(c: Chunk): Chunk {
  return { files: c.files.slice(), entries: c.entries.slice() };
}

/**
 * The files applied to build a version, newest first, sharing the older ones with the
 * version it was built on: applying a commit's file costs one node, not a copy of the list
 * (a writer's 3,000th commit copied 3,000 references, then compared them all to learn
 * that one file was appended).
 */
interface FileNode {
  readonly file: LtxFile;
  readonly older: FileNode | undefined;
  /** Files in the list from here down. */
  readonly count: number;
}

/** An immutable version of the database (docs/architecture.md read path 3). */
export class PageIndex implements PageVersion {
  /** Page size in bytes. */
  readonly pageSize: number;
  /** Database size in pages after the last applied file. */
  readonly commit: number;
  /** Max TXID of the last applied file (0 for the empty index). */
  readonly txid: number;
  /** Timestamp (ms) of the last applied file. */
  readonly timestamp: number;
  /** Post-apply checksum of the last applied file (0n when the files carry none, docs/formats.md §2.5). */
  readonly postApplyChecksum: bigint;
  /** True when the last applied file tracks database checksums (header flag NoChecksum clear). */
  readonly checksummed: boolean;
  readonly #newest: FileNode | undefined;
  #files: readonly LtxFile[] | undefined;
  readonly #chunks: readonly (Chunk | undefined)[];

  private constructor(fields: {
    pageSize: number; commit: number; txid: number; timestamp: number; postApplyChecksum: bigint;
    checksummed: boolean; newest: FileNode | undefined; chunks: readonly (Chunk | undefined)[];
  }) {
    this.pageSize = fields.pageSize;
    this.commit = fields.commit;
    this.txid = fields.txid;
    this.timestamp = fields.timestamp;
    this.postApplyChecksum = fields.postApplyChecksum;
    this.checksummed = fields.checksummed;
    this.#newest = fields.newest;
    this.#chunks = fields.chunks;
  }

  /** The files applied so far, oldest first (the plan this version was built from); made on first use. */
  get files(): readonly LtxFile[] {
    if (this.#files === undefined) {
      const files = new Array<LtxFile>(this.fileCount);
      for (let n = this.#newest; n !== undefined; n = n.older) files[n.count - 1] = n.file;
      this.#files = files;
    }
    return this.#files;
  }

  /** How many files were applied to build this version. */
  get fileCount(): number {
    return this.#newest?.count ?? 0;
  }

  /** The file applied last (the one that brought the version to its TXID), if any. */
  get newestFile(): LtxFile | undefined {
    return this.#newest?.file;
  }

  /**
   * The files this version applied on top of `older`, oldest first, when `older`'s files are
   * its first ones (it was built from `older` by applying files, through any versions
   * between); else undefined. Costs one step per file applied since.
   */
  filesSince(older: PageIndex): LtxFile[] | undefined {
    const since = this.fileCount - older.fileCount;
    if (since < 0) return undefined;
    const out = new Array<LtxFile>(since);
    let n = this.#newest;
    for (let i = since - 1; i >= 0; i--, n = n!.older) out[i] = n!.file;
    return n === older.#newest ? out : undefined;
  }

  /** The index before any file: no pages, TXID 0. */
  static empty(pageSize = 0): PageIndex {
    return new PageIndex({ pageSize, commit: 0, txid: 0, timestamp: 0, postApplyChecksum: 0n, checksummed: false, newest: undefined, chunks: [] });
  }

  /** The frame of page `pgno` (1-based) in this version, or undefined (beyond commit, the lock page, or never written). */
  get(pgno: number): FrameRef | undefined {
    if (pgno < 1 || pgno > this.commit) return undefined;
    const i = pgno - 1;
    const chunk = this.#chunks[i >>> CHUNK_SHIFT];
    const file = chunk?.files[i & CHUNK_MASK];
    return file === undefined ? undefined : { file, entry: chunk!.entries[i & CHUNK_MASK] };
  }

  /** True if `ref` is the frame this version serves for its page. */
  isCurrent(ref: FrameRef): boolean {
    if (ref.entry < 0 || ref.entry >= ref.file.entries.length) return false;
    const pgno = ref.file.entries.pgnos[ref.entry];
    if (pgno < 1 || pgno > this.commit) return false;
    // The chunk's slot, not get(): no FrameRef per call (the fetcher asks for every frame of a range).
    const i = pgno - 1;
    const chunk = this.#chunks[i >>> CHUNK_SHIFT];
    return chunk !== undefined && chunk.files[i & CHUNK_MASK] === ref.file && chunk.entries[i & CHUNK_MASK] === ref.entry;
  }

  /**
   * The version after applying `file`: its pages replace older ones, then pages beyond
   * its commit are dropped (docs/formats.md §4.4).
   *
   * Checks (each an LtxvfsError naming the file's key):
   * - `LTXVFS_ERR_PAGE_SIZE` if its page size differs from this version's;
   * - `LTXVFS_ERR_TXID_GAP` if it does not continue this version (minTXID ≤ txid + 1 < … ≤ maxTXID,
   *   compaction overlap allowed as in ltx's Compactor, docs/formats.md §1.9);
   * - `LTXVFS_ERR_CHECKSUM` if both carry database checksums and its pre-apply checksum is
   *   not this version's post-apply checksum (docs/formats.md §2.5, ltx `PreApplyPos`);
   * - `LTXVFS_ERR_CORRUPT` if the page index holds the lock page or a page beyond commit.
   */
  apply(file: LtxFile): PageIndex {
    return this.applyAll([file]);
  }

  /**
   * The version after applying `files` in order: the same as {@link apply} one file after
   * another, with the same checks, but each chunk the files change is copied once rather
   * than once per file (a plan of 200 level-0 files touching the same few chunks made
   * ~30 MiB of short-lived copies at open). Returns this version for no files.
   * @throws LtxvfsError as {@link apply}, for the first file that fails.
   */
  applyAll(files: readonly LtxFile[]): PageIndex {
    if (files.length === 0) return this;
    let pageSize = this.pageSize;
    let txid = this.txid;
    let checksummed = this.checksummed;
    let postApplyChecksum = this.postApplyChecksum;
    let commit = this.commit;
    let newest = this.#newest;
    const chunks = this.#chunks.slice();
    const copied = new Set<number>();
    const writable = (ci: number): Chunk => {
      let c = chunks[ci];
      if (c === undefined) {
        c = newChunk();
      } else if (!copied.has(ci)) {
        c = copyChunk(c);
      } else {
        return c;
      }
      chunks[ci] = c;
      copied.add(ci);
      return c;
    };
    for (const file of files) {
      const h = file.header;
      const key = file.info.key;
      if (txid === 0) {
        if (h.minTXID !== 1) {
          throw new LtxvfsError('LTXVFS_ERR_TXID_GAP', `${key}: first file of a plan must start at TXID 1, starts at ${h.minTXID}`, { key });
        }
      } else {
        if (h.pageSize !== pageSize) {
          throw new LtxvfsError('LTXVFS_ERR_PAGE_SIZE', `${key}: page size ${h.pageSize} does not match ${pageSize} of the files before it`, { key });
        }
        if (h.minTXID > txid + 1 || h.maxTXID <= txid) {
          throw new LtxvfsError('LTXVFS_ERR_TXID_GAP', `${key}: TXIDs ${h.minTXID}-${h.maxTXID} do not continue from TXID ${txid}`, { key });
        }
        const fileChecksummed = (h.flags & HEADER_FLAG_NO_CHECKSUM) === 0;
        if (fileChecksummed && checksummed && h.minTXID === txid + 1 && h.preApplyChecksum !== postApplyChecksum) {
          throw new LtxvfsError('LTXVFS_ERR_CHECKSUM',
            `${key}: pre-apply checksum ${formatChecksum(h.preApplyChecksum)} does not match post-apply checksum ${formatChecksum(postApplyChecksum)} at TXID ${txid}`, { key });
        }
      }
      const lock = lockPgno(h.pageSize);
      // Chunks wholly beyond the commit go; a later file that grows the database starts them afresh.
      chunks.length = Math.min(chunks.length, Math.ceil(h.commit / CHUNK_SIZE));
      const pgnos = file.entries.pgnos;
      for (let n = 0; n < pgnos.length; n++) {
        const pgno = pgnos[n];
        if (pgno > h.commit || pgno === lock) {
          throw new LtxvfsError('LTXVFS_ERR_CORRUPT',
            `${key}: page index holds page ${pgno}, ${pgno === lock ? 'the lock page' : `beyond commit ${h.commit}`}`, { key });
        }
        const i = pgno - 1;
        const c = writable(i >>> CHUNK_SHIFT);
        c.files[i & CHUNK_MASK] = file;
        c.entries[i & CHUNK_MASK] = n;
      }
      // Truncate to commit: clear the tail of the last chunk if it still holds pages beyond commit.
      // The chunk holding page `commit`, not the last one copied: a file that grows the
      // database into a chunk it writes nothing to must not cut the chunk before it. Only a
      // database that shrank can hold such pages: every version is cut to its commit, and the
      // file's own pages beyond it were refused above. (Looking at the 4,096 slots of the last
      // chunk at every commit of a writer was most of the cost of applying its file.)
      const tail = h.commit & CHUNK_MASK;
      const lastChunk = Math.ceil(h.commit / CHUNK_SIZE) - 1;
      if (h.commit < commit && tail !== 0 && chunks[lastChunk] !== undefined) {
        const slots = chunks[lastChunk]!.files;
        let stale = false;
        for (let slot = tail; slot < CHUNK_SIZE && !stale; slot++) stale = slots[slot] !== undefined;
        if (stale) writable(lastChunk).files.fill(undefined, tail);
      }
      commit = h.commit;
      newest = { file, older: newest, count: (newest?.count ?? 0) + 1 };
      pageSize = h.pageSize;
      txid = h.maxTXID;
      checksummed = (h.flags & HEADER_FLAG_NO_CHECKSUM) === 0;
      postApplyChecksum = file.trailer.postApplyChecksum;
    }
    const last = files[files.length - 1].header;
    return new PageIndex({
      pageSize,
      commit: last.commit,
      txid,
      timestamp: last.timestamp,
      postApplyChecksum,
      checksummed,
      newest,
      chunks,
    });
  }

  /**
   * Pages 1…commit without a frame (the lock page excepted). A complete plan has none;
   * a non-empty result means the replica's files do not describe a whole database.
   */
  missingPages(limit = 10): number[] {
    const lock = lockPgno(this.pageSize);
    const missing: number[] = [];
    for (let pgno = 1; pgno <= this.commit && missing.length < limit; pgno++) {
      // The chunk's slot, not get(): no FrameRef per page of the database.
      const i = pgno - 1;
      if (pgno !== lock && this.#chunks[i >>> CHUNK_SHIFT]?.files[i & CHUNK_MASK] === undefined) missing.push(pgno);
    }
    return missing;
  }
}
