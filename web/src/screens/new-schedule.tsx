/*
 * The "new schedule" form: the cron expression and time zone, the request (parts/request-fields.tsx,
 * as the new-task form has it), tags and a flow key for every run's task; beside it, the same
 * POST /v1beta/schedules as a curl command, with the token left as $KUUERI_TOKEN. A refusal shows
 * the API's code (VALIDATION_FAILED with the fields, SCHEDULES_FULL…).
 */
import type { Api } from '../api.js';
import { Link } from '../parts/link.js';
import { ErrorNote } from '../parts/notice.js';
import { CurlPanel, RequestFields, TextField, useRequestForm } from '../parts/request-fields.js';
import { curlOf } from '../request-form.js';
import { navigate, paths } from '../router.js';
import { EMPTY_SCHEDULE_FORM, scheduleBodyOf } from '../schedule-form.js';
import type { Session } from '../session.js';

export function NewSchedule({ api, session, url }: { api: Api; session: Session; url: string | null }) {
  const state = useRequestForm(
    () => ({ ...EMPTY_SCHEDULE_FORM, url: url ?? '' }),
    async (form) => {
      await api.createSchedule(scheduleBodyOf(form));
      navigate(paths.schedules());
    },
  );
  const { form, set, error, invalid, busy, submit } = state;

  return (
    <main>
      <p class="crumbs">
        <Link href={paths.schedules()}>Schedules</Link> /
      </p>
      <h1 tabIndex={-1}>New schedule</h1>
      <div class="split">
        <form class="card task-form" onSubmit={(e) => void submit(e)} noValidate>
          <fieldset>
            <legend>When</legend>
            <TextField
              id="schedule-cron"
              label="Cron expression"
              value={form.cron}
              onInput={set('cron')}
              invalid={invalid('cron')}
              required
              placeholder="*/15 * * * *"
              hint={
                <>
                  5 fields (minute hour day month weekday), or 6 with seconds first: <code>0 9 * * 1-5</code> is 09:00 on weekdays,{' '}
                  <code>*/10 * * * * *</code> every 10 seconds.
                </>
              }
            />
            <TextField
              id="schedule-timezone"
              label="Time zone"
              value={form.timezone}
              onInput={set('timezone')}
              invalid={invalid('timezone')}
              hint={
                <>
                  An IANA name: <code>UTC</code>, <code>Europe/Berlin</code>, <code>America/New_York</code>.
                </>
              }
            />
          </fieldset>
          <RequestFields id="schedule" state={state} />
          <TextField
            id="schedule-tags"
            label="Tags"
            value={form.tags}
            onInput={set('tags')}
            invalid={invalid('tags')}
            hint={
              <>
                Every run's task carries them. Up to 10, separated by commas or spaces: letters, digits and <code>. _ : -</code>.
              </>
            }
          />
          <TextField
            id="schedule-flow"
            label="Flow key"
            value={form.flowKey}
            onInput={set('flowKey')}
            invalid={invalid('flowKey')}
            hint={
              <>
                Optional: the runs' tasks start within this key's limits (<code>PUT /v1beta/flow/:key</code>).
              </>
            }
          />
          <ErrorNote message={error?.message ?? null} code={error?.code} issues={error?.issues} />
          <div class="actions">
            <button type="submit" class="primary" disabled={busy}>
              Create schedule
            </button>
          </div>
        </form>
        <CurlPanel command={curlOf(scheduleBodyOf(form), location.origin, session.projectId, '/v1beta/schedules')} />
      </div>
    </main>
  );
}
