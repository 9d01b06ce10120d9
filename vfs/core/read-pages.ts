/**
 * The read path of a database file: bytes of a version as SQLite asks for them, page 1
 * patched (vfs/core/page1.ts), zeros past the end. Synchronous whenever the source has
 * the pages at hand; a Promise only when one of them must be fetched.
 */
import * as VFS from '@journeyapps/wa-sqlite/src/sqlite-constants.js';
import { LtxvfsError } from '../../ltx/errors.js';
import type { PageVersion } from '../../lib/read/page-source.js';
import type { Completion, CorePageSource } from './types.js';
import { DB_HEADER_SIZE, patchPage1, patchPage1InPlace } from './page1.js';

/**
 * Fill `dest` from byte `offset` of `version` (pinned by the caller): the pages it covers,
 * page 1 patched, zeros past the end (`SQLITE_IOERR_SHORT_READ`). `scratch` is a page the
 * caller owns, used synchronously for a cached page read in part or patched.
 * @throws LtxvfsError `LTXVFS_ERR_CORRUPT` for a page of the wrong size; the source's errors.
 */
export function readPages<C extends Completion>(
  source: CorePageSource<C>, version: PageVersion, dest: Uint8Array, offset: number, scratch: Uint8Array,
): number | Promise<number> {
  const { pageSize, commit } = version;
  const amount = dest.length;
  const first = Math.floor(offset / pageSize) + 1;
  const last = Math.min(commit, Math.floor((offset + amount - 1) / pageSize) + 1);
  if (first === last) {
    const start = (first - 1) * pageSize;
    if (source.readPageInto !== undefined && offset + amount <= start + pageSize) {
      // The hot path of scans and lookups: a cached page copied without an array of its
      // own — a whole page straight into SQLite's buffer, anything else (page 1, which is
      // patched; the 16 bytes at 24 read at every transaction) through the scratch page.
      if (first > 1 && amount === pageSize && offset === start) {
        if (source.readPageInto(version, first, dest)) return VFS.SQLITE_OK;
      } else if (source.readPageInto(version, first, scratch)) {
        if (first === 1) patchPage1InPlace(scratch, version);
        dest.set(scratch.subarray(offset - start, offset - start + amount));
        return VFS.SQLITE_OK;
      }
    }
    // The common case: one page (a whole page, the header, or the 16 bytes at 24).
    const page = source.readPage(version, first) as Uint8Array | Promise<Uint8Array>;
    if (page instanceof Uint8Array) return copyPages(version, [page], first, dest, offset);
    return page.then((bytes) => copyPages(version, [bytes], first, dest, offset));
  }
  const pages: Array<Uint8Array | Promise<Uint8Array>> = [];
  let pending = false;
  try {
    for (let pgno = first; pgno <= last; pgno++) {
      const page = source.readPage(version, pgno) as Uint8Array | Promise<Uint8Array>;
      if (!(page instanceof Uint8Array)) pending = true;
      pages.push(page);
    }
  } catch (err) {
    // Pages already requested must not become unhandled rejections.
    for (const page of pages) if (!(page instanceof Uint8Array)) page.catch(() => undefined);
    throw err;
  }
  if (!pending) return copyPages(version, pages as Uint8Array[], first, dest, offset);
  return Promise.all(pages).then((bytes) => copyPages(version, bytes, first, dest, offset));
}

/**
 * Copy the bytes of `pages` (consecutive, starting at `first`) that `dest` (at byte
 * `offset` of the file) covers; zero-fill past the end of the database.
 * @throws LtxvfsError `LTXVFS_ERR_CORRUPT` for a page that is not `pageSize` bytes.
 */
function copyPages(version: PageVersion, pages: Uint8Array[], first: number, dest: Uint8Array, offset: number): number {
  const { pageSize } = version;
  const end = offset + dest.length;
  for (let i = 0; i < pages.length; i++) {
    const pgno = first + i;
    let page = pages[i];
    if (page.length !== pageSize) {
      throw new LtxvfsError('LTXVFS_ERR_CORRUPT', `page ${pgno} has ${page.length} bytes, expected ${pageSize}`);
    }
    const pageStart = (pgno - 1) * pageSize;
    if (pgno === 1 && offset < DB_HEADER_SIZE) page = patchPage1(page, version);
    const from = Math.max(offset, pageStart);
    const to = Math.min(end, pageStart + pageSize);
    dest.set(page.subarray(from - pageStart, to - pageStart), from - offset);
  }
  const fileSize = version.commit * pageSize;
  if (end > fileSize) {
    dest.fill(0, Math.max(0, fileSize - offset));
    return VFS.SQLITE_IOERR_SHORT_READ;
  }
  return VFS.SQLITE_OK;
}
