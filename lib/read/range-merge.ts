/**
 * Range merging: the frames of one LTX file that a caller wants, grouped into as few range
 * reads as the limits allow. Used by hydration's passes (lib/hydrate/plan.ts) and by the
 * fetcher's background prefetch (lib/read/fetcher.ts).
 *
 * The rule: frames are taken in file order (ascending offset); a frame joins the current
 * range when the superseded bytes between the range's end and the frame's start are at
 * most `maxGapBytes` and the range would then span at most `maxRangeBytes`; otherwise it
 * starts a new range. The bytes of a gap are read over (and not decoded), which costs less
 * than another request when the gap is small. A lone frame larger than `maxRangeBytes` is
 * a range of its own.
 */

/** Where the frames of an LTX file lie, bytes, by entry number (as `PageIndexTable` has them). */
export interface FrameExtents {
  /** Absolute offset of each frame. */
  readonly offsets: ArrayLike<number>;
  /** Size of each frame. */
  readonly sizes: ArrayLike<number>;
}

/** Limits of {@link mergeRanges}, bytes. */
export interface RangeMergeLimits {
  /** Largest gap of unwanted bytes a range reads over between two wanted frames (≥ 0). */
  maxGapBytes: number;
  /** Largest span of one range, from its first frame's start to its last frame's end (≥ 1). */
  maxRangeBytes: number;
}

/** One range read: the wanted frames it covers (entry numbers, ascending) and its bytes `[start, end)`. */
export interface MergedRange {
  entries: number[];
  start: number;
  end: number;
}

/**
 * Group the wanted frames `wanted` (entry numbers into `extents`, ascending by offset)
 * into range reads under `limits` (see the module comment).
 * @returns the ranges in file order; empty for no wanted frames.
 */
export function mergeRanges(wanted: readonly number[], extents: FrameExtents, limits: RangeMergeLimits): MergedRange[] {
  const ranges: MergedRange[] = [];
  let cur: MergedRange | undefined;
  for (const n of wanted) {
    const offset = extents.offsets[n];
    const size = extents.sizes[n];
    if (cur !== undefined && offset - cur.end <= limits.maxGapBytes && offset + size - cur.start <= limits.maxRangeBytes) {
      cur.entries.push(n);
      cur.end = offset + size;
    } else {
      cur = { entries: [n], start: offset, end: offset + size };
      ranges.push(cur);
    }
  }
  return ranges;
}
