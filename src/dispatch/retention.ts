import type { Clock } from '../core/clock.js';
import type { Logger } from '../logger.js';
import type { TaskStore } from '../store/task-store.js';

/**
 * Rows one step of a sweep deletes at most (a task, each of its timeline entries and each of its
 * attempt records count one). A step is one transaction that holds the event loop (SQLite runs in
 * this thread) and the database's write lock: this keeps it short, and more than a whole bounded
 * timeline and attempt log (TIMELINE.maxEntries in core/timeline.ts, ATTEMPT_LOG in
 * core/limits.ts), so a task is usually deleted in one step.
 */
export const SWEEP_STEP_ROWS = 1000;

/** What one sweep did. */
export interface SweepReport {
  deleted: number;
  /** Steps taken (store calls), each followed by a turn of the event loop. */
  steps: number;
}

/**
 * Deletes finished tasks (and their timelines) once the retention period has passed, and
 * Idempotency-Key records once their window has, in small
 * steps with a turn of the event loop between them, so a large backlog never holds requests or
 * deliveries up for long. Stores that expire keys themselves (Redis EXPIRE) answer at once.
 */
export class RetentionSweeper {
  private timer: NodeJS.Timeout | null = null;
  private running: Promise<SweepReport> | null = null;
  private stopped = false;

  constructor(
    private readonly store: TaskStore,
    private readonly clock: Clock,
    private readonly logger: Logger,
    private readonly retentionMs: number,
    private readonly intervalMs = 60_000,
    private readonly stepRows = SWEEP_STEP_ROWS,
  ) {}

  start(): void {
    this.timer = setInterval(() => void this.sweep(), this.intervalMs);
    this.timer.unref();
    void this.sweep();
  }

  /** One sweep: steps until nothing finished before the cut-off is left; a sweep under way is joined. */
  sweep(): Promise<SweepReport> {
    if (this.running) return this.running;
    this.running = (async () => {
      const report: SweepReport = { deleted: 0, steps: 0 };
      try {
        // One cut-off for the whole sweep: tasks that pass it meanwhile wait for the next sweep.
        const before = this.clock.now() - this.retentionMs;
        // A stopping server ends the sweep between steps; the next start goes on with it.
        for (let more = true; more && !this.stopped;) {
          const step = await this.store.sweepFinished(before, this.stepRows);
          report.deleted += step.deleted;
          report.steps++;
          more = step.more;
          await new Promise((resolve) => setImmediate(resolve));
        }
        if (report.deleted > 0) this.logger.info(report, 'deleted finished tasks past retention');
        // Idempotency-Key records past their window (SQLite; Redis expires its own), in steps as well.
        const now = this.clock.now();
        let keys = 0;
        for (let more = true; more && !this.stopped;) {
          const removed = await this.store.sweepIdempotencyKeys(now, this.stepRows);
          keys += removed;
          more = removed === this.stepRows;
          await new Promise((resolve) => setImmediate(resolve));
        }
        if (keys > 0) this.logger.info({ deleted: keys }, 'deleted expired Idempotency-Key records');
      } catch (error) {
        this.logger.warn({ err: error, ...report }, 'retention sweep failed');
      } finally {
        this.running = null;
      }
      return report;
    })();
    return this.running;
  }

  async stop(): Promise<void> {
    this.stopped = true;
    if (this.timer) clearInterval(this.timer);
    await this.running;
  }
}
