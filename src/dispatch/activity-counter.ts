import type { Clock } from '../core/clock.js';
import type { Logger } from '../logger.js';
import { ACTIVITY_KEEP_MS, type ActivityCount, type TaskStore } from '../store/task-store.js';

/*
 * Attempt outcomes per project and minute, counted in memory as the dispatcher records them and
 * added to the store every FLUSH_MS (and at stop) in one write: the path of an attempt gains a map
 * update, never a store write, and the store sums what every server adds. Counts a flush could not
 * write are kept for the next one, unless their minute is past ACTIVITY_KEEP_MS by then.
 */

export const MINUTE_MS = 60_000;

/** How often counts are written: GET /v1beta/activity lags the attempts by at most this. */
export const ACTIVITY_FLUSH_MS = 2_000;

export class ActivityCounter {
  private counts = new Map<string, ActivityCount>();
  private timer: NodeJS.Timeout | null = null;
  private flushing: Promise<void> | null = null;

  constructor(
    private readonly store: TaskStore,
    private readonly clock: Clock,
    private readonly logger: Logger,
    private readonly flushMs = ACTIVITY_FLUSH_MS,
  ) {}

  /** One attempt outcome of the project, now: delivered (answered 2xx) or failed (anything else). */
  count(projectId: string, delivered: boolean): void {
    const minute = Math.floor(this.clock.now() / MINUTE_MS) * MINUTE_MS;
    this.add({ projectId, minute, delivered: delivered ? 1 : 0, failed: delivered ? 0 : 1 });
  }

  start(): void {
    if (this.timer) return;
    this.timer = setInterval(() => void this.flush(), this.flushMs);
    this.timer.unref();
  }

  /** Stops the timer and writes what is counted. */
  async stop(): Promise<void> {
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
    await this.flush();
  }

  /** Writes the counts so far (one flush at a time; a call during one waits for it, then flushes again). */
  async flush(): Promise<void> {
    while (this.flushing) await this.flushing;
    if (this.counts.size === 0) return;
    const batch = [...this.counts.values()];
    this.counts = new Map();
    this.flushing = this.store.addActivity(batch).then(
      () => undefined,
      (error: unknown) => {
        this.logger.warn({ err: error, counts: batch.length }, 'activity counts not written; kept for the next flush');
        const oldest = this.clock.now() - ACTIVITY_KEEP_MS;
        for (const count of batch) if (count.minute >= oldest) this.add(count);
      },
    );
    try {
      await this.flushing;
    } finally {
      this.flushing = null;
    }
  }

  private add(count: ActivityCount): void {
    const key = `${count.projectId} ${count.minute}`;
    const held = this.counts.get(key);
    if (held) {
      held.delivered += count.delivered;
      held.failed += count.failed;
    } else {
      this.counts.set(key, { ...count });
    }
  }
}
