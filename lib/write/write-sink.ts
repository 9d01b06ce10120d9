/**
 * The write side of a connection: a {@link PageSink} joining a connection's view (time
 * travel makes it read-only) to the replica's {@link ReplicaWriter} (lease, commit), and
 * the LiteVFS lease PRAGMAs (docs/formats.md §6.3): `PRAGMA litevfs_acquire_lease` and
 * `PRAGMA litevfs_release_lease`.
 */
import { LtxvfsError } from '../../ltx/errors.js';
import type { PageIndex } from '../replica/page-index.js';
import type { PageSink, PageVersion } from '../read/page-source.js';
import type { ReplicaWriter } from './writer.js';

/**
 * What the write side needs of a connection's view — `ConnectionView`
 * (lib/connection/connection-view.ts) is one; declared here so that lib/write stays below
 * lib/connection (test/architecture.test.ts).
 */
export interface WritableView {
  /** @throws LtxvfsError `LTXVFS_ERR_READONLY` on a time-travel view. */
  assertWritable(): void;
  /** Pin `version` for the connection (its pin count and `litestream_txid()` follow it). */
  pin(version: PageIndex): PageVersion;
  /** The time-travel target, or undefined when following the newest state. */
  readonly target: unknown;
  /** The reader behind the view: its client's URL names the replica in errors. */
  readonly reader: { readonly client: { readonly url: string } };
}

/** A connection's sink: one per connection, so the writer can tell connections apart. */
export class ConnectionSink implements PageSink {
  readonly view: WritableView;
  readonly writer: ReplicaWriter;

  constructor(view: WritableView, writer: ReplicaWriter) {
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

  /** See {@link PageSink.commit}: answered at once when the writer commits without waiting (write-behind). */
  commit(base: PageVersion, pages: ReadonlyMap<number, Uint8Array>, commit: number, pageSize: number): PageVersion | Promise<PageVersion> {
    const version = this.writer.commit({ base: base as PageIndex, pages, commit, pageSize });
    // Through the view, so that its pin count and `litestream_txid()` follow the new version.
    return version instanceof Promise ? version.then((v) => this.view.pin(v)) : this.view.pin(version);
  }
}

/** The LiteVFS lease PRAGMAs (docs/formats.md §6.3). */
export const LEASE_PRAGMAS: ReadonlySet<string> = new Set(['litevfs_acquire_lease', 'litevfs_release_lease']);

/**
 * The lease PRAGMAs of LiteVFS: `litevfs_acquire_lease` takes the lease and catches up to
 * the newest TXID ({@link ReplicaWriter.acquireLease}), `litevfs_release_lease` gives it
 * back. Both return no row. On a connection fixed at a past state (`view` with a
 * time-travel target) both are refused: such a view cannot write.
 * @returns a PRAGMA handler: `undefined` for other names.
 * @throws LtxvfsError `LTXVFS_ERR_READONLY` (from the handler) on a time-travel view.
 */
export function leasePragma(writer: ReplicaWriter, view?: WritableView): (name: string) => Promise<null> | undefined {
  return (name) => {
    if (!LEASE_PRAGMAS.has(name)) return undefined;
    if (view?.target !== undefined) throw readOnlyPragma(name, view.reader.client.url, 'a time-travel view');
    return (name === 'litevfs_acquire_lease' ? writer.acquireLease() : writer.releaseLease()).then(() => null);
  };
}

/**
 * The error for a lease PRAGMA on a connection that cannot write.
 * @param why what the connection is: `a read-only connection`, `a time-travel view`.
 */
export function readOnlyPragma(name: string, url: string, why: string): LtxvfsError {
  return new LtxvfsError('LTXVFS_ERR_READONLY',
    `PRAGMA ${name} refused: ${url} is open as ${why}, which never writes or takes the write lease` +
    (why === 'a time-travel view' ? " (PRAGMA litestream_time = 'latest' to return)" : ''),
    { key: url });
}
