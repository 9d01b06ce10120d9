/**
 * A worker thread at the far end of a call lane (vfs/worker-call-lane.ts), for
 * test/vfs/worker-call-lane.test.ts: it blocks on the lane and answers each batch with
 * the calls' parameters (`{ echo: params }`); a call whose first parameter is `'slow'`
 * takes 30 ms; SQL `'stop'` ends it. Messages on its parentPort are echoed back
 * (`{ echo: message }`), after which it listens again. Posts `'ready'` first.
 * `workerData`: `{ buffer: SharedArrayBuffer; callBytes: number; spin: number }`.
 */
import { parentPort, workerData } from 'node:worker_threads';
import { LaneWorker } from '../../vfs/worker-call-lane.js';

const { buffer, callBytes, spin } = workerData as { buffer: SharedArrayBuffer; callBytes: number; spin: number };
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
    const end = Date.now() + (first.params[0] === 'slow' ? 30 : 0);
    while (Date.now() < end);
    lane.answer(calls.map((c) => ({ type: 'result', id: c.id, value: { echo: (c as { params: unknown }).params } })));
  }
}

port.on('message', (message: unknown) => {
  lane.mailRead();
  port.postMessage({ echo: message });
  serve();
});
port.postMessage('ready');
serve();
