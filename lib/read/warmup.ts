/**
 * Interior-page warm-up: read every interior (non-leaf) page of the database's B-trees
 * into the cache in the background after open, so that a later cold point lookup costs
 * about one round trip — the leaf — instead of one per tree level (docs/architecture.md,
 * performance principles).
 *
 * SQLite B-trees are balanced: every leaf of a tree is at the same depth. Level by level,
 * the walk reads one child of the level below first; if it is a leaf, the level below is
 * all leaves and is not read. Otherwise the whole level is read with coalesced range
 * reads ({@link Fetcher.prefetch}). So the walk reads the interior pages plus one leaf per
 * tree. Page layout: sqlite.org/fileformat2.html §1.6 (B-tree pages): the header starts
 * at byte 100 on page 1, else 0; type 0x02/0x05 interior index/table, 0x0a/0x0d leaf;
 * cell count u16 at +3; right-most child u32 at +8; cell pointers u16 from +12; each
 * interior cell starts with its left child's u32 page number.
 */
import type { PageIndex } from '../replica/page-index.js';
import type { ReplicaReader } from './replica-reader.js';

const INTERIOR_INDEX = 0x02;
const INTERIOR_TABLE = 0x05;

/** Result of {@link warmInteriorPages}. */
export interface WarmupResult {
  /** Interior pages now cached. */
  interiorPages: number;
  /** Pages read to find them (interior pages plus one leaf probe per tree). */
  pagesRead: number;
  /** Page reads that failed (the walk skips what it could not read). */
  failures: number;
}

/**
 * Warm the interior pages of the B-trees rooted at `roots` (page numbers, e.g. `rootpage`
 * of every `sqlite_schema` row, and 1 for the schema itself) in `version`.
 * Never throws: pages that cannot be read are counted in `failures` and skipped.
 */
export async function warmInteriorPages(reader: ReplicaReader, version: PageIndex, roots: readonly number[]): Promise<WarmupResult> {
  const result: WarmupResult = { interiorPages: 0, pagesRead: 0, failures: 0 };
  const read = async (pgno: number): Promise<Uint8Array | undefined> => {
    try {
      const page = await reader.readPage(version, pgno);
      result.pagesRead++;
      return page;
    } catch {
      result.failures++;
      return undefined;
    }
  };
  const childrenOf = async (pgno: number): Promise<number[] | undefined> => {
    const page = await read(pgno);
    return page === undefined ? undefined : interiorChildren(page, pgno === 1 ? 100 : 0)?.filter((k) => k >= 1 && k <= version.commit);
  };
  // One tree at a time (trees differ in depth), all trees at once.
  const warmTree = async (root: number): Promise<void> => {
    let level = [root];
    while (level.length > 0) {
      const next: number[] = [];
      for (const pgno of level) {
        const kids = await childrenOf(pgno);
        if (kids === undefined) continue;
        result.interiorPages++;
        next.push(...kids);
      }
      // Probe one child: a leaf means the whole level below is leaves (balanced trees).
      if (next.length === 0 || (await childrenOf(next[0])) === undefined) return;
      await reader.prefetchPages(version, next);
      level = next;
    }
  };
  const roots0 = [...new Set(roots)].filter((p) => p >= 1 && p <= version.commit);
  await reader.prefetchPages(version, roots0);
  await Promise.all(roots0.map(warmTree));
  return result;
}

/** The child page numbers of an interior B-tree page, or undefined for any other page. */
export function interiorChildren(page: Uint8Array, headerOffset: number): number[] | undefined {
  const type = page[headerOffset];
  if (type !== INTERIOR_INDEX && type !== INTERIOR_TABLE) return undefined;
  const view = new DataView(page.buffer, page.byteOffset, page.byteLength);
  const cells = view.getUint16(headerOffset + 3);
  const children: number[] = [];
  for (let i = 0; i < cells; i++) {
    const ptr = view.getUint16(headerOffset + 12 + 2 * i);
    if (ptr + 4 > page.length) return undefined;
    children.push(view.getUint32(ptr));
  }
  children.push(view.getUint32(headerOffset + 8));
  return children;
}
