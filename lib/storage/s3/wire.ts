/**
 * The S3 wire formats the s3:// client needs, and nothing else: the two XML documents it
 * reads (ListObjectsV2 results and error bodies), S3's URI encoding of keys and query
 * values, and the RFC 3339 timestamps of Litestream's `litestream-timestamp` metadata.
 *
 * The XML is S3's own, flat and predictable, so it is read with a few regular
 * expressions over element text rather than a general parser: only the elements named
 * here are looked at, entities (the five predefined ones and numeric references) are
 * decoded, and everything else is ignored. Sources: the S3 API reference for
 * ListObjectsV2 and "Error responses"; Go's `time.RFC3339Nano` for the timestamps
 * (litestream s3/replica_client.go writes `timestamp.Format(time.RFC3339Nano)`).
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

/**
 * A time in ms since the epoch as Go's `time.RFC3339Nano` prints it in UTC: fraction with
 * trailing zeros trimmed and no `.` at all for whole seconds, e.g.
 * `2026-11-21T09:51:49.256Z`, `2026-11-21T09:51:49Z`. Fractions of a ms are kept to the ns.
 * @throws RangeError for a time outside years 0000–9999 (RFC 3339 has four-digit years).
 */
export function formatRfc3339Nano(ms: number): string {
  const whole = Math.floor(ms);
  const subMsNs = Math.round((ms - whole) * 1e6);
  const d = new Date(whole);
  const year = d.getUTCFullYear();
  if (!Number.isFinite(ms) || year < 0 || year > 9999) throw new RangeError(`time ${String(ms)} ms is outside years 0000-9999`);
  const pad = (n: number, w = 2) => String(n).padStart(w, '0');
  const ns = d.getUTCMilliseconds() * 1_000_000 + subMsNs;
  const frac = ns === 0 ? '' : `.${pad(ns, 9).replace(/0+$/, '')}`;
  return (
    `${pad(year, 4)}-${pad(d.getUTCMonth() + 1)}-${pad(d.getUTCDate())}` +
    `T${pad(d.getUTCHours())}:${pad(d.getUTCMinutes())}:${pad(d.getUTCSeconds())}${frac}Z`
  );
}

const RFC3339 = /^(\d{4})-(\d{2})-(\d{2})[Tt](\d{2}):(\d{2}):(\d{2})(?:\.(\d{1,9}))?(?:([Zz])|([+-])(\d{2}):(\d{2}))$/;

/**
 * Parse an RFC 3339 time (Go's `time.RFC3339Nano` accepts any fraction length up to ns,
 * `Z` or a `±hh:mm` offset) into ms since the epoch, rounded down to the ms.
 * @returns `undefined` for anything else.
 */
export function parseRfc3339(text: string): number | undefined {
  const m = RFC3339.exec(text.trim());
  if (m === null) return undefined;
  const [, y, mo, d, h, mi, s, frac, z, sign, oh, om] = m;
  const month = Number(mo);
  const day = Number(d);
  if (month < 1 || month > 12 || day < 1 || day > 31 || Number(h) > 23 || Number(mi) > 59 || Number(s) > 59) return undefined;
  let t = Date.UTC(Number(y), month - 1, day, Number(h), Number(mi), Number(s));
  // Date.UTC maps years 0–99 to 1900–1999; RFC 3339 years are literal.
  if (Number(y) < 100) t = new Date(t).setUTCFullYear(Number(y));
  if (new Date(t).getUTCDate() !== day) return undefined;
  if (frac !== undefined) t += Math.floor(Number(frac.padEnd(9, '0')) / 1_000_000);
  if (z === undefined) {
    const offsetMs = (Number(oh) * 60 + Number(om)) * 60_000;
    t += sign === '+' ? -offsetMs : offsetMs;
  }
  return t;
}
