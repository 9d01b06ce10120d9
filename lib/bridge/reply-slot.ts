/**
 * The answer area of one bridge channel, server side (lib/bridge/protocol.ts): the
 * control words and the payload of the channel's `SharedArrayBuffer`. An answer is written
 * only while the client still waits for that very request — the protocol's
 * compare-and-swap of the state word from WAITING to WRITING, then a check of the awaited
 * sequence number — so a late answer (the client timed out and moved on) is dropped and
 * can never overwrite a newer one. Answers are pages (raw bytes), JSON values or
 * serialized errors; one that does not fit the payload becomes an error, except a long
 * eviction list, which becomes "evict all" (always right).
 */
import { LtxvfsError } from '../../ltx/errors.js';
import { CONTROL_BYTES, CTL, STATE, STATUS, serializeError, type VersionAnswer } from './protocol.js';

/** What a fill function wrote into the payload. */
export interface Answer {
  /** `STATUS.OK` or `STATUS.ERROR`. */
  status: number;
  /** Payload bytes written. */
  length: number;
  /** Pages in the payload (0 for JSON). */
  count: number;
}

const encoder = new TextEncoder();

/** The server's end of a channel's answer area. */
export class ReplySlot {
  /** The channel's control words (Int32 view of its first `CONTROL_BYTES`). */
  readonly ctl: Int32Array;
  /** The payload, after the control words. */
  readonly payload: Uint8Array;
  readonly #onDropped: () => void;

  /**
   * @param buffer the channel's shared buffer (control words, then the payload).
   * @param onDropped called for every answer dropped because the client no longer waits for it.
   */
  constructor(buffer: SharedArrayBuffer, onDropped: () => void) {
    this.ctl = new Int32Array(buffer, 0, CONTROL_BYTES / 4);
    this.payload = new Uint8Array(buffer, CONTROL_BYTES);
    this.#onDropped = onDropped;
  }

  /** Run `body` and answer its JSON-able result, or its error (thrown or rejected). */
  reply(seq: number, body: () => unknown): void {
    let result: unknown;
    try {
      result = body();
    } catch (err) {
      this.error(seq, err);
      return;
    }
    if (result instanceof Promise) {
      result.then((value) => this.json(seq, value), (err: unknown) => this.error(seq, err));
    } else {
      this.json(seq, result);
    }
  }

  /** Answer `value` as JSON (`null` for undefined); too large for the payload: an `LTXVFS_ERR_USAGE` error instead. */
  json(seq: number, value: unknown): void {
    let bytes = encoder.encode(JSON.stringify(value ?? null));
    if (bytes.length > this.payload.length && isVersionAnswer(value) && value.evict !== 'all') {
      // A long eviction list that does not fit: dropping the whole cache is always right.
      bytes = encoder.encode(JSON.stringify({ ...value, evict: 'all' }));
    }
    if (bytes.length > this.payload.length) {
      this.error(seq, new LtxvfsError('LTXVFS_ERR_USAGE', `bridge: an answer of ${bytes.length} bytes exceeds the channel's ${this.payload.length}`));
      return;
    }
    this.write(seq, (payload) => {
      payload.set(bytes);
      return { status: STATUS.OK, length: bytes.length, count: 0 };
    });
  }

  /** Answer `err`, serialized (truncated to the payload when it is longer). */
  error(seq: number, err: unknown): void {
    let bytes = encoder.encode(JSON.stringify(serializeError(err)));
    if (bytes.length > this.payload.length) bytes = encoder.encode(JSON.stringify(serializeError(new Error(String(err).slice(0, 1000)))));
    this.write(seq, (payload) => {
      payload.set(bytes.subarray(0, payload.length));
      return { status: STATUS.ERROR, length: Math.min(bytes.length, payload.length), count: 0 };
    });
  }

  /**
   * Write the answer to request `seq` if the client still waits for it (the protocol's
   * compare-and-swap), then wake the client. A `fill` that throws answers its error.
   * @returns whether it was written.
   */
  write(seq: number, fill: (payload: Uint8Array) => Answer): boolean {
    const ctl = this.ctl;
    if (Atomics.compareExchange(ctl, CTL.STATE, STATE.WAITING, STATE.WRITING) !== STATE.WAITING) {
      this.#onDropped();
      return false;
    }
    if (Atomics.load(ctl, CTL.REQ_SEQ) !== seq) {
      Atomics.store(ctl, CTL.STATE, STATE.WAITING);
      this.#onDropped();
      return false;
    }
    let answer: Answer;
    try {
      answer = fill(this.payload);
    } catch (err) {
      const bytes = encoder.encode(JSON.stringify(serializeError(err)));
      this.payload.set(bytes.subarray(0, this.payload.length));
      answer = { status: STATUS.ERROR, length: Math.min(bytes.length, this.payload.length), count: 0 };
    }
    ctl[CTL.STATUS] = answer.status;
    ctl[CTL.LENGTH] = answer.length;
    ctl[CTL.COUNT] = answer.count;
    ctl[CTL.RESP_SEQ] = seq;
    Atomics.store(ctl, CTL.STATE, STATE.DONE);
    Atomics.notify(ctl, CTL.STATE);
    return true;
  }
}

function isVersionAnswer(value: unknown): value is VersionAnswer {
  return typeof value === 'object' && value !== null && 'version' in value && 'evict' in value;
}
