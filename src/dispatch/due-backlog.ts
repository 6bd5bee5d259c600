import { type Clock, monotonic } from '../core/clock.js';
import type { Logger } from '../logger.js';
import type { TaskStore } from '../store/task-store.js';

/** Counted no further than this: beyond it the backlog is "large", and counting on would cost more with every task due. */
export const BACKLOG_CAP = 10_000;
/** A count is read again once it is this old, at the next read. */
export const BACKLOG_MAX_AGE_MS = 5_000;

/**
 * The due backlog for the metrics: tasks due and not claimed, by any server sharing the store.
 * `read()` answers the last count at once and, when it is older than BACKLOG_MAX_AGE_MS, starts
 * another in the background: a scrape never waits for the store, however many tasks are pending or
 * however slow the store is, and the store is asked at most once per BACKLOG_MAX_AGE_MS. The first
 * read answers 0 and starts the first count.
 */
export class DueBacklog {
  private value = 0;
  private countedAt = -Infinity;
  private counting = false;

  constructor(
    private readonly store: Pick<TaskStore, 'countDue'>,
    private readonly clock: Clock,
    private readonly logger: Logger,
    private readonly maxAgeMs = BACKLOG_MAX_AGE_MS,
  ) {}

  read(): number {
    if (!this.counting && monotonic() - this.countedAt >= this.maxAgeMs) void this.count();
    return this.value;
  }

  private async count(): Promise<void> {
    this.counting = true;
    try {
      this.value = await this.store.countDue(this.clock.now(), BACKLOG_CAP);
    } catch (error) {
      // The last count stays; the store's trouble shows in its own metrics and in the health check.
      this.logger.debug({ err: error }, 'counting the due backlog failed');
    } finally {
      this.countedAt = monotonic();
      this.counting = false;
    }
  }
}
