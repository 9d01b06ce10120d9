/**
 * The write side of a connection: a {@link PageSink} joining a connection's view (time
 * travel makes it read-only) to the replica's {@link ReplicaWriter} (lease, commit), and
 * the LiteVFS lease PRAGMAs (FORMATS.md §6.3): `PRAGMA litevfs_acquire_lease` and
 * `PRAGMA litevfs_release_lease`.
 */
import type { ConnectionView } from './connection-view.js';
import type { PageIndex } from './page-index.js';
import type { PageSink, PageVersion } from './page-source.js';
import type { ReplicaWriter } from './writer.js';

/** A connection's sink: one per connection, so the writer can tell connections apart. */
export class ConnectionSink implements PageSink {
  readonly view: ConnectionView;
  readonly writer: ReplicaWriter;

  constructor(view: ConnectionView, writer: ReplicaWriter) {
    this.view = view;
    this.writer = writer;
  }

  /** See {@link PageSink.reserve}: refused on a time-travel view, else the writer's lease check. */
  reserve(): void | Promise<void> {
    this.view.assertWritable();
    return this.writer.reserve(this);
  }

  /** See {@link PageSink.unreserve}. */
  unreserve(): void {
    this.writer.unreserve(this);
  }

  /** See {@link PageSink.commit}. */
  async commit(base: PageVersion, pages: ReadonlyMap<number, Uint8Array>, commit: number, pageSize: number): Promise<PageVersion> {
    const version = await this.writer.commit({ base: base as PageIndex, pages, commit, pageSize });
    // Through the view, so that its pin count and `litestream_txid()` follow the new version.
    return this.view.pin(version);
  }
}

/**
 * The lease PRAGMAs of LiteVFS: `litevfs_acquire_lease` takes the lease (waiting for the
 * storage round trips), `litevfs_release_lease` gives it back. Both return no row.
 * @returns a PRAGMA handler: `undefined` for other names.
 */
export function leasePragma(writer: ReplicaWriter): (name: string) => Promise<null> | undefined {
  return (name) => {
    if (name === 'litevfs_acquire_lease') return writer.acquireLease().then(() => null);
    if (name === 'litevfs_release_lease') return writer.releaseLease().then(() => null);
    return undefined;
  };
}
