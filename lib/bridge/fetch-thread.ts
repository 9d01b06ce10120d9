/**
 * The process's fetch thread (lib/bridge/fetch-worker.ts), seen from the thread that
 * runs a blocking SQLite (the sql.js adapter): started on first use, shared by every
 * connection, and `unref`'d while no open is pending, so it never keeps the process
 * alive. {@link openFetchChannel} opens a replica connection there and returns the
 * client's end of its bridge channel.
 */
import { MessageChannel, type Worker } from 'node:worker_threads';
import { LtxvfsError } from '../../ltx/errors.js';
import type { FetchOpenOptions, FetchWorkerReply, FetchWorkerRequest } from './fetch-worker.js';
import { deserializeError, newChannelBuffer, type BridgeChannel } from './protocol.js';
import { siblingModule, spawnWorker } from './spawn-worker.js';

/** A connection opened in the fetch thread. */
export interface FetchChannel {
  /** The client's end of the bridge channel. */
  channel: BridgeChannel;
  /** The replica URL (normalized). */
  label: string;
  /** Whether writes may be attempted (the lease still decides). */
  writable: boolean;
  /** The connection's SQL functions (called through the bridge). */
  functions: { name: string; nArgs: number; directOnly: boolean }[];
}

let worker: Worker | undefined;
let nextId = 1;
const pending = new Map<number, { resolve: (r: FetchWorkerReply) => void; reject: (err: unknown) => void }>();

function fetchWorker(): Worker {
  if (worker !== undefined) return worker;
  const w = spawnWorker(siblingModule(import.meta.url, 'fetch-worker'));
  w.unref();
  w.on('message', (reply: FetchWorkerReply) => {
    const waiter = pending.get(reply.id);
    if (waiter === undefined) return;
    settle(reply.id);
    waiter.resolve(reply);
  });
  const lost = (err: Error): void => {
    if (worker === w) worker = undefined;
    for (const [id, waiter] of pending) {
      settle(id);
      waiter.reject(err);
    }
  };
  w.on('error', lost);
  w.on('exit', (code) => lost(new LtxvfsError('LTXVFS_ERR_CLOSED', `the fetch thread exited (code ${code})`)));
  worker = w;
  return w;
}

function settle(id: number): void {
  pending.delete(id);
  if (pending.size === 0) worker?.unref();
}

/**
 * Open `url` in the fetch thread and return the client end of its bridge channel.
 * @param payloadBytes capacity of the channel's answer buffer.
 * @throws as `openDatabase` (the fetch thread's error, rebuilt: same code, key, message).
 */
export async function openFetchChannel(url: string | undefined, options: FetchOpenOptions, payloadBytes?: number): Promise<FetchChannel> {
  const w = fetchWorker();
  const buffer = newChannelBuffer(payloadBytes);
  const { port1, port2 } = new MessageChannel();
  const id = nextId++;
  const reply = await new Promise<FetchWorkerReply>((resolve, reject) => {
    if (pending.size === 0) w.ref();
    pending.set(id, { resolve, reject });
    const req: FetchWorkerRequest = { type: 'open', id, url, options: cloneable(options), buffer, port: port2 };
    w.postMessage(req, [port2]);
  });
  if (reply.type === 'failed') {
    port1.close();
    throw deserializeError(reply.error);
  }
  return { channel: { buffer, port: port1 }, label: reply.label, writable: reply.writable, functions: reply.functions };
}

/** `options` without function values (they cannot cross threads). */
function cloneable(options: FetchOpenOptions): FetchOpenOptions {
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(options)) if (typeof v !== 'function') out[k] = v;
  return out as FetchOpenOptions;
}
