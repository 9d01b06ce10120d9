/**
 * The fetcher's receive buffers (lib/read/fetcher.ts): large range reads are received into
 * reused buffers, at least one window each, held within a byte budget (the read-ahead budget
 * plus one window) so that a scan's memory does not grow with the table; a read that does not
 * fit the budget gets a buffer of its own, counted in `unpooledReads`.
 */
import { MAX_READAHEAD_WINDOWS } from './prefetch.js';

/** Receive-buffer bytes of a {@link Fetcher} (see {@link Fetcher.buffers}). */
export interface BufferStats {
  /** Bytes of receive buffers held now, in flight and idle. */
  bytes: number;
  /** The most ever held at once. */
  peakBytes: number;
  /** What they are kept within: the read-ahead budget plus one window. */
  budgetBytes: number;
  /** Large reads received into a buffer of their own because the budget was full. */
  unpooledReads: number;
}

/** Reads of at least this many bytes go into a reused receive buffer; smaller ones get their own. */
export const POOLED_READ_BYTES = 64 * 1024;

/** Idle receive buffers kept for the next large reads (a scan has its read and its read-ahead in flight). */
export const SPARE_READ_BUFFERS = 1 + MAX_READAHEAD_WINDOWS;

/**
 * Idle receive buffers kept once no transaction is open ({@link ReceiveBuffers.trim}): one,
 * for the next query's range read. A scan's five stayed for the reader's life before: 40 MiB
 * over remote storage with the default 64 MiB cache, outside `cacheSizeBytes`.
 */
export const IDLE_READ_BUFFERS = 1;

/** Receive buffers within a byte budget (module doc). */
export class ReceiveBuffers {
  /** Idle receive buffers for large reads, each at least the largest window. */
  readonly #spare: Uint8Array[] = [];
  readonly #buffers: BufferStats;
  readonly #windowBytes: number;
  /** Idle buffers kept: {@link SPARE_READ_BUFFERS}, or {@link IDLE_READ_BUFFERS} from a {@link trim} to the next {@link keepSpares}. */
  #keep = SPARE_READ_BUFFERS;

  /**
   * @param budgetBytes what the buffers, in flight and idle, are kept within (bytes).
   * @param windowBytes the largest window (bytes): the size of a new buffer, unless a read is larger.
   */
  constructor(budgetBytes: number, windowBytes: number) {
    this.#buffers = { bytes: 0, peakBytes: 0, budgetBytes, unpooledReads: 0 };
    this.#windowBytes = windowBytes;
  }

  /** Bytes held now and at most, and their budget (a copy). */
  stats(): BufferStats {
    return { ...this.#buffers };
  }

  /**
   * A receive buffer of at least `length` bytes, or undefined for a read under
   * {@link POOLED_READ_BYTES} (it gets its own): an idle one, else a new one of the largest
   * window (or `length`, if larger) while the buffers stay within their budget (idle ones
   * too small are let go to make room), else undefined: the read gets a buffer of its own.
   */
  take(length: number): Uint8Array | undefined {
    if (length < POOLED_READ_BYTES) return undefined;
    const i = this.#spare.findIndex((b) => b.length >= length);
    if (i >= 0) return this.#spare.splice(i, 1)[0];
    const size = Math.max(length, this.#windowBytes);
    const b = this.#buffers;
    while (b.bytes + size > b.budgetBytes && this.#spare.length > 0) b.bytes -= this.#spare.pop()!.length;
    if (b.bytes + size > b.budgetBytes) {
      b.unpooledReads++;
      return undefined;
    }
    b.bytes += size;
    b.peakBytes = Math.max(b.peakBytes, b.bytes);
    return new Uint8Array(size);
  }

  /**
   * A receive buffer back from a read: kept for the next one (at most {@link SPARE_READ_BUFFERS},
   * or {@link IDLE_READ_BUFFERS} after a {@link trim}, and only while `keep`), else let go.
   */
  giveBack(buffer: Uint8Array, keep: boolean): void {
    if (keep && this.#spare.length < this.#keep) this.#spare.push(buffer);
    else this.#buffers.bytes -= buffer.length;
  }

  /**
   * No transaction is open: let go of the idle buffers but {@link IDLE_READ_BUFFERS}, and of
   * those that come back from reads meanwhile (still in flight, or background reads such as
   * a file's verification), until {@link keepSpares}. A scan's buffers are made again by the
   * next scan (a new buffer is zero pages until received into).
   */
  trim(): void {
    this.#keep = IDLE_READ_BUFFERS;
    while (this.#spare.length > IDLE_READ_BUFFERS) this.#buffers.bytes -= this.#spare.pop()!.length;
  }

  /** A transaction is open again: keep up to {@link SPARE_READ_BUFFERS} idle buffers. */
  keepSpares(): void {
    this.#keep = SPARE_READ_BUFFERS;
  }
}
