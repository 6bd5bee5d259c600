import { TASK_STATES, TIMELINE_LABELS, type Project, type Task, type TaskConfig, type TaskState, type TimelineEntry } from '../../core/task.js';
import type { StoredTask } from '../task-store.js';

// Tasks, projects and timeline entries as Redis hashes and strings, and back. What comes back is
// checked: a stored record is input too.

/** What a task's life changes, in hash order: a replace sends only these (the sealed request alone is ~1 KB). */
const MUTABLE_FIELDS = [
  'state', 'statusCode', 'execAt', 'endAt', 'retrying', 'repeating', 'retryCount', 'repeatCount',
  'attempts', 'pausedLeft', 'leaseToken', 'leaseUntil',
] as const;

/**
 * The task hash's fields, in the order insert-tasks-1.lua and claim-due-2.lua list them (their
 * FIELDS must match): an insert sends the values alone, a claim answers them alone (taskFromLine).
 */
export const TASK_FIELDS = ['id', 'projectId', 'startAt', 'request', ...MUTABLE_FIELDS, 'version'] as const;

/** The values of MUTABLE_FIELDS for `task`, in that order. */
function mutableTaskValues(task: Task): string[] {
  return [
    task.state,
    String(task.statusCode),
    String(task.estimateExecAt),
    String(task.estimateEndAt),
    task.currentlyRetry ? '1' : '0',
    task.currentlyRepeat ? '1' : '0',
    String(task.retryCount),
    String(task.repeatCount),
    String(task.attempts),
    String(task.pausedLeft),
    task.lease?.token ?? '',
    task.lease ? String(task.lease.until) : '',
  ];
}

/** The values of a new task's hash, in the order of TASK_FIELDS, appended to `out`. */
export function pushTaskValues(out: string[], task: Task, version: number): void {
  out.push(task.id, task.projectId, String(task.estimateStartAt), task.sealedRequest, ...mutableTaskValues(task), String(version));
}

/**
 * What a replace writes: the mutable fields whose value differs from `prev`'s, as field, value
 * pairs. `prev` is the task as stored at its version (every write bumps the version), so the
 * fields left out hold these values already.
 */
export function changedTaskFields(prev: Task, next: Task): string[] {
  const before = mutableTaskValues(prev);
  const after = mutableTaskValues(next);
  const changed: string[] = [];
  for (let i = 0; i < after.length; i++) {
    if (after[i] !== before[i]) changed.push(MUTABLE_FIELDS[i]!, after[i]!);
  }
  return changed;
}

/**
 * A claimed task as claim-due-2.lua answers it: `line` holds the values of TASK_FIELDS in order,
 * joined by newlines (none of them holds one), with the sealed request's place left empty; the
 * sealed request and the config JSON come on their own. A missing field is ''.
 */
export function taskFromLine(line: string, request: string, configJson: string): StoredTask {
  const values = line.split('\n');
  if (values.length !== TASK_FIELDS.length) throw new Error(`A claimed task came back with ${values.length} values, not ${TASK_FIELDS.length}`);
  const hash: Record<string, string> = {};
  for (let i = 0; i < TASK_FIELDS.length; i++) hash[TASK_FIELDS[i]!] = values[i]!;
  hash.request = request;
  return taskFromHash(hash, configJson);
}

export function pairs(flat: readonly unknown[]): Record<string, string> {
  const out: Record<string, string> = {};
  for (let i = 0; i + 1 < flat.length; i += 2) out[String(flat[i])] = String(flat[i + 1]);
  return out;
}

const STATES = new Set<string>(TASK_STATES);
const LABELS = new Set<string>(TIMELINE_LABELS);

function int(hash: Record<string, string>, field: string): number {
  const text = hash[field];
  // Number('') is 0: an empty or missing field is not a number.
  const value = text ? Number(text) : NaN;
  if (!Number.isSafeInteger(value)) throw new Error(`Stored task ${hash.id ?? '?'} has a bad ${field}`);
  return value;
}

export function taskFromHash(hash: Record<string, string>, configJson: string): StoredTask {
  const state = hash.state ?? '';
  if (!STATES.has(state)) throw new Error(`Stored task ${hash.id ?? '?'} has an unknown state ${state}`);
  const leaseToken = hash.leaseToken ?? '';
  return {
    id: hash.id ?? '',
    projectId: hash.projectId ?? '',
    state: state as TaskState,
    statusCode: int(hash, 'statusCode'),
    estimateStartAt: int(hash, 'startAt'),
    estimateExecAt: int(hash, 'execAt'),
    estimateEndAt: int(hash, 'endAt'),
    currentlyRetry: hash.retrying === '1',
    currentlyRepeat: hash.repeating === '1',
    retryCount: int(hash, 'retryCount'),
    repeatCount: int(hash, 'repeatCount'),
    attempts: int(hash, 'attempts'),
    pausedLeft: int(hash, 'pausedLeft'),
    config: JSON.parse(configJson) as TaskConfig,
    sealedRequest: hash.request ?? '',
    lease: leaseToken !== '' ? { token: leaseToken, until: int(hash, 'leaseUntil') } : null,
    version: int(hash, 'version'),
  };
}

export function projectFields(project: Project): string[] {
  return [
    'id', project.id,
    'email', project.email,
    'tokenHash', project.tokenHash.toString('hex'),
    'createdAt', String(project.createdAt),
    'as', project.as,
    'active', '0',
  ];
}

export function projectFromHash(hash: Record<string, string>): Project | null {
  if (!hash.id || !hash.email || !hash.tokenHash) return null;
  return {
    id: hash.id,
    email: hash.email,
    tokenHash: Buffer.from(hash.tokenHash, 'hex'),
    createdAt: Number(hash.createdAt),
    as: hash.as === 'GUEST' ? 'GUEST' : 'DEV',
  };
}

export function entryToJson(entry: TimelineEntry): string {
  return JSON.stringify(entry);
}

export function entryFromJson(json: string): TimelineEntry {
  const raw = JSON.parse(json) as Partial<TimelineEntry>;
  const label = typeof raw.label === 'string' && LABELS.has(raw.label) ? (raw.label) : 'Alert';
  const entry: TimelineEntry = { label, description: String(raw.description ?? ''), createdAt: Number(raw.createdAt ?? 0) };
  if (raw.metadata && typeof raw.metadata === 'object') entry.metadata = raw.metadata;
  return entry;
}
