/**
 * The s3:// client against a scripted HTTP server, for answers s3rver never gives:
 * malformed listings, servers that ignore Range, missing ETags, redirects, the retryable
 * 4xx codes, region corrections, lost answers of conditional writes. Also the HTTP layer's
 * pool sharing and timeouts.
 */
import t, { type Test } from 'tap';
import * as http from 'node:http';
import type { AddressInfo } from 'node:net';
import { LtxvfsError } from '../../../ltx/errors.js';
import { openS3Replica, type S3ReplicaClient, type S3ReplicaOptions } from '../../../lib/storage/s3/index.js';
import { acquirePool, describeNetworkError, openPoolCount, RequestTimeoutError, sendRequest } from '../../../lib/storage/s3/http.js';
import { s3ErrorXml } from '../../helpers/fault-proxy.js';

const ENV = { AWS_ACCESS_KEY_ID: 'AKIDEDGE', AWS_SECRET_ACCESS_KEY: 'edge-secret' };
const FAST: S3ReplicaOptions = { retryBaseDelayMs: 1, retryMaxDelayMs: 5, maxAttempts: 3 };

interface Seen {
  method: string;
  url: string;
  headers: http.IncomingHttpHeaders;
}
interface Answer {
  status: number;
  headers?: Record<string, string | string[]>;
  body?: string | Buffer;
}

/** A server answering each request with `script(request, index)`; returns its endpoint and what it saw. */
async function scripted(t: Test, script: (req: Seen, i: number) => Answer): Promise<{ endpoint: string; seen: Seen[] }> {
  const seen: Seen[] = [];
  const server = http.createServer((req, res) => {
    req.resume();
    req.on('end', () => {
      const r = { method: req.method ?? '', url: req.url ?? '', headers: req.headers };
      seen.push(r);
      const a = script(r, seen.length - 1);
      const body = typeof a.body === 'string' ? Buffer.from(a.body) : a.body ?? Buffer.alloc(0);
      res.writeHead(a.status, { 'content-length': String(body.length), ...a.headers });
      res.end(req.method === 'HEAD' ? undefined : body);
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  t.teardown(() => {
    server.closeAllConnections();
    return new Promise<void>((r) => server.close(() => r()));
  });
  return { endpoint: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, seen };
}

async function client(t: Test, endpoint: string, options: S3ReplicaOptions = {}, query = ''): Promise<S3ReplicaClient> {
  const c = await openS3Replica(`s3://b/p?endpoint=${endpoint}${query}`, { env: ENV, ...FAST, ...options });
  t.teardown(() => c.close());
  return c;
}

async function failure(p: Promise<unknown>): Promise<LtxvfsError> {
  try {
    await p;
  } catch (err) {
    if (err instanceof LtxvfsError) return err;
    throw err;
  }
  throw new Error('expected a rejection');
}

const listXml = (contents: string, extra = '<IsTruncated>false</IsTruncated>') =>
  `<?xml version="1.0" encoding="UTF-8"?><ListBucketResult><Name>b</Name>${extra}${contents}</ListBucketResult>`;
const entry = (key: string, size = 1, lm = '<LastModified>2026-11-21T09:51:49.000Z</LastModified>') =>
  `<Contents><Key>${key}</Key>${lm}<ETag>"e"</ETag><Size>${size}</Size></Contents>`;
const F = (n: number) => `${n.toString(16).padStart(16, '0')}-${n.toString(16).padStart(16, '0')}.ltx`;

t.test('listings: unsorted pages are sorted, foreign keys skipped, broken answers refused', async (t) => {
  const { endpoint, seen } = await scripted(t, (req): Answer => {
    if (req.url.includes('prefix=p%2F0000%2F')) {
      return {
        status: 200,
        body: listXml(entry(`p/0000/${F(3)}`) + entry(`other/0000/${F(1)}`) + entry(`p/0000/${F(2).replace(/2\.ltx$/, '5.ltx')}`) + entry(`p/0000/${F(2)}`)),
      };
    }
    if (req.url.includes('prefix=p%2F0001%2F')) return { status: 200, body: '<html>not xml</html>' };
    if (req.url.includes('prefix=p%2F0002%2F')) return { status: 200, body: listXml(entry(`p/0002/${F(1)}`, 1, '')) };
    if (req.url.includes('prefix=p%2F0003%2F')) return { status: 200, body: listXml('', '<IsTruncated>true</IsTruncated>') };
    return { status: 400, headers: { 'content-type': 'application/xml' }, body: s3ErrorXml('InvalidArgument', 'bad\nthing') };
  });
  const c = await client(t, endpoint);
  t.same((await c.listLtxFiles(0)).map((f) => [f.minTXID, f.maxTXID]), [[2, 2], [2, 5], [3, 3]], 'sorted by (minTXID, maxTXID)');
  t.match(seen[0].url, /^\/b\?list-type=2&prefix=p%2F0000%2F&max-keys=1000$/);
  t.match(seen[0].headers.authorization, /^AWS4-HMAC-SHA256 Credential=AKIDEDGE\/\d{8}\/us-east-1\/s3\/aws4_request, SignedHeaders=host;x-amz-content-sha256;x-amz-date, Signature=[0-9a-f]{64}$/);
  t.match(await failure(c.listLtxFiles(1)), {
    code: 'LTXVFS_ERR_STORAGE',
    status: 200,
    message: 'list s3://b/p/0001/: unreadable ListObjectsV2 response: not a ListBucketResult',
  });
  t.match(await failure(c.listLtxFiles(2)), { code: 'LTXVFS_ERR_STORAGE', message: `list s3://b/p/0002/: no valid LastModified for p/0002/${F(1)}` });
  t.match(await failure(c.listLtxFiles(3)), { code: 'LTXVFS_ERR_STORAGE', message: 'list s3://b/p/0003/: truncated page without NextContinuationToken' });
  t.match(await failure(c.listLtxFiles(4)), { code: 'LTXVFS_ERR_STORAGE', status: 400, message: 'list s3://b/p/0004/: HTTP 400 InvalidArgument: bad thing' });
});

t.test('range reads from servers that ignore Range or send odd Content-Ranges', async (t) => {
  const object = Buffer.from('0123456789');
  const { endpoint } = await scripted(t, (req): Answer => {
    const key = req.url.split('?')[0];
    if (key === '/b/p/full') return { status: 200, headers: { etag: '"e"' }, body: object };
    if (key === '/b/p/moved') return { status: 206, headers: { 'content-range': 'bytes 5-6/10' }, body: '56' };
    if (key === '/b/p/clamped') return { status: 206, headers: { 'content-range': 'bytes 8-9/*' }, body: '89' };
    if (key === '/b/p/bare') return { status: 206, body: '8' };
    if (key === '/b/p/416') return { status: 416, headers: { 'content-range': 'bytes */10' } };
    return { status: 404 };
  });
  const c = await client(t, endpoint);
  t.equal((await c.readRange('p/full', 2, 3)).toString(), '234', 'a 200 whole object is cut to the range');
  const into = new Uint8Array(5);
  t.equal(Buffer.from(await c.readRange('p/full', 2, 3, into)).toString(), '234', 'also when given a buffer for the range');
  t.same(into, new Uint8Array(5), 'which the 10-byte body did not fit');
  t.match(await failure(c.readRange('p/full', 8, 5)), {
    code: 'LTXVFS_ERR_STORAGE',
    status: 200,
    message: 'short read of s3://b/p/full: got 2 of 5 bytes at offset 8 (object is 10 bytes)',
  });
  t.match(await failure(c.readRange('p/full', 12, 5)), { message: 'short read of s3://b/p/full: got 0 of 5 bytes at offset 12 (object is 10 bytes)' });
  t.match(await failure(c.readRange('p/moved', 2, 2)), {
    code: 'LTXVFS_ERR_STORAGE',
    message: 'get s3://b/p/moved: asked for bytes 2-3, got Content-Range bytes 5-6/10',
  });
  t.match(await failure(c.readRange('p/416', 20, 5)), { status: 416, message: 'short read of s3://b/p/416: got 0 of 5 bytes at offset 20 (object is 10 bytes)' });
  t.match(await failure(c.readRange('p/clamped', 8, 5)), { message: 'short read of s3://b/p/clamped: got 2 of 5 bytes at offset 8' });
  t.match(await failure(c.readRange('p/bare', 8, 2)), {
    code: 'LTXVFS_ERR_STORAGE',
    status: 206,
    message: /^get s3:\/\/b\/p\/bare: body has 1 of 2 bytes at offset 8 \(gave up after 3 attempts in \d+ ms\)$/,
  });
});

t.test('answers without an ETag, HEADs without times, and odd headers', async (t) => {
  const { endpoint } = await scripted(t, (req): Answer => {
    if (req.method === 'HEAD' && req.url === '/b/p/timeless') return { status: 200, headers: { 'x-amz-meta-litestream-timestamp': 'garbage' } };
    if (req.method === 'HEAD') {
      return {
        status: 200,
        headers: { 'last-modified': 'Sat, 21 Nov 2026 09:51:49 GMT', 'x-amz-meta-litestream-timestamp': ['2026-11-21T09:51:49.5Z', 'second'] },
      };
    }
    return { status: 200, body: 'data' };
  });
  const c = await client(t, endpoint);
  t.match(await failure(c.read('p/x')), { code: 'LTXVFS_ERR_STORAGE', status: 200, message: 'get s3://b/p/x: response has no ETag' });
  t.match(await failure(c.write('p/x', new Uint8Array(1))), { code: 'LTXVFS_ERR_STORAGE', message: 'put s3://b/p/x: response has no ETag' });
  t.match(await failure(c.headTimestamp('p/timeless')), {
    code: 'LTXVFS_ERR_STORAGE',
    message: 'head s3://b/p/timeless: no readable litestream-timestamp or Last-Modified',
  });
  const head = await c.headObject('p/timeless');
  t.ok(Number.isNaN(head.lastModified));
  t.equal(head.etag, '');
  t.equal(await c.headTimestamp('p/dup'), Date.UTC(2026, 10, 21, 9, 51, 49, 500), 'repeated headers: the first counts');
});

t.test('status mapping: 412, redirects, retryable and permanent 4xx/5xx', async (t) => {
  const counts: Record<string, number> = {};
  const { endpoint } = await scripted(t, (req): Answer => {
    const key = req.url.split('?')[0];
    counts[key] = (counts[key] ?? 0) + 1;
    const n = counts[key];
    switch (key) {
      case '/b/p/412': return { status: 412, body: s3ErrorXml('PreconditionFailed', 'nope') };
      case '/b/p/301': return { status: 301, body: s3ErrorXml('PermanentRedirect', 'elsewhere', { Endpoint: 'b.s3.eu-west-1.amazonaws.com' }) };
      case '/b/p/307': return { status: 307 };
      case '/b/p/409': return n === 1 ? { status: 409, body: s3ErrorXml('ConditionalRequestConflict', 'busy') } : { status: 200, headers: { etag: '"k"' } };
      case '/b/p/409x': return { status: 409, body: s3ErrorXml('BucketNotEmpty', 'x') };
      case '/b/p/400': return n === 1 ? { status: 400, body: s3ErrorXml('RequestTimeout', 'slow socket') } : { status: 200, headers: { etag: '"k"' }, body: 'ok' };
      case '/b/p/501': return { status: 501, body: s3ErrorXml('NotImplemented', 'no') };
      case '/b/p/408': return { status: 408 };
      default: return { status: 404 };
    }
  });
  const c = await client(t, endpoint);
  t.match(await failure(c.write('p/412', new Uint8Array(1))), {
    code: 'LTXVFS_ERR_PRECONDITION',
    status: 412,
    message: 'precondition failed for s3://b/p/412 (HTTP 412 PreconditionFailed: nope)',
  });
  t.match(await failure(c.read('p/301')), {
    code: 'LTXVFS_ERR_STORAGE',
    status: 301,
    message: 'get s3://b/p/301: bucket b must be addressed elsewhere (endpoint b.s3.eu-west-1.amazonaws.com): set ?region= or ?endpoint= (HTTP 301 PermanentRedirect: elsewhere)',
  });
  t.match(await failure(c.read('p/307')), { status: 307, message: 'get s3://b/p/307: bucket b must be addressed elsewhere: set ?region= or ?endpoint= (HTTP 307)' });
  t.same(await c.write('p/409', new Uint8Array(1), { ifNoneMatch: true }), { etag: '"k"' }, '409 ConditionalRequestConflict is retried');
  t.match(await failure(c.write('p/409x', new Uint8Array(1))), { status: 409 });
  t.equal(counts['/b/p/409x'], 1, 'other 409s are not');
  t.equal((await c.read('p/400')).data.toString(), 'ok', '400 RequestTimeout is retried');
  t.match(await failure(c.read('p/501')), { status: 501, message: 'get s3://b/p/501: HTTP 501 NotImplemented: no' });
  t.equal(counts['/b/p/501'], 1);
  t.match(await failure(c.read('p/408')), { status: 408, message: /\(gave up after 3 attempts/ });
});

t.test('region corrections: the header, or the <Region> of an error body; a 403 needs the header', async (t) => {
  const { endpoint, seen } = await scripted(t, (req): Answer => {
    const region = /Credential=[^/]+\/\d+\/([^/]+)\//.exec(String(req.headers.authorization))?.[1];
    const key = req.url.split('?')[0];
    if (key === '/b/p/body' && region !== 'ap-south-1') {
      return { status: 400, body: s3ErrorXml('AuthorizationHeaderMalformed', 'wrong region', { Region: 'ap-south-1' }) };
    }
    if (key === '/b/p/403' && region !== 'sa-east-1') return { status: 403, headers: { 'x-amz-bucket-region': 'sa-east-1' } };
    if (key === '/b/p/deny') return { status: 403, body: s3ErrorXml('AccessDenied', 'Access Denied') };
    return { status: 200, headers: { etag: '"e"' }, body: region ?? 'none' };
  });
  const c = await client(t, endpoint);
  t.equal((await c.read('p/body')).data.toString(), 'ap-south-1');
  t.equal(c.region, 'ap-south-1');
  t.equal((await c.read('p/403')).data.toString(), 'sa-east-1');
  t.match(await failure(c.read('p/deny')), { status: 403, message: 'get s3://b/p/deny: authentication failed (HTTP 403 AccessDenied: Access Denied)' });
  t.equal(seen.length, 5);
});

t.test('a conditional write that fails after a retry is checked against the object', async (t) => {
  const counts: Record<string, number> = {};
  const { endpoint } = await scripted(t, (req): Answer => {
    const key = req.url.split('?')[0];
    const id = `${req.method} ${key}`;
    counts[id] = (counts[id] ?? 0) + 1;
    if (req.method === 'PUT') return counts[id] === 1 ? { status: 503 } : { status: 412, body: s3ErrorXml('PreconditionFailed', 'x') };
    if (key === '/b/p/gone') return { status: 404 };
    if (key === '/b/p/locked') return { status: 403, body: s3ErrorXml('AccessDenied', 'no HEAD for you') };
    return { status: 200, headers: { etag: '"someone-else"' } };
  });
  const c = await client(t, endpoint);
  t.match(await failure(c.write('p/gone', new Uint8Array(1), { ifNoneMatch: true })), {
    code: 'LTXVFS_ERR_PRECONDITION',
    message: 'precondition failed for s3://b/p/gone: object exists (if-none-match *)',
  });
  t.match(await failure(c.write('p/other', new Uint8Array(1), { ifNoneMatch: true })), { code: 'LTXVFS_ERR_PRECONDITION' });
  t.match(await failure(c.write('p/locked', new Uint8Array(1), { ifMatch: '"a"' })), { code: 'LTXVFS_ERR_STORAGE', status: 403 }, 'the HEAD error surfaces');
});

t.test('unsigned requests without credentials; skipVerify gets a pool of its own', async (t) => {
  const { endpoint, seen } = await scripted(t, () => ({ status: 200, headers: { etag: '"e"' }, body: 'x' }));
  const anon = await openS3Replica(`s3://b/p?endpoint=${endpoint}`, { env: ENV, credentials: null });
  t.teardown(() => anon.close());
  await anon.read('p/x');
  t.equal(seen[0].headers.authorization, undefined);
  t.equal(seen[0].headers['x-amz-content-sha256'], undefined);
  const before = openPoolCount();
  const verified = await client(t, endpoint);
  const insecure = await client(t, endpoint, {}, '&skipVerify=true');
  await verified.read('p/x');
  await insecure.read('p/x');
  t.equal(openPoolCount(), before + 1, 'anon and verified share one pool; skipVerify has another');
});

t.test('openS3Replica reads process.env by default', async (t) => {
  const saved = { key: process.env.AWS_ACCESS_KEY_ID, secret: process.env.AWS_SECRET_ACCESS_KEY, profile: process.env.AWS_PROFILE };
  process.env.AWS_ACCESS_KEY_ID = 'AKIDPROCESS';
  process.env.AWS_SECRET_ACCESS_KEY = 'from-process-env';
  delete process.env.AWS_PROFILE;
  t.teardown(() => {
    for (const [name, value] of [['AWS_ACCESS_KEY_ID', saved.key], ['AWS_SECRET_ACCESS_KEY', saved.secret], ['AWS_PROFILE', saved.profile]] as const) {
      if (value === undefined) delete process.env[name];
      else process.env[name] = value;
    }
  });
  const c = await openS3Replica('s3://b/p?endpoint=http://127.0.0.1:9');
  t.equal(c.url, 's3://b/p?endpoint=http://127.0.0.1:9');
  t.equal(c.credentialOrigin, 'environment', 'keys from process.env');
  await c.close();
});

t.test('sendRequest: deadlines, aborts, shared pools', async (t) => {
  const { endpoint } = await scripted(t, () => ({ status: 200, body: 'x' }));
  const lease = acquirePool(endpoint, false);
  const again = acquirePool(endpoint, false);
  t.equal(lease.pool, again.pool, 'one pool per origin');
  const ok = await sendRequest(lease.pool, { method: 'GET', path: '/x', headers: {} }, 1000, new AbortController().signal);
  t.same([ok.status, Buffer.from(ok.body).toString()], [200, 'x']);
  const ac = new AbortController();
  ac.abort(new Error('closed before'));
  await t.rejects(sendRequest(lease.pool, { method: 'GET', path: '/x', headers: {} }, 1000, ac.signal), { message: 'closed before' });
  await lease.release();
  await lease.release();
  t.notOk(again.pool.closed, 'released twice counts once');
  await again.release();
  t.ok(again.pool.closed, 'the last release closes the pool');

  const silent = http.createServer(() => undefined);
  await new Promise<void>((r) => silent.listen(0, '127.0.0.1', r));
  t.teardown(() => {
    silent.closeAllConnections();
    silent.close();
  });
  const slow = acquirePool(`http://127.0.0.1:${(silent.address() as AddressInfo).port}`, false);
  await t.rejects(sendRequest(slow.pool, { method: 'GET', path: '/', headers: {} }, 100, new AbortController().signal), RequestTimeoutError);
  await slow.release();
});

t.test('describeNetworkError', async (t) => {
  t.equal(describeNetworkError(new RequestTimeoutError(500)), 'timed out (no complete response within 500 ms)');
  t.equal(describeNetworkError(Object.assign(new Error('other side\nclosed'), { code: 'UND_ERR_SOCKET' })), 'UND_ERR_SOCKET: other side closed');
  t.equal(describeNetworkError(new Error('plain')), 'plain');
  t.equal(describeNetworkError('a string'), 'a string');
  t.equal(describeNetworkError(undefined), 'undefined');
});
