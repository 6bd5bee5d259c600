import type { Clock } from '../core/clock.js';
import type { Logger } from '../logger.js';
import type { TaskStore } from '../store/task-store.js';

/**
 * Deletes finished tasks (and their timelines) once the retention period has passed, a bounded
 * batch at a time so a large backlog never blocks the event loop for long. Stores that expire keys
 * themselves (Redis EXPIRE) answer 0 here.
 */
export class RetentionSweeper {
  private timer: NodeJS.Timeout | null = null;
  private running: Promise<void> | null = null;

  constructor(
    private readonly store: TaskStore,
    private readonly clock: Clock,
    private readonly logger: Logger,
    private readonly retentionMs: number,
    private readonly intervalMs = 60_000,
    private readonly batch = 500,
  ) {}

  start(): void {
    this.timer = setInterval(() => void this.sweep(), this.intervalMs);
    this.timer.unref();
    void this.sweep();
  }

  /** One sweep: batches until less than a full batch is left, yielding between batches. */
  sweep(): Promise<void> {
    if (this.running) return this.running;
    this.running = (async () => {
      try {
        let deleted = 0;
        for (let n = this.batch; n === this.batch;) {
          n = await this.store.sweepFinished(this.clock.now() - this.retentionMs, this.batch);
          deleted += n;
          await new Promise((resolve) => setImmediate(resolve));
        }
        if (deleted > 0) this.logger.info({ deleted }, 'deleted finished tasks past retention');
      } catch (error) {
        this.logger.warn({ err: error }, 'retention sweep failed');
      } finally {
        this.running = null;
      }
    })();
    return this.running;
  }

  async stop(): Promise<void> {
    if (this.timer) clearInterval(this.timer);
    await this.running;
  }
}
