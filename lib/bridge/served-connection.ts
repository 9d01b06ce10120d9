/**
 * A connection to a replica (lib/connection/connect.ts, the same as the in-process engine
 * gets: view, time travel, writer, SQL surface) as a bridge channel serves it
 * (lib/bridge/page-server.ts), for an engine that runs in another thread.
 */
import type { PageIndex } from '../replica/page-index.js';
import type { PageVersion } from '../read/page-source.js';
import type { BridgedView } from '../connection/connection-view.js';
import type { ReplicaConnection } from '../connection/connect.js';
import type { ServedConnection } from './page-server.js';
import { changedPages } from './version-diff.js';

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
    readPage: (version, pgno) => view.readPage(version, pgno),
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
