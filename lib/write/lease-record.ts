/**
 * The lease object `lock.json` itself (docs/formats.md §5.2): its name, the record it holds,
 * its bytes exactly as Litestream's `json.Marshal` writes them and its parsing as Go's
 * `json.Unmarshal` reads them, and reading it from a replica. The protocol that creates,
 * renews, takes over and releases it is lib/write/lease.ts.
 */
import { hostname } from 'node:os';
import { isLtxvfsError, LtxvfsError } from '../../ltx/errors.js';
import { formatRfc3339Nano, parseRfc3339 } from '../storage/rfc3339.js';
import type { ReplicaClient } from '../storage/types.js';

/** Name of the lease object inside a replica (litestream s3/leaser.go `DefaultLeasePath`). */
export const LEASE_OBJECT_NAME = 'lock.json';

/** One lease as stored in `lock.json` (litestream leaser.go `Lease`). */
export interface LeaseRecord {
  /** Increases by one at every takeover; 1 for a lease created where none existed. */
  generation: number;
  /** `expires_at` as stored: RFC 3339 (Go's RFC3339Nano: fraction with trailing zeros trimmed). */
  expiresAt: string;
  /** `expires_at` in ms since the Unix epoch, rounded down. */
  expiresAtMs: number;
  /** The holder, `<hostname>:<pid>` by default; `''` when the field is absent. */
  owner: string;
}

/**
 * Read the replica's `lock.json`, if any (docs/formats.md §5.2).
 * @returns the record and its ETag, or undefined when there is none.
 * @throws LtxvfsError `LTXVFS_ERR_CORRUPT` for an object that is not a lease record; storage errors.
 */
export async function readLease(client: ReplicaClient): Promise<{ record: LeaseRecord; etag: string } | undefined> {
  const key = client.objectKey(LEASE_OBJECT_NAME);
  let got: { data: Uint8Array; etag: string };
  try {
    got = await client.read(key);
  } catch (err) {
    if (isLtxvfsError(err, 'LTXVFS_ERR_NOT_FOUND')) return undefined;
    throw err;
  }
  return { record: decodeLeaseRecord(got.data, key), etag: got.etag };
}

/**
 * The bytes Litestream's `json.Marshal(lease)` gives (litestream leaser.go `Lease`): fields
 * in the order `generation`, `expires_at`, `owner`; no spaces; `expires_at` as Go's
 * RFC3339Nano in UTC (`Z`, fraction with trailing zeros trimmed, none for whole seconds);
 * `owner` omitted when empty; `<`, `>`, `&`, U+2028 and U+2029 escaped as `\u003c` … like Go.
 * @throws LtxvfsError `LTXVFS_ERR_USAGE` for a generation that is not a safe integer ≥ 1 or a time outside years 0000–9999.
 */
export function encodeLeaseRecord(lease: { generation: number; expiresAtMs: number; owner?: string }): Uint8Array {
  const { generation, expiresAtMs, owner = '' } = lease;
  if (!Number.isSafeInteger(generation) || generation < 1) {
    throw new LtxvfsError('LTXVFS_ERR_USAGE', `bad lease generation ${String(generation)}: need an integer >= 1`);
  }
  let expiresAt: string;
  try {
    expiresAt = formatRfc3339Nano(expiresAtMs);
  } catch {
    throw new LtxvfsError('LTXVFS_ERR_USAGE', `bad lease expiry ${String(expiresAtMs)}: need ms within years 0000-9999`);
  }
  const fields: Record<string, unknown> = { generation, expires_at: expiresAt };
  if (owner !== '') fields.owner = owner;
  const json = JSON.stringify(fields).replace(/[<>&\u2028\u2029]/g, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`);
  return new TextEncoder().encode(json);
}

/**
 * Parse a `lock.json` body as Go's `json.Unmarshal` into litestream's `Lease` would: field
 * names matched case-insensitively, a missing or null field keeps its zero value
 * (generation 0, expiry 0001-01-01T00:00:00Z — long expired, owner `''`), unknown fields ignored.
 * @throws LtxvfsError `LTXVFS_ERR_CORRUPT` (key = `key`) for anything else: not JSON, not an
 *   object, a generation that is not a safe integer ≥ 0, an expiry that is not RFC 3339, an owner that is not a string.
 */
export function decodeLeaseRecord(data: Uint8Array, key: string): LeaseRecord {
  const bad = (why: string, cause?: unknown): never => {
    throw new LtxvfsError('LTXVFS_ERR_CORRUPT', `${key}: not a lease record: ${why}`, { key, cause });
  };
  let parsed: unknown;
  try {
    parsed = JSON.parse(new TextDecoder('utf-8', { fatal: true }).decode(data));
  } catch (err) {
    return bad('not JSON', err);
  }
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) return bad('not a JSON object');
  const record: LeaseRecord = { generation: 0, expiresAt: ZERO_TIME, expiresAtMs: ZERO_TIME_MS, owner: '' };
  for (const [name, value] of Object.entries(parsed)) {
    if (value === null) continue;
    switch (name.toLowerCase()) {
      case 'generation':
        if (typeof value !== 'number' || !Number.isSafeInteger(value) || value < 0) bad(`generation ${JSON.stringify(value)} is not an integer >= 0`);
        record.generation = value as number;
        break;
      case 'expires_at': {
        const ms = typeof value === 'string' ? parseRfc3339(value) : undefined;
        if (ms === undefined) bad(`expires_at ${JSON.stringify(value)} is not an RFC 3339 time`);
        record.expiresAt = value as string;
        record.expiresAtMs = ms as number;
        break;
      }
      case 'owner':
        if (typeof value !== 'string') bad(`owner ${JSON.stringify(value)} is not a string`);
        record.owner = value as string;
        break;
    }
  }
  return record;
}

/**
 * Litestream's default holder: `<hostname>:<pid>`, or `pid-<pid>` without a hostname
 * (s3/leaser.go `NewLeaser`). `host` defaults to `os.hostname()`.
 */
export function defaultLeaseOwner(host: string = hostname()): string {
  return host === '' ? `pid-${process.pid}` : `${host}:${process.pid}`;
}

/** Go's zero `time.Time` as JSON, and in ms. */
const ZERO_TIME = '0001-01-01T00:00:00Z';
const ZERO_TIME_MS = -62135596800000;
