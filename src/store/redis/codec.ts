import {
  type FieldKind,
  type FieldKinds,
  TASK_FIELDS,
  TASK_STATES,
  TIMELINE_LABELS,
  type Project,
  type Task,
  type TaskField,
  type TaskFieldName,
  type TimelineEntry,
} from '../../core/task.js';
import { FLOW } from '../../core/flow.js';
import { OMITTED_LABEL, TIMELINE, omittedCount, omittedEntry } from '../../core/timeline.js';
import { type AttemptRecord, ERROR_CLASSES, type ErrorClass } from '../../core/attempt-log.js';
import { ATTEMPT_LOG } from '../../core/limits.js';
import type { StoredSigningKeys, StoredTask } from '../task-store.js';
import { decodeConfig, encodeConfig } from '../stored-config.js';

/*
 * Tasks, projects and timeline entries as Redis values, and back. The task's layout is derived
 * from TASK_FIELDS (core/task.ts): its `id` is its key (`<prefix>task:<id>`, not a hash field), its
 * `config` is the seed's database 2 (`<prefix>config:<id>`), and every other field is a field of
 * the task hash under its own name, beside the store's `version`. Fields of the kinds int, bool
 * and token that hold their zero (0, false, null) are left out of a new task's hash: a pending task
 * then stores little more than its project, times and sealed request. What comes back is checked:
 * a stored record is input too.
 *
 * Tasks written before this layout read the same: their hash also holds `id` and every zero, and
 * their sealed request is base64url text instead of bytes.
 */

/** A value as a script answers it with Buffer replies, or as HGETALL pairs give it. */
type RedisValue = Buffer | string | undefined;

interface TextCodec<T> {
  /** A new task's hash leaves the field out when this is true. */
  omit(value: T): boolean;
  encode(value: T): string | Buffer;
  decode(value: RedisValue, field: string, id: string): T;
}

function bad(id: string, field: string): Error {
  return new Error(`Stored task ${id} has a bad ${field}`);
}

const text = (value: RedisValue): string => (value === undefined ? '' : typeof value === 'string' ? value : value.toString('latin1'));
const STATES = new Set<string>(TASK_STATES);
const LABELS = new Set<string>(TIMELINE_LABELS);
/** Sealed requests start with their format byte; base64url text (before bytes) with a letter or digit. */
const FIRST_TEXT_BYTE = 0x20;

/** One codec per kind of field; a kind added to core/task.ts does not compile until it has one. */
const CODECS: { [K in FieldKind]: TextCodec<FieldKinds[K]> } = {
  id: {
    omit: () => false,
    encode: (value) => value,
    decode: (value, field, id) => {
      const s = text(value);
      if (s === '') throw bad(id, field);
      return s;
    },
  },
  int: {
    omit: (value) => value === 0,
    encode: (value) => String(value),
    decode: (value, field, id) => {
      const s = text(value);
      if (s === '') return 0;
      const n = Number(s);
      if (!Number.isSafeInteger(n)) throw bad(id, field);
      return n;
    },
  },
  bool: {
    omit: (value) => !value,
    encode: (value) => (value ? '1' : '0'),
    decode: (value) => text(value) === '1',
  },
  state: {
    omit: () => false,
    encode: (value) => value,
    decode: (value, field, id) => {
      const s = text(value);
      if (!STATES.has(s)) throw bad(id, field);
      return s as FieldKinds['state'];
    },
  },
  token: {
    omit: (value) => value === null,
    encode: (value) => value ?? '',
    decode: (value) => {
      const s = text(value);
      return s === '' ? null : s;
    },
  },
  tag: {
    omit: (value) => value === '',
    encode: (value) => value,
    decode: (value) => text(value),
  },
  // Joined by spaces, which no tag holds (nor a newline: a claim's line joins fields with those).
  tags: {
    omit: (value) => value.length === 0,
    encode: (value) => value.join(' '),
    decode: (value) => {
      const s = text(value);
      return s === '' ? [] : s.split(' ');
    },
  },
  config: {
    omit: () => false,
    encode: (value) => encodeConfig(value),
    decode: (value, field, id) => {
      if (value === undefined) throw bad(id, field);
      return decodeConfig(typeof value === 'string' ? value : value.toString('utf8'), id);
    },
  },
  sealed: {
    omit: () => false,
    encode: (value) => (Buffer.isBuffer(value) ? value : Buffer.from(value)),
    decode: (value, field, id) => {
      if (value === undefined || value.length === 0) throw bad(id, field);
      const bytes = typeof value === 'string' ? Buffer.from(value, 'latin1') : value;
      return bytes[0]! < FIRST_TEXT_BYTE ? bytes : Buffer.from(bytes.toString('latin1'), 'base64url');
    },
  },
};

const KEY_FIELD = 'id';
const configFields = TASK_FIELDS.filter((f) => f.kind === 'config');
if (configFields.length !== 1) throw new Error('The Redis store keeps exactly one config field, in database 2');
const CONFIG_FIELD = configFields[0]!;
/** The task hash's fields. */
const HASH_FIELDS = TASK_FIELDS.filter((f) => f.name !== KEY_FIELD && f !== CONFIG_FIELD);
const MUTABLE_FIELDS = HASH_FIELDS.filter((f) => f.mutable);
/** The sealed request: a claim answers it on its own, not joined into the line. */
const APART = HASH_FIELDS.filter((f) => f.kind === 'sealed');
const LINE_FIELDS = HASH_FIELDS.filter((f) => f.kind !== 'sealed');
export const VERSION_FIELD = 'version';

/**
 * The field list claim-due reads with one HMGET: the line's fields, the version, then the sealed
 * ones. Scripts get it, with each name's place in it, from luaFieldTable().
 */
const CLAIM_FIELDS = [...LINE_FIELDS.map((f) => f.name), VERSION_FIELD, ...APART.map((f) => f.name)];
const LINE_NAMES = CLAIM_FIELDS.slice(0, LINE_FIELDS.length + 1);

/**
 * Lua that declares FIELDS (the list above), AT (each name's place in it) and LINE (how many of
 * them a claim joins into one line), put before every script (lua-script.ts): no script keeps a
 * field list or a field's position by hand.
 */
/**
 * What a claim under shares reads before it decides: whether the record exists, its groups, its
 * lease, its flow key, and the execution time a task parked or left waiting is scored by.
 */
const SHARE_FIELDS: readonly (TaskFieldName | typeof VERSION_FIELD)[] = [
  VERSION_FIELD,
  'projectId',
  'hostTag',
  'leaseToken',
  'flowKey',
  'execAt',
];

/** What a listing checks its conditions on, and what a delete reads to leave the listing indexes. */
const LIST_FIELDS: readonly (TaskFieldName | typeof VERSION_FIELD)[] = [
  VERSION_FIELD,
  'projectId',
  'state',
  'hostTag',
  'tags',
  'execAt',
  'scheduleId',
  'flowKey',
];

export function luaFieldTable(): string {
  const quote = (name: string): string => `'${name}'`;
  return [
    '-- Generated from TASK_FIELDS (src/store/redis/codec.ts): the task hash fields a claim reads,',
    '-- the few it decides shares by (SHARE_FIELDS, at SHARE_AT), and those a listing checks (LIST_FIELDS, at LIST_AT).',
    `local FIELDS = { ${CLAIM_FIELDS.map(quote).join(', ')} }`,
    `local AT = { ${CLAIM_FIELDS.map((name, i) => `${name} = ${i + 1}`).join(', ')} }`,
    `local SHARE_FIELDS = { ${SHARE_FIELDS.map(quote).join(', ')} }`,
    `local SHARE_AT = { ${SHARE_FIELDS.map((name, i) => `${name} = ${i + 1}`).join(', ')} }`,
    `local LIST_FIELDS = { ${LIST_FIELDS.map(quote).join(', ')} }`,
    `local LIST_AT = { ${LIST_FIELDS.map((name, i) => `${name} = ${i + 1}`).join(', ')} }`,
    `local LINE = ${LINE_NAMES.length}`,
    '',
  ].join('\n');
}

/**
 * Lua that declares TIMELINE, the bound of a stored timeline (core/timeline.ts) and the label of the
 * entry that stands for what was left out, put before every script (lua-script.ts).
 */
export function luaTimelineTable(): string {
  return [
    '-- Generated from TIMELINE (src/core/timeline.ts): how much of a timeline is kept.',
    `local TIMELINE = { maxEntries = ${TIMELINE.maxEntries}, keepFirst = ${TIMELINE.keepFirst}, omitted = '${OMITTED_LABEL}' }`,
    '-- Generated from ATTEMPT_LOG (src/core/limits.ts): how many attempts of a task are kept.',
    `local ATTEMPT_LOG = { maxEntries = ${ATTEMPT_LOG.maxEntries} }`,
    '-- Generated from FLOW (src/core/flow.ts): the longest a key with waiting tasks goes unlooked at.',
    `local FLOW = { recheckMs = ${FLOW.recheckMs}, catchUpMs = ${FLOW.catchUpMs}, paceLookMs = ${FLOW.paceLookMs} }`,
    '',
  ].join('\n');
}

/**
 * An attempt record as a value of a task's attempt list (db 3): its numbers and error class as
 * text up to a `|`, then the sealed excerpt's bytes as they are (scripts read only the number).
 */
export function attemptToValue(record: AttemptRecord): Buffer {
  const head = `${record.number},${record.startedAt},${record.durationMs},${record.statusCode},${record.errorClass ?? ''}|`;
  if (!record.excerpt) return Buffer.from(head, 'latin1');
  // One allocation, the head written in place (it is ASCII): one value per attempt.
  const value = Buffer.allocUnsafe(head.length + record.excerpt.length);
  value.write(head, 0, 'latin1');
  value.set(record.excerpt, head.length);
  return value;
}

const ATTEMPT_CLASSES = new Set<string>(ERROR_CLASSES);

export function attemptFromValue(value: Buffer, taskId: string): AttemptRecord {
  const bar = value.indexOf(0x7c);
  const match = bar < 0 ? null : /^([0-9]+),([0-9]+),([0-9]+),([0-9]+),([a-z]*)$/.exec(value.subarray(0, bar).toString('latin1'));
  if (!match) throw new Error(`Stored task ${taskId} has a bad attempt record`);
  const errorClass = match[5]!;
  return {
    number: Number(match[1]),
    startedAt: Number(match[2]),
    durationMs: Number(match[3]),
    statusCode: Number(match[4]),
    errorClass: errorClass === '' ? null : ATTEMPT_CLASSES.has(errorClass) ? (errorClass as ErrorClass) : 'other',
    excerpt: value.length > bar + 1 ? value.subarray(bar + 1) : null,
  };
}

/** The fields of a flow key's hash (<prefix>flow:<project>:<key>, write-flow-0.lua): its limits (core/flow.ts). */
export const FLOW_HASH_FIELDS: readonly string[] = ['rateLimit', 'ratePeriodMs', 'parallelism', 'ordered', 'paused', 'pace'];

/** Every name a script may use for a task hash field. */
export const HASH_FIELD_NAMES: readonly string[] = [...HASH_FIELDS.map((f) => f.name), VERSION_FIELD];

function encode(field: TaskField, task: Task): string | Buffer {
  return (CODECS[field.kind] as TextCodec<unknown>).encode(task[field.name]);
}

/**
 * A new task's hash as field, value pairs (zeros left out), appended to `out` as a script's list:
 * the number of values first (prelude.lua's `list()`).
 */
export function pushNewTaskFields(out: (string | Buffer)[], task: Task, version: number): void {
  const countAt = out.push('') - 1;
  for (const field of HASH_FIELDS) {
    const value = task[field.name];
    if ((CODECS[field.kind] as TextCodec<unknown>).omit(value)) continue;
    out.push(field.name, encode(field, task));
  }
  out.push(VERSION_FIELD, String(version));
  out[countAt] = String(out.length - countAt - 1);
}

export function configValue(task: Task): string {
  return encodeConfig(task.config);
}

/**
 * What a replace writes: the mutable fields whose value differs from `prev`'s, as field, value
 * pairs. `prev` is the task as stored at its version (every write bumps the version), so the
 * fields left out hold these values already.
 */
export function changedTaskFields(prev: Task, next: Task): (string | Buffer)[] {
  const changed: (string | Buffer)[] = [];
  for (const field of MUTABLE_FIELDS) {
    const after = encode(field, next);
    if (after !== encode(field, prev)) changed.push(field.name, after);
  }
  return changed;
}

/** Reads a task from `get` (a stored value by the field's index in TASK_FIELDS and its name). */
function decodeTask(id: string, get: (index: number, name: string) => RedisValue, configJson: RedisValue): StoredTask {
  const task: Record<string, unknown> = {};
  for (let i = 0; i < TASK_FIELDS.length; i++) {
    const field: TaskField = TASK_FIELDS[i]!;
    if (field.name === KEY_FIELD) task[field.name] = id;
    else if (field === CONFIG_FIELD) task[field.name] = CODECS.config.decode(configJson, field.name, id);
    else task[field.name] = CODECS[field.kind].decode(get(i, field.name), field.name, id);
  }
  const version = CODECS.int.decode(get(-1, VERSION_FIELD), VERSION_FIELD, id);
  if (version <= 0) throw bad(id, VERSION_FIELD);
  task.version = version;
  return task as unknown as StoredTask;
}

/** For each field of TASK_FIELDS, its place in a claim's line (-1: not in the line); the version is last. */
const LINE_AT = TASK_FIELDS.map((f) => LINE_NAMES.indexOf(f.name));

/**
 * A claimed task as claim-due-3.lua answers it: `line` holds the values of the line's fields and
 * the version (the first LINE of FIELDS), joined by newlines (none of them holds one: ids, numbers,
 * states and lease tokens are the server's own; a missing field is ''); the sealed request and the
 * config come on their own.
 */
export function taskFromLine(id: string, line: RedisValue, request: RedisValue, configJson: RedisValue): StoredTask {
  const values = text(line).split('\n');
  if (values.length !== LINE_NAMES.length)
    throw new Error(`A claimed task came back with ${values.length} values, not ${LINE_NAMES.length}`);
  return decodeTask(id, (i) => (i < 0 ? values[LINE_NAMES.length - 1] : LINE_AT[i]! < 0 ? request : values[LINE_AT[i]!]), configJson);
}

/** For each field of TASK_FIELDS, its place in CLAIM_FIELDS (-1: not a hash field); and the version's. */
const FIELDS_AT = TASK_FIELDS.map((f) => CLAIM_FIELDS.indexOf(f.name));
const VERSION_AT = CLAIM_FIELDS.indexOf(VERSION_FIELD);

/**
 * A task as a listing answers it (list-tasks-0.lua): its hash's FIELDS read with one HMGET, in that
 * order (null where the hash lacks the field), and its config. By place, not by name: no names
 * come back, to be turned into text and looked up for every field of every task of a page.
 */
export function taskFromFields(id: string, values: readonly (RedisValue | null)[], configJson: RedisValue): StoredTask {
  if (values.length !== CLAIM_FIELDS.length)
    throw new Error(`A listed task came back with ${values.length} values, not ${CLAIM_FIELDS.length}`);
  return decodeTask(id, (i) => values[i < 0 ? VERSION_AT : FIELDS_AT[i]!] ?? undefined, configJson);
}

/** A task from its hash (HGETALL pairs) and its config. */
export function taskFromHash(id: string, flat: readonly RedisValue[], configJson: RedisValue): StoredTask {
  const byName = new Map<string, RedisValue>();
  for (let i = 0; i + 1 < flat.length; i += 2) byName.set(text(flat[i]), flat[i + 1]);
  return decodeTask(id, (_, name) => byName.get(name), configJson);
}

/** The project hash: a field per Project field under its own name, and the store's `active` count. */
export function projectFields(project: Project): string[] {
  return [
    'id',
    project.id,
    'email',
    project.email,
    'tokenHash',
    project.tokenHash.toString('hex'),
    'createdAt',
    String(project.createdAt),
    'as',
    project.as,
    'active',
    '0',
  ];
}

/** The project hash's fields that hold its signing keys (each sealed, as base64). */
export const SIGNING_FIELDS = ['signingKey', 'signingPrevious', 'signingPreviousUntil'] as const;

export function signingFields(keys: StoredSigningKeys): string[] {
  return [
    'signingKey',
    Buffer.from(keys.current).toString('base64'),
    'signingPrevious',
    keys.previous ? Buffer.from(keys.previous).toString('base64') : '',
    'signingPreviousUntil',
    String(keys.previousUntil),
  ];
}

/** The signing keys from the values of SIGNING_FIELDS, in order (HMGET); null when the project has none. */
export function signingFromValues(values: readonly (string | null)[]): StoredSigningKeys | null {
  const [current, previous, until] = values;
  if (!current) return null;
  return {
    current: Buffer.from(current, 'base64'),
    previous: previous ? Buffer.from(previous, 'base64') : null,
    previousUntil: Number(until ?? 0) || 0,
  };
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
  // The scripts keep only the count of an Omitted entry; its text is core's.
  if (raw.label === OMITTED_LABEL) return omittedEntry(omittedCount(raw.metadata), Number(raw.createdAt ?? 0));
  const label = typeof raw.label === 'string' && LABELS.has(raw.label) ? raw.label : 'Alert';
  const entry: TimelineEntry = { label, description: String(raw.description ?? ''), createdAt: Number(raw.createdAt ?? 0) };
  if (raw.metadata && typeof raw.metadata === 'object') entry.metadata = raw.metadata;
  return entry;
}
