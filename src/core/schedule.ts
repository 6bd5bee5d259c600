/*
 * Schedules: "make a task of this request at every instant of this cron expression". A schedule
 * stores its next run's instant; the scheduler (dispatch/scheduler.ts) asks `nextStep` what to do
 * with it and writes the answer with one compare-and-set (TaskStore.makeRun), so a run is made once
 * whatever the number of servers. Every rule is here, as a pure function of the schedule and the
 * time; stores only persist. Guarded by test/unit/schedule-rules.test.ts.
 *
 *   ACTIVE ──pause──> PAUSED ──resume──> ACTIVE (next run: the first instant after the resume)
 *   ACTIVE ──no instant left before endAt──> ENDED
 *
 * A run's task is made `leadMs` ahead of its instant, with the instant (plus jitter) as its
 * execution time, so the dispatcher's own timer sends it on time. A run the scheduler reaches more
 * than MISSED_AFTER_MS after its instant was missed (no server ran then): the catch-up policy says
 * which missed runs are made. Overlap 'skip': a run is skipped (counted) while the schedule's last
 * task is still RUNNING or PAUSED; when that task is still active at the lead time the decision
 * waits until the instant itself.
 */
import { type CronSpec, instantAfter, instantsBefore } from './cron.js';
import { entry, iso } from './task-machine.js';
import type { TaskConfig, TimelineEntry } from './task.js';

export const SCHEDULE_STATES = ['ACTIVE', 'PAUSED', 'ENDED'] as const;
export type ScheduleState = (typeof SCHEDULE_STATES)[number];
export const OVERLAP_POLICIES = ['skip', 'allow'] as const;
export type OverlapPolicy = (typeof OVERLAP_POLICIES)[number];
export const CATCH_UP_POLICIES = ['none', 'latest', 'all'] as const;
export type CatchUpPolicy = (typeof CATCH_UP_POLICIES)[number];

/** A run reached later than this after its instant was missed: the catch-up policy decides it. */
export const MISSED_AFTER_MS = 5_000;

/** The largest jitter a schedule may ask for. */
export const JITTER_MAX_MS = 3_600_000;

/** A schedule as stored. Times are epoch ms; 0 stands for "none". */
export interface Schedule extends CronSpec {
  id: string;
  projectId: string;
  /** The config every run's task gets (a subscribe's, without a first execution time). */
  config: TaskConfig;
  /** The HttpRequestSpec sealed with the schedule's id (RequestCipher.seal); each run reseals it with its task's id. */
  request: Uint8Array;
  hostTag: string;
  tags: string[];
  /** The flow key every run's task carries (core/flow.ts); '' when none. */
  flowKey: string;
  overlap: OverlapPolicy;
  catchUp: CatchUpPolicy;
  jitterMs: number;
  /** No run before this instant (inclusive); 0: none. */
  startAt: number;
  /** No run at or after this instant; 0: none. */
  endAt: number;
  createdAt: number;
  state: ScheduleState;
  /** The next run's cron instant while ACTIVE; 0 otherwise. */
  nextRunAt: number;
  /** The instant of the latest run made; 0 until the first. */
  lastRunAt: number;
  /** The task of the latest run made; '' until the first. */
  lastTaskId: string;
  /** Runs made so far. */
  runs: number;
  /** Runs skipped: by the overlap policy, or because the project's queue was full. */
  skipped: number;
}

/** A schedule as read from a store: `version` changes with every write, for compare-and-set. */
export interface StoredSchedule extends Schedule {
  version: number;
}

/** The first instant of the schedule strictly after `after`, within its start and end; 0 when none. */
export function nextInstant(schedule: Pick<Schedule, 'cron' | 'timezone' | 'startAt' | 'endAt'>, after: number): number {
  const from = Math.max(after, schedule.startAt - 1);
  const at = instantAfter(schedule, from);
  if (at === null || (schedule.endAt > 0 && at >= schedule.endAt)) return 0;
  return at;
}

/** What the scheduler does with an ACTIVE schedule now. */
export type Step =
  /** Nothing until `at` (the lead time of the next run, or its instant when an overlap decision waits). */
  | { kind: 'wait'; at: number }
  /** Make the run of `instant`; the schedule then waits for `next` (0: it has ended). */
  | { kind: 'run'; instant: number; next: number }
  /** Make no run of `nextRunAt`; move on to `next`. `counted`: the run counts as skipped (overlap), not as missed. */
  | { kind: 'skip'; next: number; counted: boolean };

export interface StepOptions {
  /** How far ahead of its instant a run's task is made. */
  leadMs: number;
  /** Missed runs the 'all' policy makes at most (the latest ones). */
  catchUpMax: number;
}

/**
 * The next step for an ACTIVE schedule at `now`. `lastActive`: whether the schedule's last task is
 * still RUNNING or PAUSED (false when it has none, or it is gone).
 */
export function nextStep(schedule: Schedule, now: number, lastActive: boolean, options: StepOptions): Step {
  const instant = schedule.nextRunAt;
  if (instant - options.leadMs > now) return { kind: 'wait', at: instant - options.leadMs };
  const missedBefore = now - MISSED_AFTER_MS;
  if (instant < missedBefore) {
    const catchUp = catchUpStep(schedule, missedBefore, options.catchUpMax);
    if (catchUp) return catchUp;
  }
  const next = nextInstant(schedule, instant);
  if (schedule.overlap === 'skip' && lastActive) {
    // Still running at the lead time: it may finish before the instant, so decide then.
    if (now < instant) return { kind: 'wait', at: instant };
    return { kind: 'skip', next, counted: true };
  }
  return { kind: 'run', instant, next };
}

/** For a missed run (its instant before `missedBefore`): where the catch-up policy moves on to, or null to make it. */
function catchUpStep(schedule: Schedule, missedBefore: number, catchUpMax: number): Step | null {
  const instant = schedule.nextRunAt;
  if (schedule.catchUp === 'none') return { kind: 'skip', next: nextInstant(schedule, missedBefore - 1), counted: false };
  // The missed runs that may be made: the latest one, or the latest catchUpMax.
  const keep = schedule.catchUp === 'latest' ? 1 : catchUpMax;
  const kept = instantsBefore(schedule, keep, missedBefore).filter((t) => t >= instant);
  const oldest = kept.at(-1);
  if (oldest === undefined || oldest === instant) return null;
  return { kind: 'skip', next: oldest, counted: false };
}

/**
 * When a run's task executes: its instant plus the jitter drawn (`draw` in [0, 1)), and never
 * before `now` (a missed run made late runs at once).
 */
export function runExecAt(schedule: Pick<Schedule, 'jitterMs'>, instant: number, now: number, draw: number): number {
  const jitter = schedule.jitterMs > 0 ? Math.floor(draw * (schedule.jitterMs + 1)) : 0;
  return Math.max(instant + jitter, now);
}

/** The schedule after a step made (or skipped) a run. */
export function afterStep(schedule: Schedule, step: Exclude<Step, { kind: 'wait' }>, taskId?: string): Schedule {
  const next = { ...schedule, nextRunAt: step.next, state: step.next === 0 ? ('ENDED' as const) : schedule.state };
  if (step.kind === 'skip') return step.counted ? { ...next, skipped: schedule.skipped + 1 } : next;
  return { ...next, runs: schedule.runs + 1, lastRunAt: step.instant, lastTaskId: taskId ?? schedule.lastTaskId };
}

/** The first timeline entry of a run's task: the link to its schedule. */
export function runEntry(schedule: Schedule, instant: number, now: number): TimelineEntry {
  return entry('Schedule', `Run of schedule ${schedule.id} for ${iso(instant)}`, now, { scheduleId: schedule.id, instant });
}

/** A schedule paused: no run is made until it is resumed. */
export function pauseSchedule(schedule: Schedule): Schedule {
  return { ...schedule, state: 'PAUSED', nextRunAt: 0 };
}

/** A schedule resumed: its next run is the first instant after `now` (the runs of the pause are not caught up). */
export function resumeSchedule(schedule: Schedule, now: number): Schedule {
  const next = nextInstant(schedule, now);
  return { ...schedule, state: next === 0 ? 'ENDED' : 'ACTIVE', nextRunAt: next };
}
