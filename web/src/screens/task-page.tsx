/*
 * One task: its state, target, tags, flow key and schedule (each a link to the tasks that share
 * it), what it does (config), how far it got (updates), its timeline (pages by the Link header),
 * and what can be done to it in its state. Destructive actions ask first, in a dialog.
 */
import { useEffect, useState } from 'preact/hooks';
import { useActions } from '../actions.js';
import { type Api, describeError } from '../api.js';
import { dateTime, formatDuration, relative } from '../format.js';
import { Dialog, useConfirm } from '../parts/dialog.js';
import { Link } from '../parts/link.js';
import { ErrorNote, StatusNote } from '../parts/notice.js';
import { StateBadge } from '../parts/state-badge.js';
import { usePoll } from '../poll.js';
import { navigate, paths } from '../router.js';
import type { RescheduleBody, TaskView, TimelineEntryView } from '../shapes.js';

export function TaskPage({ api, id }: { api: Api; id: string }) {
  const task = usePoll(() => api.task(id), `task:${id}`);
  const { status, error, act, fail } = useActions(task.refresh);
  const [dialog, ask] = useConfirm();
  const [rescheduling, setRescheduling] = useState(false);

  const cancel = async (): Promise<void> => {
    const yes = await ask({
      title: 'Cancel this task?',
      message: 'It will not run again. Its timeline is kept.',
      confirm: 'Cancel task',
      danger: true,
    });
    if (yes) await act('Task cancelled.', () => api.unsubscribe(id));
  };
  const remove = async (): Promise<void> => {
    const yes = await ask({
      title: 'Delete this task?',
      message: 'The task and its timeline are deleted for good.',
      confirm: 'Delete task',
      danger: true,
    });
    if (!yes) return;
    try {
      await api.remove(id);
      navigate(paths.tasks());
    } catch (e) {
      fail(e);
    }
  };

  if (!task.data) {
    const missing = task.error !== null && /no task/i.test(task.error);
    return (
      <main>
        <h1 tabIndex={-1}>Task</h1>
        <p class="mono">{id}</p>
        {missing ? <p class="empty-state">No such task in this project.</p> : <ErrorNote message={task.error} />}
        {!task.error && <p class="muted">Loading…</p>}
        <Link href={paths.tasks()}>Back to tasks</Link>
      </main>
    );
  }
  const t = task.data;
  const queued = t.state === 'RUNNING' || t.state === 'PAUSED';
  return (
    <main>
      <p class="crumbs">
        <Link href={paths.tasks()}>Tasks</Link> /
      </p>
      <div class="heading start">
        <h1 tabIndex={-1} class="mono">
          {t.id}
        </h1>
        <StateBadge state={t.state} />
      </div>
      {t.target && (
        <p class="target-line">
          <span class="method">{t.target.method}</span> <span class="mono">{t.target.url}</span>
        </p>
      )}
      {(t.tags ?? []).length > 0 && (
        <p aria-label="Tags">
          {(t.tags ?? []).map((tag) => (
            <Link key={tag} href={paths.tasks({ tag })} class="tag">
              {tag}
            </Link>
          ))}
        </p>
      )}
      {(t.flowKey !== '' || t.scheduleId !== undefined) && (
        <dl class="fields facts">
          {t.flowKey !== '' && (
            <>
              <dt>Flow key</dt>
              <dd>
                <Link href={paths.tasks({ flow: t.flowKey })} class="mono">
                  {t.flowKey}
                </Link>
              </dd>
            </>
          )}
          {t.scheduleId !== undefined && (
            <>
              <dt>Schedule</dt>
              <dd>
                <Link href={paths.tasks({ schedule: t.scheduleId })} class="mono">
                  {t.scheduleId}
                </Link>
              </dd>
            </>
          )}
        </dl>
      )}
      <div class="actions bar" role="group" aria-label="Actions">
        {t.state === 'RUNNING' && (
          <button type="button" onClick={() => void act('Task paused.', () => api.pause(id))}>
            Pause
          </button>
        )}
        {t.state === 'PAUSED' && (
          <button type="button" onClick={() => void act('Task resumed.', () => api.resume(id))}>
            Resume
          </button>
        )}
        {queued && (
          <button type="button" onClick={() => void act('Task runs now.', () => api.execute(id))}>
            Run now
          </button>
        )}
        {queued && (
          <button type="button" onClick={() => setRescheduling(true)}>
            Reschedule
          </button>
        )}
        {queued && (
          <button type="button" class="danger" onClick={() => void cancel()}>
            Cancel task
          </button>
        )}
        {t.state !== 'RUNNING' && (
          <button type="button" class="danger" onClick={() => void remove()}>
            Delete
          </button>
        )}
      </div>
      <ErrorNote message={error} />
      <StatusNote message={status} />
      <div class="columns">
        <Updates task={t} />
        <Config task={t} />
      </div>
      <Timeline api={api} id={id} version={`${t.state}:${t.updates.attempts}:${t.estimateExecAt}`} />
      <Reschedule
        open={rescheduling}
        onClose={() => setRescheduling(false)}
        onSubmit={(when) => {
          setRescheduling(false);
          void act('Task rescheduled.', () => api.reschedule(id, when));
        }}
      />
      {dialog}
    </main>
  );
}

function Updates({ task }: { task: TaskView }) {
  const now = Date.now();
  const u = task.updates;
  return (
    <section class="card" aria-labelledby="updates-title">
      <h2 id="updates-title">Progress</h2>
      <dl class="fields">
        <dt>Attempts</dt>
        <dd>{u.attempts}</dd>
        <dt>Last status code</dt>
        <dd>{task.statusCode || '—'}</dd>
        <dt>Next run</dt>
        <dd>
          {task.state === 'RUNNING' && task.estimateExecAt > 0
            ? `${dateTime(task.estimateExecAt)} (${relative(task.estimateExecAt, now)})`
            : '—'}
        </dd>
        {task.state === 'PAUSED' && (
          <>
            <dt>Time left when paused</dt>
            <dd>{formatDuration(u.pausedTimeLeft)}</dd>
          </>
        )}
        <dt>Retries</dt>
        <dd>
          {u.retryCount} of {u.retryLimit}
          {task.currentlyRetry ? ' (retrying)' : ''}
        </dd>
        <dt>Repeats</dt>
        <dd>
          {u.repeatCount} of {u.repeatLimit}
          {task.currentlyRepeat ? ' (repeating)' : ''}
        </dd>
        <dt>Subscribed</dt>
        <dd>{dateTime(task.estimateStartAt)}</dd>
        {task.estimateEndAt > 0 && (
          <>
            <dt>Ended</dt>
            <dd>{dateTime(task.estimateEndAt)}</dd>
          </>
        )}
      </dl>
    </section>
  );
}

function Config({ task }: { task: TaskView }) {
  const c = task.config;
  const ms = (value: number): string => (value > 0 ? formatDuration(value) : '—');
  const at = (value: number): string => (value > 0 ? dateTime(value) : '—');
  return (
    <section class="card" aria-labelledby="config-title">
      <h2 id="config-title">Configuration</h2>
      <dl class="fields">
        <dt>Execution delay</dt>
        <dd>{ms(c.executionDelay)}</dd>
        <dt>Execution at</dt>
        <dd>{at(c.executionAt)}</dd>
        <dt>Retry</dt>
        <dd>
          {c.retry} × every {ms(c.retryInterval)}
          {c.retryExponential ? ', exponential' : ''}
        </dd>
        <dt>Repeat</dt>
        <dd>
          {c.repeat} × every {ms(c.repeatInterval)}
          {c.repeatExponential ? ', exponential' : ''}
        </dd>
        <dt>Timeout</dt>
        <dd>{ms(c.timeout)}</dd>
        <dt>Callback</dt>
        <dd>{c.callback ? `${c.callback.on.join(', ')} → ${c.callback.url}` : '—'}</dd>
      </dl>
    </section>
  );
}

/** The timeline's pages: the first refreshed whenever the task changes (`version`), later ones on demand. */
function Timeline({ api, id, version }: { api: Api; id: string; version: string }) {
  const [entries, setEntries] = useState<TimelineEntryView[]>([]);
  const [next, setNext] = useState<string | null>(null);
  const [pages, setPages] = useState(1);
  const [error, setError] = useState<string | null>(null);
  useEffect(() => {
    // Once more pages are shown, the list is left alone rather than cut back to the first.
    if (pages > 1) return;
    let stale = false;
    api.timeline(id, null).then(
      (page) => {
        if (stale) return;
        setEntries(page.entries);
        setNext(page.next);
      },
      (e: unknown) => !stale && setError(describeError(e)),
    );
    return () => void (stale = true);
  }, [id, version]);
  const more = async (): Promise<void> => {
    if (!next) return;
    try {
      const page = await api.timeline(id, next);
      setEntries([...entries, ...page.entries]);
      setNext(page.next);
      setPages(pages + 1);
    } catch (e) {
      setError(describeError(e));
    }
  };
  return (
    <section class="card" aria-labelledby="timeline-title">
      <h2 id="timeline-title">Timeline</h2>
      <ErrorNote message={error} />
      <ol class="timeline">
        {entries.map((entry, i) => (
          <li key={`${entry.createdAt}:${i}`} class={`entry label-${entry.label.toLowerCase()}`}>
            <span class="label">{entry.label}</span>
            <time dateTime={new Date(entry.createdAt).toISOString()}>{dateTime(entry.createdAt)}</time>
            <span class="description">{entry.description}</span>
          </li>
        ))}
      </ol>
      {next && (
        <button type="button" onClick={() => void more()}>
          Show more
        </button>
      )}
    </section>
  );
}

function Reschedule({ open, onClose, onSubmit }: { open: boolean; onClose: () => void; onSubmit: (when: RescheduleBody) => void }) {
  const [mode, setMode] = useState<'delay' | 'at'>('delay');
  const [delay, setDelay] = useState('1m');
  const [at, setAt] = useState('');
  const submit = (event: Event): void => {
    event.preventDefault();
    if (mode === 'delay') onSubmit({ executionDelay: delay.trim() });
    else if (at !== '') onSubmit({ executionAt: new Date(at).getTime() });
  };
  return (
    <Dialog open={open} title="Reschedule the next run" onClose={onClose}>
      <form onSubmit={submit}>
        <div class="choices">
          <label>
            <input type="radio" name="reschedule-when" checked={mode === 'delay'} onChange={() => setMode('delay')} /> In
          </label>
          <label>
            <input type="radio" name="reschedule-when" checked={mode === 'at'} onChange={() => setMode('at')} /> At
          </label>
        </div>
        {mode === 'delay' ? (
          <>
            <label for="reschedule-delay">Delay from now</label>
            <input id="reschedule-delay" value={delay} onInput={(e) => setDelay(e.currentTarget.value)} required />
          </>
        ) : (
          <>
            <label for="reschedule-at">Time</label>
            <input id="reschedule-at" type="datetime-local" step={1} value={at} onInput={(e) => setAt(e.currentTarget.value)} required />
          </>
        )}
        <div class="actions">
          <button type="button" onClick={onClose}>
            Keep it
          </button>
          <button type="submit" class="primary">
            Reschedule
          </button>
        </div>
      </form>
    </Dialog>
  );
}
