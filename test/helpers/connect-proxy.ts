/**
 * A local HTTPS proxy (HTTP `CONNECT`, RFC 9110 §9.3.6) that tunnels every
 * `<anything>.<suffix>:443` to one local TLS port, so clients that only know a production
 * host name (`ACCOUNT.blob.core.windows.net`, which Litestream's abs client always uses)
 * reach a local server through the standard `HTTPS_PROXY` variable. Other targets are
 * refused with 403. TLS stays end to end: the client checks the server's certificate.
 */
import { createServer, type IncomingMessage } from 'node:http';
import { connect, type AddressInfo, type Socket } from 'node:net';
import type { Duplex } from 'node:stream';

/** A running CONNECT proxy. */
export interface ConnectProxy {
  /** `http://127.0.0.1:<port>`, for `HTTPS_PROXY`. */
  url: string;
  /** The targets (`host:port`) tunnelled so far, in order. */
  readonly tunnels: string[];
  /** Stop listening and drop every tunnel. Idempotent. */
  close(): Promise<void>;
}

/**
 * Start the proxy on 127.0.0.1 at a random port.
 * @param suffix host suffix to tunnel, e.g. `.blob.core.windows.net`.
 * @param targetPort the local port (127.0.0.1) the tunnels lead to.
 */
export async function startConnectProxy(suffix: string, targetPort: number): Promise<ConnectProxy> {
  const sockets = new Set<Socket | Duplex>();
  const tunnels: string[] = [];
  const server = createServer((_req, res) => {
    res.writeHead(405, { 'content-type': 'text/plain' }).end('only CONNECT\n');
  });
  server.on('connect', (req: IncomingMessage, client: Duplex, head: Buffer) => {
    sockets.add(client);
    client.on('close', () => sockets.delete(client));
    client.on('error', () => client.destroy());
    const target = req.url ?? '';
    const m = /^([^:]+):(\d+)$/.exec(target);
    if (m === null || !m[1].endsWith(suffix) || m[2] !== '443') {
      client.end('HTTP/1.1 403 Forbidden\r\n\r\n');
      return;
    }
    tunnels.push(target);
    const upstream = connect(targetPort, '127.0.0.1', () => {
      client.write('HTTP/1.1 200 Connection Established\r\n\r\n');
      if (head.length > 0) upstream.write(head);
      upstream.pipe(client);
      client.pipe(upstream);
    });
    sockets.add(upstream);
    upstream.on('close', () => {
      sockets.delete(upstream);
      client.destroy();
    });
    upstream.on('error', () => client.destroy());
    client.on('close', () => upstream.destroy());
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  let closed = false;
  return {
    url: `http://127.0.0.1:${port}`,
    tunnels,
    close: async () => {
      if (closed) return;
      closed = true;
      for (const s of sockets) s.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
