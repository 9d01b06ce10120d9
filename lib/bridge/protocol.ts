/**
 * The synchronous page bridge: what the two sides agree on (docs/architecture.md, performance
 * principles). SQLite runs in one thread and must get a page *synchronously*; the
 * replica's reader (fetcher, cache, poller, writer) runs in another thread, on an event
 * loop. A {@link BridgeChannel} joins one SQLite connection to its server:
 *
 * - a `MessagePort` carries requests (client → server): small structured-clone objects,
 *   {@link BridgeRequest};
 * - a `SharedArrayBuffer` carries the answer (server → client): control words, then a
 *   payload (page bytes, or JSON). The client blocks on `Atomics.wait` on the state word,
 *   never longer than its timeout; the server writes the answer and `Atomics.notify`s.
 *
 * ## The state word, and why a late answer cannot corrupt a later one
 *
 * `IDLE → WAITING` (client, before posting request `seq`) `→ WRITING` (server, by
 * compare-and-swap, only from `WAITING`) `→ DONE` (server, after writing payload,
 * `RESP_SEQ = seq`, status) `→ IDLE` (client, after copying the payload out).
 * A client that times out swaps `WAITING → IDLE` and gives up; an answer arriving after
 * that finds `IDLE`, fails its compare-and-swap and is dropped unwritten. An answer for an
 * older `seq` that wins the swap while the client waits for a newer one puts `WAITING`
 * back without writing. So the payload is only ever written for the request the client
 * is waiting for, and only while it waits.
 *
 * ## Versions without a round trip
 *
 * The server publishes, per channel, the id of the version a new read transaction would
 * get (`PUBLISHED`) and until when that answer is known to be fresh (`FRESH_UNTIL`, ms
 * since the epoch). A client whose last acquired version has that id, before that time,
 * starts its transaction on it without a message: in steady state a read transaction
 * costs no crossing at all. Anything else (a new version, time travel, staleness not
 * checked for a while) takes an `acquire` round trip.
 *
 * Engine-neutral: nothing here imports an engine (the client side lives in vfs/).
 */
import { LtxvfsError, type LtxvfsErrorCode } from '../../ltx/errors.js';

/** Int32 control words at the start of the buffer. */
export const CTL = {
  /** {@link STATE} of the exchange. */
  STATE: 0,
  /** Sequence number of the request the client waits for. */
  REQ_SEQ: 1,
  /** Sequence number of the request the payload answers. */
  RESP_SEQ: 2,
  /** {@link STATUS} of the answer. */
  STATUS: 3,
  /** Bytes of payload. */
  LENGTH: 4,
  /** Pages in the payload of a read answer. */
  COUNT: 5,
  /** Id of the version a new read transaction would get now (0: ask). */
  PUBLISHED: 6,
} as const;

/** Index of `FRESH_UNTIL` in a BigInt64Array over the control block (byte 32). */
export const FRESH_UNTIL_INDEX = 4;

/** Bytes of the control block; the payload follows. */
export const CONTROL_BYTES = 64;

/** Values of the state word. */
export const STATE = { IDLE: 0, WAITING: 1, WRITING: 2, DONE: 3 } as const;

/** Values of the status word. */
export const STATUS = { OK: 0, ERROR: 1 } as const;

/** Default payload capacity: 1 MiB (16 pages of 64 KiB, 256 of 4 KiB). */
export const DEFAULT_PAYLOAD_BYTES = 1024 * 1024;

/**
 * Default time a blocked thread waits for an answer: 45 s, longer than the S3 client's
 * retry budget plus one request (docs/s3.md: 30 s + 10 s), so a timeout means the fetch
 * side is stuck, not that storage is slow.
 */
export const DEFAULT_BRIDGE_TIMEOUT_MS = 45_000;

/**
 * How long a published version stays usable without asking: 1 s. The server checks the
 * reader's staleness bound (`LTXVFS_ERR_STALE`) at every `acquire` round trip, so a
 * client notices a stale reader at most this long after a connection in process would.
 */
export const FRESH_WINDOW_MS = 1000;

/** Both ends of a channel: what a client gets, and what its server gets. */
export interface BridgeChannel {
  /** Control block + payload. */
  readonly buffer: SharedArrayBuffer;
  /** Requests travel here (client → server). */
  readonly port: MessagePortLike;
}

/** The part of `MessagePort` (node:worker_threads) the bridge uses. */
export interface MessagePortLike {
  postMessage(value: unknown, transferList?: readonly ArrayBuffer[]): void;
  on(event: 'message' | 'close', listener: (value: unknown) => void): unknown;
  off?(event: 'message' | 'close', listener: (value: unknown) => void): unknown;
  close?(): void;
  unref?(): void;
  ref?(): void;
}

/** A new channel buffer with room for `payloadBytes` of answer. */
export function newChannelBuffer(payloadBytes: number = DEFAULT_PAYLOAD_BYTES): SharedArrayBuffer {
  return new SharedArrayBuffer(CONTROL_BYTES + payloadBytes);
}

/** A version as it crosses the bridge. */
export interface VersionInfo {
  /** Id the server gave the version (process-unique on the server side, > 0). */
  id: number;
  txid: number;
  pageSize: number;
  commit: number;
  /** ms since the epoch. */
  timestamp: number;
}

/**
 * What the client's local page cache must drop when it moves from its previous version
 * to a new one: the page numbers whose contents differ, or `'all'`.
 */
export type Evictions = readonly number[] | 'all';

/** An answer that moves the client to a (possibly) new version. */
export interface VersionAnswer {
  version: VersionInfo;
  evict: Evictions;
}

/** An answer to `pragma` or `function`. */
export interface CallAnswer {
  /** PRAGMA: text (one row) or `null` (no row). Function: a SQL value ({@link toWire}). */
  result: WireValue;
  /** PRAGMA only: not a PRAGMA the connection answers (SQLite handles it). */
  unhandled?: boolean;
}

/** Requests (client → server over the port). */
export type BridgeRequest =
  /** Start a read transaction: the version to use, pinned by the server until the next acquire. */
  | { op: 'acquire'; seq: number }
  /**
   * Page `pgno` of the acquired version `versionId`; with `sequential`, also the pages
   * after it that the server has cached (as many as fit), so a scan crosses once per batch.
   */
  | { op: 'read'; seq: number; versionId: number; pgno: number; sequential: boolean }
  /** SQLite takes RESERVED: may this connection write? (the lease; may wait). */
  | { op: 'reserve'; seq: number }
  /** The write transaction ended (no answer). */
  | { op: 'unreserve'; seq: number }
  /** Ship a transaction on the acquired version; answers the new version. */
  | { op: 'commit'; seq: number; versionId: number; pages: [pgno: number, data: Uint8Array][]; commit: number; pageSize: number }
  /** A PRAGMA on the database (`litestream_*`, `litevfs_*`). */
  | { op: 'pragma'; seq: number; name: string; value: string | null; inTransaction: boolean }
  /** A Litestream SQL function. */
  | { op: 'function'; seq: number; name: string; args: unknown[]; inTransaction: boolean }
  /** The connection's counters (the reader's `stats()`, JSON). */
  | { op: 'stats'; seq: number }
  /**
   * Wait for the verification of every file served (lib/read/verifier.ts); answers the
   * integrity failure as a {@link SerializedError}, or `null` when there is none.
   */
  | { op: 'verified'; seq: number }
  /**
   * The client's read transaction ended (no answer). Sent only after a transaction that sent
   * a request, so a transaction served from the client's own cache costs no message; the
   * server counts its pin as no open transaction until the next request (lib/bridge/page-server.ts).
   */
  | { op: 'ended' }
  /** The connection is closing (no answer). */
  | { op: 'close' };

/** The shape an error takes across threads. */
export interface SerializedError {
  name: string;
  message: string;
  code?: string | number;
  key?: string;
  sqliteCode?: number;
  status?: number;
  cause?: SerializedError;
}

/**
 * An error as plain data (structured-clone and JSON safe): name, message, `code`, and
 * the `LtxvfsError` fields, with `cause` serialized the same way (3 levels deep).
 */
export function serializeError(err: unknown, depth = 0): SerializedError {
  if (!(err instanceof Error)) return { name: 'Error', message: String(err) };
  const e = err as Error & { code?: unknown; key?: unknown; sqliteCode?: unknown; status?: unknown };
  const out: SerializedError = { name: e.name, message: e.message };
  if (typeof e.code === 'string' || typeof e.code === 'number') out.code = e.code;
  if (typeof e.key === 'string') out.key = e.key;
  if (typeof e.sqliteCode === 'number') out.sqliteCode = e.sqliteCode;
  if (typeof e.status === 'number') out.status = e.status;
  if (e.cause !== undefined && depth < 3) out.cause = serializeError(e.cause, depth + 1);
  return out;
}

/**
 * The error {@link serializeError} described: an `LtxvfsError` (same code, key,
 * `sqliteCode`, message) when it was one, else an `Error` with the same name, message
 * and `code`; causes likewise.
 */
export function deserializeError(s: SerializedError): Error {
  const cause = s.cause === undefined ? undefined : deserializeError(s.cause);
  if (s.name === 'LtxvfsError' && typeof s.code === 'string') {
    return new LtxvfsError(s.code as LtxvfsErrorCode, s.message, { key: s.key, sqliteCode: s.sqliteCode, status: s.status, cause });
  }
  const err = new Error(s.message, cause === undefined ? undefined : { cause });
  if (s.name !== 'Error') Object.defineProperty(err, 'name', { value: s.name, configurable: true, writable: true });
  if (s.code !== undefined) (err as Error & { code: unknown }).code = s.code;
  if (s.sqliteCode !== undefined) (err as Error & { sqliteCode: unknown }).sqliteCode = s.sqliteCode;
  return err;
}

/** A SQL value made JSON-safe for the bridge (bigint and bytes tagged). */
export type WireValue = string | number | null | { $bigint: string } | { $bytes: number[] };

/** `value` as JSON can carry it. */
export function toWire(value: unknown): WireValue {
  if (typeof value === 'bigint') return { $bigint: value.toString() };
  if (value instanceof Uint8Array) return { $bytes: Array.from(value) };
  if (value === undefined) return null;
  return value as string | number | null;
}

/** The value {@link toWire} encoded. */
export function fromWire(value: unknown): unknown {
  if (value !== null && typeof value === 'object') {
    if ('$bigint' in value) return BigInt((value as { $bigint: string }).$bigint);
    if ('$bytes' in value) return Uint8Array.from((value as { $bytes: number[] }).$bytes);
  }
  return value;
}
