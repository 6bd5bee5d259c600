/*
 * The CLI's human output: times in ISO 8601 (UTC), tasks as a block of fields or a compact table.
 * `--json` bypasses all of it and prints the API's JSON.
 */
import type { BatchResult, QueuedTask, Task, TimelineEntry } from '../client.js';

/** An epoch-ms time as ISO 8601, or `-` for the API's 0 (not set). */
export function time(ms: number): string {
  return ms === 0 ? '-' : new Date(ms).toISOString();
}

/** Rows as columns padded to their widest cell; the last column is not padded. */
export function table(header: readonly string[], rows: ReadonlyArray<readonly string[]>): string {
  const widths = header.map((title, i) => Math.max(title.length, ...rows.map((row) => (row[i] ?? '').length)));
  const line = (cells: readonly string[]): string =>
    cells
      .map((cell, i) => (i === cells.length - 1 ? cell : cell.padEnd(widths[i]!)))
      .join('  ')
      .trimEnd();
  return [header, ...rows].map(line).join('\n');
}

/** Name/value lines, the names aligned. */
export function fields(pairs: ReadonlyArray<readonly [string, string]>): string {
  const width = Math.max(...pairs.map(([name]) => name.length));
  return pairs.map(([name, value]) => `${`${name}:`.padEnd(width + 1)}  ${value}`).join('\n');
}

/** A queued task in one line: id, state, and when it runs next. */
export function queuedLine(task: QueuedTask): string {
  return `${task.id}  ${task.state}  next execution ${time(task.estimateExecAt)}`;
}

/** A task's fields, as `get` shows them. */
export function taskBlock(task: Task): string {
  const { config, updates } = task;
  return fields([
    ['id', task.id],
    ['state', task.state],
    ['target', `${task.target.method} ${task.target.url}`],
    ['tags', task.tags.length === 0 ? '-' : task.tags.join(', ')],
    ['status code', String(task.statusCode)],
    ['started', time(task.estimateStartAt)],
    ['next execution', time(task.estimateExecAt)],
    ['ended', time(task.estimateEndAt)],
    ['attempts', String(updates.attempts)],
    ['retries', `${updates.retryCount} of ${updates.retryLimit} (this run)${task.currentlyRetry ? ', retrying' : ''}`],
    ['repeats', `${updates.repeatCount} of ${updates.repeatLimit}${task.currentlyRepeat ? ', repeating' : ''}`],
    ...(task.state === 'PAUSED' ? [['time left', `${updates.pausedTimeLeft} ms`] as const] : []),
    ['timeout', `${config.timeout} ms`],
  ]);
}

/** Tasks as the compact table `list` prints. */
export function taskTable(tasks: readonly Task[]): string {
  return table(
    ['ID', 'STATE', 'STATUS', 'NEXT', 'TARGET', 'TAGS'],
    tasks.map((task) => [
      task.id,
      task.state,
      String(task.statusCode),
      time(task.estimateExecAt),
      `${task.target.method} ${task.target.url}`,
      task.tags.join(','),
    ]),
  );
}

/** Timeline entries, oldest first, one a line. */
export function timelineTable(entries: readonly TimelineEntry[]): string {
  return table(
    ['TIME', 'LABEL', 'DESCRIPTION'],
    entries.map((entry) => [time(entry.createdAt), entry.label, entry.description]),
  );
}

/** A batch's results, one a line, in the order of the items. */
export function batchTable(results: readonly BatchResult[]): string {
  return table(
    ['#', 'STATUS', 'RESULT'],
    results.map((result, i) => [
      String(i),
      String(result.statusCode),
      result.task ? queuedLine(result.task) : `${result.error?.code ?? 'ERROR'}: ${result.error?.message ?? ''}`,
    ]),
  );
}
