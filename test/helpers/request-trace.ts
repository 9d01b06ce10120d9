/**
 * Request counting with round trips: a {@link CountingClient} that also records LIST
 * requests per level and the sequential depth of the requests made through it — a
 * request's depth is one more than the deepest request that had finished when it
 * started, so requests made in parallel share a depth and a request that waits for
 * another's answer is one deeper. The depth is the number of round trips a caller waited
 * for, measured by order of events, not by time.
 */
import type { LtxFileInfo, ReplicaClient } from '../../lib/storage/types.js';
import { CountingClient } from './replica-builder.js';

/** One request seen by a {@link TracingClient}. */
export interface TracedRequest {
  /** `LIST <level>`, `RANGE <key> <offset>+<length>` or `KEYS <prefix>`. */
  what: string;
  /** Its round trip, from 1. */
  depth: number;
}

/** Counts requests, LISTs per level, and round trips (see the module comment). */
export class TracingClient extends CountingClient {
  /** Every request since the last {@link restart}, in the order they started. */
  readonly requests: TracedRequest[] = [];
  /** LIST requests per level since the last {@link restart}. */
  readonly listsByLevel = new Map<number, number>();
  /** The deepest request that has finished since the last {@link restart}. */
  #finished = 0;

  constructor(inner: ReplicaClient) {
    super(inner);
    if (inner.listKeys !== undefined) {
      const listKeys = inner.listKeys.bind(inner);
      this.listKeys = (prefix, limit) => this.#trace(`KEYS ${prefix}`, () => listKeys(prefix, limit));
    }
  }

  /** listKeys of the inner client (when it has one), traced. */
  listKeys?: (prefix: string, limit: number) => Promise<string[]>;

  /** The most round trips any request waited for. */
  get depth(): number {
    return this.requests.reduce((max, r) => Math.max(max, r.depth), 0);
  }

  /** LIST requests of every level. */
  get listCount(): number {
    let n = 0;
    for (const v of this.listsByLevel.values()) n += v;
    return n;
  }

  /** Forget what was traced: the next request is at depth 1. */
  restart(): void {
    this.requests.length = 0;
    this.listsByLevel.clear();
    this.#finished = 0;
    this.reset();
  }

  async #trace<T>(what: string, run: () => Promise<T>): Promise<T> {
    const depth = this.#finished + 1;
    this.requests.push({ what, depth });
    try {
      return await run();
    } finally {
      this.#finished = Math.max(this.#finished, depth);
    }
  }

  override listLtxFiles(level: number, options?: { seekTXID?: number }): Promise<LtxFileInfo[]> {
    this.listsByLevel.set(level, (this.listsByLevel.get(level) ?? 0) + 1);
    return this.#trace(`LIST ${level}`, () => super.listLtxFiles(level, options));
  }

  override readRange(key: string, offset: number, length: number, into?: Uint8Array): Promise<Uint8Array> {
    return this.#trace(`RANGE ${key} ${offset}+${length}`, () => super.readRange(key, offset, length, into));
  }
}
