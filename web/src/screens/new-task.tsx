/*
 * The "new task" form: the request (URL, method, headers, body as text; parts/request-fields.tsx,
 * shared with the schedule form), when it runs, retries, repeats and tags; beside it, the same
 * subscribe as a curl command, with the token left as $KUUERI_TOKEN.
 */
import { Fragment } from 'preact';
import type { Api } from '../api.js';
import { ErrorNote } from '../parts/notice.js';
import { CurlPanel, RequestFields, TextField, useRequestForm } from '../parts/request-fields.js';
import { curlOf } from '../request-form.js';
import { navigate, paths } from '../router.js';
import type { Session } from '../session.js';
import { EMPTY_FORM, subscribeBodyOf } from '../subscribe-form.js';

export function NewTask({ api, session, url }: { api: Api; session: Session; url: string | null }) {
  const state = useRequestForm(
    () => ({ ...EMPTY_FORM, url: url ?? '' }),
    async (form) => {
      const task = await api.subscribe(subscribeBodyOf(form));
      navigate(paths.task(task.id));
    },
  );
  const { form, set, error, invalid, busy, submit } = state;
  const body = subscribeBodyOf(form);

  return (
    <main>
      <h1 tabIndex={-1}>New task</h1>
      <div class="split">
        <form class="card task-form" onSubmit={(e) => void submit(e)} noValidate>
          <RequestFields id="task" state={state} />
          <fieldset>
            <legend>When</legend>
            <div class="choices">
              <label>
                <input type="radio" name="when" value="delay" checked={form.when === 'delay'} onChange={set('when')} /> After a delay
              </label>
              <label>
                <input type="radio" name="when" value="at" checked={form.when === 'at'} onChange={set('when')} /> At a time
              </label>
            </div>
            {form.when === 'delay' ? (
              <>
                <label for="task-delay">Delay</label>
                <input
                  id="task-delay"
                  aria-invalid={invalid('config.executionDelay')}
                  value={form.delay}
                  onInput={set('delay')}
                  aria-describedby="duration-hint"
                  spellcheck={false}
                />
              </>
            ) : (
              <>
                <label for="task-at">Time</label>
                <input
                  id="task-at"
                  aria-invalid={invalid('config.executionAt')}
                  type="datetime-local"
                  step={1}
                  value={form.at}
                  onInput={set('at')}
                />
              </>
            )}
            <p id="duration-hint" class="hint">
              Durations: <code>500ms</code>, <code>10s</code>, <code>5m</code>, <code>1h</code>, <code>2d</code>, or milliseconds.
            </p>
          </fieldset>
          <fieldset class="pairs">
            <legend>Retry and repeat</legend>
            {(['retry', 'repeat'] as const).map((kind) => {
              const interval = kind === 'retry' ? 'retryInterval' : 'repeatInterval';
              return (
                <Fragment key={kind}>
                  <div class="field">
                    <label for={`task-${kind}`}>{kind === 'retry' ? 'Retries' : 'Repeats'}</label>
                    <input
                      id={`task-${kind}`}
                      aria-invalid={invalid(`config.${kind}`)}
                      type="number"
                      min={0}
                      value={form[kind]}
                      onInput={set(kind)}
                    />
                  </div>
                  <div class="field">
                    <label for={`task-${kind}-interval`}>{kind === 'retry' ? 'Retry interval' : 'Repeat interval'}</label>
                    <input
                      id={`task-${kind}-interval`}
                      aria-invalid={invalid(`config.${interval}`)}
                      value={form[interval]}
                      onInput={set(interval)}
                      placeholder={kind === 'retry' ? '1s' : '1m'}
                      aria-describedby="duration-hint"
                    />
                  </div>
                </Fragment>
              );
            })}
          </fieldset>
          <TextField
            id="task-tags"
            label="Tags"
            value={form.tags}
            onInput={set('tags')}
            invalid={invalid('tags')}
            hint={
              <>
                Up to 10, separated by commas or spaces: letters, digits and <code>. _ : -</code>.
              </>
            }
          />
          <ErrorNote message={error?.message ?? null} code={error?.code} issues={error?.issues} />
          <div class="actions">
            <button type="submit" class="primary" disabled={busy}>
              Create task
            </button>
          </div>
        </form>
        <CurlPanel command={curlOf(body, location.origin, session.projectId)} />
      </div>
    </main>
  );
}
