/**
 * One storage conformance suite for every `ReplicaClient` backend (issue 13 item 8), in
 * the shape of wa-sqlite's `configureTests(factory)`: `storageConformance(t, name,
 * factory)` runs the same checks of the interface in lib/storage/types.ts against the
 * clients `factory` opens, each subtest named by the backend. A backend joins by adding a
 * factory in conformance.test.ts; what only one backend does (a directory's symbolic
 * links and FIFOs, S3's retries, signing and headers) stays in its own test file.
 *
 * Messages are checked for what every backend must say — the code, the key, the reason —
 * not for a backend's wording around it (`s3://bucket/` prefixes, HTTP status).
 */
import type { Test } from 'tap';
import { randomBytes } from 'node:crypto';
import { promises as fs } from 'node:fs';
import * as path from 'node:path';
import type { ReplicaCapabilities, ReplicaClient } from '../../../lib/storage/types.js';

/** How the suite gets clients of one backend. */
export interface StorageFactory {
  /** A client of a fresh, empty replica (its own directory or key prefix); the suite closes it. */
  open(t: Test): Promise<ReplicaClient>;
  /** What the backend must declare, except `tempFileRoot` (checked by behaviour: defined or not). */
  capabilities: Omit<ReplicaCapabilities, 'tempFileRoot'> & { tempFileRoot: 'directory' | undefined };
  /** `readRange` returns a view of the caller's `into` buffer when it is large enough (the interface allows ignoring it). */
  readsIntoBuffer: boolean;
  /** Equal bytes get equal ETags (a content hash: file://, S3's MD5); false where ETags are versions (Azure). Default true. */
  contentEtags?: boolean;
  /** `createdAt` keeps the written timestamp rounded down to this many ms (SFTP v3 mtimes are whole seconds). Default 1. */
  timestampResolutionMs?: number;
  /** `write`'s `timestamp` becomes `createdAt`; false where the server sets the time at upload (WebDAV `getlastmodified`). Default true. */
  keepsTimestamps?: boolean;
}

const enc = (s: string) => new TextEncoder().encode(s);
const dec = (b: Uint8Array) => new TextDecoder().decode(b);
const escape = (s: string) => s.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&');
/** A message that names `key` (possibly behind a backend's own prefix, `s3://bucket/`) and then says `rest`. */
const naming = (start: string, key: string, rest = '') => new RegExp(`^${escape(start)}(.*/)?${escape(key)}${escape(rest)}`);

/** LTX header timestamps as Litestream writes them, and edge values of the mtime / metadata round trip. */
const STAMPS = [1795254709256, 1795254711037, 1795254712792, 1795254709000, 1000, 1];

/**
 * Register the conformance subtests of one backend under `t`.
 * @param name the backend, part of every subtest name (`file: …`, `s3: …`).
 */
export function storageConformance(t: Test, name: string, factory: StorageFactory): void {
  const open = async (t: Test): Promise<ReplicaClient> => {
    const client = await factory.open(t);
    t.teardown(() => client.close());
    return client;
  };
  /** `ltxKey(level, min, max)` with its file name replaced by `file` (a name in the same level folder). */
  const inLevel = (c: ReplicaClient, level: number, file: string) => c.ltxKey(level, 1, 1).replace(/[^/]+$/, file);

  t.test(`${name}: capabilities are declared and hold`, async (t) => {
    const c = await open(t);
    const { tempFileRoot, ...declared } = c.capabilities;
    const { tempFileRoot: expectRoot, ...expected } = factory.capabilities;
    t.same(declared, expected);
    t.ok(Object.isFrozen(c.capabilities), 'one declaration, not changed at run time');
    if (expectRoot === undefined) {
      t.equal(tempFileRoot, undefined, 'no temporary-file directory');
    } else {
      t.type(tempFileRoot, 'string');
      const key = c.ltxKey(0, 1, 1);
      await c.write(key, enc('bytes'));
      t.equal(await fs.readFile(path.join(tempFileRoot as string, key), 'utf8'), 'bytes', 'objects are files under tempFileRoot');
    }
  });

  t.test(`${name}: listLtxFiles sorts by TXID range, ignores other names, reports strays, seeks`, async (t) => {
    const c = await open(t);
    t.same(await c.listLtxFiles(0), [], 'an empty replica has empty levels');
    t.same(await c.listLtxFiles(9, { seekTXID: 5 }), []);
    const ranges = [[4, 6], [1, 3], [1, 2], [7, 7], [10, 10]];
    for (const [min, max] of ranges) await c.write(c.ltxKey(1, min, max), new Uint8Array(min * 10 + max));
    for (const noise of ['readme.txt', '000000000000000D-000000000000000D.ltx', '0000000000000009-0000000000000008.ltx',
      'ffffffffffffffff-ffffffffffffffff.ltx', 'sub/000000000000000c-000000000000000c.ltx']) {
      await c.write(inLevel(c, 1, noise), enc('noise'));
    }
    await c.write(c.ltxKey(2, 1, 10), enc('another level'));
    const files = await c.listLtxFiles(1);
    t.same(files.map((f) => [f.level, f.minTXID, f.maxTXID, f.size, f.key]), [
      [1, 1, 2, 12, c.ltxKey(1, 1, 2)],
      [1, 1, 3, 13, c.ltxKey(1, 1, 3)],
      [1, 4, 6, 46, c.ltxKey(1, 4, 6)],
      [1, 7, 7, 77, c.ltxKey(1, 7, 7)],
      [1, 10, 10, 110, c.ltxKey(1, 10, 10)],
    ]);
    t.same((await c.listLtxFiles(1, { seekTXID: 4 })).map((f) => f.minTXID), [4, 7, 10], 'minTXID >= seekTXID');
    t.same((await c.listLtxFiles(1, { seekTXID: 2 })).map((f) => f.minTXID), [4, 7, 10]);
    t.same(await c.listLtxFiles(1, { seekTXID: 11 }), []);
    t.same((await c.listLtxFiles(2)).map((f) => f.key), [c.ltxKey(2, 1, 10)]);
    const strays = c.strays?.() ?? [];
    t.same(strays.map((s) => s.key).sort(), [
      inLevel(c, 1, '000000000000000D-000000000000000D.ltx'),
      inLevel(c, 1, '0000000000000009-0000000000000008.ltx'),
      inLevel(c, 1, 'ffffffffffffffff-ffffffffffffffff.ltx'),
    ].sort(), 'LTX-shaped names that cannot be LTX files are strays');
    t.match(strays.find((s) => s.key.includes('ffffffffffffffff')), { reason: /above 2\^53-1/ });
    await t.rejects(c.listLtxFiles(-1), { code: 'LTXVFS_ERR_USAGE', message: 'bad level -1: need an integer >= 0' });
    await t.rejects(c.listLtxFiles(1.5), { code: 'LTXVFS_ERR_USAGE' });
    t.throws(() => c.ltxKey(0, 2, 1), { code: 'LTXVFS_ERR_USAGE' }, 'min > max has no key');
  });

  t.test(`${name}: timestamps: createdAt is the written LTX timestamp (mtime / litestream-timestamp)`, async (t) => {
    const c = await open(t);
    const start = Date.now();
    for (const [i, ts] of STAMPS.entries()) await c.write(c.ltxKey(0, i + 1, i + 1), enc('x'), { timestamp: ts });
    const res = factory.timestampResolutionMs ?? 1;
    const created = (await c.listLtxFiles(0, { useMetadata: true })).map((f) => f.createdAt);
    if (factory.keepsTimestamps === false) {
      const end = Date.now();
      t.ok(created.length === STAMPS.length && created.every((at) => at % res === 0 && at >= start - (start % res) && at <= end), `the upload time, in steps of ${res} ms: ${created.join(', ')}`);
    } else {
      t.same(created, STAMPS.map((s) => s - (s % res)));
    }
    const before = Date.now();
    await c.write(c.ltxKey(0, 10, 10), enc('x'));
    const [plain] = await c.listLtxFiles(0, { seekTXID: 10, useMetadata: true });
    t.ok(Math.abs(plain.createdAt - before) < 60_000, 'without a timestamp: the time of the write');
    await t.rejects(c.write(c.ltxKey(0, 11, 11), enc('x'), { timestamp: Number.NaN }), {
      code: 'LTXVFS_ERR_USAGE',
      message: naming('write ', c.ltxKey(0, 11, 11), ': bad timestamp NaN'),
    });
  });

  t.test(`${name}: read and readRange return exact bytes; read's ETag is write's`, async (t) => {
    const c = await open(t);
    const key = c.ltxKey(0, 1, 1);
    const data = randomBytes(100_000);
    const { etag } = await c.write(key, data);
    for (const [off, len] of [[0, 100_000], [0, 1], [99_999, 1], [12_345, 4096], [50_000, 50_000]]) {
      t.same(Buffer.from(await c.readRange(key, off, len)), data.subarray(off, off + len), `${off}+${len}`);
    }
    const whole = await c.read(key);
    t.same([Buffer.from(whole.data), whole.etag], [data, etag], 'the whole object and the ETag write gave');
    const copy = await c.write(c.ltxKey(0, 2, 2), data);
    if (factory.contentEtags !== false) t.equal(copy.etag, etag, 'equal bytes, equal ETag');
    const other = await c.write(c.ltxKey(0, 2, 2), enc('other'));
    t.not(other.etag, etag, 'other bytes, another ETag');
    t.equal(dec((await c.read(c.ltxKey(0, 2, 2))).data), 'other', 'a plain write replaces');

    const into = new Uint8Array(8192).fill(7);
    const got = await c.readRange(key, 12_345, 4096, into);
    t.same(Buffer.from(got), data.subarray(12_345, 12_345 + 4096), 'into a caller\'s buffer');
    if (factory.readsIntoBuffer) {
      t.equal(got.buffer, into.buffer, 'a view of the buffer given');
      t.equal(got.byteOffset, into.byteOffset);
      t.ok(into.subarray(4096).every((b) => b === 7), 'nothing written past the range');
    }
    const small = new Uint8Array(100);
    t.same(Buffer.from(await c.readRange(key, 0, 4096, small)), data.subarray(0, 4096), 'too small a buffer: a new array');
    t.same(small, new Uint8Array(100), 'and left alone');
  });

  t.test(`${name}: readRange past the end is a short read; zero-length ranges`, async (t) => {
    const c = await open(t);
    const key = c.objectKey('ten.bin');
    await c.write(key, enc('0123456789'));
    t.equal(dec(await c.readRange(key, 8, 2)), '89', 'up to the last byte');
    await t.rejects(c.readRange(key, 8, 3), { code: 'LTXVFS_ERR_STORAGE', key, message: naming('short read of ', key, ': got 2 of 3 bytes at offset 8') });
    await t.rejects(c.readRange(key, 10, 5), { code: 'LTXVFS_ERR_STORAGE', key, message: naming('short read of ', key, ': got 0 of 5 bytes at offset 10') });
    await t.rejects(c.readRange(key, 20, 1), { code: 'LTXVFS_ERR_STORAGE', key, message: /got 0 of 1 bytes at offset 20/ });
    t.equal((await c.readRange(key, 10, 0)).byteLength, 0, 'an empty range at the end');
    t.equal((await c.readRange(key, 3, 0)).byteLength, 0, 'an empty range inside');
    const missing = c.objectKey('missing.bin');
    await t.rejects(c.readRange(missing, 0, 0), { code: 'LTXVFS_ERR_NOT_FOUND', key: missing }, 'an empty range of a missing key is still missing');
    for (const [o, l] of [[-1, 1], [0, -1], [0.5, 1], [0, Number.NaN], [0, Infinity]]) {
      await t.rejects(c.readRange(key, o, l), { code: 'LTXVFS_ERR_USAGE', key, message: naming('read ', key, ': bad range') }, `offset ${o} length ${l}`);
    }
  });

  t.test(`${name}: missing keys are LTXVFS_ERR_NOT_FOUND naming the key`, async (t) => {
    const c = await open(t);
    for (const key of [c.ltxKey(0, 5, 5), c.objectKey('nope.json'), c.objectKey('no/such/folder/x')]) {
      const expected = { code: 'LTXVFS_ERR_NOT_FOUND', key, message: naming('object does not exist: ', key) };
      await t.rejects(c.readRange(key, 0, 10), expected, `readRange ${key}`);
      await t.rejects(c.read(key), expected, `read ${key}`);
    }
  });

  t.test(`${name}: keys: odd characters round trip; empty and escaping keys are LTXVFS_ERR_BAD_KEY`, async (t) => {
    const c = await open(t);
    const odd = c.objectKey("we ird+key&=é!'()*~.bin");
    await c.write(odd, enc('odd'));
    t.equal(dec((await c.read(odd)).data), 'odd');
    t.equal(dec(await c.readRange(odd, 1, 2)), 'dd');
    await c.delete(odd);
    await t.rejects(c.read(odd), { code: 'LTXVFS_ERR_NOT_FOUND', key: odd });
    const escaping = `${c.objectKey('x')}/../../../../../../escaped`;
    for (const key of ['', escaping]) {
      const bad = { code: 'LTXVFS_ERR_BAD_KEY', key };
      await t.rejects(c.read(key), bad, `read ${JSON.stringify(key)}`);
      await t.rejects(c.readRange(key, 0, 1), bad);
      await t.rejects(c.write(key, enc('x')), bad);
      await t.rejects(c.delete(key), bad);
    }
    await t.rejects(c.read(''), { message: /^bad key "": empty/ });
  });

  t.test(`${name}: create-only writes: an existing key is LTXVFS_ERR_PRECONDITION; one of many concurrent writers wins`, async (t) => {
    const c = await open(t);
    if (factory.capabilities.conditionalWrites === 'none') return t.pass('no conditional writes declared');
    const key = c.objectKey('lock.json');
    const first = await c.write(key, enc('one'), { ifNoneMatch: true, contentType: 'application/json' });
    t.equal(first.etag, (await c.read(key)).etag);
    await t.rejects(c.write(key, enc('two'), { ifNoneMatch: true }), {
      code: 'LTXVFS_ERR_PRECONDITION',
      key,
      message: naming('precondition failed for ', key, ': object '),
    });
    t.equal(dec((await c.read(key)).data), 'one', 'the existing object is untouched');
    const race = c.ltxKey(0, 3, 3);
    const results = await Promise.allSettled(Array.from({ length: 6 }, (_, i) => c.write(race, enc(`writer ${i}`), { ifNoneMatch: true })));
    t.equal(results.filter((r) => r.status === 'fulfilled').length, 1, 'exactly one wins');
    for (const r of results) if (r.status === 'rejected') t.equal((r.reason as { code: string }).code, 'LTXVFS_ERR_PRECONDITION');
    if (c.capabilities.tempFileRoot !== undefined) {
      const left = await fs.readdir(path.dirname(path.join(c.capabilities.tempFileRoot, race)));
      t.same(left, [path.basename(race)], 'the losers leave no temporary files');
    }
  });

  t.test(`${name}: if-match writes and deletes: only the object with that ETag; a missing one fails the precondition`, async (t) => {
    const c = await open(t);
    if (factory.capabilities.conditionalWrites === 'none') return t.pass('no conditional writes declared');
    const key = c.objectKey('lock.json');
    const { etag: e1 } = await c.write(key, enc('{"generation":1}'));
    const { etag: e2 } = await c.write(key, enc('{"generation":2}'), { ifMatch: e1 });
    t.not(e2, e1);
    const stale = { code: 'LTXVFS_ERR_PRECONDITION', key, message: naming('precondition failed for ', key, ': ') };
    await t.rejects(c.write(key, enc('{"generation":3}'), { ifMatch: e1 }), stale, 'write with a stale ETag');
    t.same(await c.read(key), { data: enc('{"generation":2}'), etag: e2 }, 'unchanged after a failed precondition');
    const none = c.objectKey('none.json');
    await t.rejects(c.write(none, enc('x'), { ifMatch: e2 }), { code: 'LTXVFS_ERR_PRECONDITION', key: none, message: /object does not exist/ });
    await t.rejects(c.read(none), { code: 'LTXVFS_ERR_NOT_FOUND' }, 'nothing created');
    await t.rejects(c.delete(key, { ifMatch: e1 }), stale, 'delete with a stale ETag');
    await c.delete(key, { ifMatch: e2 });
    await t.rejects(c.read(key), { code: 'LTXVFS_ERR_NOT_FOUND', key });
    await t.rejects(c.delete(key, { ifMatch: e2 }), { code: 'LTXVFS_ERR_PRECONDITION', key, message: /object does not exist/ });
    await t.rejects(c.write(key, enc('x'), { ifNoneMatch: true, ifMatch: e2 }), {
      code: 'LTXVFS_ERR_USAGE',
      key,
      message: naming('write ', key, ': ifNoneMatch and ifMatch cannot both be given'),
    });
  });

  t.test(`${name}: delete removes a key; a missing key is fine`, async (t) => {
    const c = await open(t);
    const key = c.ltxKey(0, 1, 1);
    await c.write(key, enc('x'));
    await c.delete(key);
    t.same(await c.listLtxFiles(0), []);
    await t.rejects(c.read(key), { code: 'LTXVFS_ERR_NOT_FOUND', key });
    await c.delete(key);
    await c.delete(c.objectKey('never/was'));
    t.pass('deleting missing keys is no error');
  });

  t.test(`${name}: listKeys: keys under a folder at any depth, up to a limit`, async (t) => {
    const c = await open(t);
    if (c.listKeys === undefined) return t.pass('no listKeys (never probed for other layouts)');
    t.same(await c.listKeys('generations/', 10), [], 'a missing folder is empty');
    const keys = ['generations/g1/wal/a.wal.lz4', 'generations/g1/snapshots/b.snapshot.lz4', 'generations/g2/c'].map((k) => c.objectKey(k));
    for (const k of keys) await c.write(k, enc('old layout'));
    await c.write(c.objectKey('other/d'), enc('elsewhere'));
    t.same((await c.listKeys('generations/', 10)).sort(), [...keys].sort());
    t.same((await c.listKeys('generations', 10)).sort(), [...keys].sort(), 'with or without the trailing slash');
    t.equal((await c.listKeys('generations/', 2)).length, 2, 'at most limit');
  });

  t.test(`${name}: close: later calls are LTXVFS_ERR_CLOSED naming the replica; idempotent`, async (t) => {
    const c = await factory.open(t);
    const key = c.objectKey('a');
    await c.write(key, enc('aaaa'));
    t.equal(dec(await c.readRange(key, 0, 1)), 'a');
    await c.close();
    await c.close();
    const closed = { code: 'LTXVFS_ERR_CLOSED', message: `replica client is closed: ${c.url}` };
    await t.rejects(c.readRange(key, 0, 1), closed);
    await t.rejects(c.read(key), closed);
    await t.rejects(c.write(key, enc('x')), closed);
    await t.rejects(c.delete(key), closed);
    await t.rejects(c.listLtxFiles(0), closed);
    if (c.listKeys !== undefined) await t.rejects(c.listKeys('x/', 1), closed);
  });
}
