/**
 * An in-memory file for what SQLite writes beside a read-only replica database: the
 * TEMP database and its journal, statement journals, sorter and materialization scratch
 * files (docs/formats.md §7.3). It lives exactly as long as the open file handle; nothing is
 * shared by name, which is safe because SQLite opens each of these files once and
 * deletes it on close.
 */
/// <reference types="@journeyapps/wa-sqlite" />
import { SQLITE_IOERR_SHORT_READ, SQLITE_OK } from '@journeyapps/wa-sqlite/src/sqlite-constants.js';

const INITIAL_CAPACITY = 4096;

/** A growable byte array with file semantics (read past the end zero-fills). */
export class MemoryFile {
  #data = new Uint8Array(0);
  #size = 0;

  /** Current file size in bytes. */
  get size(): number {
    return this.#size;
  }

  /**
   * Fill `dest` from byte `offset`. Bytes past the end of the file read as zeros.
   * @returns `SQLITE_OK`, or `SQLITE_IOERR_SHORT_READ` when the file ended before `dest` was full.
   */
  read(dest: Uint8Array, offset: number): number {
    const available = Math.max(0, Math.min(dest.length, this.#size - offset));
    if (available > 0) dest.set(this.#data.subarray(offset, offset + available));
    if (available < dest.length) {
      dest.fill(0, available);
      return SQLITE_IOERR_SHORT_READ;
    }
    return SQLITE_OK;
  }

  /** Write `src` at byte `offset`, growing the file (a gap reads as zeros). */
  write(src: Uint8Array, offset: number): void {
    const end = offset + src.length;
    if (end > this.#data.length) {
      const grown = new Uint8Array(Math.max(end, this.#data.length * 2, INITIAL_CAPACITY));
      grown.set(this.#data.subarray(0, this.#size));
      this.#data = grown;
    }
    this.#data.set(src, offset);
    this.#size = Math.max(this.#size, end);
  }

  /** Set the size to `size` bytes: shrinking drops the tail, growing adds zeros. */
  truncate(size: number): void {
    if (size === 0) {
      this.#data = new Uint8Array(0);
      this.#size = 0;
    } else if (size < this.#size) {
      // Bytes past the new end must read as zeros if the file grows again.
      this.#data.fill(0, size, this.#size);
      this.#size = size;
    } else if (size > this.#size) {
      this.write(new Uint8Array(0), size);
    }
  }
}
