/**
 * Ambient types for `lz4js` 0.2 (it ships none). Only the functions ltxvfs touches are
 * declared; signatures read from node_modules/lz4js/lz4.js.
 */
declare module 'lz4js' {
  /** Worst-case compressed size of `n` input bytes: n + n/255 + 16. */
  export function compressBound(n: number): number;
  /**
   * Decode the raw LZ4 block `src[sIndex, sIndex + sLength)` into `dst` from `dIndex`.
   * Returns the output end index. Performs no bounds checks on malformed input.
   */
  export function decompressBlock(
    src: Uint8Array,
    dst: Uint8Array,
    sIndex: number,
    sLength: number,
    dIndex: number,
  ): number;
  /**
   * Encode `src[sIndex, sIndex + sLength)` as a raw LZ4 block into `dst` (sized to
   * compressBound). Returns the block length, or 0 when it found no match at all (the
   * caller must then write a literal-only block). `hashTable` is 65536 entries.
   */
  export function compressBlock(
    src: Uint8Array,
    dst: Uint8Array,
    sIndex: number,
    sLength: number,
    hashTable: Uint32Array,
  ): number;
  /** Encode `src` as one LZ4 frame (no content checksum, 4 MB blocks). */
  export function compress(src: Uint8Array, maxSize?: number): Uint8Array;
  /** Decode one LZ4 frame (checksums are skipped, not verified). */
  export function decompress(src: Uint8Array, maxSize?: number): Uint8Array;
}
