import t from 'tap';
import { CHECKSUM_FLAG } from '../../ltx/checksum.js';
import { decodeTrailer, encodeTrailer, postApplyProblem, TRAILER_SIZE, validateTrailer } from '../../ltx/trailer.js';
import { fixture, hexBig, realFiles, throwsLtx, toHex } from './util.js';

t.test('trailers of the five real files and their checksummed twins', async (t) => {
  t.equal(TRAILER_SIZE, 16);
  for (const f of realFiles) {
    const buf = fixture(f.path);
    const tr = decodeTrailer(buf, f.path);
    t.same(tr, { postApplyChecksum: hexBig(f.trailer.postApplyChecksum), fileChecksum: hexBig(f.trailer.fileChecksum) }, f.path);
    t.same(encodeTrailer(tr), buf.subarray(buf.length - 16), 're-encoded byte for byte');
    validateTrailer({ flags: 2, commit: f.header.commit }, tr, f.path);
  }
  const derived = fixture('derived/checksummed/ltx/0/0000000000000005-0000000000000005.ltx');
  t.same(decodeTrailer(derived, 'd5'), { postApplyChecksum: 0x9b605845496813acn, fileChecksum: 0xf1caf860880be0fdn });
});

t.test('decode at an explicit offset; truncated input', async (t) => {
  const bytes = encodeTrailer({ postApplyChecksum: 1n, fileChecksum: 2n });
  t.equal(toHex(bytes), '00000000000000010000000000000002');
  const padded = new Uint8Array(40);
  padded.set(bytes, 10);
  t.same(decodeTrailer(padded, 'p', 10), { postApplyChecksum: 1n, fileChecksum: 2n });
  throwsLtx(t, () => decodeTrailer(new Uint8Array(15), 'f.ltx'), 'LTXVFS_ERR_CORRUPT', 'f.ltx', /trailer truncated: 15 bytes available, need 16/);
  throwsLtx(t, () => decodeTrailer(padded, 'f.ltx', 30), 'LTXVFS_ERR_CORRUPT', 'f.ltx', /trailer truncated/);
});

t.test('post-apply rules (docs/formats.md §1.9)', async (t) => {
  const noChecksum = { flags: 2, commit: 4 };
  const checksums = { flags: 0, commit: 4 };
  t.equal(postApplyProblem(noChecksum, 0n), undefined);
  t.match(postApplyProblem(noChecksum, CHECKSUM_FLAG | 5n), /post-apply checksum 8000000000000005 invalid \(not allowed with the NoChecksum flag\)/);
  t.equal(postApplyProblem(checksums, CHECKSUM_FLAG | 5n), undefined);
  t.match(postApplyProblem(checksums, 0n), /post-apply checksum 0 invalid \(required when checksums are tracked\)/);
  t.match(postApplyProblem(checksums, 5n), /bit 63 must be set/);
  t.equal(postApplyProblem({ flags: 0, commit: 0 }, CHECKSUM_FLAG), undefined, 'empty database');
  t.match(postApplyProblem({ flags: 0, commit: 0 }, CHECKSUM_FLAG | 1n), /commit 0 requires 8000000000000000/);
  t.equal(postApplyProblem({ flags: 2, commit: 0 }, 0n), undefined, 'a NoChecksum deletion reads fine');
});

t.test('validateTrailer names the file and the rule', async (t) => {
  throwsLtx(
    t,
    () => validateTrailer({ flags: 2, commit: 2 }, { postApplyChecksum: 0x8000000000000001n, fileChecksum: CHECKSUM_FLAG }, 'x.ltx'),
    'LTXVFS_ERR_CORRUPT',
    'x.ltx',
    /trailer: post-apply checksum 8000000000000001 invalid \(not allowed with the NoChecksum flag\)/,
  );
  throwsLtx(
    t,
    () => validateTrailer({ flags: 2, commit: 2 }, { postApplyChecksum: 0n, fileChecksum: 0x1234n }, 'x.ltx', 'LTXVFS_ERR_USAGE'),
    'LTXVFS_ERR_USAGE',
    'x.ltx',
    /trailer: file checksum 0000000000001234 invalid \(bit 63 must be set\)/,
  );
});
