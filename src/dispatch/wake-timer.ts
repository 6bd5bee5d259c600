import type { Clock } from '../core/clock.js';

/**
 * One timer at the earliest time something is due, for a loop that otherwise sleeps (the
 * dispatcher's claims, the scheduler's passes): `arm` moves it, `soonerThan` says whether a new
 * due time would move it earlier. It never sleeps longer than `maxIdleMs`, so the loop also looks
 * at the store on its own now and then (writes by other servers wake nobody here).
 */
export class WakeTimer {
  private timer: NodeJS.Timeout | null = null;
  private at = Infinity;

  constructor(
    private readonly clock: Clock,
    private readonly maxIdleMs: number,
    private readonly fire: () => void,
  ) {}

  /** Fires at `at` (or after `maxIdleMs`, whichever is sooner), instead of when it was set to. */
  arm(at: number): void {
    this.stop();
    const now = this.clock.now();
    const target = Math.min(at, now + this.maxIdleMs);
    this.at = target;
    this.timer = setTimeout(
      () => {
        this.timer = null;
        this.at = Infinity;
        this.fire();
      },
      Math.max(0, target - now),
    );
  }

  /** Whether `at` is sooner than the time it is set to fire (always, while it is not set). */
  soonerThan(at: number): boolean {
    return at < this.at;
  }

  stop(): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
    this.at = Infinity;
  }
}
