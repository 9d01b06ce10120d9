/**
 * What the LTX file loader (ltx-loader.ts) learnt about a file while loading it, for the
 * layers above to use without reading it again, kept per {@link LtxFile} for this process's
 * life (weakly: a file no version uses any more is forgotten):
 *
 * - files it read whole and found to match their file checksum (docs/formats.md §2.4): the
 *   verifier (lib/read/verifier.ts) trusts them at once, the disk cache records them as
 *   verified (lib/cache/verified-files.ts);
 * - the header bytes it read, which the verifier feeds to the file checksum first instead of
 *   reading them again.
 *
 * Here, below the read path and the caches, so that the loader reports to them without
 * importing them (test/architecture.test.ts).
 */
import type { LtxFile } from './page-index.js';

const verifiedWhole = new WeakSet<LtxFile>();
const headers = new WeakMap<LtxFile, Uint8Array>();

/** Record that `file` was read whole and matched its file checksum. */
export function markVerifiedWhole(file: LtxFile): void {
  verifiedWhole.add(file);
}

/** Whether the loader read `file` whole and it matched its file checksum. */
export function wasVerifiedWhole(file: LtxFile): boolean {
  return verifiedWhole.has(file);
}

/** Keep the header bytes the loader read of `file` (the first bytes of the file). */
export function rememberHeader(file: LtxFile, bytes: Uint8Array): void {
  headers.set(file, bytes);
}

/** The header bytes the loader read of `file`, if it kept them. */
export function headerOf(file: LtxFile): Uint8Array | undefined {
  return headers.get(file);
}
