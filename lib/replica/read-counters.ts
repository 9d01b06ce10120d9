/**
 * Storage counters the LTX file loader (ltx-loader.ts) and the read path's fetcher
 * (lib/read/fetcher.ts) count their reads in: here, below both, so the loader does not
 * import the read path.
 */

/** Storage counters shared by the fetcher and the file loader. */
export interface ReadCounters {
  /** Pages decoded from storage (a page read twice counts twice). */
  pagesFetched: number;
  /** Bytes received from storage. */
  bytesRead: number;
  /** Storage read requests (range reads and whole-object reads). */
  readRequests: number;
}

/** Creates zeroed {@link ReadCounters}. */
export function newReadCounters(): ReadCounters {
  return { pagesFetched: 0, bytesRead: 0, readRequests: 0 };
}
