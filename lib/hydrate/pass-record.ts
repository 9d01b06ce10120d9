/**
 * The small records of a hydrator (lib/hydrate/hydrator.ts): the pass in progress, its
 * ready promise, and how frames are compared.
 */
import type { FrameRef, PageIndex } from '../replica/page-index.js';

/** A pass in progress: its target, base, counts and the ranges written. */
export interface Pass {
  target: PageIndex;
  base: number;
  total: number;
  done: number;
  /** Pages recorded durable by the last checkpoint. */
  checkpointed: number;
  /** Ranges whose pages are written (not yet necessarily durable), by file id. */
  completed: Map<string, [number, number][]>;
}

/** The hydrator's ready promise with its settlers. */
export interface Deferred {
  promise: Promise<number>;
  resolve: (txid: number) => void;
  reject: (err: unknown) => void;
}

/** A {@link Deferred} whose rejection is never unhandled (nobody may be waiting). */
export function deferred(): Deferred {
  let resolve!: (txid: number) => void;
  let reject!: (err: unknown) => void;
  const promise = new Promise<number>((res, rej) => { resolve = res; reject = rej; });
  promise.catch(() => undefined);
  return { promise, resolve, reject };
}

/** Whether two frame references are the same frame of the same LTX file. */
export function sameFrame(a: FrameRef, b: FrameRef): boolean {
  return a.file === b.file && a.entry === b.entry;
}
