/**
 * A gate in front of an S3 endpoint (s3rver, or the fault proxy in front of it): an HTTP
 * proxy that forwards every request, except that while it is shut, the requests it holds
 * (object reads with a `Range` header, or LTX uploads: {@link GateHolds}) wait at the gate
 * until it opens. A test shuts it to hold a query that needs pages from storage, or a
 * commit's upload, in the middle of its run — for as long as the test decides, with no
 * timer — and counts the requests waiting (`held`, `whenHeld`).
 */
import * as http from 'node:http';
import type { AddressInfo } from 'node:net';

/** A running gate proxy. */
export interface GateProxy {
  /** `http://127.0.0.1:<port>` */
  endpoint: string;
  /** Hold ranged reads from now on. */
  shut(): void;
  /** Let every held read through, and later ones. */
  open(): void;
  /** Ranged reads waiting now. */
  readonly held: number;
  /** Resolves once at least `n` ranged reads wait at the gate. */
  whenHeld(n: number): Promise<void>;
  /** Stop listening (after opening the gate). */
  close(): Promise<void>;
}

/** Which requests a shut gate holds: by default object reads with a `Range` header. */
export type GateHolds = (req: http.IncomingMessage) => boolean;

/** Object reads with a `Range` header (the default of {@link startGateProxy}). */
export const RANGED_READS: GateHolds = (req) => req.method === 'GET' && req.headers.range !== undefined;

/** Uploads of LTX files (`PUT …/<min>-<max>.ltx`): the write path's commits. */
export const LTX_UPLOADS: GateHolds = (req) => req.method === 'PUT' && /\.ltx(\?|$)/.test(req.url ?? '');

/** Start a gate proxy forwarding to `upstream` (`http://host:port`), holding what `holds` picks while shut. */
export async function startGateProxy(upstream: string, holds: GateHolds = RANGED_READS): Promise<GateProxy> {
  const target = new URL(upstream);
  let shut = false;
  let waiting: (() => void)[] = [];
  let watchers: { n: number; resolve: () => void }[] = [];
  const forward = (req: http.IncomingMessage, res: http.ServerResponse): void => {
    const out = http.request({ host: target.hostname, port: target.port, method: req.method, path: req.url, headers: req.headers }, (up) => {
      res.writeHead(up.statusCode ?? 502, up.headers);
      up.pipe(res);
    });
    out.on('error', () => res.destroy());
    req.pipe(out);
  };
  const server = http.createServer((req, res) => {
    if (!shut || !holds(req)) {
      forward(req, res);
      return;
    }
    req.pause();
    waiting.push(() => {
      req.resume();
      forward(req, res);
    });
    watchers = watchers.filter((w) => {
      if (waiting.length < w.n) return true;
      w.resolve();
      return false;
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  const gate: GateProxy = {
    endpoint: `http://127.0.0.1:${port}`,
    shut: () => {
      shut = true;
    },
    open: () => {
      shut = false;
      const go = waiting;
      waiting = [];
      for (const f of go) f();
    },
    get held() {
      return waiting.length;
    },
    whenHeld: (n) => new Promise<void>((resolve) => {
      if (waiting.length >= n) resolve();
      else watchers.push({ n, resolve });
    }),
    close: async () => {
      gate.open();
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
  return gate;
}
