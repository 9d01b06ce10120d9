/**
 * spawnWorker inside an app's bundle (ltx/bundled.ts says so): the worker engine's
 * thread starts from the embedded module text as a data: URL, a worker with no embedded
 * copy is an LTXVFS_ERR_UNSUPPORTED naming the file. Outside a bundle: the module file.
 * The bundle detection and the embedded text are replaced (a real worker thread runs).
 */
import t from 'tap';
import { once } from 'node:events';
import type { Worker } from 'node:worker_threads';

const WORKER_CODE = `import { parentPort, workerData } from 'node:worker_threads';
parentPort.postMessage({ from: 'embedded', workerData, url: import.meta.url.slice(0, 21) });`;

/** spawn-worker as in a bundle, its callers passing `embedded` as the worker engine's thread (vfs/worker/main.ts) does. */
async function bundled(embedded: string | undefined): Promise<typeof import('../../lib/bridge/spawn-worker.js')> {
  return t.mockImport<typeof import('../../lib/bridge/spawn-worker.js')>('../../lib/bridge/spawn-worker.js', {
    '../../ltx/bundled.js': { IN_BUNDLE: true },
  }).then((m) => ({ ...m, spawnWorker: (entry: URL, options?: import('node:worker_threads').WorkerOptions) => m.spawnWorker(entry, options, entry.pathname.endsWith('/main.js') ? embedded : undefined) }));
}

async function firstMessage(worker: Worker): Promise<unknown> {
  const [message] = (await once(worker, 'message')) as [unknown];
  await worker.terminate();
  return message;
}

t.test("in a bundle, the worker engine's thread starts from the embedded module", async (t) => {
  const { spawnWorker, siblingModule } = await bundled(WORKER_CODE);
  const entry = siblingModule('file:///var/task/index.mjs', 'main');
  t.equal(entry.href, 'file:///var/task/main.js', 'the sibling a bundle would look for');
  const message = await firstMessage(spawnWorker(entry, { workerData: { n: 7 } }));
  t.same(message, { from: 'embedded', workerData: { n: 7 }, url: 'data:text/javascript;' });
});

t.test('in a bundle, a worker with no embedded copy fails naming the file', async (t) => {
  const { spawnWorker, siblingModule } = await bundled(WORKER_CODE);
  const entry = siblingModule('file:///var/task/index.mjs', 'fetch-worker');
  t.throws(() => spawnWorker(entry), {
    name: 'LtxvfsError',
    code: 'LTXVFS_ERR_UNSUPPORTED',
    key: '/var/task/fetch-worker.js',
    message: /worker module missing.*openSqlJs.*docs\/deploy\.md/,
  });
});

t.test("in a bundle built without the embedded thread, the engine's thread fails the same way", async (t) => {
  const { spawnWorker } = await bundled(undefined);
  t.throws(() => spawnWorker(new URL('file:///var/task/main.js')), { code: 'LTXVFS_ERR_UNSUPPORTED', key: '/var/task/main.js' });
});

t.test('outside a bundle the module file runs', async (t) => {
  const { spawnWorker } = await import('../../lib/bridge/spawn-worker.js');
  const code = `import { parentPort } from 'node:worker_threads'; parentPort.postMessage('from the file');`;
  const entry = new URL(`data:text/javascript,${encodeURIComponent(code)}`);
  t.equal(await firstMessage(spawnWorker(entry)), 'from the file', 'the entry given, not an embedded copy');
});
