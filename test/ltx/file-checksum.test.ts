import t from 'tap';
import { computeFileChecksum, decodeLtxFile } from '../../ltx/decoder.js';
import { encodeLtxFile } from '../../ltx/encoder.js';
import { FILE_CHECKSUM_SIZE, FileChecksumBuilder } from '../../ltx/file-checksum.js';
import { HEADER_SIZE } from '../../ltx/header.js';
import { fixture, realFiles, testHeader, testPage, throwsLtx } from './util.js';

/** Feed `buf` to a builder the way a range reader does: header, frames with their pages, tail. */
function incremental(buf: Uint8Array, name: string): bigint {
  const d = decodeLtxFile(buf, name);
  const b = new FileChecksumBuilder().header(buf);
  d.index.forEach((e, i) => b.frame(buf.subarray(e.offset, e.offset + e.size), d.pages[i].data, name));
  const last = d.index[d.index.length - 1];
  const tailStart = last === undefined ? HEADER_SIZE : last.offset + last.size;
  return b.tail(buf, tailStart, buf.length - FILE_CHECKSUM_SIZE).digest();
}

t.test('fed piece by piece, the builder gives the whole-file checksum of every Litestream-written fixture', async (t) => {
  const files = realFiles;
  t.ok(files.length > 0);
  for (const f of files) {
    const buf = fixture(f.path);
    t.equal(incremental(buf, f.path), computeFileChecksum(buf, f.path), f.path);
    t.equal(incremental(buf, f.path), decodeLtxFile(buf, f.path).trailer.fileChecksum, `${f.path}: equals the stored checksum`);
  }
});

t.test('both frame variants (size prefix or LZ4 frame) are fed as §2.4 says', async (t) => {
  for (const variant of ['block', 'frame'] as const) {
    const buf = encodeLtxFile({ header: testHeader(), pages: [{ pgno: 1, data: testPage(1) }, { pgno: 2, data: testPage(2) }], postApplyChecksum: 0n, variant });
    t.equal(incremental(buf, variant), computeFileChecksum(buf, variant), variant);
  }
});

t.test('a frame shorter than its page header is refused, naming the file', async (t) => {
  throwsLtx(t, () => new FileChecksumBuilder().frame(new Uint8Array([0, 0, 0, 1, 0, 1, 0]), new Uint8Array(0), 'x.ltx'), 'LTXVFS_ERR_CORRUPT', 'x.ltx', /shorter than its page header/);
  throwsLtx(t, () => new FileChecksumBuilder().frame(new Uint8Array(3), new Uint8Array(0), 'y.ltx'), 'LTXVFS_ERR_CORRUPT', 'y.ltx', /3 bytes/);
});
