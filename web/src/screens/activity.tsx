/* Deliveries and failures per minute over the last hour (GET /v1beta/activity). */
import type { Api } from '../api.js';
import { ActivityChart } from '../parts/activity-chart.js';
import { dateTime } from '../format.js';
import { usePoll } from '../poll.js';

/** Minutes change slowly: no need to ask as often as for task states. */
const ACTIVITY_POLL_MS = 10_000;

export function ActivityPanel({ api, compact = false }: { api: Api; compact?: boolean }) {
  const activity = usePoll(() => api.activity(), 'activity', ACTIVITY_POLL_MS);
  return (
    <section class={compact ? 'card activity compact' : 'card activity'} aria-labelledby="activity-title">
      <h2 id="activity-title">Deliveries per minute, last hour</h2>
      {activity.data ? (
        <ActivityChart activity={activity.data} />
      ) : (
        <p class="muted">{activity.error ? `Activity is not available: ${activity.error}` : 'Loading…'}</p>
      )}
    </section>
  );
}

/**
 * The project's circuits that hold tasks back (GET /v1beta/breakers): open, or half-open with a
 * probe under way. Nothing shows while breakers are off or every circuit is closed.
 */
export function OpenCircuits({ api }: { api: Api }) {
  const breakers = usePoll(() => api.breakers(), 'breakers', ACTIVITY_POLL_MS);
  const held = breakers.data?.circuits.filter((c) => c.state !== 'closed') ?? [];
  if (held.length === 0) return null;
  return (
    <section class="card circuits" aria-labelledby="circuits-title">
      <h2 id="circuits-title">Open circuits</h2>
      <p class="muted">Tasks for these targets wait, using no attempt, until a probe gets through.</p>
      <ul>
        {held.map((c) => (
          <li key={`${c.kind}:${c.key}`}>
            <strong>{c.host ?? c.key}</strong> {c.state}, {c.failures} {c.failures === 1 ? 'failure' : 'failures'} in a row;{' '}
            {c.state === 'open' ? 'probe at' : 'probe until'} {dateTime(c.retryAt)}
          </li>
        ))}
      </ul>
    </section>
  );
}

export function Activity({ api }: { api: Api }) {
  return (
    <main>
      <h1 tabIndex={-1}>Activity</h1>
      <p class="lead">Every attempt of the last hour, per minute: delivered (answered 2xx) and failed (anything else).</p>
      <OpenCircuits api={api} />
      <ActivityPanel api={api} />
    </main>
  );
}
