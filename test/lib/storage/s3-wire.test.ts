import t from 'tap';
import {
  decodeXmlEntities, parseListObjectsV2, parseS3Error, uriEncode,
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
