import { type IdempotencyRecord, StoreInvariantError, queueFull } from '../task-store.js';

/*
 * Every code a Lua script answers, by name, in one place. Scripts use the names (the generated
 * header before each script declares RESULT from this table), and the store turns a code into what
 * its caller sees here and nowhere else.
 */
export const RESULT = {
  /** The write was made. */
  DONE: 1,
  /** The expected version changed, the task is gone, or the key was taken: nothing was written. */
  STALE: 0,
  /** The project's queue holds as many active tasks as it may. */
  QUEUE_FULL: -1,
  /** No such project: a bug, as only an authenticated project writes. */
  NO_PROJECT: -2,
  /** A task with this id exists: a bug, as ids are random. */
  ID_TAKEN: -3,
  /** The project holds as many of these (schedules) as it may. */
  FULL: -4,
} as const;

export type ScriptResult = (typeof RESULT)[keyof typeof RESULT];

/** Lua that declares RESULT, for the header of every script. */
export function luaResultTable(): string {
  return `local RESULT = { ${Object.entries(RESULT)
    .map(([name, code]) => `${name} = ${code}`)
    .join(', ')} }\n`;
}

/** What an insert's code means for its caller: nothing when stored, else the error to throw. */
export function insertFailure(code: unknown, context: { taskId: string; projectId: string; limit: number }): Error | null {
  switch (code) {
    case RESULT.DONE:
      return null;
    case RESULT.QUEUE_FULL:
      return queueFull(context.limit);
    case RESULT.NO_PROJECT:
      return new StoreInvariantError('NO_PROJECT', `Project ${context.projectId} does not exist`);
    case RESULT.ID_TAKEN:
      return new StoreInvariantError('ID_TAKEN', `A task with id ${context.taskId} exists`);
    default:
      return new Error(`insert-tasks answered ${String(code)} for task ${context.taskId}`);
  }
}

/** Whether a compare-and-set script (replace, delete, insert-project) wrote. */
export function written(code: unknown): boolean {
  if (code !== RESULT.DONE && code !== RESULT.STALE) throw new Error(`a script answered ${String(code)}, not DONE or STALE`);
  return code === RESULT.DONE;
}

/** The record of an Idempotency-Key that insert-tasks answered instead of a code ("<task id> <body digest>"), or null. */
export function idempotencyRecordOf(reply: unknown): IdempotencyRecord | null {
  const text = Buffer.isBuffer(reply) ? reply.toString('utf8') : reply;
  if (typeof text !== 'string') return null;
  const [taskId, bodyDigest] = text.split(' ');
  if (!taskId || !bodyDigest) throw new Error('insert-tasks answered a malformed Idempotency-Key record');
  return { taskId, bodyDigest };
}
