/**
 * The project's HTTP fault proxy: a node:http server on 127.0.0.1 (port chosen by the
 * system) that forwards every request to an S3 server (s3rver, see s3rver.ts) and, as
 * told at run time:
 *
 * - adds latency to every request (`latencyMs`);
 * - answers a fraction of GETs (listings included) with an S3 error instead of forwarding
 *   (`getErrorRate`, `errorStatus`: 503 SlowDown by default);
 * - resets the connection (TCP RST) halfway through a fraction of GET bodies (`resetRate`);
 * - closes the connection (FIN) halfway through a fraction of GET bodies, after announcing
 *   the full length (`shortBodyRate`);
 * - answers a fraction of range GETs with a consistent 206 that holds fewer bytes than the
 *   range asked (`shortRangeRate`);
 * - stalls a fraction of requests for `stallMs` before answering (`stallRate`);
 * - forwards the next `dropResponses` PUTs / DELETEs and then resets the connection
 *   instead of answering — the write happened, the client never hears of it;
 * - enforces what s3rver ignores, the way S3 does: `If-None-Match: *` on an existing key
 *   and an `If-Match` that differs from the current ETag (learned by a HEAD to the server)
 *   give 412 PreconditionFailed; `If-Match` on a missing key gives 404 NoSuchKey. PUTs and
 *   DELETEs of one key are serialized so check-and-write is atomic (`preconditions`);
 * - verifies AWS Signature V4 against an expected key pair (and session token) by signing
 *   the received request again with the `aws4` library and comparing, answering 403
 *   InvalidAccessKeyId / SignatureDoesNotMatch / InvalidToken / AccessDenied like S3
 *   (`verifySignatures`) — s3rver accepts any signature, so the proxy is the judge;
 *   verified requests reach s3rver unsigned, so any credentials work;
 * - answers requests signed for another region than `bucketRegion` with 400
 *   AuthorizationHeaderMalformed and `x-amz-bucket-region`, as S3 does.
 *
 * Fractions are drawn from a seeded PRNG (mulberry32), one draw per decision in request
 * order, so a single-threaded test sees the same faults every run. Counters per method:
 * requests, request body bytes in, response body bytes out, and the faults injected.
 */
import aws4 from 'aws4';
import { createHash, timingSafeEqual } from 'node:crypto';
import * as http from 'node:http';
import type { AddressInfo } from 'node:net';

/** What the proxy does; every field can be changed while it runs with `set`. Times in ms. */
export interface FaultSettings {
  /** Added before each request is handled. */
  latencyMs: number;
  /** Fraction of GETs answered with `errorStatus` instead of being forwarded. */
  getErrorRate: number;
  /** Status of injected errors: 503 (SlowDown), 500 (InternalError) or 429 (SlowDown). */
  errorStatus: 500 | 503 | 429;
  /** Fraction of GET responses with a body of ≥ 2 bytes reset (RST) halfway through the body. */
  resetRate: number;
  /** Fraction of GET responses with a body of ≥ 2 bytes closed (FIN) halfway through, full length announced. */
  shortBodyRate: number;
  /** Fraction of 206 responses sent as a consistent 206 with half the bytes. */
  shortRangeRate: number;
  /** How long a stalled request waits before it is handled. */
  stallMs: number;
  /** Fraction of requests that stall (when `stallMs` > 0). */
  stallRate: number;
  /** The next this many PUTs / DELETEs are carried out upstream, then answered with a connection reset. */
  dropResponses: number;
  /** Enforce If-None-Match / If-Match on PUT and DELETE. Default true. */
  preconditions: boolean;
  /** Verify SigV4 against these credentials (and session token, when given); unsigned requests are refused. Default off. */
  verifySignatures: { accessKeyId: string; secretAccessKey: string; sessionToken?: string } | undefined;
  /** The bucket's region: requests signed for another are refused as S3 does. Default off. */
  bucketRegion: string | undefined;
  /** PRNG seed; setting it restarts the sequence. */
  seed: number;
}

/** Counters since start or the last `reset()`. Bytes are body bytes. */
export interface ProxyStats {
  /** Requests received per method (`GET`, `HEAD`, `PUT`, `DELETE`, …). */
  requests: Record<string, number>;
  /** Of the GETs: bucket listings (ListObjects, a `list-type` query) and object reads. */
  gets: { list: number; object: number };
  /** Request body bytes received per method. */
  bytesIn: Record<string, number>;
  /** Response body bytes sent per method (partial bodies count what was sent). */
  bytesOut: Record<string, number>;
  /** Faults injected and requests refused by the proxy's own checks. */
  faults: {
    errors: number;
    resets: number;
    shortBodies: number;
    shortRanges: number;
    stalls: number;
    droppedResponses: number;
    preconditionFailures: number;
    authFailures: number;
    regionRedirects: number;
  };
}

/** A running proxy. */
export interface FaultProxy {
  /** `http://127.0.0.1:<port>` */
  endpoint: string;
  /** Change settings; unspecified fields keep their values. */
  set(settings: Partial<FaultSettings>): void;
  /** The current settings (a copy). */
  settings(): FaultSettings;
  /** Counters (a copy). */
  stats(): ProxyStats;
  /** Zero the counters (settings stay). */
  reset(): void;
  /** Stop listening, drop connections. Idempotent. */
  close(): Promise<void>;
}

const DEFAULTS: FaultSettings = {
  latencyMs: 0,
  getErrorRate: 0,
  errorStatus: 503,
  resetRate: 0,
  shortBodyRate: 0,
  shortRangeRate: 0,
  stallMs: 0,
  stallRate: 1,
  dropResponses: 0,
  preconditions: true,
  verifySignatures: undefined,
  bucketRegion: undefined,
  seed: 1,
};

/** mulberry32: a tiny seeded PRNG with a full 2^32 period; uniform in [0, 1). */
export function mulberry32(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** An S3 error document, as S3 writes them. */
export function s3ErrorXml(code: string, message: string, extra: Record<string, string> = {}): string {
  const esc = (s: string) => s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');
  const fields = Object.entries(extra).map(([k, v]) => `<${k}>${esc(v)}</${k}>`).join('');
  return `<?xml version="1.0" encoding="UTF-8"?>\n<Error><Code>${code}</Code><Message>${esc(message)}</Message>${fields}<RequestId>ltxvfs-fault-proxy</RequestId></Error>`;
}

interface Upstream {
  status: number;
  headers: http.IncomingHttpHeaders;
  body: Buffer;
}

/**
 * Start a proxy in front of `upstream` (e.g. s3rver's endpoint).
 * @param settings initial settings over the defaults (no faults, preconditions on, no signature checks).
 */
export async function startFaultProxy(upstream: string, settings: Partial<FaultSettings> = {}): Promise<FaultProxy> {
  const target = new URL(upstream);
  let current: FaultSettings = { ...DEFAULTS, ...settings };
  let random = mulberry32(current.seed);
  let counters = emptyStats();
  // Idle upstream sockets are dropped after 4 s, before s3rver (60 s, see s3rver.ts) or Node's default 5 s would close them.
  const agent = new http.Agent({ keepAlive: true, timeout: 4000 });
  /** Tail of the chain of PUT/DELETE handlers per path, for atomic check-and-write. */
  const keyLocks = new Map<string, Promise<void>>();

  const draw = (rate: number) => rate > 0 && random() < rate;
  const count = (table: Record<string, number>, method: string, n: number) => {
    table[method] = (table[method] ?? 0) + n;
  };

  const forward = (method: string, url: string, headers: http.IncomingHttpHeaders, body?: Buffer) =>
    new Promise<Upstream>((resolve, reject) => {
      const req = http.request(
        { host: target.hostname, port: target.port, method, path: url, headers: { ...headers, host: target.host }, agent },
        (res) => {
          const chunks: Buffer[] = [];
          res.on('data', (c: Buffer) => chunks.push(c));
          res.on('end', () => resolve({ status: res.statusCode ?? 502, headers: res.headers, body: Buffer.concat(chunks) }));
          res.on('error', reject);
        },
      );
      req.on('error', reject);
      req.end(body);
    });

  const send = (res: http.ServerResponse, method: string, status: number, headers: http.OutgoingHttpHeaders, body: Buffer, headLength?: string) => {
    res.writeHead(status, { ...headers, 'content-length': headLength ?? body.length });
    res.end(method === 'HEAD' ? undefined : body);
    if (method !== 'HEAD') count(counters.bytesOut, method, body.length);
  };
  const sendError = (res: http.ServerResponse, method: string, status: number, code: string, message: string, extra: Record<string, string> = {}, headers: http.OutgoingHttpHeaders = {}) =>
    send(res, method, status, { 'content-type': 'application/xml', ...headers }, Buffer.from(s3ErrorXml(code, message, extra)));

  async function handle(req: http.IncomingMessage, res: http.ServerResponse, body: Buffer): Promise<void> {
    const method = req.method ?? 'GET';
    const url = req.url ?? '/';
    const s = current;
    if (s.latencyMs > 0) await delay(s.latencyMs);
    if (s.stallMs > 0 && draw(s.stallRate)) {
      counters.faults.stalls++;
      await delay(s.stallMs);
      if (req.socket.destroyed) return;
    }
    const auth = checkAuth(req, url, body, s);
    if (auth !== undefined) {
      if (auth.headers?.['x-amz-bucket-region'] !== undefined) counters.faults.regionRedirects++;
      else counters.faults.authFailures++;
      sendError(res, method, auth.status, auth.code, auth.message, auth.extra, auth.headers);
      return;
    }
    if (method === 'GET' && draw(s.getErrorRate)) {
      counters.faults.errors++;
      const code = s.errorStatus === 500 ? 'InternalError' : 'SlowDown';
      sendError(res, method, s.errorStatus, code, code === 'SlowDown' ? 'Please reduce your request rate.' : 'We encountered an internal error. Please try again.');
      return;
    }
    const headersUp = { ...req.headers };
    if (s.verifySignatures !== undefined) delete headersUp.authorization;
    const conditional = (method === 'PUT' || method === 'DELETE') && s.preconditions &&
      (req.headers['if-none-match'] !== undefined || req.headers['if-match'] !== undefined);
    let up: Upstream;
    if (method === 'PUT' || method === 'DELETE') {
      const pathOnly = url.split('?')[0];
      const failed = await withKeyLock(pathOnly, async () => {
        if (conditional) {
          const refusal = await checkPreconditions(method, pathOnly, req.headers);
          if (refusal !== undefined) return refusal;
        }
        up = await forward(method, url, headersUp, body);
        return undefined;
      });
      if (failed !== undefined) {
        counters.faults.preconditionFailures++;
        sendError(res, method, failed.status, failed.code, failed.message, failed.extra);
        return;
      }
      if (current.dropResponses > 0) {
        current.dropResponses--;
        counters.faults.droppedResponses++;
        res.socket?.resetAndDestroy();
        return;
      }
    } else {
      up = await forward(method, url, headersUp, body);
    }
    up = up!;
    const headers: http.OutgoingHttpHeaders = {};
    for (const [k, v] of Object.entries(up.headers)) {
      if (!['connection', 'keep-alive', 'transfer-encoding', 'content-length'].includes(k)) headers[k] = v;
    }
    if (method === 'GET' && up.body.length >= 2 && (up.status === 200 || up.status === 206)) {
      const half = up.body.subarray(0, up.body.length >> 1);
      if (draw(s.resetRate)) {
        counters.faults.resets++;
        res.writeHead(up.status, { ...headers, 'content-length': up.body.length });
        res.write(half, () => res.socket?.resetAndDestroy());
        count(counters.bytesOut, method, half.length);
        return;
      }
      if (draw(s.shortBodyRate)) {
        counters.faults.shortBodies++;
        res.writeHead(up.status, { ...headers, 'content-length': up.body.length });
        res.write(half, () => res.socket?.destroySoon());
        count(counters.bytesOut, method, half.length);
        return;
      }
      if (up.status === 206 && draw(s.shortRangeRate)) {
        counters.faults.shortRanges++;
        send(res, method, 206, headers, half);
        return;
      }
    }
    send(res, method, up.status, headers, up.body, method === 'HEAD' ? up.headers['content-length'] : undefined);
  }

  async function withKeyLock<T>(key: string, fn: () => Promise<T>): Promise<T> {
    const before = keyLocks.get(key) ?? Promise.resolve();
    let release!: () => void;
    const mine = new Promise<void>((r) => (release = r));
    const tail = before.then(() => mine);
    keyLocks.set(key, tail);
    await before;
    try {
      return await fn();
    } finally {
      release();
      if (keyLocks.get(key) === tail) keyLocks.delete(key);
    }
  }

  async function checkPreconditions(method: string, pathOnly: string, headers: http.IncomingHttpHeaders) {
    const head = await forward('HEAD', pathOnly, {});
    const exists = head.status === 200;
    const etag = typeof head.headers.etag === 'string' ? head.headers.etag : undefined;
    const noneMatch = headers['if-none-match'];
    const match = headers['if-match'];
    const failed = (condition: string) => ({
      status: 412,
      code: 'PreconditionFailed',
      message: 'At least one of the pre-conditions you specified did not hold',
      extra: { Condition: condition },
    });
    if (method === 'PUT' && noneMatch !== undefined && exists && (noneMatch === '*' || sameEtag(noneMatch, etag))) return failed('If-None-Match');
    if (typeof match === 'string') {
      if (!exists) {
        // HEAD has no body: a GET tells a missing key from a missing bucket.
        const code = /<Code>([^<]+)<\/Code>/.exec((await forward('GET', pathOnly, {})).body.toString())?.[1] ?? 'NoSuchKey';
        return { status: 404, code, message: code === 'NoSuchBucket' ? 'The specified bucket does not exist' : 'The specified key does not exist.', extra: {} };
      }
      if (match !== '*' && !sameEtag(match, etag)) return failed('If-Match');
    }
    return undefined;
  }

  const server = http.createServer((req, res) => {
    const method = req.method ?? 'GET';
    count(counters.requests, method, 1);
    if (method === 'GET') {
      if (/[?&]list-type=/.test(req.url ?? '')) counters.gets.list++;
      else counters.gets.object++;
    }
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const body = Buffer.concat(chunks);
      count(counters.bytesIn, method, body.length);
      handle(req, res, body).catch((err: Error) => {
        if (!res.headersSent) sendError(res, method, 502, 'BadGateway', `fault proxy: ${err.message}`);
        else res.destroy();
      });
    });
  });
  server.keepAliveTimeout = 60_000;
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  let closed = false;

  return {
    endpoint: `http://127.0.0.1:${port}`,
    set(next) {
      current = { ...current, ...next };
      if (next.seed !== undefined) random = mulberry32(next.seed);
    },
    settings: () => ({ ...current }),
    stats: () => structuredClone(counters),
    reset() {
      counters = emptyStats();
    },
    async close() {
      if (closed) return;
      closed = true;
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
      agent.destroy();
    },
  };
}

function emptyStats(): ProxyStats {
  return {
    requests: {},
    gets: { list: 0, object: 0 },
    bytesIn: {},
    bytesOut: {},
    faults: { errors: 0, resets: 0, shortBodies: 0, shortRanges: 0, stalls: 0, droppedResponses: 0, preconditionFailures: 0, authFailures: 0, regionRedirects: 0 },
  };
}

function sameEtag(a: string, b: string | undefined): boolean {
  return b !== undefined && a.replace(/"/g, '') === b.replace(/"/g, '');
}

function delay(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}

interface AuthRefusal {
  status: number;
  code: string;
  message: string;
  extra?: Record<string, string>;
  headers?: http.OutgoingHttpHeaders;
}

/**
 * SigV4 verification: the request is signed again with the expected key pair by the
 * `aws4` library — over the method, path and query as received and the headers the
 * client listed in `SignedHeaders` (their values as received, `x-amz-date` included) —
 * and the two signatures are compared in constant time. The payload hash is checked
 * against the body unless `UNSIGNED-PAYLOAD`; with `sessionToken` set, the
 * `x-amz-security-token` header must carry it (S3: 403 InvalidToken). Refusals are S3's:
 * 403 AccessDenied (unsigned), InvalidAccessKeyId, SignatureDoesNotMatch.
 * @returns undefined when the request may pass.
 */
function checkAuth(req: http.IncomingMessage, url: string, body: Buffer, s: FaultSettings): AuthRefusal | undefined {
  const header = req.headers.authorization;
  const m = header === undefined
    ? null
    : /^AWS4-HMAC-SHA256 Credential=([^/]+)\/(\d{8})\/([^/]+)\/s3\/aws4_request, ?SignedHeaders=([^,]+), ?Signature=([0-9a-f]{64})$/.exec(header);
  if (s.bucketRegion !== undefined && m !== null && m[3] !== s.bucketRegion) {
    return {
      status: 400,
      code: 'AuthorizationHeaderMalformed',
      message: `The authorization header is malformed; the region '${m[3]}' is wrong; expecting '${s.bucketRegion}'`,
      extra: { Region: s.bucketRegion },
      headers: { 'x-amz-bucket-region': s.bucketRegion },
    };
  }
  const creds = s.verifySignatures;
  if (creds === undefined) return undefined;
  if (header === undefined) return { status: 403, code: 'AccessDenied', message: 'Access Denied' };
  if (m === null) return { status: 400, code: 'AuthorizationHeaderMalformed', message: 'The authorization header is malformed.' };
  const [, accessKeyId, , region, signedHeaders, signature] = m;
  if (accessKeyId !== creds.accessKeyId) {
    return { status: 403, code: 'InvalidAccessKeyId', message: 'The AWS Access Key Id you provided does not exist in our records.' };
  }
  if (creds.sessionToken !== undefined && req.headers['x-amz-security-token'] !== creds.sessionToken) {
    return { status: 403, code: 'InvalidToken', message: 'The provided token is malformed or otherwise invalid.' };
  }
  const payloadHash = String(req.headers['x-amz-content-sha256'] ?? '');
  if (payloadHash !== 'UNSIGNED-PAYLOAD' && payloadHash !== createHash('sha256').update(body).digest('hex')) {
    return { status: 400, code: 'XAmzContentSHA256Mismatch', message: "The provided 'x-amz-content-sha256' header does not match what was computed." };
  }
  const names = signedHeaders.split(';');
  if (!names.includes('host')) return { status: 403, code: 'SignatureDoesNotMatch', message: 'Host must be signed.' };
  // Only the signed headers, as received; aws4 takes the signing time from x-amz-date and,
  // given no body, adds no header of its own.
  const headers: Record<string, string> = {};
  for (const n of names) headers[n] = String(req.headers[n] ?? '');
  const again = aws4.sign(
    { host: headers.host, path: url, method: req.method, headers, service: 's3', region },
    { accessKeyId: creds.accessKeyId, secretAccessKey: creds.secretAccessKey },
  );
  const expected = /Signature=([0-9a-f]{64})$/.exec(String((again.headers as Record<string, string>).Authorization ?? ''))?.[1] ?? '';
  if (expected.length !== signature.length || !timingSafeEqual(Buffer.from(expected), Buffer.from(signature))) {
    return {
      status: 403,
      code: 'SignatureDoesNotMatch',
      message: 'The request signature we calculated does not match the signature you provided. Check your key and signing method.',
    };
  }
  return undefined;
}
