import { monotonic } from '../core/clock.js';
import type { TaskStore } from './task-store.js';

/** The operations timed: every call that does work in the store (onDue only subscribes to events). */
const TIMED = [
  'close',
  'ping',
  'inspect',
  'insertProject',
  'findProject',
  'readSigningKeys',
  'writeSigningKeys',
  'countActive',
  'insertTask',
  'insertTasks',
  'findTask',
  'readTimeline',
  'readAttempts',
  'replaceTask',
  'listTasks',
  'deleteTask',
  'claimDue',
  'renewLeases',
  'releaseLeases',
  'releaseAllLeases',
  'putFlow',
  'readFlow',
  'listFlows',
  'deleteFlow',
  'pauseFlow',
  'nextDueAt',
  'countDue',
  'bindKeyId',
  'heartbeat',
  'sweepFinished',
  'sweepIdempotencyKeys',
  'pushInbox',
  'readInbox',
  'clearInbox',
  'addActivity',
  'readActivity',
  'insertSchedule',
  'findSchedule',
  'listSchedules',
  'replaceSchedule',
  'deleteSchedule',
  'makeRun',
  'dueSchedules',
  'nextScheduleAfter',
  'readBreakers',
  'writeBreakerPolicy',
  'writeCircuit',
] as const satisfies readonly (keyof TaskStore)[];

/** Passed through as they are; with TIMED, every member of TaskStore (a new member fails to compile until it is in one of them). */
type Untimed = 'kind' | 'singleNode' | 'clock' | 'onDue';
const _everyMemberCovered: [Exclude<keyof TaskStore, (typeof TIMED)[number] | Untimed>] extends [never] ? true : never = true;

/**
 * The store with each operation timed: `timer(operation)` is asked once per operation, here, and the
 * function it answers is called with the milliseconds every call took, failed or not. A call costs
 * one more promise and two clock reads: nothing that grows with what the store holds.
 */
export function timeStore(store: TaskStore, timer: (operation: string) => (ms: number) => void): TaskStore {
  const timed: Record<string, unknown> = {};
  for (const operation of TIMED) {
    const observe = timer(operation);
    const call = (store[operation] as (...args: unknown[]) => Promise<unknown>).bind(store);
    timed[operation] = (...args: unknown[]): Promise<unknown> => {
      const started = monotonic();
      return call(...args).then(
        (value) => {
          observe(monotonic() - started);
          return value;
        },
        (error: unknown) => {
          observe(monotonic() - started);
          throw error;
        },
      );
    };
  }
  return Object.assign(timed, {
    kind: store.kind,
    singleNode: store.singleNode,
    clock: store.clock,
    onDue: store.onDue.bind(store),
  }) as unknown as TaskStore;
}
