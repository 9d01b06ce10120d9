/**
 * A worker thread at the far end of a call lane (vfs/worker/call-lane.ts), for
 * test/vfs/worker-call-lane.test.ts: it blocks on the lane and answers each batch with
 * the calls' parameters (`{ echo: params }`); a call whose first parameter is `'gated'`
 * waits until the test opens the gate (stores 1 in the gate's first word and notifies);
 * SQL `'stop'` ends it. Messages on its parentPort are echoed back (`{ echo: message }`),
 * after which it listens again. Posts `'ready'` first.
 * `workerData`: `{ buffer: SharedArrayBuffer; callBytes: number; spin: number; gate: SharedArrayBuffer }`.
 */
import { parentPort, workerData } from 'node:worker_threads';
import { LaneWorker } from '../../vfs/worker/call-lane.js';

const { buffer, callBytes, spin, gate } = workerData as { buffer: SharedArrayBuffer; callBytes: number; spin: number; gate: SharedArrayBuffer };
const gateWord = new Int32Array(gate);
const lane = new LaneWorker(buffer, callBytes, spin);
const port = parentPort!;

function serve(): void {
  for (;;) {
    const calls = lane.listen();
    if (calls === undefined) return;
    const first = calls[0] as unknown as { sql: string; params: unknown[] };
    if (first.sql === 'stop') {
      lane.answer([]);
      return;
    }
    if (first.params[0] === 'gated') Atomics.wait(gateWord, 0, 0);
    lane.answer(calls.map((c) => ({ type: 'result', id: c.id, value: { echo: (c as unknown as { params: unknown }).params } })));
  }
}

port.on('message', (message: unknown) => {
  lane.mailRead();
  port.postMessage({ echo: message });
  serve();
});
port.postMessage('ready');
serve();
