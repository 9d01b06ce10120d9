/**
 * The fetch thread: a worker that holds replica readers (shared per replica through
 * lib/read/registry.ts, as in any thread) and serves bridge channels for SQLite running in
 * another thread that blocks — the sql.js adapter runs SQLite on the main thread, so its
 * pages must come from here. One fetch worker per process serves every such connection
 * (lib/bridge/fetch-thread.ts starts it).
 *
 * Messages (parentPort): {@link FetchWorkerRequest} in, {@link FetchWorkerReply} out. A
 * channel lives until its client sends `close` (or its port closes); the reader lease is
 * released then.
 */
import { parentPort, type MessagePort } from 'node:worker_threads';
import { connectReplica } from '../connection/connect.js';
import type { ReplicaReaderOptions } from '../read/replica-reader.js';
import type { S3ReplicaOptions } from '../storage/s3/index.js';
import type { BackendOptions } from '../storage/url.js';
import type { WriterOptions } from '../write/writer.js';
import { ChannelServer } from './page-server.js';
import { serializeError, type SerializedError } from './protocol.js';
import { serveReplicaConnection } from './served-connection.js';

/** Options a connection is opened with in the fetch thread (structured-clone safe: no functions). */
export interface FetchOpenOptions extends Omit<ReplicaReaderOptions, 'now'>, WriterOptions, Omit<BackendOptions, 's3'> {
  env?: Record<string, string | undefined>;
  s3?: Omit<S3ReplicaOptions, 'env' | 'fetch'>;
  shared?: boolean;
  at?: string;
  readOnly?: boolean;
  create?: boolean;
}

/** Requests to the fetch thread. */
export type FetchWorkerRequest = {
  type: 'open';
  id: number;
  url: string | undefined;
  options: FetchOpenOptions;
  /** The channel: its buffer, and the server's port (transferred). */
  buffer: SharedArrayBuffer;
  port: MessagePort;
};

/** Answers of the fetch thread. */
export type FetchWorkerReply =
  | { type: 'opened'; id: number; label: string; writable: boolean; functions: { name: string; nArgs: number; directOnly: boolean }[] }
  | { type: 'failed'; id: number; error: SerializedError };

const port = parentPort!;

async function open(req: FetchWorkerRequest): Promise<FetchWorkerReply> {
  const { options } = req;
  const connection = await connectReplica(req.url, { ...options, env: options.env as NodeJS.ProcessEnv | undefined, view: 'bridged' });
  const served = serveReplicaConnection(connection);
  // Lives until the client's `close` (or the port closing): the listener it adds keeps it.
  new ChannelServer({ buffer: req.buffer, port: req.port }, served);
  return {
    type: 'opened',
    id: req.id,
    label: connection.reader.client.url,
    writable: connection.writable,
    functions: connection.functions.map((f) => ({ name: f.name, nArgs: f.nArgs, directOnly: f.directOnly })),
  };
}

port.on('message', (req: FetchWorkerRequest) => {
  if (req.type !== 'open') return;
  open(req).then(
    (reply) => port.postMessage(reply),
    (err: unknown) => {
      req.port.close();
      port.postMessage({ type: 'failed', id: req.id, error: serializeError(err) } satisfies FetchWorkerReply);
    },
  );
});
