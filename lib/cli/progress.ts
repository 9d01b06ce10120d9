/**
 * Progress on stderr for long commands, with cli-progress: nothing for the first second
 * (short runs stay quiet), then a bar on a terminal, or nothing when stderr is not one.
 */
import cliProgress from 'cli-progress';

/** A progress bar that appears only once an operation has run for `delayMs`. */
export class Progress {
  readonly #stream: NodeJS.WritableStream & { isTTY?: boolean };
  readonly #label: string;
  readonly #unit: string;
  readonly #started = Date.now();
  readonly #delayMs: number;
  #bar: cliProgress.SingleBar | undefined;

  constructor(stream: NodeJS.WritableStream & { isTTY?: boolean }, label: string, unit: string, delayMs = 1000) {
    this.#stream = stream;
    this.#label = label;
    this.#unit = unit;
    this.#delayMs = delayMs;
  }

  /** Report `done` of `total`. */
  update(done: number, total: number): void {
    if (this.#bar === undefined) {
      if (this.#stream.isTTY !== true || Date.now() - this.#started < this.#delayMs) return;
      this.#bar = new cliProgress.SingleBar({
        stream: this.#stream,
        format: `${this.#label} [{bar}] {percentage}% | {value}/{total} ${this.#unit} | {duration}s`,
        hideCursor: true,
      }, cliProgress.Presets.shades_classic);
      this.#bar.start(total, done);
      return;
    }
    this.#bar.setTotal(total);
    this.#bar.update(done);
  }

  /** Remove the bar (idempotent). */
  stop(): void {
    this.#bar?.stop();
    this.#bar = undefined;
  }
}
