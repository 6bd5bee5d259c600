/*
 * The task model. A task is a one-shot execution resource: "call this request at this time,
 * retry it this way when it fails, repeat it this way when it succeeds". Stores persist `Task`
 * values as they are; every rule about them lives in `task-machine.ts`.
 */

export const TASK_STATES = ['RUNNING', 'PAUSED', 'CANCELED', 'COMPLETED', 'ERROR', 'EXCEEDED'] as const;
export type TaskState = (typeof TASK_STATES)[number];

export const HTTP_METHODS = ['POST', 'PATCH', 'PUT', 'DELETE', 'GET'] as const;
export type HttpMethod = (typeof HTTP_METHODS)[number];

export const TIMELINE_LABELS = [
  'Subscribe',
  'Pause',
  'Resume',
  'Unsubscribe',
  'Error',
  'Retry',
  'Complete',
  'Repeat',
  'Alert',
  'Exceeded',
  /** Run at once on request (`PATCH /v1beta/execute/:id`). */
  'Execute',
  /** The next execution moved on request (`PATCH /v1beta/reschedule/:id`). */
  'Reschedule',
  /** What came of a callback (config.callback): delivered, or failed after its attempts. */
  'Callback',
  /** Stands for the entries left out of a long timeline (core/timeline.ts); never made by the state machine. */
  'Omitted',
  /** Links a replayed task and its replay (`PATCH /v1beta/replay/:id`), each naming the other. */
  'Replay',
  /** The task is a run of a schedule (`POST /v1beta/schedules`): names it and the run's instant. */
  'Schedule',
  /** The task waited for an open circuit (core/circuit.ts) instead of being sent: no attempt used. */
  'Circuit',
] as const;
export type TimelineLabel = (typeof TIMELINE_LABELS)[number];

/** The request a task sends, as the user gave it (after validation). Stored encrypted. */
export interface HttpRequestSpec {
  url: string;
  method: HttpMethod;
  /** Base64 body, decoded before sending; never sent with DELETE. */
  data?: string;
  params?: Record<string, string>;
  headers?: Record<string, string>;
}

// The effective configuration is one of the API's shapes: its type is the schema's (shapes.ts).
import type { TaskConfig } from './shapes.js';
export type { TaskConfig };

/**
 * The kinds of value a stored task field holds. Each store has one codec per kind (a `Record` over
 * these keys, so a new kind does not compile until both stores can hold it).
 */
export interface FieldKinds {
  /** A 26-character id (ids.ts). */
  id: string;
  /** A safe integer; 0 when the store holds nothing for it. */
  int: number;
  /** false when the store holds nothing for it. */
  bool: boolean;
  state: TaskState;
  /** An opaque server-made token; null when the store holds nothing for it. */
  token: string | null;
  /** A short text (base64url, or a pattern of limits.ts) holding no space or newline; '' when the store holds nothing for it. */
  tag: string;
  /** The user's labels (TAG_PATTERN each, none holding a space); [] when the store holds nothing for it. */
  tags: string[];
  /** The effective configuration, stored as the fields that differ from STORED_CONFIG_BASE. */
  config: TaskConfig;
  /**
   * Bytes opaque to the store (the sealed request), stored apart from what changes. They begin with
   * a format byte below 0x20 (sealed-request.ts), which tells them from the base64url text that
   * stores held before.
   */
  sealed: Uint8Array;
}
export type FieldKind = keyof FieldKinds;

interface FieldSpec {
  readonly name: string;
  readonly kind: FieldKind;
  /** Fixed fields are written once, at insert; mutable ones by every step of the state machine. */
  readonly mutable: boolean;
}

/**
 * The task as stored, declared once: the `Task` type, the SQLite columns (snake_case of the name),
 * the Redis hash fields (the name) and the Lua scripts' field lists are all derived from this table.
 * Adding a field means: a line here, a migration (SQLite), and the state machine that sets it.
 * Guarded by the round-trip test in test/store/conformance.ts.
 */
export const TASK_FIELDS = [
  /** The task's key in every store. */
  { name: 'id', kind: 'id', mutable: false },
  { name: 'projectId', kind: 'id', mutable: false },
  /** When the task was subscribed (ms since the epoch). */
  { name: 'startAt', kind: 'int', mutable: false },
  { name: 'config', kind: 'config', mutable: false },
  /** The `HttpRequestSpec`, sealed (sealed-request.ts); opaque to stores. */
  { name: 'request', kind: 'sealed', mutable: false },
  /**
   * A keyed digest of the target's host name (RequestCipher.hostTag): the dispatcher shares its
   * slots per target host with it, while the host itself stays sealed in `request`. '' for tasks
   * stored before it existed.
   */
  { name: 'hostTag', kind: 'tag', mutable: false },
  /** The labels the subscribe gave (at most LIMITS.tagCount, unique): a listing filters on them. */
  { name: 'tags', kind: 'tags', mutable: false },
  /** The schedule whose run made the task (core/schedule.ts); '' for a task subscribed directly. */
  { name: 'scheduleId', kind: 'tag', mutable: false },
  /**
   * The flow key the subscribe gave (FLOW_KEY_PATTERN), '' when none: the project's limits for that
   * key (core/flow.ts) decide when the task may start.
   */
  { name: 'flowKey', kind: 'tag', mutable: false },
  { name: 'state', kind: 'state', mutable: true },
  /** The last HTTP status the target answered, 0 when it never answered. */
  { name: 'statusCode', kind: 'int', mutable: true },
  /** When the next execution runs; 0 when none is scheduled (paused or finished). */
  { name: 'execAt', kind: 'int', mutable: true },
  /** When the task reached its final state; 0 until then. */
  { name: 'endAt', kind: 'int', mutable: true },
  /** The next execution is a retry after a failure. */
  { name: 'retrying', kind: 'bool', mutable: true },
  /** The next execution is a repeat after a success. */
  { name: 'repeating', kind: 'bool', mutable: true },
  /** Retries scheduled in the current run (the budget starts again with every repeat). */
  { name: 'retryCount', kind: 'int', mutable: true },
  /** Repeats scheduled so far. */
  { name: 'repeatCount', kind: 'int', mutable: true },
  /** Attempts sent so far, for display. */
  { name: 'attempts', kind: 'int', mutable: true },
  /**
   * While retrying: when the run's first failure was recorded, so a retry policy's
   * `maxRetryDurationMs` counts from it. 0 when not retrying (and for tasks stored before it existed).
   */
  { name: 'retrySince', kind: 'int', mutable: true },
  /** Time that was left until the next execution when the task was paused. */
  { name: 'pausedLeft', kind: 'int', mutable: true },
  /**
   * The claim of the dispatcher sending the task: its holder may record the attempt's outcome
   * until `leaseUntil`. Null (and `leaseUntil` 0) when no one holds it.
   */
  { name: 'leaseToken', kind: 'token', mutable: true },
  { name: 'leaseUntil', kind: 'int', mutable: true },
] as const satisfies readonly FieldSpec[];

export type TaskField = (typeof TASK_FIELDS)[number];
export type TaskFieldName = TaskField['name'];

/**
 * A task: a one-shot execution resource. Derived from TASK_FIELDS; stores persist it as it is, and
 * every rule about it lives in task-machine.ts.
 */
export type Task = { [F in TaskField as F['name']]: FieldKinds[F['kind']] };

export interface TimelineEntry {
  label: TimelineLabel;
  description: string;
  createdAt: number;
  metadata?: Record<string, string | number | boolean>;
}

export interface Project {
  id: string;
  email: string;
  tokenHash: Buffer;
  createdAt: number;
  /** `DEV` when registered on a development server, `GUEST` in production. */
  as: 'DEV' | 'GUEST';
}

/** RUNNING and PAUSED tasks count against the project's queue limit. */
export function isActive(state: TaskState): boolean {
  return state === 'RUNNING' || state === 'PAUSED';
}

export function isFinished(state: TaskState): boolean {
  return !isActive(state);
}
