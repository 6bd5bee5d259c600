/* The views the API answers with, built from a stored task; their shapes are declared in shapes.ts. */
import type { QueuedView, TaskView } from './shapes.js';
import type { Task } from './task.js';

export type { QueuedView, TaskUpdates, TaskView } from './shapes.js';

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

export function taskView(task: Task): TaskView {
  return {
    ...queuedView(task),
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
  };
}
