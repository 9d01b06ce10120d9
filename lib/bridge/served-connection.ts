/**
 * A connection to a replica (lib/connection/connect.ts, the same as the in-process engine
 * gets: view, time travel, writer, SQL surface) as a bridge channel serves it
 * (lib/bridge/page-server.ts), for an engine that runs in another thread; and
 * {@link ServedConnection}, what a channel serves.
 */
import type { PageIndex } from '../replica/page-index.js';
import type { BridgedView } from '../connection/connection-view.js';
import type { ReplicaConnection } from '../connection/connect.js';
import type { PageSink, PageVersion } from '../read/page-source.js';
import type { SqlFunctionSpec } from '../connection/sql-surface.js';
import type { Evictions } from './protocol.js';
import { changedPages } from './version-diff.js';

/** What a channel serves: a connection's pages, versions, write sink and SQL surface. */
export interface ServedConnection {
  /**
   * Pin the version a new read transaction gets now (paired with one {@link release}).
   * @throws LtxvfsError e.g. `LTXVFS_ERR_STALE`, `LTXVFS_ERR_CLOSED`.
   */
  acquire(): PageVersion;
  /** Unpin a version. */
  release(version: PageVersion): void;
  /**
   * The client's transaction ended (`false`: its version stays pinned but no longer counts
   * as an open transaction, lib/read/replica-reader.ts `park`) or a new one reads (`true`).
   * Called in pairs, starting with `false`, and always back to `true` before the pinned
   * version's {@link release}.
   */
  transactionOpen?(open: boolean): void;
  /** See `PageSource.readPage`. */
  readPage(version: PageVersion, pgno: number): Uint8Array | Promise<Uint8Array>;
  /** See `PageSource.readPageInto`: a page at hand copied into `dst` (an answer's payload), no page allocated. */
  readPageInto?(version: PageVersion, pgno: number, dst: Uint8Array): boolean;
  /** The version {@link acquire} would pin now, without pinning it. */
  peek(): PageVersion;
  /** Pages whose contents differ between two versions (lib/bridge/version-diff.ts); default `'all'`. */
  changedPages?(from: PageVersion, to: PageVersion): Evictions;
  /** Where writes go; undefined for a read-only connection. */
  readonly sink?: PageSink;
  /** Answers PRAGMAs: text (one row), `null` (no row), `undefined` (not ours). */
  pragma?(name: string, value: string | null): string | null | undefined | Promise<string | null | undefined>;
  /** The connection's SQL functions. */
  readonly functions?: readonly SqlFunctionSpec[];
  /**
   * Called around a PRAGMA or function call: the version the client's open transaction
   * reads, or undefined outside a transaction (what `litestream_txid()` must report).
   */
  setTransactionVersion?(version: PageVersion | undefined): void;
  /** Subscribe to changes of {@link peek} (a new version, a time-travel target); returns the unsubscribe. */
  onChange?(listener: () => void): () => void;
  /** Counters to report to the client (`stats` requests); JSON-able. */
  stats?(): unknown;
  /**
   * Wait for the verification of every file served (`verified` requests, lib/read/verifier.ts):
   * the integrity failure, or undefined when there is none. Never rejects.
   */
  verified?(): Promise<Error | undefined>;
  /** The channel closed: release what the connection holds. */
  close?(): void | Promise<void>;
}

/** Options of {@link serveReplicaConnection}. */
export interface ServeReplicaOptions {
  /** Release the connection (its reader lease) when the channel closes (default true). */
  releaseOnClose?: boolean;
}

/** A served connection and its view. */
export interface ServedReplicaConnection extends ServedConnection {
  readonly view: BridgedView;
}

/**
 * Serve `connection` (from `connectReplica(url, { view: 'bridged' })`) over a bridge channel.
 */
export function serveReplicaConnection(connection: ReplicaConnection<BridgedView>, options: ServeReplicaOptions = {}): ServedReplicaConnection {
  const { reader, view } = connection;
  return {
    view,
    sink: connection.sink,
    functions: connection.functions,
    acquire: () => view.acquire(),
    release: (version) => view.release(version),
    transactionOpen: (open) => (open ? reader.unpark() : reader.park()),
    readPage: (version, pgno) => view.readPage(version, pgno),
    readPageInto: (version, pgno, dst) => view.readPageInto(version, pgno, dst),
    // A reader that found a corrupt file publishes nothing: the client asks, and gets the error.
    peek: () => {
      if (reader.integrityFailure !== undefined) throw reader.integrityFailure;
      return view.version;
    },
    changedPages: (from: PageVersion, to: PageVersion) => changedPages(from as PageIndex, to as PageIndex),
    pragma: connection.pragma,
    stats: () => connection.stats(),
    verified: async () => {
      await reader.verified().catch(() => undefined);
      return reader.integrityFailure;
    },
    setTransactionVersion: (version) => {
      view.transactionVersion = version as PageIndex | undefined;
    },
    onChange: (listener) => {
      reader.on('version', listener);
      reader.on('stale', listener);
      reader.on('corrupt', listener);
      return () => {
        reader.off('version', listener);
        reader.off('stale', listener);
        reader.off('corrupt', listener);
      };
    },
    close: options.releaseOnClose === false ? undefined : () => connection.release(),
  };
}
