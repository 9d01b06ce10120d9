/**
 * The parts of replica URLs every scheme checks the same way (replica-url.ts): percent-decoding
 * with control characters refused, Litestream's path cleaning, strict query parameters, and
 * the URL with its credentials removed for messages. Each throws `LTXVFS_ERR_BAD_URL` naming
 * the part and the (redacted) URL.
 */
import * as path from 'node:path';
import { LtxvfsError } from '../../ltx/errors.js';

/** `p` percent-decoded, control characters refused. */
export function decodePath(p: string, raw: string): string {
  let decoded: string;
  try {
    decoded = decodeURIComponent(p);
  } catch (err) {
    throw new LtxvfsError('LTXVFS_ERR_BAD_URL', `bad percent-escape in the path of ${redact(raw)}`, { key: redact(raw), cause: err });
  }
  checkNoControl(decoded, 'the path', raw);
  return decoded;
}

/** Refuse NUL and other control characters (U+0000–U+001F, U+007F) in a decoded URL part. */
export function checkNoControl(value: string, part: string, raw: string): void {
  // eslint-disable-next-line no-control-regex
  const m = /[\u0000-\u001f\u007f]/.exec(value);
  if (m !== null) {
    const code = `U+${m[0].charCodeAt(0).toString(16).toUpperCase().padStart(4, '0')}`;
    throw new LtxvfsError('LTXVFS_ERR_BAD_URL', `control character ${code} in ${part} of ${redact(raw)}`, { key: redact(raw) });
  }
}

/** Like Litestream's CleanReplicaURLPath: clean as an absolute path, then drop the leading `/`. */
export function cleanKeyPrefix(p: string): string {
  return path.posix.normalize(`/${p}`).replace(/^\/+/, '').replace(/\/+$/, '');
}

/**
 * The parameters of a raw query string (`?` optional), first value of each, checked: each
 * name must be in `known`, each escape valid, no control characters.
 */
export function queryParams(query: string, known: readonly string[], raw: string): Record<string, string> {
  const params: Record<string, string> = {};
  for (const pair of query.replace(/^\?/, '').split('&')) {
    if (pair === '') continue;
    const eq = pair.indexOf('=');
    const [rawName, rawValue] = eq === -1 ? [pair, ''] : [pair.slice(0, eq), pair.slice(eq + 1)];
    const decode = (s: string, part: string) => {
      let out: string;
      try {
        out = decodeURIComponent(s.replace(/\+/g, ' '));
      } catch (err) {
        throw new LtxvfsError('LTXVFS_ERR_BAD_URL', `bad percent-escape in ${part} of ${redact(raw)}`, { key: redact(raw), cause: err });
      }
      checkNoControl(out, part, raw);
      return out;
    };
    const name = decode(rawName, `the name of URL parameter ${JSON.stringify(rawName)}`);
    if (!known.includes(name)) {
      const list = known.length === 0 ? 'file URLs take no parameters' : `known: ${known.join(', ')}`;
      throw new LtxvfsError('LTXVFS_ERR_BAD_URL', `unknown URL parameter "${name}" in ${redact(raw)} (${list})`, { key: redact(raw) });
    }
    const value = decode(rawValue, `URL parameter ${name}`);
    if (!(name in params)) params[name] = value;
  }
  return params;
}

/** The URL with any `user:password@` removed, for messages. */
export function redact(raw: string): string {
  return raw.replace(/^([A-Za-z][A-Za-z0-9+.-]*:\/\/)[^/?#@]*@/, '$1***@');
}
