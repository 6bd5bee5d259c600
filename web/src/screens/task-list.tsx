/*
 * The project's tasks, newest first, from GET /v1beta/queues: filters by state, tag, host, schedule
 * and flow key, kept in the screen's URL (a reload, a shared link or a schedule's "Runs" link opens
 * the list so filtered), a search by id, pages by the answer's cursor, a refresh every POLL_MS so
 * states change on screen as the tasks run, and actions on the tasks selected (POST /v1beta/queues/bulk).
 */
import { useEffect, useState } from 'preact/hooks';
import { type Api, type TaskFilter, ApiError, describeError } from '../api.js';
import { relative } from '../format.js';
import { useConfirm } from '../parts/dialog.js';
import { ErrorNote, StatusNote } from '../parts/notice.js';
import { Link } from '../parts/link.js';
import { Pager, usePaging } from '../parts/pager.js';
import { StateBadge } from '../parts/state-badge.js';
import { TargetCell } from '../parts/target-cell.js';
import { usePoll } from '../poll.js';
import { navigate, paths } from '../router.js';
import { type BulkAction, type BulkAnswer, TASK_STATES, type TaskView } from '../shapes.js';
import { ActivityPanel } from './activity.js';

const PAGE_SIZE = 25;

/** The text filters, beside the state: each an input of the form and a query parameter of the same name. */
const TEXT_FILTERS: { name: 'tag' | 'host' | 'schedule' | 'flow'; label: string; placeholder?: string }[] = [
  { name: 'tag', label: 'Tag' },
  { name: 'host', label: 'Host', placeholder: 'api.example.com' },
  { name: 'schedule', label: 'Schedule ID' },
  { name: 'flow', label: 'Flow key' },
];

/** The list the URL's `filter` names; applying the form's filter changes the URL (so Back undoes it). */
export function TaskList({ api, filter }: { api: Api; filter: TaskFilter }) {
  const filterKey = paths.tasks(filter);
  const [draft, setDraft] = useState<TaskFilter>(filter);
  // Back and Forward change the filter under the form: it shows what the list shows.
  useEffect(() => setDraft(filter), [filterKey]);
  const paging = usePaging(filterKey);
  const list = usePoll(() => api.tasks(filter, PAGE_SIZE, paging.cursor), JSON.stringify([filterKey, paging.cursor]));
  const [selected, setSelected] = useState<ReadonlySet<string>>(new Set());
  const [bulkStatus, setBulkStatus] = useState<string | null>(null);

  const show = (next: TaskFilter): void => {
    setSelected(new Set());
    const to = paths.tasks(next);
    if (to !== filterKey) navigate(to);
  };
  const apply = (event: Event): void => {
    event.preventDefault();
    const next: TaskFilter = { state: draft.state || undefined };
    for (const { name } of TEXT_FILTERS) next[name] = draft[name]?.trim() || undefined;
    show(next);
  };
  const clear = (): void => {
    setDraft({});
    show({});
  };
  // Only the tasks on screen can be selected: a task that left the page is dropped from the selection.
  const shown = list.data?.tasks ?? [];
  const chosen = shown.filter((task) => selected.has(task.id)).map((task) => task.id);

  return (
    <main>
      <div class="heading">
        <h1 tabIndex={-1}>Tasks</h1>
        <Link href={paths.newTask()} class="button primary">
          New task
        </Link>
      </div>
      <ActivityPanel api={api} compact />
      <div class="toolbar">
        <form class="filters" onSubmit={apply} aria-label="Filter tasks">
          <div class="field">
            <label for="filter-state">State</label>
            <select id="filter-state" value={draft.state ?? ''} onChange={(e) => setDraft({ ...draft, state: e.currentTarget.value })}>
              <option value="">Any state</option>
              {TASK_STATES.map((state) => (
                <option key={state} value={state}>
                  {state}
                </option>
              ))}
            </select>
          </div>
          {TEXT_FILTERS.map(({ name, label, placeholder }) => (
            <div class="field" key={name}>
              <label for={`filter-${name}`}>{label}</label>
              <input
                id={`filter-${name}`}
                value={draft[name] ?? ''}
                onInput={(e) => setDraft({ ...draft, [name]: e.currentTarget.value })}
                placeholder={placeholder}
                spellcheck={false}
              />
            </div>
          ))}
          <div class="field buttons">
            <button type="submit">Filter</button>
            <button type="button" class="quiet" onClick={clear}>
              Clear
            </button>
          </div>
        </form>
        <FindById api={api} />
      </div>
      <ErrorNote message={list.error} />
      {chosen.length > 0 && (
        <BulkBar
          api={api}
          ids={chosen}
          onDone={(summary) => {
            setBulkStatus(summary);
            setSelected(new Set());
            list.refresh();
          }}
        />
      )}
      <StatusNote message={bulkStatus} />
      {list.data && (
        <TaskTable
          tasks={list.data.tasks}
          filtered={Object.values(filter).some(Boolean)}
          more={list.data.nextCursor !== null}
          selected={selected}
          onSelect={setSelected}
        />
      )}
      {!list.data && !list.error && <p class="muted">Loading…</p>}
      <Pager paging={paging} next={list.data?.nextCursor} />
    </main>
  );
}

interface TableProps {
  tasks: TaskView[];
  filtered: boolean;
  /** A next page exists: a filter of several fields reads a bounded number of tasks a page, so this one may be empty. */
  more: boolean;
  selected: ReadonlySet<string>;
  onSelect: (selected: ReadonlySet<string>) => void;
}

function TaskTable({ tasks, filtered, more, selected, onSelect }: TableProps) {
  if (tasks.length === 0) {
    if (more) return <p class="empty-state">No task matches on this page; the next pages may hold some.</p>;
    return <p class="empty-state">{filtered ? 'No task matches these filters.' : 'No tasks yet. Create one with “New task”.'}</p>;
  }
  const now = Date.now();
  const all = tasks.every((task) => selected.has(task.id));
  const toggle = (id: string, on: boolean): void => {
    const next = new Set(selected);
    if (on) next.add(id);
    else next.delete(id);
    onSelect(next);
  };
  return (
    <div class="table-wrap">
      <table class="tasks">
        <caption class="visually-hidden">Tasks, newest first</caption>
        <thead>
          <tr>
            <th scope="col" class="pick">
              <input
                type="checkbox"
                aria-label="Select every task on this page"
                checked={all}
                onChange={(e) => onSelect(e.currentTarget.checked ? new Set(tasks.map((task) => task.id)) : new Set())}
              />
            </th>
            <th scope="col">Task</th>
            <th scope="col">State</th>
            <th scope="col">Target</th>
            <th scope="col">Tags</th>
            <th scope="col">Next run</th>
            <th scope="col" class="num">
              Attempts
            </th>
            <th scope="col" class="num">
              Status
            </th>
          </tr>
        </thead>
        <tbody>
          {tasks.map((task) => (
            <tr key={task.id} data-task-id={task.id} class={selected.has(task.id) ? 'selected' : undefined}>
              <td class="pick">
                <input
                  type="checkbox"
                  aria-label={`Select task ${task.id}`}
                  checked={selected.has(task.id)}
                  onChange={(e) => toggle(task.id, e.currentTarget.checked)}
                />
              </td>
              <td>
                <Link href={paths.task(task.id)} class="mono">
                  {task.id}
                </Link>
                {task.flowKey !== '' && <div class="muted small">flow: {task.flowKey}</div>}
              </td>
              <td>
                <StateBadge state={task.state} />
              </td>
              <TargetCell target={task.target} />
              <td>
                {(task.tags ?? []).map((tag) => (
                  <span key={tag} class="tag">
                    {tag}
                  </span>
                ))}
              </td>
              <td class="nowrap">{task.state === 'RUNNING' && task.estimateExecAt > 0 ? relative(task.estimateExecAt, now) : '—'}</td>
              <td class="num">{task.updates.attempts}</td>
              <td class="num">{task.statusCode || '—'}</td>
            </tr>
          ))}
        </tbody>
      </table>
    </div>
  );
}

const BULK: { action: BulkAction; label: string; done: string; confirm?: string }[] = [
  { action: 'pause', label: 'Pause', done: 'paused' },
  { action: 'resume', label: 'Resume', done: 'resumed' },
  { action: 'unsubscribe', label: 'Cancel', done: 'cancelled', confirm: 'They will not run again; their timelines are kept.' },
  { action: 'delete', label: 'Delete', done: 'deleted', confirm: 'The tasks and their timelines are deleted for good.' },
];

/** What a bulk action did, in words: "2 paused; 1 not allowed in its state". */
function bulkSummary(answer: BulkAnswer, done: string): string {
  const parts = [`${answer.done} ${done}`];
  if (answer.notAllowed > 0) parts.push(`${answer.notAllowed} not allowed in ${answer.notAllowed === 1 ? 'its' : 'their'} state`);
  if (answer.notFound > 0) parts.push(`${answer.notFound} not found`);
  if (answer.busy > 0) parts.push(`${answer.busy} busy, try again`);
  return `${parts.join('; ')}.`;
}

/** The actions on the selected tasks; the destructive ones ask first. */
function BulkBar({ api, ids, onDone }: { api: Api; ids: string[]; onDone: (summary: string) => void }) {
  const [dialog, ask] = useConfirm();
  const [error, setError] = useState<string | null>(null);
  const run = async (item: (typeof BULK)[number]): Promise<void> => {
    const count = `${ids.length} task${ids.length === 1 ? '' : 's'}`;
    if (
      item.confirm &&
      !(await ask({ title: `${item.label} ${count}?`, message: item.confirm, confirm: `${item.label} ${count}`, danger: true }))
    ) {
      return;
    }
    setError(null);
    try {
      onDone(bulkSummary(await api.bulk(item.action, ids), item.done));
    } catch (e) {
      setError(describeError(e));
    }
  };
  return (
    <div class="bulk" role="group" aria-label="Selected tasks">
      <span>{ids.length} selected</span>
      {BULK.map((item) => (
        <button key={item.action} type="button" class={item.confirm ? 'danger' : undefined} onClick={() => void run(item)}>
          {item.label} selected
        </button>
      ))}
      <ErrorNote message={error} />
      {dialog}
    </div>
  );
}

/** Opens a task by its id, or says there is none. */
function FindById({ api }: { api: Api }) {
  const [id, setId] = useState('');
  const [error, setError] = useState<string | null>(null);
  const find = async (event: Event): Promise<void> => {
    event.preventDefault();
    setError(null);
    const wanted = id.trim();
    if (wanted === '') return;
    try {
      await api.task(wanted);
      navigate(paths.task(wanted));
    } catch (e) {
      setError(e instanceof ApiError && e.status === 404 ? `No task ${wanted} in this project.` : describeError(e));
    }
  };
  return (
    <form class="find" role="search" onSubmit={(e) => void find(e)}>
      <div class="field">
        <label for="find-id">Task ID</label>
        <input id="find-id" value={id} onInput={(e) => setId(e.currentTarget.value)} spellcheck={false} />
      </div>
      <div class="field buttons">
        <button type="submit">Open</button>
      </div>
      <ErrorNote message={error} />
    </form>
  );
}
