/**
 * The write lease (lib/write/lease.ts): Litestream's lock.json protocol (docs/formats.md §5.2,
 * litestream s3/leaser.go) on a directory and on S3 — s3rver behind the fault proxy, which
 * enforces If-None-Match / If-Match with 412 as S3 does. The same behaviour suite runs on
 * both; then the byte format, Litestream-written records, background renewal, the
 * directory guard, and the unref'd timer.
 */
import t, { type Test } from 'tap';
import { spawn } from 'node:child_process';
import { subscribe, unsubscribe } from 'node:diagnostics_channel';
import { promises as fs } from 'node:fs';
import { hostname } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { isLtxvfsError, LtxvfsError } from '../../ltx/errors.js';
import {
  decodeLeaseRecord, defaultLeaseOwner, encodeLeaseRecord, Lease, LEASE_OBJECT_NAME, readLease, type LeaseMessage,
} from '../../lib/write/lease.js';
import { openFileReplica } from '../../lib/storage/file/client.js';
import { formatRfc3339Nano } from '../../lib/storage/rfc3339.js';
import type { LtxFileInfo, ReplicaCapabilities, ReplicaClient, WriteOptions } from '../../lib/storage/types.js';
import { openReplicaClient } from '../../lib/storage/url.js';
import { startFaultProxy, type FaultProxy } from '../helpers/fault-proxy.js';
import { ClockTimers } from '../helpers/clock-timers.js';
import { TestClock } from '../helpers/polling.js';
import { rejectsLtx } from '../helpers/replica-builder.js';
import { startS3rver, type S3rverHandle } from '../helpers/s3rver.js';

const ENV = { AWS_ACCESS_KEY_ID: 'S3RVER', AWS_SECRET_ACCESS_KEY: 'S3RVER' };
const FAST = { retryBaseDelayMs: 2, retryMaxDelayMs: 20 };
/** 2027-01-15T08:00:00Z. */
const T0 = Date.UTC(2027, 0, 15, 8, 0, 0);
const enc = (s: string) => new TextEncoder().encode(s);
const dec = (b: Uint8Array) => new TextDecoder().decode(b);

/** One call a {@link Recorder} passed on. */
interface Call {
  op: 'read' | 'write' | 'delete';
  key: string;
  options?: WriteOptions | { ifMatch?: string };
  body?: string;
}

/** A real client that records read/write/delete calls and can fail the next writes. */
class Recorder implements ReplicaClient {
  readonly calls: Call[] = [];
  /** Fail this many upcoming writes of `lock.json` with this error (then pass them on again). */
  failWrites = 0;
  failWith: () => Error = () => new LtxvfsError('LTXVFS_ERR_STORAGE', 'injected storage failure');
  failReads: Error | undefined;
  failDeletes: Error | undefined;
  /** Declared instead of the inner client's, when set. */
  capabilitiesOverride: ReplicaCapabilities | undefined;
  constructor(readonly inner: ReplicaClient) {}
  get url(): string {
    return this.inner.url;
  }
  get capabilities(): ReplicaCapabilities {
    return this.capabilitiesOverride ?? this.inner.capabilities;
  }
  ltxKey(level: number, min: number, max: number): string {
    return this.inner.ltxKey(level, min, max);
  }
  objectKey(name: string): string {
    return this.inner.objectKey(name);
  }
  listLtxFiles(level: number): Promise<LtxFileInfo[]> {
    return this.inner.listLtxFiles(level);
  }
  readRange(key: string, offset: number, length: number): Promise<Uint8Array> {
    return this.inner.readRange(key, offset, length);
  }
  async read(key: string): Promise<{ data: Uint8Array; etag: string }> {
    this.calls.push({ op: 'read', key });
    if (this.failReads !== undefined) throw this.failReads;
    return this.inner.read(key);
  }
  async write(key: string, data: Uint8Array, options?: WriteOptions): Promise<{ etag: string }> {
    this.calls.push({ op: 'write', key, options, body: dec(data) });
    if (this.failWrites > 0 && key.endsWith(LEASE_OBJECT_NAME)) {
      this.failWrites--;
      throw this.failWith();
    }
    return this.inner.write(key, data, options);
  }
  async delete(key: string, options?: { ifMatch?: string }): Promise<void> {
    this.calls.push({ op: 'delete', key, options });
    if (this.failDeletes !== undefined) throw this.failDeletes;
    return this.inner.delete(key, options);
  }
  close(): Promise<void> {
    return this.inner.close();
  }
  /** Calls on `lock.json` itself (not the directory guard). */
  lockCalls(): Call[] {
    return this.calls.filter((c) => c.key.endsWith(LEASE_OBJECT_NAME));
  }
}

let s3: S3rverHandle;
let proxy: FaultProxy;
t.before(async () => {
  s3 = await startS3rver();
  proxy = await startFaultProxy(s3.endpoint);
});
t.teardown(async () => {
  await proxy.close();
  await s3.close();
});

interface Backend {
  name: string;
  /** A fresh replica client at `path` (closed at the end of the test). */
  open(t: Test, path: string): Promise<ReplicaClient>;
}

let dirRoot: string;
const backends: Backend[] = [
  {
    name: 'directory',
    async open(t, path) {
      dirRoot ??= t.testdir();
      const client = await openFileReplica(join(dirRoot, path), { create: true });
      t.teardown(() => client.close());
      return client;
    },
  },
  {
    name: 's3',
    async open(t, path) {
      const client = await openReplicaClient(`s3://${s3.bucket}/${path}?endpoint=${proxy.endpoint}`, { env: ENV, s3: FAST });
      t.teardown(() => client.close());
      return client;
    },
  },
];

/** The exact bytes Go's json.Marshal gives for litestream's Lease (leaser.go) with a UTC time. */
function goJson(generation: number, expiresAtMs: number, owner: string): string {
  return owner === ''
    ? `{"generation":${generation},"expires_at":"${formatRfc3339Nano(expiresAtMs)}"}`
    : `{"generation":${generation},"expires_at":"${formatRfc3339Nano(expiresAtMs)}","owner":"${owner}"}`;
}

let pathCounter = 0;
const freshPath = (what: string) => `lease-${what}-${++pathCounter}`;

for (const backend of backends) {
  t.test(`${backend.name}`, async (t) => {
    t.test('acquire creates lock.json (generation 1, If-None-Match, application/json); renew keeps the generation; release deletes it', async (t) => {
      const rec = new Recorder(await backend.open(t, freshPath('basic')));
      const key = rec.objectKey(LEASE_OBJECT_NAME);
      let clock = T0;
      const lease = await Lease.acquire(rec, { owner: 'web-1:4242', now: () => clock, renew: false });
      t.equal(lease.key, key);
      t.equal(lease.generation, 1);
      t.equal(lease.owner, 'web-1:4242');
      t.equal(lease.ttlMs, 30_000, "Litestream's default TTL");
      t.equal(lease.expiresAt.getTime(), T0 + 30_000);
      t.ok(lease.held);
      lease.assertHeld();
      t.same(rec.calls.map((c) => [c.op, c.key]), [['read', key], ['write', key]], 'one read, one write');
      t.same(rec.calls[1].options, { ifNoneMatch: true, contentType: 'application/json' });
      const stored = await rec.inner.read(key);
      t.equal(dec(stored.data), goJson(1, T0 + 30_000, 'web-1:4242'));
      t.equal(stored.etag, lease.etag, 'the lease keeps the ETag of what it wrote');

      const renewed: Lease[] = [];
      lease.on('renewed', (l) => renewed.push(l));
      clock += 10_000;
      const before = lease.etag;
      rec.calls.length = 0;
      await lease.renew();
      t.same(renewed, [lease], "'renewed' emitted");
      t.same(rec.lockCalls().map((c) => c.op), ['write']);
      t.same(rec.lockCalls()[0].options, { ifMatch: before, contentType: 'application/json' });
      t.equal(lease.generation, 1, 'renewal keeps the generation');
      t.equal(lease.expiresAt.getTime(), T0 + 40_000);
      t.not(lease.etag, before);
      t.equal(dec((await rec.inner.read(key)).data), goJson(1, T0 + 40_000, 'web-1:4242'));

      rec.calls.length = 0;
      t.equal(await lease.release(), true, 'release deleted it');
      t.same(rec.lockCalls(), [{ op: 'delete', key, options: { ifMatch: lease.etag } }]);
      t.equal(await readLease(rec), undefined, 'lock.json is gone');
      t.notOk(lease.held);
      t.throws(() => lease.assertHeld(), { code: 'LTXVFS_ERR_LEASE_LOST', message: /was released; acquire it again/ });
      await rejectsLtx(t, lease.renew(), 'LTXVFS_ERR_LEASE_LOST', key, /released/);
      rec.calls.length = 0;
      t.equal(await lease.release(), false, 'a second release does nothing');
      t.same(rec.calls, [], '… and sends nothing');

      const again = await Lease.acquire(rec, { owner: 'web-1:4242', now: () => clock, renew: false });
      t.equal(again.generation, 1, 'after a release the next lease starts again at generation 1');
      await again.release();
    });

    t.test('a live lease held by another writer: LTXVFS_ERR_LEASE_HELD naming owner and expiry, nothing written', async (t) => {
      const path = freshPath('held');
      const a = await Lease.acquire(await backend.open(t, path), { owner: 'node-a:1', now: () => T0, renew: false });
      const rec = new Recorder(await backend.open(t, path));
      const etagBefore = (await rec.inner.read(a.key)).etag;
      for (const at of [T0, T0 + 29_999, T0 + 30_000]) {
        const err = await rejectsLtx(t, Lease.acquire(rec, { owner: 'node-b:2', now: () => at }), 'LTXVFS_ERR_LEASE_HELD',
          `lease already held by node-a:1 until ${formatRfc3339Nano(T0 + 30_000)} (generation 1, ${a.key})`);
        t.equal((err as LtxvfsError).key, a.key, 'the error key is the lock key');
      }
      t.same(rec.calls.map((c) => c.op), ['read', 'read', 'read'], 'refused on the read alone, up to and including expires_at');
      t.equal((await rec.inner.read(a.key)).etag, etagBefore, 'lock.json unchanged');
      t.ok(a.held);
      await a.release();
    });

    t.test('an expired lease is taken over with generation + 1 and If-Match; the old holder then loses it', async (t) => {
      const path = freshPath('takeover');
      const a = await Lease.acquire(await backend.open(t, path), { owner: 'node-a:1', now: () => T0, renew: false });
      const rec = new Recorder(await backend.open(t, path));
      const b = await Lease.acquire(rec, { owner: 'node-b:2', now: () => T0 + 30_001, renew: false });
      t.equal(b.generation, 2);
      const puts = rec.lockCalls().filter((c) => c.op === 'write');
      t.equal(puts.length, 1);
      t.same(puts[0].options, { ifMatch: a.etag, contentType: 'application/json' }, 'If-Match the ETag read');
      t.equal(dec((await rec.inner.read(b.key)).data), goJson(2, T0 + 60_001, 'node-b:2'));

      // A's clock still says its lease runs: its renewal meets B's object.
      const lost: LtxvfsError[] = [];
      a.on('lost', (e) => lost.push(e));
      t.ok(a.held, 'A does not know yet');
      await rejectsLtx(t, a.renew(), 'LTXVFS_ERR_LEASE_LOST', a.key, /taken over or deleted by another writer/, /acquire it again/);
      t.equal(lost.length, 1, "'lost' emitted once");
      t.equal(lost[0].code, 'LTXVFS_ERR_LEASE_LOST');
      t.notOk(a.held);
      t.throws(() => a.assertHeld(), { code: 'LTXVFS_ERR_LEASE_LOST', message: /generation 1, owner node-a:1\) lost/ });
      t.equal(await a.release(), false, 'releasing a lost lease deletes nothing');
      t.equal((await readLease(rec))?.record.owner, 'node-b:2', "B's lease is intact");
      t.ok(b.held);
      t.equal(await b.release(), true);
    });

    t.test('two racing acquirers: exactly one wins, for a free lease and for an expired one', async (t) => {
      for (let round = 0; round < 5; round++) {
        const path = freshPath('race');
        const clients = await Promise.all([0, 1, 2, 3].map(() => backend.open(t, path)));
        const free = await Promise.allSettled(clients.map((c, i) => Lease.acquire(c, { owner: `racer-${i}`, now: () => T0, renew: false })));
        const won = free.filter((r) => r.status === 'fulfilled');
        t.equal(won.length, 1, `round ${round}: one winner of a free lease`);
        for (const r of free) {
          if (r.status === 'rejected') t.ok(isLtxvfsError(r.reason, 'LTXVFS_ERR_LEASE_HELD'), (r.reason as Error).message);
        }
        const winner = (won[0] as PromiseFulfilledResult<Lease>).value;
        t.equal((await readLease(clients[0]))?.record.owner, winner.owner);

        const later = await Promise.allSettled(clients.map((c, i) => Lease.acquire(c, { owner: `late-${i}`, now: () => T0 + 60_000, renew: false })));
        const won2 = later.filter((r) => r.status === 'fulfilled');
        t.equal(won2.length, 1, `round ${round}: one winner of the expired lease`);
        for (const r of later) {
          if (r.status === 'rejected') t.ok(isLtxvfsError(r.reason, 'LTXVFS_ERR_LEASE_HELD'), (r.reason as Error).message);
        }
        const second = (won2[0] as PromiseFulfilledResult<Lease>).value;
        t.equal(second.generation, 2);
        t.same((await readLease(clients[0]))?.record, {
          generation: 2, owner: second.owner, expiresAt: formatRfc3339Nano(T0 + 90_000), expiresAtMs: T0 + 90_000,
        });
        t.equal(await second.release(), true);
      }
    });

    t.test('release tolerates a lease object that is already gone; a renewal then finds it lost', async (t) => {
      const client = await backend.open(t, freshPath('gone'));
      const a = await Lease.acquire(client, { owner: 'a', now: () => T0, renew: false });
      await client.delete(a.key);
      t.equal(await a.release(), false, '404 on release is fine');
      const b = await Lease.acquire(client, { owner: 'b', now: () => T0, renew: false });
      await client.delete(b.key);
      await rejectsLtx(t, b.renew(), 'LTXVFS_ERR_LEASE_LOST', b.key, /taken over or deleted/);
    });

    t.test('a lock.json written by Litestream (ns, a zone offset) is honoured until it expires, then taken over', async (t) => {
      const client = new Recorder(await backend.open(t, freshPath('litestream')));
      const key = client.objectKey(LEASE_OBJECT_NAME);
      // Go's json.Marshal of leaser.go's Lease with a time in UTC+02:00: 2027-01-15T10:00:30.123456789+02:00 = T0 + 30.123456789 s.
      const body = '{"generation":41,"expires_at":"2027-01-15T10:00:30.123456789+02:00","owner":"litestream-host:99"}';
      const { etag } = await client.inner.write(key, enc(body), { ifNoneMatch: true, contentType: 'application/json' });
      await rejectsLtx(t, Lease.acquire(client, { owner: 'ltxvfs:1', now: () => T0 + 30_123 }), 'LTXVFS_ERR_LEASE_HELD',
        'lease already held by litestream-host:99 until 2027-01-15T10:00:30.123456789+02:00 (generation 41');
      const lease = await Lease.acquire(client, { owner: 'ltxvfs:1', now: () => T0 + 30_124, renew: false });
      t.equal(lease.generation, 42);
      t.same(client.lockCalls().at(-1)?.options, { ifMatch: etag, contentType: 'application/json' });
      await lease.release();
      // Without an owner (omitempty) the message says so.
      const anonymous = '{"generation":1,"expires_at":"2027-01-15T08:00:30Z"}';
      await client.inner.write(key, enc(anonymous), { ifNoneMatch: true, contentType: 'application/json' });
      await rejectsLtx(t, Lease.acquire(client, { now: () => T0 }), 'LTXVFS_ERR_LEASE_HELD', 'lease already held until 2027-01-15T08:00:30Z (generation 1');
    });
  });
}

t.test('s3: keys, Content-Type and requests match s3/leaser.go (one GET + one PUT to acquire, one PUT to renew, one DELETE to release)', async (t) => {
  for (const [path, key] of [['deep/prefix', 'deep/prefix/lock.json'], ['', 'lock.json']] as const) {
    const client = await openReplicaClient(`s3://${s3.bucket}/${path}?endpoint=${proxy.endpoint}`, { env: ENV, s3: FAST });
    t.teardown(() => client.close());
    proxy.reset();
    const lease = await Lease.acquire(client, { owner: 'web-1:4242', renew: false });
    t.equal(lease.key, key);
    t.same(proxy.stats().requests, { GET: 1, PUT: 1 });
    const res = await fetch(`${s3.endpoint}/${s3.bucket}/${key}`);
    t.equal(res.headers.get('content-type'), 'application/json');
    t.equal(res.headers.get('etag'), lease.etag, 'the ETag verbatim, quotes included');
    t.equal(await res.text(), goJson(1, lease.expiresAt.getTime(), 'web-1:4242'));
    proxy.reset();
    await lease.renew();
    t.same(proxy.stats().requests, { PUT: 1 });
    proxy.reset();
    await lease.release();
    t.same(proxy.stats().requests, { DELETE: 1 });
  }
  // The proxy answered the loser of a race with 412.
  const c1 = await openReplicaClient(`s3://${s3.bucket}/race412?endpoint=${proxy.endpoint}`, { env: ENV, s3: FAST });
  const c2 = await openReplicaClient(`s3://${s3.bucket}/race412?endpoint=${proxy.endpoint}`, { env: ENV, s3: FAST });
  t.teardown(() => Promise.all([c1.close(), c2.close()]));
  proxy.reset();
  const r = await Promise.allSettled([Lease.acquire(c1, { renew: false }), Lease.acquire(c2, { renew: false })]);
  t.equal(r.filter((x) => x.status === 'fulfilled').length, 1);
  t.equal(proxy.stats().faults.preconditionFailures, 1, 'the loser got 412 Precondition Failed');
});

t.test('byte format: exactly what Go json.Marshal gives for litestream.Lease', async (t) => {
  const ms = Date.UTC(2026, 1, 6, 18, 26, 54, 123);
  t.equal(dec(encodeLeaseRecord({ generation: 6, expiresAtMs: ms, owner: 'web-1:4242' })),
    '{"generation":6,"expires_at":"2026-02-06T18:26:54.123Z","owner":"web-1:4242"}', 'field order generation, expires_at, owner');
  t.equal(dec(encodeLeaseRecord({ generation: 1, expiresAtMs: Date.UTC(2026, 1, 6, 18, 26, 54, 120), owner: 'x' })),
    '{"generation":1,"expires_at":"2026-02-06T18:26:54.12Z","owner":"x"}', 'trailing zeros trimmed');
  t.equal(dec(encodeLeaseRecord({ generation: 1, expiresAtMs: Date.UTC(2026, 1, 6, 18, 26, 54), owner: 'x' })),
    '{"generation":1,"expires_at":"2026-02-06T18:26:54Z","owner":"x"}', 'no fraction for whole seconds');
  t.equal(dec(encodeLeaseRecord({ generation: 9007199254740991, expiresAtMs: ms })),
    '{"generation":9007199254740991,"expires_at":"2026-02-06T18:26:54.123Z"}', 'owner omitted when empty (omitempty)');
  t.equal(dec(encodeLeaseRecord({ generation: 2, expiresAtMs: ms, owner: 'a<b>&"c"\\\u2028é' })),
    '{"generation":2,"expires_at":"2026-02-06T18:26:54.123Z","owner":"a\\u003cb\\u003e\\u0026\\"c\\"\\\\\\u2028é"}', "Go's HTML-safe escapes");
  t.throws(() => encodeLeaseRecord({ generation: 0, expiresAtMs: ms }), { code: 'LTXVFS_ERR_USAGE', message: /generation 0/ });
  t.throws(() => encodeLeaseRecord({ generation: 1.5, expiresAtMs: ms }), { code: 'LTXVFS_ERR_USAGE' });
  t.throws(() => encodeLeaseRecord({ generation: 1, expiresAtMs: NaN }), { code: 'LTXVFS_ERR_USAGE', message: /bad lease expiry NaN/ });
});

t.test('decoding follows Go json.Unmarshal: ns and offsets, case-insensitive names, zero values, refusals', async (t) => {
  const d = (s: string) => decodeLeaseRecord(enc(s), 'p/lock.json');
  t.same(d('{"generation":6,"expires_at":"2026-02-06T18:26:54.123456789Z","owner":"web-1:4242"}'), {
    generation: 6, expiresAt: '2026-02-06T18:26:54.123456789Z', expiresAtMs: Date.UTC(2026, 1, 6, 18, 26, 54, 123), owner: 'web-1:4242',
  });
  t.same(d('{"Generation":3,"EXPIRES_AT":"2026-02-06T19:26:54+01:00","extra":[1]}'), {
    generation: 3, expiresAt: '2026-02-06T19:26:54+01:00', expiresAtMs: Date.UTC(2026, 1, 6, 18, 26, 54), owner: '',
  });
  t.same(d('{}'), { generation: 0, expiresAt: '0001-01-01T00:00:00Z', expiresAtMs: -62135596800000, owner: '' }, 'zero values');
  t.equal(d('{}').expiresAtMs, new Date('0001-01-01T00:00:00Z').getTime(), "Go's zero time");
  t.same(d('{"generation":null,"expires_at":null,"owner":null}').generation, 0, 'null keeps the zero value');
  for (const [body, why] of [
    ['not json', /not JSON/],
    ['[1]', /not a JSON object/],
    ['null', /not a JSON object/],
    ['{"generation":-1}', /generation -1/],
    ['{"generation":"1"}', /generation "1"/],
    ['{"generation":1.5}', /generation 1.5/],
    ['{"expires_at":"tomorrow"}', /expires_at "tomorrow" is not an RFC 3339 time/],
    ['{"expires_at":5}', /expires_at 5/],
    ['{"owner":7}', /owner 7 is not a string/],
  ] as const) {
    t.throws(() => d(body), { code: 'LTXVFS_ERR_CORRUPT', key: 'p/lock.json', message: why }, body);
  }
  t.throws(() => decodeLeaseRecord(new Uint8Array([0x7b, 0xff, 0x7d]), 'k'), { code: 'LTXVFS_ERR_CORRUPT', message: /not JSON/ }, 'not UTF-8');
});

t.test('acquire refuses a lock.json that is not a lease record, and passes storage errors on', async (t) => {
  const client = new Recorder(await backends[0].open(t, freshPath('corrupt')));
  await client.write(client.objectKey(LEASE_OBJECT_NAME), enc('garbage'));
  await rejectsLtx(t, Lease.acquire(client), 'LTXVFS_ERR_CORRUPT', 'lock.json', /not a lease record: not JSON/);
  const other = new Recorder(await backends[0].open(t, freshPath('storage')));
  other.failReads = new LtxvfsError('LTXVFS_ERR_STORAGE', 'disk on fire');
  await rejectsLtx(t, Lease.acquire(other), 'LTXVFS_ERR_STORAGE', 'disk on fire');
  other.failReads = undefined;
  other.failWrites = 1;
  await rejectsLtx(t, Lease.acquire(other), 'LTXVFS_ERR_STORAGE', 'injected storage failure');
});

t.test('a create that loses the race to a writer that is already gone again still reports LTXVFS_ERR_LEASE_HELD', async (t) => {
  const client = new Recorder(await backends[1].open(t, freshPath('vanished')));
  client.failWrites = 1;
  client.failWith = () => new LtxvfsError('LTXVFS_ERR_PRECONDITION', 'precondition failed (412)');
  await rejectsLtx(t, Lease.acquire(client, { renew: false }), 'LTXVFS_ERR_LEASE_HELD', 'lock.json', /taken by another writer while acquiring it/);
  t.same(client.lockCalls().map((c) => c.op), ['read', 'write', 'read'], 're-read for the message, as leaser.go');
});

t.test('options: bad ttlMs or renewRetryMs are usage errors; the default owner is <hostname>:<pid>', async (t) => {
  const client = await backends[0].open(t, freshPath('options'));
  for (const ttlMs of [0, -1, NaN, Infinity]) {
    await rejectsLtx(t, Lease.acquire(client, { ttlMs }), 'LTXVFS_ERR_USAGE', `bad lease ttlMs ${ttlMs}`);
  }
  await rejectsLtx(t, Lease.acquire(client, { renewRetryMs: -1 }), 'LTXVFS_ERR_USAGE', 'bad lease renewRetryMs -1');
  t.equal(defaultLeaseOwner(), `${hostname()}:${process.pid}`);
  const lease = await Lease.acquire(client, { renew: false });
  t.equal(lease.owner, `${hostname()}:${process.pid}`);
  t.equal((await readLease(client))?.record.owner, lease.owner);
  await lease.release();
  t.equal(defaultLeaseOwner(''), `pid-${process.pid}`, 'pid-<pid> without a hostname');
  t.equal(client.objectKey('lock.json'), 'lock.json', 'directory: the name under the root');
  t.throws(() => client.objectKey('../lock.json'), { code: 'LTXVFS_ERR_BAD_KEY' }, 'directory: names stay inside the root');
  t.throws(() => client.objectKey(''), { code: 'LTXVFS_ERR_BAD_KEY' });
});

t.test('background renewal: every ttl/3, the same generation, events on the diagnostics channel', async (t) => {
  const messages: LeaseMessage[] = [];
  const onMessage = (m: unknown) => messages.push(m as LeaseMessage);
  subscribe('ltxvfs:lease', onMessage);
  t.teardown(() => unsubscribe('ltxvfs:lease', onMessage));
  for (const backend of backends) {
    messages.length = 0;
    const rec = new Recorder(await backend.open(t, freshPath('bg')));
    // Timers on the test's clock: each renewal runs when the test says, at the time it was due.
    const timers = new ClockTimers(new TestClock(T0));
    const lease = await Lease.acquire(rec, { ttlMs: 300, owner: 'bg', now: timers.clock.now, schedule: timers.schedule });
    rec.failWrites = 1; // the first renewal fails and is retried
    let renewals = 0;
    lease.on('renewed', () => renewals++);
    t.equal(await timers.runNext(), T0 + 100, `${backend.name}: the first renewal is due ttl/3 after acquiring`);
    t.equal(renewals, 0, 'it failed');
    t.ok(isLtxvfsError(lease.lastRenewError, 'LTXVFS_ERR_STORAGE'));
    t.equal(await timers.runNext(), T0 + 130, 'retried renewRetryMs (default ttl/10) later');
    t.equal(lease.expiresAt.getTime(), T0 + 130 + 300, 'expiry moves forward: now + ttl');
    t.equal(await timers.runNext(), T0 + 230, 'then every ttl/3');
    t.equal(await timers.runNext(), T0 + 330);
    t.equal(renewals, 3);
    t.ok(lease.held, 'still held after three renewal periods');
    t.equal(lease.generation, 1);
    t.equal(await lease.release(), true);
    t.equal(await timers.runNext(), undefined, 'no renewal pending after release');
    t.equal(renewals, 3);
    t.same([...new Set(messages.map((m) => m.event))], ['acquired', 'renew-failed', 'renewed', 'released']);
    t.match(messages.find((m) => m.event === 'renew-failed'), { error: { code: 'LTXVFS_ERR_STORAGE' } });
    t.match(messages[0], { url: rec.url, key: rec.objectKey(LEASE_OBJECT_NAME), owner: 'bg', generation: 1 });
  }
});

t.test('a failing renewal is retried until it succeeds, or until expiry, then the lease is lost', async (t) => {
  const rec = new Recorder(await backends[0].open(t, freshPath('retry')));
  const timers = new ClockTimers(new TestClock(T0));
  const lease = await Lease.acquire(rec, { ttlMs: 600, owner: 'retry', renewRetryMs: 20, now: timers.clock.now, schedule: timers.schedule });
  rec.failWrites = 3;
  const renewedAt: number[] = [];
  lease.on('renewed', () => renewedAt.push(timers.clock.ms));
  const due: number[] = [];
  while (renewedAt.length === 0) due.push((await timers.runNext()) ?? NaN);
  t.same(due, [T0 + 200, T0 + 220, T0 + 240, T0 + 260], 'three failures 20 ms apart, then success');
  t.equal(rec.failWrites, 0);
  t.equal(lease.lastRenewError, undefined);
  t.ok(lease.held);
  const expiry = lease.expiresAt.getTime();
  t.equal(expiry, T0 + 260 + 600);

  rec.failWrites = 1_000;
  let lost: LtxvfsError | undefined;
  lease.once('lost', (e) => (lost = e));
  const failedAt: number[] = [];
  while (lost === undefined) {
    const at = await timers.runNext();
    if (at === undefined) break;
    failedAt.push(at);
    if (lost === undefined) t.ok(lease.held, `failed renewals alone do not end a lease that has not run out (${at - T0})`);
  }
  t.equal(failedAt[0], T0 + 460, 'the next renewal is due ttl/3 after the last success');
  t.equal(failedAt.at(-2), expiry, 'retried up to expiry');
  t.equal(failedAt.at(-1), expiry + 1, 'and looked at once more just after it');
  t.equal(lost?.code, 'LTXVFS_ERR_LEASE_LOST');
  t.match(lost?.message, /expired at .* without a successful renewal \(last renewal: injected storage failure\)/);
  t.notOk(lease.held);
  t.throws(() => lease.assertHeld(), { code: 'LTXVFS_ERR_LEASE_LOST' });
  t.ok(isLtxvfsError(lease.lastRenewError, 'LTXVFS_ERR_STORAGE'));
  t.equal(await timers.runNext(), undefined, 'no timer after the loss');
  t.equal(await lease.release(), false);
});

t.test('a renewal that fails after the lease ran out ends it at once', async (t) => {
  const rec = new Recorder(await backends[1].open(t, freshPath('late')));
  const timers = new ClockTimers(new TestClock(T0));
  const lease = await Lease.acquire(rec, { ttlMs: 150, owner: 'late', now: timers.clock.now, schedule: timers.schedule });
  rec.failWrites = 1;
  rec.failWith = () => {
    timers.clock.advance(1_000); // the request took longer than the lease
    return new LtxvfsError('LTXVFS_ERR_STORAGE', 'slow and failed');
  };
  let lost: LtxvfsError | undefined;
  lease.once('lost', (e) => (lost = e));
  t.equal(await timers.runNext(), T0 + 50);
  t.match(lost?.message, /without a successful renewal \(last renewal: slow and failed\)/);
  t.equal(await timers.runNext(), undefined, 'no retry after expiry');
  t.equal(rec.calls.filter((c) => c.op === 'write').length, 2, 'the acquire and one renewal');
});

t.test('without background renewal, an expired lease is lost at the next assertHeld or renew', async (t) => {
  const client = await backends[0].open(t, freshPath('expire'));
  let clock = T0;
  const lease = await Lease.acquire(client, { ttlMs: 1000, now: () => clock, renew: false });
  const lost: LtxvfsError[] = [];
  lease.on('lost', (e) => lost.push(e));
  clock = T0 + 1000;
  t.ok(lease.held, 'held up to and including expires_at');
  clock = T0 + 1001;
  t.notOk(lease.held);
  t.throws(() => lease.assertHeld(), { code: 'LTXVFS_ERR_LEASE_LOST', message: /expired at 2027-01-15T08:00:01Z without a successful renewal; acquire it again/ });
  t.equal(lost.length, 1);
  await rejectsLtx(t, lease.renew(), 'LTXVFS_ERR_LEASE_LOST', 'expired');
  t.equal(lost.length, 1, "'lost' is emitted once");
});

t.test('renewals and release: concurrent renewals share a request; a release waits for a renewal in flight', async (t) => {
  const rec = new Recorder(await backends[1].open(t, freshPath('overlap')));
  const lease = await Lease.acquire(rec, { renew: false });
  rec.calls.length = 0;
  const p1 = lease.renew();
  const p2 = lease.renew();
  t.equal(p1, p2, 'one promise');
  await p1;
  t.equal(rec.calls.length, 1);
  rec.calls.length = 0;
  const renewing = lease.renew();
  const released = lease.release();
  await renewing;
  t.equal(await released, true, 'release deletes with the ETag the renewal produced');
  t.same(rec.calls.map((c) => c.op), ['write', 'delete']);
  t.equal(rec.calls[1].options?.ifMatch, lease.etag);
  t.equal(await readLease(rec), undefined);

  // A renewal that finds the object replaced while a release is under way: the release decides.
  const other = await Lease.acquire(rec, { renew: false, owner: 'first' });
  await rec.inner.delete(other.key);
  const r2 = other.renew();
  const rel2 = other.release();
  await rejectsLtx(t, r2, 'LTXVFS_ERR_LEASE_LOST', 'released');
  t.equal(await rel2, false);

  // A release whose delete fails: the error is reported, the lease counts as released.
  const third = await Lease.acquire(rec, { renew: false, owner: 'third' });
  rec.failDeletes = new LtxvfsError('LTXVFS_ERR_STORAGE', 'delete failed');
  await rejectsLtx(t, third.release(), 'LTXVFS_ERR_STORAGE', 'delete failed');
  rec.failDeletes = undefined;
  t.equal(await third.release(), false, 'idempotent after a failed release');
  t.ok(await readLease(rec), 'the object stays until it expires');
});

t.test('directory: replacements go through the lock.json.replace guard; a live guard blocks, a stale one is cleared', async (t) => {
  const rec = new Recorder(await backends[0].open(t, freshPath('guard')));
  const key = rec.objectKey(LEASE_OBJECT_NAME);
  const guardKey = `${key}.replace`;
  const a = await Lease.acquire(rec, { owner: 'a', now: () => T0, renew: false });
  t.same(rec.calls.map((c) => [c.op, c.key]), [['read', key], ['write', key]], 'a create needs no guard');
  rec.calls.length = 0;
  await a.renew();
  t.same(rec.calls.map((c) => [c.op, c.key]), [['write', guardKey], ['write', key], ['delete', guardKey]], 'a renewal takes the guard');
  t.same(rec.calls[0].options, { ifNoneMatch: true, contentType: 'application/json' });
  await t.rejects(rec.read(guardKey), { code: 'LTXVFS_ERR_NOT_FOUND' }, 'and gives it back');

  // Another writer is in the middle of a replacement.
  await rec.inner.write(guardKey, encodeLeaseRecord({ generation: 1, expiresAtMs: T0 + 60_000, owner: 'busy:7' }), { ifNoneMatch: true });
  await rejectsLtx(t, Lease.acquire(rec, { owner: 'b', now: () => T0 + 40_000 }), 'LTXVFS_ERR_LEASE_HELD',
    'lease being taken over by another writer', /being replaced by busy:7/);
  const failed = a.renew();
  await t.rejects(failed, { code: 'LTXVFS_ERR_CONFLICT' }, 'a renewal meeting a live guard fails without losing the lease');
  t.ok(a.held);

  // Its holder died: once the guard expires it is cleared.
  const b = await Lease.acquire(rec, { owner: 'b', now: () => T0 + 60_001, renew: false });
  t.equal(b.generation, 2);
  await t.rejects(rec.read(guardKey), { code: 'LTXVFS_ERR_NOT_FOUND' });

  // A guard that keeps coming back (or cannot be cleared) is a conflict after one retry;
  // a guard that vanished between the failed create and the read is retried.
  const flaky = new Recorder(rec.inner);
  let creates = 0;
  flaky.write = async (k, data, options) => {
    if (k === guardKey && ++creates <= 2) throw new LtxvfsError('LTXVFS_ERR_PRECONDITION', 'exists');
    return rec.inner.write(k, data, options);
  };
  await rejectsLtx(t, Lease.acquire(flaky, { owner: 'c', now: () => T0 + 200_000 }), 'LTXVFS_ERR_LEASE_HELD', 'being replaced by another writer');
  creates = 1;
  const c = await Lease.acquire(flaky, { owner: 'c', now: () => T0 + 200_000, renew: false });
  t.equal(c.generation, 3);
  flaky.read = async () => {
    throw new LtxvfsError('LTXVFS_ERR_STORAGE', 'read failed');
  };
  creates = 0;
  await rejectsLtx(t, c.renew(), 'LTXVFS_ERR_STORAGE', 'read failed');
  flaky.write = async () => {
    throw new LtxvfsError('LTXVFS_ERR_STORAGE', 'write failed');
  };
  await rejectsLtx(t, c.renew(), 'LTXVFS_ERR_STORAGE', 'write failed');
  t.ok(c.held);
  flaky.write = Recorder.prototype.write;
  flaky.read = Recorder.prototype.read;
  t.equal(await c.release(), true);
});

t.test('guardReplace can be forced on any client (and off on a directory)', async (t) => {
  const s3rec = new Recorder(await backends[1].open(t, freshPath('forced')));
  const lease = await Lease.acquire(s3rec, { renew: false, guardReplace: true });
  s3rec.calls.length = 0;
  await lease.renew();
  t.same(s3rec.calls.map((c) => c.op), ['write', 'write', 'delete']);
  const dirRec = new Recorder(await backends[0].open(t, freshPath('unforced')));
  const l2 = await Lease.acquire(dirRec, { renew: false, guardReplace: false });
  dirRec.calls.length = 0;
  await l2.renew();
  t.same(dirRec.calls.map((c) => c.op), ['write']);
  await Promise.all([lease.release(), l2.release()]);
});

/** The operations one renewal sends through `rec` while it declares `leaseLock`. */
async function renewalOps(rec: Recorder, leaseLock: ReplicaCapabilities['leaseLock']): Promise<string[]> {
  rec.capabilitiesOverride = { ...rec.inner.capabilities, leaseLock };
  const lease = await Lease.acquire(rec, { renew: false });
  rec.calls.length = 0;
  await lease.renew();
  const ops = rec.calls.map((c) => c.op);
  await lease.release();
  return ops;
}

t.test('the lock kind is the declared capabilities.leaseLock, not the URL; leaseLock none is refused', async (t) => {
  const dirRec = new Recorder(await backends[0].open(t, freshPath('declared')));
  t.equal(dirRec.capabilities.leaseLock, 'replace-guard', 'a directory declares the guard');
  t.same(await renewalOps(dirRec, 'conditional-write'), ['write'], 'a file: URL declaring conditional writes gets no guard');
  const s3rec = new Recorder(await backends[1].open(t, freshPath('declared')));
  t.equal(s3rec.capabilities.leaseLock, 'conditional-write', 'S3 declares its conditional PUT');
  t.same(await renewalOps(s3rec, 'replace-guard'), ['write', 'write', 'delete'], 'an s3: URL declaring the guard takes it');

  s3rec.capabilitiesOverride = { ...s3rec.inner.capabilities, conditionalWrites: 'none', leaseLock: 'none' };
  s3rec.calls.length = 0;
  await t.rejects(Lease.acquire(s3rec), {
    code: 'LTXVFS_ERR_UNSUPPORTED',
    key: s3rec.url,
    message: `${s3rec.url}: this storage has no conditional writes, so no write lease can be held on it`,
  });
  t.same(s3rec.calls, [], 'nothing read or written');
});

t.test("the renewal timer is unref'd: a process holding a lease exits on its own", async (t) => {
  const dir = t.testdir();
  const leaseModule = fileURLToPath(new URL('../../lib/write/lease.ts', import.meta.url));
  const fileModule = fileURLToPath(new URL('../../lib/storage/file/client.ts', import.meta.url));
  const script = `
    const { Lease } = await import(${JSON.stringify(leaseModule)});
    const { openFileReplica } = await import(${JSON.stringify(fileModule)});
    const lease = await Lease.acquire(await openFileReplica(${JSON.stringify(dir)}), { owner: 'child' });
    console.log('acquired', lease.generation, lease.held);
  `;
  await fs.writeFile(join(dir, 'child.mts'), script);
  const out = await new Promise<{ code: number | null; stdout: string; stderr: string }>((resolve, reject) => {
    // Through env(1) with a clean environment: tap hooks spawn to collect the child's coverage,
    // and coverage of lib/write/lease.ts compiled by tsx would be merged with (and mask) this test's.
    const child = spawn('env', ['-i', `PATH=${process.env.PATH ?? ''}`, process.execPath, '--import', 'tsx', join(dir, 'child.mts')], {
      cwd: fileURLToPath(new URL('../../', import.meta.url)),
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    // Only a guard against a hang: a renewal timer that kept the process alive would renew
    // every 10 s for ever, and the kill makes `code` null, which fails the test.
    const timer = setTimeout(() => child.kill(), 120_000);
    child.on('error', reject);
    child.on('close', (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr });
    });
  });
  t.equal(out.code, 0, `exited on its own, not killed: ${out.stderr}`);
  t.equal(out.stdout.trim(), 'acquired 1 true');
  const client = await openFileReplica(dir);
  t.teardown(() => client.close());
  t.equal((await readLease(client))?.record.owner, 'child', 'the lease stays until it expires');
});
