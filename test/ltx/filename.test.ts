import t from 'tap';
import { formatLtxFilename, formatTXID, parseLtxFilename, parseTXID } from '../../ltx/filename.js';

t.test('formatTXID prints 16 lower-case hex digits', async (t) => {
  t.equal(formatTXID(0), '0000000000000000');
  t.equal(formatTXID(1), '0000000000000001');
  t.equal(formatTXID(0xabcdef), '0000000000abcdef');
  t.equal(formatTXID(Number.MAX_SAFE_INTEGER), '001fffffffffffff');
});

t.test('formatTXID rejects negative, fractional and unsafe numbers', async (t) => {
  for (const bad of [-1, 1.5, Number.NaN, Number.MAX_SAFE_INTEGER + 1, Infinity]) {
    t.throws(() => formatTXID(bad), { code: 'LTXVFS_ERR_USAGE', message: /bad TXID: .* not an integer/ }, String(bad));
  }
});

t.test('parseTXID reads 16 hex digits in either case', async (t) => {
  t.equal(parseTXID('0000000000000001'), 1);
  t.equal(parseTXID('00000000000000FF'), 255);
  t.equal(parseTXID('001fffffffffffff'), Number.MAX_SAFE_INTEGER);
});

t.test('parseTXID rejects other lengths and characters, naming the source', async (t) => {
  for (const bad of ['1', '000000000000001', '00000000000000001', '000000000000000g', '0x00000000000001', '']) {
    t.throws(() => parseTXID(bad, 'litestream_txid'), {
      code: 'LTXVFS_ERR_USAGE',
      key: 'litestream_txid',
      message: new RegExp(`bad TXID ${JSON.stringify(bad)} in litestream_txid: expected 16 hex digits`),
    });
  }
  t.throws(() => parseTXID('xyz'), { code: 'LTXVFS_ERR_USAGE', message: 'bad TXID "xyz": expected 16 hex digits' });
});

t.test('parseTXID refuses TXIDs above 2^53-1 instead of rounding', async (t) => {
  t.throws(() => parseTXID('0020000000000000', 'x.ltx'), {
    code: 'LTXVFS_ERR_UNSUPPORTED',
    message: 'TXID 0020000000000000 in x.ltx is above 2^53-1, the largest TXID ltxvfs supports',
  });
  t.throws(() => parseTXID('FFFFFFFFFFFFFFFF'), { code: 'LTXVFS_ERR_UNSUPPORTED', message: /^TXID ffffffffffffffff is above/ });
});

t.test('formatLtxFilename gives %016x-%016x.ltx', async (t) => {
  t.equal(formatLtxFilename(1, 1), '0000000000000001-0000000000000001.ltx');
  t.equal(formatLtxFilename(1, 0x3a), '0000000000000001-000000000000003a.ltx');
});

t.test('formatLtxFilename rejects min 0 and min > max', async (t) => {
  t.throws(() => formatLtxFilename(0, 1), { code: 'LTXVFS_ERR_USAGE', message: /0000000000000000-0000000000000001: need 1 <= minTXID <= maxTXID/ });
  t.throws(() => formatLtxFilename(3, 2), { code: 'LTXVFS_ERR_USAGE', message: /0000000000000003-0000000000000002/ });
  t.throws(() => formatLtxFilename(1, -2), { code: 'LTXVFS_ERR_USAGE' });
});

t.test('parseLtxFilename reads the TXID range of a well-formed name', async (t) => {
  t.same(parseLtxFilename('0000000000000001-0000000000000003.ltx'), { minTXID: 1, maxTXID: 3 });
  t.same(parseLtxFilename('00000000000000ff-00000000000000ff.ltx'), { minTXID: 255, maxTXID: 255 });
  t.same(parseLtxFilename(formatLtxFilename(7, 9)), { minTXID: 7, maxTXID: 9 });
});

t.test('parseLtxFilename ignores everything else', async (t) => {
  for (const name of [
    '0000000000000001-0000000000000001.ltx.tmp',
    '0000000000000001-0000000000000001.ltx.tmp-abc',
    '00000000000000FF-00000000000000FF.ltx',
    '0000000000000001-000000000000001.ltx',
    '0000000000000001_0000000000000001.ltx',
    '0000000000000001-0000000000000001.LTX',
    ' 0000000000000001-0000000000000001.ltx',
    '0000000000000001.ltx',
    'lock.json',
    '.DS_Store',
    '0000000000000000-0000000000000001.ltx',
    '0000000000000003-0000000000000002.ltx',
  ]) {
    t.equal(parseLtxFilename(name), undefined, name);
  }
});

t.test('parseLtxFilename refuses a well-formed name beyond 2^53-1, naming the file', async (t) => {
  const name = '0000000000000001-0020000000000000.ltx';
  t.throws(() => parseLtxFilename(name), { code: 'LTXVFS_ERR_UNSUPPORTED', key: name, message: new RegExp(`in ${name} is above`) });
});
