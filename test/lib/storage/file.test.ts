/**
 * What only the directory client does: opening a directory, its key layout, Litestream's
 * own replica as fixture, symbolic links, FIFOs and other non-files, handle caching, key
 * confinement, mtimes and filesystem failures. What every backend must do (listing,
 * ranges, conditional writes, timestamps, missing keys, close) is the conformance suite
 * (conformance.ts), run on this client by conformance.test.ts.
 */
import t from 'tap';
import { spawnSync } from 'node:child_process';
import { promises as fs } from 'node:fs';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';
import { FileReplicaClient, openFileReplica } from '../../../lib/storage/file/client.js';
import { mtimeToMs } from '../../../lib/storage/file/keys.js';

const FIXTURE = fileURLToPath(new URL('../../../fixtures/litestream-0.5.17/replica', import.meta.url));

const enc = (s: string) => new TextEncoder().encode(s);
const dec = (b: Uint8Array) => new TextDecoder().decode(b);
const name = (min: number, max: number) =>
  `${min.toString(16).padStart(16, '0')}-${max.toString(16).padStart(16, '0')}.ltx`;

t.test('openFileReplica', async (t) => {
  t.test('opens an existing directory and reports a file:// URL', async (t) => {
    const dir = t.testdir({});
    const client = await openFileReplica(dir);
    t.equal(client.root, path.resolve(dir));
    t.equal(client.url, `file://${path.resolve(dir)}`);
    await client.close();
  });

  t.test('resolves a relative root against the working directory', async (t) => {
    const dir = t.testdir({});
    const rel = path.relative(process.cwd(), dir);
    const client = await openFileReplica(rel);
    t.equal(client.root, path.resolve(dir));
    await client.close();
  });

  t.test('a missing directory is LTXVFS_ERR_NOT_FOUND naming the path', async (t) => {
    const missing = path.join(t.testdir({}), 'nope');
    await t.rejects(openFileReplica(missing), {
      code: 'LTXVFS_ERR_NOT_FOUND',
      key: missing,
      message: `replica directory does not exist: ${missing}`,
    });
  });

  t.test('a file in place of the directory is LTXVFS_ERR_NOT_FOUND', async (t) => {
    const dir = t.testdir({ f: 'x' });
    const f = path.join(dir, 'f');
    await t.rejects(openFileReplica(f), { code: 'LTXVFS_ERR_NOT_FOUND', message: `replica path is not a directory: ${f}` });
    await t.rejects(openFileReplica(f, { create: true }), { code: 'LTXVFS_ERR_NOT_FOUND', message: /is not a directory/ });
    await t.rejects(openFileReplica(path.join(f, 'sub')), { code: 'LTXVFS_ERR_NOT_FOUND', message: /does not exist/ });
    await t.rejects(openFileReplica(path.join(f, 'sub'), { create: true }), { code: 'LTXVFS_ERR_NOT_FOUND', message: /does not exist/ });
  });

  t.test('create makes the directory and its parents', async (t) => {
    const dir = path.join(t.testdir({}), 'a', 'b');
    const client = await openFileReplica(dir, { create: true });
    t.ok((await fs.stat(dir)).isDirectory());
    await client.close();
  });

  t.test('an unusable path is LTXVFS_ERR_STORAGE naming it', async (t) => {
    const dir = t.testdir({ loop: t.fixture('symlink', 'loop') });
    const p = path.join(dir, 'loop', 'x');
    await t.rejects(openFileReplica(p), { code: 'LTXVFS_ERR_STORAGE', message: `cannot open replica directory ${p}: ELOOP: too many symbolic links encountered` });
    await t.rejects(openFileReplica(p, { create: true }), { code: 'LTXVFS_ERR_STORAGE', message: new RegExp(`^cannot create replica directory ${p}: ELOOP`) });
  });

  t.test('maxOpenFiles must be a positive integer', async (t) => {
    t.throws(() => new FileReplicaClient('/tmp', { maxOpenFiles: 0 }), { code: 'LTXVFS_ERR_USAGE', message: /bad maxOpenFiles 0/ });
  });
});

t.test('ltxKey is ltx/<decimal level>/<min>-<max>.ltx', async (t) => {
  const client = new FileReplicaClient(t.testdir({}));
  t.equal(client.ltxKey(0, 1, 1), 'ltx/0/0000000000000001-0000000000000001.ltx');
  t.equal(client.ltxKey(9, 1, 0x1f), 'ltx/9/0000000000000001-000000000000001f.ltx');
  t.equal(client.ltxKey(15, 2, 3), 'ltx/15/0000000000000002-0000000000000003.ltx');
  t.throws(() => client.ltxKey(-1, 1, 1), { code: 'LTXVFS_ERR_USAGE', message: 'bad level -1: need an integer >= 0' });
  t.throws(() => client.ltxKey(1.5, 1, 1), { code: 'LTXVFS_ERR_USAGE' });
  t.throws(() => client.ltxKey(0, 2, 1), { code: 'LTXVFS_ERR_USAGE' });
});

t.test('listLtxFiles', async (t) => {
  t.test('lists the real Litestream replica with sizes and mtimes', async (t) => {
    const client = await openFileReplica(FIXTURE);
    const files = await client.listLtxFiles(0);
    t.same(
      files.map((f) => [f.level, f.minTXID, f.maxTXID, f.size, f.key]),
      [
        [0, 1, 1, 374, 'ltx/0/0000000000000001-0000000000000001.ltx'],
        [0, 2, 2, 401, 'ltx/0/0000000000000002-0000000000000002.ltx'],
        [0, 3, 3, 3146, 'ltx/0/0000000000000003-0000000000000003.ltx'],
        [0, 4, 4, 2650, 'ltx/0/0000000000000004-0000000000000004.ltx'],
        [0, 5, 5, 2895, 'ltx/0/0000000000000005-0000000000000005.ltx'],
      ],
    );
    for (const f of files) {
      const st = await fs.stat(path.join(FIXTURE, f.key));
      // Whole ms, rounded up within 1 µs of the next (lib/storage/file/keys.ts `mtimeToMs`): a
      // checkout's mtime of …480.9995 ms reads as 481 (a clean clone in CI met one).
      t.ok(Number.isInteger(f.createdAt) && f.createdAt > st.mtimeMs - 1 && f.createdAt < st.mtimeMs + 0.001,
        `createdAt of ${f.key} (${f.createdAt}) is its mtime (${st.mtimeMs}) in whole ms`);
    }
    t.same(await client.listLtxFiles(1), [], 'a missing level is empty');
    t.same(await client.listLtxFiles(9), []);
    await client.close();
  });

  t.test('a directory under an LTX name is listed (size 0) and refused at read', async (t) => {
    const dir = t.testdir({ ltx: { '1': { [name(1, 2)]: 'bb', [`${name(8, 8)}.tmp-abc`]: 'partial', [name(9, 9)]: {} } } });
    const client = await openFileReplica(dir);
    t.same(
      (await client.listLtxFiles(1)).map((f) => [f.level, f.minTXID, f.maxTXID, f.size, f.key]),
      [
        [1, 1, 2, 2, `ltx/1/${name(1, 2)}`],
        [1, 9, 9, 0, `ltx/1/${name(9, 9)}`],
      ],
      'listed, so a plan that needs it fails instead of serving an older state; temporary files are not',
    );
    await t.rejects(client.readRange(`ltx/1/${name(9, 9)}`, 0, 0), {
      code: 'LTXVFS_ERR_BAD_KEY',
      key: `ltx/1/${name(9, 9)}`,
      message: `replica entry ltx/1/${name(9, 9)} is a directory, not a regular LTX file`,
    });
    await t.rejects(client.read(`ltx/1/${name(9, 9)}`), { code: 'LTXVFS_ERR_BAD_KEY', message: /is a directory/ });
    t.same((await client.listLtxFiles(1, { seekTXID: 5 })).map((f) => f.minTXID), [9]);
    t.same(client.strays(), []);
    await client.close();
  });

  t.test('a file name beyond 2^53-1 is a stray: reported, not fatal to the other files', async (t) => {
    const big = '0000000000000001-0020000000000000.ltx';
    const huge = 'ffffffffffffffff-ffffffffffffffff.ltx';
    const client = await openFileReplica(t.testdir({ ltx: { '0': { [big]: '', [huge]: '', [name(1, 1)]: 'a' } } }));
    t.same((await client.listLtxFiles(0)).map((f) => f.key), [`ltx/0/${name(1, 1)}`]);
    t.same(client.strays().map((e) => e.key).sort(), [`ltx/0/${big}`, `ltx/0/${huge}`]);
    t.match(client.strays().find((e) => e.key === `ltx/0/${big}`), { reason: /^TXID 0020000000000000 in 0000000000000001-0020000000000000\.ltx is above 2\^53-1/ });
    await client.listLtxFiles(0);
    t.equal(client.strays().length, 2, 'each stray once');
    await client.close();
  });

  t.test('symlinks: inside the root followed; dangling, looping or leaving the root listed and refused at read, naming the entry', async (t) => {
    const outside = t.testdir({ 'secret.ltx': 'outside the replica' });
    const dir = path.join(outside, 'replica');
    await fs.mkdir(path.join(dir, 'ltx', '0'), { recursive: true });
    await fs.writeFile(path.join(dir, 'real.bin'), 'inside');
    const l0 = path.join(dir, 'ltx', '0');
    await fs.symlink('gone', path.join(l0, name(1, 1)));
    await fs.symlink(name(2, 2), path.join(l0, name(2, 2)));
    await fs.symlink(path.join(outside, 'secret.ltx'), path.join(l0, name(3, 3)));
    await fs.symlink('../../real.bin', path.join(l0, name(4, 4)));
    const realSecret = path.join(await fs.realpath(outside), 'secret.ltx');
    const client = await openFileReplica(dir);
    const files = await client.listLtxFiles(0);
    t.same(files.map((f) => [f.minTXID, f.size]), [[1, 0], [2, 0], [3, 0], [4, 6]], 'every LTX name is listed; a link inside the root has its target size');
    await t.rejects(client.readRange(`ltx/0/${name(1, 1)}`, 0, 1), {
      code: 'LTXVFS_ERR_BAD_KEY',
      key: `ltx/0/${name(1, 1)}`,
      message: `replica entry ltx/0/${name(1, 1)} is a dangling symbolic link (to gone), not a regular LTX file`,
    });
    await t.rejects(client.readRange(`ltx/0/${name(2, 2)}`, 0, 1), { code: 'LTXVFS_ERR_BAD_KEY', message: new RegExp(`^replica entry ltx/0/${name(2, 2)} is a symbolic link that cannot be followed \\(ELOOP`) });
    await t.rejects(client.read(`ltx/0/${name(3, 3)}`), {
      code: 'LTXVFS_ERR_BAD_KEY',
      message: `replica entry ltx/0/${name(3, 3)} is a symbolic link leaving the replica root (to ${realSecret}), not a regular LTX file`,
    });
    t.equal(Buffer.from(await client.readRange(`ltx/0/${name(4, 4)}`, 0, 6)).toString(), 'inside');
    await client.close();
    const fresh = await openFileReplica(dir);
    await t.rejects(fresh.read(`ltx/0/${name(3, 3)}`), { code: 'LTXVFS_ERR_BAD_KEY', message: /leaving the replica root/ }, 'checked at open too, not only by a listing');
    await fresh.close();
  });

  t.test('a FIFO under an LTX name is refused at read without blocking, naming the entry', async (t) => {
    const dir = t.testdir({ ltx: { '0': { [name(1, 1)]: 'a' } } });
    const fifo = path.join(dir, 'ltx', '0', name(2, 2));
    const made = spawnSync('mkfifo', [fifo]);
    if (made.status !== 0) {
      t.comment('mkfifo is not available: nothing to check');
      return;
    }
    const client = await openFileReplica(dir);
    t.same((await client.listLtxFiles(0)).map((f) => [f.minTXID, f.size]), [[1, 1], [2, 0]]);
    await t.rejects(client.readRange(`ltx/0/${name(2, 2)}`, 0, 100), {
      code: 'LTXVFS_ERR_BAD_KEY',
      message: `replica entry ltx/0/${name(2, 2)} is a FIFO, not a regular LTX file`,
    });
    const other = await openFileReplica(dir);
    await t.rejects(other.readRange(`ltx/0/${name(2, 2)}`, 0, 100), { code: 'LTXVFS_ERR_BAD_KEY', message: /is a FIFO/ }, 'unlisted: the open is checked');
    await t.rejects(other.read(`ltx/0/${name(2, 2)}`), { code: 'LTXVFS_ERR_BAD_KEY', message: /is a FIFO/ });
    await other.close();
    await client.close();
  });

  t.test('a level path that is not a directory is LTXVFS_ERR_STORAGE', async (t) => {
    const client = await openFileReplica(t.testdir({ ltx: { '0': 'not a dir' } }));
    await t.rejects(client.listLtxFiles(0), { code: 'LTXVFS_ERR_STORAGE', key: 'ltx/0', message: 'list ltx/0: ENOTDIR: not a directory' });
  });

  t.test('a replica directory removed after open is LTXVFS_ERR_NOT_FOUND', async (t) => {
    const dir = path.join(t.testdir({}), 'r');
    const client = await openFileReplica(dir, { create: true });
    await fs.rmdir(dir);
    await t.rejects(client.listLtxFiles(0), { code: 'LTXVFS_ERR_NOT_FOUND', message: `replica directory does not exist: ${dir}` });
  });

  t.test('bad levels are LTXVFS_ERR_USAGE', async (t) => {
    const client = await openFileReplica(t.testdir({}));
    await t.rejects(client.listLtxFiles(-1), { code: 'LTXVFS_ERR_USAGE' });
  });
});

t.test('readRange', async (t) => {
  t.test('reads exact ranges of the real files', async (t) => {
    const client = await openFileReplica(FIXTURE);
    const key = 'ltx/0/0000000000000001-0000000000000001.ltx';
    t.same([...(await client.readRange(key, 0, 4))], [0x4c, 0x54, 0x58, 0x31], 'magic LTX1');
    t.same(
      [...(await client.readRange(key, 341, 9))],
      [0x01, 0x64, 0xb3, 0x01, 0x02, 0x97, 0x02, 0x38, 0x00],
      'page index at 341 (docs/formats.md §1.6)',
    );
    const whole = await client.readRange(key, 0, 374);
    t.equal(whole.byteLength, 374);
    t.same(whole, await fs.readFile(path.join(FIXTURE, key)));
    t.equal((await client.readRange(key, 374, 0)).byteLength, 0, 'empty range at the end');
    await client.close();
  });

  t.test('a failed open is not cached: a file that appears is read next time', async (t) => {
    const client = await openFileReplica(t.testdir({ f: 'x' }));
    await t.rejects(client.readRange('ltx/0/x.ltx', 0, 1), { code: 'LTXVFS_ERR_NOT_FOUND', key: 'ltx/0/x.ltx' });
    // A failed open is not cached: the file appears, the next read sees it.
    await fs.mkdir(path.join(client.root, 'ltx', '0'), { recursive: true });
    await fs.writeFile(path.join(client.root, 'ltx', '0', 'x.ltx'), 'y');
    t.equal(dec(await client.readRange('ltx/0/x.ltx', 0, 1)), 'y');
    await client.close();
  });

  t.test('a directory is LTXVFS_ERR_BAD_KEY naming it', async (t) => {
    const client = await openFileReplica(t.testdir({ d: {} }));
    await t.rejects(client.readRange('d', 0, 1), { code: 'LTXVFS_ERR_BAD_KEY', key: 'd', message: 'replica entry d is a directory, not a regular LTX file' });
    await client.close();
  });

  t.test('keeps at most maxOpenFiles handles, closing busy ones when released', async (t) => {
    const dir = t.testdir({ a: 'aaaa', b: 'bbbb', c: 'cccc' });
    const client = await openFileReplica(dir, { maxOpenFiles: 1 });
    const reads = await Promise.all([
      client.readRange('a', 0, 4),
      client.readRange('b', 0, 4),
      client.readRange('c', 0, 4),
      client.readRange('a', 1, 2),
    ]);
    t.same(reads.map(dec), ['aaaa', 'bbbb', 'cccc', 'aa']);
    t.equal(dec(await client.readRange('b', 2, 2)), 'bb');
    t.equal(dec(await client.readRange('b', 0, 1)), 'b', 'cached handle reused');
    await client.close();
  });

  t.test('a cached handle is dropped when write or delete replaces the key', async (t) => {
    const client = await openFileReplica(t.testdir({ k: 'old!' }));
    t.equal(dec(await client.readRange('k', 0, 4)), 'old!');
    await client.write('k', enc('new!'));
    t.equal(dec(await client.readRange('k', 0, 4)), 'new!');
    await client.delete('k');
    await t.rejects(client.readRange('k', 0, 4), { code: 'LTXVFS_ERR_NOT_FOUND' });
    await client.close();
  });
});

t.test('read: the ETag is a content hash; a directory is LTXVFS_ERR_BAD_KEY', async (t) => {
  const client = await openFileReplica(t.testdir({ 'lock.json': '{"generation":1}', same: '{"generation":1}', d: {} }));
  const a = await client.read('lock.json');
  t.equal(dec(a.data), '{"generation":1}');
  t.match(a.etag, /^"[0-9a-f]{32}"$/);
  t.equal((await client.read('same')).etag, a.etag, 'equal bytes, equal ETag');
  await t.rejects(client.read('d'), { code: 'LTXVFS_ERR_BAD_KEY', message: 'replica entry d is a directory, not a regular LTX file' });
  await client.close();
});

t.test('write', async (t) => {
  t.test('creates parent directories, replaces atomically and leaves no temporary files', async (t) => {
    const client = await openFileReplica(t.testdir({}));
    const key = 'ltx/0/0000000000000001-0000000000000001.ltx';
    const { etag } = await client.write(key, enc('first'));
    t.equal(etag, (await client.read(key)).etag);
    const second = await client.write(key, enc('second'), { contentType: 'application/octet-stream' });
    t.not(second.etag, etag);
    t.equal(dec((await client.read(key)).data), 'second');
    t.same(await fs.readdir(path.join(client.root, 'ltx', '0')), ['0000000000000001-0000000000000001.ltx']);
    t.same((await client.listLtxFiles(0)).map((f) => f.size), [6]);
    await client.close();
  });

  t.test('timestamp is the mtime of the file itself (what Litestream sets)', async (t) => {
    const client = await openFileReplica(t.testdir({}));
    await client.write(client.ltxKey(0, 1, 1), enc('x'), { timestamp: 1795254709256 });
    await client.write('lock.json', enc('one'), { ifNoneMatch: true, timestamp: 1795254709256 });
    for (const key of [client.ltxKey(0, 1, 1), 'lock.json']) {
      t.equal(Math.round((await fs.stat(path.join(client.root, key))).mtimeMs), 1795254709256, key);
    }
    await client.close();
  });

  t.test('ifMatch on an unreadable object is LTXVFS_ERR_STORAGE', async (t) => {
    const client = await openFileReplica(t.testdir({ d: {} }));
    await t.rejects(client.write('d', enc('x'), { ifMatch: '"x"' }), { code: 'LTXVFS_ERR_STORAGE', key: 'd', message: /^write d: EISDIR/ });
    await client.close();
  });

  t.test('I/O failures are LTXVFS_ERR_STORAGE naming the key', async (t) => {
    const client = await openFileReplica(t.testdir({ f: 'file', d: { x: 'x' } }));
    await t.rejects(client.write('f/x', enc('x')), { code: 'LTXVFS_ERR_STORAGE', key: 'f/x', message: /^write f\/x: E(EXIST|NOTDIR)/ });
    await t.rejects(client.write('d', enc('x')), { code: 'LTXVFS_ERR_STORAGE', key: 'd', message: /^write d: E(ISDIR|NOTEMPTY|EXIST)/ });
    await t.rejects(client.write('d', enc('x'), { ifNoneMatch: true }), { code: 'LTXVFS_ERR_PRECONDITION', key: 'd' });
    t.same((await fs.readdir(client.root)).sort(), ['d', 'f'], 'temporary files are removed');
    await client.close();
  });
});

t.test('delete', async (t) => {
  t.test('a directory is LTXVFS_ERR_BAD_KEY naming it', async (t) => {
    const client = await openFileReplica(t.testdir({ d: {} }));
    await t.rejects(client.delete('d'), { code: 'LTXVFS_ERR_STORAGE', key: 'd', message: /^delete d: E(ISDIR|PERM)/ });
    await client.close();
  });
});

t.test('keys must stay inside the replica root', async (t) => {
  const dir = t.testdir({ inside: { f: 'x' } });
  const client = await openFileReplica(path.join(dir, 'inside'));
  const escapes = ['../x', '/etc/passwd', 'ltx/../../x', '..', 'a/../../b', '../inside2/f', '/'];
  for (const key of escapes) {
    const expected = { code: 'LTXVFS_ERR_BAD_KEY', key, message: `key escapes the replica root: ${key}` };
    await t.rejects(client.readRange(key, 0, 1), expected, `readRange ${key}`);
    await t.rejects(client.read(key), expected, `read ${key}`);
    await t.rejects(client.write(key, enc('x')), expected, `write ${key}`);
    await t.rejects(client.delete(key), expected, `delete ${key}`);
  }
  for (const key of ['.', 'ltx/..', './']) {
    await t.rejects(client.read(key), { code: 'LTXVFS_ERR_BAD_KEY', message: `key names the replica root itself: ${key}` });
  }
  await t.rejects(client.read(''), { code: 'LTXVFS_ERR_BAD_KEY', message: 'bad key "": empty or contains NUL' });
  await t.rejects(client.read('a\0b'), { code: 'LTXVFS_ERR_BAD_KEY', message: 'bad key "a\\u0000b": empty or contains NUL' });
  t.equal(dec((await client.read('ltx/../f')).data), 'x', 'a .. that stays inside is fine');
  t.equal(dec((await client.read('../inside/f')).data), 'x', 'even one that leaves and comes back');
  await t.rejects(fs.access(path.join(dir, 'x')), { code: 'ENOENT' }, 'nothing was written outside');
  await client.close();
});

t.test('close', async (t) => {
  t.test('reads in flight finish; a failed open in flight is released cleanly', async (t) => {
    const client = await openFileReplica(t.testdir({ a: 'aaaa' }));
    const ok = client.readRange('a', 0, 4);
    const missing = client.readRange('missing', 0, 4);
    const closing = client.close();
    const [data] = await Promise.all([ok, t.rejects(missing, { code: 'LTXVFS_ERR_NOT_FOUND' }), closing]);
    t.equal(dec(data), 'aaaa');
  });
});

t.test('mtimeToMs rounds down but tolerates float error just below a millisecond', async (t) => {
  t.equal(mtimeToMs(1795254709256000000n), 1795254709256);
  t.equal(mtimeToMs(1795254709255999800n), 1795254709256);
  t.equal(mtimeToMs(1795254709256998000n), 1795254709256);
  t.equal(mtimeToMs(1795254709256999999n), 1795254709257, "within 1 µs below the next ms");
  t.equal(mtimeToMs(1795254709255990000n), 1795254709255);
});

t.test('filesystem failures at the edges (mocked node:fs)', async (t) => {
  const realFs = await import('node:fs');
  const errno = (code: string, message: string) => Object.assign(new Error(`${code}: ${message}, link 'a' -> 'b'`), { code });
  const calls: string[] = [];
  const fsMock = {
    ...realFs,
    promises: {
      ...realFs.promises,
      // A filesystem without hard links (FAT, some network shares).
      link: async () => {
        throw errno('EPERM', 'operation not permitted');
      },
      // The object disappears between the ETag check and the unlink.
      unlink: async (p: string) => {
        calls.push(`unlink ${path.basename(p)}`);
        await realFs.promises.unlink(p);
        throw errno('ENOENT', 'no such file or directory');
      },
      // Directories cannot be opened for fsync (Windows).
      open: async (p: string, flags: string) => {
        if ((await realFs.promises.stat(p).catch(() => undefined))?.isDirectory()) throw errno('EISDIR', 'illegal operation on a directory');
        return realFs.promises.open(p, flags);
      },
    },
  };
  // The writes are in write.ts, the entry checks in entries.ts: each gets the mocked node:fs.
  const entries = await t.mockImport('../../../lib/storage/file/entries.js', { 'node:fs': fsMock });
  const mocks = {
    'node:fs': fsMock,
    '../../../lib/storage/file/entries.js': entries,
    '../../../lib/storage/file/write.js': await t.mockImport('../../../lib/storage/file/write.js', {
      'node:fs': fsMock,
      '../../../lib/storage/file/entries.js': entries,
    }),
  };
  const mocked = await t.mockImport<typeof import('../../../lib/storage/file/client.js')>('../../../lib/storage/file/client.js', mocks);
  const client = await mocked.openFileReplica(t.testdir({}));

  const { etag } = await client.write('lock.json', enc('a'));
  t.equal(dec((await client.read('lock.json')).data), 'a', 'a failing directory fsync does not fail the write');

  await t.rejects(client.write('new.json', enc('a'), { ifNoneMatch: true }), {
    code: 'LTXVFS_ERR_STORAGE',
    key: 'new.json',
    message: 'write new.json: EPERM: operation not permitted',
  });
  t.same(await fs.readdir(client.root), ['lock.json'], 'the temporary file is removed');

  await t.rejects(client.delete('lock.json', { ifMatch: etag }), {
    code: 'LTXVFS_ERR_PRECONDITION',
    key: 'lock.json',
    message: `precondition failed for lock.json: object does not exist (if-match ${etag})`,
  });
  t.same(calls, ['unlink lock.json']);
  await client.close();
});
