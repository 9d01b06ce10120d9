import t from 'tap';
import {
  decodeXmlEntities, formatRfc3339Nano, parseListObjectsV2, parseRfc3339, parseS3Error, uriEncode,
} from '../../../lib/storage/s3/wire.js';

t.test('decodeXmlEntities decodes the predefined entities and character references', async (t) => {
  t.equal(decodeXmlEntities('plain'), 'plain');
  t.equal(decodeXmlEntities('a &amp; b &lt;c&gt; &quot;d&quot; &apos;e&apos;'), `a & b <c> "d" 'e'`);
  t.equal(decodeXmlEntities('&#x27;&#39;&#x60;&#x1F600;'), "''`😀", 'hex and decimal, astral too');
  t.equal(decodeXmlEntities('&amp;amp;'), '&amp;', 'decoded once');
  t.equal(decodeXmlEntities('&eacute; &#x110000; &bogus; & x'), '&eacute; &#x110000; &bogus; & x', 'anything else stays as written');
});

t.test('parseListObjectsV2 reads keys, sizes, times, ETags and the continuation', async (t) => {
  const xml = `<?xml version="1.0" encoding="UTF-8"?>
<ListBucketResult xmlns="http://s3.amazonaws.com/doc/2006-03-01/"><Name>b</Name><Prefix>p/0000/</Prefix><KeyCount>2</KeyCount>
<IsTruncated>true</IsTruncated><NextContinuationToken>1ueGcxLPRx1Tr/XYExHnhbYLgveDs2J/wm36Hy4vbOwM=</NextContinuationToken>
<Contents><Key>p/0000/a&amp;b&#x27;.ltx</Key><LastModified>2026-11-21T09:51:49.256Z</LastModified><ETag>&quot;abc&quot;</ETag><Size>374</Size><StorageClass>STANDARD</StorageClass></Contents>
<Contents>
  <Key>p/0000/x</Key>
  <Size>0</Size>
</Contents>
</ListBucketResult>`;
  t.same(parseListObjectsV2(xml), {
    objects: [
      { key: "p/0000/a&b'.ltx", size: 374, lastModified: Date.UTC(2026, 10, 21, 9, 51, 49, 256), etag: '"abc"' },
      { key: 'p/0000/x', size: 0, lastModified: NaN, etag: '' },
    ],
    isTruncated: true,
    nextContinuationToken: '1ueGcxLPRx1Tr/XYExHnhbYLgveDs2J/wm36Hy4vbOwM=',
  });
  t.same(parseListObjectsV2('<ListBucketResult><IsTruncated>false</IsTruncated></ListBucketResult>'), {
    objects: [],
    isTruncated: false,
    nextContinuationToken: undefined,
  });
  t.same(parseListObjectsV2('<ListBucketResult><IsTruncated>true</IsTruncated><NextContinuationToken/></ListBucketResult>').nextContinuationToken, undefined,
    'an empty token is no token');
  t.throws(() => parseListObjectsV2('<Error><Code>x</Code></Error>'), /not a ListBucketResult/);
  t.throws(() => parseListObjectsV2('<ListBucketResult><Contents><Size>1</Size></Contents></ListBucketResult>'), /bad Contents entry/);
  t.throws(() => parseListObjectsV2('<ListBucketResult><Contents><Key>k</Key><Size>-1</Size></Contents></ListBucketResult>'), /bad Contents entry/);
  t.throws(() => parseListObjectsV2('<ListBucketResult><Contents><Key>k</Key></Contents></ListBucketResult>'), /bad Contents entry/);
});

t.test('parseS3Error reads Code, Message, Region and Endpoint of S3 error documents only', async (t) => {
  t.same(
    parseS3Error('<?xml version="1.0"?>\n<Error><Code>AuthorizationHeaderMalformed</Code><Message>the region\n  &apos;us-east-1&apos; is wrong</Message><Region>eu-west-1</Region><RequestId>1</RequestId></Error>'),
    { code: 'AuthorizationHeaderMalformed', message: "the region 'us-east-1' is wrong", region: 'eu-west-1', endpoint: undefined },
  );
  t.same(parseS3Error('<Error><Code>PermanentRedirect</Code><Message></Message><Endpoint>b.s3.eu-west-1.amazonaws.com</Endpoint></Error>'), {
    code: 'PermanentRedirect', message: undefined, region: undefined, endpoint: 'b.s3.eu-west-1.amazonaws.com',
  });
  const none = { code: undefined, message: undefined, region: undefined, endpoint: undefined };
  t.same(parseS3Error(''), none);
  t.same(parseS3Error('<html><body><h1>502 Bad Gateway</h1> secret stuff</body></html>'), none, 'foreign bodies are never echoed');
  t.equal(parseS3Error(`<Error><Message>${'x'.repeat(400)}</Message></Error>`).message?.length, 300, 'long messages are cut to one short line');
});

t.test('uriEncode is S3 UriEncode', async (t) => {
  t.equal(uriEncode("a/b c+d=e&f!'()*~._-"), 'a%2Fb%20c%2Bd%3De%26f%21%27%28%29%2A~._-');
  t.equal(uriEncode('p/0000/x é.ltx', true), 'p/0000/x%20%C3%A9.ltx');
});

t.test('formatRfc3339Nano prints like Go time.RFC3339Nano in UTC', async (t) => {
  t.equal(formatRfc3339Nano(1795254709256), '2026-11-21T09:51:49.256Z');
  t.equal(formatRfc3339Nano(1795254709000), '2026-11-21T09:51:49Z', 'no fraction for whole seconds');
  t.equal(formatRfc3339Nano(1795254709200), '2026-11-21T09:51:49.2Z', 'trailing zeros trimmed');
  t.equal(formatRfc3339Nano(1795254709256.5), '2026-11-21T09:51:49.2565Z', 'sub-ms kept to the ns');
  t.equal(formatRfc3339Nano(0), '1970-01-01T00:00:00Z');
  t.equal(formatRfc3339Nano(-1), '1969-12-31T23:59:59.999Z');
  t.throws(() => formatRfc3339Nano(Date.UTC(10000, 0, 1)), RangeError);
  t.throws(() => formatRfc3339Nano(NaN), RangeError);
  t.throws(() => formatRfc3339Nano(Infinity), RangeError);
});

t.test('parseRfc3339 reads RFC 3339 times to the ms', async (t) => {
  t.equal(parseRfc3339('2026-11-21T09:51:49.256Z'), 1795254709256);
  t.equal(parseRfc3339('2026-11-21T09:51:49.256999999Z'), 1795254709256, 'ns rounded down');
  t.equal(parseRfc3339('2026-11-21T09:51:49.2Z'), 1795254709200);
  t.equal(parseRfc3339('2026-11-21T09:51:49Z'), 1795254709000);
  t.equal(parseRfc3339('2026-11-21t09:51:49z'), 1795254709000, 'either case');
  t.equal(parseRfc3339('2026-11-21T11:51:49.256+02:00'), 1795254709256);
  t.equal(parseRfc3339('2026-11-21T08:21:49.256-01:30'), 1795254709256);
  t.equal(parseRfc3339(' 2026-11-21T09:51:49Z '), 1795254709000, 'surrounding blanks');
  t.equal(parseRfc3339('0001-01-01T00:00:00Z'), new Date('0001-01-01T00:00:00Z').getTime(), 'years below 100 are literal');
  for (const bad of ['', 'yesterday', '2026-11-21 09:51:49Z', '2026-11-21T09:51:49', '2026-13-01T00:00:00Z', '2026-02-30T00:00:00Z',
    '2026-00-10T00:00:00Z', '2026-01-00T00:00:00Z', '2026-01-01T24:00:00Z', '2026-01-01T00:60:00Z', '2026-01-01T00:00:60Z',
    '2026-01-01T00:00:00.1234567890Z']) {
    t.equal(parseRfc3339(bad), undefined, JSON.stringify(bad));
  }
});
