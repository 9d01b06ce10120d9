/**
 * Peak resident set of this process. On Linux `process.resourceUsage().maxRSS`
 * (getrusage's `ru_maxrss`) is not this process's own peak: a child made by fork + exec
 * starts with the parent's resident set at the fork as its maximum (the kernel keeps the
 * old address space's high-water mark across exec), so a child of a parent holding
 * 550 MiB reports at least 550 MiB before it has done anything (seen in the S3 section,
 * whose parent holds the uploaded database). `VmHWM` in /proc/self/status belongs to the
 * address space exec made, so it is the child's own peak; the bench uses it where it
 * exists and `maxRSS` elsewhere.
 */
import { readFileSync } from 'node:fs';

/** `VmHWM` of this process in bytes, or undefined where /proc is not available. */
export function vmHwmBytes(): number | undefined {
  try {
    const m = /^VmHWM:\s+(\d+) kB$/m.exec(readFileSync('/proc/self/status', 'utf8'));
    return m ? Number(m[1]) * 1024 : undefined;
  } catch {
    return undefined;
  }
}

/** The peak resident set of this process, bytes: `VmHWM`, else `resourceUsage().maxRSS`. */
export function peakRssBytes(): number {
  return vmHwmBytes() ?? process.resourceUsage().maxRSS * 1024;
}
