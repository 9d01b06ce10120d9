/**
 * A real NATS server with JetStream for the nats:// tests: the Debian `nats-server` (2.9,
 * `/usr/sbin/nats-server`; `.ci/run` installs it) on loopback, a free port, its store in a
 * temporary directory, user/password auth. `stop()` and `start()` again on the same port
 * and store directory are the fault tests' "server down, server back"; `close()` kills it
 * and removes the directory.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { existsSync, promises as fs } from 'node:fs';
import { createServer, connect as tcpConnect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

/** Where Debian installs the server. */
export const NATS_SERVER_BIN = process.env.NATS_SERVER_BIN ?? '/usr/sbin/nats-server';

/** The user and password the test server requires. */
export const NATS_CREDENTIALS = Object.freeze({ user: 'u', password: 'p' });

/** A running nats-server. */
export interface NatsServerHandle {
  /** `127.0.0.1`. */
  host: string;
  port: number;
  /** `nats://u:p@127.0.0.1:<port>/<bucket>`: the replica URL of `bucket`, credentials included (as users paste it). */
  url(bucket: string): string;
  /** Kill the server (SIGKILL: no goodbye to clients), keeping its store. Idempotent. */
  stop(): Promise<void>;
  /** Start it again on the same port and store; resolves once it accepts connections. */
  start(): Promise<void>;
  /** Stop it and remove its store directory. Idempotent. */
  close(): Promise<void>;
}

/** Throw a clear error when nats-server is not installed (`apt-get install -y nats-server`). */
export function requireNatsServer(): string {
  if (!existsSync(NATS_SERVER_BIN) || spawnSync(NATS_SERVER_BIN, ['--version']).status !== 0) {
    throw new Error(`nats-server not found at ${NATS_SERVER_BIN}: apt-get install -y nats-server (or set NATS_SERVER_BIN)`);
  }
  return NATS_SERVER_BIN;
}

/** A TCP port free on 127.0.0.1 right now. */
async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.once('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const { port } = srv.address() as { port: number };
      srv.close(() => resolve(port));
    });
  });
}

function accepts(host: string, port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const sock = tcpConnect({ host, port });
    sock.once('connect', () => {
      sock.destroy();
      resolve(true);
    });
    sock.once('error', () => resolve(false));
  });
}

/**
 * Start `nats-server -js -sd <tempdir> -a 127.0.0.1 -p <free port> --user u --pass p`.
 * @throws Error when the binary is missing, or the server exits or does not accept within 10 s (with its output).
 */
export async function startNatsServer(): Promise<NatsServerHandle> {
  const bin = requireNatsServer();
  const dir = await fs.mkdtemp(join(tmpdir(), 'ltxvfs-nats-'));
  const host = '127.0.0.1';
  const port = await freePort();
  let child: ChildProcess | undefined;
  let output = '';

  const start = async (): Promise<void> => {
    if (child !== undefined) return;
    const args = ['-js', '-sd', dir, '-a', host, '-p', String(port), '--user', NATS_CREDENTIALS.user, '--pass', NATS_CREDENTIALS.password];
    const proc = spawn(bin, args, { stdio: ['ignore', 'pipe', 'pipe'] });
    child = proc;
    let exited = false;
    proc.on('exit', () => {
      exited = true;
      if (child === proc) child = undefined;
    });
    const collect = (d: Buffer) => {
      output = (output + d.toString()).slice(-8000);
    };
    proc.stdout?.on('data', collect);
    proc.stderr?.on('data', collect);
    for (let i = 0; i < 200; i++) {
      if (exited) throw new Error(`nats-server exited at start:\n${output}`);
      // JetStream is ready once the server logs it and accepts TCP.
      if (output.includes('Server is ready') && (await accepts(host, port))) return;
      await new Promise((r) => setTimeout(r, 50));
    }
    proc.kill('SIGKILL');
    throw new Error(`nats-server did not accept connections on ${host}:${port} within 10 s:\n${output}`);
  };

  const stop = async (): Promise<void> => {
    const proc = child;
    if (proc === undefined) return;
    const gone = new Promise((r) => proc.once('exit', r));
    proc.kill('SIGKILL');
    await gone;
  };

  await start();
  let closed = false;
  return {
    host,
    port,
    url: (bucket) => `nats://${NATS_CREDENTIALS.user}:${NATS_CREDENTIALS.password}@${host}:${port}/${bucket}`,
    stop,
    start,
    close: async () => {
      if (closed) return;
      closed = true;
      await stop();
      await fs.rm(dir, { recursive: true, force: true });
    },
  };
}
