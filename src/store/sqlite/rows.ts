import { TASK_STATES, TIMELINE_LABELS, type Project, type Task, type TaskConfig, type TaskState, type TimelineEntry, type TimelineLabel, isFinished } from '../../core/task.js';
import { dueAtOf } from '../../core/task-machine.js';
import type { StoredTask } from '../task-store.js';

/** Rows as SQLite returns them, and their translation to and from core types. */
export interface ProjectRow {
  id: string;
  email: string;
  token_hash: Buffer;
  created_at: number;
  role: string;
  active_tasks: number;
}

/**
 * A task as every read selects it (`TASK_COLUMNS`, this order), read as an array (better-sqlite3's
 * `raw` mode): an object per row with twenty named properties cost about 5 µs more per task, on
 * every claim.
 */
export type TaskRow = [
  rid: number,
  id: string,
  project_id: string,
  state: string,
  status_code: number,
  start_at: number,
  exec_at: number,
  end_at: number,
  currently_retry: number,
  currently_repeat: number,
  retry_count: number,
  repeat_count: number,
  attempts: number,
  paused_left: number,
  config: string,
  lease_token: string | null,
  lease_until: number | null,
  version: number,
  /** From the requests table (joined), not a column of tasks. */
  request: string,
];

/** A claimed row as the claim's UPDATE left it (the claim does not read it again). */
export function leaseRow(row: TaskRow, token: string, until: number): void {
  row[15] = token; // lease_token
  row[16] = until; // lease_until
  row[17] += 1; // version
}

/** The select list of a TaskRow, for `tasks t JOIN requests r`. */
export const TASK_COLUMNS =
  't.rid, t.id, t.project_id, t.state, t.status_code, t.start_at, t.exec_at, t.end_at, t.currently_retry, ' +
  't.currently_repeat, t.retry_count, t.repeat_count, t.attempts, t.paused_left, t.config, t.lease_token, ' +
  't.lease_until, t.version, r.sealed';

export interface TimelineRow {
  label: string;
  description: string;
  created_at: number;
  metadata: string | null;
}

const STATES = new Set<string>(TASK_STATES);
const LABELS = new Set<string>(TIMELINE_LABELS);

export function projectFromRow(row: ProjectRow): Project {
  return {
    id: row.id,
    email: row.email,
    tokenHash: row.token_hash,
    createdAt: row.created_at,
    as: row.role === 'GUEST' ? 'GUEST' : 'DEV',
  };
}

export function taskFromRow(row: TaskRow): StoredTask {
  const [, id, projectId, state, statusCode, startAt, execAt, endAt, currentlyRetry, currentlyRepeat, retryCount, repeatCount, attempts, pausedLeft, config, leaseToken, leaseUntil, version, request] = row;
  if (!STATES.has(state)) throw new Error(`Stored task ${id} has an unknown state ${state}`);
  return {
    id,
    projectId,
    state: state as TaskState,
    statusCode,
    estimateStartAt: startAt,
    estimateExecAt: execAt,
    estimateEndAt: endAt,
    currentlyRetry: currentlyRetry === 1,
    currentlyRepeat: currentlyRepeat === 1,
    retryCount,
    repeatCount,
    attempts,
    pausedLeft,
    config: JSON.parse(config) as TaskConfig,
    sealedRequest: request,
    lease: leaseToken !== null && leaseUntil !== null ? { token: leaseToken, until: leaseUntil } : null,
    version,
  };
}

/**
 * The columns INSERT writes, in the order `insertValues` gives them (version starts at 1). Bound
 * by position: better-sqlite3 looks each named parameter up on the object, ~1 µs more per insert.
 */
export const INSERT_COLUMNS = [
  'id', 'project_id', 'state', 'status_code', 'start_at', 'exec_at', 'end_at', 'currently_retry', 'currently_repeat',
  'retry_count', 'repeat_count', 'attempts', 'paused_left', 'config', 'lease_token', 'lease_until', 'due_at', 'finished_at',
] as const;

/** The whole task as INSERT_COLUMNS lists it, with the index columns derived from it. */
export function insertValues(task: Task): Array<string | number | null> {
  return [
    task.id,
    task.projectId,
    task.state,
    task.statusCode,
    task.estimateStartAt,
    task.estimateExecAt,
    task.estimateEndAt,
    task.currentlyRetry ? 1 : 0,
    task.currentlyRepeat ? 1 : 0,
    task.retryCount,
    task.repeatCount,
    task.attempts,
    task.pausedLeft,
    JSON.stringify(task.config),
    task.lease?.token ?? null,
    task.lease?.until ?? null,
    dueAtOf(task),
    isFinished(task.state) ? task.estimateEndAt : null,
  ];
}

/**
 * Named parameters for UPDATE: what changes during a task's life, with the derived index columns.
 * Also the caller's to extend (a fresh object each call): written as one literal, as this runs
 * for every write and object spreads showed in profiles.
 */
export function mutableParams(task: Task): Record<string, string | number | null> {
  return {
    id: task.id,
    state: task.state,
    statusCode: task.statusCode,
    execAt: task.estimateExecAt,
    endAt: task.estimateEndAt,
    currentlyRetry: task.currentlyRetry ? 1 : 0,
    currentlyRepeat: task.currentlyRepeat ? 1 : 0,
    retryCount: task.retryCount,
    repeatCount: task.repeatCount,
    attempts: task.attempts,
    pausedLeft: task.pausedLeft,
    leaseToken: task.lease?.token ?? null,
    leaseUntil: task.lease?.until ?? null,
    dueAt: dueAtOf(task),
    finishedAt: isFinished(task.state) ? task.estimateEndAt : null,
    prevVersion: null, // the compare-and-set's version, set by replaceTask; INSERT has no use for it
  };
}

export function timelineFromRow(row: TimelineRow): TimelineEntry {
  const label = LABELS.has(row.label) ? (row.label as TimelineLabel) : 'Alert';
  const entry: TimelineEntry = { label, description: row.description, createdAt: row.created_at };
  if (row.metadata !== null) entry.metadata = JSON.parse(row.metadata) as TimelineEntry['metadata'];
  return entry;
}
