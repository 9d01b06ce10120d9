/**
 * What a hydrator tells other threads about its file, in shared memory: which TXID the
 * file holds, guarded by an epoch in the manner of a seqlock, so that the worker engine's
 * SQLite thread can read pages of the file in place (`fs.readSync`, no page-bridge
 * crossing, vfs/bridge/hydrated-file.ts) while this thread's hydrator keeps the file
 * current.
 *
 * Two 64-bit words: the *epoch*, odd while a pass may be writing the file (from before its
 * first write until its last write, the truncate and the fdatasync have completed), even
 * otherwise; and the *TXID* the file holds completely while the epoch is even (0: none —
 * before the first pass completed, after a failed pass, after close). A reader takes the
 * epoch (even), checks the TXID against its version, reads, and takes the epoch again: if
 * it is unchanged no write of the file began meanwhile (the writer bumps the epoch before
 * it issues any), so the bytes read are the TXID's.
 */

/** Word indexes in the publication's `BigInt64Array`. */
const EPOCH = 0;
const TXID = 1;

/** Bytes of a publication's buffer. */
export const HYDRATION_PUBLICATION_BYTES = 16;

/** The writer's side (lib/hydrate/hydrator.ts) and the reader's, over one shared buffer. */
export class HydrationPublication {
  /** The shared buffer; hand it to another thread and wrap it there in a `HydrationPublication`. */
  readonly buffer: SharedArrayBuffer;
  readonly #words: BigInt64Array;

  /**
   * @param buffer a buffer made by another publication (the reader's side); a new one by default.
   * @throws RangeError if `buffer` is shorter than {@link HYDRATION_PUBLICATION_BYTES}.
   */
  constructor(buffer: SharedArrayBuffer = new SharedArrayBuffer(HYDRATION_PUBLICATION_BYTES)) {
    if (buffer.byteLength < HYDRATION_PUBLICATION_BYTES) {
      throw new RangeError(`a hydration publication needs ${HYDRATION_PUBLICATION_BYTES} bytes, got ${buffer.byteLength}`);
    }
    this.buffer = buffer;
    this.#words = new BigInt64Array(buffer, 0, 2);
  }

  /** Writer: the file is about to be written (call before the first write is issued). */
  beginWrites(): void {
    if ((Atomics.load(this.#words, EPOCH) & 1n) === 0n) Atomics.add(this.#words, EPOCH, 1n);
  }

  /** Writer: every write has completed; the file now holds `txid` (0: nothing it may serve). */
  endWrites(txid: number): void {
    Atomics.store(this.#words, TXID, BigInt(txid));
    if ((Atomics.load(this.#words, EPOCH) & 1n) === 1n) Atomics.add(this.#words, EPOCH, 1n);
  }

  /** Writer: say the file holds `txid` without writing it. */
  publish(txid: number): void {
    this.beginWrites();
    this.endWrites(txid);
  }

  /** Reader: the epoch now (odd: a pass may be writing). */
  epoch(): bigint {
    return Atomics.load(this.#words, EPOCH);
  }

  /** Reader: the TXID the file holds while the epoch stays even and unchanged (0: none). */
  txid(): number {
    return Number(Atomics.load(this.#words, TXID));
  }
}
