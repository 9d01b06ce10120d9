/**
 * The Cloud Storage emulator of firebase-tools (its `StorageEmulator`, the GCS JSON API:
 * uploads, listings with prefix/delimiter, metadata, `alt=media` and XML-path GETs with
 * Range), started alone in this process on 127.0.0.1, a random port and a temp directory.
 * `firebase emulators:start` would download a Java rules jar first; the JSON API does
 * not need it: requests go to the emulator's admin storage layer, which checks no rules,
 * so the app is created and served here without starting the rules runtime.
 *
 * What the emulator lacks of Cloud Storage, this front adds (as the fault proxy adds
 * S3's precondition semantics to s3rver), each per the Cloud Storage JSON API reference:
 * - generation preconditions (`ifGenerationMatch`, also `0` = "must not exist") on uploads
 *   and deletes: 412 `conditionNotMet`, checked and applied one mutation at a time;
 * - unique, increasing generations (the emulator takes `Date.now()`, equal within a ms);
 * - buckets that must exist: a bucket not created by {@link GcsEmulator.createBucket}
 *   answers 404 "The specified bucket does not exist." (the emulator creates any bucket
 *   on first use), and a denied bucket answers 403 (a caller without permission).
 * `stop()`/`restart()` drop and reopen the listener on the same port, keeping the objects.
 */
import { createRequire } from 'node:module';
import * as http from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const require = createRequire(import.meta.url);

/** The parts of firebase-tools' storage layer used here. */
interface StorageLayer {
  getMetadata(bucket: string, object: string): { generation: number | string } | undefined;
  uploadObject(upload: unknown): Promise<{ generation: number | string }>;
}
interface Emulator {
  args: { port?: number; host?: string };
  adminStorageLayer: StorageLayer;
  stop(): Promise<void>;
}

/** A running emulator. */
export interface GcsEmulator {
  /** `http://127.0.0.1:<port>`, what `STORAGE_EMULATOR_HOST` is set to. */
  endpoint: string;
  /** `127.0.0.1:<port>` (a bare host: http to Litestream's Go client and to ltxvfs). */
  host: string;
  /** The bucket created at start. */
  bucket: string;
  /** Environment for the replica clients and for Litestream: `STORAGE_EMULATOR_HOST`. */
  env: Record<string, string>;
  /** Requests answered so far (each HTTP request). */
  requests: number;
  /** Make another bucket exist. */
  createBucket(name: string): void;
  /** Answer 403 for everything in this bucket (it exists). */
  denyBucket(name: string): void;
  /** Close the listener and drop open connections (the objects stay). */
  stop(): Promise<void>;
  /** Listen again on the same port. */
  restart(): Promise<void>;
  /** Stop for good and remove the temp directory. Idempotent. */
  close(): Promise<void>;
}

const CONTROL_SEGMENTS = new Set(['b', 'storage', 'upload', 'download', 'internal', 'v0', 'batch']);

/**
 * Start the emulator with one bucket.
 * @param options.bucket default `ltxvfs-test`.
 * @returns the handle; `startMs` of the last start is printed by callers that measure it.
 */
export async function startGcsEmulator(options: { bucket?: string } = {}): Promise<GcsEmulator> {
  const bucket = options.bucket ?? 'ltxvfs-test';
  const dir = mkdtempSync(join(tmpdir(), 'ltxvfs-gcs-'));
  const { StorageEmulator } = require('firebase-tools/lib/emulator/storage/index.js') as { StorageEmulator: new (args: object) => Emulator };
  const { createApp } = require('firebase-tools/lib/emulator/storage/server.js') as { createApp: (p: string, e: Emulator) => Promise<http.RequestListener> };
  const { EmulatorRegistry } = require('firebase-tools/lib/emulator/registry.js') as { EmulatorRegistry: { set(n: string, e: Emulator): void; clear(n: string): void } };

  class LocalEmulator extends StorageEmulator {
    getPersistenceTmpDir(): string {
      return join(dir, 'blobs');
    }
  }
  const emulator = new LocalEmulator({ projectId: 'demo-ltxvfs', rules: { name: 'storage.rules', content: '' }, host: '127.0.0.1', port: 0 });
  const app = await createApp('demo-ltxvfs', emulator);
  const layer = emulator.adminStorageLayer;
  let lastGeneration = 0;
  const upload = layer.uploadObject.bind(layer);
  layer.uploadObject = async (u) => {
    const md = await upload(u);
    lastGeneration = Math.max(Date.now() * 1000, lastGeneration + 1); // microseconds, as Cloud Storage's
    md.generation = lastGeneration;
    return md;
  };

  const buckets = new Set([bucket]);
  const denied = new Set<string>();
  let mutations: Promise<void> = Promise.resolve();
  const sockets = new Set<Socket>();
  const handle: GcsEmulator = {
    endpoint: '',
    host: '',
    bucket,
    env: {},
    requests: 0,
    createBucket: (name) => void buckets.add(name),
    denyBucket: (name) => void denied.add(name),
    stop,
    restart,
    close,
  };

  const server = http.createServer((req, res) => {
    handle.requests++;
    const url = new URL(req.url ?? '/', 'http://x');
    const target = targetOf(url);
    const error = (code: number, message: string, reason: string) => {
      res.writeHead(code, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ error: { code, message, errors: [{ message, domain: 'global', reason }] } }));
    };
    if (target !== undefined && denied.has(target.bucket)) {
      return error(403, `caller does not have storage.objects access to the Google Cloud Storage bucket ${target.bucket}.`, 'forbidden');
    }
    if (target !== undefined && !buckets.has(target.bucket)) return error(404, 'The specified bucket does not exist.', 'notFound');
    if (req.method === 'GET' || req.method === 'HEAD' || target === undefined) return app(req, res);
    // One mutation at a time: the precondition check and the change are one step.
    const previous = mutations;
    let release = () => {};
    mutations = new Promise<void>((r) => (release = r));
    void previous.then(() => {
      res.on('close', release);
      const want = url.searchParams.get('ifGenerationMatch');
      if (want !== null && target.object !== undefined) {
        const current = layer.getMetadata(target.bucket, target.object);
        const generation = current === undefined ? 0 : Number(current.generation);
        if (Number(want) !== generation) return error(412, 'At least one of the pre-conditions you specified did not hold.', 'conditionNotMet');
      }
      app(req, res);
    });
  });
  server.on('connection', (s) => {
    sockets.add(s);
    s.on('close', () => sockets.delete(s));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as AddressInfo).port;
  emulator.args.port = port;
  EmulatorRegistry.set('storage', emulator); // resumable uploads build their session URL from it
  handle.endpoint = `http://127.0.0.1:${port}`;
  handle.host = `127.0.0.1:${port}`;
  handle.env = { STORAGE_EMULATOR_HOST: handle.endpoint };

  let listening = true;
  let closed = false;
  async function stop(): Promise<void> {
    if (!listening) return;
    listening = false;
    const done = new Promise<void>((resolve) => server.close(() => resolve()));
    for (const s of sockets) s.destroy();
    await done;
  }
  async function restart(): Promise<void> {
    if (listening) return;
    await new Promise<void>((resolve) => server.listen(port, '127.0.0.1', resolve));
    listening = true;
  }
  async function close(): Promise<void> {
    if (closed) return;
    closed = true;
    await stop();
    EmulatorRegistry.clear('storage');
    rmSync(dir, { recursive: true, force: true });
  }
  return handle;
}

/** The bucket and object a request names (JSON API paths, upload paths, XML paths). */
function targetOf(url: URL): { bucket: string; object: string | undefined } | undefined {
  const parts = url.pathname.split('/').filter((p) => p !== '');
  const b = parts.indexOf('b');
  if (b !== -1 && b + 1 < parts.length && CONTROL_SEGMENTS.has(parts[0])) {
    const bucket = decodeURIComponent(parts[b + 1]);
    const name = parts[b + 2] === 'o' && parts[b + 3] !== undefined ? decodeURIComponent(parts[b + 3]) : url.searchParams.get('name') ?? undefined;
    return { bucket, object: name };
  }
  if (parts.length >= 1 && !CONTROL_SEGMENTS.has(parts[0])) {
    return { bucket: decodeURIComponent(parts[0]), object: parts.length > 1 ? decodeURIComponent(parts.slice(1).join('/')) : undefined };
  }
  return undefined;
}
