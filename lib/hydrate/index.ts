/**
 * Hydration: a background task that restores the replica's database into a local SQLite
 * file, then serves reads from it and keeps it current (the Litestream VFS's
 * `LITESTREAM_HYDRATION_ENABLED` / `LITESTREAM_HYDRATION_PATH`, docs/formats.md §6.1).
 *
 * How the file is written: a *pass* brings the file from the state it holds (TXID `base`,
 * 0 for an empty file) to a version `target` of the reader: for every page whose frame in
 * `target` lies in an LTX file with maxTXID > base, that frame is read and written at
 * `(pgno − 1) × pageSize`; then the file is truncated to `target.commit` pages. Pages a file
 * not newer than `base` holds are unchanged since `base`, so this is exact; and it is
 * idempotent, so a pass that dies halfway can simply run again. The frames of one LTX
 * file are read with large coalesced range reads (up to `rangeBytes`, reading over
 * superseded frames between wanted ones when the gap is at most `maxGapBytes`), a few at
 * a time (`concurrency`), and checked like every page read (`decodeIndexedFrame`: pgno,
 * flags, sizes, LZ4 output length). The first pass (base 0) is the hydration proper and
 * yields the same bytes as `restoreDatabase`; LTX files that arrive meanwhile, or later,
 * become the next passes: they are applied in TXID order, as the issue asks.
 *
 * Verifying: every frame a pass decodes (and every frame its ranges read over, while the
 * checksum still wants it) is fed to the reader's verification of its LTX file
 * (lib/read/verifier.ts `feedFrom`, `observe`), which reads nothing of that file until the
 * pass ends and then only what nobody fed. The state records the files found to match
 * (`verified`): a restarted process trusts them rather than downloading them again.
 *
 * Resuming: `<path>.ltxvfs-hydration.json` (the *state*) records the TXID the file holds
 * consistently, the pass in progress (its target) and the byte ranges of LTX files
 * already read and written in it. It is replaced atomically (temporary file, fsync,
 * rename) at checkpoints — after an fdatasync of the database file, at most every
 * `checkpointIntervalMs` — so a range is recorded only once its pages are durable. A
 * restarted process skips the recorded ranges (their frames are still the current ones
 * for any later version) and writes the rest. The state also keeps each LTX file's
 * fileChecksum: if the replica's history was replaced (another checksum under a known
 * key, a TXID going back, another page size), hydration starts over.
 *
 * Serving reads: once a pass completed, the file holds version H. A read of page `pgno`
 * of a version V is served from the file (a synchronous `readSync`, no Asyncify unwind)
 * when V is at H's TXID or points at the same frame as H, and no pass in progress is
 * rewriting that page; otherwise (before the first completion, for pages a newer version
 * changed, for older pinned versions) the normal path serves it. A pass that fails
 * leaves the file unserved until a later pass completes.
 *
 * The worker engine's SQLite thread reads the file itself (vfs/bridge/hydrated-file.ts):
 * the hydrator publishes in shared memory which TXID the file holds and an epoch that is
 * odd while a pass writes it (publication.ts); the thread reads a page in place, without
 * crossing the page bridge, when its version is at that TXID and the epoch was even and
 * unchanged across the read — otherwise it asks the bridge as before.
 *
 * One process hydrates a path at a time: `<path>.ltxvfs-lock` holds the owner's pid (a
 * lock left by a dead process is taken over).
 *
 * The parts: `config.ts` (options, defaults, the environment's path), `plan.ts` (which
 * frames a pass writes, merged into ranges by lib/read/range-merge.ts), `pass.ts` (reading,
 * checking and writing one range), `state.ts` (the state file, the lock, range
 * bookkeeping), `open-file.ts` (the lock and the state deciding resume or start over),
 * `hydrator.ts` (the task: passes, checkpoints, serving reads), `pass-record.ts` (its
 * records), `publication.ts` (the TXID and epoch other threads read), `pragma.ts` (the
 * PRAGMAs), `types.ts` (shared shapes).
 */
export { hydrationPathFromEnv, type HydrateOptions } from './config.js';
export { Hydrator } from './hydrator.js';
export { HydrationPublication } from './publication.js';
export { hydrationPragma, type HydrationProgress } from './pragma.js';
export { HYDRATION_LOCK_SUFFIX, HYDRATION_STATE_SUFFIX } from './state.js';
export type { HydrationSource, HydrationState, HydrationStats, HydratorEvents } from './types.js';
