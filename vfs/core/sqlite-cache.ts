/**
 * SQLite's own page cache on a replica connection. SQLite keeps it across read
 * transactions exactly when the file change counter it reads at the start of each one is
 * unchanged (docs/formats.md §7.1); ltxvfs serves that counter derived from the TXID
 * (vfs/core/page1.ts), so the cache is dropped exactly when the version changed. A page
 * in it costs no VFS call at all — no Asyncify bookkeeping in process, no local-cache
 * lookup in the worker — which is what a hot set of lookups in one transaction needs.
 *
 * The size, 8 MiB, is the smallest that held the measured hot set. It was chosen over
 * SQLite's default (`-2000`, 2 MiB), 4 and 16 MiB by two measurements
 * (docs/engines.md, "Warm paths"), on a 128 MiB `items` replica, in process:
 * - Hot set: 50,000 lookups (5 transactions of 10,000, then 40,000 in autocommit) over
 *   1,000 keys drawn from the whole table. VFS calls: 98,935 at 2 MiB, 47,140 at 4 MiB,
 *   40,011 at 8 MiB and 40,011 at 16 MiB. The 40,000 are each autocommit transaction's
 *   page-1 read. The set needs ~1,080 pages of 4 KiB: 4 MiB (1,024 pages) misses ~14% of
 *   lookups, 8 MiB holds a set twice as large, and 16 MiB gains nothing more.
 * - Memory: SQLite fills the cache only with the pages it reads, so a scan fills it on
 *   every connection it runs on. Peak RSS after four concurrent scans on the read pool's
 *   four connections was 250–252 MiB at 2 MiB, 252–254 at 4, 266–273 at 8 and 291–305 at
 *   16 MiB.
 * The replica reader's cache (64 MiB by default, shared by the connections) stays the one
 * that holds a database's bulk. `PRAGMA cache_size` on a connection overrides the size.
 */

/** Bytes of SQLite's page cache on every replica connection: 8 MiB (module doc). */
export const SQLITE_CACHE_BYTES = 8 * 1024 * 1024;

/** The statement that sizes SQLite's page cache to {@link SQLITE_CACHE_BYTES} (negative `cache_size` = KiB). */
export const SQLITE_CACHE_PRAGMA = `PRAGMA cache_size = -${SQLITE_CACHE_BYTES / 1024}`;
