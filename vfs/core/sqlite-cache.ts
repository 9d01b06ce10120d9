/**
 * SQLite's own page cache on a replica connection. SQLite keeps it across read
 * transactions exactly when the file change counter it reads at the start of each one is
 * unchanged (docs/formats.md §7.1); ltxvfs serves that counter derived from the TXID
 * (vfs/core/page1.ts), so the cache is dropped exactly when the version changed. A page
 * in it costs no VFS call at all — no Asyncify bookkeeping in process, no local-cache
 * lookup in the worker — which is what a hot set of lookups in one transaction needs.
 *
 * SQLite's default (`-2000`, 2 MiB) does not hold the leaves of a hot set of 1,000 keys
 * (one 4 KiB leaf each): every lookup went to the VFS. 16 MiB holds 4,096 pages of 4 KiB
 * — such a hot set and the interior pages above it — and adds at most that much to the
 * wasm memory of a connection (SQLite fills it only as pages are read; the replica
 * reader's cache, 64 MiB by default, stays the one that holds a database's bulk).
 * `PRAGMA cache_size` on the connection overrides it.
 */

/** Bytes of SQLite's page cache on every replica connection: 16 MiB. */
export const SQLITE_CACHE_BYTES = 16 * 1024 * 1024;

/** The statement that sizes SQLite's page cache to {@link SQLITE_CACHE_BYTES} (negative `cache_size` = KiB). */
export const SQLITE_CACHE_PRAGMA = `PRAGMA cache_size = -${SQLITE_CACHE_BYTES / 1024}`;
