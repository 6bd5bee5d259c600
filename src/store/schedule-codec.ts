import { CATCH_UP_POLICIES, OVERLAP_POLICIES, SCHEDULE_STATES, type Schedule, type StoredSchedule } from '../core/schedule.js';
import { decodeConfig, encodeConfig } from './stored-config.js';

/*
 * A schedule as both stores hold it: its id, project, version, next due time (the index the
 * scheduler reads) and sealed request in columns or hash fields of their own, and the rest as one
 * JSON text that no store reads into (`data`). Decoding checks every field: a stored record is
 * input too.
 */

/** The fields kept in `data`. */
type DataFields = Omit<Schedule, 'id' | 'projectId' | 'request'>;

const INT_FIELDS = ['jitterMs', 'startAt', 'endAt', 'createdAt', 'nextRunAt', 'lastRunAt', 'runs', 'skipped'] as const;

/** The `data` text of a schedule. */
export function encodeScheduleData(schedule: Schedule): string {
  const { id: _id, projectId: _project, request: _request, config, ...rest } = schedule;
  return JSON.stringify({ ...rest, config: encodeConfig(config) });
}

/** The time the scheduler looks at the schedule: its next run while ACTIVE, else none. */
export function scheduleDueAt(schedule: Schedule): number | null {
  return schedule.state === 'ACTIVE' && schedule.nextRunAt > 0 ? schedule.nextRunAt : null;
}

export function decodeSchedule(id: string, projectId: string, version: number, request: Uint8Array, data: string): StoredSchedule {
  const bad = (field: string): Error => new Error(`Stored schedule ${id} has a bad ${field}`);
  const raw = JSON.parse(data) as Record<string, unknown>;
  const text = (field: string): string => {
    const value = raw[field];
    if (typeof value !== 'string') throw bad(field);
    return value;
  };
  const oneOf = <T extends string>(field: string, values: readonly T[]): T => {
    const value = text(field);
    if (!(values as readonly string[]).includes(value)) throw bad(field);
    return value as T;
  };
  const tags = raw['tags'];
  if (!Array.isArray(tags) || !tags.every((t) => typeof t === 'string')) throw bad('tags');
  const ints = {} as Record<(typeof INT_FIELDS)[number], number>;
  for (const field of INT_FIELDS) {
    const value = raw[field];
    if (!Number.isSafeInteger(value)) throw bad(field);
    ints[field] = value as number;
  }
  const fields: DataFields = {
    cron: text('cron'),
    timezone: text('timezone'),
    config: decodeConfig(text('config'), id),
    hostTag: text('hostTag'),
    tags,
    // Schedules stored before flow keys have none.
    flowKey: raw['flowKey'] === undefined ? '' : text('flowKey'),
    overlap: oneOf('overlap', OVERLAP_POLICIES),
    catchUp: oneOf('catchUp', CATCH_UP_POLICIES),
    state: oneOf('state', SCHEDULE_STATES),
    lastTaskId: text('lastTaskId'),
    ...ints,
  };
  return { id, projectId, request, version, ...fields };
}
