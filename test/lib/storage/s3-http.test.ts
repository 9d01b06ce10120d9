/** How response bodies are collected: with and without a Content-Length, and cut short. */
import t, { type Test } from 'tap';
import { createServer, type Server } from 'node:http';
import { createServer as createHttpsServer } from 'node:https';
import type { AddressInfo } from 'node:net';
import { randomBytes } from 'node:crypto';
import { acquirePool, sendRequest } from '../../../lib/storage/s3/http.js';

/** A self-signed certificate for 127.0.0.1 (P-256, valid until 2126), made for this test only. */
const TEST_KEY = `-----BEGIN PRIVATE KEY-----
MIGHAgEAMBMGByqGSM49AgEGCCqGSM49AwEHBG0wawIBAQQgXpe/vp8UfZ4st8Wt
sEAvYDqg/CpoMev9NrIMQwfy18ahRANCAATWsOxSjBFCpO0P8tSfQZiQ/VcIfVVQ
DG0gO0JKFkmrqwH7pb+zmMTwhtEzp6HucwfXerxomw8MFtePGYr3JtAH
-----END PRIVATE KEY-----
`;
const TEST_CERT = `-----BEGIN CERTIFICATE-----
MIIBkDCCATagAwIBAgIUbPoSrrdlbOEyBLpBPXwN8ZTLL4gwCgYIKoZIzj0EAwIw
FDESMBAGA1UEAwwJbG9jYWxob3N0MCAXDTI2MTEyMTE0MTIyNloYDzIxMjYxMDI4
MTQxMjI2WjAUMRIwEAYDVQQDDAlsb2NhbGhvc3QwWTATBgcqhkjOPQIBBggqhkjO
PQMBBwNCAATWsOxSjBFCpO0P8tSfQZiQ/VcIfVVQDG0gO0JKFkmrqwH7pb+zmMTw
htEzp6HucwfXerxomw8MFtePGYr3JtAHo2QwYjAdBgNVHQ4EFgQUCxWvMTMbgN9i
G+EG31gVEDKokxcwHwYDVR0jBBgwFoAUCxWvMTMbgN9iG+EG31gVEDKokxcwDwYD
VR0TAQH/BAUwAwEB/zAPBgNVHREECDAGhwR/AAABMAoGCCqGSM49BAMCA0gAMEUC
IFtow7pOXtHlsqBpMMJ1TeQyy/fA9L3JQ3h+x0t59UyAAiEAzd2DQBoDXyg8jDCJ
jyCjeSMl9YnpQUlVKxygv2Vi+3Y=
-----END CERTIFICATE-----
`;

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

t.test('a HEAD answer announces a length but has no body: nothing is allocated for it', async (t) => {
  const origin = await serve(t, (req, res) => {
    res.writeHead(200, { 'content-length': String(200 * 1024 * 1024), etag: '"e"' });
    res.end();
  });
  const lease = acquirePool(origin, false);
  t.teardown(() => lease.release());
  const head = await sendRequest(lease.pool, { method: 'HEAD', path: '/big', headers: {} }, 5000, new AbortController().signal);
  t.same([head.status, head.headers['content-length'], head.body.length], [200, String(200 * 1024 * 1024), 0]);
});

t.test('https: certificates are checked unless skipVerify', async (t) => {
  const server = createHttpsServer({ key: TEST_KEY, cert: TEST_CERT }, (req, res) => {
    res.writeHead(200, { 'content-length': '6' });
    res.end('secure');
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  t.teardown(() => new Promise<void>((resolve) => server.close(() => resolve())));
  const origin = `https://127.0.0.1:${(server.address() as AddressInfo).port}`;
  const insecure = acquirePool(origin, true);
  const verified = acquirePool(origin, false);
  t.teardown(async () => {
    await insecure.release();
    await verified.release();
  });
  t.not(insecure.pool, verified.pool, 'a pool each');
  const ok = await sendRequest(insecure.pool, { method: 'GET', path: '/', headers: {} }, 5000, new AbortController().signal);
  t.equal(Buffer.from(ok.body).toString(), 'secure', 'skipVerify accepts a self-signed certificate');
  await t.rejects(sendRequest(verified.pool, { method: 'GET', path: '/', headers: {} }, 5000, new AbortController().signal), { code: 'DEPTH_ZERO_SELF_SIGNED_CERT' });
});

t.test('a pool is for http(s) origins only', async (t) => {
  t.throws(() => acquirePool('ftp://127.0.0.1:21', false), { message: /http/ });
});

t.test('bodies come out whole, also from several connections at once, and into the buffer given', async (t) => {
  const blobs = Array.from({ length: 4 }, () => randomBytes(3 * 1024 * 1024 + 17));
  const origin = await serve(t, (req, res) => {
    const blob = blobs[Number(req.url?.slice(1))];
    res.writeHead(200, { 'content-length': String(blob.length) });
    // In pieces, so that reads and parsed chunks fall anywhere in the body.
    let at = 0;
    const next = (): void => {
      const end = Math.min(blob.length, at + 100_003);
      res.write(blob.subarray(at, end));
      at = end;
      if (at < blob.length) setImmediate(next);
      else res.end();
    };
    next();
  });
  const lease = acquirePool(origin, false);
  t.teardown(() => lease.release());
  const into = new Uint8Array(4 * 1024 * 1024);
  for (let round = 0; round < 2; round++) {
    const bodies = await Promise.all(blobs.map((_, i) => sendRequest(lease.pool, { method: 'GET', path: `/${i}`, headers: {} }, 20_000, new AbortController().signal)));
    for (const [i, b] of bodies.entries()) t.ok(Buffer.from(b.body).equals(blobs[i]), `round ${round}: body ${i} whole`);
    const mine = await sendRequest(lease.pool, { method: 'GET', path: '/2', headers: {}, into }, 20_000, new AbortController().signal);
    t.equal(mine.body.buffer, into.buffer, 'into the buffer given');
    t.ok(Buffer.from(mine.body).equals(blobs[2]));
  }
  // A body larger than the buffer given gets a buffer of its own.
  const small = await sendRequest(lease.pool, { method: 'GET', path: '/1', headers: {}, into: new Uint8Array(10) }, 20_000, new AbortController().signal);
  t.ok(Buffer.from(small.body).equals(blobs[1]));
});

t.test('stray bytes on an idle keep-alive connection are dropped; the connection still serves', async (t) => {
  let stray: (() => void) | undefined;
  const origin = await serve(t, (req, res) => {
    res.writeHead(200, { 'content-length': '2' });
    res.end('ok');
    if (req.url === '/first') stray = () => req.socket.write('junk that answers nothing');
  });
  const lease = acquirePool(origin, false);
  t.teardown(() => lease.release());
  const send = (path: string) => sendRequest(lease.pool, { method: 'GET', path, headers: {} }, 5000, new AbortController().signal);
  t.equal(Buffer.from((await send('/first')).body).toString(), 'ok');
  stray!();
  await new Promise((resolve) => setTimeout(resolve, 50));
  const again = await send('/second').catch((err: Error) => err);
  // Node drops bytes on a free socket or closes it; either way the next request gets an answer.
  t.ok(again instanceof Error || Buffer.from(again.body).toString() === 'ok', 'the next request does not see the junk as its answer');
});
