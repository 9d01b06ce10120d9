/**
 * Hydration's configuration: the options with their defaults (and the reasons for them),
 * and the path the Litestream VFS's environment asks for (docs/formats.md §6.1).
 */
import { createHash } from 'node:crypto';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

/** Options of hydration. */
export interface HydrateOptions {
  /**
   * Workers of a pass, each with its next range read in flight while it decodes and writes the
   * last one. Default 4: with 8 MiB ranges, 4–8 reads in flight, enough to fill a link to S3;
   * buffers held: at most concurrency × (2 × rangeBytes + 1 MiB), 68 MiB by default.
   */
  concurrency?: number;
  /** Largest range read, bytes. Default 8 MiB: per-request latency becomes negligible (10 ms at 1 GiB/s is 10 MiB), memory stays bounded. */
  rangeBytes?: number;
  /** Bytes of superseded frames a range may read over between two wanted frames instead of splitting. Default 1 MiB. */
  maxGapBytes?: number;
  /** Replace a file at the path that no hydration state describes (default false: `LTXVFS_ERR_USAGE`). */
  overwrite?: boolean;
  /** Least time between checkpoints (fdatasync of the file, then the state file), ms. Default 500. */
  checkpointIntervalMs?: number;
  /** After a failed pass, try again after this long, ms (a new version also triggers a try). Default 30 000; 0 = only on new versions. */
  retryMs?: number;
}

/** {@link HydrateOptions} with every default filled in and out-of-range counts clamped (concurrency ≥ 1, rangeBytes ≥ 1, maxGapBytes ≥ 0). */
export type ResolvedHydrateOptions = Required<Omit<HydrateOptions, 'overwrite'>>;

/** Fill in the defaults of `options` (see {@link HydrateOptions}). */
export function resolveHydrateOptions(options: HydrateOptions): ResolvedHydrateOptions {
  return {
    concurrency: Math.max(1, options.concurrency ?? 4),
    rangeBytes: Math.max(1, options.rangeBytes ?? 8 * 1024 * 1024),
    maxGapBytes: Math.max(0, options.maxGapBytes ?? 1024 * 1024),
    checkpointIntervalMs: options.checkpointIntervalMs ?? 500,
    retryMs: options.retryMs ?? 30_000,
  };
}

/**
 * The hydration path the Litestream VFS's environment asks for (docs/formats.md §6.1):
 * `LITESTREAM_HYDRATION_ENABLED` true (Go `strconv.ParseBool`: 1, t, T, TRUE, true, True)
 * enables it; `LITESTREAM_HYDRATION_PATH` names the file, else a file in the OS temp
 * directory named after the replica URL (so a restart on the same machine resumes it).
 * @returns the path, or undefined when hydration is not enabled.
 */
export function hydrationPathFromEnv(env: NodeJS.ProcessEnv, replicaUrl: string | undefined): string | undefined {
  const enabled = env.LITESTREAM_HYDRATION_ENABLED;
  if (enabled === undefined || !['1', 't', 'T', 'TRUE', 'true', 'True'].includes(enabled)) return undefined;
  const path = env.LITESTREAM_HYDRATION_PATH;
  if (path !== undefined && path !== '') return path;
  const id = createHash('sha256').update(replicaUrl ?? env.LITESTREAM_REPLICA_URL ?? '').digest('hex').slice(0, 16);
  return join(tmpdir(), `ltxvfs-hydration-${id}.db`);
}
