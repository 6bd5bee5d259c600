import type { TaskState } from '../shapes.js';

/** A task's state as a coloured word (the colour only repeats what the word says). */
export function StateBadge({ state }: { state: TaskState }) {
  return <span class={`badge state-${state.toLowerCase()}`}>{state}</span>;
}
