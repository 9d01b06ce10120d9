/**
 * Types the read path shares with the modules below it: the storage counters live with the
 * LTX file loader (lib/replica/read-counters.ts), which counts its reads in them too.
 */
export { newReadCounters, type ReadCounters } from '../replica/read-counters.js';
