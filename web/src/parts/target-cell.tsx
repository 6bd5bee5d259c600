import type { TaskView } from '../shapes.js';

/** A table cell with a request's method and URL (a task's or a schedule's `target`), cut to fit with the whole in its title. */
export function TargetCell({ target }: { target: TaskView['target'] }) {
  if (!target) return <td class="target">—</td>;
  return (
    <td class="target" title={`${target.method} ${target.url}`}>
      <span class="method">{target.method}</span> <span class="url">{target.url}</span>
    </td>
  );
}
