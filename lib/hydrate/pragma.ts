/**
 * The hydration PRAGMAs of the Litestream VFS's SQL surface (docs/formats.md §6.1), answered
 * from a hydration (lib/hydrate/hydrator.ts) or its absence.
 */
import { LtxvfsError } from '../../ltx/errors.js';

/** What the PRAGMAs read of a hydration: its file and its progress (percent, 0–100). */
export interface HydrationProgress {
  readonly path: string;
  readonly progress: number;
}

/**
 * The PRAGMAs `litestream_hydration_progress` (percent with one decimal, `0` when
 * hydration is off) and `litestream_hydration_file` (the path, empty when off), as the
 * Litestream VFS answers them (docs/formats.md §6.1). Other names: `undefined` (not handled).
 * @throws LtxvfsError `LTXVFS_ERR_USAGE` when one is set (both are read-only).
 */
export function hydrationPragma(hydrator: () => HydrationProgress | undefined): (name: string, value: string | null) => string | undefined {
  return (name, value) => {
    if (name !== 'litestream_hydration_progress' && name !== 'litestream_hydration_file') return undefined;
    if (value !== null) throw new LtxvfsError('LTXVFS_ERR_USAGE', `PRAGMA ${name} is read-only`);
    const h = hydrator();
    if (name === 'litestream_hydration_file') return h?.path ?? '';
    return h === undefined ? '0' : h.progress.toFixed(1);
  };
}
