/**
 * The vendor library of the gs:// backend, `@google-cloud/storage` (an optional peer
 * dependency), imported only when a gs:// replica is opened.
 */
import { loadOptional } from '../optional.js';

/** The `@google-cloud/storage` module. */
export type GcsModule = typeof import('@google-cloud/storage');

/**
 * Import `@google-cloud/storage`.
 * @param load the import (by default `import()` of the package by name, lib/storage/optional.ts).
 * @throws LtxvfsError `LTXVFS_ERR_USAGE` "gs:// replicas need the optional package @google-cloud/storage, …" when it is not installed.
 */
export async function loadGcs(load?: () => Promise<GcsModule>): Promise<GcsModule> {
  return loadOptional<GcsModule>('@google-cloud/storage', 'gs', load);
}
