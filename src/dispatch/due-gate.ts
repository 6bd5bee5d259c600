import type { Clock } from '../core/clock.js';

/**
 * Holds attempts claimed ahead of their due time (the dispatcher's `aheadMs`) until it comes, and
 * lets every attempt due by then go in one turn of the event loop, so a burst due at one instant
 * is sent back to back. One timer, at the earliest time held: a timer per attempt would fire in
 * turns apart whenever one fires a little early by the clock (timers count whole milliseconds) and
 * has to wait again, and the turns between them are spent on whatever else is ready.
 */
export class DueGate {
  /** Who waits, by the time each waits for. */
  private readonly waiting = new Map<number, (() => void)[]>();
  private timer: NodeJS.Timeout | null = null;
  private timerAt = Infinity;

  constructor(private readonly clock: Clock) {}

  /** Resolves once the clock reads `at` or later (at once when it already does). */
  until(at: number): Promise<void> {
    if (at <= this.clock.now()) return Promise.resolve();
    return new Promise((resolve) => {
      const list = this.waiting.get(at);
      if (list) list.push(resolve);
      else this.waiting.set(at, [resolve]);
      if (at < this.timerAt) this.arm(at);
    });
  }

  /** Lets everyone go now (a stopping dispatcher: its attempts see they were cancelled). */
  releaseAll(): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
    this.timerAt = Infinity;
    const lists = [...this.waiting.values()];
    this.waiting.clear();
    for (const list of lists) for (const resolve of list) resolve();
  }

  private arm(at: number): void {
    if (this.timer) clearTimeout(this.timer);
    this.timerAt = at;
    this.timer = setTimeout(() => this.fire(), Math.max(1, at - this.clock.now()));
  }

  private fire(): void {
    this.timer = null;
    this.timerAt = Infinity;
    const now = this.clock.now();
    let next = Infinity;
    const due: [number, (() => void)[]][] = [];
    for (const entry of this.waiting) {
      if (entry[0] <= now) due.push(entry);
      else if (entry[0] < next) next = entry[0];
    }
    if (next < Infinity) this.arm(next);
    // Earliest first, as they were claimed.
    due.sort((a, b) => a[0] - b[0]);
    for (const [at, list] of due) {
      this.waiting.delete(at);
      for (const resolve of list) resolve();
    }
  }
}
