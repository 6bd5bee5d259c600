/*
 * The scheduler: turns the runs of schedules into tasks, a little ahead of their instants.
 *
 *   idle ──(timer at the earliest schedule's lead time | wake from the API | poll)──> pass
 *   pass: the schedules due within the lead, earliest first; for each, core/schedule.ts nextStep:
 *       wait  -> nothing now (the timer comes back at its time)
 *       run   -> TaskStore.makeRun: the run's task (executing at its instant, plus jitter) and the
 *                schedule's next run in one write conditioned on the schedule's version. MOVED:
 *                another server (or a pause, a delete) got there first, and nothing was written.
 *                QUEUE_FULL: the run is skipped (counted) instead.
 *       skip  -> the schedule moves on with the same compare-and-set, without a task
 *   stop: no more passes; a pass under way finishes its current write.
 *
 * Every server runs one; none holds a schedule, so a server that stops or dies leaves nothing
 * behind: the others' passes read the same store. The run's task is sent by the dispatcher like
 * any other (its claim path is not touched): being made ahead, it is in the due index before its
 * instant, and the dispatcher's own timer fires it.
 */
import { type Clock } from '../core/clock.js';
import { newId } from '../core/ids.js';
import { specOf } from '../core/request-codec.js';
import type { Random } from '../core/retry-policy.js';
import { type Step, type StoredSchedule, afterStep, nextStep, runEntry, runExecAt } from '../core/schedule.js';
import type { RequestCipher } from '../core/sealed-request.js';
import { isActive } from '../core/task.js';
import { createTask } from '../core/task-machine.js';
import type { Logger } from '../logger.js';
import type { TaskStore } from '../store/task-store.js';
import { WakeTimer } from './wake-timer.js';

export interface SchedulerOptions {
  store: TaskStore;
  cipher: RequestCipher;
  clock: Clock;
  logger: Logger;
  /** The project's queue limit, which a run's task counts against like a subscribe's. */
  queueLimit: number;
  /** How far ahead of its instant a run's task is made. */
  leadMs: number;
  /** Missed runs the catch-up policy 'all' makes at most. */
  catchUpMax: number;
  /** Longest sleep without looking at the store (schedules written by other servers are found then). */
  maxIdleMs: number;
  /** Draws the jitter (default Math.random; seeded in tests). */
  random?: Random;
}

/** Schedules read per store round trip. */
const PASS_BATCH = 100;

export class Scheduler {
  private running = false;
  /** At the earliest schedule's lead time: the next pass. */
  private readonly timer: WakeTimer;
  private passing: Promise<void> | null = null;
  private again = false;
  private readonly random: Random;

  constructor(private readonly options: SchedulerOptions) {
    this.random = options.random ?? Math.random;
    this.timer = new WakeTimer(options.clock, options.maxIdleMs, () => this.kick());
  }

  start(): void {
    if (this.running) return;
    this.running = true;
    this.kick();
  }

  /** Stops passes; resolves when the pass under way (if any) has finished. */
  async stop(): Promise<void> {
    this.running = false;
    this.timer.stop();
    await this.passing;
  }

  /** A schedule is due at `at` (created or resumed here): look at it then, if that is sooner than planned. */
  wake(at: number): void {
    if (!this.running) return;
    const actAt = at - this.options.leadMs;
    if (actAt <= this.options.clock.now()) this.kick();
    else if (this.timer.soonerThan(actAt)) this.arm(actAt);
  }

  private kick(): void {
    if (this.passing) {
      this.again = true;
      return;
    }
    this.passing = this.pass().finally(() => {
      this.passing = null;
      if (this.again && this.running) {
        this.again = false;
        this.kick();
      }
    });
  }

  private arm(at: number): void {
    if (this.running) this.timer.arm(at);
  }

  private async pass(): Promise<void> {
    const { store, clock, leadMs, logger } = this.options;
    let wakeAt = Infinity;
    try {
      let full = true;
      while (full && this.running) {
        const now = clock.now();
        const due = await store.dueSchedules(now + leadMs, PASS_BATCH);
        let moved = 0;
        for (const schedule of due) {
          if (!this.running) return;
          const { again, wrote } = await this.advance(schedule);
          // A schedule that only waits (an overlap decision) stays due: only those written make room for the next read.
          if (wrote) moved++;
          wakeAt = Math.min(wakeAt, again);
        }
        full = due.length === PASS_BATCH && moved > 0;
      }
      const next = await store.nextScheduleAfter(clock.now() + leadMs);
      if (next !== null) wakeAt = Math.min(wakeAt, next - leadMs);
    } catch (error) {
      logger.error({ err: error }, 'making the runs of schedules failed; trying again shortly');
      wakeAt = clock.now() + 500;
    }
    this.arm(wakeAt);
  }

  /**
   * Takes one schedule as far as it goes now (a run, or catch-up runs and skips, each its own
   * write); answers when to look at it again (Infinity: when the store says), and whether it wrote.
   */
  private async advance(first: StoredSchedule): Promise<{ again: number; wrote: boolean }> {
    const { clock, leadMs, catchUpMax } = this.options;
    let schedule = first;
    // Bounded: catch-up makes at most catchUpMax runs, with a skip before them and one run on time.
    for (let steps = 0; steps < catchUpMax + 3 && schedule.state === 'ACTIVE'; steps++) {
      const lastActive = schedule.overlap === 'skip' && (await this.lastTaskActive(schedule));
      const now = clock.now();
      const step = nextStep(schedule, now, lastActive, { leadMs, catchUpMax });
      if (step.kind === 'wait') return { again: step.at, wrote: schedule !== first };
      const written = step.kind === 'run' ? await this.makeRun(schedule, step, now) : await this.skip(schedule, step);
      // Moved on elsewhere: the store's next due time says when to look again.
      if (!written) return { again: Infinity, wrote: true };
      schedule = written;
    }
    return { again: Infinity, wrote: true };
  }

  private async lastTaskActive(schedule: StoredSchedule): Promise<boolean> {
    if (schedule.lastTaskId === '') return false;
    const task = await this.options.store.findTask(schedule.projectId, schedule.lastTaskId);
    return task !== null && isActive(task.state);
  }

  /** The schedule after the run's write, or null when another write got there first. */
  private async makeRun(schedule: StoredSchedule, step: Extract<Step, { kind: 'run' }>, now: number): Promise<StoredSchedule | null> {
    const { store, cipher, queueLimit, logger } = this.options;
    const id = newId(now);
    const execAt = runExecAt(schedule, step.instant, now, this.random());
    const task = createTask(
      {
        id,
        projectId: schedule.projectId,
        config: { ...schedule.config, executionAt: execAt },
        request: cipher.seal(specOf(cipher.open(schedule.request, schedule.id)), id),
        hostTag: schedule.hostTag,
        tags: schedule.tags,
        flowKey: schedule.flowKey,
        scheduleId: schedule.id,
      },
      now,
    );
    const next = afterStep(schedule, step, id);
    const result = await store.makeRun(schedule, next, task, [runEntry(schedule, step.instant, now)], queueLimit);
    if (result === 'MOVED') return null;
    if (result === 'QUEUE_FULL') {
      logger.warn({ scheduleId: schedule.id, projectId: schedule.projectId }, "a schedule's run was skipped: its project's queue is full");
      return this.skip(schedule, { kind: 'skip', next: step.next, counted: true });
    }
    return { ...next, version: schedule.version + 1 };
  }

  private async skip(schedule: StoredSchedule, step: Extract<Step, { kind: 'skip' }>): Promise<StoredSchedule | null> {
    const next = afterStep(schedule, step);
    return (await this.options.store.replaceSchedule(schedule, next)) ? { ...next, version: schedule.version + 1 } : null;
  }
}
