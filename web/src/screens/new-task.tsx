/*
 * The "new task" form: the request (URL, method, headers, body as text), when it runs, retries,
 * repeats and tags; beside it, the same subscribe as a curl command, with the token left as
 * $KUUERI_TOKEN.
 */
import { Fragment } from 'preact';
import { useState } from 'preact/hooks';
import { type Api, ApiError, describeError } from '../api.js';
import { ErrorNote } from '../parts/notice.js';
import { navigate, paths } from '../router.js';
import type { Session } from '../session.js';
import { HTTP_METHODS, type FieldIssue, type HttpMethod } from '../shapes.js';
import { EMPTY_FORM, type TaskForm, curlOf, parseHeaders, subscribeBodyOf } from '../subscribe-form.js';

export function NewTask({ api, session, url }: { api: Api; session: Session; url: string | null }) {
  const [form, setForm] = useState<TaskForm>({ ...EMPTY_FORM, url: url ?? '' });
  const [error, setError] = useState<{ message: string; issues: FieldIssue[] } | null>(null);
  const [busy, setBusy] = useState(false);
  const set =
    <K extends keyof TaskForm>(name: K) =>
    (event: Event): void =>
      setForm({ ...form, [name]: (event.currentTarget as HTMLInputElement).value as TaskForm[K] });

  const body = subscribeBodyOf(form);
  // The fields the server's issues name (`httpRequest.url`, `config.retry`, `tags.0`…), marked on their inputs.
  const invalid = (...fields: string[]): true | undefined =>
    error?.issues.some((issue) => fields.some((field) => issue.field === field || issue.field.startsWith(`${field}.`))) || undefined;
  const headerProblem = parseHeaders(form.headers).problem;
  const hasBody = form.method !== 'GET' && form.method !== 'DELETE';

  const submit = async (event: Event): Promise<void> => {
    event.preventDefault();
    if (headerProblem) {
      setError({ message: headerProblem, issues: [] });
      return;
    }
    setBusy(true);
    setError(null);
    try {
      const task = await api.subscribe(body);
      navigate(paths.task(task.id));
    } catch (e) {
      setError({ message: describeError(e), issues: e instanceof ApiError ? e.issues : [] });
      setBusy(false);
    }
  };

  return (
    <main>
      <h1 tabIndex={-1}>New task</h1>
      <div class="split">
        <form class="card task-form" onSubmit={(e) => void submit(e)} noValidate>
          <fieldset>
            <legend>Request</legend>
            <label for="task-url">URL</label>
            <input
              id="task-url"
              aria-invalid={invalid('httpRequest.url', 'httpRequest.params')}
              type="url"
              value={form.url}
              onInput={set('url')}
              required
              placeholder="https://api.example.com/hook"
              spellcheck={false}
            />
            <label for="task-method">Method</label>
            <select id="task-method" aria-invalid={invalid('httpRequest.method')} value={form.method} onChange={set('method')}>
              {HTTP_METHODS.map((method: HttpMethod) => (
                <option key={method}>{method}</option>
              ))}
            </select>
            <label for="task-headers">Headers</label>
            <textarea
              id="task-headers"
              aria-invalid={invalid('httpRequest.headers') ?? (headerProblem ? true : undefined)}
              rows={3}
              value={form.headers}
              onInput={set('headers')}
              aria-describedby="task-headers-hint"
              spellcheck={false}
            />
            <p id="task-headers-hint" class="hint">
              One per line, as <code>Name: value</code>.
            </p>
            <label for="task-body">Body</label>
            <textarea
              id="task-body"
              aria-invalid={invalid('httpRequest.data')}
              rows={5}
              value={form.body}
              onInput={set('body')}
              disabled={!hasBody}
              aria-describedby="task-body-hint"
              spellcheck={false}
            />
            <p id="task-body-hint" class="hint">
              Text, sent as it is (the page base64-encodes it for the API). {hasBody ? '' : `${form.method} sends no body.`}
            </p>
          </fieldset>
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
          <label for="task-tags">Tags</label>
          <input
            id="task-tags"
            aria-invalid={invalid('tags')}
            value={form.tags}
            onInput={set('tags')}
            aria-describedby="task-tags-hint"
            spellcheck={false}
          />
          <p id="task-tags-hint" class="hint">
            Up to 10, separated by commas or spaces: letters, digits and <code>. _ : -</code>.
          </p>
          <ErrorNote message={error?.message ?? null} issues={error?.issues} />
          <div class="actions">
            <button type="submit" class="primary" disabled={busy}>
              Create task
            </button>
          </div>
        </form>
        <section class="card curl" aria-labelledby="curl-title">
          <h2 id="curl-title">The same with curl</h2>
          <p class="hint">
            Set <code>KUUERI_TOKEN</code> to your token first; the command never contains it.
          </p>
          <pre tabIndex={0} aria-label="curl command">
            <code>{curlOf(body, location.origin, session.projectId)}</code>
          </pre>
        </section>
      </div>
    </main>
  );
}
