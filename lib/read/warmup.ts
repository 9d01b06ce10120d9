/**
 * Interior-page warm-up: read the top levels of the database's B-trees into the cache in
 * the background after open, so that a later cold point lookup costs about one round trip
 * — the leaf — instead of one per tree level (docs/architecture.md, performance principles).
 *
 * Bounded and behind the foreground (issue 15 item 1): every read goes through
 * `prefetchPages` (the fetch queue's background lane, lib/read/fetch-queue.ts: sent only
 * while no query's read waits or runs, the first one only after the next query's first page
 * read), never through a read SQLite would wait behind; the walk goes breadth-first over all
 * trees at once — every root, then every tree's second level, … — and stops before a level
 * would take it past `budgetBytes` of pages, so the levels nearest the roots (the ones every
 * lookup needs) are read first, and a 1 GiB database costs a bounded number of requests.
 *
 * SQLite B-trees are balanced: every leaf of a tree is at the same depth. Level by level,
 * the walk reads one child of each tree's level below first; if it is a leaf, that tree's
 * level below is all leaves and is not read. Page layout: sqlite.org/fileformat2.html §1.6
 * (B-tree pages): the header starts at byte 100 on page 1, else 0; type 0x02/0x05 interior
 * index/table, 0x0a/0x0d leaf; cell count u16 at +3; right-most child u32 at +8; cell
 * pointers u16 from +12; each interior cell starts with its left child's u32 page number.
 */
import type { PageIndex } from '../replica/page-index.js';
import type { PrefetchOutcome } from './fetcher.js';
import type { ReplicaReader } from './replica-reader.js';

const INTERIOR_INDEX = 0x02;
const INTERIOR_TABLE = 0x05;

/** Default byte budget of the warm-up: 4 MiB of pages (1,024 of 4 KiB; the top two or three levels of a 1 GiB database's trees). */
export const DEFAULT_WARMUP_BUDGET_BYTES = 4 * 1024 * 1024;

/** Result of {@link warmInteriorPages}. */
export interface WarmupResult {
  /** Interior pages now cached. */
  interiorPages: number;
  /** Pages read to find them (interior pages plus one leaf probe per tree). */
  pagesRead: number;
  /** Pages whose reads failed (the walk skips them). */
  failures: number;
  /** Pages not cached after their prefetch (failed, evicted, or taken over by a scan), skipped with their subtrees. */
  skipped: number;
  /** Whether the walk stopped at its byte budget before reaching the leaves of every tree. */
  truncated: boolean;
  /** Whether the walk stopped because the reader closed (it reads nothing after that). */
  cancelled: boolean;
}

/** Options of {@link warmInteriorPages}. */
export interface WarmupOptions {
  /** Bytes of pages the walk may read (page size × pages). Default {@link DEFAULT_WARMUP_BUDGET_BYTES}. */
  budgetBytes?: number;
}

/**
 * What the warm-up needs of a reader: background prefetch that says when the reader closed
 * (`cancelled`, see {@link PrefetchOutcome}), and the pages it brought, read without a fetch
 * (`cachedPage`).
 */
export interface WarmupSource {
  cachedPage: ReplicaReader['cachedPage'];
  prefetchPages(version: PageIndex, pgnos: readonly number[]): Promise<Pick<PrefetchOutcome, 'pages' | 'failures' | 'cancelled'>>;
}

/**
 * Warm the top interior levels of the B-trees rooted at `roots` (page numbers, e.g.
 * `rootpage` of every `sqlite_schema` row, and 1 for the schema itself) in `version`.
 * Never throws: reads that fail are counted in `failures`, and their pages skipped.
 */
export async function warmInteriorPages(reader: WarmupSource, version: PageIndex, roots: readonly number[], options: WarmupOptions = {}): Promise<WarmupResult> {
  const result: WarmupResult = { interiorPages: 0, pagesRead: 0, failures: 0, skipped: 0, truncated: false, cancelled: false };
  let budget = Math.max(0, options.budgetBytes ?? DEFAULT_WARMUP_BUDGET_BYTES);
  const valid = (p: number): boolean => p >= 1 && p <= version.commit;
  /**
   * Read `pgnos` in the background, then each from the cache; the children of interior ones
   * (undefined for others, and for pages not cached then). Once the reader has closed,
   * nothing (every page undefined).
   *
   * A page is never read as a demand read here: one not cached after the prefetch (its read
   * failed, it was evicted, or a scan's range took it over and holds it back) is skipped
   * with its subtree. A demand read for it would cost a request of its own, and would count
   * as SQLite's miss, moving a scan's read-ahead.
   */
  const readLevel = async (pgnos: number[]): Promise<(number[] | undefined)[]> => {
    const outcome = await reader.prefetchPages(version, pgnos);
    if (outcome.cancelled === true) result.cancelled = true;
    result.failures += outcome.failures;
    const out: (number[] | undefined)[] = [];
    if (result.cancelled) return out;
    for (const pgno of pgnos) {
      let page: Uint8Array | undefined;
      try {
        page = reader.cachedPage(version, pgno);
      } catch {
        // The file's verification failed: that read is the query's to report.
        page = undefined;
      }
      if (page === undefined) {
        result.skipped++;
        out.push(undefined);
        continue;
      }
      result.pagesRead++;
      out.push(interiorChildren(page, pgno === 1 ? 100 : 0)?.filter(valid));
    }
    return out;
  };
  /** Take `n` pages off the budget; false (and truncated) when they do not fit. */
  const spend = (n: number): boolean => {
    if (n * version.pageSize > budget) {
      result.truncated = true;
      return false;
    }
    budget -= n * version.pageSize;
    return true;
  };
  // One level of every tree at a time: the trees' frontiers (interior pages to read next).
  let frontiers = [...new Set(roots)].filter(valid).map((p) => [p]);
  if (!spend(frontiers.length)) return result;
  while (frontiers.length > 0) {
    const pages = frontiers.flat();
    const kids = await readLevel(pages);
    const children: number[][] = [];
    let i = 0;
    for (const frontier of frontiers) {
      const next: number[] = [];
      for (let k = 0; k < frontier.length; k++, i++) {
        const c = kids[i];
        if (c === undefined) continue;
        result.interiorPages++;
        next.push(...c);
      }
      if (next.length > 0) children.push(next);
    }
    // Probe one child per tree: a leaf means that tree's level below is all leaves (balanced trees).
    if (children.length === 0 || !spend(children.length)) return result;
    const probes = await readLevel(children.map((c) => c[0]));
    frontiers = children.filter((_, k) => probes[k] !== undefined);
    // The probed pages are read already: the rest of each level, within the budget.
    const rest = frontiers.reduce((n, f) => n + f.length - 1, 0);
    if (frontiers.length > 0 && !spend(rest)) return result;
  }
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
