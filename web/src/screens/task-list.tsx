/*
 * The project's tasks, newest first, from GET /v1beta/queues: filters by state, tag and host, a
 * search by id, pages by the answer's cursor, and a refresh every POLL_MS so states change on
 * screen as the tasks run.
 */
import { useState } from 'preact/hooks';
import { type Api, type TaskFilter, ApiError, describeError } from '../api.js';
import { relative } from '../format.js';
import { ErrorNote } from '../parts/notice.js';
import { Link } from '../parts/link.js';
import { StateBadge } from '../parts/state-badge.js';
import { usePoll } from '../poll.js';
import { navigate, paths } from '../router.js';
import { TASK_STATES, type TaskView } from '../shapes.js';
import { ActivityPanel } from './activity.js';

const PAGE_SIZE = 25;

export function TaskList({ api }: { api: Api }) {
  const [filter, setFilter] = useState<TaskFilter>({});
  const [draft, setDraft] = useState<TaskFilter>({});
  // The cursors of the pages before this one, and this one's (null: the first page).
  const [cursors, setCursors] = useState<(string | null)[]>([null]);
  const cursor = cursors[cursors.length - 1] ?? null;
  const key = JSON.stringify([filter, cursor]);
  const list = usePoll(() => api.tasks(filter, PAGE_SIZE, cursor), key);

  const apply = (event: Event): void => {
    event.preventDefault();
    setFilter({ state: draft.state || undefined, tag: draft.tag?.trim() || undefined, host: draft.host?.trim() || undefined });
    setCursors([null]);
  };
  const clear = (): void => {
    setDraft({});
    setFilter({});
    setCursors([null]);
  };

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
          <div class="field">
            <label for="filter-tag">Tag</label>
            <input
              id="filter-tag"
              value={draft.tag ?? ''}
              onInput={(e) => setDraft({ ...draft, tag: e.currentTarget.value })}
              spellcheck={false}
            />
          </div>
          <div class="field">
            <label for="filter-host">Host</label>
            <input
              id="filter-host"
              value={draft.host ?? ''}
              onInput={(e) => setDraft({ ...draft, host: e.currentTarget.value })}
              placeholder="api.example.com"
              spellcheck={false}
            />
          </div>
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
      {list.data && <TaskTable tasks={list.data.tasks} filtered={Object.values(filter).some(Boolean)} />}
      {!list.data && !list.error && <p class="muted">Loading…</p>}
      <nav class="pager" aria-label="Pages">
        <button type="button" disabled={cursors.length < 2} onClick={() => setCursors(cursors.slice(0, -1))}>
          Previous page
        </button>
        <button
          type="button"
          disabled={!list.data?.nextCursor}
          onClick={() => list.data?.nextCursor && setCursors([...cursors, list.data.nextCursor])}
        >
          Next page
        </button>
      </nav>
    </main>
  );
}

function TaskTable({ tasks, filtered }: { tasks: TaskView[]; filtered: boolean }) {
  if (tasks.length === 0) {
    return <p class="empty-state">{filtered ? 'No task matches these filters.' : 'No tasks yet. Create one with “New task”.'}</p>;
  }
  const now = Date.now();
  return (
    <div class="table-wrap">
      <table class="tasks">
        <caption class="visually-hidden">Tasks, newest first</caption>
        <thead>
          <tr>
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
            <tr key={task.id} data-task-id={task.id}>
              <td>
                <Link href={paths.task(task.id)} class="mono">
                  {task.id}
                </Link>
              </td>
              <td>
                <StateBadge state={task.state} />
              </td>
              <td class="target" title={task.target ? `${task.target.method} ${task.target.url}` : undefined}>
                {task.target ? (
                  <>
                    <span class="method">{task.target.method}</span> <span class="url">{task.target.url}</span>
                  </>
                ) : (
                  '—'
                )}
              </td>
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
