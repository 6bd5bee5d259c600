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

export interface TaskRow {
  rid: number;
  id: string;
  project_id: string;
  state: string;
  status_code: number;
  start_at: number;
  exec_at: number;
  end_at: number;
  currently_retry: number;
  currently_repeat: number;
  retry_count: number;
  repeat_count: number;
  attempts: number;
  paused_left: number;
  config: string;
  /** From the requests table (joined), not a column of tasks. */
  request: string;
  lease_token: string | null;
  lease_until: number | null;
  due_at: number | null;
  finished_at: number | null;
  version: number;
}

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
  if (!STATES.has(row.state)) throw new Error(`Stored task ${row.id} has an unknown state ${row.state}`);
  return {
    id: row.id,
    projectId: row.project_id,
    state: row.state as TaskState,
    statusCode: row.status_code,
    estimateStartAt: row.start_at,
    estimateExecAt: row.exec_at,
    estimateEndAt: row.end_at,
    currentlyRetry: row.currently_retry === 1,
    currentlyRepeat: row.currently_repeat === 1,
    retryCount: row.retry_count,
    repeatCount: row.repeat_count,
    attempts: row.attempts,
    pausedLeft: row.paused_left,
    config: JSON.parse(row.config) as TaskConfig,
    sealedRequest: row.request,
    lease: row.lease_token !== null && row.lease_until !== null ? { token: row.lease_token, until: row.lease_until } : null,
    version: row.version,
  };
}

/** Named parameters for INSERT: the whole task, with the index columns derived from it. */
export function taskParams(task: Task): Record<string, string | number | null> {
  const params = mutableParams(task);
  params.projectId = task.projectId;
  params.startAt = task.estimateStartAt;
  params.config = JSON.stringify(task.config);
  return params;
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
