/**
 * Shared assertions and small helpers for the HTTP contract tests in this folder (not a test file:
 * the runner only collects *.test.ts).
 */
import assert from 'node:assert/strict';
import { STATUS_CODES } from 'node:http';
import type {
  ErrorBody as ApiErrorBody, FieldIssue, QueuedView, TaskConfig, TaskUpdates, TaskView, TimelineEntryView,
} from '../../src/core/shapes.js';
import type { ApiResponse, Credentials, ApiClient } from '../helpers/api-client.js';
import type { TargetServer, RecordedRequest } from '../helpers/target.js';

// The answers' types are the API's own (core/shapes.ts); the assertions below check the answers
// against the contract independently (QUEUED_KEYS, assertError), not against those schemas.
export type Issue = FieldIssue;
export type ErrorBody = ApiErrorBody;
export type QueuedBody = QueuedView;
export type ConfigBody = TaskConfig;
export type UpdatesBody = TaskUpdates;
export type TaskBody = TaskView;
export type TimelineEntryBody = TimelineEntryView;

export const QUEUED_KEYS = [
  'currentlyRepeat', 'currentlyRetry', 'estimateEndAt', 'estimateExecAt', 'estimateStartAt', 'id', 'state', 'statusCode',
];

export const ID_PATTERN = /^[0-9A-HJKMNP-TV-Z]{26}$/;

/** A well-formed task id that no project holds. */
export const UNKNOWN_ID = '01ARZ3NDEKTSV4RRFFQ69G5FAV';

/**
 * Every error answer: exactly {statusCode, code, error, message}, plus a non-empty `issues` array for
 * VALIDATION_FAILED; `error` is the status text; JSON content type. Returns the body.
 */
export function assertError(res: ApiResponse<unknown>, status: number, code: string, messagePattern?: RegExp): ErrorBody {
  const context = JSON.stringify(res.body);
  assert.equal(res.status, status, context);
  assert.match(res.headers.get('content-type') ?? '', /^application\/json/, context);
  const body = res.body as ErrorBody;
  assert.equal(typeof body, 'object', context);
  const expectedKeys = code === 'VALIDATION_FAILED'
    ? ['code', 'error', 'issues', 'message', 'statusCode']
    : ['code', 'error', 'message', 'statusCode'];
  assert.deepEqual(Object.keys(body).sort(), expectedKeys, `error body keys: ${context}`);
  assert.equal(body.statusCode, status, context);
  assert.equal(body.code, code, context);
  assert.equal(body.error, STATUS_CODES[status], context);
  assert.equal(typeof body.message, 'string', context);
  assert.ok(body.message.length > 0, context);
  if (messagePattern) assert.match(body.message, messagePattern, context);
  if (code === 'VALIDATION_FAILED') {
    assert.ok(Array.isArray(body.issues) && body.issues.length > 0, context);
    for (const issue of body.issues) {
      assert.deepEqual(Object.keys(issue).sort(), ['field', 'message'], context);
      assert.ok(body.message.includes(issue.field), `message names ${issue.field}: ${context}`);
    }
  }
  return body;
}

/** A 400 VALIDATION_FAILED whose issues name every field in `fields` (and, when `only`, no other). */
export function assertValidation(res: ApiResponse<unknown>, fields: string[], only = false): Issue[] {
  const body = assertError(res, 400, 'VALIDATION_FAILED');
  const named = body.issues!.map((i) => i.field);
  for (const field of fields) {
    assert.ok(named.includes(field), `expected an issue for ${field}; got ${JSON.stringify(body.issues)}`);
  }
  if (only) assert.deepEqual([...new Set(named)].sort(), [...new Set(fields)].sort(), JSON.stringify(body.issues));
  return body.issues!;
}

/** The answer of subscribe and resume: exactly the queued shape. */
export function assertQueued(res: ApiResponse<unknown>, status: number): QueuedBody {
  const context = JSON.stringify(res.body);
  assert.equal(res.status, status, context);
  const body = res.body as QueuedBody;
  assert.deepEqual(Object.keys(body).sort(), QUEUED_KEYS, context);
  assert.match(body.id, ID_PATTERN, context);
  assert.equal(body.state, 'RUNNING', context);
  assert.equal(body.statusCode, 0, context);
  assert.equal(body.estimateEndAt, 0, context);
  assert.equal(body.currentlyRetry, false, context);
  assert.equal(body.currentlyRepeat, false, context);
  assert.equal(typeof body.estimateStartAt, 'number', context);
  assert.equal(typeof body.estimateExecAt, 'number', context);
  return body;
}

export function b64(text: string): string {
  return Buffer.from(text, 'utf8').toString('base64');
}

/** Subscribes and asserts 201; returns the queued body. */
export async function subscribeOk(client: ApiClient, creds: Credentials, body: unknown): Promise<QueuedBody> {
  return assertQueued(await client.subscribe(creds, body), 201);
}

export async function getTask(client: ApiClient, creds: Credentials, id: string): Promise<TaskBody> {
  const res = await client.task(creds, id);
  assert.equal(res.status, 200, JSON.stringify(res.body));
  return res.body as unknown as TaskBody;
}

export async function getTimeline(client: ApiClient, creds: Credentials, id: string): Promise<TimelineEntryBody[]> {
  const res = await client.timeline(creds, id);
  assert.equal(res.status, 200, JSON.stringify(res.body));
  return res.body as TimelineEntryBody[];
}

export async function waitForState(client: ApiClient, creds: Credentials, id: string, state: string, timeoutMs?: number): Promise<TaskBody> {
  return (await client.waitForTask(creds, id, (t) => t.state === state, timeoutMs)) as unknown as TaskBody;
}

export async function waitForTask(
  client: ApiClient,
  creds: Credentials,
  id: string,
  predicate: (task: TaskBody) => boolean,
  timeoutMs?: number,
): Promise<TaskBody> {
  return (await client.waitForTask(creds, id, (t) => predicate(t as unknown as TaskBody), timeoutMs)) as unknown as TaskBody;
}

export async function activeCount(client: ApiClient, creds: Credentials): Promise<number> {
  const res = await client.info(creds);
  assert.equal(res.status, 200, JSON.stringify(res.body));
  return res.body.taskInQueue as number;
}

/** Polls `check` until it holds (for conditions no event reports); fails after `timeoutMs`. */
export async function pollUntil(what: string, check: () => boolean | Promise<boolean>, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (await check()) return;
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
  throw new Error(`${what}: not reached within ${timeoutMs} ms`);
}

/** Requests the target received on `path` (the path part of the URL, query excluded). */
export function requestsOn(target: TargetServer, path: string): RecordedRequest[] {
  return target.requests.filter((r) => r.url.split('?')[0] === path);
}

/** Resolves once `count` requests arrived on `path`. */
export async function waitForPath(target: TargetServer, path: string, count = 1, timeoutMs = 15_000): Promise<RecordedRequest[]> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const seen = requestsOn(target, path);
    if (seen.length >= count) return seen;
    const left = deadline - Date.now();
    if (left <= 0) throw new Error(`target got ${seen.length} requests on ${path}, expected ${count} within ${timeoutMs} ms`);
    // waitFor(n) resolves on the next arrival of any request, which is when we look again.
    await target.waitFor(target.requests.length + 1, left).catch(() => undefined);
  }
}

export function labelsOf(timeline: readonly TimelineEntryBody[]): string[] {
  return timeline.map((e) => e.label);
}

/** The attempt headers as the target saw them. */
export function attemptHeadersOf(request: RecordedRequest): Record<string, string | undefined> {
  const h = request.headers;
  const one = (name: string): string | undefined => {
    const v = h[name];
    return Array.isArray(v) ? v.join(',') : v;
  };
  return {
    queue: one('x-kuueri-tasks-queue'),
    retryCount: one('x-kuueri-tasks-retry-count'),
    currentlyRetry: one('x-kuueri-tasks-currently-retry'),
    repeatCount: one('x-kuueri-tasks-repeat-count'),
    currentlyRepeat: one('x-kuueri-tasks-currently-repeat'),
  };
}
