/**
 * The Litestream VFS's SQL surface, for a {@link ConnectionView} (docs/formats.md §6.1): the
 * PRAGMAs `litestream_txid`, `litestream_lag`, `litestream_time` and the functions
 * `litestream_txid()`, `litestream_lag()`, `litestream_time()`, `litestream_set_time()`,
 * with the same formats, so SQL written for the Litestream VFS runs unchanged.
 * Engine-neutral: each engine adapter registers these on its connections.
 *
 * Differences, deliberate: errors keep their message (the Litestream VFS reduces PRAGMA
 * errors to "SQL logic error"); without a time-travel target `litestream_time`
 * is the timestamp of the newest applied file, moving with polling (Litestream's stays
 * at its last index build); inside a read transaction `litestream_txid`/`litestream_time`
 * report the version the transaction pinned (Litestream's run ahead with polling, §4.6);
`litestream_lag` counts from the open's listing until the first poll (Litestream's is -1).
 */
import { LtxvfsError } from '../../ltx/errors.js';
import { formatTXID } from '../../ltx/filename.js';
import type { ConnectionView } from './connection-view.js';
import { formatTime } from '../replica/time.js';
import { LEASE_PRAGMAS, readOnlyPragma } from '../write/write-sink.js';

/** A SQL value as the adapters pass it. */
export type SqlArg = string | number | bigint | Uint8Array | null;

/** A scalar SQL function, engine-neutral. */
export interface SqlFunctionSpec {
  /** SQL name. */
  name: string;
  /** Number of arguments. */
  nArgs: number;
  /** Not usable from triggers and views (`SQLITE_DIRECTONLY`), as Litestream flags `litestream_set_time`. */
  directOnly: boolean;
  /** Synchronous implementation, or undefined when only `callAsync` exists. */
  call?: (args: SqlArg[]) => SqlArg;
  /** Asynchronous implementation (needs an engine that can wait). */
  callAsync?: (args: SqlArg[]) => Promise<SqlArg>;
}

/** `litestream_txid`: the TXID the connection sees (its open transaction's), 16 hex digits. */
function txid(view: ConnectionView): string {
  return formatTXID(view.visible.txid);
}

/**
 * `litestream_lag`: whole seconds since the last successful listing of the replica — a
 * poll's, or the open's. Litestream answers -1 until its first poll; the open's listing
 * is as recent an answer, so a one-shot use (`ltxvfs query … 'SELECT litestream_lag()'`)
 * gets 0, not -1.
 */
function lag(view: ConnectionView): number {
  return Math.floor(view.reader.stats().pollLagMs / 1000);
}

/** `litestream_time`: the target if set, else the newest applied file's time, else `latest`. */
function time(view: ConnectionView): string {
  const target = view.target;
  if (target?.time !== undefined) return formatTime(target.time);
  const ts = view.visible.timestamp;
  return ts > 0 ? formatTime(ts) : 'latest';
}

/**
 * The PRAGMA handler: answers the `litestream_*` names, leaves others to SQLite (`undefined`).
 * @returns a one-row text result, `null` for a set that returns no row, or a Promise of those.
 * The lease PRAGMAs (`litevfs_acquire_lease`, `litevfs_release_lease`) reach this handler
 * only on connections without a writer (read-only, `at`): they are refused, never ignored
 * as SQLite ignores unknown PRAGMAs.
 * @throws LtxvfsError `LTXVFS_ERR_USAGE` for setting a read-only PRAGMA or a bad time (a
 *   time in the future: lib/replica/time.ts `checkTimeTarget`); `LTXVFS_ERR_READONLY` for a lease PRAGMA.
 */
export function litestreamPragma(view: ConnectionView): (name: string, value: string | null) => string | null | undefined | Promise<null> {
  return (name, value) => {
    switch (name) {
      case 'litestream_txid':
      case 'litestream_lag':
        if (value !== null) throw new LtxvfsError('LTXVFS_ERR_USAGE', `PRAGMA ${name} is read-only`);
        return name === 'litestream_txid' ? txid(view) : String(lag(view));
      case 'litestream_time':
        if (value === null) return time(view);
        return view.setTime(value).then(() => null);
      default:
        // A writable connection's lease handler answers these first; reaching here means this one cannot write.
        if (LEASE_PRAGMAS.has(name)) {
          throw readOnlyPragma(name, view.reader.client.url, view.target === undefined ? 'a read-only connection' : 'a time-travel view');
        }
        return undefined;
    }
  };
}

/** The SQL functions, as the Litestream VFS registers them on each connection. */
export function litestreamFunctions(view: ConnectionView): SqlFunctionSpec[] {
  return [
    { name: 'litestream_txid', nArgs: 0, directOnly: false, call: () => txid(view) },
    { name: 'litestream_lag', nArgs: 0, directOnly: false, call: () => lag(view) },
    { name: 'litestream_time', nArgs: 0, directOnly: false, call: () => time(view) },
    {
      name: 'litestream_set_time',
      nArgs: 1,
      directOnly: true,
      callAsync: async ([value]) => {
        // Litestream's message for NULL; '' is an invalid timestamp there too.
        if (value === null) throw new LtxvfsError('LTXVFS_ERR_USAGE', 'timestamp required');
        await view.setTime(String(value));
        return null;
      },
    },
  ];
}
