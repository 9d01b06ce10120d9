/**
 * Listing a nats:// replica: the object store keeps one metadata message per object (the
 * last on its subject `$O.<bucket>.M.<name>`), so a listing is one ordered consumer over
 * `$O.<bucket>.M.>` delivering the last message per subject — what the library's
 * `ObjectStore.list()` does (and Litestream's `List`, nats/replica_client.go), but run
 * here through `watch` so that a listing that outlives the client's deadline can be
 * stopped instead of left running. Litestream lists the whole bucket once per level and
 * filters by the prefix `ltx/<level>/`; so does this (the object store has no prefix listing).
 *
 * Timestamps: Litestream stores the LTX header time in the object header
 * `Litestream-Timestamp` (RFC 3339 with ns, `HeaderKeyTimestamp` in nats/replica_client.go);
 * the listing carries headers, so `createdAt` is that time at no extra cost, else the
 * object's `mtime` (upload time), as Litestream falls back.
 */
import { debuglog } from 'node:util';
import { parseRfc3339 } from '../rfc3339.js';
import { sortByTxidRange } from '../layout.js';
import { classifyLtxName, type StrayLog } from '../strays.js';
import type { LtxFileInfo } from '../types.js';

const debug = debuglog('ltxvfs');

/** Litestream's object header holding the LTX header timestamp (nats.HeaderKeyTimestamp). */
export const HEADER_TIMESTAMP = 'Litestream-Timestamp';

/** One object as the metadata stream describes it (the JSON both the Go and the JS library write). */
export interface ObjectMetaRecord {
  name: string;
  size: number;
  /** Upload time, RFC 3339. */
  mtime: string;
  digest?: string;
  deleted?: boolean;
  /** Object headers, Go's `map[string][]string` shape. */
  headers?: Record<string, string[]>;
}

/** The iterator `ObjectStore.watch` returns, as far as listing needs it. */
export interface MetaWatch extends AsyncIterable<ObjectMetaRecord | null> {
  stop(err?: Error): void;
}

/**
 * Every live object of the bucket: one pass of `watch({ includeHistory, ignoreDeletes })`
 * up to the marker (`null`) that says the history is delivered. `signal` stops the watch.
 */
export async function listObjects(watch: () => Promise<MetaWatch>, signal: AbortSignal): Promise<ObjectMetaRecord[]> {
  const iter = await watch();
  const stop = () => iter.stop();
  signal.addEventListener('abort', stop, { once: true });
  const out: ObjectMetaRecord[] = [];
  try {
    for await (const info of iter) {
      if (info === null) break;
      if (info.deleted !== true) out.push(info);
    }
  } finally {
    signal.removeEventListener('abort', stop);
    iter.stop();
  }
  return out;
}

/** `createdAt` of an object: its `Litestream-Timestamp` header (any case), else its `mtime`, ms since the epoch (NaN when neither parses). */
export function createdAtOf(info: ObjectMetaRecord): number {
  for (const [name, values] of Object.entries(info.headers ?? {})) {
    if (name.toLowerCase() !== HEADER_TIMESTAMP.toLowerCase()) continue;
    const t = values.length > 0 ? parseRfc3339(values[0]) : undefined;
    if (t !== undefined) return t;
  }
  return parseRfc3339(info.mtime) ?? Date.parse(info.mtime);
}

/**
 * The LTX files of one level among `objects`: names `<levelPrefix><min>-<max>.ltx` directly
 * under the prefix, `minTXID >= seek`, sorted by (minTXID, maxTXID). LTX-shaped names that
 * cannot be LTX files go to `strays` (logged once); other names are ignored.
 */
export function ltxFilesOf(objects: readonly ObjectMetaRecord[], level: number, levelPrefix: string, seek: number, strays: StrayLog, url: string): LtxFileInfo[] {
  const files: LtxFileInfo[] = [];
  for (const info of objects) {
    if (!info.name.startsWith(levelPrefix)) continue;
    const name = info.name.slice(levelPrefix.length);
    if (name.includes('/')) continue;
    const found = classifyLtxName(name);
    if (found.kind === 'stray') {
      if (strays.add({ key: info.name, reason: found.reason })) debug('nats: stray object %s in %s: %s', info.name, url, found.reason);
    } else if (found.kind === 'ltx' && found.minTXID >= seek) {
      files.push({ level, minTXID: found.minTXID, maxTXID: found.maxTXID, size: info.size, createdAt: createdAtOf(info), key: info.name });
    }
  }
  return sortByTxidRange(files);
}
