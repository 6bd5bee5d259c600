import type { Task, TaskConfig, TaskState } from './task.js';

/** The task as `subscribe` and `resume` answer it. */
export interface QueuedView {
  id: string;
  state: TaskState;
  statusCode: number;
  estimateStartAt: number;
  estimateExecAt: number;
  estimateEndAt: number;
  currentlyRetry: boolean;
  currentlyRepeat: boolean;
}

export interface TaskUpdates {
  /** Retries scheduled in the current run, and how many a run may have. */
  retryCount: number;
  retryLimit: number;
  /** Repeats scheduled so far, and how many the task may have. */
  repeatCount: number;
  repeatLimit: number;
  /** When the next retry / repeat runs, 0 when the next execution is not one. */
  estimateNextRetryAt: number;
  estimateNextRepeatAt: number;
  /** Attempts sent to the target so far. */
  attempts: number;
  /** While PAUSED: the time that was left until the next execution. */
  pausedTimeLeft: number;
}

export interface TaskView extends QueuedView {
  config: TaskConfig;
  updates: TaskUpdates;
}

export function queuedView(task: Task): QueuedView {
  return {
    id: task.id,
    state: task.state,
    statusCode: task.statusCode,
    estimateStartAt: task.estimateStartAt,
    estimateExecAt: task.estimateExecAt,
    estimateEndAt: task.estimateEndAt,
    currentlyRetry: task.currentlyRetry,
    currentlyRepeat: task.currentlyRepeat,
  };
}

export function taskView(task: Task): TaskView {
  return {
    ...queuedView(task),
    config: { ...task.config },
    updates: {
      retryCount: task.retryCount,
      retryLimit: task.config.retry,
      repeatCount: task.repeatCount,
      repeatLimit: task.config.repeat,
      estimateNextRetryAt: task.currentlyRetry ? task.estimateExecAt : 0,
      estimateNextRepeatAt: task.currentlyRepeat ? task.estimateExecAt : 0,
      attempts: task.attempts,
      pausedTimeLeft: task.state === 'PAUSED' ? task.pausedLeft : 0,
    },
  };
}
