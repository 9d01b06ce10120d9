/**
 * The LTX file checksum (docs/formats.md §2.4) computed piece by piece, for files too large
 * to hold whole: a reader that fetched the frames of a file by range reads feeds the
 * header, then every frame with its decompressed page in file order, then the bytes from
 * the terminator to the post-apply checksum, and compares the digest with the trailer's
 * `fileChecksum`. Feeding a whole file this way gives {@link computeFileChecksum}'s value.
 * Frames that arrive out of order can be fed to a builder of their own, which is later
 * appended in its place ({@link FileChecksumBuilder.append}, a CRC combine).
 */
import { CHECKSUM_FLAG } from './checksum.js';
import { Crc64 } from './crc64.js';
import { LtxvfsError } from './errors.js';
import { PAGE_FLAG_SIZE_PREFIX, PAGE_HEADER_SIZE, SIZE_PREFIX_SIZE } from './frame.js';
import { HEADER_SIZE } from './header.js';

/** Bytes at the end of a file the checksum does not cover: the stored file checksum itself. */
export const FILE_CHECKSUM_SIZE = 8;

/** Incremental §2.4 file checksum: `header`, `frame` × pages in file order, `tail`, then `digest`. */
export class FileChecksumBuilder {
  readonly #crc = new Crc64();
  /** Bytes fed so far. */
  #bytes = 0;

  /** Feed the 100-byte header at `buf[offset]`. */
  header(buf: Uint8Array, offset = 0): this {
    this.#crc.update(buf, offset, offset + HEADER_SIZE);
    this.#bytes += HEADER_SIZE;
    return this;
  }

  /**
   * Feed one page frame (starting with its 6-byte page header) and its decompressed
   * `page`: the page header, the size prefix when the flags say there is one, then the
   * page — not the LZ4 bytes (§2.4). `where` (e.g. the file name) starts error messages.
   * @throws LtxvfsError `LTXVFS_ERR_CORRUPT` if `frame` is shorter than its page header and size prefix.
   */
  frame(frame: Uint8Array, page: Uint8Array, where: string): this {
    const prefix = frame.length >= PAGE_HEADER_SIZE && (((frame[4] << 8) | frame[5]) & PAGE_FLAG_SIZE_PREFIX) !== 0 ? SIZE_PREFIX_SIZE : 0;
    if (frame.length < PAGE_HEADER_SIZE + prefix) {
      throw new LtxvfsError('LTXVFS_ERR_CORRUPT', `${where}: page frame of ${frame.length} bytes is shorter than its page header`, { key: where });
    }
    this.#crc.update(frame, 0, PAGE_HEADER_SIZE + prefix);
    this.#crc.update(page);
    this.#bytes += PAGE_HEADER_SIZE + prefix + page.length;
    return this;
  }

  /** Feed `buf[start, end)`: from the terminator up to and including the post-apply checksum. */
  tail(buf: Uint8Array, start = 0, end = buf.length): this {
    this.#crc.update(buf, start, end);
    this.#bytes += end - start;
    return this;
  }

  /**
   * Append what `next` was fed (the frames that follow the ones fed here, checksummed
   * apart), as if fed here in order: lib/read/verifier.ts feeds frames a scan decoded ahead
   * of the checksum's position this way. `next` is not changed.
   */
  append(next: FileChecksumBuilder): this {
    this.#crc.append(next.#crc.digest(), next.#bytes);
    this.#bytes += next.#bytes;
    return this;
  }

  /** `CHECKSUM_FLAG | CRC` of everything fed, comparable with the trailer's `fileChecksum`. */
  digest(): bigint {
    return this.#crc.digest() | CHECKSUM_FLAG;
  }
}
