/**
 * A small HTTP proxy that answers chosen PUTs with an S3 error instead of forwarding them
 * (the project's fault proxy, fault-proxy.ts, fails GETs only). Chain it in front of the
 * fault proxy: client → PUT-fault proxy → fault proxy (412 preconditions) → s3rver.
 * Everything else is forwarded unchanged; the refused PUT never reaches the store.
 */
import * as http from 'node:http';
import type { AddressInfo } from 'node:net';
import { s3ErrorXml } from './fault-proxy.js';

/** A running PUT-fault proxy. */
export interface PutFaultProxy {
  /** `http://127.0.0.1:<port>` */
  endpoint: string;
  /** For a PUT of this request path, the status to answer with (500, 503 …), or undefined to forward it. */
  failPut: ((path: string) => number | undefined) | undefined;
  /** PUTs answered with an error so far. */
  failedPuts: number;
  /** Stop listening, drop connections. Idempotent. */
  close(): Promise<void>;
}

/** Start a PUT-fault proxy in front of `upstream` (e.g. the fault proxy's endpoint). */
export async function startPutFaultProxy(upstream: string): Promise<PutFaultProxy> {
  const target = new URL(upstream);
  const agent = new http.Agent({ keepAlive: true, timeout: 4000 });
  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const body = Buffer.concat(chunks);
      const path = (req.url ?? '/').split('?')[0];
      const status = req.method === 'PUT' ? proxy.failPut?.(path) : undefined;
      if (status !== undefined) {
        proxy.failedPuts++;
        const xml = Buffer.from(s3ErrorXml(status === 503 ? 'SlowDown' : 'InternalError', `injected ${status} for PUT ${path}`));
        res.writeHead(status, { 'content-type': 'application/xml', 'content-length': xml.length });
        res.end(xml);
        return;
      }
      const up = http.request(
        { host: target.hostname, port: target.port, method: req.method, path: req.url, headers: { ...req.headers, host: target.host }, agent },
        (upRes) => {
          res.writeHead(upRes.statusCode ?? 502, upRes.headers);
          upRes.pipe(res);
        },
      );
      up.on('error', () => res.destroy());
      up.end(body);
    });
  });
  server.keepAliveTimeout = 60_000;
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  let closed = false;
  const proxy: PutFaultProxy = {
    endpoint: `http://127.0.0.1:${port}`,
    failPut: undefined,
    failedPuts: 0,
    async close() {
      if (closed) return;
      closed = true;
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
      agent.destroy();
    },
  };
  return proxy;
}
