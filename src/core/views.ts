/* The views the API answers with, built from a stored task; their shapes are declared in shapes.ts. */
import { type Circuit, circuitAad } from './circuit.js';
import type { RequestCipher } from './sealed-request.js';
import type { Schedule } from './schedule.js';
import type { CircuitView, QueuedView, ScheduleView, TargetView, TaskView } from './shapes.js';
import type { Task } from './task.js';

export type { QueuedView, TargetView, TaskUpdates, TaskView } from './shapes.js';

/**
 * The method and URL of the task's request, opened with the cipher (RequestCipher.openTarget). The
 * URL without its query or fragment: a query may carry a signature or a key, as the headers,
 * params and body may, and none of those is ever answered.
 */
export function targetOf(cipher: RequestCipher, task: Pick<Task, 'id' | 'request'>): TargetView {
  return cipher.openTarget(task.request, task.id);
}

export function queuedView(task: Task): QueuedView {
  return {
    id: task.id,
    state: task.state,
    statusCode: task.statusCode,
    estimateStartAt: task.startAt,
    estimateExecAt: task.execAt,
    estimateEndAt: task.endAt,
    currentlyRetry: task.retrying,
    currentlyRepeat: task.repeating,
  };
}

/**
 * The whole task as the API shows it; `target` from targetOf (the view itself never opens the request).
 * Written out field by field rather than spread from queuedView: a listing builds a hundred a page,
 * and spreading one object into another costs more than the literal.
 */
export function taskView(task: Task, target: TargetView): TaskView {
  return {
    id: task.id,
    state: task.state,
    statusCode: task.statusCode,
    estimateStartAt: task.startAt,
    estimateExecAt: task.execAt,
    estimateEndAt: task.endAt,
    currentlyRetry: task.retrying,
    currentlyRepeat: task.repeating,
    config: { ...task.config },
    updates: {
      retryCount: task.retryCount,
      retryLimit: task.config.retry,
      repeatCount: task.repeatCount,
      repeatLimit: task.config.repeat,
      estimateNextRetryAt: task.retrying ? task.execAt : 0,
      estimateNextRepeatAt: task.repeating ? task.execAt : 0,
      attempts: task.attempts,
      pausedTimeLeft: task.state === 'PAUSED' ? task.pausedLeft : 0,
    },
    tags: [...task.tags],
    flowKey: task.flowKey,
    target,
    ...(task.scheduleId === '' ? {} : { scheduleId: task.scheduleId }),
  };
}

/** A schedule as the API shows it; `target` from targetOf with the schedule's id (its request is sealed with it). */
export function scheduleView(schedule: Schedule, target: TargetView): ScheduleView {
  const orNull = (ms: number): number | null => (ms === 0 ? null : ms);
  return {
    id: schedule.id,
    cron: schedule.cron,
    timezone: schedule.timezone,
    state: schedule.state,
    nextRunAt: orNull(schedule.nextRunAt),
    lastRunAt: orNull(schedule.lastRunAt),
    lastTaskId: schedule.lastTaskId === '' ? null : schedule.lastTaskId,
    runs: schedule.runs,
    skipped: schedule.skipped,
    overlap: schedule.overlap,
    catchUp: schedule.catchUp,
    jitterMs: schedule.jitterMs,
    startAt: orNull(schedule.startAt),
    endAt: orNull(schedule.endAt),
    createdAt: schedule.createdAt,
    config: { ...schedule.config },
    tags: [...schedule.tags],
    flowKey: schedule.flowKey,
    target,
  };
}

/** A circuit as the API shows it: its host's name opened when it was kept (a name that does not open shows as null). */
export function circuitView(cipher: RequestCipher, projectId: string, circuit: Circuit): CircuitView {
  let host: string | null = null;
  if (circuit.name) {
    try {
      host = cipher.openBytes(circuit.name, circuitAad(projectId, circuit.kind, circuit.key)).toString('utf8');
    } catch {
      host = null; // sealed under another key, or moved: the key still names the circuit
    }
  }
  const { kind, key, state, failures, openMs, openedAt, opens } = circuit;
  return { kind, key, host, state, failures, openMs, openedAt, retryAt: state === 'closed' ? 0 : circuit.retryAt, opens };
}
