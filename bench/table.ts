/**
 * Markdown tables and the number formats of the bench: times in ms (µs below 1 ms),
 * rates per second, MiB/s, MiB; medians of samples.
 */
import type { Measured } from './workload.js';

/** A markdown table: header cells, then rows of cells (same length). */
export function markdownTable(header: string[], rows: string[][], align: ('l' | 'r')[] = []): string {
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length), 3));
  const cell = (s: string, i: number): string => (align[i] === 'r' ? s.padStart(widths[i]) : s.padEnd(widths[i]));
  const line = (cells: string[]): string => `| ${cells.map((c, i) => cell(c ?? '', i)).join(' | ')} |`;
  const rule = `| ${widths.map((w, i) => (align[i] === 'r' ? `${'-'.repeat(w - 1)}:` : '-'.repeat(w))).join(' | ')} |`;
  return [line(header), rule, ...rows.map(line)].join('\n');
}

/** The median of `values` (the mean of the two middle ones for an even count); NaN for none. */
export function median(values: readonly number[]): number {
  if (values.length === 0) return NaN;
  const s = [...values].sort((a, b) => a - b);
  const mid = s.length >> 1;
  return s.length % 2 === 1 ? s[mid] : (s[mid - 1] + s[mid]) / 2;
}

/** The median of each field over samples (fields missing in a sample are left out), and the fastest time. */
export function medianOf(samples: readonly Measured[]): Measured {
  const pick = (f: keyof Measured): number | undefined => {
    const values = samples.map((s) => s[f]).filter((v): v is number => v !== undefined);
    return values.length === 0 ? undefined : median(values);
  };
  const minMs = samples.length > 1 ? Math.min(...samples.map((s) => s.ms)) : undefined;
  return { ms: pick('ms') ?? NaN, minMs, requests: pick('requests'), pages: pick('pages'), bytesRead: pick('bytesRead') };
}

/** A duration: `0.42 ms`, `37 µs`, `1.23 s`. */
export function fmtMs(ms: number | undefined): string {
  if (ms === undefined || !Number.isFinite(ms)) return '—';
  if (ms < 1) return `${Math.round(ms * 1000)} µs`;
  if (ms < 10) return `${ms.toFixed(2)} ms`;
  if (ms < 1000) return `${ms.toFixed(1)} ms`;
  return `${(ms / 1000).toFixed(2)} s`;
}

/** A rate: `12,345/s`. */
export function fmtRate(perSecond: number | undefined): string {
  if (perSecond === undefined || !Number.isFinite(perSecond)) return '—';
  return `${Math.round(perSecond).toLocaleString('en-US')}/s`;
}

/** Throughput: `123 MiB/s`. */
export function fmtMiBs(mibPerSecond: number | undefined): string {
  if (mibPerSecond === undefined || !Number.isFinite(mibPerSecond)) return '—';
  return `${mibPerSecond < 10 ? mibPerSecond.toFixed(1) : Math.round(mibPerSecond)} MiB/s`;
}

/** Bytes as MiB: `128.4 MiB`. */
export function fmtMiB(bytes: number | undefined): string {
  if (bytes === undefined || !Number.isFinite(bytes)) return '—';
  return `${(bytes / 2 ** 20).toFixed(1)} MiB`;
}

/** A gain factor: `1.85×`. */
export function fmtFactor(f: number | undefined): string {
  if (f === undefined || !Number.isFinite(f)) return '—';
  return `${f.toFixed(2)}×`;
}

/** An integer count with separators, or `—`. */
export function fmtCount(n: number | undefined): string {
  if (n === undefined || !Number.isFinite(n)) return '—';
  return Math.round(n).toLocaleString('en-US');
}

/** MiB per second for `bytes` in `ms`. */
export function mibPerSecond(bytes: number, ms: number): number {
  return bytes / 2 ** 20 / (ms / 1000);
}
