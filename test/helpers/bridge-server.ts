/**
 * Starts test/helpers/bridge-server-worker.ts: a page-bridge server over database bytes
 * in a worker thread, so a test can block the main thread on the client end.
 */
import { MessageChannel } from 'node:worker_threads';
import { newChannelBuffer, serializeError, type BridgeChannel } from '../../lib/bridge/protocol.js';
import { siblingModule, spawnWorker } from '../../lib/bridge/spawn-worker.js';
import type { ChannelServerCounters } from '../../lib/bridge/page-server.js';

/** What the server worker answers to every control message. */
export interface BridgeServerAck {
  counters: ChannelServerCounters;
  /** `readPage` calls of the source (fetches the server made). */
  readPageCalls: number;
  /** `readPageInto` calls that copied a page (see {@link startBridgeServer}'s `into`). */
  readPageIntoCalls: number;
  /** Versions the source has pinned now. */
  pinned: number;
  /** The server's `transactionOpen` calls so far, in order. */
  transactionOpen: boolean[];
}

/** A running server worker. */
export interface BridgeServer {
  /** The client end of the channel. */
  channel: BridgeChannel;
  stall(on: boolean): Promise<BridgeServerAck>;
  fail(error: Error | undefined, pgno?: number): Promise<BridgeServerAck>;
  setBytes(bytes: Uint8Array): Promise<BridgeServerAck>;
  delay(ms: number): Promise<BridgeServerAck>;
  counters(): Promise<BridgeServerAck>;
  /** The server's sink calls so far, read from shared memory: [0] reserve, [1] unreserve. */
  sinkCalls: Int32Array;
  close(): Promise<void>;
}

/**
 * Serve `bytes` (a SQLite database) over a new channel from a worker. With `into`, its
 * connection also has `readPageInto`, which copies even-numbered pages (counted in
 * `readPageIntoCalls`) and leaves odd ones to `readPage`.
 */
export async function startBridgeServer(bytes: Uint8Array, payloadBytes?: number, into = false): Promise<BridgeServer> {
  const buffer = newChannelBuffer(payloadBytes);
  const { port1, port2 } = new MessageChannel();
  const sinkCalls = new Int32Array(new SharedArrayBuffer(8));
  const worker = spawnWorker(siblingModule(import.meta.url, 'bridge-server-worker'), {
    workerData: { bytes, buffer, port: port2, sinkCalls, into },
    transferList: [port2],
  });
  const control = (msg: object): Promise<BridgeServerAck> => new Promise((resolve, reject) => {
    const onMessage = (m: { type: string } & BridgeServerAck): void => {
      if (m.type !== 'ack') return;
      worker.off('message', onMessage);
      worker.off('error', reject);
      resolve(m);
    };
    worker.on('message', onMessage);
    worker.on('error', reject);
    worker.postMessage(msg);
  });
  // The worker has started once it answers.
  await control({ type: 'noop' });
  return {
    channel: { buffer, port: port1 },
    stall: (on) => control({ type: 'stall', on }),
    fail: (error, pgno) => control({ type: 'fail', error: error === undefined ? undefined : serializeError(error), pgno }),
    setBytes: (b) => control({ type: 'setBytes', bytes: b }),
    delay: (ms) => control({ type: 'delay', ms }),
    counters: () => control({ type: 'counters' }),
    sinkCalls,
    close: async () => {
      port1.close();
      await worker.terminate();
    },
  };
}
