/**
 * One {@link ReplicaReader} per replica per process: connections to the same replica
 * URL share its page cache, fetcher and poller (reference counted; the last release
 * closes it). The first opener's reader options (cache size, poll interval, …) apply to
 * all later sharers; pass `shared: false` to `openDatabase` for a private reader.
 */
import { backendOptionsOf, openReplicaClient, type BackendOptions } from '../storage/url.js';
import { ReplicaReader, type ReplicaReaderOptions } from './replica-reader.js';

interface Entry {
  reader: Promise<ReplicaReader>;
  refs: number;
}

const readers = new Map<string, Entry>();

/** A reader lease: the reader and the function that gives it back. */
export interface ReaderLease {
  reader: ReplicaReader;
  /** Give the reader back (idempotent); the last release closes it. */
  release(): Promise<void>;
}

/**
 * Open (or join) the shared reader of a replica URL.
 * @param url as {@link openReplicaClient} takes it; the key is the client's normalized URL.
 * @throws as {@link openReplicaClient} and {@link ReplicaReader.open}; a failed open is not kept.
 */
export async function acquireReader(
  url: string | undefined,
  options: ReplicaReaderOptions & BackendOptions & { env?: NodeJS.ProcessEnv; shared?: boolean; create?: boolean } = {},
): Promise<ReaderLease> {
  const client = await openReplicaClient(url, { ...backendOptionsOf(options), env: options.env, create: options.create });
  if (options.shared === false) return leaseOf(await openOwned(client, options), async (r) => r.close());
  const key = client.url;
  let entry = readers.get(key);
  const joined = entry !== undefined;
  if (entry === undefined) {
    entry = { reader: openOwned(client, options), refs: 0 };
    readers.set(key, entry);
    const e = entry;
    e.reader.catch(() => { if (readers.get(key) === e) readers.delete(key); });
  }
  // Counted before any await: a release meanwhile must not close the reader this joins.
  entry.refs++;
  const e = entry;
  if (joined) await client.close();
  let reader: ReplicaReader;
  try {
    reader = await e.reader;
  } catch (err) {
    e.refs--;
    throw err;
  }
  return leaseOf(reader, async (r) => {
    if (--e.refs > 0) return;
    if (readers.get(key) === e) readers.delete(key);
    await r.close();
  });
}

async function openOwned(client: Awaited<ReturnType<typeof openReplicaClient>>, options: ReplicaReaderOptions): Promise<ReplicaReader> {
  try {
    return await ReplicaReader.open(client, options);
  } catch (err) {
    await client.close();
    throw err;
  }
}

function leaseOf(reader: ReplicaReader, close: (r: ReplicaReader) => Promise<void>): ReaderLease {
  let released: Promise<void> | undefined;
  return { reader, release: () => (released ??= close(reader)) };
}

/** Replica URLs with a shared reader open now (for tests and diagnostics). */
export function sharedReaderUrls(): string[] {
  return [...readers.keys()];
}
