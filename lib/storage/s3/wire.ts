/**
 * The S3 wire formats the s3:// client needs, and nothing else: the two XML documents it
 * reads (ListObjectsV2 results and error bodies) and S3's URI encoding of keys and query
 * values. The RFC 3339 timestamps of Litestream's `litestream-timestamp` metadata are
 * ../rfc3339.ts, shared with the other backends and the lease.
 *
 * The XML is S3's own, flat and predictable, so it is read with a few regular
 * expressions over element text rather than a general parser: only the elements named
 * here are looked at, entities (the five predefined ones and numeric references) are
 * decoded, and everything else is ignored. Sources: the S3 API reference for
 * ListObjectsV2 and "Error responses".
 */

/** One object of a ListObjectsV2 page. */
export interface ListedObject {
  /** Object key, entities decoded. */
  key: string;
  /** Size in bytes. */
  size: number;
  /** `LastModified` as ms since the Unix epoch (`NaN` if absent or unreadable). */
  lastModified: number;
  /** The ETag as S3 sends it, quotes included (`""` if absent). */
  etag: string;
}

/** One page of a ListObjectsV2 result. */
export interface ListPage {
  objects: ListedObject[];
  /** `IsTruncated`: more keys follow. */
  isTruncated: boolean;
  /** `NextContinuationToken` of a truncated page. */
  nextContinuationToken: string | undefined;
}

/** The fields of an S3 error body (`<Error><Code>…</Code><Message>…</Message>…</Error>`). */
export interface S3ErrorBody {
  /** S3 error code, e.g. `NoSuchKey`, `SignatureDoesNotMatch`, `SlowDown`. */
  code: string | undefined;
  /** Human-readable message, whitespace collapsed to single spaces. */
  message: string | undefined;
  /** `Region` (AuthorizationHeaderMalformed, PermanentRedirect on some providers). */
  region: string | undefined;
  /** `Endpoint` (PermanentRedirect). */
  endpoint: string | undefined;
}

const ENTITY = /&(?:#x([0-9a-fA-F]+)|#([0-9]+)|(amp|lt|gt|quot|apos));/g;
const NAMED: Record<string, string> = { amp: '&', lt: '<', gt: '>', quot: '"', apos: "'" };

/**
 * Decode XML character references: `&amp; &lt; &gt; &quot; &apos;`, `&#NN;` and `&#xHH;`.
 * Anything else (including malformed or out-of-range references) is left as written.
 */
export function decodeXmlEntities(text: string): string {
  if (!text.includes('&')) return text;
  return text.replace(ENTITY, (whole, hex: string | undefined, dec: string | undefined, name: string | undefined) => {
    if (name !== undefined) return NAMED[name];
    const cp = hex !== undefined ? parseInt(hex, 16) : parseInt(dec as string, 10);
    return cp <= 0x10ffff ? String.fromCodePoint(cp) : whole;
  });
}

/** Text of the first `<tag>…</tag>` in `xml` (decoded), or undefined. `<tag/>` gives `''`. */
function elementText(xml: string, tag: string): string | undefined {
  const m = new RegExp(`<${tag}(?:\\s[^>]*)?(?:/>|>([\\s\\S]*?)</${tag}>)`).exec(xml);
  if (m === null) return undefined;
  return decodeXmlEntities(m[1] ?? '');
}

/**
 * Parse a ListObjectsV2 response body (`<ListBucketResult>`).
 * @throws Error when the body is not a ListBucketResult, or a `Contents` entry has no
 *   `Key` or an unreadable `Size` (the caller turns it into a storage error).
 */
export function parseListObjectsV2(xml: string): ListPage {
  if (!/<ListBucketResult[\s>]/.test(xml)) throw new Error('not a ListBucketResult');
  const objects: ListedObject[] = [];
  for (const m of xml.matchAll(/<Contents>([\s\S]*?)<\/Contents>/g)) {
    const body = m[1];
    const key = elementText(body, 'Key');
    const sizeText = elementText(body, 'Size');
    const size = sizeText === undefined ? NaN : Number(sizeText);
    if (key === undefined || !Number.isSafeInteger(size) || size < 0) {
      throw new Error(`bad Contents entry ${JSON.stringify(body.slice(0, 200))}`);
    }
    const lm = elementText(body, 'LastModified');
    objects.push({ key, size, lastModified: lm === undefined ? NaN : Date.parse(lm), etag: elementText(body, 'ETag') ?? '' });
  }
  const truncated = elementText(xml, 'IsTruncated');
  const isTruncated = truncated?.trim().toLowerCase() === 'true';
  const token = elementText(xml, 'NextContinuationToken');
  return { objects, isTruncated, nextContinuationToken: token === undefined || token === '' ? undefined : token };
}

/**
 * Read an S3 error body. Bodies that are not an `<Error>` document (HTML from a proxy,
 * empty HEAD responses) give all fields undefined — their text is never echoed, so a
 * misbehaving intermediary cannot put arbitrary text into ltxvfs's messages.
 */
export function parseS3Error(xml: string): S3ErrorBody {
  const none = { code: undefined, message: undefined, region: undefined, endpoint: undefined };
  const m = /<Error>([\s\S]*)<\/Error>/.exec(xml);
  if (m === null) return none;
  const body = m[1];
  const clean = (s: string | undefined) => {
    const one = s?.replace(/\s+/g, ' ').trim();
    return one === undefined || one === '' ? undefined : one.length > 300 ? `${one.slice(0, 297)}...` : one;
  };
  return {
    code: clean(elementText(body, 'Code')),
    message: clean(elementText(body, 'Message')),
    region: clean(elementText(body, 'Region')),
    endpoint: clean(elementText(body, 'Endpoint')),
  };
}

/**
 * S3's URI encoding (AWS SigV4 "UriEncode"): every byte except the unreserved characters
 * `A–Z a–z 0–9 - _ . ~` is percent-encoded with upper-case hex; `/` too unless
 * `keepSlash` (object keys in paths keep their `/`).
 */
export function uriEncode(text: string, keepSlash = false): string {
  const encoded = encodeURIComponent(text).replace(/[!'()*]/g, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`);
  return keepSlash ? encoded.replace(/%2F/g, '/') : encoded;
}
