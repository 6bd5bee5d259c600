import type { ScheduleState, TaskState } from '../shapes.js';

/** A task's or a schedule's state as a coloured word (the colour only repeats what the word says). */
export function StateBadge({ state }: { state: TaskState | ScheduleState }) {
  return <span class={`badge state-${state.toLowerCase()}`}>{state}</span>;
}
