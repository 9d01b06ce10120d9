/** How response bodies are collected: with and without a Content-Length, and cut short. */
import t, { type Test } from 'tap';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { acquirePool, sendRequest } from '../../../lib/storage/s3-http.js';

async function serve(t: Test, handler: Parameters<typeof createServer>[1]): Promise<string> {
  const server: Server = createServer(handler);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  t.teardown(() => new Promise<void>((resolve) => server.close(() => resolve())));
  return `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
}

t.test('a chunked body without a length is concatenated; a body with one is collected into one buffer', async (t) => {
  const origin = await serve(t, (req, res) => {
    if (req.url === '/one') {
      res.writeHead(200, { 'transfer-encoding': 'chunked' });
      res.end(Buffer.alloc(10, 9));
    } else if (req.url === '/chunked') {
      res.writeHead(200); // no content-length: chunked transfer encoding
      res.write(Buffer.alloc(3000, 1));
      setTimeout(() => res.end(Buffer.alloc(5000, 2)), 5);
    } else {
      const body = Buffer.concat([Buffer.alloc(70_000, 3), Buffer.alloc(30_000, 4)]);
      res.writeHead(200, { 'content-length': String(body.length) });
      res.write(body.subarray(0, 50_000));
      setTimeout(() => res.end(body.subarray(50_000)), 5);
    }
  });
  const lease = acquirePool(origin, false);
  t.teardown(() => lease.release());
  const chunked = await sendRequest(lease.pool, { method: 'GET', path: '/chunked', headers: {} }, 5000, new AbortController().signal);
  t.equal(chunked.body.length, 8000);
  t.equal(chunked.body[0], 1);
  t.equal(chunked.body[7999], 2);
  const one = await sendRequest(lease.pool, { method: 'GET', path: '/one', headers: {} }, 5000, new AbortController().signal);
  t.same([...one.body], Array(10).fill(9), 'one chunk, no length');
  const sized = await sendRequest(lease.pool, { method: 'GET', path: '/sized', headers: {} }, 5000, new AbortController().signal);
  t.equal(sized.body.length, 100_000);
  t.equal(sized.body[69_999], 3);
  t.equal(sized.body[99_999], 4);
});
