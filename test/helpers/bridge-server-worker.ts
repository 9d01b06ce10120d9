/**
 * A page-bridge server in a worker thread, over database bytes (no replica): what the
 * bridge tests (test/bridge/) block on from the main thread. Started by
 * {@link startBridgeServer} (test/helpers/bridge-server.ts), it serves one channel from a
 * {@link BytesSource} and takes control messages on its parentPort:
 *
 * - `{ type: 'stall', on }`: from now on reads hang (until `stall` off, which releases them);
 * - `{ type: 'fail', error, pgno? }`: reads fail with `error` (a serialized LtxvfsError);
 * - `{ type: 'setBytes', bytes }`: a new version; the changed pages are told exactly;
 * - `{ type: 'delay', ms }`: reads answer after `ms`;
 * - `{ type: 'counters' }`: answers the server's counters and the source's call counts.
 *
 * Every `transactionOpen` call of the server (its client's transaction ended or reads
 * again) is recorded in order and answered in each ack as `transactionOpen`.
 *
 * Every control message is answered with `{ type: 'ack', … }`. Its connection's sink counts
 * `reserve` and `unreserve` calls in the shared `sinkCalls` ([0], [1]); it takes no commit.
 */
import { parentPort, workerData, type MessagePort } from 'node:worker_threads';
import { ChannelServer, type ServedConnection } from '../../lib/bridge/page-server.js';
import { deserializeError, type SerializedError } from '../../lib/bridge/protocol.js';
import type { PageVersion } from '../../lib/read/page-source.js';
import { BytesSource, type BytesVersion } from './bytes-source.js';

const { bytes, buffer, port, sinkCalls, into } = workerData as { bytes: Uint8Array; buffer: SharedArrayBuffer; port: MessagePort; sinkCalls: Int32Array; into: boolean };
const source = new BytesSource(bytes, { txid: 1 });
const listeners = new Set<() => void>();
let stalled: (() => void)[] | undefined;
let delayMs = 0;
const transactionOpen: boolean[] = [];
let readPageIntoCalls = 0;

const conn: ServedConnection = {
  acquire: () => source.acquire(),
  release: (v) => source.release(v),
  transactionOpen: (open) => { transactionOpen.push(open); },
  peek: () => source.current,
  readPage: (version, pgno) => {
    const page = source.readPage(version, pgno);
    if (stalled !== undefined) {
      const s = stalled;
      return new Promise<Uint8Array>((resolve, reject) => s.push(() => Promise.resolve(page).then(resolve, reject)));
    }
    if (delayMs > 0) return new Promise((resolve) => setTimeout(() => resolve(page), delayMs));
    return page;
  },
  // With `into`: even pages copied straight into the answer, odd ones left to readPage.
  readPageInto: into ? (version, pgno, dst) => {
    if (pgno % 2 !== 0 || stalled !== undefined || delayMs > 0) return false;
    const { bytes: b, pageSize } = version as BytesVersion;
    dst.set(b.subarray((pgno - 1) * pageSize, pgno * pageSize));
    readPageIntoCalls++;
    return true;
  } : undefined,
  changedPages: (from: PageVersion, to: PageVersion) => {
    const a = from as BytesVersion;
    const b = to as BytesVersion;
    if (a.pageSize !== b.pageSize) return 'all';
    const changed: number[] = [];
    for (let pgno = 1; pgno <= Math.max(a.commit, b.commit); pgno++) {
      const x = a.bytes.subarray((pgno - 1) * a.pageSize, pgno * a.pageSize);
      const y = b.bytes.subarray((pgno - 1) * b.pageSize, pgno * b.pageSize);
      if (x.length !== y.length || x.some((v, i) => v !== y[i])) changed.push(pgno);
    }
    return changed;
  },
  onChange: (listener) => {
    listeners.add(listener);
    return () => listeners.delete(listener);
  },
  functions: [{ name: 'answer', nArgs: 1, directOnly: false, call: ([x]) => (typeof x === 'number' ? x * 2 : null) }],
  pragma: (name, value) => (name === 'echo' ? `echo:${value ?? ''}` : undefined),
  stats: () => ({ txid: source.current.txid }),
  // Writes are not served (commit fails); reserve and unreserve are counted in shared memory, [0] and [1], which the test reads at once.
  sink: {
    reserve: () => { Atomics.add(sinkCalls, 0, 1); },
    unreserve: () => { Atomics.add(sinkCalls, 1, 1); },
    commit: () => Promise.reject(new Error('the test server does not take commits')),
  },
};

const server = new ChannelServer({ buffer, port }, conn);

parentPort!.on('message', (msg: { type: string; on?: boolean; error?: SerializedError; pgno?: number; bytes?: Uint8Array; ms?: number }) => {
  switch (msg.type) {
    case 'stall':
      if (msg.on === true) {
        stalled ??= [];
      } else {
        const waiting = stalled ?? [];
        stalled = undefined;
        for (const go of waiting) go();
      }
      break;
    case 'fail':
      source.failWith(msg.error === undefined ? undefined : deserializeError(msg.error), { pgno: msg.pgno });
      break;
    case 'setBytes':
      source.setBytes(msg.bytes!);
      for (const l of listeners) l();
      break;
    case 'delay':
      delayMs = msg.ms ?? 0;
      break;
    default:
      break;
  }
  parentPort!.postMessage({ type: 'ack', counters: { ...server.counters }, readPageCalls: source.readPageCalls, readPageIntoCalls, pinned: source.pinnedCount, transactionOpen });
});
