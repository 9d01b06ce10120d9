/**
 * The poller's timer on an injected clock: `schedule` (the poller's `schedule` option)
 * queues timer polls at clock times, and {@link ClockTimers.runUntil} runs them in order,
 * moving the {@link TestClock} to each one's time and waiting for its poll. An hour of
 * polling takes as long as its requests, and counts are exact.
 */
import type { PollSchedule } from '../../lib/read/poll-backoff.js';
import type { TestClock } from './polling.js';

interface Pending {
  at: number;
  run: () => Promise<void>;
}

/** Timers that fire only when told, on a {@link TestClock}. */
export class ClockTimers {
  readonly clock: TestClock;
  readonly #pending = new Set<Pending>();
  /** Timer polls run so far. */
  fired = 0;

  constructor(clock: TestClock) {
    this.clock = clock;
  }

  /** The poller's `schedule` option. */
  readonly schedule: PollSchedule = (run, ms) => {
    const entry: Pending = { at: this.clock.ms + ms, run };
    this.#pending.add(entry);
    return () => this.#pending.delete(entry);
  };

  /** Run the next timer, whenever it is due; returns its clock time (undefined when none is pending). */
  async runNext(): Promise<number | undefined> {
    let next: Pending | undefined;
    for (const p of this.#pending) if (next === undefined || p.at < next.at) next = p;
    if (next === undefined) return undefined;
    await this.runUntil(next.at);
    return next.at;
  }

  /** Run every timer due at or before `until` (clock ms), in time order, then set the clock to `until`. */
  async runUntil(until: number): Promise<void> {
    for (;;) {
      let next: Pending | undefined;
      for (const p of this.#pending) if (p.at <= until && (next === undefined || p.at < next.at)) next = p;
      if (next === undefined) break;
      this.#pending.delete(next);
      this.clock.ms = Math.max(this.clock.ms, next.at);
      this.fired++;
      await next.run();
    }
    this.clock.ms = Math.max(this.clock.ms, until);
  }
}
