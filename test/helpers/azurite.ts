/**
 * Azurite's blob service (npm `azurite`, the emulator Microsoft publishes) as a child
 * process on loopback: a random port, a temporary workspace, in-memory persistence,
 * `--skipApiVersionCheck --loose --disableTelemetry` (the flags docs/backends/abs.md names),
 * and TLS when a certificate is given. The child can be paused (SIGSTOP: connections are
 * accepted by the kernel and never answered, the way a hung server looks) and resumed,
 * for fault tests. Its well-known development account is {@link AZURITE_ACCOUNT}.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { TestCertificate } from './tls.js';

/** Azurite's published development account and key (Azure docs, "Use the Azurite emulator"). */
export const AZURITE_ACCOUNT = {
  name: 'devstoreaccount1',
  key: 'Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw==',
} as const;

const AZURITE_BLOB = fileURLToPath(new URL('../../node_modules/azurite/dist/src/blob/main.js', import.meta.url));

/** A running Azurite blob service. */
export interface AzuriteHandle {
  /** The TCP port it listens on (127.0.0.1). */
  port: number;
  /** `http(s)://127.0.0.1:<port>/devstoreaccount1`: the path-style account endpoint. */
  endpoint: string;
  /** Stop answering (SIGSTOP) until {@link resume}. */
  pause(): void;
  /** Answer again (SIGCONT). */
  resume(): void;
  /** Kill the process and remove its workspace. Idempotent. */
  stop(): Promise<void>;
}

/**
 * Start Azurite's blob service.
 * @param options.tls serve https with this certificate (its names must cover how clients reach it).
 * @throws Error with Azurite's output when it does not report a listening port within 20 s.
 */
export async function startAzurite(options: { tls?: TestCertificate } = {}): Promise<AzuriteHandle> {
  const dir = mkdtempSync(join(tmpdir(), 'ltxvfs-azurite-'));
  const args = [AZURITE_BLOB, '--blobHost', '127.0.0.1', '--blobPort', '0', '--silent',
    '--skipApiVersionCheck', '--loose', '--disableTelemetry', '--inMemoryPersistence', '--extentMemoryLimit', '256'];
  if (options.tls !== undefined) {
    writeFileSync(join(dir, 'key.pem'), options.tls.key);
    args.push('--cert', options.tls.certFile, '--key', join(dir, 'key.pem'));
  }
  const child: ChildProcess = spawn(process.execPath, args, { cwd: dir, stdio: ['ignore', 'pipe', 'pipe'] });
  let output = '';
  const port = await new Promise<number>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`azurite did not start within 20 s:\n${output}`)), 20_000);
    const onData = (d: Buffer) => {
      output += d.toString();
      const m = /successfully listens on https?:\/\/127\.0\.0\.1:(\d+)/.exec(output);
      if (m !== null) {
        clearTimeout(timer);
        resolve(Number(m[1]));
      }
    };
    child.stdout!.on('data', onData);
    child.stderr!.on('data', onData);
    child.on('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`azurite exited (${String(code)}):\n${output}`));
    });
  });
  child.stdout!.resume();
  child.stderr!.resume();
  let stopped = false;
  return {
    port,
    endpoint: `${options.tls === undefined ? 'http' : 'https'}://127.0.0.1:${port}/${AZURITE_ACCOUNT.name}`,
    pause: () => child.kill('SIGSTOP'),
    resume: () => child.kill('SIGCONT'),
    stop: async () => {
      if (stopped) return;
      stopped = true;
      if (child.exitCode === null) {
        const exited = new Promise((r) => child.once('exit', r));
        child.kill('SIGCONT');
        child.kill('SIGKILL');
        await exited;
      }
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
