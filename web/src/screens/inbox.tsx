/*
 * The project's inbox (GET /v1beta/inbox): a URL on this server that keeps the last requests sent
 * to it, so a task can be tried without a target of your own.
 */
import { useActions } from '../actions.js';
import { type Api, ApiError } from '../api.js';
import { dateTime } from '../format.js';
import { useConfirm } from '../parts/dialog.js';
import { Link } from '../parts/link.js';
import { ErrorNote, StatusNote } from '../parts/notice.js';
import { usePoll } from '../poll.js';
import { paths } from '../router.js';
import type { InboxRequestView } from '../shapes.js';

/** What the inbox routes answer while the inbox is off (PRODUCTION, unless TASKS_INBOX says otherwise): 404. */
const OFF = 'off' as const;

export function Inbox({ api }: { api: Api }) {
  const poll = usePoll(
    () =>
      api.inbox().catch((e: unknown): typeof OFF => {
        if (e instanceof ApiError && e.status === 404) return OFF;
        throw e;
      }),
    'inbox',
  );
  const inbox = { ...poll, data: poll.data === OFF ? null : poll.data };
  const [dialog, ask] = useConfirm();
  const { status, error, act } = useActions(inbox.refresh);

  const clear = async (): Promise<void> => {
    const yes = await ask({
      title: 'Clear the inbox?',
      message: 'Every request it kept is deleted.',
      confirm: 'Clear inbox',
      danger: true,
    });
    if (yes) await act('Inbox cleared.', () => api.clearInbox());
  };

  return (
    <main>
      <h1 tabIndex={-1}>Inbox</h1>
      <p class="lead">Point a task at this URL to see exactly what it sends. The latest requests come first.</p>
      <ErrorNote message={error ?? inbox.error} />
      {poll.data === OFF && (
        <p class="empty-state">
          The inbox is off on this server. It is on by default at <code>LEVEL</code> DEVELOPMENT; <code>TASKS_INBOX=true</code> turns it on.
        </p>
      )}
      <StatusNote message={status} />
      {inbox.data && (
        <>
          <div class="card inbox-url">
            <label for="inbox-url">Inbox URL</label>
            <div class="row">
              <input id="inbox-url" readOnly value={inbox.data.url} onFocus={(e) => e.currentTarget.select()} />
              <Link href={paths.newTask(inbox.data.url)} class="button primary">
                New task to the inbox
              </Link>
              <button type="button" class="danger" onClick={() => void clear()} disabled={inbox.data.requests.length === 0}>
                Clear
              </button>
            </div>
          </div>
          <h2>Requests ({inbox.data.requests.length})</h2>
          {inbox.data.requests.length === 0 ? (
            <p class="empty-state">Nothing has arrived yet.</p>
          ) : (
            <ol class="requests">
              {inbox.data.requests.map((request, i) => (
                <InboxRequest key={request.id} request={request} open={i === 0} />
              ))}
            </ol>
          )}
        </>
      )}
      {dialog}
    </main>
  );
}

/** One request; the newest shows its headers at once, the others on demand. */
function InboxRequest({ request, open }: { request: InboxRequestView; open: boolean }) {
  return (
    <li class="card request">
      <p class="request-line">
        <span class="method">{request.method}</span> <span class="mono">{request.path}</span>
        <span class="muted"> · {dateTime(request.receivedAt)}</span>
      </p>
      <details open={open}>
        <summary>Headers ({Object.keys(request.headers).length})</summary>
        <table class="headers">
          <caption class="visually-hidden">Headers</caption>
          <tbody>
            {Object.entries(request.headers).map(([name, value]) => (
              <tr key={name}>
                <th scope="row">{name}</th>
                <td class="mono">{Array.isArray(value) ? value.join(', ') : value}</td>
              </tr>
            ))}
          </tbody>
        </table>
      </details>
      {request.body !== '' && (
        <>
          <p class="muted small">
            Body{request.bodyEncoding === 'base64' ? ' (binary, base64)' : ''}
            {request.truncated ? ', truncated' : ''}
          </p>
          <pre class="body">{request.body}</pre>
        </>
      )}
    </li>
  );
}
