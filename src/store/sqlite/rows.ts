import {
  type FieldKind,
  type FieldKinds,
  TASK_FIELDS,
  TASK_STATES,
  TIMELINE_LABELS,
  type Project,
  type Task,
  type TaskField,
  type TimelineEntry,
  type TimelineLabel,
  isFinished,
} from '../../core/task.js';
import { dueAtOf } from '../../core/task-machine.js';
import { OMITTED_LABEL, omittedCount, omittedEntry } from '../../core/timeline.js';
import type { StoredTask } from '../task-store.js';
import { decodeConfig, encodeConfig } from '../stored-config.js';

/*
 * Rows as SQLite returns them, and their translation to and from core types. The task's columns
 * are derived from TASK_FIELDS (core/task.ts): a field's column is its name in snake_case; the one
 * `sealed` field lives in the `requests` table, written once and read per attempt, apart from the
 * row every claim and outcome rewrites. Besides the fields, a task row has its rowid `rid`, its
 * `version` (compare-and-set), two index columns derived from it: `due_at` and `finished_at`, and
 * `timeline_length`, the count of its timeline entries (the store's, to keep the timeline bounded).
 */

export type SqlValue = string | number | bigint | Buffer | null;

interface SqlCodec<T> {
  encode(value: T): SqlValue;
  decode(value: SqlValue, field: string, id: string): T;
}

function bad(id: string, field: string): Error {
  return new Error(`Stored task ${id} has a bad ${field}`);
}

const STATES = new Set<string>(TASK_STATES);
const LABELS = new Set<string>(TIMELINE_LABELS);

/** One codec per kind of field; a kind added to core/task.ts does not compile until it has one. */
const CODECS: { [K in FieldKind]: SqlCodec<FieldKinds[K]> } = {
  id: {
    encode: (value) => value,
    decode: (value, field, id) => {
      if (typeof value !== 'string') throw bad(id, field);
      return value;
    },
  },
  int: {
    encode: (value) => value,
    decode: (value, field, id) => {
      if (value === null) return 0;
      if (typeof value !== 'number' || !Number.isSafeInteger(value)) throw bad(id, field);
      return value;
    },
  },
  bool: {
    encode: (value) => (value ? 1 : 0),
    decode: (value) => value === 1,
  },
  state: {
    encode: (value) => value,
    decode: (value, field, id) => {
      if (typeof value !== 'string' || !STATES.has(value)) throw bad(id, field);
      return value as FieldKinds['state'];
    },
  },
  token: {
    encode: (value) => value,
    decode: (value, field, id) => {
      if (value !== null && typeof value !== 'string') throw bad(id, field);
      return value;
    },
  },
  tag: {
    encode: (value) => value,
    decode: (value, field, id) => {
      if (value === null) return '';
      if (typeof value !== 'string') throw bad(id, field);
      return value;
    },
  },
  // A JSON array ('' for none), which migration 008's triggers index in task_tags for listings.
  tags: {
    encode: (value) => (value.length === 0 ? '' : JSON.stringify(value)),
    decode: (value, field, id) => {
      if (value === null || value === '') return [];
      if (typeof value !== 'string') throw bad(id, field);
      const tags: unknown = JSON.parse(value);
      if (!Array.isArray(tags) || !tags.every((t) => typeof t === 'string')) throw bad(id, field);
      return tags;
    },
  },
  config: {
    encode: (value) => encodeConfig(value),
    decode: (value, field, id) => {
      if (typeof value !== 'string') throw bad(id, field);
      return decodeConfig(value, id);
    },
  },
  sealed: {
    encode: (value) => (Buffer.isBuffer(value) ? value : Buffer.from(value)),
    decode: (value, field, id) => {
      if (!Buffer.isBuffer(value)) throw bad(id, field);
      return value;
    },
  },
};

export function columnOf(field: string): string {
  return field.replace(/[A-Z]/g, (c) => `_${c.toLowerCase()}`);
}

/** Fields in the tasks row, in table order; the sealed one is apart. */
const ROW_FIELDS = TASK_FIELDS.filter((f) => f.kind !== 'sealed');
const APART = TASK_FIELDS.filter((f) => f.kind === 'sealed');
if (APART.length !== 1) throw new Error('The SQLite store keeps exactly one sealed field apart, in the requests table');
const REQUEST_FIELD = APART[0]!;
const MUTABLE = ROW_FIELDS.filter((f) => f.mutable);

/**
 * A task as every read selects it (TASK_SELECT, this order), read as an array (better-sqlite3's
 * `raw` mode: an object per row would be built only to be read once): `rid`, the row fields,
 * `version`, then the sealed request from `requests`.
 */
export type TaskRow = SqlValue[];

function fieldAt(name: TaskField['name']): number {
  const i = ROW_FIELDS.findIndex((f) => f.name === name);
  if (i < 0) throw new Error(`${name} is not a column of tasks`);
  return 1 + i;
}
const AT = {
  rid: 0,
  id: fieldAt('id'),
  leaseToken: fieldAt('leaseToken'),
  leaseUntil: fieldAt('leaseUntil'),
  projectId: fieldAt('projectId'),
  flowKey: fieldAt('flowKey'),
  version: 1 + ROW_FIELDS.length,
  request: 2 + ROW_FIELDS.length,
};

/** The select list of a TaskRow, for `tasks t JOIN requests r ON r.rid = t.rid`. */
export const TASK_SELECT = [
  't.rid',
  ...ROW_FIELDS.map((f) => `t.${columnOf(f.name)}`),
  't.version',
  `r.${columnOf(REQUEST_FIELD.name)}`,
].join(', ');

export const REQUEST_COLUMN = columnOf(REQUEST_FIELD.name);

export function idOf(row: TaskRow): string {
  return String(row[AT.id]);
}

export function ridOf(row: TaskRow): number {
  return row[AT.rid] as number;
}

/** The row's flow key ('' when none). */
export function flowKeyOf(row: TaskRow): string {
  return row[AT.flowKey] as string;
}

export function projectIdOf(row: TaskRow): string {
  return row[AT.projectId] as string;
}

/** Whether the row holds a lease (a task due because its lease ran out). */
export function leasedRow(row: TaskRow): boolean {
  return row[AT.leaseToken] !== null;
}

export function taskFromRow(row: TaskRow): StoredTask {
  const id = String(row[AT.id]);
  const task: Record<string, unknown> = {};
  for (let i = 0; i < ROW_FIELDS.length; i++) {
    const field: TaskField = ROW_FIELDS[i]!;
    task[field.name] = CODECS[field.kind].decode(row[1 + i]!, field.name, id);
  }
  task[REQUEST_FIELD.name] = CODECS.sealed.decode(row[AT.request]!, REQUEST_FIELD.name, id);
  task.version = CODECS.int.decode(row[AT.version]!, 'version', id);
  return task as unknown as StoredTask;
}

/** A claimed row as the claim's UPDATE left it (the claim does not read it again). */
export function leaseRow(row: TaskRow, token: string, until: number): void {
  row[AT.leaseToken] = token;
  row[AT.leaseUntil] = until;
  row[AT.version] = (row[AT.version] as number) + 1;
}

function encode(field: TaskField, task: Task): SqlValue {
  return (CODECS[field.kind] as SqlCodec<unknown>).encode(task[field.name]);
}

/** INSERT of a task row (version 1), bound by position with insertValues. */
export const INSERT_TASK = `INSERT INTO tasks (${[...ROW_FIELDS.map((f) => columnOf(f.name)), 'due_at', 'finished_at', 'timeline_length', 'version'].join(', ')})
  VALUES (${[...ROW_FIELDS.map(() => '?'), '?', '?', '?', '1'].join(', ')})`;

/** INSERT_TASK's values: the task's fields, its index columns and the count of the timeline entries written with it. */
export function insertValues(task: Task, entries: number): SqlValue[] {
  const values = ROW_FIELDS.map((f) => encode(f, task));
  values.push(dueAtOf(task), isFinished(task.state) ? task.endAt : null, entries);
  return values;
}

export const INSERT_REQUEST = `INSERT INTO requests (rid, ${REQUEST_COLUMN}) VALUES (?, ?)`;

/** Values a row of insertTasksSql binds: its rid, its fields, due_at and finished_at. */
const INSERT_TASKS_WIDTH = 3 + ROW_FIELDS.length;

/** INSERT of `count` task rows (version 1) with their rids given, bound by position with pushInsertValues. */
export function insertTasksSql(count: number): string {
  const row = `(${[...Array.from({ length: INSERT_TASKS_WIDTH }, () => '?'), '1'].join(', ')})`;
  return `INSERT INTO tasks (${['rid', ...ROW_FIELDS.map((f) => columnOf(f.name)), 'due_at', 'finished_at', 'version'].join(', ')})
  VALUES ${Array.from({ length: count }, () => row).join(', ')}`;
}

/** INSERT of `count` sealed requests, bound by position with pushRequestValues. */
export function insertRequestsSql(count: number): string {
  return `INSERT INTO requests (rid, ${REQUEST_COLUMN}) VALUES ${Array.from({ length: count }, () => '(?, ?)').join(', ')}`;
}

/** Appends a task row's values, as insertTasksSql binds them, to `out`. */
export function pushInsertValues(task: Task, rid: number, out: SqlValue[]): void {
  out.push(rid);
  for (const field of ROW_FIELDS) out.push(encode(field, task));
  out.push(dueAtOf(task), isFinished(task.state) ? task.endAt : null);
}

/** Appends a sealed request's values, as insertRequestsSql binds them, to `out`. */
export function pushRequestValues(task: Task, rid: number, out: SqlValue[]): void {
  out.push(rid, encode(REQUEST_FIELD, task));
}

export function requestValue(task: Task): SqlValue {
  return encode(REQUEST_FIELD, task);
}

/**
 * Compare-and-set UPDATE of what a task's life changes (its mutable fields, with the index columns
 * derived from them), bound by position with updateValues: the count of timeline entries written
 * with it, then the task's id and expected version. It answers the row's rid (none when the version
 * did not match), which the rows written with the outcome (its entries, its attempt record) are
 * keyed by, and the timeline's new length (to keep it bounded): the outcome rewrites the row once.
 */
export const UPDATE_TASK = `UPDATE tasks SET ${[...MUTABLE.map((f) => `${columnOf(f.name)} = ?`), 'due_at = ?', 'finished_at = ?', 'parked = NULL', 'timeline_length = timeline_length + ?', 'version = version + 1'].join(', ')}
  WHERE id = ? AND version = ? RETURNING rid, timeline_length`;

export function updateValues(task: Task, prevVersion: number, entries: number): SqlValue[] {
  const values = MUTABLE.map((f) => encode(f, task));
  values.push(dueAtOf(task), isFinished(task.state) ? task.endAt : null, entries, task.id, prevVersion);
  return values;
}

/** Rows as SQLite returns them for projects and timelines. */
export interface ProjectRow {
  id: string;
  email: string;
  token_hash: Buffer;
  created_at: number;
  as: string;
  active: number;
}

export interface TimelineRow {
  /** The entry's position: the order of every timeline of the database (this process is its only writer). */
  seq: number;
  label: string;
  description: string;
  created_at: number;
  metadata: string | null;
}

export function projectFromRow(row: ProjectRow): Project {
  return {
    id: row.id,
    email: row.email,
    tokenHash: row.token_hash,
    createdAt: row.created_at,
    as: row.as === 'GUEST' ? 'GUEST' : 'DEV',
  };
}

export function parseMetadata(metadata: string | null): TimelineEntry['metadata'] | null {
  return metadata === null ? null : (JSON.parse(metadata) as TimelineEntry['metadata']);
}

export function timelineFromRow(row: TimelineRow): TimelineEntry {
  const metadata = parseMetadata(row.metadata);
  // The store keeps only the count of an Omitted entry; its text is core's.
  if (row.label === OMITTED_LABEL) return omittedEntry(omittedCount(metadata), row.created_at);
  const label = LABELS.has(row.label) ? (row.label as TimelineLabel) : 'Alert';
  const entry: TimelineEntry = { label, description: row.description, createdAt: row.created_at };
  if (metadata) entry.metadata = metadata;
  return entry;
}
