/**
 * Planning a hydration pass (lib/hydrate/index.ts, "How the file is written"): which
 * frames bring the file from TXID `base` to the version `target`, grouped per LTX file
 * into coalesced range reads (lib/read/range-merge.ts), leaving out the byte ranges an earlier
 * process already wrote in the same pass (the state's `done`, lib/hydrate/state.ts).
 */
import { formatChecksum } from '../../ltx/checksum.js';
import type { LtxFile, PageIndex } from '../replica/page-index.js';
import { mergeRanges, type RangeMergeLimits } from '../read/range-merge.js';
import { covered } from './state.js';

/** One range read of a pass: wanted frames of one LTX file and their bytes `[start, end)`. */
export interface HydrationRange {
  file: LtxFile;
  /** `<key>@<fileChecksum>` ({@link fileIdOf}): how the state names the file. */
  fileId: string;
  /** Entry numbers into `file.entries`, ascending. */
  entries: number[];
  start: number;
  end: number;
}

/** What a pass has to do. */
export interface PassPlan {
  /** The range reads left to do, per file in file order. */
  ranges: HydrationRange[];
  /** Pages the pass writes in all (including those already written). */
  total: number;
  /** Of those, pages in ranges an earlier process recorded done (skipped). */
  skipped: number;
  /** The ranges recorded done, by file id (copies, to be extended as the pass goes on). */
  completed: Map<string, [number, number][]>;
}

/** How the state names an LTX file: `<key>@<fileChecksum>`, so a replaced file is another. */
export function fileIdOf(file: LtxFile): string {
  return `${file.info.key}@${formatChecksum(file.trailer.fileChecksum)}`;
}

/**
 * Plan the pass from `base` (TXID the file holds, 0 for none) to `target`: every page
 * whose frame in `target` lies in an LTX file with maxTXID > `base`, minus the byte ranges
 * `done` records (by file id), merged into ranges under `limits`.
 */
export function planPass(target: PageIndex, base: number, done: ReadonlyMap<string, readonly [number, number][]>, limits: RangeMergeLimits): PassPlan {
  // The frames to write, per LTX file, in file order (pgno ascending is offset ascending).
  const byFile = new Map<LtxFile, number[]>();
  for (let pgno = 1; pgno <= target.commit; pgno++) {
    const ref = target.get(pgno);
    if (ref === undefined || ref.file.info.maxTXID <= base) continue;
    let list = byFile.get(ref.file);
    if (list === undefined) byFile.set(ref.file, (list = []));
    list.push(ref.entry);
  }
  const ranges: HydrationRange[] = [];
  let total = 0;
  let skipped = 0;
  const completed = new Map<string, [number, number][]>();
  for (const [file, list] of byFile) {
    const fileId = fileIdOf(file);
    const doneRanges = done.get(fileId);
    if (doneRanges !== undefined) completed.set(fileId, doneRanges.map(([s, e]) => [s, e]));
    total += list.length;
    const wanted = list.filter((n) => !covered(doneRanges, file.entries.offsets[n], file.entries.end(n)));
    skipped += list.length - wanted.length;
    for (const r of mergeRanges(wanted, file.entries, limits)) ranges.push({ file, fileId, ...r });
  }
  return { ranges, total, skipped, completed };
}
