import t from 'tap';
import {
  decodeHeader,
  encodeHeader,
  hasNoChecksum,
  HEADER_FLAG_NO_CHECKSUM,
  HEADER_SIZE,
  headerProblem,
  isSnapshot,
  isValidPageSize,
  validateHeader,
  type LtxHeader,
} from '../../ltx/header.js';
import { fixture, hexBig, rawHeader, realFiles, testHeader, throwsLtx, TXID1, TXID1_NAME } from './util.js';

const W = TXID1_NAME;

t.test('constants', async (t) => {
  t.equal(HEADER_SIZE, 100);
  t.equal(HEADER_FLAG_NO_CHECKSUM, 2);
});

t.test('TXID 1 byte walk (docs/formats.md §3.2)', async (t) => {
  const h = decodeHeader(fixture(TXID1), W);
  t.same(h, {
    flags: 2,
    pageSize: 4096,
    commit: 2,
    minTXID: 1,
    maxTXID: 1,
    timestamp: 1795254709256,
    preApplyChecksum: 0n,
    walOffset: 0,
    walSize: 0,
    walSalt1: 0,
    walSalt2: 0,
    nodeID: 0,
  });
  t.ok(isSnapshot(h), 'minTXID 1 is a snapshot');
  t.ok(hasNoChecksum(h), 'NoChecksum flag');
});

t.test('header fields of the five real files match the manifest; encode reproduces the bytes', async (t) => {
  for (const f of realFiles) {
    const buf = fixture(f.path);
    const h = decodeHeader(buf, f.path);
    const { magic, ...fields } = f.header as typeof f.header & { magic: string };
    t.equal(magic, 'LTX1');
    t.same(h, { ...fields, preApplyChecksum: hexBig(f.header.preApplyChecksum) }, f.path);
    t.same(encodeHeader(h), buf.subarray(0, HEADER_SIZE), `${f.path} re-encoded byte for byte`);
    t.equal(isSnapshot(h), f.header.minTXID === 1);
  }
});

t.test('the checksummed derivatives carry their pre-apply checksums', async (t) => {
  const pres = ['0000000000000000', 'ee274f1357b234e2', 'e8c5910862bf7866', 'f03d313437ca7d51', 'ab55cfd648a5b74d'];
  realFiles.forEach((f, i) => {
    const path = f.path.replace('replica/', 'derived/checksummed/');
    const h = decodeHeader(fixture(path), path);
    t.equal(h.flags, 0, `${path} tracks checksums`);
    t.equal(h.preApplyChecksum, hexBig(pres[i]), `${path} pre-apply`);
    t.notOk(hasNoChecksum(h));
  });
});

t.test('the v1 fixture header decodes (its layout is refused later, by the frames)', async (t) => {
  const h = decodeHeader(fixture('litestream-testdata/000000000000000d-000000000000000d.ltx'), 'v1');
  t.match(h, { flags: 0, pageSize: 4096, commit: 10, minTXID: 13, maxTXID: 13, timestamp: 0, preApplyChecksum: 0x9c74a15b4e4f246cn });
});

/** TXID 1's header with a patch applied to its bytes. */
function patchedHeader(patch: (v: DataView) => void): Uint8Array {
  const buf = fixture(TXID1).slice(0, HEADER_SIZE);
  patch(new DataView(buf.buffer));
  return buf;
}

t.test('decode refuses every header rule of §1.9, naming the file and the reason', async (t) => {
  const bad: [string, (v: DataView) => void, RegExp][] = [
    ['magic', (v) => v.setUint8(3, 0x32), /header: magic 4c545832 invalid \(expected "LTX1"\)/],
    ['flag 0x4', (v) => v.setUint32(4, 6), /header: flags 0x00000006 invalid \(only 0x2 allowed\)/],
    ['flag bit 31', (v) => v.setUint32(4, 0x80000002), /flags 0x80000002 invalid/],
    ['page size 4097', (v) => v.setUint32(8, 4097), /page size 4097 invalid \(must be a power of two in 512…65536\)/],
    ['page size 256', (v) => v.setUint32(8, 256), /page size 256 invalid/],
    ['page size 131072', (v) => v.setUint32(8, 131072), /page size 131072 invalid/],
    ['page size 0', (v) => v.setUint32(8, 0), /page size 0 invalid/],
    ['minTXID 0', (v) => v.setBigUint64(16, 0n), /minTXID 0 invalid/],
    ['maxTXID 0', (v) => v.setBigUint64(24, 0n), /maxTXID 0 invalid/],
    [
      'min > max',
      (v) => {
        v.setBigUint64(16, 5n);
        v.setBigUint64(24, 4n);
      },
      /TXID range 5-4 invalid \(minTXID > maxTXID\)/,
    ],
    ['minTXID above 2^53-1', (v) => v.setBigUint64(16, 1n << 53n), /minTXID 9007199254740992 exceeds 2\^53-1/],
    ['maxTXID u64 max', (v) => v.setBigUint64(24, (1n << 64n) - 1n), /maxTXID 18446744073709551615 exceeds 2\^53-1/],
    ['negative walOffset', (v) => v.setBigInt64(48, -5n), /walOffset -5 invalid/],
    ['negative walSize', (v) => v.setBigInt64(56, -1n), /walSize -1 invalid/],
    ['walOffset beyond 2^53', (v) => v.setBigInt64(48, 1n << 60n), /walOffset \d+ outside ±2\^53-1/],
    ['walSize without walOffset', (v) => v.setBigInt64(56, 4096n), /walSize 4096 invalid \(walOffset is 0\)/],
    ['salt without walOffset', (v) => v.setUint32(64, 7), /walOffset 0 invalid \(WAL salts are set/],
    ['salt2 without walOffset', (v) => v.setUint32(68, 7), /walOffset 0 invalid/],
    ['timestamp beyond 2^53', (v) => v.setBigInt64(32, 1n << 62n), /timestamp \d+ outside ±2\^53-1/],
    ['snapshot with pre-apply', (v) => v.setBigUint64(40, 0x8000000000000001n), /pre-apply checksum 8000000000000001 invalid \(must be zero on snapshots\)/],
    [
      'NoChecksum with pre-apply',
      (v) => {
        v.setBigUint64(16, 2n);
        v.setBigUint64(24, 2n);
        v.setBigUint64(40, 0x8000000000000001n);
      },
      /pre-apply checksum 8000000000000001 invalid \(not allowed with the NoChecksum flag\)/,
    ],
    [
      'checksums on, pre-apply missing',
      (v) => {
        v.setUint32(4, 0);
        v.setBigUint64(16, 2n);
        v.setBigUint64(24, 2n);
      },
      /pre-apply checksum 0 invalid \(required on non-snapshot files with checksums\)/,
    ],
    [
      'checksums on, pre-apply without bit 63',
      (v) => {
        v.setUint32(4, 0);
        v.setBigUint64(16, 2n);
        v.setBigUint64(24, 2n);
        v.setBigUint64(40, 0x1234n);
      },
      /pre-apply checksum 0000000000001234 invalid \(bit 63 must be set\)/,
    ],
  ];
  for (const [name, patch, reason] of bad) {
    t.test(name, async (t) => throwsLtx(t, () => decodeHeader(patchedHeader(patch), W), 'LTXVFS_ERR_CORRUPT', W, reason));
  }
});

t.test('decode accepts what has no rule: timestamps, WAL fields from a WAL, node ids, reserved bytes', async (t) => {
  const buf = patchedHeader((v) => {
    v.setBigInt64(32, -1000n);
    v.setBigInt64(48, 4096n);
    v.setBigInt64(56, 8192n);
    v.setUint32(64, 0xdeadbeef);
    v.setUint32(68, 0xffffffff);
    v.setBigUint64(72, 42n);
    v.setUint8(99, 0xff);
  });
  t.match(decodeHeader(buf, W), { timestamp: -1000, walOffset: 4096, walSize: 8192, walSalt1: 0xdeadbeef, walSalt2: 0xffffffff, nodeID: 42 });
  const walOnlyOffset = patchedHeader((v) => v.setBigInt64(48, 4096n));
  t.equal(decodeHeader(walOnlyOffset, W).walSize, 0, 'walOffset without walSize is fine');
});

t.test('decode: truncated header, legacy v1 compression flag, huge node id', async (t) => {
  throwsLtx(t, () => decodeHeader(fixture(TXID1).subarray(0, 99), W), 'LTXVFS_ERR_CORRUPT', W, /header: truncated: 99 bytes, need 100/);
  throwsLtx(
    t,
    () => decodeHeader(patchedHeader((v) => v.setUint32(4, 3)), W),
    'LTXVFS_ERR_UNSUPPORTED',
    W,
    /flags 0x00000003: flag 0x1 \(CompressLZ4\) belongs to the legacy LTX v1 layout/,
  );
  throwsLtx(
    t,
    () => decodeHeader(patchedHeader((v) => v.setUint32(4, 1)), W),
    'LTXVFS_ERR_UNSUPPORTED',
    W,
    /legacy LTX v1/,
  );
  throwsLtx(
    t,
    () => decodeHeader(patchedHeader((v) => v.setBigUint64(72, 1n << 60n)), W),
    'LTXVFS_ERR_UNSUPPORTED',
    W,
    /nodeID 1152921504606846976 exceeds 2\^53-1/,
  );
});

t.test('decode reads a header inside a larger buffer at any byteOffset', async (t) => {
  const file = fixture(TXID1);
  const shifted = new Uint8Array(file.length + 3);
  shifted.set(file, 3);
  t.same(decodeHeader(shifted.subarray(3), W), decodeHeader(file, W));
});

t.test('encode validates first and refuses invalid headers with LTXVFS_ERR_USAGE', async (t) => {
  const cases: [Partial<LtxHeader>, RegExp][] = [
    [{ flags: 1 }, /flags 0x00000001 invalid/],
    [{ flags: -1 }, /flags 0xffffffff invalid/],
    [{ pageSize: 1000 }, /page size 1000 invalid/],
    [{ pageSize: 4096.5 }, /page size 4096.5 invalid/],
    [{ commit: -1 }, /commit -1 invalid/],
    [{ commit: 2 ** 32 }, /commit 4294967296 invalid/],
    [{ minTXID: 0 }, /minTXID 0 invalid/],
    [{ minTXID: 2 ** 53 }, /minTXID 9007199254740992 invalid/],
    [{ maxTXID: 1.5 }, /maxTXID 1.5 invalid/],
    [{ timestamp: Number.NaN }, /timestamp NaN invalid/],
    [{ walOffset: -1 }, /walOffset -1 invalid/],
    [{ walSize: 2 ** 60 }, /walSize \d+ invalid/],
    [{ walSalt1: 2 ** 32 }, /WAL salts 4294967296\/0 invalid/],
    [{ walSalt2: -1 }, /WAL salts 0\/-1 invalid/],
    [{ nodeID: -1 }, /nodeID -1 invalid/],
    [{ preApplyChecksum: -1n }, /pre-apply checksum -1 invalid \(must be a u64 bigint\)/],
    [{ preApplyChecksum: 1n << 64n }, /pre-apply checksum \d+ invalid/],
    [{ preApplyChecksum: 5 as unknown as bigint }, /pre-apply checksum 5 invalid/],
  ];
  for (const [over, reason] of cases) {
    throwsLtx(t, () => encodeHeader(testHeader(over)), 'LTXVFS_ERR_USAGE', 'encode', reason);
  }
  t.equal(headerProblem(testHeader()), undefined, 'the test header is valid');
  throwsLtx(t, () => validateHeader(testHeader({ minTXID: 3, maxTXID: 2 }), 'x.ltx', 'LTXVFS_ERR_CORRUPT'), 'LTXVFS_ERR_CORRUPT', 'x.ltx', /TXID range/);
});

t.test('encode → decode round trip of unusual but valid headers', async (t) => {
  const headers = [
    testHeader({ flags: 0, preApplyChecksum: 0x8000000000000001n, minTXID: 7, maxTXID: 9 }),
    testHeader({ walOffset: 32, walSize: 4152, walSalt1: 1, walSalt2: 2, nodeID: Number.MAX_SAFE_INTEGER }),
    testHeader({ pageSize: 512, commit: 0xffffffff, minTXID: Number.MAX_SAFE_INTEGER, maxTXID: Number.MAX_SAFE_INTEGER }),
    testHeader({ pageSize: 65536, timestamp: -1 }),
  ];
  for (const h of headers) t.same(decodeHeader(encodeHeader(h), 'rt'), h);
  t.same(encodeHeader(headers[0]), rawHeader(headers[0]), 'same bytes as the test writer');
});

t.test('isValidPageSize', async (t) => {
  for (let s = 512; s <= 65536; s *= 2) t.ok(isValidPageSize(s), `${s}`);
  for (const s of [0, 256, 511, 513, 3000, 131072, 4096.5, -4096]) t.notOk(isValidPageSize(s), `${s}`);
});
