/* Deliveries and failures per minute over the last hour (GET /v1beta/activity). */
import type { Api } from '../api.js';
import { ActivityChart } from '../parts/activity-chart.js';
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

export function Activity({ api }: { api: Api }) {
  return (
    <main>
      <h1 tabIndex={-1}>Activity</h1>
      <p class="lead">Every attempt of the last hour, per minute: delivered (answered 2xx) and failed (anything else).</p>
      <ActivityPanel api={api} />
    </main>
  );
}
