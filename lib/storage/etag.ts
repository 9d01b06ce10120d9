/**
 * Content-hash ETags, for backends whose store has none of its own that ltxvfs can use
 * (a directory, SFTP, WebDAV): `"<first 32 hex digits of SHA-256>"` — equal bytes, equal
 * ETag, like S3's MD5 ETags of single-part uploads. Shared here so that no backend
 * imports another (test/architecture.test.ts).
 */
import { createHash } from 'node:crypto';

/** The ETag of `data`: `"<first 32 hex digits of SHA-256>"`, quotes included. */
export function etagOf(data: Uint8Array): string {
  return `"${createHash('sha256').update(data).digest('hex').slice(0, 32)}"`;
}
