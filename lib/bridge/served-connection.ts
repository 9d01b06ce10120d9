/**
 * A connection to a shared replica reader, as a bridge channel serves it
 * (lib/bridge/page-server.ts): the same wiring as `openDatabase` gives the in-process
 * engine — a per-connection {@link ConnectionView} (time travel), the replica's writer
 * behind a {@link ConnectionSink} (lease, commit), the `litestream_*` and `litevfs_*`
 * PRAGMAs and the Litestream SQL functions — for an engine that runs in another thread.
 */
import type { PageIndex } from '../replica/page-index.js';
import type { PageVersion } from '../read/page-source.js';
import type { ReaderLease } from '../read/registry.js';
import { ConnectionView } from '../connection/connection-view.js';
import { litestreamFunctions, litestreamPragma } from '../connection/sql-surface.js';
import { writerFor, type WriterOptions } from '../write/writer.js';
import { ConnectionSink, leasePragma } from '../write/write-sink.js';
import type { ServedConnection } from './page-server.js';
import { changedPages } from './version-diff.js';
import { hydrationPragma } from '../hydrate/index.js';

/**
 * A view whose `visible` version (what `litestream_txid()`/`litestream_time()` report)
 * is set by the bridge: the client's open transaction's version during a call made
 * inside a transaction, else the version a new transaction would read. (The bridge keeps
 * the client's version pinned between transactions, so the view's own pin cannot say.)
 */
export class BridgedView extends ConnectionView {
  /** The version of the client's open transaction, during a call made inside one. */
  transactionVersion: PageIndex | undefined;

  override get visible(): PageIndex {
    return this.transactionVersion ?? this.version;
  }
}

/** Options of {@link serveReplicaConnection}. */
export interface ServeReplicaOptions extends WriterOptions {
  /** Accept writes (with the lease): default false. */
  writable?: boolean;
  /** Start at a past state: a TXID or a time (docs/formats.md §6.2); makes the connection read-only. */
  at?: string;
  /** Release the reader lease when the channel closes (default true). */
  releaseOnClose?: boolean;
}

/** A served connection and its view. */
export interface ServedReplicaConnection extends ServedConnection {
  readonly view: BridgedView;
}

/**
 * Serve one connection over `lease`'s reader.
 * @throws LtxvfsError `LTXVFS_ERR_USAGE` (bad `at`), `LTXVFS_ERR_EMPTY_REPLICA` (`at` before the history), storage errors.
 */
export async function serveReplicaConnection(lease: ReaderLease, options: ServeReplicaOptions = {}): Promise<ServedReplicaConnection> {
  const { reader } = lease;
  const view = new BridgedView(reader);
  if (options.at !== undefined) await view.setAt(options.at);
  const writable = options.writable === true && options.at === undefined;
  const writer = writable ? writerFor(reader, options) : undefined;
  const sink = writer === undefined ? undefined : new ConnectionSink(view, writer);
  const litestream = litestreamPragma(view);
  const leases = writer === undefined ? undefined : leasePragma(writer, view);
  const hydration = hydrationPragma(() => reader.hydration);
  return {
    view,
    sink,
    functions: litestreamFunctions(view),
    acquire: () => view.acquire(),
    release: (version) => view.release(version),
    readPage: (version, pgno) => view.readPage(version, pgno),
    // A reader that found a corrupt file publishes nothing: the client asks, and gets the error.
    peek: () => {
      if (reader.integrityFailure !== undefined) throw reader.integrityFailure;
      return view.version;
    },
    changedPages: (from: PageVersion, to: PageVersion) => changedPages(from as PageIndex, to as PageIndex),
    pragma: (name, value) => leases?.(name) ?? hydration(name, value) ?? litestream(name, value),
    stats: () => ({ ...reader.stats(), txid: view.version.txid, timeTravel: view.target !== undefined }),
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
    close: options.releaseOnClose === false ? undefined : () => lease.release(),
  };
}
