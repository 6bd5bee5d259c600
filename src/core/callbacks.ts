/*
 * Callbacks (config.callback): after an attempt is recorded, the server POSTs a signed JSON to the
 * task's callback URL for each event the task asked for. The events of an attempt:
 *   success    the attempt succeeded (2xx);
 *   failure    the attempt failed (a retry may follow);
 *   exhausted  the attempt failed and the task ended in ERROR: no retries left, or retrying cannot help.
 * Pure rules here; dispatch/callbacks.ts sends them.
 */
import type { CallbackEvent, TaskView } from './shapes.js';
import type { Task } from './task.js';
import type { AttemptOutcome } from './task-machine.js';

/** Attempts of one callback at most (the first and two retries), and the waits between them. */
export const CALLBACK_ATTEMPTS = 3;
export const CALLBACK_BACKOFF_MS: readonly number[] = [1_000, 5_000];
/** Each callback attempt's timeout: a callback never holds anything for long. */
export const CALLBACK_TIMEOUT_MS = 10_000;

/** The events an attempt's outcome makes, given the task as recorded after it. */
export function callbackEvents(recorded: Pick<Task, 'state'>, outcome: Pick<AttemptOutcome, 'ok'>): CallbackEvent[] {
  if (outcome.ok) return ['success'];
  return recorded.state === 'ERROR' ? ['failure', 'exhausted'] : ['failure'];
}

/** The attempt a callback tells about. */
export interface CallbackAttempt {
  /** When it was sent (ms). */
  at: number;
  ok: boolean;
  /** The target's status; 0 when it did not answer. */
  statusCode: number;
  /** Why there was no answer, when there was none. */
  error?: string;
}

/** The JSON a callback POSTs. */
export interface CallbackPayload {
  type: `task.${CallbackEvent}`;
  task: TaskView;
  attempt: CallbackAttempt;
}

/**
 * The webhook-id of a callback: the same for each of its own retries, distinct per event and per
 * attempt of the task (by the attempt's send time), and never a delivery's (`msg_<id>_<n>`).
 */
export function callbackId(taskId: string, attempt: Pick<CallbackAttempt, 'at'>, event: CallbackEvent): string {
  return `msg_${taskId}_cb${attempt.at}_${event}`;
}
