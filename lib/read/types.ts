/**
 * Types the read path shares with the modules below it (the LTX file loader counts its
 * reads in the same counters as the fetcher), kept here so neither imports the other.
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
