/*
 * The project's schedules, newest first, from GET /v1beta/schedules: each one's cron expression,
 * time zone, target, state and next run, refreshed every POLL_MS (a run moves the next one on);
 * pause, resume and (after a confirmation dialog) delete; "Runs" opens the task list filtered by
 * the schedule. Pages by the answer's cursor.
 */
import { useActions } from '../actions.js';
import type { Api } from '../api.js';
import { dateTime, relative } from '../format.js';
import { useConfirm } from '../parts/dialog.js';
import { Link } from '../parts/link.js';
import { Pager, usePaging } from '../parts/pager.js';
import { ErrorNote, StatusNote } from '../parts/notice.js';
import { StateBadge } from '../parts/state-badge.js';
import { TargetCell } from '../parts/target-cell.js';
import { usePoll } from '../poll.js';
import { paths } from '../router.js';
import type { ScheduleView } from '../shapes.js';

const PAGE_SIZE = 25;

export function Schedules({ api }: { api: Api }) {
  const paging = usePaging('schedules');
  const list = usePoll(() => api.schedules(PAGE_SIZE, paging.cursor), `schedules:${paging.cursor}`);
  const { status, error, act } = useActions(list.refresh);
  const [dialog, ask] = useConfirm();

  const remove = async (schedule: ScheduleView): Promise<void> => {
    const yes = await ask({
      title: 'Delete this schedule?',
      message: `${schedule.cron} makes no more runs. The tasks its runs made are kept.`,
      confirm: 'Delete schedule',
      danger: true,
    });
    if (yes) await act('Schedule deleted.', () => api.removeSchedule(schedule.id));
  };

  return (
    <main>
      <div class="heading">
        <h1 tabIndex={-1}>Schedules</h1>
        <Link href={paths.newSchedule()} class="button primary">
          New schedule
        </Link>
      </div>
      <ErrorNote message={list.error ?? error} />
      <StatusNote message={status} />
      {list.data && (
        <ScheduleTable
          schedules={list.data.schedules}
          onPause={(s) => void act('Schedule paused.', () => api.pauseSchedule(s.id))}
          onResume={(s) => void act('Schedule resumed.', () => api.resumeSchedule(s.id))}
          onDelete={(s) => void remove(s)}
        />
      )}
      {!list.data && !list.error && <p class="muted">Loading…</p>}
      <Pager paging={paging} next={list.data?.nextCursor} />
      {dialog}
    </main>
  );
}

interface TableProps {
  schedules: ScheduleView[];
  onPause: (schedule: ScheduleView) => void;
  onResume: (schedule: ScheduleView) => void;
  onDelete: (schedule: ScheduleView) => void;
}

function ScheduleTable({ schedules, onPause, onResume, onDelete }: TableProps) {
  if (schedules.length === 0) return <p class="empty-state">No schedules yet. Create one with “New schedule”.</p>;
  const now = Date.now();
  return (
    <div class="table-wrap">
      <table class="schedules">
        <caption class="visually-hidden">Schedules, newest first</caption>
        <thead>
          <tr>
            <th scope="col">Cron</th>
            <th scope="col">Time zone</th>
            <th scope="col">Target</th>
            <th scope="col">State</th>
            <th scope="col">Next run</th>
            <th scope="col" class="num">
              Runs
            </th>
            <th scope="col">
              <span class="visually-hidden">Actions</span>
            </th>
          </tr>
        </thead>
        <tbody>
          {schedules.map((schedule) => (
            <tr key={schedule.id} data-schedule-id={schedule.id}>
              <td class="nowrap">
                <span class="mono">{schedule.cron}</span>
                <br />
                <span class="mono muted small" title="Schedule ID">
                  {schedule.id}
                </span>
              </td>
              <td>{schedule.timezone}</td>
              <TargetCell target={schedule.target} />
              <td>
                <StateBadge state={schedule.state} />
              </td>
              <td class="nowrap">
                {schedule.nextRunAt === null ? '—' : <time title={dateTime(schedule.nextRunAt)}>{relative(schedule.nextRunAt, now)}</time>}
              </td>
              <td class="num nowrap">
                {schedule.runs} <Link href={paths.tasks({ schedule: schedule.id })}>Runs</Link>
              </td>
              <td>
                <div class="row-actions" role="group" aria-label={`Schedule ${schedule.id}`}>
                  {schedule.state === 'ACTIVE' && (
                    <button type="button" onClick={() => onPause(schedule)}>
                      Pause
                    </button>
                  )}
                  {schedule.state === 'PAUSED' && (
                    <button type="button" onClick={() => onResume(schedule)}>
                      Resume
                    </button>
                  )}
                  <button type="button" class="danger" onClick={() => onDelete(schedule)}>
                    Delete
                  </button>
                </div>
              </td>
            </tr>
          ))}
        </tbody>
      </table>
    </div>
  );
}
