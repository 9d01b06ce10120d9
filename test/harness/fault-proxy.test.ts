/**
 * Self-tests of the S3 test infrastructure: s3rver (what it does and does not check) and
 * the fault proxy in front of it (every fault, the precondition and signature checks, the
 * counters), driven with plain HTTP requests signed by `aws4`, independent of ltxvfs's client.
 */
import t from 'tap';
import aws4 from 'aws4';
import crypto from 'node:crypto';
import { existsSync } from 'node:fs';
import { mulberry32, s3ErrorXml, startFaultProxy, type FaultProxy } from '../helpers/fault-proxy.js';
import { S3RVER_CREDENTIALS, startS3rver, type S3rverHandle } from '../helpers/s3rver.js';

interface Res {
  status: number;
  headers: Headers;
  text: string;
}

interface Creds {
  accessKeyId: string;
  secretAccessKey: string;
}

/** One request; signed with SigV4 (aws4) when `creds` are given. */
async function req(
  base: string,
  method: string,
  path: string,
  options: { headers?: Record<string, string>; body?: string; creds?: Creds; region?: string } = {},
): Promise<Res> {
  const url = new URL(path, base);
  let headers: Record<string, string> = { ...options.headers };
  if (options.creds !== undefined) {
    const signed = aws4.sign(
      { host: url.host, path: `${url.pathname}${url.search}`, method, headers, body: options.body, service: 's3', region: options.region ?? 'us-east-1' },
      options.creds,
    );
    headers = signed.headers as Record<string, string>;
    delete headers['Content-Length'];
  }
  const res = await fetch(url, { method, headers, body: options.body });
  return { status: res.status, headers: res.headers, text: await res.text() };
}

let s3: S3rverHandle;
let proxy: FaultProxy;
let B: string;

t.before(async () => {
  s3 = await startS3rver();
  proxy = await startFaultProxy(s3.endpoint);
  B = `/${s3.bucket}`;
});
t.teardown(async () => {
  await proxy.close();
  await s3.close();
});
t.beforeEach(() => {
  proxy.set({
    latencyMs: 0, getErrorRate: 0, errorStatus: 503, resetRate: 0, shortBodyRate: 0, shortRangeRate: 0, stallMs: 0, stallRate: 1,
    dropResponses: 0, preconditions: true, verifySignatures: undefined, bucketRegion: undefined, seed: 1,
  });
  proxy.reset();
});

t.test('s3rver runs on 127.0.0.1 with its bucket, in a temporary directory removed at close', async (t) => {
  t.match(s3.endpoint, /^http:\/\/127\.0\.0\.1:\d+$/);
  t.equal(s3.bucket, 'ltxvfs-test');
  const list = await req(s3.endpoint, 'GET', `${B}?list-type=2`);
  t.equal(list.status, 200);
  t.match(list.text, '<Name>ltxvfs-test</Name>');
  const other = await startS3rver({ bucket: 'second' });
  t.ok(existsSync(other.directory));
  t.equal((await req(other.endpoint, 'GET', '/second?list-type=2')).status, 200);
  await other.close();
  await other.close();
  t.notOk(existsSync(other.directory));
});

t.test('what s3rver checks: the access key id, never the SigV4 signature, never preconditions', async (t) => {
  const wrongSecret = { accessKeyId: S3RVER_CREDENTIALS.accessKeyId, secretAccessKey: 'not-the-secret' };
  t.equal((await req(s3.endpoint, 'PUT', `${B}/facts/a`, { body: 'one', creds: wrongSecret })).status, 200, 'a wrong secret passes');
  const badKey = await req(s3.endpoint, 'GET', `${B}/facts/a`, { creds: { accessKeyId: 'NOPE', secretAccessKey: 'x' } });
  t.equal(badKey.status, 403);
  t.match(badKey.text, '<Code>InvalidAccessKeyId</Code>');
  t.equal((await req(s3.endpoint, 'GET', `${B}/facts/a`)).status, 200, 'unsigned requests pass as anonymous');
  t.equal((await req(s3.endpoint, 'PUT', `${B}/facts/a`, { body: 'two', headers: { 'if-none-match': '*' } })).status, 200, 'If-None-Match is ignored');
  t.equal((await req(s3.endpoint, 'GET', `${B}/facts/a`)).text, 'two');
  t.equal((await req(s3.endpoint, 'GET', `${B}//facts/a`)).status, 404, 'keys starting with / cannot be addressed');
});

t.test('s3rver paginates listings (its DES continuation tokens run as AES); other ciphers are untouched', async (t) => {
  for (const k of ['a', 'b', 'c']) await req(s3.endpoint, 'PUT', `${B}/page/${k}`, { body: k });
  const first = await req(s3.endpoint, 'GET', `${B}?list-type=2&prefix=page%2F&max-keys=2`);
  t.equal(first.status, 200);
  t.match(first.text, '<IsTruncated>true</IsTruncated>');
  const token = /<NextContinuationToken>([^<]+)</.exec(first.text)?.[1] ?? '';
  const second = await req(s3.endpoint, 'GET', `${B}?list-type=2&prefix=page%2F&max-keys=2&continuation-token=${encodeURIComponent(token)}`);
  t.match(second.text, '<Key>page/c</Key>');
  t.notMatch(second.text, '<Key>page/a</Key>');
  const key = crypto.randomBytes(32);
  const iv = crypto.randomBytes(16);
  const c = crypto.createCipheriv('aes-256-cbc', key, iv);
  const enc = Buffer.concat([c.update('plain'), c.final()]);
  const d = crypto.createDecipheriv('aes-256-cbc', key, iv);
  t.equal(Buffer.concat([d.update(enc), d.final()]).toString(), 'plain');
});

t.test('the proxy forwards and counts requests and body bytes per method', async (t) => {
  t.match(proxy.endpoint, /^http:\/\/127\.0\.0\.1:\d+$/);
  t.equal((await req(proxy.endpoint, 'PUT', `${B}/count/x`, { body: 'hello' })).status, 200);
  const got = await req(proxy.endpoint, 'GET', `${B}/count/x`);
  t.equal(got.text, 'hello');
  t.equal(got.headers.get('content-length'), '5');
  t.equal((await req(proxy.endpoint, 'HEAD', `${B}/count/x`)).headers.get('content-length'), '5');
  t.equal((await req(proxy.endpoint, 'DELETE', `${B}/count/x`)).status, 204);
  const st = proxy.stats();
  t.same(st.requests, { PUT: 1, GET: 1, HEAD: 1, DELETE: 1 });
  t.same(st.bytesIn, { PUT: 5, GET: 0, HEAD: 0, DELETE: 0 });
  t.equal(st.bytesOut.GET, 5);
  t.notOk('HEAD' in st.bytesOut, 'HEAD responses have no body');
  proxy.reset();
  t.same(proxy.stats().requests, {});
  t.equal(proxy.settings().preconditions, true);
  const copy = proxy.stats();
  copy.requests.GET = 99;
  t.same(proxy.stats().requests, {}, 'stats() is a copy');
});

t.test('added latency and stalls delay answers', async (t) => {
  proxy.set({ latencyMs: 150 });
  let start = performance.now();
  await req(proxy.endpoint, 'GET', `${B}?list-type=2`);
  t.ok(performance.now() - start >= 140, 'latency');
  proxy.set({ latencyMs: 0, stallMs: 300, stallRate: 1 });
  start = performance.now();
  await req(proxy.endpoint, 'GET', `${B}?list-type=2`);
  t.ok(performance.now() - start >= 290, 'stall');
  t.equal(proxy.stats().faults.stalls, 1);
});

t.test('a stalled request whose client left is not forwarded', async (t) => {
  proxy.set({ stallMs: 300 });
  const ac = new AbortController();
  setTimeout(() => ac.abort(), 50);
  await t.rejects(fetch(`${proxy.endpoint}${B}/left/x`, { method: 'PUT', body: 'x', signal: ac.signal }));
  await new Promise((r) => setTimeout(r, 400));
  proxy.set({ stallMs: 0 });
  t.equal((await req(proxy.endpoint, 'GET', `${B}/left/x`)).status, 404);
});

t.test('injected GET errors are S3 error documents; other methods pass', async (t) => {
  await req(proxy.endpoint, 'PUT', `${B}/err/x`, { body: 'x' });
  proxy.set({ getErrorRate: 1 });
  const e503 = await req(proxy.endpoint, 'GET', `${B}/err/x`);
  t.equal(e503.status, 503);
  t.match(e503.text, /<Error><Code>SlowDown<\/Code><Message>Please reduce your request rate.<\/Message>/);
  t.equal(e503.headers.get('content-type'), 'application/xml');
  proxy.set({ errorStatus: 500 });
  t.match((await req(proxy.endpoint, 'GET', `${B}/err/x`)).text, '<Code>InternalError</Code>');
  proxy.set({ errorStatus: 429 });
  const e429 = await req(proxy.endpoint, 'GET', `${B}/err/x`);
  t.equal(e429.status, 429);
  t.match(e429.text, '<Code>SlowDown</Code>');
  t.equal((await req(proxy.endpoint, 'HEAD', `${B}/err/x`)).status, 200, 'HEAD is not a GET');
  t.equal(proxy.stats().faults.errors, 3);
});

t.test('fractions follow the seeded PRNG: the same seed gives the same faults', async (t) => {
  await req(proxy.endpoint, 'PUT', `${B}/seed/x`, { body: 'x' });
  const pattern = async () => {
    proxy.set({ getErrorRate: 0.3, seed: 42 });
    const out: number[] = [];
    for (let i = 0; i < 20; i++) out.push((await req(proxy.endpoint, 'GET', `${B}/seed/x`)).status);
    return out;
  };
  const a = await pattern();
  const b = await pattern();
  t.same(a, b);
  t.ok(a.includes(503) && a.includes(200), 'both outcomes occur');
  const r = mulberry32(7);
  const first = [r(), r(), r()];
  t.same([mulberry32(7)(), r() !== first[2]], [first[0], true]);
  t.ok(first.every((x) => x >= 0 && x < 1));
});

t.test('resets and early closes cut GET bodies; short ranges send a consistent 206 with half', async (t) => {
  const body = 'x'.repeat(10_000);
  await req(proxy.endpoint, 'PUT', `${B}/cut/x`, { body });
  proxy.set({ resetRate: 1 });
  await t.rejects(req(proxy.endpoint, 'GET', `${B}/cut/x`), 'reset mid-body');
  proxy.set({ resetRate: 0, shortBodyRate: 1 });
  await t.rejects(req(proxy.endpoint, 'GET', `${B}/cut/x`), 'closed mid-body');
  proxy.set({ shortBodyRate: 0, shortRangeRate: 1 });
  const whole = await req(proxy.endpoint, 'GET', `${B}/cut/x`);
  t.equal(whole.text.length, 10_000, 'only 206 responses get short ranges');
  const part = await req(proxy.endpoint, 'GET', `${B}/cut/x`, { headers: { range: 'bytes=0-999' } });
  t.equal(part.status, 206);
  t.equal(part.text.length, 500);
  t.equal(part.headers.get('content-range'), 'bytes 0-999/10000', 'headers still claim the whole range');
  const f = proxy.stats().faults;
  t.same([f.resets, f.shortBodies, f.shortRanges], [1, 1, 1]);
  t.equal(proxy.stats().bytesOut.GET, 5000 + 5000 + 10_000 + 500);
});

t.test('dropped responses: the write happens, the client gets a reset', async (t) => {
  proxy.set({ dropResponses: 1 });
  await t.rejects(req(proxy.endpoint, 'PUT', `${B}/drop/x`, { body: 'landed' }));
  t.equal((await req(proxy.endpoint, 'GET', `${B}/drop/x`)).text, 'landed');
  t.equal((await req(proxy.endpoint, 'PUT', `${B}/drop/x`, { body: 'again' })).status, 200, 'only the next one');
  t.equal(proxy.stats().faults.droppedResponses, 1);
  t.equal(proxy.settings().dropResponses, 0);
});

t.test('S3 precondition semantics that s3rver lacks', async (t) => {
  const p = `${B}/cond/lock.json`;
  const created = await req(proxy.endpoint, 'PUT', p, { body: 'v1', headers: { 'if-none-match': '*' } });
  t.equal(created.status, 200);
  const etag = created.headers.get('etag') ?? '';
  const again = await req(proxy.endpoint, 'PUT', p, { body: 'v2', headers: { 'if-none-match': '*' } });
  t.equal(again.status, 412);
  t.match(again.text, /^<\?xml version="1.0" encoding="UTF-8"\?>\n<Error><Code>PreconditionFailed<\/Code><Message>At least one of the pre-conditions you specified did not hold<\/Message><Condition>If-None-Match<\/Condition>/);
  t.equal((await req(proxy.endpoint, 'PUT', p, { body: 'v2', headers: { 'if-none-match': etag } })).status, 412, 'If-None-Match with the current ETag');
  const stale = await req(proxy.endpoint, 'PUT', p, { body: 'v2', headers: { 'if-match': '"0000"' } });
  t.equal(stale.status, 412);
  t.match(stale.text, '<Condition>If-Match</Condition>');
  const renewed = await req(proxy.endpoint, 'PUT', p, { body: 'v2', headers: { 'if-match': etag } });
  t.equal(renewed.status, 200);
  t.equal((await req(proxy.endpoint, 'PUT', p, { body: 'v3', headers: { 'if-match': etag.replace(/"/g, '') } })).status, 412, 'old ETag, quotes or not');
  t.equal((await req(proxy.endpoint, 'PUT', p, { body: 'v3', headers: { 'if-match': '*' } })).status, 200, 'If-Match * on an existing key');
  const missing = await req(proxy.endpoint, 'PUT', `${B}/cond/none`, { body: 'x', headers: { 'if-match': etag } });
  t.equal(missing.status, 404);
  t.match(missing.text, '<Code>NoSuchKey</Code>');
  t.equal((await req(proxy.endpoint, 'DELETE', p, { headers: { 'if-match': '"0000"' } })).status, 412);
  t.equal((await req(proxy.endpoint, 'GET', p)).text, 'v3', 'a refused DELETE deletes nothing');
  const current = (await req(proxy.endpoint, 'HEAD', p)).headers.get('etag') ?? '';
  t.equal((await req(proxy.endpoint, 'DELETE', p, { headers: { 'if-match': current } })).status, 204);
  t.equal((await req(proxy.endpoint, 'DELETE', p, { headers: { 'if-match': current } })).status, 404);
  t.equal(proxy.stats().faults.preconditionFailures, 7);
  proxy.set({ preconditions: false });
  t.equal((await req(proxy.endpoint, 'PUT', `${B}/cond/none`, { body: 'x', headers: { 'if-match': etag } })).status, 200, 'off: s3rver decides');
});

t.test('concurrent create-only PUTs of one key: exactly one wins', async (t) => {
  const results = await Promise.all(Array.from({ length: 8 }, (_, i) =>
    req(proxy.endpoint, 'PUT', `${B}/race/x`, { body: `writer ${i}`, headers: { 'if-none-match': '*' } })));
  t.same(results.map((r) => r.status).sort(), [200, 412, 412, 412, 412, 412, 412, 412]);
});

t.test('SigV4 verification, independent of s3rver', async (t) => {
  const creds = { accessKeyId: 'AKIDPROXYTEST', secretAccessKey: 'proxy/secret+key' };
  proxy.set({ verifySignatures: creds });
  const p = `${B}/sig/a b+c`.replace(/ /g, '%20').replace(/\+/g, '%2B');
  const put = await req(proxy.endpoint, 'PUT', p, { body: 'signed', creds, headers: { 'content-type': 'text/plain', 'x-amz-meta-k': ' a   b ' } });
  t.equal(put.status, 200, 'a good signature passes, and s3rver accepts the forwarded request without it');
  t.equal((await req(proxy.endpoint, 'GET', `${B}?list-type=2&prefix=sig%2F&max-keys=5`, { creds })).status, 200, 'query strings are canonicalized');
  t.equal((await req(proxy.endpoint, 'GET', `${B}?prefix=sig%2F&list-type=2&empty`, { creds })).status, 200, 'in any order, with empty values');
  const unsigned = await req(proxy.endpoint, 'GET', p);
  t.equal(unsigned.status, 403);
  t.match(unsigned.text, '<Code>AccessDenied</Code>');
  const badKey = await req(proxy.endpoint, 'GET', p, { creds: { ...creds, accessKeyId: 'AKIDOTHER' } });
  t.match([badKey.status, badKey.text], [403, /<Code>InvalidAccessKeyId<\/Code>/]);
  const badSecret = await req(proxy.endpoint, 'GET', p, { creds: { ...creds, secretAccessKey: 'wrong' } });
  t.match([badSecret.status, badSecret.text], [403, /<Code>SignatureDoesNotMatch<\/Code>/]);
  const tampered = await req(proxy.endpoint, 'PUT', p, {
    body: 'other', creds, headers: { 'x-amz-content-sha256': crypto.createHash('sha256').update('signed').digest('hex') },
  });
  t.match([tampered.status, tampered.text], [400, /XAmzContentSHA256Mismatch/]);
  const unsignedPayload = await req(proxy.endpoint, 'GET', p, { creds, headers: { 'x-amz-content-sha256': 'UNSIGNED-PAYLOAD' } });
  t.equal(unsignedPayload.status, 200, 'UNSIGNED-PAYLOAD is accepted');
  const malformed = await req(proxy.endpoint, 'GET', p, { headers: { authorization: 'AWS4-HMAC-SHA256 nonsense' } });
  t.match([malformed.status, malformed.text], [400, /AuthorizationHeaderMalformed/]);
  const noHost = aws4.sign({ host: new URL(proxy.endpoint).host, path: p, method: 'GET', service: 's3', region: 'us-east-1' }, creds);
  const auth = String((noHost.headers as Record<string, string>).Authorization).replace('SignedHeaders=host;', 'SignedHeaders=');
  const hostless = await fetch(`${proxy.endpoint}${p}`, { headers: { ...(noHost.headers as Record<string, string>), Authorization: auth } });
  t.equal(hostless.status, 403, 'the host header must be signed');
  t.equal(proxy.stats().faults.authFailures, 6);
});

t.test('requests signed for the wrong region get S3s region answer', async (t) => {
  proxy.set({ bucketRegion: 'eu-west-1' });
  const wrong = await req(proxy.endpoint, 'GET', `${B}?list-type=2`, { creds: S3RVER_CREDENTIALS, region: 'us-east-1' });
  t.equal(wrong.status, 400);
  t.equal(wrong.headers.get('x-amz-bucket-region'), 'eu-west-1');
  t.match(wrong.text, /<Code>AuthorizationHeaderMalformed<\/Code>.*<Region>eu-west-1<\/Region>/);
  t.equal((await req(proxy.endpoint, 'GET', `${B}?list-type=2`, { creds: S3RVER_CREDENTIALS, region: 'eu-west-1' })).status, 200);
  t.equal((await req(proxy.endpoint, 'GET', `${B}?list-type=2`)).status, 200, 'unsigned requests carry no region');
  t.equal(proxy.stats().faults.regionRedirects, 1);
});

t.test('an unreachable upstream is a 502 BadGateway', async (t) => {
  const dead = await startFaultProxy('http://127.0.0.1:1');
  t.teardown(() => dead.close());
  const res = await req(dead.endpoint, 'GET', '/b?list-type=2');
  t.equal(res.status, 502);
  t.match(res.text, /<Code>BadGateway<\/Code><Message>fault proxy: connect ECONNREFUSED/);
  await dead.close();
  await dead.close();
});

t.test('s3ErrorXml escapes its text', async (t) => {
  t.equal(
    s3ErrorXml('C', 'a<b&c>', { Key: 'k&' }),
    '<?xml version="1.0" encoding="UTF-8"?>\n<Error><Code>C</Code><Message>a&lt;b&amp;c&gt;</Message><Key>k&amp;</Key><RequestId>ltxvfs-fault-proxy</RequestId></Error>',
  );
});
